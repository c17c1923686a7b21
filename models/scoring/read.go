package scoring

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

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

var registerColumns = []string{"export_date", "subscriber_id", "msisdn", "name", "gender", "region", "plan",
	"activation_date", "status", "status_date", "payment_method", "occupation", "education", "income_band", "district"}

// loadRegister keeps, for every subscriber, the row of the newest snapshot
// of crm.subscribers that lists them.
func loadRegister(ctx context.Context, tables lake.TableLoader) (*register, error) {
	recs, err := scan(ctx, tables, lake.SubscribersTable, registerColumns, nil)
	if err != nil {
		return nil, err
	}
	reg := &register{people: map[string]*person{}}
	for rec, err := range recs {
		if err != nil {
			return nil, fmt.Errorf("scoring: scan subscribers: %w", err)
		}
		err = reg.add(rec)
		rec.Release()
		if err != nil {
			return nil, err
		}
	}
	return reg, nil
}

func (reg *register) add(rec arrow.RecordBatch) error {
	c := columns{rec: rec}
	export, activation, statusDate := c.date("export_date"), c.date("activation_date"), c.date("status_date")
	ids, msisdn, name, gender := c.str("subscriber_id"), c.str("msisdn"), c.str("name"), c.str("gender")
	region, plan, status, payment := c.str("region"), c.str("plan"), c.str("status"), c.str("payment_method")
	occ, edu, inc, dist := c.str("occupation"), c.str("education"), c.str("income_band"), c.str("district")
	if c.err != nil {
		return c.err
	}
	for i := range int(rec.NumRows()) {
		d := int32(export.Value(i))
		reg.newest = max(reg.newest, d)
		id := ids.Value(i)
		if p, ok := reg.people[id]; ok && p.export >= d {
			continue
		}
		reg.people[strings.Clone(id)] = &person{
			export: d, msisdn: value(msisdn, i), name: value(name, i), gender: value(gender, i),
			region: value(region, i), plan: value(plan, i), status: value(status, i), payment: value(payment, i),
			activation: int32(activation.Value(i)), statusDate: int32(statusDate.Value(i)),
			occupation: value(occ, i), education: value(edu, i), income: value(inc, i), district: value(dist, i),
		}
	}
	return nil
}

// history is a subscriber's feature months, oldest first, with the bill
// (NaN amounts: no bill that month).
type history []serving.Month

var historyColumns = []string{"month", "subscriber_id", "voice_minutes", "voice_calls", "sms", "data_mb",
	"care_calls", "amount_due", "amount_paid", "arrears"}

