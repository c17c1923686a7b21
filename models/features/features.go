// Package features turns the lake's CDR, bills and subscriber register into
// one row per subscriber and month (crm.features): usage, trends, billing,
// tenure, plan and demographics. The same rows feed training (with labels
// from the register's later snapshots) and scoring (the newest month), so
// the two never differ in how a feature is computed.
//
// A month is built from its own CDR partitions, the bills of the year up to
// it, the register as of its last day, and the three previous months'
// feature rows for the trends; building it replaces that month's partition
// in one commit, so rebuilding is idempotent and touches no other month.
package features

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/lake"
)

// Builder builds feature months.
type Builder struct {
	Tables lake.TableLoader
	Log    *slog.Logger
	// Now is the clock for built_at; nil means time.Now.
	Now func() time.Time
}

// MonthResult describes one built month.
type MonthResult struct {
	Month      time.Time `json:"month"`
	Rows       int       `json:"rows"`
	CDRRows    int64     `json:"cdr_rows"`
	Seconds    float64   `json:"seconds"`
	SnapshotID int64     `json:"snapshot_id"`
}

// Build builds the given months in calendar order (so each month's trends
// see the months before it).
func (b *Builder) Build(ctx context.Context, months []time.Time) ([]MonthResult, error) {
	months = slices.Clone(months)
	slices.SortFunc(months, func(a, b time.Time) int { return a.Compare(b) })
	reg, err := LoadRegister(ctx, b.Tables)
	if err != nil {
		return nil, err
	}
	book, err := loadBillBook(ctx, b.Tables, months, all)
	if err != nil {
		return nil, err
	}
	var out []MonthResult
	for _, m := range months {
		r, err := b.buildMonth(ctx, reg, book, m)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// BillMonths lists the months that have bills: a month is complete, and
// worth building, once its bill run has arrived.
func BillMonths(ctx context.Context, tables lake.TableLoader) ([]time.Time, error) {
	seen := map[int32]bool{}
	for b, err := range lake.Scan(ctx, tables, lake.BillsTable, lake.Select("bill_month")) {
		if err != nil {
			return nil, fmt.Errorf("features: %w", err)
		}
		c := b.Date("bill_month")
		if err := b.Err(); err != nil {
			return nil, fmt.Errorf("features: %w", err)
		}
		for i := range b.Len() {
			seen[c.Value(i)] = true
		}
	}
	var out []time.Time
	for d := range seen {
		out = append(out, dayTime(d))
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out, nil
}

// row is one feature row before it becomes Arrow.
type row struct {
	id                                         string
	p                                          *profile
	u                                          usage
	bill                                       *bill
	arrearsMonths                              int32
	tMinutes, tCalls, tData, tContacts, tSpend float64
}

func (b *Builder) buildMonth(ctx context.Context, reg *Register, book billBook, month time.Time) (MonthResult, error) {
	t0 := time.Now()
	month = MonthStart(month)
	res := MonthResult{Month: month}
	mb, err := b.monthRecord(ctx, reg, book, month, all, nil)
	if err != nil {
		return res, err
	}
	defer mb.rec.Release()
	res.CDRRows = mb.cdrRows
	props := iceberg.Properties{"telcolake.features.month": month.Format("2006-01")}
	snap, err := lake.ReplaceRows(ctx, b.Tables, lake.FeaturesTable, monthFilter(month), []arrow.RecordBatch{mb.rec}, props)
	if err != nil {
		return res, fmt.Errorf("features: write %s: %w", month.Format("2006-01"), err)
	}
	if err := b.writeUsageCube(ctx, mb.cube.cells(), mb.demo, month); err != nil {
		return res, err
	}
	res.Rows, res.SnapshotID, res.Seconds = int(mb.rec.NumRows()), snap, time.Since(t0).Seconds()
	if b.Log != nil {
		b.Log.InfoContext(ctx, "features built", "month", month.Format("2006-01"), "rows", res.Rows,
			"cdr_rows", res.CDRRows, "seconds", res.Seconds)
	}
	return res, nil
}

// monthFilter selects one month's rows of crm.features.
func monthFilter(month time.Time) iceberg.BooleanExpression {
	return iceberg.EqualTo(iceberg.Reference("month"), iceberg.Date(epochDay(month)))
}

// monthBuild is one month's feature rows (of all subscribers or one
// bucket's) and its usage cube sums, not written yet.
type monthBuild struct {
	rec     arrow.RecordBatch
	cube    *usageCubeAcc
	demo    demographics
	cdrRows int64
}

// monthRecord computes the feature rows of month (its first day) for the
// subscribers of subset keep, sorted by id, as one record; reg holds (at
// least) those subscribers, book (at least) their bills of the year up to
// month (loadBillBook). built holds records of earlier months built in
// this run and not committed yet, by month (days since the epoch): the
// trends read those months from it instead of from the table.
func (b *Builder) monthRecord(ctx context.Context, reg *Register, book billBook, month time.Time, keep subset, built map[int32]arrow.RecordBatch) (*monthBuild, error) {
	end := epochDay(month.AddDate(0, 1, -1))

	// Who is a customer at the end of the month.
	var rows []row
	for id, p := range reg.asOf(end) {
		if p.activation > end {
			continue
		}
		if d, gone := reg.Deactivated[id]; gone && d <= end {
			continue
		}
		rows = append(rows, row{id: id, p: p})
	}
	slices.SortFunc(rows, func(a, b row) int { return strings.Compare(a.id, b.id) })
	index := make(map[string]int32, len(rows))
	for i := range rows {
		index[rows[i].id] = int32(i)
	}

	home := make([]string, len(rows))
	for i := range rows {
		home[i] = rows[i].p.region
	}
	demo := newDemographics(rows, end)
	u, cube, cdrRows, err := aggregateUsage(ctx, b.Tables, month, index, home, demo, keep)
	if err != nil {
		return nil, err
	}
	from, to := month.AddDate(0, -3, 0), month.AddDate(0, -1, 0)
	skip := map[int32]bool{}
	for m := range built {
		skip[m] = true
	}
	prev, err := loadHistory(ctx, b.Tables, from, to, keep, skip)
	if err != nil {
		return nil, err
	}
	for m, rec := range built {
		if m >= epochDay(from) && m <= epochDay(to) {
			if err := addHistory(prev, lake.NewBatch(rec, "crm.features"), keep, nil); err != nil {
				return nil, err
			}
		}
	}
	sortHistories(prev)
	mi := monthIndex(month)
	for i := range rows {
		r := &rows[i]
		r.u = u[i]
		if bs := book.window(r.id, mi); len(bs) > 0 && bs[len(bs)-1].month == mi {
			bl := bs[len(bs)-1]
			r.bill = &bl
			r.arrearsMonths = monthsInArrears(bs, mi)
		}
		h := prev[r.id]
		r.tMinutes = trend(float64(r.u.voiceSecs)/60, h.mean(func(x history) float64 { return x.minutes }))
		r.tCalls = trend(float64(r.u.voiceCalls), h.mean(func(x history) float64 { return x.calls }))
		r.tData = trend(float64(r.u.dataKB)/1024, h.mean(func(x history) float64 { return x.dataMB }))
		r.tContacts = trend(float64(r.u.contacts), h.mean(func(x history) float64 { return x.contacts }))
		spend := math.NaN()
		if r.bill != nil {
			spend = float64(r.bill.due) / 100
		}
		r.tSpend = trend(spend, h.mean(func(x history) float64 { return x.spend }))
	}

	rec, err := b.record(rows, month, end)
	if err != nil {
		return nil, err
	}
	return &monthBuild{rec: rec, cube: cube, demo: demo, cdrRows: cdrRows}, nil
}

// writeUsageCube replaces month's partition of crm.usage_cube.
func (b *Builder) writeUsageCube(ctx context.Context, cells []usageCell, demo demographics, month time.Time) error {
	rec, err := usageCubeRecord(cells, demo, month, b.now())
	if err != nil {
		return err
	}
	defer rec.Release()
	props := iceberg.Properties{"telcolake.usage_cube.month": month.Format("2006-01")}
	if _, err := lake.ReplaceRows(ctx, b.Tables, lake.UsageCubeTable,
		iceberg.EqualTo(iceberg.Reference("month"), iceberg.Date(epochDay(month))), []arrow.RecordBatch{rec}, props); err != nil {
		return fmt.Errorf("features: write usage cube %s: %w", month.Format("2006-01"), err)
	}
	return nil
}

// trend is cur / mean − 1; NaN when either is unknown or the mean is 0.
func trend(cur, mean float64) float64 {
	if math.IsNaN(cur) || math.IsNaN(mean) || mean == 0 {
		return math.NaN()
	}
	return cur/mean - 1
}

func (b *Builder) now() time.Time {
	if b.Now == nil {
		return time.Now()
	}
	return b.Now()
}

// record turns rows into an Arrow record of the features table's schema.
func (b *Builder) record(rows []row, month time.Time, end int32) (arrow.RecordBatch, error) {
	rb, err := lake.NewRowBuilder(lake.FeaturesTable, len(rows))
	if err != nil {
		return nil, err
	}
	defer rb.Release()
	str, i32, f64 := rb.String, rb.Int32, rb.Float
	money := func(name string, cents int64, ok bool) {
		if !ok {
			rb.Null(name)
			return
		}
		rb.Money(name, cents)
	}
	ratio := func(a, b int64) float64 {
		if b == 0 {
			return math.NaN()
		}
		return float64(a) / float64(b)
	}
	built := b.now()
	for _, r := range rows {
		p, u := r.p, r.u
		rb.Date("month", month)
		str("subscriber_id", r.id)
		plan := p.plan
		if r.bill == nil && plan == "" {
			plan = "unknown"
		}
		str("plan", plan)
		str("region", p.region)
		if p.hasBirth {
			str("age_band", ageBand(p.birth, end))
		} else {
			str("age_band", "")
		}
		str("gender", p.gender)
		str("income_band", p.income)
		pay := p.payment
		if r.bill != nil && r.bill.payment != "" {
			pay = r.bill.payment
		}
		str("payment_method", pay)
		status := p.status
		if status != "suspended" {
			status = "active" // deactivated after the month's end
		}
		str("status", status)
		i32("tenure_months", int64(wholeMonths(p.activation, end)))
		i32("voice_calls", u.voiceCalls)
		f64("voice_minutes", float64(u.voiceSecs)/60)
		f64("avg_call_s", ratio(u.voiceSecs, u.voiceCalls))
		i32("sms", u.sms)
		f64("data_mb", float64(u.dataKB)/1024)
		i32("distinct_contacts", u.contacts)
		i32("roaming_calls", u.roaming)
		i32("intl_calls", u.intl)
		f64("peak_share", ratio(u.peak, u.voiceCalls))
		f64("weekend_share", ratio(u.weekend, u.voiceCalls))
		f64("offnet_share", ratio(u.offnetOut, u.outVoice))
		i32("high_value_calls", u.highValue)
		i32("care_calls", u.care)
		i32("active_days", int64(popcount(u.days)))
		money("usage_charge", (u.charge+50)/100, true)
		limit := p.creditLimit
		if bl := r.bill; bl != nil {
			money("amount_due", bl.due, true)
			money("amount_paid", bl.paid, true)
			f64("paid_ratio", ratio(bl.paid, bl.due))
			money("arrears", bl.arrears, true)
			money("discount", bl.discount, true)
			if bl.limit >= 0 {
				limit = bl.limit
			}
		} else {
			for _, n := range []string{"amount_due", "amount_paid", "paid_ratio", "arrears", "discount"} {
				rb.Null(n)
			}
		}
		i32("months_in_arrears", int64(r.arrearsMonths))
		money("credit_limit", limit, limit >= 0)
		if r.bill != nil && limit > 0 {
			f64("credit_use", ratio(r.bill.due, limit))
		} else {
			rb.Null("credit_use")
		}
		f64("voice_minutes_trend", r.tMinutes)
		f64("calls_trend", r.tCalls)
		f64("data_trend", r.tData)
		f64("contacts_trend", r.tContacts)
		f64("spend_trend", r.tSpend)
		rb.Time("built_at", built)
	}
	return rb.Record(), nil
}

func popcount(x uint32) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// MonthStart truncates t to the first day of its month, UTC.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func epochDay(t time.Time) int32 { return int32(t.UTC().Unix() / 86400) }

func dayTime(d int32) time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// monthIndex counts months since 1970-01.
func monthIndex(t time.Time) int32 { return int32(t.Year()-1970)*12 + int32(t.Month()-1) }

// BuiltMonths lists the months crm.features has rows for, from the data
// files' partition values (no data is read).
func BuiltMonths(ctx context.Context, tables lake.TableLoader) (map[time.Time]bool, error) {
	tbl, err := tables.LoadTable(ctx, lake.FeaturesTable.Ident())
	if err != nil {
		return nil, fmt.Errorf("features: load features: %w", err)
	}
	out := map[time.Time]bool{}
	if tbl.CurrentSnapshot() == nil {
		return out, nil
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("features: plan features: %w", err)
	}
	monthField := map[int32]int{} // spec id → partition field id of month(month), -1 if none
	for _, t := range tasks {
		sid := t.File.SpecID()
		fid, ok := monthField[sid]
		if !ok {
			fid = -1
			if spec := tbl.Metadata().PartitionSpecByID(int(sid)); spec != nil {
				for _, f := range spec.Fields() {
					if _, month := f.Transform.(iceberg.MonthTransform); month {
						fid = f.FieldID
					}
				}
			}
			monthField[sid] = fid
		}
		// month(month) partitions hold months since 1970-01 (the bucket
		// field beside it holds an int32 too).
		if m, ok := t.File.Partition()[fid].(int32); ok {
			out[time.Date(1970, time.Month(1+m), 1, 0, 0, 0, 0, time.UTC)] = true
		}
	}
	return out, nil
}
