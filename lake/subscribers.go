package lake

import (
	"context"
	"fmt"
	"strings"
)

// SubscriberRow is one row of crm.subscribers: one subscriber in one
// register export. Dates are days since 1970-01-01; strings are copies
// (safe to keep); a null string is "".
type SubscriberRow struct {
	ExportDate int32
	ID         string
	// MSISDN and Name are read only with SubscriberScan.Personal.
	MSISDN, Name string
	Gender       string
	// BirthDate is valid when HasBirth (personal data, read by every scan
	// because age bands are features).
	BirthDate                               int32
	HasBirth                                bool
	Occupation, Education, IncomeBand       string
	Region, District, Plan, Status, Payment string
	Activation, StatusDate                  int32
	// CreditLimit is in cents, -1 when none.
	CreditLimit int64
}

// SubscriberScan shapes ScanSubscribers.
type SubscriberScan struct {
	// Keep, when set, says which subscribers to read (one bucket's).
	Keep func(id string) bool
	// Personal also reads the MSISDN and the name, which only the serving
	// snapshot needs.
	Personal bool
	// Lifecycle reads only the export date, the id, region, plan, status
	// and the activation and status dates (the rest of the row is zero,
	// CreditLimit -1): what the score commit's lifecycle report reads of
	// every subscriber, in half the columns' memory. Not with Personal.
	Lifecycle bool
}

var lifecycleColumns = []string{"export_date", "subscriber_id", "region", "plan", "activation_date", "status", "status_date"}

var subscriberColumns = []string{"export_date", "subscriber_id", "gender", "birth_date", "occupation", "education",
	"income_band", "region", "district", "plan", "activation_date", "status", "status_date", "payment_method", "credit_limit"}

// ScanSubscribers is the one reader of crm.subscribers (features and
// scoring both read the register through it): fn gets every row of every
// register export, in no particular order, that o keeps. The row is
// reused: fn copies what it keeps. newest is the newest export date of all
// rows read, kept or not.
func ScanSubscribers(ctx context.Context, tables TableLoader, o SubscriberScan, fn func(*SubscriberRow) error) (newest int32, err error) {
	cols := subscriberColumns
	if o.Personal {
		cols = append([]string{"msisdn", "name"}, cols...)
	} else if o.Lifecycle {
		cols = lifecycleColumns
	}
	var r SubscriberRow
	for b, err := range Scan(ctx, tables, SubscribersTable, Select(cols...)) {
		if err != nil {
			return newest, fmt.Errorf("scan subscribers: %w", err)
		}
		export, act, sd := b.Date("export_date"), b.Date("activation_date"), b.Date("status_date")
		ids, region, plan, status := b.String("subscriber_id"), b.String("region"), b.String("plan"), b.String("status")
		all := !o.Lifecycle || o.Personal
		var birth Dates
		var gender, occ, edu, inc, dist, pay Strings
		var credit Moneys
		if all {
			birth, gender, occ, edu = b.Date("birth_date"), b.String("gender"), b.String("occupation"), b.String("education")
			inc, dist, pay, credit = b.String("income_band"), b.String("district"), b.String("payment_method"), b.Money("credit_limit", 2)
		}
		var msisdn, name Strings
		if o.Personal {
			msisdn, name = b.String("msisdn"), b.String("name")
		}
		if err := b.Err(); err != nil {
			return newest, fmt.Errorf("scan subscribers: %w", err)
		}
		for i := range b.Len() {
			newest = max(newest, export.Value(i))
			id := ids.Value(i)
			if o.Keep != nil && !o.Keep(id) {
				continue
			}
			r = SubscriberRow{ExportDate: export.Value(i), ID: strings.Clone(id), Region: cloneStr(region, i),
				Plan: cloneStr(plan, i), Status: cloneStr(status, i), Activation: act.Value(i), StatusDate: sd.Value(i), CreditLimit: -1}
			if all {
				r.Gender, r.Occupation, r.Education, r.IncomeBand = cloneStr(gender, i), cloneStr(occ, i), cloneStr(edu, i), cloneStr(inc, i)
				r.District, r.Payment = cloneStr(dist, i), cloneStr(pay, i)
				if !birth.IsNull(i) {
					r.BirthDate, r.HasBirth = birth.Value(i), true
				}
				if !credit.IsNull(i) {
					r.CreditLimit = credit.Value(i)
				}
			}
			if o.Personal {
				r.MSISDN, r.Name = cloneStr(msisdn, i), cloneStr(name, i)
			}
			if err := fn(&r); err != nil {
				return newest, err
			}
		}
	}
	return newest, nil
}

// cloneStr is row i of c as a copy, "" when null.
func cloneStr(c Strings, i int) string {
	if c.IsNull(i) {
		return ""
	}
	return strings.Clone(c.Value(i))
}
