package features

import "time"

// Labels says, for each row of set, whether the subscriber was deactivated
// within horizon months after the end of the row's feature month (the
// churn label), and whether that is known yet: the register's newest
// snapshot must cover the whole horizon.
func (reg *Register) Labels(set *Set, horizon int) (label, known []bool) {
	label = make([]bool, set.Rows())
	known = make([]bool, set.Rows())
	for i, id := range set.IDs {
		m := set.Months[i]
		end := epochDay(m.AddDate(0, 1, -1))
		until := epochDay(m.AddDate(0, 1+horizon, -1))
		known[i] = reg.LastExport >= until
		if d, ok := reg.Deactivated[id]; ok && d > end && d <= until {
			label[i] = true
		}
	}
	return label, known
}

// LastExportDate is the date of the register's newest snapshot.
func (reg *Register) LastExportDate() time.Time { return dayTime(reg.LastExport) }
