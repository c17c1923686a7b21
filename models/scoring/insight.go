package scoring

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/serving"
)

// The lifecycle, causes and tracking report (insight.Report) of a run,
// built after the run's rows are in crm.scores and carried in the
// snapshot's meta. Tracking is a step of the score function, not of train
// or a function of its own: it needs the register's newest export (what
// happened since each past run), every past run of crm.scores, and the
// feature months, which score already reads; and its answer belongs with
// the snapshot the API serves. Its rows also go to crm.model_tracking
// (writeTracking), for SQL over the history of tracking. It is cheap next to scoring (one pass over
// each table, bounded memory below).
//
// Sources and definitions:
//   - Survival: every subscriber of the register (its newest row), from
//     activation_date to status_date when deactivated (the event), else
//     censored at the export date of that row; months = days / 30.436875.
//     By plan and region of that row, by acquisition cohort (activation
//     year), and by segment for the customers of this run (scored and
//     recently lost: subscribers who left earlier have no segment).
//   - Transitions: the last transitionMonths feature months; a customer's
//     stage in a month is the run's rule (lifecycle) on that row's status
//     and tenure; the next month's stage is "lost" when the register shows
//     the deactivation by the end of that month, "unknown" when the row is
//     missing otherwise, and a customer without a row the month before
//     "joined".
//   - Value by tenure: every feature row (mean bill, mean minutes).
//   - Causes now: this run's top insight.AtRiskShare by probability; the
//     leading reason is reason 1 without its value (insight.CauseOf).
//   - Causes of leavers: each subscriber deactivated in a month, by the
//     reason 1 of its last crm.scores row scored before the deactivation
//     date (win-back rows aside), among the month-end runs (below).
//   - Tracking: the first run of each feature month (by the feature-month
//     bounds of crm.scores' data files, monthlyRuns), the
//     prediction made before the outcome was known, each customer's
//     outcome by the churn label (deactivated in the label horizon after
//     the feature month); complete once the register's newest export
//     covers the window.
//   - Drift: PSI per feature, each feature month against the one before.
//
// Memory: tracking and drift use a fixed hash sample of subscribers
// (sampleTarget of them, all when there are fewer), so their memory does
// not grow with the customer base; transitions keep one byte per
// subscriber and month; leavers one row each.

const (
	transitionMonths = 7
	sampleTarget     = 100_000
)

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

