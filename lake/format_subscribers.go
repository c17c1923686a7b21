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
	subDistrict
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
		{"district", false}, // optional, added later: a feed without it stores null
	},
	newRows: func(fc fileContext) rowParser { return &subRows{fc: fc} },
}

var (
	genders  = []string{"F", "M", "X", "U"}
	statuses = []string{"active", "suspended", "deactivated"}
)

type subRows struct {
	fc fileContext
	// the pending row
	sub, msisdn, name, gender, plan, status, pm string
	texts                                       [4]string // occupation, education, income band, region
	district                                    string
	export, birth, activation, statusDate       int32
	credit                                      int64
	hasBirth, hasCredit                         bool
}

func (r *subRows) key() (int64, string) { return int64(r.export), r.sub }

func (r *subRows) parse(rec *record) (int64, int, error) {
	var err error
	if r.export, err = parseDate(rec.get(subExportDate)); err != nil {
		return 0, subExportDate, err
	}
	if r.sub, err = parseID(rec.get(subSubscriberID)); err != nil {
		return 0, subSubscriberID, err
	}
	if r.msisdn, err = parseDigits(rec.get(subMSISDN), 8, 15, "msisdn"); err != nil {
		return 0, subMSISDN, err
	}
	if r.name, err = parseText(rec.get(subName), 200); err != nil {
		return 0, subName, err
	}
	r.gender = "U"
	if s := rec.get(subGender); s != "" {
		if r.gender, err = parseEnum(s, genders, nil); err != nil {
			return 0, subGender, err
		}
	}
	r.birth, r.hasBirth = 0, false
	if s := rec.get(subBirthDate); s != "" {
		if r.birth, err = parseDate(s); err != nil {
			return 0, subBirthDate, err
		}
		if r.birth > r.export {
			return 0, subBirthDate, fmt.Errorf("birth date after the export date")
		}
		r.hasBirth = true
	}
	for i, c := range []struct {
		col, max int
	}{{subOccupation, 64}, {subEducation, 64}, {subIncomeBand, 16}, {subRegion, 64}} {
		if r.texts[i], err = parseText(rec.get(c.col), c.max); err != nil {
			return 0, c.col, err
		}
	}
	if r.district, err = parseText(rec.get(subDistrict), 64); err != nil {
		return 0, subDistrict, err
	}
	if r.plan, err = parseID(rec.get(subPlan)); err != nil {
		return 0, subPlan, err
	}
	if r.activation, err = parseDate(rec.get(subActivationDate)); err != nil {
		return 0, subActivationDate, err
	}
	if r.activation > r.export {
		return 0, subActivationDate, fmt.Errorf("activation date after the export date")
	}
	if r.status, err = parseEnum(rec.get(subStatus), statuses, nil); err != nil {
		return 0, subStatus, err
	}
	if r.statusDate, err = parseDate(rec.get(subStatusDate)); err != nil {
		return 0, subStatusDate, err
	}
	if r.statusDate < r.activation || r.statusDate > r.export {
		return 0, subStatusDate, fmt.Errorf("status date must lie between activation date and export date")
	}
	if r.pm, err = parseEnum(rec.get(subPaymentMethod), paymentMethods, nil); err != nil {
		return 0, subPaymentMethod, err
	}
	r.credit, r.hasCredit = 0, false
	if s := rec.get(subCreditLimit); s != "" {
		if r.credit, err = parseMoney(s, 2, maxMoney2); err != nil {
			return 0, subCreditLimit, err
		}
		r.hasCredit = true
	}
	return 0, -1, nil
}

func (r *subRows) appendTo(rb *array.RecordBuilder) {
	dateB(rb, 0).Append(arrow.Date32(r.export))
	strB(rb, 1).Append(r.sub)
	strB(rb, 2).Append(r.msisdn)
	appendOptString(strB(rb, 3), r.name)
	strB(rb, 4).Append(r.gender)
	if r.hasBirth {
		dateB(rb, 5).Append(arrow.Date32(r.birth))
	} else {
		dateB(rb, 5).AppendNull()
	}
	for i, t := range r.texts {
		appendOptString(strB(rb, 6+i), t)
	}
	strB(rb, 10).Append(r.plan)
	dateB(rb, 11).Append(arrow.Date32(r.activation))
	strB(rb, 12).Append(r.status)
	dateB(rb, 13).Append(arrow.Date32(r.statusDate))
	strB(rb, 14).Append(r.pm)
	if r.hasCredit {
		decB(rb, 15).Append(money(r.credit))
	} else {
		decB(rb, 15).AppendNull()
	}
	strB(rb, 16).Append(r.fc.source)
	tsB(rb, 17).Append(arrow.Timestamp(r.fc.ingestedAt))
	appendOptString(strB(rb, 18), r.district)
}
