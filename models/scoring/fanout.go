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
// splits a run in five steps, each one invocation of the score function,
// so that no invocation's time or memory grows with the customer base
// beyond one bucket or one serving shard (and the fixed-size figures that
// rank every customer):
//
//   - plan: the run's id and clock, the promoted models' versions, the
//     label horizon, the value model and the feature month (building the
//     missing feature months first, as Run does), and one bucket task per
//     subscriber bucket (lake.SubscriberBucket).
//   - bucket (a Map over the buckets): everything per customer for the
//     subscribers of one bucket: their feature rows and history, with the
//     lifecycle report's share (the bucket's files of crm.features alone:
//     features.LoadBucket, loadHistory with lake.InBucket), their register
//     rows (read and filtered), churn probability, reasons, segment, monthly value,
//     cost, profit, CLV and value at risk, and their tier in the previous
//     month's run. It stores its serving pieces, one per serving shard of
//     the plan (its customers of that shard, serving.Encode'd: columns.bin
//     and detail.bin as the snapshot holds them, the value tier left for
//     the shard step), and its rank rows (rankRow: the few numbers and
//     strings per customer that the run ranks, one gzipped gob) in the
//     serving store under parts/<run>/ (Step Functions passes at most
//     256 KB between states, so only their keys and sizes travel).
//   - rank: reads the rank rows one bucket at a time and computes what
//     needs every customer (rankRun): the sums of the summary, the
//     segments' figures, the lists' top k, the value tiers' cut-offs, the
//     tier migration, the at-risk causes (counted). It holds one bucket's
//     rank rows and histograms of the ranks' inputs, and stores its
//     figures (RankedKey); its answer is one shard task per serving shard.
//   - shard (a Map over the serving shards): merges the buckets' pieces of
//     one shard in id order (serving.MergeFrom, reading each piece's
//     detail.bin a window at a time), setting each customer's value tier
//     from the cut-offs and writing its crm.scores row into data files,
//     stores the shard's serving files and lists them and the data files
//     (ShardKey), committing nothing.
//   - commit: one crm.scores commit of every shard's data files, the
//     lifecycle report, meta.json and the pointer; then the parts are
//     removed.
//
// Run is the same steps in one process: one pass over every subscriber,
// split into the buckets' parts, then rank, each shard and the commit, so
// the rows, lists and snapshot of the two are equal (TestFanOutEqualsRun).

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
	// Shards is how many serving shards the run is written in (1:
	// unsharded); each bucket stores a piece per shard.
	Shards int `json:"serving_shards,omitempty"`
	// PrevTierRun is the newest run of the previous feature month with
	// value tiers (the tier migration's "from"), "" without one.
	PrevTierRun string `json:"prev_tier_run,omitempty"`
	// TransitionMonths are the newest transitionMonths months of
	// crm.features ("2006-01", oldest first): the report's transitions.
	TransitionMonths []string `json:"transition_months,omitempty"`
	// HistoryRuns are the runs of crm.scores the report reads (chooseRuns
	// of the table's runs and this one): the first run of each feature
	// month and the last of each calendar month.
	HistoryRuns []string `json:"history_runs,omitempty"`
}

func (p *Plan) shards() int { return max(1, p.Shards) }

// Task is the score function's event. Action "" is a whole run in one
// process (the schedule's plain invocation, and `telcolake invoke score`);
// "plan", "bucket", "rank", "shard" and "commit" are the DailyScore state
// machine's steps.
type Task struct {
	Action   string             `json:"action"`
	ListSize int                `json:"list_size,omitempty"` // plan, whole run
	Costs    *serving.CostModel `json:"costs,omitempty"`     // plan, whole run; nil: the defaults
	Plan     *Plan              `json:"plan,omitempty"`      // bucket, rank, commit
	Bucket   int                `json:"bucket"`              // bucket
	Parts    []Part             `json:"parts,omitempty"`     // rank: the buckets' Map's output
	Ranked   string             `json:"ranked,omitempty"`    // shard, commit: the rank step's key (its file has the plan)
	Shard    int                `json:"shard"`               // shard
	Shards   []ShardDone        `json:"shards,omitempty"`    // commit: the shards' Map's output
}

// Planned is the plan action's answer: the plan and the Map's items.
type Planned struct {
	Plan    *Plan                  `json:"plan"`
	Buckets []Task                 `json:"buckets"`
	Built   []features.MonthResult `json:"feature_months_built,omitempty"`
}

