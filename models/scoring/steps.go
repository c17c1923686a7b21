package scoring

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/serving"
)

// The run's last three steps (see the comment at Plan): rank, one shard
// step per serving shard, commit. What passes between them in the state
// machine is keys and counts; what they hand on is in the serving store
// under parts/<run>/ until the commit removes it.

// Ranked is the rank action's answer: where its figures are (RankedKey)
// and the Map's items, one shard task per serving shard.
type Ranked struct {
	Key     string  `json:"ranked"`
	Shards  []Task  `json:"shards"`
	Seconds float64 `json:"seconds"`
}

// ShardDone is a shard action's answer: where its files are listed
// (ShardKey).
type ShardDone struct {
	Shard int    `json:"shard"`
	Key   string `json:"key"`
	// Rows is how many customers (crm.scores rows) the shard holds,
	// PieceBytes how many bytes of the buckets' pieces it held at once.
	Rows       int     `json:"rows"`
	PieceBytes int64   `json:"piece_bytes"`
	Seconds    float64 `json:"seconds"`
}

// rankFile is what the rank step stores for the shards and the commit:
// the buckets' parts, the value tiers' cut-offs, the run's meta as JSON
// (lists, segments, tier migration; without the report), the summary's
// figures, the at-risk causes and the survival tallies. Its size does not
// grow with the customers (the lists are ListSize long, the causes and
// the survival observations counted).
type rankFile struct {
	Plan   *Plan
	Parts  []Part
	Cuts   tierCuts
	Meta   []byte
	Result Result // the figures of the summary, without Snapshot and Held
	Th     float64
	AtRisk []insight.ReasonCounts
	// Survival is the buckets' survival tallies added up.
	Survival survivalTally
	// RankRows and RankedNumbers are what the rank step held at once (Held).
	RankRows, RankedNumbers int
}

// shardFile is what a shard step stores for the commit: its serving files
// and its crm.scores data files (written, not committed).
type shardFile struct {
	Shard      int                `json:"shard"`
	Files      serving.ShardFiles `json:"files"`
	DataFiles  []string           `json:"data_files"`
	Rows       int                `json:"rows"`
	PieceBytes int64              `json:"piece_bytes"`
}

// RankedKey is where the rank step keeps its figures until the commit.
func RankedKey(run string) string { return path.Join("parts", run, "ranked.gob.gz") }

// ShardKey is where a shard step lists its files until the commit.
func ShardKey(run string, shard int) string {
	return path.Join("parts", run, fmt.Sprintf("shard-%03d.json", shard))
}

