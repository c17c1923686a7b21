package scoring

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/serving"
)

// The lifecycle, causes and tracking report (insight.Report) of a run,
// built by the commit after the run's rows are in crm.scores and carried
// in the snapshot's meta. Tracking is a step of the score function, not of train
// or a function of its own: it needs the register's newest export (what
// happened since each past run), past runs of crm.scores, and the
// feature months, which score already reads; and its answer belongs with
// the snapshot the API serves. Its rows also go to crm.model_tracking
// (writeTracking), for SQL over the history of tracking. Every bucket
// step computes its subscribers' share of it (survivalTallies,
// reportScan in report.go) from what it reads (crm.features and the
// history runs of crm.scores, keeping its subscribers' rows); the rank
// step and the commit add the shares up, reading no table for it.
//
// Sources and definitions:
//   - Survival: every subscriber of the register (its newest row), from
//     activation_date to status_date when deactivated (the event), else
//     censored at the export date of that row; months = days / 30.436875.
//     By plan and region of that row, by acquisition cohort (activation
//     year), and by segment for the customers of this run (scored and
//     recently lost: subscribers who left earlier have no segment).
//   - Transitions: the last transitionMonths feature months (the plan's
//     TransitionMonths); a customer's stage in a month is the run's rule
//     (lifecycle) on that row's status and tenure; the next month's stage
//     is "lost" when the register shows the deactivation by the end of
//     that month, "unknown" when the row is missing otherwise, and a
//     customer without a row the month before "joined".
//   - Value by tenure: every feature row (mean bill, mean minutes).
//   - Causes now: this run's top insight.AtRiskShare by probability; the
//     leading reason is reason 1 without its value (insight.CauseOf).
//   - Causes of leavers: each subscriber deactivated in a month, by the
//     reason 1 of its last crm.scores row scored before the deactivation
//     date (win-back rows aside), among the month-end runs (below).
//   - Tracking: the first run of each feature month (by the feature-month
//     bounds of crm.scores' data files, monthlyRuns; the first by
//     scored_at, then run id, among the runs that scored it), the
//     prediction made before the outcome was known, each customer's
//     outcome by the churn label (deactivated in the label horizon after
//     the feature month); complete once the register's newest export
//     covers the window.
//   - Drift: PSI per feature, each feature month against the one before.
//
// Memory: tracking and drift use a fixed hash sample of subscribers (each
// bucket its share of sampleTarget, bucketSampler; all when there are
// fewer), so their memory does not grow with the customer base; a bucket
// keeps one byte per subscriber and transition month; the commit holds the
// buckets' parts added up: counts, sums and the samples.

const transitionMonths = 7

// sampleTarget is how many subscribers tracking and drift sample (a
// variable for the tests).
var sampleTarget = 100_000

// driftFeatures are the crm.features columns whose drift is tracked.
var driftFeatures = []string{"voice_minutes", "voice_calls", "sms", "data_mb", "distinct_contacts", "care_calls",
	"offnet_share", "amount_due", "paid_ratio", "arrears", "voice_minutes_trend", "spend_trend", "tenure_months"}

// sampler keeps a fixed share of subscribers by a hash of their id.
type sampler struct{ per1e6 uint32 }

func newSampler(n int) sampler {
	if n <= sampleTarget {
		return sampler{1_000_000}
	}
	return sampler{uint32(int64(sampleTarget) * 1_000_000 / int64(n))}
}

