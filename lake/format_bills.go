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
	newRows: func(fc fileContext, rb *array.RecordBuilder) rowAdder { return &billRows{fc: fc, rb: rb} },
}

type billRows struct {
	fc fileContext
	rb *array.RecordBuilder
}

func (r *billRows) add(get func(int) string) (int, error) {
	sub, err := parseID(get(billSubscriberID))
	if err != nil {
		return billSubscriberID, err
	}
	month, err := parseMonth(get(billMonth))
	if err != nil {
		return billMonth, err
	}
	plan, err := parseID(get(billPlan))
	if err != nil {
		return billPlan, err
	}
	var amounts [3]int64
	for i, c := range []int{billAmountDue, billAmountPaid, billArrears} {
		if amounts[i], err = parseMoney(get(c), 2, maxMoney2); err != nil {
			return c, err
		}
	}
	var discount int64
	if s := get(billDiscount); s != "" {
		if discount, err = parseMoney(s, 2, maxMoney2); err != nil {
			return billDiscount, err
		}
	}
	pm, err := parseEnum(get(billPaymentMethod), paymentMethods, nil)
	if err != nil {
		return billPaymentMethod, err
	}
	credit, hasCredit := int64(0), false
	if s := get(billCreditLimit); s != "" {
		if credit, err = parseMoney(s, 2, maxMoney2); err != nil {
			return billCreditLimit, err
		}
		hasCredit = true
	}

	rb := r.rb
	strB(rb, 0).Append(sub)
	dateB(rb, 1).Append(arrow.Date32(month))
	strB(rb, 2).Append(plan)
	decB(rb, 3).Append(money(amounts[0]))
	decB(rb, 4).Append(money(amounts[1]))
	decB(rb, 5).Append(money(amounts[2]))
	decB(rb, 6).Append(money(discount))
	strB(rb, 7).Append(pm)
	if hasCredit {
		decB(rb, 8).Append(money(credit))
	} else {
		decB(rb, 8).AppendNull()
	}
	strB(rb, 9).Append(r.fc.source)
	tsB(rb, 10).Append(arrow.Timestamp(r.fc.ingestedAt))
	return -1, nil
}
