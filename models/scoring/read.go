package scoring

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/serving"
)

// person is a subscriber's row of the newest register snapshot that lists
// them.
type person struct {
	export                       int32 // export_date, days since the epoch
	msisdn, name, gender, region string
	plan, status, payment        string
	occupation, education        string
	income, district             string
	activation, statusDate       int32
}

// register is the newest register snapshot, subscriber by subscriber.
type register struct {
	people map[string]*person
	newest int32 // the newest export date
}

// loadRegister keeps, for every subscriber, the row of the newest snapshot
// of crm.subscribers that lists them (lake.ScanSubscribers, with the
// personal columns the serving snapshot shows).
// keep says which subscribers to keep (one bucket's, or everyone's).
func loadRegister(ctx context.Context, tables lake.TableLoader, keep func(id string) bool) (*register, error) {
	reg := &register{people: map[string]*person{}}
	newest, err := lake.ScanSubscribers(ctx, tables, lake.SubscriberScan{Keep: keep, Personal: true}, func(r *lake.SubscriberRow) error {
		if p, ok := reg.people[r.ID]; ok && p.export >= r.ExportDate {
			return nil
		}
		reg.people[r.ID] = &person{
			export: r.ExportDate, msisdn: r.MSISDN, name: r.Name, gender: r.Gender,
			region: r.Region, plan: r.Plan, status: r.Status, payment: r.Payment,
			activation: r.Activation, statusDate: r.StatusDate,
			occupation: r.Occupation, education: r.Education, income: r.IncomeBand, district: r.District,
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scoring: %w", err)
	}
	reg.newest = newest
	return reg, nil
}

// history is a subscriber's feature months, oldest first, with the bill
// (NaN amounts: no bill that month).
type history []serving.Month

var historyColumns = []string{"month", "subscriber_id", "voice_minutes", "voice_calls", "sms", "data_mb",
	"care_calls", "amount_due", "amount_paid", "arrears"}

// loadHistory reads the feature rows of months [from, to] per subscriber
// of one subscriber bucket (every subscriber when bucket < 0), each
// subscriber's oldest first; a bucket reads its files of crm.features
// alone (lake.InBucket). With also, the scan reads every month and the
// columns of extra as well, and hands each batch to also first (the
// lifecycle report's share, reportScan.features: one scan of crm.features
// for both). more are added to the scan's options (lake.CountInto).
func loadHistory(ctx context.Context, tables lake.TableLoader, from, to time.Time, bucket int,
	extra []string, also func(*lake.Batch) error, more ...lake.ScanOption) (map[string]history, error) {
	lo, hi := epochDay(from), epochDay(to)
	opts := []lake.ScanOption{lake.Select(historyColumns...)}
	if also != nil {
		cols := slices.Clone(historyColumns)
		for _, c := range extra {
			if !slices.Contains(cols, c) {
				cols = append(cols, c)
			}
		}
		opts = []lake.ScanOption{lake.Select(cols...)}
	} else {
		opts = append(opts, lake.Where(iceberg.NewAnd(
			iceberg.GreaterThanEqual(iceberg.Reference("month"), iceberg.Date(lo)),
			iceberg.LessThanEqual(iceberg.Reference("month"), iceberg.Date(hi)))))
	}
	if bucket >= 0 {
		opts = append(opts, lake.InBucket(bucket))
	}
	opts = append(opts, more...)
	out := map[string]history{}
	for rec, err := range lake.Scan(ctx, tables, lake.FeaturesTable, opts...) {
		if err != nil {
			return nil, fmt.Errorf("scoring: scan features: %w", err)
		}
		if also != nil {
			if err := also(rec); err != nil {
				return nil, err
			}
		}
		month, ids := rec.Date("month"), rec.String("subscriber_id")
		minutes, calls, sms, data := rec.Number("voice_minutes").Value, rec.Number("voice_calls").Value, rec.Number("sms").Value, rec.Number("data_mb").Value
		care, due, paid, arrears := rec.Number("care_calls").Value, rec.Number("amount_due").Value, rec.Number("amount_paid").Value, rec.Number("arrears").Value
		if err := rec.Err(); err != nil {
			return nil, fmt.Errorf("scoring: %w", err)
		}
		for i := range rec.Len() {
			d := int32(month.Value(i))
			if d < lo || d > hi {
				continue
			}
			id := ids.Value(i)
			if _, ok := out[id]; !ok {
				id = strings.Clone(id)
			}
			out[id] = append(out[id], serving.Month{
				Month:        dayTime(d).Format("2006-01"),
				VoiceMinutes: minutes(i), VoiceCalls: int32(zeroNaN(calls(i))), SMS: int32(zeroNaN(sms(i))),
				DataMB: data(i), CareCalls: int32(zeroNaN(care(i))),
				AmountDue: due(i), AmountPaid: paid(i), Arrears: arrears(i),
			})
		}
	}
	for _, h := range out {
		slices.SortFunc(h, func(a, b serving.Month) int { return strings.Compare(a.Month, b.Month) })
	}
	return out, nil
}

// labelHorizon is a model's label horizon (months) recorded in
// crm.model_runs for a version of kind (churn, bad-debt: one training
// run writes both under the same version); ok is false when the run or
// its horizon is not there.
func labelHorizon(ctx context.Context, tables lake.TableLoader, kind, version string) (n int, ok bool, err error) {
	filter := iceberg.NewAnd(
		iceberg.EqualTo(iceberg.Reference("version"), version),
		iceberg.EqualTo(iceberg.Reference("kind"), kind))
	for rec, err := range lake.Scan(ctx, tables, lake.ModelRunsTable, lake.Select("version", "kind", "horizon_months"), lake.Where(filter)) {
		if err != nil {
			return 0, false, fmt.Errorf("scoring: scan model runs: %w", err)
		}
		versions, kinds, horizon := rec.String("version"), rec.String("kind"), rec.Number("horizon_months").Value
		if err := rec.Err(); err != nil {
			return 0, false, fmt.Errorf("scoring: %w", err)
		}
		for i := range rec.Len() {
			if versions.Value(i) == version && kinds.Value(i) == kind && !math.IsNaN(horizon(i)) && horizon(i) > 0 {
				n, ok = int(horizon(i)), true
			}
		}
	}
	return n, ok, nil
}

// prevTierRun is the newest run of crm.scores over the feature month
// before month that has value tiers, "" without one.
func prevTierRun(ctx context.Context, tables lake.TableLoader, month time.Time) (string, error) {
	prev := epochDay(month.AddDate(0, -1, 0))
	filter := iceberg.EqualTo(iceberg.Reference("feature_month"), iceberg.Date(prev))
	run := ""
	for rec, err := range lake.Scan(ctx, tables, lake.ScoresTable, lake.Select("run", "feature_month", "value_tier"), lake.Where(filter)) {
		if err != nil {
			return "", fmt.Errorf("scoring: scan scores: %w", err)
		}
		runs, months, vt := rec.String("run"), rec.Date("feature_month"), rec.String("value_tier")
		if err := rec.Err(); err != nil {
			return "", fmt.Errorf("scoring: %w", err)
		}
		for i := range rec.Len() {
			if int32(months.Value(i)) == prev && !vt.IsNull(i) && runs.Value(i) > run {
				run = strings.Clone(runs.Value(i))
			}
		}
	}
	return run, nil
}

// prevTiers reads the value tiers of the plan's previous-month run
// (PrevTierRun) of one subscriber bucket's subscribers (everyone's when
// bucket < 0); nil without that run. A bucket reads its files of
// crm.scores alone (lake.InBucket). more are added to the scan's options
// (lake.CountInto).
func (r *Runner) prevTiers(ctx context.Context, p *Plan, bucket int, more ...lake.ScanOption) (map[string]string, error) {
	if p.PrevTierRun == "" {
		return nil, nil
	}
	month, err := time.Parse("2006-01", p.FeatureMonth)
	if err != nil {
		return nil, fmt.Errorf("scoring: plan's feature month %q: %w", p.FeatureMonth, err)
	}
	prev := epochDay(month.AddDate(0, -1, 0))
	filter := iceberg.NewAnd(iceberg.EqualTo(iceberg.Reference("run"), p.PrevTierRun),
		iceberg.EqualTo(iceberg.Reference("feature_month"), iceberg.Date(prev)))
	opts := []lake.ScanOption{lake.Select("run", "feature_month", "subscriber_id", "value_tier"), lake.Where(filter)}
	if bucket >= 0 {
		opts = append(opts, lake.InBucket(bucket))
	}
	out := map[string]string{}
	for rec, err := range lake.Scan(ctx, r.Tables, lake.ScoresTable, append(opts, more...)...) {
		if err != nil {
			return nil, fmt.Errorf("scoring: scan scores: %w", err)
		}
		runs, months, ids, vt := rec.String("run"), rec.Date("feature_month"), rec.String("subscriber_id"), rec.String("value_tier")
		if err := rec.Err(); err != nil {
			return nil, fmt.Errorf("scoring: %w", err)
		}
		for i := range rec.Len() {
			if int32(months.Value(i)) != prev || vt.IsNull(i) || runs.Value(i) != p.PrevTierRun {
				continue
			}
			out[strings.Clone(ids.Value(i))] = strings.Clone(vt.Value(i))
		}
	}
	return out, nil
}

func value(c lake.Strings, i int) string {
	if c.IsNull(i) {
		return ""
	}
	return strings.Clone(c.Value(i))
}

func zeroNaN(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func epochDay(t time.Time) int32 { return int32(t.UTC().Unix() / 86400) }

func dayTime(d int32) time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

func dayString(d int32) string { return dayTime(d).Format("2006-01-02") }
