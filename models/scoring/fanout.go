package scoring

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/gob"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/churn"
	"github.com/telcolake/telcolake/models/features"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/segment"
	"github.com/telcolake/telcolake/models/serving"
)

// The fan-out scoring run (the DailyScore state machine of the template)
// splits a run in three steps, each one invocation of the score function:
//
//   - plan: the run's id and clock, the promoted models' versions, the
//     label horizon, the value model and the feature month (building the
//     missing feature months first, as Run does), and one bucket task per
//     subscriber bucket (lake.SubscriberBucket).
//   - bucket: everything per customer for the subscribers of one bucket:
//     their feature rows, register rows and history (features.LoadBucket
//     and the same filters on the register and history), churn
//     probability, reasons, segment, monthly value, cost, profit, CLV and
//     value at risk. The part is written to the serving store as one
//     gzipped gob under parts/<run>/ (Step Functions passes at most 256 KB
//     between states, so only its key and counts travel).
//   - commit: reads the parts (not the tables), merges them by id and
//     computes what needs every customer: value tiers by CLV rank, the
//     lists' top k, the segments' figures, the tier migration; the
//     lifecycle report reads the register and the score history as in
//     Run; then one crm.scores commit and one serving snapshot, and the
//     parts are removed.
//
// Run is the same three steps in one process with one part of every
// subscriber, so the rows, lists and snapshot of the two are equal (the
// commit sorts by id before anything is ranked or summed; tested by
// TestFanOutEqualsRun).

// Plan is what every step of a run shares.
type Plan struct {
	Run          string    `json:"run"`
	ScoredAt     time.Time `json:"scored_at"`
	FeatureMonth string    `json:"feature_month"`
	ChurnModel   string    `json:"churn_model"`
	SegmentModel string    `json:"segment_model"`
	// UpliftModel is the promoted uplift model's version, "" without one.
	UpliftModel string `json:"uplift_model,omitempty"`
	// BadDebtModel is the promoted bad-debt model, "" without one (then
	// every bad-debt probability is 0); BadDebtHorizon its label's months.
	BadDebtModel   string             `json:"bad_debt_model,omitempty"`
	BadDebtHorizon int                `json:"bad_debt_horizon_months,omitempty"`
	Value          serving.ValueModel `json:"value_model"`
	ListSize       int                `json:"list_size"`
}

// Task is the score function's event. Action "" is a whole run in one
// process (the schedule's plain invocation, and `telcolake invoke score`);
// "plan", "bucket" and "commit" are the DailyScore state machine's steps.
type Task struct {
	Action   string             `json:"action"`
	ListSize int                `json:"list_size,omitempty"` // plan, whole run
	Costs    *serving.CostModel `json:"costs,omitempty"`     // plan, whole run; nil: the defaults
	Plan     *Plan              `json:"plan,omitempty"`      // bucket, commit
	Bucket   int                `json:"bucket"`              // bucket
	Parts    []Part             `json:"parts,omitempty"`     // commit: the Map state's output
}

// Planned is the plan action's answer: the plan and the Map's items.
type Planned struct {
	Plan    *Plan                  `json:"plan"`
	Buckets []Task                 `json:"buckets"`
	Built   []features.MonthResult `json:"feature_months_built,omitempty"`
}

// Part is a bucket action's answer: where its customers are.
type Part struct {
	Bucket    int     `json:"bucket"`
	Key       string  `json:"key"` // in the serving store
	Customers int     `json:"customers"`
	Scored    int     `json:"scored"`
	Seconds   float64 `json:"seconds"`
}

// Handle runs one task: a *Result (whole run, commit), a *Planned (plan)
// or a *Part (bucket).
func (r *Runner) Handle(ctx context.Context, t Task) (any, error) {
	opt := Options{ListSize: t.ListSize, Costs: t.Costs}
	switch t.Action {
	case "":
		return r.Run(ctx, opt)
	case "plan":
		p, built, err := r.Plan(ctx, opt)
		if err != nil {
			return nil, err
		}
		out := &Planned{Plan: p, Built: built}
		for k := range lake.SubscriberBuckets {
			out.Buckets = append(out.Buckets, Task{Action: "bucket", Plan: p, Bucket: k})
		}
		return out, nil
	case "bucket":
		if t.Plan == nil {
			return nil, fmt.Errorf("scoring: bucket task without a plan")
		}
		if t.Bucket < 0 || t.Bucket >= lake.SubscriberBuckets {
			return nil, fmt.Errorf("scoring: bucket %d is not in [0, %d)", t.Bucket, lake.SubscriberBuckets)
		}
		return r.ScoreBucket(ctx, t.Plan, t.Bucket)
	case "commit":
		if t.Plan == nil {
			return nil, fmt.Errorf("scoring: commit task without a plan")
		}
		return r.Commit(ctx, t.Plan, t.Parts)
	}
	return nil, fmt.Errorf("scoring: task action %q: want plan, bucket, commit or none", t.Action)
}

