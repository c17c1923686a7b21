package scoring

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/gob"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/serving"
)

// The lifecycle report from the buckets' parts. Every figure of the
// report but the survival curves (survivalTally, added up by the rank
// step) and the causes of the customers at risk now (counted by the rank
// step) comes from a reportPart per subscriber bucket, computed by the
// bucket step from its own subscribers and added up by the commit: the
// transitions are counts, the value curve exact sums, the drift samples
// of a fixed number of subscribers (the buckets' samples together are the
// run's sample), tracking the sampled customers of each month's first
// run with their outcome, the causes of leavers reason counts. So the
// commit reads no table for the report, and its time and memory do not
// grow with the customers (the samples are sampleTarget subscribers
// whatever the base). TestReportFromPartsEqualsWhole holds the report to
// the one the whole tables give in one process, byte for byte.

// reportPart is one subscriber bucket's share of the report. Its fields
// are exported for gob.
type reportPart struct {
	Bucket int
	// Newest is the register's newest export date (every bucket sees it).
	Newest int32
	// Curve is the value curve of the bucket's feature rows.
	Curve insight.ValueCurve
	// Moves counts the bucket's customers by stage in one of the plan's
	// transition months (the key) and the next one.
	Moves map[string]insight.MoveCounts
	// Drift is, per feature month with rows (epoch day), per
	// driftFeatures entry, the values of the bucket's sampled subscribers.
	Drift map[int32][][]float64
	// Track is, per feature month (epoch day), the first history run of
	// that month that scored the bucket's subscribers, with its sampled
	// customers.
	Track map[int32]*trackPart
	// Left counts the bucket's leavers by month of leaving ("2006-01"),
	// and how many of them were scored before leaving; Causes counts those
	// last scores' leading reasons, per causeGroups entry, by month.
	Left   map[string]*leftCount
	Causes []map[string]insight.ReasonCounts
}

// trackPart is the sampled customers of one run: their probabilities and
// whether each left in the run's label window.
type trackPart struct {
	Run   string
	At    int64 // scored_at, µs
	Probs []float64
	Left  []bool
	Keys  []uint64 // tieKey of each
}

// leftCount is the leavers of a month and the scored ones of them.
type leftCount struct{ Left, Scored int }

func newReportPart(bucket int, newest int32) *reportPart {
	rp := &reportPart{Bucket: bucket, Newest: newest, Moves: map[string]insight.MoveCounts{}, Drift: map[int32][][]float64{},
		Track: map[int32]*trackPart{}, Left: map[string]*leftCount{}, Causes: make([]map[string]insight.ReasonCounts, len(causeGroups))}
	for k := range rp.Causes {
		rp.Causes[k] = map[string]insight.ReasonCounts{}
	}
	return rp
}

// drift is the month's sampled values (created empty: the month has rows).
func (rp *reportPart) drift(month int32) [][]float64 {
	d := rp.Drift[month]
	if d == nil {
		d = make([][]float64, len(driftFeatures))
		rp.Drift[month] = d
	}
	return d
}

func (rp *reportPart) moves(month string) insight.MoveCounts {
	mc := rp.Moves[month]
	if mc == nil {
		mc = insight.NewMoveCounts()
		rp.Moves[month] = mc
	}
	return mc
}

// track is the trackPart of month's first run so far (by scored_at,
// then run id) after seeing run, which scored at: nil when run is not it.
func (rp *reportPart) track(month int32, run string, at int64) *trackPart {
	tp := rp.Track[month]
	if tp == nil || at < tp.At || (at == tp.At && run < tp.Run) {
		tp = &trackPart{Run: strings.Clone(run), At: at}
		rp.Track[month] = tp
	}
	if tp.At == at && tp.Run == run {
		return tp
	}
	return nil
}