// Rank computes what needs every customer from the buckets' rank rows,
// read one bucket at a time (rankRun): the sums of the summary, the
// segments' figures, the lists, the value tiers' cut-offs, the tier
// migration and the at-risk causes; it stores them (RankedKey) and
// answers the shard tasks. Every bucket must be there once, with a piece
// per serving shard; otherwise nothing is stored, since a missing bucket
// would drop its customers from the run.
func (r *Runner) Rank(ctx context.Context, p *Plan, parts []Part) (*Ranked, error) {
	t0 := time.Now()
	if err := checkParts(p, parts); err != nil {
		return nil, err
	}
	parts = slices.Clone(parts)
	slices.SortFunc(parts, func(a, b Part) int { return a.Bucket - b.Bucket })
	month, err := time.Parse("2006-01", p.FeatureMonth)
	if err != nil {
		return nil, fmt.Errorf("scoring: plan's feature month %q: %w", p.FeatureMonth, err)
	}
	m, err := r.models(ctx, p)
	if err != nil {
		return nil, err
	}
	rf := &rankFile{Plan: p, Parts: parts, Survival: survivalTally{}}
	first := true
	each := func(fn func(*bucketRanks)) error {
		for _, pt := range parts {
			br, err := r.readRanks(ctx, pt)
			if err != nil {
				return err
			}
			rf.RankRows = max(rf.RankRows, len(br.Rows))
			if first {
				rf.Survival.merge(br.Survival)
			}
			fn(br)
		}
		first = false
		return nil
	}
	rk, err := rankRun(p.ListSize, m.segment, p.BadDebtModel != "", p.PrevTierRun != "", each)
	if err != nil {
		return nil, err
	}
	acc := rk.acc
	if acc.scored == 0 {
		return nil, fmt.Errorf("scoring: no active or suspended customers in feature month %s", p.FeatureMonth)
	}
	rf.Cuts, rf.Th, rf.AtRisk, rf.RankedNumbers = rk.cuts, rk.th, rk.atRisk, rk.held
	res := &rf.Result
	res.Run, res.FeatureMonth, res.ChurnModel, res.SegmentModel = p.Run, p.FeatureMonth, p.ChurnModel, p.SegmentModel
	res.BadDebtModel, res.Value = p.BadDebtModel, p.Value
	res.Scored, res.WinBack = acc.scored, acc.winBack
	res.MeanProbability = acc.sumP.float() / float64(acc.scored)
	res.MeanBadDebt = acc.sumBadDebt.float() / float64(acc.scored)
	res.TotalValueAtRisk, res.TotalProfit = acc.valueAtRisk.float(), acc.profit.float()
	meta := &serving.Meta{Run: p.Run, ScoredAt: p.ScoredAt, FeatureMonth: p.FeatureMonth,
		ChurnModel: p.ChurnModel, SegmentModel: p.SegmentModel, BadDebtModel: p.BadDebtModel, BadDebtHorizonMonths: p.BadDebtHorizon,
		Customers: acc.customers, Value: p.Value, Segments: acc.segmentsOf(m.segment), Lists: rk.lists, Uplift: m.upliftMeta}
	if p.PrevTierRun != "" {
		mig := &serving.TierMigration{FromRun: p.PrevTierRun, FromMonth: month.AddDate(0, -1, 0).Format("2006-01"), Tiers: serving.Tiers,
			Counts: rk.migration}
		none := tierIndex(serving.TierNone)
		for k, n := range acc.gone {
			mig.Counts[k][none] += n
		}
		meta.TierMigration = mig
	}
	for _, l := range meta.Lists {
		res.Lists = append(res.Lists, ListSummary{Name: l.Name, Title: l.Title, Customers: len(l.IDs)})
	}
	if rf.Meta, err = json.Marshal(meta); err != nil {
		return nil, fmt.Errorf("scoring: encode meta: %w", err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := gob.NewEncoder(zw).Encode(rf); err != nil {
		return nil, fmt.Errorf("scoring: rank: encode: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("scoring: rank: encode: %w", err)
	}
	out := &Ranked{Key: RankedKey(p.Run)}
	if err := r.Serving.Put(ctx, out.Key, buf.Bytes()); err != nil {
		return nil, fmt.Errorf("scoring: rank: store: %w", err)
	}
	for s := range p.shards() {
		// No plan in a shard task (the rank file has it): the Map's items
		// stay a few dozen bytes each, 256 of them well inside the 256 KB
		// Step Functions passes between states.
		out.Shards = append(out.Shards, Task{Action: "shard", Ranked: out.Key, Shard: s})
	}
	out.Seconds = time.Since(t0).Seconds()
	r.info(ctx, "scoring ranks done", "run", p.Run, "customers", acc.customers, "bytes", buf.Len(), "seconds", out.Seconds)
	return out, nil
}

// checkParts checks the rank step's parts: every bucket once, this run's,
// with a piece per serving shard whose sizes add up.
func checkParts(p *Plan, parts []Part) error {
	seen := map[int]bool{}
	for _, pt := range parts {
		if pt.Bucket < 0 || pt.Bucket >= lake.SubscriberBuckets || seen[pt.Bucket] {
			return fmt.Errorf("scoring: rank: bucket %d is out of range or given twice", pt.Bucket)
		}
		if pt.Key != PartKey(p.Run, pt.Bucket) {
			return fmt.Errorf("scoring: rank: bucket %d's part %q is not this run's", pt.Bucket, pt.Key)
		}
		seen[pt.Bucket] = true
	}
	if len(seen) != lake.SubscriberBuckets {
		return fmt.Errorf("scoring: rank: %d of %d buckets scored", len(seen), lake.SubscriberBuckets)
	}
	for _, pt := range parts {
		if len(pt.Pieces) != p.shards() {
			return fmt.Errorf("scoring: rank: bucket %d has %d serving pieces, the plan %d shards", pt.Bucket, len(pt.Pieces), p.shards())
		}
		var det int64
		for _, ps := range pt.Pieces {
			det += ps.Detail
		}
		if det != pt.DetailBytes {
			return fmt.Errorf("scoring: rank: bucket %d's detail pieces are %d bytes, the task says %d", pt.Bucket, det, pt.DetailBytes)
		}
	}
	return nil
}

// readRanked reads the rank step's file at key, which must be the ranks
// of its plan's run (and of p's when p is not nil).
func (r *Runner) readRanked(ctx context.Context, p *Plan, key string) (*rankFile, error) {
	if p != nil && key != RankedKey(p.Run) {
		return nil, fmt.Errorf("scoring: ranks %q are not this run's", key)
	}
	body, err := r.Serving.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("scoring: read ranks: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("scoring: read ranks: %w", err)
	}
	rf := &rankFile{}
	if err := gob.NewDecoder(zr).Decode(rf); err != nil {
		return nil, fmt.Errorf("scoring: decode ranks: %w", err)
	}
	if rf.Plan == nil || key != RankedKey(rf.Plan.Run) || (p != nil && rf.Plan.Run != p.Run) {
		return nil, fmt.Errorf("scoring: ranks %q hold another run's plan", key)
	}
	if err := checkParts(rf.Plan, rf.Parts); err != nil {
		return nil, err
	}
	return rf, nil
}

// Shard merges the buckets' serving pieces of one serving shard of the
// run whose rank file is at ranked (its plan is there) in id order
// (mergeShard), setting each customer's value tier from the rank
// step's cut-offs and writing its crm.scores row into data files, stores
// the shard's serving files (the run's, unsharded) and lists them and the
// data files at ShardKey, without committing anything. A retried shard
// step writes new data files and lists those: the files of an attempt
// that died before its list are orphans that no commit names (table
// maintenance removes them), so a retry never doubles rows.
func (r *Runner) Shard(ctx context.Context, ranked string, shard int) (*ShardDone, error) {
	t0 := time.Now()
	rf, err := r.readRanked(ctx, nil, ranked)
	if err != nil {
		return nil, err
	}
	p := rf.Plan
	if shard < 0 || shard >= p.shards() {
		return nil, fmt.Errorf("scoring: shard %d is not in [0, %d)", shard, p.shards())
	}
	month, meta, err := rf.monthAndMeta()
	if err != nil {
		return nil, err
	}
	sw := &scoresWriter{r: r, meta: meta, month: month}
	defer sw.abandon(ctx)
	rows := 0
	fix := func(c *serving.Customer) error {
		c.ValueTier = rf.Cuts.of(c.ValueTier != serving.TierNone, c.CLV, c.SubscriberID)
		rows++
		return sw.add(ctx, c)
	}
	f, held, err := r.mergeShard(ctx, p, meta, rf.Parts, shard, fix)
	if err != nil {
		return nil, err
	}
	if err := sw.flush(ctx); err != nil {
		return nil, err
	}
	sf := shardFile{Shard: shard, DataFiles: sw.paths, Rows: rows, PieceBytes: held}
	if p.shards() == 1 {
		sf.Files, err = serving.PutRun(ctx, r.Serving, p.Run, f.Columns, f.Detail)
	} else {
		sf.Files, err = serving.PutShard(ctx, r.Serving, p.Run, p.shards(), shard, f.Columns, f.Detail)
	}
	if err != nil {
		return nil, fmt.Errorf("scoring: %w", err)
	}
	body, err := json.Marshal(&sf)
	if err != nil {
		return nil, fmt.Errorf("scoring: shard %d: %w", shard, err)
	}
	out := &ShardDone{Shard: shard, Key: ShardKey(p.Run, shard), Rows: rows, PieceBytes: held}
	if err := r.Serving.Put(ctx, out.Key, body); err != nil {
		return nil, fmt.Errorf("scoring: shard %d: store: %w", shard, err)
	}
	sw.done = true // listed: the commit's now
	out.Seconds = time.Since(t0).Seconds()
	r.info(ctx, "scoring shard done", "run", p.Run, "shard", shard, "customers", rows,
		"data_files", len(sf.DataFiles), "piece_bytes", held, "seconds", out.Seconds)
	return out, nil
}

// Commit finishes the run from the rank step's figures and every shard
// step's files: one crm.scores snapshot of all the shards' data files
// (replacing the run's partition), the lifecycle report, the run's
// meta.json and last the pointer; then the parts are removed. Every shard
// must be there once; otherwise nothing is written. A failed commit
// leaves the shards' files for its retry (and, if the run is never
// committed, for table maintenance).
func (r *Runner) Commit(ctx context.Context, p *Plan, ranked string, shards []ShardDone) (*Result, error) {
	t0 := time.Now()
	byShard := make([]*ShardDone, p.shards())
	for i := range shards {
		sd := &shards[i]
		if sd.Shard < 0 || sd.Shard >= len(byShard) || byShard[sd.Shard] != nil {
			return nil, fmt.Errorf("scoring: commit: shard %d is out of range or given twice", sd.Shard)
		}
		if sd.Key != ShardKey(p.Run, sd.Shard) {
			return nil, fmt.Errorf("scoring: commit: shard %d's files %q are not this run's", sd.Shard, sd.Key)
		}
		byShard[sd.Shard] = sd
	}
	if len(shards) != len(byShard) {
		return nil, fmt.Errorf("scoring: commit: %d of %d serving shards written", len(shards), len(byShard))
	}
	rf, err := r.readRanked(ctx, p, ranked)
	if err != nil {
		return nil, err
	}
	month, meta, err := rf.monthAndMeta()
	if err != nil {
		return nil, err
	}
	res := rf.Result
	held := &Held{RankRows: rf.RankRows, RankedNumbers: rf.RankedNumbers}
	res.Held = held
	files := make([]serving.ShardFiles, len(byShard))
	var paths []string
	rows := 0
	for s, sd := range byShard {
		body, err := r.Serving.Get(ctx, sd.Key)
		if err != nil {
			return nil, fmt.Errorf("scoring: commit: read shard %d's files: %w", s, err)
		}
		var sf shardFile
		if err := json.Unmarshal(body, &sf); err != nil {
			return nil, fmt.Errorf("scoring: commit: decode shard %d's files: %w", s, err)
		}
		if sf.Shard != s || sf.Rows != sd.Rows {
			return nil, fmt.Errorf("scoring: commit: shard %d's files list shard %d of %d rows, the task says %d", s, sf.Shard, sf.Rows, sd.Rows)
		}
		files[s] = sf.Files
		paths = append(paths, sf.DataFiles...)
		rows += sf.Rows
		held.PieceBytes = max(held.PieceBytes, sf.PieceBytes)
	}
	if rows != meta.Customers {
		return nil, fmt.Errorf("scoring: commit: the shards hold %d customers, the ranks %d", rows, meta.Customers)
	}
	sw := &scoresWriter{r: r, meta: meta, month: month, paths: paths, done: true}
	// A commit retried after its crm.scores snapshot but before the
	// pointer (out of time, a failed write of meta.json) finds the run's
	// partition holding exactly these files and goes on from there, rather
	// than deleting and adding them again (two more snapshots of the same
	// rows, and one more chance to fail). The rest is idempotent: the
	// report is the same parts added up, crm.model_tracking's rows of the
	// run are replaced, meta.json and the pointer overwritten.
	if done, err := r.runCommitted(ctx, p.Run, paths); err != nil {
		return nil, err
	} else if done {
		r.info(ctx, "scoring: the run's crm.scores files are committed already (a retried commit)", "run", p.Run, "files", len(paths))
	} else if err := sw.commit(ctx); err != nil {
		return nil, err
	}

	// The report is the buckets' parts added up; a run without it still
	// serves (the API then answers its endpoints 503).
	t1 := time.Now()
	if rep, err := r.reportOf(ctx, rf.Plan, rf.Parts, rf.Survival, rf.Th, rf.AtRisk); err != nil {
		r.warn(ctx, "scoring: no lifecycle and tracking report", "error", err.Error())
	} else {
		if meta.Insight, err = json.Marshal(rep); err != nil {
			// A figure that is not a number: the run still serves, without
			// the report (its endpoints answer 503).
			r.warn(ctx, "scoring: lifecycle report not encodable", "error", err.Error())
			meta.Insight = nil
		}
		if err := r.writeTracking(ctx, meta, &rep.Tracking); err != nil {
			return nil, err
		}
		r.info(ctx, "lifecycle report built", "run", res.Run, "bytes", len(meta.Insight),
			"tracked_runs", len(rep.Tracking.Runs), "seconds", time.Since(t1).Seconds())
	}
	mb, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("scoring: encode meta: %w", err)
	}
	if len(files) == 1 {
		res.Snapshot, err = serving.PointRun(ctx, r.Serving, meta.Run, mb, files[0])
	} else {
		res.Snapshot, err = serving.PointShards(ctx, r.Serving, meta.Run, mb, files)
	}
	if err != nil {
		return nil, fmt.Errorf("scoring: %w", err)
	}
	r.removeParts(ctx, p, rf.Parts)
	res.Seconds = time.Since(t0).Seconds()
	r.info(ctx, "scoring run done", "run", res.Run, "month", res.FeatureMonth, "scored", res.Scored,
		"win_back", res.WinBack, "seconds", res.Seconds)
	return &res, nil
}

// removeParts removes a published run's parts from the serving store:
// the buckets' rank rows and pieces, the ranks, the shards' lists.
func (r *Runner) removeParts(ctx context.Context, p *Plan, parts []Part) {
	d, ok := r.Serving.(deleter)
	if !ok {
		return
	}
	keys := []string{RankedKey(p.Run)}
	for s := range p.shards() {
		keys = append(keys, ShardKey(p.Run, s))
	}
	for _, pt := range parts {
		keys = append(keys, pt.Key, ReportKey(p.Run, pt.Bucket))
		for s := range pt.Pieces {
			keys = append(keys, PieceKey(p.Run, pt.Bucket, s, "columns"), PieceKey(p.Run, pt.Bucket, s, "detail"))
		}
	}
	for _, key := range keys {
		if err := d.Delete(ctx, key); err != nil && !errors.Is(err, lake.ErrNotFound) {
			r.warn(ctx, "scoring: part left in the serving store", "key", key, "error", err.Error())
		}
	}
}

// monthAndMeta decodes the feature month of the rank file's plan and the
// snapshot's meta it carries.
func (rf *rankFile) monthAndMeta() (time.Time, *serving.Meta, error) {
	month, err := time.Parse("2006-01", rf.Plan.FeatureMonth)
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("scoring: plan's feature month %q: %w", rf.Plan.FeatureMonth, err)
	}
	meta := &serving.Meta{}
	if err := json.Unmarshal(rf.Meta, meta); err != nil {
		return time.Time{}, nil, fmt.Errorf("scoring: decode meta: %w", err)
	}
	return month, meta, nil
}

// runCommitted says whether crm.scores' current snapshot holds the run's
// partitions (one per subscriber bucket, on lakes made since that field)
// as exactly the data files paths (and no other): its commit is done. It
// reads the table's metadata and manifests, no rows; a file's run is its
// partition's run field (runPartition), whatever else the spec holds.
func (r *Runner) runCommitted(ctx context.Context, run string, paths []string) (bool, error) {
	tbl, err := r.Tables.LoadTable(ctx, lake.ScoresTable.Ident())
	if err != nil {
		return false, fmt.Errorf("scoring: load scores: %w", err)
	}
	if tbl.CurrentSnapshot() == nil {
		return false, nil
	}
	tasks, err := tbl.Scan(table.WithRowFilter(iceberg.EqualTo(iceberg.Reference("run"), run))).PlanFiles(ctx)
	if err != nil {
		return false, fmt.Errorf("scoring: plan scores: %w", err)
	}
	want := map[string]bool{}
	for _, p := range paths {
		want[p] = true
	}
	have := map[string]bool{}
	runs := runPartition{meta: tbl.Metadata()}
	for _, t := range tasks {
		if r, ok := runs.of(t.File); ok && r == run {
			have[t.File.FilePath()] = true
		}
	}
	return len(want) > 0 && maps.Equal(want, have), nil
}
