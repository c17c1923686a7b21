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
//     value at risk. The bucket encodes its customers' records of the
//     snapshot's detail.bin (serving.EncodeDetail: MSISDN, name, dates,
//     reasons, history), which need nothing computed over the whole run,
//     and stores them as its detail piece; the rows, stripped of those
//     fields (serving.StripDetail), are its part, one gzipped gob. Both
//     go to the serving store under parts/<run>/ (Step Functions passes
//     at most 256 KB between states, so only their keys and counts
//     travel).
//   - commit: reads the parts (not the tables), merges them by id and
//     computes what needs every customer: value tiers by CLV rank, the
//     lists' top k, the segments' figures, the tier migration; the
//     lifecycle report reads the register and the score history as in
//     Run; then one crm.scores commit and one serving snapshot, whose
//     detail.bin is the pieces copied into place one at a time
//     (serving.DetailAssembly) and whose columns.bin is encoded from the
//     stripped rows; then the parts are removed. So the commit holds the
//     stripped rows and the snapshot's bytes, never a full row.
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
	Bucket    int    `json:"bucket"`
	Key       string `json:"key"` // in the serving store
	Customers int    `json:"customers"`
	Scored    int    `json:"scored"`
	// DetailBytes is the size of its piece of detail.bin (DetailKey).
	DetailBytes int64   `json:"detail_bytes"`
	Seconds     float64 `json:"seconds"`
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
// scored (active or suspended) or is a win-back row. Once its detail is
// encoded (detach) the rows are stripped of the fields only detail.bin
// holds (serving.StripDetail) and DetailLens are their records' lengths:
// what the commit keeps of a customer.
type partial struct {
	Bucket     int
	Customers  []serving.Customer
	Scored     []bool
	DetailLens []uint32
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

// detach encodes the part's detail records (its piece of detail.bin) and
// strips them from its rows.
func (p *partial) detach() (*serving.DetailPiece, error) {
	piece, err := serving.EncodeDetail(p.Customers)
	if err != nil {
		return nil, fmt.Errorf("scoring: bucket %d: %w", p.Bucket, err)
	}
	for i := range p.Customers {
		serving.StripDetail(&p.Customers[i])
	}
	p.DetailLens = piece.Lens
	return piece, nil
}

// merged is the run's stripped rows in id order, and where each part's
// rows went.
type merged struct {
	cs     []serving.Customer
	scored []bool
	lens   []uint32
	rowsOf [][]int // rowsOf[k][j]: the row of parts[k]'s customer j
}

// merge joins the parts (each sorted by id; a subscriber is in one
// bucket) into one id-sorted run: the rows are gathered once, each part's
// released as it is taken, ordered by a k-way merge of the parts and
// permuted in place, so the commit holds the stripped rows once.
func merge(parts []*partial) (*merged, error) {
	n := 0
	for _, p := range parts {
		n += len(p.Customers)
	}
	m := &merged{cs: make([]serving.Customer, 0, n), scored: make([]bool, 0, n), lens: make([]uint32, 0, n),
		rowsOf: make([][]int, len(parts))}
	base := make([]int, len(parts)+1)
	for k, p := range parts {
		if len(p.DetailLens) != len(p.Customers) || len(p.Scored) != len(p.Customers) {
			return nil, fmt.Errorf("scoring: bucket %d's part: %d customers, %d scored flags, %d detail records",
				p.Bucket, len(p.Customers), len(p.Scored), len(p.DetailLens))
		}
		m.cs = append(m.cs, p.Customers...)
		m.scored = append(m.scored, p.Scored...)
		m.lens = append(m.lens, p.DetailLens...)
		base[k+1] = len(m.cs)
		p.Customers, p.Scored, p.DetailLens = nil, nil, nil
	}
	// order[r] is the gathered index of row r.
	order := make([]int, 0, n)
	head := slices.Clone(base[:len(parts)])
	for len(order) < n {
		best := -1
		for k := range parts {
			if head[k] < base[k+1] && (best < 0 || m.cs[head[k]].SubscriberID < m.cs[head[best]].SubscriberID) {
				best = k
			}
		}
		i := head[best]
		if len(order) > 0 && m.cs[order[len(order)-1]].SubscriberID >= m.cs[i].SubscriberID {
			return nil, fmt.Errorf("scoring: subscriber %s is in two buckets or a part is not sorted", m.cs[i].SubscriberID)
		}
		m.rowsOf[best] = append(m.rowsOf[best], len(order))
		order = append(order, i)
		head[best]++
	}
	// Permute in place along the cycles of order.
	done := make([]bool, n)
	for r := range order {
		if done[r] {
			continue
		}
		c, sc, ln := m.cs[r], m.scored[r], m.lens[r]
		cur := r
		for {
			done[cur] = true
			src := order[cur]
			if src == r {
				m.cs[cur], m.scored[cur], m.lens[cur] = c, sc, ln
				break
			}
			m.cs[cur], m.scored[cur], m.lens[cur] = m.cs[src], m.scored[src], m.lens[src]
			cur = src
		}
	}
	return m, nil
}

// PartKey is where a bucket's part of a run is kept until the commit.
func PartKey(run string, bucket int) string {
	return path.Join("parts", run, fmt.Sprintf("bucket-%02d.gob.gz", bucket))
}

// DetailKey is where a bucket's piece of the run's detail.bin is kept
// until the commit.
func DetailKey(run string, bucket int) string {
	return path.Join("parts", run, fmt.Sprintf("bucket-%02d.detail", bucket))
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
	piece, err := part.detach()
	if err != nil {
		return nil, err
	}
	if err := r.Serving.Put(ctx, DetailKey(p.Run, bucket), piece.Body); err != nil {
		return nil, fmt.Errorf("scoring: store bucket %d's detail: %w", bucket, err)
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
	out := &Part{Bucket: bucket, Key: key, Customers: len(part.Customers), DetailBytes: int64(len(piece.Body)),
		Seconds: time.Since(t0).Seconds()}
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
		var det int64
		for _, n := range part.DetailLens {
			det += int64(n)
		}
		if len(part.DetailLens) != len(part.Customers) || det != pt.DetailBytes {
			return nil, fmt.Errorf("scoring: commit: bucket %d's part has %d detail records of %d bytes, the task says %d customers, %d bytes",
				pt.Bucket, len(part.DetailLens), det, pt.Customers, pt.DetailBytes)
		}
		ps = append(ps, part)
	}
	// The detail pieces are read one at a time, as the commit places them.
	piece := func(k int) ([]byte, error) {
		pt := parts[k]
		body, err := r.Serving.Get(ctx, DetailKey(p.Run, pt.Bucket))
		if err != nil {
			return nil, fmt.Errorf("scoring: commit: read bucket %d's detail: %w", pt.Bucket, err)
		}
		if int64(len(body)) != pt.DetailBytes {
			return nil, fmt.Errorf("scoring: commit: bucket %d's detail is %d bytes, the task says %d", pt.Bucket, len(body), pt.DetailBytes)
		}
		return body, nil
	}
	res, err := r.commit(ctx, p, m, ps, piece)
	if err != nil {
		return nil, err
	}
	if d, ok := r.Serving.(deleter); ok {
		for _, pt := range parts {
			for _, key := range []string{pt.Key, DetailKey(p.Run, pt.Bucket)} {
				if err := d.Delete(ctx, key); err != nil {
					r.warn(ctx, "scoring: part left in the serving store", "key", key, "error", err.Error())
				}
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