// Plan fixes a run: its id and clock, the promoted models, the value model
// and the feature month, building the missing feature months first.
func (r *Runner) Plan(ctx context.Context, opt Options) (*Plan, []features.MonthResult, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, nil, err
	}
	now := opt.Now().UTC()
	p := &Plan{Run: registry.NewVersion(now), ScoredAt: now, ListSize: opt.ListSize}
	cp, ok, err := r.Models.Promoted(ctx, registry.KindChurn)
	if err != nil {
		return nil, nil, fmt.Errorf("scoring: %w", err)
	}
	if !ok {
		return nil, nil, fmt.Errorf("scoring: no promoted %s model: %w", registry.KindChurn, ErrNoModel)
	}
	sp, ok, err := r.Models.Promoted(ctx, registry.KindSegment)
	if err != nil {
		return nil, nil, fmt.Errorf("scoring: %w", err)
	}
	if !ok {
		return nil, nil, fmt.Errorf("scoring: no promoted %s model: %w", registry.KindSegment, ErrNoModel)
	}
	p.ChurnModel, p.SegmentModel = cp.Version, sp.Version
	if up, ok, err := r.Models.Promoted(ctx, registry.KindUplift); err != nil {
		return nil, nil, fmt.Errorf("scoring: %w", err)
	} else if ok {
		p.UpliftModel = up.Version
	}
	// The bad-debt model is optional: none is promoted while history is
	// too short or no model has beaten the arrears baseline.
	if bp, ok, err := r.Models.Promoted(ctx, registry.KindBadDebt); err != nil {
		r.warn(ctx, "promoted bad-debt model unreadable; scoring without it", "error", err.Error())
	} else if ok {
		p.BadDebtModel = bp.Version
		if p.BadDebtHorizon, ok, err = labelHorizon(ctx, r.Tables, registry.KindBadDebt, bp.Version); err != nil || !ok {
			p.BadDebtHorizon = badDebtDefaultHorizon
		}
	}
	n, ok, err := labelHorizon(ctx, r.Tables, registry.KindChurn, cp.Version)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		n = defaultLabelHorizon
		r.warn(ctx, "churn model's label horizon not in crm.model_runs; assuming the default",
			"churn_model", cp.Version, "label_horizon_months", n)
	}
	p.Value = serving.ValueModel{Costs: *opt.Costs, AnnualDiscountRate: opt.AnnualDiscount,
		HorizonMonths: opt.HorizonMonths, LabelHorizonMonths: n}
	res := &Result{}
	month, err := r.featureMonth(ctx, opt, res)
	if err != nil {
		return nil, nil, err
	}
	p.FeatureMonth = month.Format("2006-01")
	r.info(ctx, "scoring feature month", "month", p.FeatureMonth, "months_built", len(res.Built),
		"churn_model", cp.Version, "segment_model", sp.Version)
	return p, res.Built, nil
}

// models are a run's churn model and segmentation, its uplift model with
// the offers it scores, and the bad-debt model (each nil without one).
type models struct {
	churn      *churn.Model
	segment    *segment.Model
	uplift     *campaign.Model
	upliftMeta *serving.UpliftMeta
	badDebt    *churn.Model
}

// models loads the plan's model versions (not whatever is promoted by
// the time a bucket runs).
func (r *Runner) models(ctx context.Context, p *Plan) (*models, error) {
	m := &models{churn: &churn.Model{}, segment: &segment.Model{}}
	if err := r.Models.Load(ctx, registry.KindChurn, p.ChurnModel, m.churn); err != nil {
		return nil, fmt.Errorf("scoring: %w", err)
	}
	if err := r.Models.Load(ctx, registry.KindSegment, p.SegmentModel, m.segment); err != nil {
		return nil, fmt.Errorf("scoring: %w", err)
	}
	if p.UpliftModel != "" {
		var err error
		if m.uplift, m.upliftMeta, err = r.loadUplift(ctx, p.UpliftModel); err != nil {
			return nil, err
		}
	}
	if p.BadDebtModel != "" {
		m.badDebt = &churn.Model{}
		if err := r.Models.Load(ctx, registry.KindBadDebt, p.BadDebtModel, m.badDebt); err != nil {
			return nil, fmt.Errorf("scoring: %w", err)
		}
	}
	return m, nil
}

// partial is one bucket's customers, sorted by id, with whether each was
// scored (active or suspended) or is a win-back row.
type partial struct {
	Bucket    int
	Customers []serving.Customer
	Scored    []bool
}

func (p *partial) sort() {
	idx := make([]int, len(p.Customers))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		return strings.Compare(p.Customers[a].SubscriberID, p.Customers[b].SubscriberID)
	})
	cs, sc := make([]serving.Customer, len(idx)), make([]bool, len(idx))
	for k, i := range idx {
		cs[k], sc[k] = p.Customers[i], p.Scored[i]
	}
	p.Customers, p.Scored = cs, sc
}