// Part is a bucket action's answer: where its customers are.
type Part struct {
	Bucket int    `json:"bucket"`
	Key    string `json:"key"` // its rank rows, in the serving store
	// Customers and Scored count its customers and the scored ones.
	Customers int `json:"customers"`
	Scored    int `json:"scored"`
	// Pieces are the sizes of its serving pieces, one per serving shard
	// of the plan (PieceKey); DetailBytes is their detail.bin's in all.
	Pieces      []PieceSize `json:"pieces,omitempty"`
	DetailBytes int64       `json:"detail_bytes"`
	// ReportBytes is the size of its share of the lifecycle report
	// (ReportKey).
	ReportBytes int64 `json:"report_bytes"`
	// FeatureFiles and FeatureRows are what the bucket's scans of
	// crm.features read: data files, and rows decoded (its own and, from
	// files of a month-only table, the other buckets' it dropped); 0 in
	// the parts of a one-process Run.
	FeatureFiles int64 `json:"feature_files"`
	FeatureRows  int64 `json:"feature_rows"`
	// ScoreFiles and ScoreRows are the same of its scans of crm.scores
	// (the history runs, the previous month's value tiers).
	ScoreFiles int64   `json:"score_files"`
	ScoreRows  int64   `json:"score_rows"`
	Seconds    float64 `json:"seconds"`
}

// PieceSize is the size of one serving piece's files.
type PieceSize struct {
	Columns int64 `json:"columns"`
	Detail  int64 `json:"detail"`
}

// Handle runs one task: a *Result (whole run, commit), a *Planned (plan),
// a *Part (bucket), a *Ranked (rank) or a *ShardDone (shard).
func (r *Runner) Handle(ctx context.Context, t Task) (any, error) {
	opt := Options{ListSize: t.ListSize, Costs: t.Costs}
	if t.Action != "" && t.Action != "plan" && t.Action != "shard" && t.Plan == nil {
		return nil, fmt.Errorf("scoring: %s task without a plan", t.Action)
	}
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
		if t.Bucket < 0 || t.Bucket >= lake.SubscriberBuckets {
			return nil, fmt.Errorf("scoring: bucket %d is not in [0, %d)", t.Bucket, lake.SubscriberBuckets)
		}
		return r.ScoreBucket(ctx, t.Plan, t.Bucket)
	case "rank":
		return r.Rank(ctx, t.Plan, t.Parts)
	case "shard":
		return r.Shard(ctx, t.Ranked, t.Shard)
	case "commit":
		return r.Commit(ctx, t.Plan, t.Ranked, t.Shards)
	}
	return nil, fmt.Errorf("scoring: task action %q: want plan, bucket, rank, shard, commit or none", t.Action)
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
	month, built, err := r.featureMonth(ctx, opt, res)
	if err != nil {
		return nil, nil, err
	}
	p.FeatureMonth = month.Format("2006-01")
	p.Shards = max(1, r.Shards)
	if p.PrevTierRun, err = prevTierRun(ctx, r.Tables, month); err != nil {
		return nil, nil, err
	}
	for _, m := range built[max(0, len(built)-transitionMonths):] {
		p.TransitionMonths = append(p.TransitionMonths, m.Format("2006-01"))
	}
	files, err := r.runFiles(ctx)
	if err != nil {
		return nil, nil, err
	}
	// This run's files will hold the feature month alone.
	fm := epochDay(month)
	p.HistoryRuns = chooseRuns(append(files, runFile{run: p.Run, lo: fm, hi: fm, bounded: true}))
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
	// survival is the survival observations of the part's register rows
	// (every subscriber of its buckets, in the run or not), by bucket;
	// report the rest of the lifecycle report's share, by bucket.
	survival map[int]survivalTally
	report   map[int]*reportPart
	// read is what the part's scans of crm.features read, scores what
	// its scans of crm.scores' history runs read.
	read, scores lake.ScanCost
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

// split divides a part of every subscriber into the buckets' parts, each
// still in id order.
func (p *partial) split() []*partial {
	out := make([]*partial, lake.SubscriberBuckets)
	for k := range out {
		out[k] = &partial{Bucket: k}
	}
	for i := range p.Customers {
		b := out[lake.SubscriberBucket(p.Customers[i].SubscriberID)]
		b.Customers = append(b.Customers, p.Customers[i])
		b.Scored = append(b.Scored, p.Scored[i])
	}
	for k, t := range p.survival {
		out[k].survival = map[int]survivalTally{k: t}
	}
	for k, rp := range p.report {
		out[k].report = map[int]*reportPart{k: rp}
	}
	return out
}