// loadHistory reads the feature rows of months [from, to] per subscriber,
// each subscriber's oldest first.
func loadHistory(ctx context.Context, tables lake.TableLoader, from, to time.Time) (map[string]history, error) {
	lo, hi := epochDay(from), epochDay(to)
	filter := iceberg.NewAnd(
		iceberg.GreaterThanEqual(iceberg.Reference("month"), iceberg.Date(lo)),
		iceberg.LessThanEqual(iceberg.Reference("month"), iceberg.Date(hi)))
	recs, err := scan(ctx, tables, lake.FeaturesTable, historyColumns, filter)
	if err != nil {
		return nil, err
	}
	out := map[string]history{}
	for rec, err := range recs {
		if err != nil {
			return nil, fmt.Errorf("scoring: scan features: %w", err)
		}
		c := columns{rec: rec}
		month, ids := c.date("month"), c.str("subscriber_id")
		minutes, calls, sms, data := c.num("voice_minutes"), c.num("voice_calls"), c.num("sms"), c.num("data_mb")
		care, due, paid, arrears := c.num("care_calls"), c.num("amount_due"), c.num("amount_paid"), c.num("arrears")
		if c.err != nil {
			rec.Release()
			return nil, c.err
		}
		for i := range int(rec.NumRows()) {
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
		rec.Release()
	}
	for _, h := range out {
		slices.SortFunc(h, func(a, b serving.Month) int { return strings.Compare(a.Month, b.Month) })
	}
	return out, nil
}

// labelHorizon is the churn label's horizon (months) recorded in
// crm.model_runs for a churn model version; ok is false when the run or
// its horizon is not there.
func labelHorizon(ctx context.Context, tables lake.TableLoader, version string) (n int, ok bool, err error) {
	filter := iceberg.NewAnd(
		iceberg.EqualTo(iceberg.Reference("version"), version),
		iceberg.EqualTo(iceberg.Reference("kind"), "churn"))
	recs, err := scan(ctx, tables, lake.ModelRunsTable, []string{"version", "kind", "horizon_months"}, filter)
	if err != nil {
		return 0, false, err
	}
	for rec, err := range recs {
		if err != nil {
			return 0, false, fmt.Errorf("scoring: scan model runs: %w", err)
		}
		c := columns{rec: rec}
		versions, kinds, horizon := c.str("version"), c.str("kind"), c.num("horizon_months")
		if c.err != nil {
			rec.Release()
			return 0, false, c.err
		}
		for i := range int(rec.NumRows()) {
			if versions.Value(i) == version && kinds.Value(i) == "churn" && !math.IsNaN(horizon(i)) && horizon(i) > 0 {
				n, ok = int(horizon(i)), true
			}
		}
		rec.Release()
	}
	return n, ok, nil
}

// previousTiers reads the value tiers of the newest run of crm.scores
// that scored the feature month before month: its id and each customer's
// tier (ok false without such a run, or with one written before tiers).
// It scans that month's rows of three columns.
func previousTiers(ctx context.Context, tables lake.TableLoader, month time.Time) (run string, tiers map[string]string, err error) {
	prev := epochDay(month.AddDate(0, -1, 0))
	filter := iceberg.EqualTo(iceberg.Reference("feature_month"), iceberg.Date(prev))
	recs, err := scan(ctx, tables, lake.ScoresTable, []string{"run", "feature_month", "subscriber_id", "value_tier"}, filter)
	if err != nil {
		return "", nil, err
	}
	byRun := map[string]map[string]string{}
	for rec, err := range recs {
		if err != nil {
			return "", nil, fmt.Errorf("scoring: scan scores: %w", err)
		}
		c := columns{rec: rec}
		runs, months, ids, vt := c.str("run"), c.date("feature_month"), c.str("subscriber_id"), c.str("value_tier")
		if c.err != nil {
			rec.Release()
			return "", nil, c.err
		}
		for i := range int(rec.NumRows()) {
			if int32(months.Value(i)) != prev || vt.IsNull(i) {
				continue
			}
			r := runs.Value(i)
			m := byRun[r]
			if m == nil {
				m = map[string]string{}
				byRun[strings.Clone(r)] = m
			}
			m[strings.Clone(ids.Value(i))] = strings.Clone(vt.Value(i))
		}
		rec.Release()
	}
	for r := range byRun {
		run = max(run, r)
	}
	return run, byRun[run], nil
}

func scan(ctx context.Context, tables lake.TableLoader, def lake.TableDef, cols []string, filter iceberg.BooleanExpression) (func(func(arrow.RecordBatch, error) bool), error) {
	tbl, err := tables.LoadTable(ctx, def.Ident())
	if err != nil {
		return nil, fmt.Errorf("scoring: load %s: %w", def.Name, err)
	}
	opts := []table.ScanOption{table.WithSelectedFields(cols...), table.WithMaxConcurrency(2)}
	if filter != nil {
		opts = append(opts, table.WithRowFilter(filter))
	}
	_, recs, err := tbl.Scan(opts...).ToArrowRecords(ctx)
	if err != nil {
		return nil, fmt.Errorf("scoring: scan %s: %w", def.Name, err)
	}
	return recs, nil
}

// columns gives typed access to a scanned batch's columns by name; the
// first problem is kept in err.
type columns struct {
	rec arrow.RecordBatch
	err error
}

type strCol interface {
	Value(int) string
	IsNull(int) bool
}

func (c *columns) col(name string) arrow.Array {
	idx := c.rec.Schema().FieldIndices(name)
	if len(idx) == 0 {
		if c.err == nil {
			c.err = fmt.Errorf("scoring: column %q missing from scan", name)
		}
		return nil
	}
	return c.rec.Column(idx[0])
}

func (c *columns) typeErr(name string, a arrow.Array, want string) {
	if c.err == nil {
		c.err = fmt.Errorf("scoring: column %q is %s, want %s", name, a.DataType(), want)
	}
}

func (c *columns) str(name string) strCol {
	a := c.col(name)
	if a == nil {
		return nil
	}
	s, ok := a.(strCol)
	if !ok {
		c.typeErr(name, a, "a string")
	}
	return s
}

func (c *columns) date(name string) *array.Date32 {
	a := c.col(name)
	if a == nil {
		return nil
	}
	d, ok := a.(*array.Date32)
	if !ok {
		c.typeErr(name, a, "a date")
	}
	return d
}

// num reads a numeric column (ints, floats, decimals) as float64, null as
// NaN.
func (c *columns) num(name string) func(int) float64 {
	a := c.col(name)
	if a == nil {
		return nil
	}
	wrap := func(f func(int) float64) func(int) float64 {
		return func(i int) float64 {
			if a.IsNull(i) {
				return math.NaN()
			}
			return f(i)
		}
	}
	switch v := a.(type) {
	case *array.Int32:
		return wrap(func(i int) float64 { return float64(v.Value(i)) })
	case *array.Int64:
		return wrap(func(i int) float64 { return float64(v.Value(i)) })
	case *array.Float64:
		return wrap(v.Value)
	case *array.Decimal128:
		scale := v.DataType().(*arrow.Decimal128Type).Scale
		return wrap(func(i int) float64 { return v.Value(i).ToFloat64(scale) })
	}
	c.typeErr(name, a, "a number")
	return nil
}

func value(c strCol, i int) string {
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
