package features_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/models/dataset"
	"github.com/telcolake/telcolake/models/features"
)

// A hand-made bill history (arrears is what a bill carries over unpaid
// from before): the newest bill run is 2026-05.
const debtBills = `subscriber_id,bill_month,plan,amount_due,amount_paid,arrears,discount,payment_method,credit_limit
A,2026-01,BASIC10,10.00,10.00,0.00,,card,
A,2026-02,BASIC10,10.00,10.00,0.00,,card,
A,2026-03,BASIC10,10.00,10.00,0.00,,card,
A,2026-04,BASIC10,10.00,10.00,0.00,,card,
A,2026-05,BASIC10,10.00,10.00,0.00,,card,
B,2026-01,PLUS20,20.00,20.00,0.00,,cash,100.00
B,2026-02,PLUS20,20.00,10.00,0.00,,cash,100.00
B,2026-03,PLUS20,20.00,0.00,10.00,,cash,100.00
B,2026-04,PLUS20,20.00,30.00,30.00,,cash,100.00
B,2026-05,PLUS20,20.00,20.00,0.00,,cash,100.00
C,2026-01,PLUS20,20.00,0.00,0.00,,cash,100.00
C,2026-02,PLUS20,20.00,0.00,20.00,,cash,100.00
C,2026-04,PLUS20,20.00,0.00,40.00,,cash,100.00
D,2025-12,PLUS20,20.00,0.00,15.00,,cash,100.00
D,2026-01,PLUS20,20.00,0.00,35.00,,cash,100.00
D,2026-02,PLUS20,20.00,0.00,55.00,,cash,100.00
`

func TestBadDebtLabels(t *testing.T) {
	l := laketest.New(t)
	l.Ingest(t, "exports/bills/bills.csv", debtBills)
	type row struct {
		id, month string
		horizon   int
		label     bool
		known     bool
	}
	rows := []row{
		{"A", "2026-01", 3, false, true},  // never in arrears
		{"B", "2026-01", 3, true, true},   // April is the 2nd bill in a row with arrears
		{"B", "2026-02", 3, true, true},   // so is it from February
		{"B", "2026-02", 1, false, true},  // March is only the 1st
		{"B", "2026-03", 1, true, true},   // April, one month on
		{"B", "2026-04", 1, false, true},  // May: arrears paid off
		{"B", "2026-04", 3, false, false}, // May … July: July's bills not there yet
		{"C", "2026-01", 3, false, true},  // February and April, no March bill: not in a row
		{"D", "2026-01", 3, true, true},   // already two months behind, and still in February
		{"D", "2026-02", 3, false, true},  // no bills after February (gone): not bad debt
		{"E", "2026-01", 3, false, true},  // no bills at all
	}
	// The function labels a whole set at one horizon: group by horizon.
	for _, h := range []int{1, 3} {
		var ids []string
		var months []time.Time
		var want []row
		for _, r := range rows {
			if r.horizon == h {
				ids, months, want = append(ids, r.id), append(months, month(r.month)), append(want, r)
			}
		}
		set := &features.Set{Frame: &dataset.Frame{IDs: ids}, Months: months}
		label, known, err := features.BadDebtLabels(context.Background(), l.Cat, set, h)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range want {
			t.Run(fmt.Sprintf("%s/%s/h%d", r.id, r.month, h), func(t *testing.T) {
				if label[i] != r.label || known[i] != r.known {
					t.Errorf("BadDebtLabels(%s, %s, %d) = label %v, known %v; want %v, %v", r.id, r.month, h, label[i], known[i], r.label, r.known)
				}
			})
		}
	}
}
