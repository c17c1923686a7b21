package features

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/lake"
)

// bill is one subscriber's bill of one month, amounts in cents.
type bill struct {
	month                               int32 // months since 1970-01
	due, paid, arrears, discount, limit int64 // limit -1: none
	payment                             string
}

var billColumns = []string{"subscriber_id", "bill_month", "amount_due", "amount_paid", "arrears", "discount",
	"payment_method", "credit_limit"}

// loadBills reads the bills of months [from, to] per subscriber, newest
// last.
func loadBills(ctx context.Context, tables lake.TableLoader, from, to time.Time, keep subset) (map[string][]bill, error) {
	filter := iceberg.NewAnd(
		iceberg.GreaterThanEqual(iceberg.Reference("bill_month"), iceberg.Date(epochDay(from))),
		iceberg.LessThanEqual(iceberg.Reference("bill_month"), iceberg.Date(epochDay(to))))
	out := map[string][]bill{}
	for b, err := range lake.Scan(ctx, tables, lake.BillsTable, lake.Select(billColumns...), lake.Where(filter)) {
		if err != nil {
			return nil, fmt.Errorf("features: %w", err)
		}
		ids, pay, months := b.String("subscriber_id"), b.String("payment_method"), b.Date("bill_month")
		due, paid, arrears := b.Money("amount_due", 2), b.Money("amount_paid", 2), b.Money("arrears", 2)
		discount, limit := b.Money("discount", 2), b.Money("credit_limit", 2)
		if err := b.Err(); err != nil {
			return nil, fmt.Errorf("features: %w", err)
		}
		units := func(c lake.Moneys, i int) int64 {
			if c.IsNull(i) {
				return 0
			}
			return c.Value(i)
		}
		for i := range b.Len() {
			if !keep.has(ids.Value(i)) {
				continue
			}
			bl := bill{month: monthIndex(months.Time(i)), limit: -1,
				due: units(due, i), paid: units(paid, i), arrears: units(arrears, i), discount: units(discount, i)}
			if !limit.IsNull(i) {
				bl.limit = limit.Value(i)
			}
			if !pay.IsNull(i) {
				bl.payment = strings.Clone(pay.Value(i))
			}
			id := strings.Clone(ids.Value(i))
			out[id] = append(out[id], bl)
		}
	}
	for id, bs := range out {
		sortBills(bs)
		out[id] = bs
	}
	return out, nil
}

// billBook is the bills of a run's months (and the year before the first)
// per subscriber, in month order: read once for every month a run builds,
// not once a month (a month's bills are those of the year up to it, so a
// run of n months read each bill file up to n times).
type billBook map[string][]bill

// loadBillBook reads the bills months' windows need (sorted months): from
// a year before the first to the last.
func loadBillBook(ctx context.Context, tables lake.TableLoader, months []time.Time, keep subset) (billBook, error) {
	if len(months) == 0 {
		return billBook{}, nil
	}
	first, last := MonthStart(months[0]), MonthStart(months[len(months)-1])
	return loadBills(ctx, tables, first.AddDate(-1, 0, 0), last, keep)
}

// window is id's bills of months mi−12 … mi (months since 1970-01): what
// loadBills of the year up to that month reads.
func (bb billBook) window(id string, mi int32) []bill {
	bs := bb[id]
	lo := sort.Search(len(bs), func(i int) bool { return bs[i].month >= mi-12 })
	hi := sort.Search(len(bs), func(i int) bool { return bs[i].month > mi })
	return bs[lo:hi]
}

// sortBills orders by month; of two bills for the same month (a corrected
// re-export) the one read last wins.
func sortBills(bs []bill) {
	for i := 1; i < len(bs); i++ {
		for j := i; j > 0 && bs[j].month < bs[j-1].month; j-- {
			bs[j], bs[j-1] = bs[j-1], bs[j]
		}
	}
}

// monthsInArrears counts the consecutive months ending at month whose bill
// carries arrears.
func monthsInArrears(bs []bill, month int32) int32 {
	var n int32
	want := month
	for i := len(bs) - 1; i >= 0; i-- {
		b := bs[i]
		if b.month > want {
			continue
		}
		if b.month < want || b.arrears <= 0 {
			break
		}
		n++
		want--
	}
	return n
}