// merge adds the counts, sums and samples of o.
func (rp *reportPart) merge(o *reportPart) {
	rp.Newest = max(rp.Newest, o.Newest)
	rp.Curve.Merge(o.Curve)
	for m, mc := range o.Moves {
		rp.moves(m).Merge(mc)
	}
	for m, vals := range o.Drift {
		d := rp.drift(m)
		for f := range min(len(d), len(vals)) {
			d[f] = append(d[f], vals[f]...)
		}
	}
	for m, tp := range o.Track {
		cur := rp.Track[m]
		switch {
		case cur == nil || tp.At < cur.At || (tp.At == cur.At && tp.Run < cur.Run):
			rp.Track[m] = &trackPart{Run: tp.Run, At: tp.At, Probs: slices.Clone(tp.Probs), Left: slices.Clone(tp.Left), Keys: slices.Clone(tp.Keys)}
		case tp.At == cur.At && tp.Run == cur.Run:
			cur.Probs = append(cur.Probs, tp.Probs...)
			cur.Left = append(cur.Left, tp.Left...)
			cur.Keys = append(cur.Keys, tp.Keys...)
		}
	}
	for m, lc := range o.Left {
		if rp.Left[m] == nil {
			rp.Left[m] = &leftCount{}
		}
		rp.Left[m].Left += lc.Left
		rp.Left[m].Scored += lc.Scored
	}
	for k := range min(len(rp.Causes), len(o.Causes)) {
		for m, rc := range o.Causes[k] {
			if rp.Causes[k][m] == nil {
				rp.Causes[k][m] = insight.ReasonCounts{}
			}
			rp.Causes[k][m].Merge(rc)
		}
	}
}