func (s sampler) keep(id string) bool {
	if s.per1e6 >= 1_000_000 {
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	return h.Sum32()%1_000_000 < s.per1e6
}

// observe is a register row's survival observation; false for a register
// error (activation after the end).
func observe(p *person) (insight.Obs, bool) {
	end, left := p.export, false
	if p.status == "deactivated" {
		end, left = p.statusDate, true
	}
	d := float64(end - p.activation)
	if d < 0 {
		return insight.Obs{}, false
	}
	return insight.Obs{Time: d / insight.DaysPerMonth, Event: left}, true
}

// survivalTally is survival observations counted by grouping and group
// (insight.SurvivalGroupings: by → group → tally): additive across
// buckets, so the report's curves are the buckets' tallies added up.
type survivalTally map[string]map[string]insight.Tally

func (s survivalTally) add(by, group string, o insight.Obs) {
	g := s[by]
	if g == nil {
		g = map[string]insight.Tally{}
		s[by] = g
	}
	t := g[group]
	if t == nil {
		t = insight.Tally{}
		g[group] = t
	}
	_ = t.Add(o) // observe gives finite times ≥ 0
}

func (s survivalTally) merge(o survivalTally) {
	for by, groups := range o {
		for g, t := range groups {
			if s[by] == nil {
				s[by] = map[string]insight.Tally{}
			}
			if s[by][g] == nil {
				s[by][g] = insight.Tally{}
			}
			s[by][g].Merge(t)
		}
	}
}

// survivalTallies counts the survival observations of reg's subscribers
// (by plan, region and cohort) and of the run's customers cs (by segment),
// by subscriber bucket (all in bucket when bucket ≥ 0: reg and cs are that
// bucket's).
func survivalTallies(reg *register, cs []serving.Customer, bucket int) map[int]survivalTally {
	out := map[int]survivalTally{}
	of := func(id string) survivalTally {
		b := bucket
		if b < 0 {
			b = lake.SubscriberBucket(id)
		}
		t := out[b]
		if t == nil {
			t = survivalTally{}
			out[b] = t
		}
		return t
	}
	for id, p := range reg.people {
		o, ok := observe(p)
		if !ok {
			continue
		}
		t := of(id)
		t.add("plan", orUnknown(p.plan), o)
		t.add("region", orUnknown(p.region), o)
		t.add("cohort", strconv.Itoa(dayTime(p.activation).Year()), o)
	}
	for i := range cs {
		if p := reg.people[cs[i].SubscriberID]; p != nil {
			if o, ok := observe(p); ok {
				of(cs[i].SubscriberID).add("segment", orUnknown(cs[i].SegmentName), o)
			}
		}
	}
	return out
}

// survivalOf is the report's survival from every bucket's tallies added
// up: by plan, region and cohort every subscriber of the register, by
// segment the run's customers.
func survivalOf(rep *insight.Report, st survivalTally) error {
	n := 0
	for _, t := range st["plan"] {
		n += t.N()
	}
	if n == 0 {
		return nil
	}
	for _, by := range insight.SurvivalGroupings {
		if len(st[by]) == 0 {
			continue
		}
		sb, err := insight.SurvivalByGroupTally(by, st[by])
		if err != nil {
			return fmt.Errorf("scoring: survival by %s: %w", by, err)
		}
		rep.Survival = append(rep.Survival, sb)
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// stage codes of the transition pass: 0 no row, else index+1 in
// insight.FromStages (the stages of a feature row).
func stageCode(status string, tenure int32) uint8 {
	return uint8(slices.Index(insight.FromStages, lifecycle(status, tenure)) + 1)
}

// causeGroups are the groupings of the causes report.
var causeGroups = []string{"region", "plan", "segment"}

// causesNow reports the leading causes of this run's at-risk customers
// (atRisk: per causeGroups entry, their causes counted by group).
func causesNow(rep *insight.Report, th float64, atRisk []insight.ReasonCounts) {
	for g, by := range causeGroups {
		rep.Causes = append(rep.Causes, insight.CausesBy{By: by, Threshold: th, AtRisk: atRisk[g].Groups()})
	}
}

// lastScore is a leaver's last score before leaving.
type lastScore struct {
	at      int64 // scored_at, µs
	reason  string
	segment string
}

// monthlyRuns lists the runs of crm.scores that the score history reads,
// from the table's data files alone (partitions and column bounds, no
// rows): the first run of each feature month (what tracking holds to the
// outcome: a later run scores only who is still there) and the last run of
// each calendar month (the latest scores before a deactivation, for the
// causes of leavers), so the history read stays about two runs a month
// however often score runs.
func (r *Runner) monthlyRuns(ctx context.Context) ([]string, error) {
	files, err := r.runFiles(ctx)
	if err != nil {
		return nil, err
	}
	return chooseRuns(files), nil
}

// runFile is what one data file of crm.scores says about its run: the run
// (its partition) and the range of its rows' feature months (the file's
// column bounds, as epoch days; bounded false when the file has none).
type runFile struct {
	run     string
	lo, hi  int32
	bounded bool
}

// runFiles reads the run and the feature-month bounds of every live data
// file of crm.scores.
func (r *Runner) runFiles(ctx context.Context) ([]runFile, error) {
	tbl, err := r.Tables.LoadTable(ctx, lake.ScoresTable.Ident())
	if err != nil {
		return nil, fmt.Errorf("scoring: load scores: %w", err)
	}
	fmID := -1
	if f, ok := tbl.Schema().FindFieldByName("feature_month"); ok {
		fmID = f.ID
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("scoring: plan scores: %w", err)
	}
	var out []runFile
	runs := runPartition{meta: tbl.Metadata()}
	for _, t := range tasks {
		run, ok := runs.of(t.File)
		if !ok || len(run) < 6 {
			continue
		}
		f := runFile{run: run}
		lo, okLo := dateBound(t.File.LowerBoundValues(), fmID)
		hi, okHi := dateBound(t.File.UpperBoundValues(), fmID)
		if okLo && okHi && lo <= hi {
			f.lo, f.hi, f.bounded = lo, hi, true
		}
		out = append(out, f)
	}
	return out, nil
}

// runPartition reads the run of crm.scores' data files from their
// partitions: the value of the identity field named run of each file's
// spec (the subscriber bucket field beside it, in lakes made since it was
// added, holds an int32).
type runPartition struct {
	meta  table.Metadata
	field map[int32]int // spec id → partition field id of the run, -1 if none
}

// of is the run of data file f; ok is false when its spec has no run
// field or its partition no run.
func (rp *runPartition) of(f iceberg.DataFile) (run string, ok bool) {
	if rp.field == nil {
		rp.field = map[int32]int{}
	}
	sid := f.SpecID()
	fid, seen := rp.field[sid]
	if !seen {
		fid = -1
		if spec := rp.meta.PartitionSpecByID(int(sid)); spec != nil {
			for _, pf := range spec.Fields() {
				if _, id := pf.Transform.(iceberg.IdentityTransform); id && pf.Name == "run" {
					fid = pf.FieldID
				}
			}
		}
		rp.field[sid] = fid
	}
	run, ok = f.Partition()[fid].(string)
	return run, ok
}

// dateBound decodes a date column bound (Iceberg's single-value
// serialisation: days since the epoch, 4 bytes little-endian).
func dateBound(bounds map[int][]byte, id int) (int32, bool) {
	b, ok := bounds[id]
	if !ok || len(b) != 4 {
		return 0, false
	}
	return int32(binary.LittleEndian.Uint32(b)), true
}

// chooseRuns keeps, of the runs the files name, the first run of each
// feature month and the last run of each calendar month (run ids start
// with YYYYMM). A run's feature months are its files' bounds; in a
// calendar month with a run whose files lack them (written by other code)
// the month's first run is kept too, as before bounds were read: a run
// scores the newest feature month, so it is most often a first.
func chooseRuns(files []runFile) []string {
	firstOf, last, firstCal := map[int32]string{}, map[string]string{}, map[string]string{}
	months := map[string][]int32{}
	unbounded := map[string]bool{}
	for _, f := range files {
		if m := f.run[:6]; f.run > last[m] {
			last[m] = f.run
		}
		if !f.bounded {
			unbounded[f.run] = true
			continue
		}
		months[f.run] = append(months[f.run], f.lo, f.hi)
	}
	for run, ms := range months {
		if unbounded[run] {
			continue
		}
		for _, m := range ms {
			if f, ok := firstOf[m]; !ok || run < f {
				firstOf[m] = run
			}
		}
	}
	for run := range unbounded {
		firstCal[run[:6]] = run
	}
	for _, f := range files {
		if c, ok := firstCal[f.run[:6]]; ok && f.run < c {
			firstCal[f.run[:6]] = f.run
		}
	}
	keep := map[string]bool{}
	for _, run := range last {
		keep[run] = true
	}
	for _, run := range firstOf {
		keep[run] = true
	}
	for _, run := range firstCal {
		keep[run] = true
	}
	out := make([]string, 0, len(keep))
	for run := range keep {
		out = append(out, run)
	}
	slices.Sort(out)
	return out
}

// writeTracking replaces the run's rows of crm.model_tracking with the
// report's tracked runs, their deciles and the drift.
func (r *Runner) writeTracking(ctx context.Context, meta *serving.Meta, tr *insight.Tracking) error {
	n := len(tr.Drift)
	for _, rt := range tr.Runs {
		n += 1 + len(rt.Deciles)
	}
	if n == 0 {
		return nil
	}
	b, err := lake.NewRowBuilder(lake.ModelTrackingTable, n)
	if err != nil {
		return err
	}
	defer b.Release()
	month := func(name, ym string) {
		t, err := time.Parse("2006-01", ym)
		if err != nil {
			b.Null(name)
			return
		}
		b.Date(name, t)
	}
	day := func(name, d string) {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			b.Null(name)
			return
		}
		b.Date(name, t)
	}
	nulls := func(names ...string) {
		for _, n := range names {
			b.Null(n)
		}
	}
	row := func(kind string) {
		b.String("computed_run", meta.Run)
		b.Time("computed_at", meta.ScoredAt)
		b.String("kind", kind)
	}
	for _, rt := range tr.Runs {
		row("run")
		b.String("run", rt.Run)
		month("feature_month", rt.FeatureMonth)
		day("window_end", rt.WindowEnd)
		b.Bool("complete", rt.Complete)
		b.Null("decile")
		b.Int64("customers", int64(rt.Customers))
		b.Int64("leavers", int64(rt.Left))
		b.Float("mean_predicted", rt.MeanPredicted)
		b.Float("realised", rt.Realised)
		if rt.AUC != nil {
			b.Float("auc", *rt.AUC)
		} else {
			b.Null("auc")
		}
		nulls("feature", "from_month", "to_month", "psi", "level")
		for _, d := range rt.Deciles {
			row("decile")
			b.String("run", rt.Run)
			month("feature_month", rt.FeatureMonth)
			day("window_end", rt.WindowEnd)
			b.Bool("complete", rt.Complete)
			b.Int32("decile", int64(d.Decile))
			b.Int64("customers", int64(d.Customers))
			b.Int64("leavers", int64(math.Round(d.Realised*float64(d.Customers))))
			b.Float("mean_predicted", d.MeanPredicted)
			b.Float("realised", d.Realised)
			nulls("auc", "feature", "from_month", "to_month", "psi", "level")
		}
	}
	for _, d := range tr.Drift {
		row("drift")
		nulls("run", "feature_month", "window_end", "complete", "decile", "customers", "leavers", "mean_predicted", "realised", "auc")
		b.String("feature", d.Feature)
		month("from_month", d.From)
		month("to_month", d.To)
		b.Float("psi", d.PSI)
		b.String("level", d.Level)
	}
	rec := b.Record()
	defer rec.Release()
	if _, err := lake.ReplaceRows(ctx, r.Tables, lake.ModelTrackingTable,
		iceberg.EqualTo(iceberg.Reference("computed_run"), meta.Run), []arrow.RecordBatch{rec},
		iceberg.Properties{"telcolake.scoring.run": meta.Run}); err != nil {
		return fmt.Errorf("scoring: write crm.model_tracking: %w", err)
	}
	return nil
}