// PartKey is where a bucket's rank rows are kept until the commit.
func PartKey(run string, bucket int) string {
	return path.Join("parts", run, fmt.Sprintf("bucket-%02d.ranks.gob.gz", bucket))
}

// PieceKey is where a bucket's serving piece for one shard (file
// "columns" or "detail") is kept until the commit.
func PieceKey(run string, bucket, shard int, file string) string {
	return path.Join("parts", run, fmt.Sprintf("bucket-%02d", bucket), fmt.Sprintf("shard-%03d.%s", shard, file))
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
	prev, err := r.prevTiers(ctx, p, bucket, lake.CountInto(&part.scores))
	if err != nil {
		return nil, err
	}
	out, err := r.storeBucket(ctx, p, part, prev)
	if err != nil {
		return nil, err
	}
	out.FeatureFiles, out.FeatureRows = part.read.DataFiles, part.read.Rows+part.read.BucketDropped
	out.ScoreFiles, out.ScoreRows = part.scores.DataFiles, part.scores.Rows+part.scores.BucketDropped
	out.Seconds = time.Since(t0).Seconds()
	r.info(ctx, "scoring bucket done", "run", p.Run, "bucket", bucket, "customers", out.Customers,
		"detail_bytes", out.DetailBytes, "feature_files", out.FeatureFiles, "feature_rows", out.FeatureRows,
		"score_files", out.ScoreFiles, "score_rows", out.ScoreRows,
		"seconds", out.Seconds)
	return out, nil
}

