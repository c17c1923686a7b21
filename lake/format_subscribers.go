package lake

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

const (
	subExportDate = iota
	subSubscriberID
	subMSISDN
	subName
	subGender
	subBirthDate
	subOccupation
	subEducation
	subIncomeBand
	subRegion
	subPlan
	subActivationDate
	subStatus
	subStatusDate
	subPaymentMethod
	subCreditLimit
)

// SubscribersFormat is the subscriber register's full snapshot export.
var SubscribersFormat = &Format{
	Prefix: "exports/subscribers/",
	Table:  SubscribersTable,
	Columns: []Column{
		{"export_date", true}, {"subscriber_id", true}, {"msisdn", true}, {"name", false},
		{"gender", false}, {"birth_date", false}, {"occupation", false}, {"education", false},
		{"income_band", false}, {"region", false}, {"plan", true}, {"activation_date", true},
		{"status", true}, {"status_date", true}, {"payment_method", true}, {"credit_limit", false},
	},
	newRows: func(fc fileContext, rb *array.RecordBuilder) rowAdder { return &subRows{fc: fc, rb: rb} },
}

var (
	genders  = []string{"F", "M", "X", "U"}
	statuses = []string{"active", "suspended", "deactivated"}
)

type subRows struct {
	fc fileContext
	rb *array.RecordBuilder
}

func (r *subRows) add(get func(int) string) (int, error) {
	export, err := parseDate(get(subExportDate))
	if err != nil {
		return subExportDate, err
	}
	sub, err := parseID(get(subSubscriberID))
	if err != nil {
		return subSubscriberID, err
	}
	msisdn, err := parseDigits(get(subMSISDN), 8, 15, "msisdn")
	if err != nil {
		return subMSISDN, err
	}
	name, err := parseText(get(subName), 200)
	if err != nil {
		return subName, err
	}
	gender := "U"
	if s := get(subGender); s != "" {
		if gender, err = parseEnum(s, genders, nil); err != nil {
			return subGender, err
		}
	}
	birth, hasBirth := int32(0), false
	if s := get(subBirthDate); s != "" {
		if birth, err = parseDate(s); err != nil {
			return subBirthDate, err
		}
		if birth > export {
			return subBirthDate, fmt.Errorf("birth date after the export date")
		}
		hasBirth = true
	}
	var texts [4]string
	for i, c := range []struct {
		col, max int
	}{{subOccupation, 64}, {subEducation, 64}, {subIncomeBand, 16}, {subRegion, 64}} {
		if texts[i], err = parseText(get(c.col), c.max); err != nil {
			return c.col, err
		}
	}
	plan, err := parseID(get(subPlan))
	if err != nil {
		return subPlan, err
	}
	activation, err := parseDate(get(subActivationDate))
	if err != nil {
		return subActivationDate, err
	}
	if activation > export {
		return subActivationDate, fmt.Errorf("activation date after the export date")
	}
	status, err := parseEnum(get(subStatus), statuses, nil)
	if err != nil {
		return subStatus, err
	}
	statusDate, err := parseDate(get(subStatusDate))
	if err != nil {
		return subStatusDate, err
	}
	if statusDate < activation || statusDate > export {
		return subStatusDate, fmt.Errorf("status date must lie between activation date and export date")
	}
	pm, err := parseEnum(get(subPaymentMethod), paymentMethods, nil)
	if err != nil {
		return subPaymentMethod, err
	}
	credit, hasCredit := int64(0), false
	if s := get(subCreditLimit); s != "" {
		if credit, err = parseMoney(s, 2, maxMoney2); err != nil {
			return subCreditLimit, err
		}
		hasCredit = true
	}

	rb := r.rb
	dateB(rb, 0).Append(arrow.Date32(export))
	strB(rb, 1).Append(sub)
	strB(rb, 2).Append(msisdn)
	appendOptString(strB(rb, 3), name)
	strB(rb, 4).Append(gender)
	if hasBirth {
		dateB(rb, 5).Append(arrow.Date32(birth))
	} else {
		dateB(rb, 5).AppendNull()
	}
	for i, t := range texts {
		appendOptString(strB(rb, 6+i), t)
	}
	strB(rb, 10).Append(plan)
	dateB(rb, 11).Append(arrow.Date32(activation))
	strB(rb, 12).Append(status)
	dateB(rb, 13).Append(arrow.Date32(statusDate))
	strB(rb, 14).Append(pm)
	if hasCredit {
		decB(rb, 15).Append(money(credit))
	} else {
		decB(rb, 15).AppendNull()
	}
	strB(rb, 16).Append(r.fc.source)
	tsB(rb, 17).Append(arrow.Timestamp(r.fc.ingestedAt))
	return -1, nil
}
