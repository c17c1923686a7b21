package features

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
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
	tbl, err := tables.LoadTable(ctx, lake.BillsTable.Ident())
	if err != nil {
		return nil, fmt.Errorf("features: load bills: %w", err)
	}
	filter := iceberg.NewAnd(
		iceberg.GreaterThanEqual(iceberg.Reference("bill_month"), iceberg.Date(epochDay(from))),
		iceberg.LessThanEqual(iceberg.Reference("bill_month"), iceberg.Date(epochDay(to))))
	_, recs, err := tbl.Scan(append(tableSelect(billColumns), tableFilter(filter))...).ToArrowRecords(ctx)
	if err != nil {
		return nil, fmt.Errorf("features: scan bills: %w", err)
	}
	out := map[string][]bill{}
	for rec, err := range recs {
		if err != nil {
			return nil, fmt.Errorf("features: scan bills: %w", err)
		}
		ids, err1 := strColumn(rec, "subscriber_id")
		pay, err2 := strColumn(rec, "payment_method")
		months, err3 := typedColumn[*array.Date32](rec, "bill_month")
		if err := firstErr(err1, err2, err3); err != nil {
			rec.Release()
			return nil, err
		}
		cols := map[string]func(int) (int64, bool){}
		for _, n := range []string{"amount_due", "amount_paid", "arrears", "discount", "credit_limit"} {
			c, err := decimalUnits(rec, n, 2)
			if err != nil {
				rec.Release()
				return nil, err
			}
			cols[n] = c
		}
		for i := range int(rec.NumRows()) {
			if !keep.has(ids.Value(i)) {
				continue
			}
			b := bill{month: monthIndex(dayTime(int32(months.Value(i)))), limit: -1}
			b.due, _ = cols["amount_due"](i)
			b.paid, _ = cols["amount_paid"](i)
			b.arrears, _ = cols["arrears"](i)
			b.discount, _ = cols["discount"](i)
			if v, ok := cols["credit_limit"](i); ok {
				b.limit = v
			}
			if !pay.IsNull(i) {
				b.payment = strings.Clone(pay.Value(i))
			}
			id := strings.Clone(ids.Value(i))
			out[id] = append(out[id], b)
		}
		rec.Release()
	}
	for id, bs := range out {
		sortBills(bs)
		out[id] = bs
	}
	return out, nil
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

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