// storeBucket stores a bucket's part: its serving pieces, one per serving
// shard (the customers of the bucket in that shard, Encode'd with value
// tier "rest" when scored, "none" otherwise: the commit sets the tier),
// and its rank rows, with each customer's tier in the previous-month run
// (prev: that run's tiers of at least this bucket's subscribers).
func (r *Runner) storeBucket(ctx context.Context, p *Plan, part *partial, prev map[string]string) (*Part, error) {
	bucket := part.Bucket
	out := &Part{Bucket: bucket, Key: PartKey(p.Run, bucket), Customers: len(part.Customers)}
	ranks := &bucketRanks{Bucket: bucket, Rows: make([]rankRow, len(part.Customers)), Gone: make([]int64, len(serving.Tiers)),
		Survival: part.survival[bucket]}
	none := tierIndex(serving.TierNone)
	for i := range part.Customers {
		c := &part.Customers[i]
		pt := none
		if t, ok := prev[c.SubscriberID]; ok {
			pt = tierIndex(t)
		}
		ranks.Rows[i] = rankRowOf(c, part.Scored[i], pt)
		c.ValueTier = serving.TierNone
		if part.Scored[i] {
			out.Scored++
			c.ValueTier = serving.TierRest
		}
	}
	for id, t := range prev {
		if lake.SubscriberBucket(id) != bucket {
			continue
		}
		if _, found := slices.BinarySearchFunc(part.Customers, id, func(c serving.Customer, id string) int {
			return strings.Compare(c.SubscriberID, id)
		}); !found {
			ranks.Gone[tierIndex(t)]++
		}
	}
	shards := p.shards()
	split := [][]serving.Customer{part.Customers}
	if shards > 1 {
		split = serving.Split(part.Customers, shards)
	}
	for s, cs := range split {
		f, err := serving.Encode(&serving.Meta{Run: p.Run}, cs)
		if err != nil {
			return nil, fmt.Errorf("scoring: bucket %d, shard %d: %w", bucket, s, err)
		}
		if err := r.Serving.Put(ctx, PieceKey(p.Run, bucket, s, "detail"), f.Detail); err != nil {
			return nil, fmt.Errorf("scoring: store bucket %d's piece: %w", bucket, err)
		}
		if err := r.Serving.Put(ctx, PieceKey(p.Run, bucket, s, "columns"), f.Columns); err != nil {
			return nil, fmt.Errorf("scoring: store bucket %d's piece: %w", bucket, err)
		}
		out.Pieces = append(out.Pieces, PieceSize{Columns: int64(len(f.Columns)), Detail: int64(len(f.Detail))})
		out.DetailBytes += int64(len(f.Detail))
	}
	rp := part.report[bucket]
	if rp == nil {
		return nil, fmt.Errorf("scoring: bucket %d has no report part", bucket)
	}
	var err error
	if out.ReportBytes, err = r.putReportPart(ctx, p.Run, rp); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := gob.NewEncoder(zw).Encode(ranks); err != nil {
		return nil, fmt.Errorf("scoring: encode bucket %d: %w", bucket, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("scoring: encode bucket %d: %w", bucket, err)
	}
	if err := r.Serving.Put(ctx, out.Key, buf.Bytes()); err != nil {
		return nil, fmt.Errorf("scoring: store bucket %d: %w", bucket, err)
	}
	return out, nil
}

// readRanks reads a bucket's rank rows.
func (r *Runner) readRanks(ctx context.Context, pt Part) (*bucketRanks, error) {
	body, err := r.Serving.Get(ctx, pt.Key)
	if err != nil {
		return nil, fmt.Errorf("scoring: commit: read bucket %d: %w", pt.Bucket, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("scoring: commit: read bucket %d: %w", pt.Bucket, err)
	}
	br := &bucketRanks{}
	if err := gob.NewDecoder(zr).Decode(br); err != nil {
		return nil, fmt.Errorf("scoring: commit: decode bucket %d: %w", pt.Bucket, err)
	}
	if br.Bucket != pt.Bucket || len(br.Rows) != pt.Customers {
		return nil, fmt.Errorf("scoring: commit: bucket %d's part holds %d customers, the task says %d",
			pt.Bucket, len(br.Rows), pt.Customers)
	}
	return br, nil
}

// mergeShard merges the buckets' serving pieces of one shard (fix sets
// each customer's tier and writes its crm.scores row) and says how many
// bytes of the pieces it held at once. From a store that reads byte
// ranges (every store of the functions) it holds each piece's
// columns.bin and a window of its detail.bin (serving.MergeFrom), else
// every piece whole (serving.Merge).
func (r *Runner) mergeShard(ctx context.Context, p *Plan, meta *serving.Meta, parts []Part, shard int, fix func(*serving.Customer) error) (*serving.Files, int64, error) {
	var held int64
	var f *serving.Files
	var err error
	if src, ok := r.Serving.(serving.RangeReader); ok {
		pieces := make([]serving.Piece, 0, len(parts))
		for _, pt := range parts {
			ps := pt.Pieces[shard]
			pieces = append(pieces, serving.Piece{
				Columns: PieceKey(p.Run, pt.Bucket, shard, "columns"), ColumnsBytes: ps.Columns,
				Detail: PieceKey(p.Run, pt.Bucket, shard, "detail"), DetailBytes: ps.Detail})
			held += ps.Columns + min(ps.Detail, serving.MergeWindow)
		}
		f, err = serving.MergeFrom(ctx, meta, src, pieces, fix)
	} else {
		pieces := make([]*serving.Files, 0, len(parts))
		for _, pt := range parts {
			pf, err := r.readPiece(ctx, p, pt, shard)
			if err != nil {
				return nil, 0, err
			}
			pieces = append(pieces, pf)
			held += int64(len(pf.Columns) + len(pf.Detail))
		}
		f, err = serving.Merge(meta, pieces, fix)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("scoring: serving shard %d: %w", shard, err)
	}
	return f, held, nil
}

// readPiece reads a bucket's serving piece for one shard.
func (r *Runner) readPiece(ctx context.Context, p *Plan, pt Part, shard int) (*serving.Files, error) {
	f := &serving.Files{}
	var err error
	if f.Columns, err = r.Serving.Get(ctx, PieceKey(p.Run, pt.Bucket, shard, "columns")); err != nil {
		return nil, fmt.Errorf("scoring: commit: read bucket %d's piece: %w", pt.Bucket, err)
	}
	if f.Detail, err = r.Serving.Get(ctx, PieceKey(p.Run, pt.Bucket, shard, "detail")); err != nil {
		return nil, fmt.Errorf("scoring: commit: read bucket %d's detail: %w", pt.Bucket, err)
	}
	if want := pt.Pieces[shard]; int64(len(f.Columns)) != want.Columns || int64(len(f.Detail)) != want.Detail {
		return nil, fmt.Errorf("scoring: commit: bucket %d's piece of shard %d is %d + %d bytes (columns + detail), the task says %d + %d",
			pt.Bucket, shard, len(f.Columns), len(f.Detail), want.Columns, want.Detail)
	}
	return f, nil
}

// deleter is a store that can remove a part once committed.
type deleter interface {
	Delete(ctx context.Context, key string) error
}
