package scoring

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/serving"
)

// The lifecycle report from the whole tables in one process, as the
// commit built it before the buckets' parts (report.go): the reference
// TestReportFromPartsEqualsWhole holds the parts to.

// wholeReport is the run's report as the commit built it before the
// buckets' parts (up to 3a3ee61's survival tallies): the whole register,
// every crm.features row and the chosen runs of crm.scores (after the
// run's commit) read in one process. Survival and the causes of the
// customers at risk now come from the rank step (got's, tested on their
// own); the sample is each bucket's share (bucketSampler), and a feature
// month's first run the earliest by scored_at, then run id, as the parts
// define them.
func (r *Runner) wholeReport(ctx context.Context, meta *serving.Meta, horizon int, got *insight.Report) (*insight.Report, error) {
	reg, err := loadLifecycleRegister(ctx, r.Tables)
	if err != nil {
		return nil, err
	}
	rep := &insight.Report{Run: meta.Run, DataEnd: dayString(reg.newest), Survival: got.Survival}
	counts := map[int]int{}
	for id := range reg.people {
		counts[lake.SubscriberBucket(id)]++
	}
	smp := wholeSampler{}
	for b, n := range counts {
		smp[b] = bucketSampler(n)
	}
	if err := r.featureInsight(ctx, rep, reg, smp); err != nil {
		return nil, err
	}
	for _, c := range got.Causes {
		rep.Causes = append(rep.Causes, insight.CausesBy{By: c.By, Threshold: c.Threshold, AtRisk: c.AtRisk})
	}
	if err := r.scoreHistory(ctx, rep, reg, horizon, smp); err != nil {
		return nil, err
	}
	return rep, nil
}

// wholeSampler is the buckets' samplers.
type wholeSampler map[int]sampler

func (w wholeSampler) keep(id string) bool { return w[lake.SubscriberBucket(id)].keep(id) }

// featureInsight reads crm.features once: the value curve from every row,
// the stages of the last transitionMonths months, and the sampled values
// of the drift features per month.
func (r *Runner) featureInsight(ctx context.Context, rep *insight.Report, reg *register, smp wholeSampler) error {
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
func (r *Runner) scoreHistory(ctx context.Context, rep *insight.Report, reg *register, horizon int, smp wholeSampler) error {
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
			if tr == nil || t < tr.at || (t == tr.at && run.Value(i) < tr.run) {
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
			scored[i] = insight.Scored{Prob: zeroNaN(tr.probs[i]), Left: left, Key: tieKey(id)}
		}
		rep.Tracking.Runs = append(rep.Tracking.Runs, insight.TrackRun(tr.run, dayTime(m).Format("2006-01"),
			dayString(until), reg.newest >= until, scored))
	}
	return nil
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

// loadLifecycleRegister is loadRegister of every subscriber with only what
// the lifecycle report reads (dates, status, plan, region; no personal
// columns), its categories shared: the commit reads the whole register,
// so a subscriber costs it a map entry and a small row.
func loadLifecycleRegister(ctx context.Context, tables lake.TableLoader) (*register, error) {
	reg := &register{people: map[string]*person{}}
	names := map[string]string{}
	intern := func(s string) string {
		if v, ok := names[s]; ok {
			return v
		}
		if len(names) < 1<<16 {
			names[s] = s
		}
		return s
	}
	newest, err := lake.ScanSubscribers(ctx, tables, lake.SubscriberScan{Lifecycle: true}, func(r *lake.SubscriberRow) error {
		p, ok := reg.people[r.ID]
		if ok && p.export >= r.ExportDate {
			return nil
		}
		if !ok {
			p = &person{}
			reg.people[r.ID] = p
		}
		*p = person{export: r.ExportDate, region: intern(r.Region), plan: intern(r.Plan), status: intern(r.Status),
			activation: r.Activation, statusDate: r.StatusDate}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scoring: %w", err)
	}
	reg.newest = newest
	return reg, nil
}
