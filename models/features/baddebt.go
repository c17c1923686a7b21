package features

import (
	"context"
	"time"

	"github.com/telcolake/telcolake/lake"
)

// BadDebtArrearsMonths is how many consecutive bills carrying arrears make
// bad debt: the bad-debt label of a row of month m is "a bill of one of
// the horizon months after m is the BadDebtArrearsMonths-th (or later)
// consecutive bill with arrears".
const BadDebtArrearsMonths = 2

// BadDebtLabels labels every row of set with the bad-debt outcome over
// horizon months, from crm.bills: label[i] is true when, in one of the
// horizon months after the row's month, the subscriber's bill is at least
// the BadDebtArrearsMonths-th consecutive one with arrears; known[i] when
// crm.bills has the bill run of the horizon's last month. A subscriber
// without a bill in those months (gone) is not bad debt.
func BadDebtLabels(ctx context.Context, tables lake.TableLoader, set *Set, horizon int) (label, known []bool, err error) {
	if set.Rows() == 0 {
		return nil, nil, nil
	}
	from, to := set.Months[0], set.Months[0]
	for _, m := range set.Months {
		from, to = minTime(from, m), maxTime(to, m)
	}
	months, err := BillMonths(ctx, tables)
	if err != nil {
		return nil, nil, err
	}
	var newest time.Time
	if len(months) > 0 {
		newest = months[len(months)-1]
	}
	// Arrears runs need the bills before the first labelled month too.
	bills, err := loadBills(ctx, tables, from.AddDate(0, 1-BadDebtArrearsMonths, 0), to.AddDate(0, horizon, 0), all)
	if err != nil {
		return nil, nil, err
	}
	label, known = arrearsLabels(set.IDs, set.Months, bills, newest, horizon)
	return label, known, nil
}

// arrearsLabels is BadDebtLabels on bills already read; newest is the
// newest bill month.
func arrearsLabels(ids []string, months []time.Time, bills map[string][]bill, newest time.Time, horizon int) (label, known []bool) {
	label, known = make([]bool, len(ids)), make([]bool, len(ids))
	last := monthIndex(newest)
	for i, id := range ids {
		m := monthIndex(months[i])
		known[i] = !newest.IsZero() && m+int32(horizon) <= last
		bs := bills[id]
		for k := m + 1; k <= m+int32(horizon) && !label[i]; k++ {
			label[i] = monthsInArrears(bs, k) >= BadDebtArrearsMonths
		}
	}
	return label, known
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