// insightReport builds the run's report (see above).
//
// st is the survival observations counted by every bucket and added up
// by the rank step (survivalTallies), th is the at-risk threshold (insight.TopShareThreshold of the run's live
// customers' probabilities) and atRisk the at-risk customers' causes
// counted by group per causeGroups entry: what the rank step computes
// from the buckets' rank rows.
func (r *Runner) insightReport(ctx context.Context, meta *serving.Meta, horizon int, st survivalTally,
	th float64, atRisk []insight.ReasonCounts) (*insight.Report, error) {
	reg, err := loadLifecycleRegister(ctx, r.Tables)
	if err != nil {
		return nil, err
	}
	rep := &insight.Report{Run: meta.Run, DataEnd: dayString(reg.newest)}
	smp := newSampler(len(reg.people))
	if err := survivalOf(rep, st); err != nil {
		return nil, err
	}
	if err := r.featureInsight(ctx, rep, reg, smp); err != nil {
		return nil, err
	}
	causesNow(rep, th, atRisk)
	if err := r.scoreHistory(ctx, rep, reg, horizon, smp); err != nil {
		return nil, err
	}
	return rep, nil
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

// featureInsight reads crm.features once: the value curve from every row,
// the stages of the last transitionMonths months, and the sampled values
// of the drift features per month.
func (r *Runner) featureInsight(ctx context.Context, rep *insight.Report, reg *register, smp sampler) error {
	cols := append([]string{"month", "subscriber_id", "status"}, driftFeatures...)
	var curve insight.ValueCurve
	type monthRows struct {
		stages []uint8     // by subscriber index (idx); 0: no row
		drift  [][]float64 // per driftFeatures, sampled
	}
	months := map[int32]*monthRows{}
	idx := map[string]int32{} // subscriber id → index, one entry each
	var names []string
	for c, err := range lake.Scan(ctx, r.Tables, lake.FeaturesTable, lake.Select(cols...)) {
		if err != nil {
			return fmt.Errorf("scoring: %w", err)
		}
		month, ids, status := c.Date("month"), c.String("subscriber_id"), c.String("status")
		vals := make([]func(int) float64, len(driftFeatures))
		for k, f := range driftFeatures {
			vals[k] = c.Number(f).Value
		}
		if err := c.Err(); err != nil {
			return fmt.Errorf("scoring: %w", err)
		}
		tenureK, dueK, minK := slices.Index(driftFeatures, "tenure_months"), slices.Index(driftFeatures, "amount_due"), slices.Index(driftFeatures, "voice_minutes")
		for i := range c.Len() {
			m := month.Value(i)
			mr := months[m]
			if mr == nil {
				mr = &monthRows{stages: []uint8{}, drift: make([][]float64, len(driftFeatures))}
				months[m] = mr
			}
			tenure := vals[tenureK](i)
			curve.Add(int(zeroNaN(tenure)), vals[dueK](i), vals[minK](i))
			id := ids.Value(i)
			k, ok := idx[id]
			if !ok {
				k = int32(len(names))
				names = append(names, strings.Clone(id))
				idx[names[k]] = k
			}
			if mr.stages != nil {
				for int(k) >= len(mr.stages) {
					mr.stages = append(mr.stages, 0)
				}
				mr.stages[k] = stageCode(status.Value(i), int32(zeroNaN(tenure)))
			}
			if smp.keep(id) {
				for k := range driftFeatures {
					mr.drift[k] = append(mr.drift[k], vals[k](i))
				}
			}
		}
		// Only the newest transitionMonths months keep their stages.
		if len(months) > transitionMonths {
			var ms []int32
			for m := range months {
				ms = append(ms, m)
			}
			slices.Sort(ms)
			for _, m := range ms[:len(ms)-transitionMonths] {
				months[m].stages = nil
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	rep.ValueCurve = curve.Values()
	var ms []int32
	for m := range months {
		ms = append(ms, m)
	}
	slices.Sort(ms)
	for k := 1; k < len(ms); k++ {
		prev, cur := months[ms[k-1]], months[ms[k]]
		from, to := dayTime(ms[k-1]).Format("2006-01"), dayTime(ms[k]).Format("2006-01")
		for f, name := range driftFeatures {
			psi, err := insight.PSI(prev.drift[f], cur.drift[f])
			if err != nil {
				continue // a feature without values in one of the months
			}
			rep.Tracking.Drift = append(rep.Tracking.Drift, insight.FeatureDrift{
				Feature: name, From: from, To: to, PSI: math.Round(psi*1e4) / 1e4, Level: insight.Level(psi)})
		}
		if prev.stages == nil || cur.stages == nil {
			continue
		}
		endCur := epochDay(dayTime(ms[k]).AddDate(0, 1, -1))
		at := func(st []uint8, k int) uint8 {
			if k < len(st) {
				return st[k]
			}
			return 0
		}
		var moves []insight.Move
		for k := range names {
			s, t := at(prev.stages, k), at(cur.stages, k)
			switch {
			case s == 0 && t == 0:
			case s == 0:
				moves = append(moves, insight.Move{From: "joined", To: insight.FromStages[t-1]})
			case t != 0:
				moves = append(moves, insight.Move{From: insight.FromStages[s-1], To: insight.FromStages[t-1]})
			default:
				to := "unknown"
				if p := reg.people[names[k]]; p != nil && p.status == "deactivated" && p.statusDate <= endCur {
					to = "lost"
				}
				moves = append(moves, insight.Move{From: insight.FromStages[s-1], To: to})
			}
		}
		rep.Transitions = append(rep.Transitions, insight.Transitions(from, to, moves))
	}
	rep.Tracking.Moderate, rep.Tracking.Significant = insight.PSIModerate, insight.PSISignificant
	return nil
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

// trackRun is the sampled rows of the earliest run seen for a feature
// month: a later run of the same month scores only who is still there
// (the leavers are gone or lost), so it would track no leaver at all.
type trackRun struct {
	run   string
	at    int64
	month int32
	ids   []string
	probs []float64
}

// scoreHistory reads crm.scores once: leavers' last scores (causes of
// leavers) and the earliest run of each feature month (tracking).
func (r *Runner) scoreHistory(ctx context.Context, rep *insight.Report, reg *register, horizon int, smp sampler) error {
	chosen, err := r.monthlyRuns(ctx)
	if err != nil {
		return err
	}
	if len(chosen) == 0 {
		return nil
	}
	cols := []string{"run", "scored_at", "feature_month", "subscriber_id", "churn_probability", "reason_1", "segment_name", "lifecycle"}
	last := map[string]*lastScore{}
	runs := map[int32]*trackRun{}
	runFilter := lake.Where(iceberg.IsIn(iceberg.Reference("run"), chosen...))
	for c, err := range lake.Scan(ctx, r.Tables, lake.ScoresTable, lake.Select(cols...), runFilter) {
		if err != nil {
			return fmt.Errorf("scoring: %w", err)
		}
		run, ids, reason, seg, life := c.String("run"), c.String("subscriber_id"), c.String("reason_1"), c.String("segment_name"), c.String("lifecycle")
		fm, prob, at := c.Date("feature_month"), c.Number("churn_probability"), c.Time("scored_at")
		if err := c.Err(); err != nil {
			return fmt.Errorf("scoring: %w", err)
		}
		for i := range c.Len() {
			if life.Value(i) == lifecycleLost {
				continue
			}
			id := ids.Value(i)
			t := at.Micros(i)
			if p := reg.people[id]; p != nil && p.status == "deactivated" {
				leftAt := int64(p.statusDate) * 86400 * 1_000_000
				if t < leftAt {
					if ls := last[id]; ls == nil || ls.at < t {
						last[strings.Clone(id)] = &lastScore{at: t, reason: value(reason, i), segment: value(seg, i)}
					}
				}
			}
			m := fm.Value(i)
			tr := runs[m]
			if tr == nil || t < tr.at {
				tr = &trackRun{run: strings.Clone(run.Value(i)), at: t, month: m}
				runs[m] = tr
			}
			if tr.at == t && tr.run == run.Value(i) && smp.keep(id) {
				tr.ids = append(tr.ids, strings.Clone(id))
				tr.probs = append(tr.probs, prob.Value(i))
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	causesOfLeavers(rep, reg, last)

	var ms []int32
	for m := range runs {
		ms = append(ms, m)
	}
	slices.Sort(ms)
	for _, m := range ms {
		tr := runs[m]
		end := epochDay(dayTime(m).AddDate(0, 1, -1))
		until := epochDay(dayTime(m).AddDate(0, 1+horizon, -1))
		scored := make([]insight.Scored, len(tr.ids))
		for i, id := range tr.ids {
			left := false
			if p := reg.people[id]; p != nil && p.status == "deactivated" && p.statusDate > end && p.statusDate <= until {
				left = true
			}
			scored[i] = insight.Scored{Prob: zeroNaN(tr.probs[i]), Left: left}
		}
		rep.Tracking.Runs = append(rep.Tracking.Runs, insight.TrackRun(tr.run, dayTime(m).Format("2006-01"),
			dayString(until), reg.newest >= until, scored))
	}
	return nil
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
	for _, t := range tasks {
		for _, v := range t.File.Partition() {
			run, ok := v.(string)
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
	}
	return out, nil
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

// causesOfLeavers counts, month by month, the leading reason of each
// leaver's last score before leaving.
func causesOfLeavers(rep *insight.Report, reg *register, last map[string]*lastScore) {
	type leaver struct {
		id    string
		month string
	}
	var leavers []leaver
	for id, p := range reg.people {
		if p.status == "deactivated" {
			leavers = append(leavers, leaver{id, dayTime(p.statusDate).Format("2006-01")})
		}
	}
	slices.SortFunc(leavers, func(a, b leaver) int { return strings.Compare(a.id, b.id) })
	for k, by := range causeGroups {
		byMonth := map[string]*insight.LeftMonth{}
		items := map[string][]insight.Reasoned{}
		for _, l := range leavers {
			lm := byMonth[l.month]
			if lm == nil {
				lm = &insight.LeftMonth{Month: l.month}
				byMonth[l.month] = lm
			}
			lm.Left++
			ls := last[l.id]
			if ls == nil {
				continue
			}
			lm.Scored++
			p := reg.people[l.id]
			g := ls.segment
			switch by {
			case "region":
				g = p.region
			case "plan":
				g = p.plan
			}
			items[l.month] = append(items[l.month], insight.Reasoned{Group: orUnknown(g), Reason: insight.CauseOf(ls.reason)})
		}
		var months []string
		for m := range byMonth {
			months = append(months, m)
		}
		slices.Sort(months)
		for _, m := range months {
			lm := byMonth[m]
			if lm.Scored == 0 {
				continue // left before any run: nothing to say why
			}
			lm.Groups = insight.CountReasons(items[m])
			rep.Causes[k].Left = append(rep.Causes[k].Left, *lm)
		}
	}
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
