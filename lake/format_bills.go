package lake

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

const (
	billSubscriberID = iota
	billMonth
	billPlan
	billAmountDue
	billAmountPaid
	billArrears
	billDiscount
	billPaymentMethod
	billCreditLimit
)

// maxMoney2 is 1,000,000.00 unscaled at scale 2.
const maxMoney2 = 1_000_000_00

// BillsFormat is the billing system's monthly export.
var BillsFormat = &Format{
	Prefix: "exports/bills/",
	Table:  BillsTable,
	Columns: []Column{
		{"subscriber_id", true}, {"bill_month", true}, {"plan", true}, {"amount_due", true},
		{"amount_paid", true}, {"arrears", true}, {"discount", false}, {"payment_method", true},
		{"credit_limit", false},
	},
	newRows: func(fc fileContext) rowParser { return &billRows{fc: fc} },
}

type billRows struct {
	fc fileContext
	// the pending row
	sub, plan, pm                        string
	month                                int32
	due, paid, arrears, discount, credit int64
	hasCredit                            bool
}

func (r *billRows) key() (int64, string) { return int64(r.month), r.sub }

func (r *billRows) parse(rec *record) (int64, int, error) {
	var err error
	if r.sub, err = parseID(rec.get(billSubscriberID)); err != nil {
		return 0, billSubscriberID, err
	}
	if r.month, err = parseMonth(rec.get(billMonth)); err != nil {
		return 0, billMonth, err
	}
	if r.plan, err = parseID(rec.get(billPlan)); err != nil {
		return 0, billPlan, err
	}
	for _, m := range []struct {
		col int
		v   *int64
	}{{billAmountDue, &r.due}, {billAmountPaid, &r.paid}, {billArrears, &r.arrears}} {
		if *m.v, err = parseMoney(rec.get(m.col), 2, maxMoney2); err != nil {
			return 0, m.col, err
		}
	}
	r.discount = 0
	if s := rec.get(billDiscount); s != "" {
		if r.discount, err = parseMoney(s, 2, maxMoney2); err != nil {
			return 0, billDiscount, err
		}
	}
	if r.pm, err = parseEnum(rec.get(billPaymentMethod), paymentMethods, nil); err != nil {
		return 0, billPaymentMethod, err
	}
	r.credit, r.hasCredit = 0, false
	if s := rec.get(billCreditLimit); s != "" {
		if r.credit, err = parseMoney(s, 2, maxMoney2); err != nil {
			return 0, billCreditLimit, err
		}
		r.hasCredit = true
	}
	return int64(r.month), -1, nil // month(bill_month): the month's first day identifies it
}

func (r *billRows) appendTo(rb *array.RecordBuilder) {
	strB(rb, 0).Append(r.sub)
	dateB(rb, 1).Append(arrow.Date32(r.month))
	strB(rb, 2).Append(r.plan)
	decB(rb, 3).Append(money(r.due))
	decB(rb, 4).Append(money(r.paid))
	decB(rb, 5).Append(money(r.arrears))
	decB(rb, 6).Append(money(r.discount))
	strB(rb, 7).Append(r.pm)
	if r.hasCredit {
		decB(rb, 8).Append(money(r.credit))
	} else {
		decB(rb, 8).AppendNull()
	}
	strB(rb, 9).Append(r.fc.source)
	tsB(rb, 10).Append(arrow.Timestamp(r.fc.ingestedAt))
}
