package features

import "time"

// Labels says, for each row of set, whether the subscriber was deactivated
// within horizon months after the end of the row's feature month (the
// churn label), and whether that is known yet: the register's newest
// snapshot must cover the whole horizon.
func (reg *Register) Labels(set *Set, horizon int) (label, known []bool) {
	return churnLabels(reg.Deactivated, reg.LastExport, set, horizon)
}

func churnLabels(deactivated map[string]int32, lastExport int32, set *Set, horizon int) (label, known []bool) {
	label = make([]bool, set.Rows())
	known = make([]bool, set.Rows())
	for i, id := range set.IDs {
		label[i], known[i] = churnLabel(deactivated, lastExport, id, set.Months[i], horizon)
	}
	return label, known
}

// churnLabel is one row's label and whether it is known.
func churnLabel(deactivated map[string]int32, lastExport int32, id string, m time.Time, horizon int) (label, known bool) {
	end := epochDay(m.AddDate(0, 1, -1))
	until := epochDay(m.AddDate(0, 1+horizon, -1))
	d, ok := deactivated[id]
	return ok && d > end && d <= until, lastExport >= until
}

// LastExportDate is the date of the register's newest snapshot.
func (reg *Register) LastExportDate() time.Time { return dayTime(reg.LastExport) }