// tieKey orders a run's sampled customers of equal probability
// (insight.Scored.Key).
func tieKey(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// bucketSampler is the sampler of a bucket of n register rows: each
// bucket keeps its share of sampleTarget, so the buckets' samples add up
// to about sampleTarget subscribers (the buckets are of about one size).
func bucketSampler(n int) sampler { return newSampler(n * lake.SubscriberBuckets) }

// reportColumns are the crm.features columns the report's share reads.
var reportColumns = append([]string{"month", "subscriber_id", "status"}, driftFeatures...)

// newReportScan starts the report's parts of one bucket's subscribers
// (every bucket's, a part each, when bucket < 0): reg is their register
// rows. Its features take every crm.features row of theirs (the scan of
// loadHistory), its finish the run's customers among them.
func (r *Runner) newReportScan(p *Plan, reg *register, bucket int) (*reportScan, error) {
	bucketOf := func(id string) int {
		if bucket >= 0 {
			return bucket
		}
		return lake.SubscriberBucket(id)
	}
	keep := func(id string) bool { return bucket < 0 || lake.SubscriberBucket(id) == bucket }
	out := map[int]*reportPart{}
	if bucket >= 0 {
		out[bucket] = newReportPart(bucket, reg.newest)
	} else {
		for b := range lake.SubscriberBuckets {
			out[b] = newReportPart(b, reg.newest)
		}
	}
	counts := map[int]int{}
	for id := range reg.people {
		counts[bucketOf(id)]++
	}
	samplers := map[int]sampler{}
	for b := range out {
		samplers[b] = bucketSampler(counts[b])
	}
	rs := &reportScan{r: r, p: p, reg: reg, bucket: bucket, keep: keep, bucketOf: bucketOf, parts: out, samplers: samplers,
		monthIndex: map[int32]int{}, stages: map[string][]uint8{}}
	for i, m := range p.TransitionMonths {
		t, err := time.Parse("2006-01", m)
		if err != nil {
			return nil, fmt.Errorf("scoring: plan's transition month %q: %w", m, err)
		}
		rs.monthIndex[epochDay(t)] = i
	}
	return rs, nil
}

// reportScan is a bucket's report parts as they are counted.
type reportScan struct {
	r        *Runner
	p        *Plan
	reg      *register
	bucket   int // the one bucket, or -1: every bucket
	keep     func(string) bool
	bucketOf func(string) int
	parts    map[int]*reportPart
	samplers map[int]sampler
	// monthIndex is the index of each transition month (epoch day) in
	// the plan's; stages each subscriber's stage code in them (0: no row).
	monthIndex map[int32]int
	stages     map[string][]uint8
	// scores is what history read of crm.scores.
	scores lake.ScanCost
}

// finish counts the transitions and reads the history runs (cs: the run's
// customers among the subscribers) and answers the parts.
func (rs *reportScan) finish(ctx context.Context, cs []serving.Customer) (map[int]*reportPart, error) {
	if err := rs.moves(); err != nil {
		return nil, err
	}
	if err := rs.history(ctx, cs); err != nil {
		return nil, err
	}
	return rs.parts, nil
}

// features takes one batch of crm.features rows (reportColumns at least,
// any month) of the subscribers kept: the value curve from every row, the
// stages of the plan's transition months, and the sampled values of the
// drift features.
func (rs *reportScan) features(c *lake.Batch) error {
	tenureK, dueK, minK := slices.Index(driftFeatures, "tenure_months"), slices.Index(driftFeatures, "amount_due"), slices.Index(driftFeatures, "voice_minutes")
	month, ids, status := c.Date("month"), c.String("subscriber_id"), c.String("status")
	vals := make([]func(int) float64, len(driftFeatures))
	for k, f := range driftFeatures {
		vals[k] = c.Number(f).Value
	}
	if err := c.Err(); err != nil {
		return fmt.Errorf("scoring: %w", err)
	}
	for i := range c.Len() {
		id := ids.Value(i)
		if !rs.keep(id) {
			continue
		}
		b := rs.bucketOf(id)
		rp := rs.parts[b]
		m := month.Value(i)
		tenure := vals[tenureK](i)
		rp.Curve.Add(int(zeroNaN(tenure)), vals[dueK](i), vals[minK](i))
		if k, ok := rs.monthIndex[m]; ok {
			st := rs.stages[id]
			if st == nil {
				st = make([]uint8, len(rs.p.TransitionMonths))
				rs.stages[strings.Clone(id)] = st
			}
			st[k] = stageCode(status.Value(i), int32(zeroNaN(tenure)))
		}
		d := rp.drift(m)
		if rs.samplers[b].keep(id) {
			for k := range driftFeatures {
				d[k] = append(d[k], vals[k](i))
			}
		}
	}
	return nil
}

// moves counts the transitions between consecutive transition months.
func (rs *reportScan) moves() error {
	months := rs.p.TransitionMonths
	for k := 1; k < len(months); k++ {
		cur, err := time.Parse("2006-01", months[k])
		if err != nil {
			return fmt.Errorf("scoring: plan's transition month %q: %w", months[k], err)
		}
		endCur := epochDay(cur.AddDate(0, 1, -1))
		for _, rp := range rs.parts {
			rp.moves(months[k-1])
		}
		for id, st := range rs.stages {
			s, t := st[k-1], st[k]
			mc := rs.parts[rs.bucketOf(id)].moves(months[k-1])
			switch {
			case s == 0 && t == 0:
			case s == 0:
				mc.Add("joined", insight.FromStages[t-1])
			case t != 0:
				mc.Add(insight.FromStages[s-1], insight.FromStages[t-1])
			default:
				to := "unknown"
				if p := rs.reg.people[id]; p != nil && p.status == "deactivated" && p.statusDate <= endCur {
					to = "lost"
				}
				mc.Add(insight.FromStages[s-1], to)
			}
		}
	}
	rs.stages = nil
	return nil
}

// history reads the plan's history runs of crm.scores (this run's rows
// from cs, as they will be written) for the subscribers kept: each
// leaver's last score before leaving (the causes of leavers) and the
// sampled customers of each feature month's first run (tracking).
func (rs *reportScan) history(ctx context.Context, cs []serving.Customer) error {
	p := rs.p
	if len(p.HistoryRuns) == 0 {
		return nil
	}
	horizon := p.Value.LabelHorizonMonths
	last := map[string]*lastScore{}
	type seen struct {
		run    string
		at     int64
		month  int32
		ids    []string
		probs  []float64
		bucket int
	}
	first := map[[2]int32]*seen{} // (bucket, feature month) → the month's first run so far
	// latest says whether a score at t is a leaver's latest before leaving
	// so far.
	latest := func(id string, t int64) bool {
		ps := rs.reg.people[id]
		if ps == nil || ps.status != "deactivated" || t >= int64(ps.statusDate)*86400*1_000_000 {
			return false
		}
		ls := last[id]
		return ls == nil || ls.at < t
	}
	sample := func(id, run string, t int64, m int32, prob float64) {
		b := rs.bucketOf(id)
		key := [2]int32{int32(b), m}
		f := first[key]
		if f == nil || t < f.at || (t == f.at && run < f.run) {
			f = &seen{run: strings.Clone(run), at: t, month: m, bucket: b}
			first[key] = f
		}
		if f.at == t && f.run == run && rs.samplers[b].keep(id) {
			f.ids = append(f.ids, strings.Clone(id))
			f.probs = append(f.probs, zeroNaN(prob))
		}
	}
	var past []string
	for _, run := range p.HistoryRuns {
		if run != p.Run {
			past = append(past, run)
		}
	}
	if len(past) > 0 {
		cols := []string{"run", "scored_at", "feature_month", "subscriber_id", "churn_probability", "reason_1", "segment_name", "lifecycle"}
		opts := []lake.ScanOption{lake.Select(cols...), lake.Where(iceberg.IsIn(iceberg.Reference("run"), past...)), lake.CountInto(&rs.scores)}
		if rs.bucket >= 0 {
			// A score bucket reads its own files of the history runs
			// (lake.InBucket), not the runs whole.
			opts = append(opts, lake.InBucket(rs.bucket))
		}
		for c, err := range lake.Scan(ctx, rs.r.Tables, lake.ScoresTable, opts...) {
			if err != nil {
				return fmt.Errorf("scoring: %w", err)
			}
			run, ids, reason, seg, life := c.String("run"), c.String("subscriber_id"), c.String("reason_1"), c.String("segment_name"), c.String("lifecycle")
			fm, prob, at := c.Date("feature_month"), c.Number("churn_probability"), c.Time("scored_at")
			if err := c.Err(); err != nil {
				return fmt.Errorf("scoring: %w", err)
			}
			for i := range c.Len() {
				id := ids.Value(i)
				if life.Value(i) == lifecycleLost || !rs.keep(id) {
					continue
				}
				t := at.Micros(i)
				if latest(id, t) {
					last[strings.Clone(id)] = &lastScore{at: t, reason: value(reason, i), segment: value(seg, i)}
				}
				sample(id, run.Value(i), t, fm.Value(i), prob.Value(i))
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	if slices.Contains(p.HistoryRuns, p.Run) {
		month, err := time.Parse("2006-01", p.FeatureMonth)
		if err != nil {
			return fmt.Errorf("scoring: plan's feature month %q: %w", p.FeatureMonth, err)
		}
		// This run's rows as crm.scores will hold them: scoreRow of the
		// customers as the shard steps read them from the serving pieces
		// (probabilities in the snapshot's fixed point).
		at, fm := p.ScoredAt.UnixMicro(), epochDay(month)
		for i := range cs {
			c := &cs[i]
			if c.Lifecycle == lifecycleLost || !rs.keep(c.SubscriberID) {
				continue
			}
			if latest(c.SubscriberID, at) {
				reason := ""
				if len(c.Reasons) > 0 {
					reason = c.Reasons[0]
				}
				last[c.SubscriberID] = &lastScore{at: at, reason: reason, segment: c.SegmentName}
			}
			sample(c.SubscriberID, p.Run, at, fm, serving.ServedProbability(zeroNaN(c.Probability)))
		}
	}
	for _, f := range first {
		end := epochDay(dayTime(f.month).AddDate(0, 1, -1))
		until := epochDay(dayTime(f.month).AddDate(0, 1+horizon, -1))
		// A run that scored the bucket's subscribers, none of them
		// sampled, is still the month's first run here.
		tp := rs.parts[f.bucket].track(f.month, f.run, f.at)
		if tp == nil {
			continue
		}
		for i, id := range f.ids {
			ps := rs.reg.people[id]
			tp.Probs = append(tp.Probs, f.probs[i])
			tp.Left = append(tp.Left, ps != nil && ps.status == "deactivated" && ps.statusDate > end && ps.statusDate <= until)
			tp.Keys = append(tp.Keys, tieKey(id))
		}
	}
	for id, ps := range rs.reg.people {
		if ps.status != "deactivated" || !rs.keep(id) {
			continue
		}
		rp := rs.parts[rs.bucketOf(id)]
		month := dayTime(ps.statusDate).Format("2006-01")
		lc := rp.Left[month]
		if lc == nil {
			lc = &leftCount{}
			rp.Left[month] = lc
		}
		lc.Left++
		ls := last[id]
		if ls == nil {
			continue
		}
		lc.Scored++
		for k, by := range causeGroups {
			g := ls.segment
			switch by {
			case "region":
				g = ps.region
			case "plan":
				g = ps.plan
			}
			rc := rp.Causes[k][month]
			if rc == nil {
				rc = insight.ReasonCounts{}
				rp.Causes[k][month] = rc
			}
			rc.Add(orUnknown(g), insight.CauseOf(ls.reason))
		}
	}
	return nil
}

// ReportKey is where a bucket's report part is kept until the commit.
func ReportKey(run string, bucket int) string {
	return path.Join("parts", run, fmt.Sprintf("bucket-%02d.report.gob.gz", bucket))
}

// putReportPart stores a bucket's report part and says its size.
func (r *Runner) putReportPart(ctx context.Context, run string, rp *reportPart) (int64, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := gob.NewEncoder(zw).Encode(rp); err != nil {
		return 0, fmt.Errorf("scoring: encode bucket %d's report: %w", rp.Bucket, err)
	}
	if err := zw.Close(); err != nil {
		return 0, fmt.Errorf("scoring: encode bucket %d's report: %w", rp.Bucket, err)
	}
	if err := r.Serving.Put(ctx, ReportKey(run, rp.Bucket), buf.Bytes()); err != nil {
		return 0, fmt.Errorf("scoring: store bucket %d's report: %w", rp.Bucket, err)
	}
	return int64(buf.Len()), nil
}

// readReportPart reads a bucket's report part.
func (r *Runner) readReportPart(ctx context.Context, run string, bucket int) (*reportPart, error) {
	body, err := r.Serving.Get(ctx, ReportKey(run, bucket))
	if err != nil {
		return nil, fmt.Errorf("scoring: read bucket %d's report: %w", bucket, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("scoring: read bucket %d's report: %w", bucket, err)
	}
	rp := &reportPart{}
	if err := gob.NewDecoder(zr).Decode(rp); err != nil {
		return nil, fmt.Errorf("scoring: decode bucket %d's report: %w", bucket, err)
	}
	if rp.Bucket != bucket {
		return nil, fmt.Errorf("scoring: bucket %d's report holds bucket %d", bucket, rp.Bucket)
	}
	return rp, nil
}

// reportOf is the run's report from every bucket's part (read one at a
// time and added up), the survival tallies and the at-risk causes of the
// rank step (st, th, atRisk: see insightReport).
func (r *Runner) reportOf(ctx context.Context, p *Plan, parts []Part, st survivalTally, th float64, atRisk []insight.ReasonCounts) (*insight.Report, error) {
	merged := newReportPart(-1, 0)
	for _, pt := range parts {
		rp, err := r.readReportPart(ctx, p.Run, pt.Bucket)
		if err != nil {
			return nil, err
		}
		merged.merge(rp)
	}
	return reportFrom(p, merged, st, th, atRisk)
}

// reportFrom builds the report from the buckets' parts added up.
func reportFrom(p *Plan, rp *reportPart, st survivalTally, th float64, atRisk []insight.ReasonCounts) (*insight.Report, error) {
	rep := &insight.Report{Run: p.Run, DataEnd: dayString(rp.Newest)}
	if err := survivalOf(rep, st); err != nil {
		return nil, err
	}
	rep.ValueCurve = rp.Curve.Values()
	ms := slices.Sorted(maps.Keys(rp.Drift))
	for k := 1; k < len(ms); k++ {
		prev, cur := rp.Drift[ms[k-1]], rp.Drift[ms[k]]
		from, to := dayTime(ms[k-1]).Format("2006-01"), dayTime(ms[k]).Format("2006-01")
		for f, name := range driftFeatures {
			psi, err := insight.PSI(prev[f], cur[f])
			if err != nil {
				continue // a feature without values in one of the months
			}
			rep.Tracking.Drift = append(rep.Tracking.Drift, insight.FeatureDrift{
				Feature: name, From: from, To: to, PSI: math.Round(psi*1e4) / 1e4, Level: insight.Level(psi)})
		}
	}
	for k := 1; k < len(p.TransitionMonths); k++ {
		from, to := p.TransitionMonths[k-1], p.TransitionMonths[k]
		mc := rp.Moves[from]
		if mc == nil {
			mc = insight.NewMoveCounts()
		}
		rep.Transitions = append(rep.Transitions, insight.TransitionsOf(from, to, mc))
	}
	rep.Tracking.Moderate, rep.Tracking.Significant = insight.PSIModerate, insight.PSISignificant
	causesNow(rep, th, atRisk)
	if len(p.HistoryRuns) == 0 {
		return rep, nil
	}
	months := slices.Sorted(maps.Keys(rp.Left))
	for k := range causeGroups {
		for _, m := range months {
			lc := rp.Left[m]
			if lc.Scored == 0 {
				continue // left before any run: nothing to say why
			}
			rc := rp.Causes[k][m]
			if rc == nil {
				rc = insight.ReasonCounts{}
			}
			rep.Causes[k].Left = append(rep.Causes[k].Left, insight.LeftMonth{Month: m, Left: lc.Left, Scored: lc.Scored, Groups: rc.Groups()})
		}
	}
	horizon := p.Value.LabelHorizonMonths
	for _, m := range slices.Sorted(maps.Keys(rp.Track)) {
		tp := rp.Track[m]
		until := epochDay(dayTime(m).AddDate(0, 1+horizon, -1))
		scored := make([]insight.Scored, len(tp.Probs))
		for i := range scored {
			scored[i] = insight.Scored{Prob: tp.Probs[i], Left: tp.Left[i], Key: tp.Keys[i]}
		}
		rep.Tracking.Runs = append(rep.Tracking.Runs, insight.TrackRun(tp.Run, dayTime(m).Format("2006-01"),
			dayString(until), rp.Newest >= until, scored))
	}
	return rep, nil
}