// merge joins the parts into one id-sorted run (a subscriber is in one
// bucket, so ids do not repeat).
func merge(parts []*partial) ([]serving.Customer, []bool) {
	if len(parts) == 1 {
		return parts[0].Customers, parts[0].Scored
	}
	n := 0
	for _, p := range parts {
		n += len(p.Customers)
	}
	all := &partial{Customers: make([]serving.Customer, 0, n), Scored: make([]bool, 0, n)}
	for _, p := range parts {
		all.Customers = append(all.Customers, p.Customers...)
		all.Scored = append(all.Scored, p.Scored...)
	}
	all.sort()
	return all.Customers, all.Scored
}

// PartKey is where a bucket's part of a run is kept until the commit.
func PartKey(run string, bucket int) string {
	return path.Join("parts", run, fmt.Sprintf("bucket-%02d.gob.gz", bucket))
}

// ScoreBucket scores one bucket of the plan and stores its part.
func (r *Runner) ScoreBucket(ctx context.Context, p *Plan, bucket int) (*Part, error) {
	t0 := time.Now()
	m, err := r.models(ctx, p)
	if err != nil {
		return nil, err
	}
	part, err := r.scorePart(ctx, p, m, bucket)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := gob.NewEncoder(zw).Encode(part); err != nil {
		return nil, fmt.Errorf("scoring: encode bucket %d: %w", bucket, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("scoring: encode bucket %d: %w", bucket, err)
	}
	key := PartKey(p.Run, bucket)
	if err := r.Serving.Put(ctx, key, buf.Bytes()); err != nil {
		return nil, fmt.Errorf("scoring: store bucket %d: %w", bucket, err)
	}
	out := &Part{Bucket: bucket, Key: key, Customers: len(part.Customers), Seconds: time.Since(t0).Seconds()}
	for _, s := range part.Scored {
		if s {
			out.Scored++
		}
	}
	r.info(ctx, "scoring bucket done", "run", p.Run, "bucket", bucket, "customers", out.Customers,
		"bytes", buf.Len(), "seconds", out.Seconds)
	return out, nil
}

// Commit reads every bucket's part and finishes the run (see commit).
// Every bucket must be there once; otherwise nothing is written, since a
// missing bucket would drop its customers from the run.
func (r *Runner) Commit(ctx context.Context, p *Plan, parts []Part) (*Result, error) {
	t0 := time.Now()
	seen := map[int]bool{}
	for _, pt := range parts {
		if pt.Bucket < 0 || pt.Bucket >= lake.SubscriberBuckets || seen[pt.Bucket] {
			return nil, fmt.Errorf("scoring: commit: bucket %d is out of range or given twice", pt.Bucket)
		}
		if pt.Key != PartKey(p.Run, pt.Bucket) {
			return nil, fmt.Errorf("scoring: commit: bucket %d's part %q is not this run's", pt.Bucket, pt.Key)
		}
		seen[pt.Bucket] = true
	}
	if len(seen) != lake.SubscriberBuckets {
		return nil, fmt.Errorf("scoring: commit: %d of %d buckets scored", len(seen), lake.SubscriberBuckets)
	}
	m, err := r.models(ctx, p)
	if err != nil {
		return nil, err
	}
	ps := make([]*partial, 0, len(parts))
	for _, pt := range parts {
		body, err := r.Serving.Get(ctx, pt.Key)
		if err != nil {
			return nil, fmt.Errorf("scoring: commit: read bucket %d: %w", pt.Bucket, err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("scoring: commit: read bucket %d: %w", pt.Bucket, err)
		}
		part := &partial{}
		if err := gob.NewDecoder(zr).Decode(part); err != nil {
			return nil, fmt.Errorf("scoring: commit: decode bucket %d: %w", pt.Bucket, err)
		}
		if part.Bucket != pt.Bucket || len(part.Customers) != pt.Customers || len(part.Scored) != len(part.Customers) {
			return nil, fmt.Errorf("scoring: commit: bucket %d's part holds %d customers, the task says %d",
				pt.Bucket, len(part.Customers), pt.Customers)
		}
		ps = append(ps, part)
	}
	res, err := r.commit(ctx, p, m, ps)
	if err != nil {
		return nil, err
	}
	if d, ok := r.Serving.(deleter); ok {
		for _, pt := range parts {
			if err := d.Delete(ctx, pt.Key); err != nil {
				r.warn(ctx, "scoring: part left in the serving store", "key", pt.Key, "error", err.Error())
			}
		}
	}
	res.Seconds = time.Since(t0).Seconds()
	return res, nil
}

// deleter is a store that can remove a part once committed.
type deleter interface {
	Delete(ctx context.Context, key string) error
}

// everyone keeps every subscriber.
func everyone(string) bool { return true }
