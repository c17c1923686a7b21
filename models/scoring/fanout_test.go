package scoring_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/models/scoring"
	"github.com/telcolake/telcolake/models/serving"
)

// runOutput is what a run leaves behind: its crm.scores rows (as text,
// sorted) and its snapshot's three files, byte for byte.
type runOutput struct {
	rows  []string
	files map[string][]byte
}

func captureRun(t *testing.T, l interface{ readRows(string) []string }, st serving.Store, p serving.Pointer) runOutput {
	t.Helper()
	out := runOutput{rows: l.readRows(p.Run), files: map[string][]byte{}}
	keys := []string{p.Meta}
	if len(p.Shards) == 0 {
		keys = append(keys, p.Columns, p.Detail)
	}
	for _, sf := range p.Shards {
		keys = append(keys, sf.Columns, sf.Detail)
	}
	for _, k := range keys {
		b, err := st.Get(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		out.files[k] = b
	}
	return out
}

// scoresReader reads one run's crm.scores rows, every column, as text.
type scoresReader struct {
	t *testing.T
	l lake.TableLoader
}

func (s scoresReader) readRows(run string) []string {
	s.t.Helper()
	at, err := lake.ReadTable(context.Background(), s.l, lake.ScoresTable)
	if err != nil {
		s.t.Fatal(err)
	}
	defer at.Release()
	var rows []string
	eachRow(at, func(rec arrow.RecordBatch, i int) {
		var b strings.Builder
		for c := range int(rec.NumCols()) {
			fmt.Fprintf(&b, "%s=%s;", rec.ColumnName(c), rec.Column(c).ValueStr(i))
		}
		if strings.HasPrefix(b.String(), "run="+run+";") {
			rows = append(rows, b.String())
		}
	})
	slices.Sort(rows)
	return rows
}

// roundTrip passes v through JSON, as Step Functions passes a state's
// output to the next.
func roundTrip[T any](t *testing.T, v any) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFanOutEqualsRun scores the same lake twice with the same clock: once
// in one process (Run), once as the DailyScore state machine does it (a
// plan, one invocation per bucket with its own Runner, the rank step, one
// invocation per serving shard, the first of them retried, every event
// and answer through JSON, then the commit), unsharded and in shards. The
// crm.scores rows and the snapshot files must be equal byte for byte, the
// parts must partition the customers by bucket, and the commit must
// remove them.
func TestFanOutEqualsRun(t *testing.T) {
	l, r0 := trainedLake(t)
	pastTiers(t, l)
	for i, shards := range []int{1, 3} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			r := *r0
			r.Shards = shards
			fanOutEqualsRun(t, l.Cat, &r, time.Date(2026, 7, 3, 5+i, 0, 0, 0, time.UTC))
		})
	}
}

// TestFanOutEqualsRunOnMonthOnlyFeatures is TestFanOutEqualsRun on an
// older lake, whose crm.features is partitioned by month alone: every
// bucket reads the whole table and keeps its rows, with the same result.
func TestFanOutEqualsRunOnMonthOnlyFeatures(t *testing.T) {
	l, r := newTrainedLake(t, true)
	pastTiers(t, l)
	fanOutEqualsRun(t, l.Cat, r, time.Date(2026, 7, 3, 5, 0, 0, 0, time.UTC))
}

// TestFanOutEqualsRunOnRunOnlyScores is TestFanOutEqualsRun on an older
// lake, whose crm.scores is partitioned by run alone, with a history run
// scored before: every bucket reads the history run whole and keeps its
// rows, with the same result.
func TestFanOutEqualsRunOnRunOnlyScores(t *testing.T) {
	l, r := trainedLake(t)
	l.RunOnlyScores(t)
	pastTiers(t, l)
	before := time.Date(2026, 7, 3, 4, 0, 0, 0, time.UTC)
	if _, err := r.Run(context.Background(), scoring.Options{Now: func() time.Time { return before }, ListSize: 40}); err != nil {
		t.Fatal(err)
	}
	fanOutEqualsRun(t, l.Cat, r, time.Date(2026, 7, 3, 5, 0, 0, 0, time.UTC))
}

// pastTiers writes a run of feature month 2026-05 with value tiers of 40
// of the lake's subscribers to crm.scores (the plan's PrevTierRun: the
// buckets read their tiers, prevTiers).
func pastTiers(t *testing.T, l *laketest.Lake) {
	t.Helper()
	seen := map[string]bool{}
	var ids, tiers []string
	for b, err := range lake.Scan(context.Background(), l.Cat, lake.FeaturesTable, lake.Select("subscriber_id")) {
		if err != nil {
			t.Fatal(err)
		}
		col := b.String("subscriber_id")
		for i := range b.Len() {
			if id := col.Value(i); !seen[id] && len(ids) < 40 {
				seen[id] = true
				ids = append(ids, strings.Clone(id))
				tiers = append(tiers, serving.Tiers[len(ids)%len(serving.Tiers)])
			}
		}
	}
	writePastScores(t, l, "20260602T000000Z", time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), ids, tiers)
}

// scoreReads is what one process reads of crm.scores for plan p: the rows
// of its history runs but its own (the lifecycle report's history) and
// of the previous month's value tiers (prevTiers).
func scoreReads(t *testing.T, cat lake.TableLoader, p *scoring.Plan) int64 {
	t.Helper()
	var past []string
	for _, run := range p.HistoryRuns {
		if run != p.Run {
			past = append(past, run)
		}
	}
	var filters []iceberg.BooleanExpression
	if len(past) > 0 {
		filters = append(filters, iceberg.IsIn(iceberg.Reference("run"), past...))
	}
	if p.PrevTierRun != "" {
		month, err := time.Parse("2006-01", p.FeatureMonth)
		if err != nil {
			t.Fatal(err)
		}
		prev := iceberg.Date(int32(month.AddDate(0, -1, 0).Unix() / 86400))
		filters = append(filters, iceberg.NewAnd(iceberg.EqualTo(iceberg.Reference("run"), p.PrevTierRun),
			iceberg.EqualTo(iceberg.Reference("feature_month"), prev)))
	}
	var cost lake.ScanCost
	for _, f := range filters {
		for _, err := range lake.Scan(context.Background(), cat, lake.ScoresTable, lake.Select("run"), lake.Where(f), lake.CountInto(&cost)) {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return cost.Rows
}

// scoresLayout checks how crm.scores holds run: on a spec with the
// subscriber bucket, every data file of the run in one bucket's partition
// holding that bucket's rows alone (the shard steps' WriteRows, the
// commit's CommitFiles entries); on both specs, each bucket scan
// (lake.InBucket) opening the files of its bucket alone (every file, on a
// run-only spec) and returning exactly the rows of its bucket of a full
// scan, every column.
func scoresLayout(t *testing.T, cat lake.TableLoader, run string) {
	t.Helper()
	ctx := context.Background()
	tbl, err := cat.LoadTable(ctx, lake.ScoresTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	fid, spec := -1, tbl.Spec()
	for _, f := range spec.Fields() {
		if f.Name == lake.SubscriberBucketField {
			fid = f.FieldID
		}
	}
	filter := iceberg.EqualTo(iceberg.Reference("run"), run)
	tasks, err := tbl.Scan(table.WithRowFilter(filter)).PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) == 0 {
		t.Fatalf("crm.scores holds no file of run %s", run)
	}
	files := map[int]int64{} // bucket → data files of the run
	for _, task := range tasks {
		if fid < 0 {
			continue
		}
		v, ok := task.File.Partition()[fid].(int32)
		if !ok {
			t.Errorf("%s: no subscriber bucket in partition %v", task.File.FilePath(), task.File.Partition())
			continue
		}
		files[int(v)]++
		rows := 0
		if err := lake.ReadFiles(ctx, cat, lake.ScoresTable, []string{task.File.FilePath()}, func(rec arrow.RecordBatch) error {
			ids := rec.Column(rec.Schema().FieldIndices("subscriber_id")[0])
			for i := range int(rec.NumRows()) {
				if b := lake.SubscriberBucket(ids.ValueStr(i)); b != int(v) {
					t.Errorf("%s (bucket %d) holds %s of bucket %d", task.File.FilePath(), v, ids.ValueStr(i), b)
				}
			}
			rows += int(rec.NumRows())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if int64(rows) != task.File.Count() {
			t.Errorf("%s: %d rows, its entry says %d", task.File.FilePath(), rows, task.File.Count())
		}
	}
	text := func(opts ...lake.ScanOption) (rows []string, cost lake.ScanCost) {
		for b, err := range lake.Scan(ctx, cat, lake.ScoresTable, append(opts, lake.Where(filter), lake.CountInto(&cost))...) {
			if err != nil {
				t.Fatal(err)
			}
			rec := b.Record()
			for i := range int(rec.NumRows()) {
				var sb strings.Builder
				for c := range int(rec.NumCols()) {
					fmt.Fprintf(&sb, "%s=%s;", rec.ColumnName(c), rec.Column(c).ValueStr(i))
				}
				rows = append(rows, sb.String())
			}
		}
		slices.Sort(rows)
		return rows, cost
	}
	all, _ := text()
	byBucket := map[int][]string{}
	for _, row := range all {
		id := row[strings.Index(row, ";subscriber_id=")+len(";subscriber_id="):]
		id = id[:strings.IndexByte(id, ';')]
		byBucket[lake.SubscriberBucket(id)] = append(byBucket[lake.SubscriberBucket(id)], row)
	}
	for b := range lake.SubscriberBuckets {
		got, cost := text(lake.InBucket(b))
		if !slices.Equal(got, byBucket[b]) {
			t.Errorf("bucket %d scan of run %s: %d rows, the full scan has %d of that bucket (or they differ)", b, run, len(got), len(byBucket[b]))
		}
		want := files[b]
		if fid < 0 {
			want = int64(len(tasks))
		}
		if cost.DataFiles != want || len(byBucket[b]) == 0 {
			t.Errorf("bucket %d scan of run %s opened %d data files for its %d rows, want %d (bucket spec: %v)", b, run, cost.DataFiles, len(got), want, fid >= 0)
		}
		if b == 0 {
			t.Logf("crm.scores, run %s: %d data files; bucket 0's scan opens %d of them, reads %d rows and drops %d (bucket spec: %v)",
				run, len(tasks), cost.DataFiles, cost.Rows, cost.BucketDropped, fid >= 0)
		}
	}
}

// featureReads is what one process reads of crm.features for a run of
// feature month fm (the rows of the months LoadBucket reads, and every row
// for the history and the report), and the table's data files.
func featureReads(t *testing.T, cat lake.TableLoader, fm string) (rows, files int64) {
	t.Helper()
	month, err := time.Parse("2006-01", fm)
	if err != nil {
		t.Fatal(err)
	}
	day := func(m time.Time) iceberg.Date { return iceberg.Date(int32(m.Unix() / 86400)) }
	window := iceberg.NewAnd(iceberg.GreaterThanEqual(iceberg.Reference("month"), day(month.AddDate(0, -3, 0))),
		iceberg.LessThanEqual(iceberg.Reference("month"), day(month)))
	var cost lake.ScanCost
	for _, opts := range [][]lake.ScanOption{{lake.Where(window)}, {}} {
		var c lake.ScanCost
		for _, err := range lake.Scan(context.Background(), cat, lake.FeaturesTable, append(opts, lake.Select("month"), lake.CountInto(&c))...) {
			if err != nil {
				t.Fatal(err)
			}
		}
		cost.Add(c)
		files = c.DataFiles
	}
	return cost.Rows, files
}

func fanOutEqualsRun(t *testing.T, cat lake.TableLoader, r *scoring.Runner, clock time.Time) {
	ctx := context.Background()
	const listSize = 40
	single, err := r.Run(ctx, scoring.Options{Now: func() time.Time { return clock }, ListSize: listSize})
	if err != nil {
		t.Fatal(err)
	}
	rd := scoresReader{t, cat}
	want := captureRun(t, rd, r.Serving, single.Snapshot)

	// A fresh Runner per step, as separate invocations have.
	runner := func() *scoring.Runner {
		return &scoring.Runner{Tables: r.Tables, Models: r.Models, Serving: r.Serving, Shards: r.Shards}
	}
	fixed := func() time.Time { return clock }
	// The clock of a real run is time.Now; here the plan is made with the
	// test's clock and then travels as JSON like any other.
	p, _, err := runner().Plan(ctx, scoring.Options{Now: fixed, ListSize: listSize})
	if err != nil {
		t.Fatal(err)
	}
	planned := roundTrip[scoring.Planned](t, &scoring.Planned{Plan: p, Buckets: bucketTasks(p)})
	if len(planned.Buckets) != lake.SubscriberBuckets {
		t.Fatalf("plan has %d bucket tasks, want %d", len(planned.Buckets), lake.SubscriberBuckets)
	}
	var parts []scoring.Part
	total := 0
	for _, task := range planned.Buckets {
		task = roundTrip[scoring.Task](t, task)
		ans, err := runner().Handle(ctx, task)
		if err != nil {
			t.Fatalf("bucket %d: %v", task.Bucket, err)
		}
		part := roundTrip[scoring.Part](t, ans)
		if part.Customers == 0 {
			t.Errorf("bucket %d scored no customers", part.Bucket)
		}
		if len(part.Pieces) != max(1, r.Shards) {
			t.Errorf("bucket %d stored %d serving pieces, want one per shard (%d)", part.Bucket, len(part.Pieces), max(1, r.Shards))
		}
		total += part.Customers
		parts = append(parts, part)
	}
	if total != single.Scored+single.WinBack {
		t.Errorf("buckets hold %d customers, the single run %d", total, single.Scored+single.WinBack)
	}
	// What the buckets read of crm.features: their own files (together
	// what one process reads, rows and files); from a month-only table,
	// every file, all of it, each.
	oneRows, tableFiles := featureReads(t, cat, p.FeatureMonth)
	var readRows int64
	for _, pt := range parts {
		readRows += pt.FeatureRows
	}
	tbl, err := cat.LoadTable(ctx, lake.FeaturesTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	monthOnly, spec := true, tbl.Spec()
	for _, f := range spec.Fields() {
		monthOnly = monthOnly && f.Name != lake.SubscriberBucketField
	}
	t.Logf("bucket 0's two scans of crm.features read %d data files (the table has %d) and %d rows; the buckets %d rows in all, one process %d",
		parts[0].FeatureFiles, tableFiles, parts[0].FeatureRows, readRows, oneRows)
	if want := oneRows * map[bool]int64{false: 1, true: lake.SubscriberBuckets}[monthOnly]; readRows != want || oneRows == 0 {
		t.Errorf("the buckets read %d rows of crm.features, want %d (one process reads %d; month-only table: %v)", readRows, want, oneRows, monthOnly)
	}
	// What they read of crm.scores (the history runs, the previous
	// month's tiers): their own files, together what one process reads;
	// from a run-only table every file of those runs, all of it, each.
	oneScores := scoreReads(t, cat, planned.Plan)
	var readScores int64
	for _, pt := range parts {
		readScores += pt.ScoreRows
	}
	stbl, err := cat.LoadTable(ctx, lake.ScoresTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	runOnly, sspec := true, stbl.Spec()
	for _, f := range sspec.Fields() {
		runOnly = runOnly && f.Name != lake.SubscriberBucketField
	}
	t.Logf("bucket 0's scans of crm.scores read %d data files and %d rows; the buckets %d rows in all, one process %d (history runs %v, previous tiers %q)",
		parts[0].ScoreFiles, parts[0].ScoreRows, readScores, oneScores, planned.Plan.HistoryRuns, planned.Plan.PrevTierRun)
	if planned.Plan.PrevTierRun == "" {
		t.Error("the plan has no previous run with value tiers")
	}
	if want := oneScores * map[bool]int64{false: 1, true: lake.SubscriberBuckets}[runOnly]; readScores != want {
		t.Errorf("the buckets read %d rows of crm.scores, want %d (one process reads %d; run-only table: %v)", readScores, want, oneScores, runOnly)
	}
	if slices.ContainsFunc(planned.Plan.HistoryRuns, func(run string) bool { return run != planned.Plan.Run }) && oneScores == 0 {
		t.Errorf("history runs %v, but one process reads no row of crm.scores", planned.Plan.HistoryRuns)
	}
	// A part whose detail pieces are not the size its answer says is
	// refused, and the parts stay for a retry (the rank step below).
	bad := slices.Clone(parts)
	bad[3].DetailBytes++
	if _, err := runner().Handle(ctx, scoring.Task{Action: "rank", Plan: planned.Plan, Parts: bad}); err == nil ||
		!strings.Contains(err.Error(), "detail") {
		t.Errorf("rank with a detail piece of the wrong size: %v, want an error naming the detail", err)
	}
	bad = slices.Clone(parts)
	bad[5].Pieces = slices.Clone(bad[5].Pieces)
	bad[5].Pieces[0].Columns++
	// The ranks do not read the pieces; the shard step that does refuses
	// the part.
	if ans, err := runner().Handle(ctx, scoring.Task{Action: "rank", Plan: planned.Plan, Parts: bad}); err != nil {
		t.Fatal(err)
	} else if _, err := runner().Handle(ctx, roundTrip[scoring.Ranked](t, ans).Shards[0]); err == nil ||
		!strings.Contains(err.Error(), "piece") {
		t.Errorf("shard with a columns piece of the wrong size: %v, want an error naming the piece", err)
	}
	ans, err := runner().Handle(ctx, roundTrip[scoring.Task](t, scoring.Task{Action: "rank", Plan: planned.Plan, Parts: parts}))
	if err != nil {
		t.Fatal(err)
	}
	rk := roundTrip[scoring.Ranked](t, ans)
	if len(rk.Shards) != max(1, r.Shards) || rk.Key != scoring.RankedKey(planned.Plan.Run) {
		t.Fatalf("rank answered %d shard tasks and key %q, want %d and %q", len(rk.Shards), rk.Key, max(1, r.Shards), scoring.RankedKey(planned.Plan.Run))
	}
	var shards []scoring.ShardDone
	rows := 0
	for i, task := range rk.Shards {
		task = roundTrip[scoring.Task](t, task)
		if task.Action != "shard" || task.Shard != i || task.Ranked != rk.Key {
			t.Errorf("shard task %d = %+v", i, task)
		}
		// 256 shard tasks (serving.MaxShards) stay well inside the 256 KB
		// a state passes on.
		if b, _ := json.Marshal(task); len(b) > 100 {
			t.Errorf("shard task %d is %d bytes of JSON, want at most 100: %s", i, len(b), b)
		}
		ans, err := runner().Handle(ctx, task)
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		if i == 0 {
			// A retried shard step (its first attempt's answer lost, as
			// when the invocation died after its files): its files are
			// written again and the first attempt's are named by no list,
			// so the commit below holds each row once.
			if ans, err = runner().Handle(ctx, task); err != nil {
				t.Fatalf("shard %d again: %v", i, err)
			}
		}
		sd := roundTrip[scoring.ShardDone](t, ans)
		rows += sd.Rows
		shards = append(shards, sd)
	}
	if rows != single.Scored+single.WinBack {
		t.Errorf("shards hold %d customers, the single run %d", rows, single.Scored+single.WinBack)
	}
	// A missing or foreign shard commits nothing.
	if _, err := runner().Handle(ctx, scoring.Task{Action: "commit", Plan: planned.Plan, Ranked: rk.Key, Shards: shards[1:]}); err == nil ||
		!strings.Contains(err.Error(), "shard") {
		t.Errorf("commit without shard 0: %v, want an error naming the shards", err)
	}
	wrong := slices.Clone(shards)
	wrong[0].Rows++
	if _, err := runner().Handle(ctx, scoring.Task{Action: "commit", Plan: planned.Plan, Ranked: rk.Key, Shards: wrong}); err == nil ||
		!strings.Contains(err.Error(), "rows") {
		t.Errorf("commit with a shard of the wrong size: %v, want an error naming the rows", err)
	}
	commit := roundTrip[scoring.Task](t, scoring.Task{Action: "commit", Plan: planned.Plan, Ranked: rk.Key, Shards: shards})
	ans, err = runner().Handle(ctx, commit)
	if err != nil {
		t.Fatal(err)
	}
	fan := roundTrip[scoring.Result](t, ans)
	if fan.Run != single.Run || fan.Scored != single.Scored || fan.WinBack != single.WinBack ||
		!reflect.DeepEqual(fan.Lists, single.Lists) || fan.TotalValueAtRisk != single.TotalValueAtRisk ||
		fan.TotalProfit != single.TotalProfit || fan.MeanProbability != single.MeanProbability || fan.MeanBadDebt != single.MeanBadDebt {
		t.Errorf("fan-out result %+v\nsingle %+v", fan, single)
	}
	got := captureRun(t, rd, r.Serving, fan.Snapshot)
	if len(got.rows) != len(want.rows) || len(want.rows) != single.Scored+single.WinBack {
		t.Fatalf("crm.scores: fan-out %d rows, single %d, customers %d", len(got.rows), len(want.rows), single.Scored+single.WinBack)
	}
	for i := range want.rows {
		if got.rows[i] != want.rows[i] {
			t.Fatalf("crm.scores row %d:\nfan-out %s\nsingle  %s", i, got.rows[i], want.rows[i])
		}
	}
	if len(got.files) != len(want.files) || len(want.files) != 1+2*max(1, r.Shards) {
		t.Errorf("snapshot: fan-out %d files, single %d, want %d", len(got.files), len(want.files), 1+2*max(1, r.Shards))
	}
	for k, b := range want.files {
		if !slices.Equal(got.files[k], b) {
			t.Errorf("snapshot file %s: fan-out %d bytes differs from single %d bytes", k, len(got.files[k]), len(b))
		}
	}
	scoresLayout(t, cat, fan.Run)
	// The parts are gone and each held only its bucket's customers: the
	// snapshot's customers, each in the bucket that scored it.
	cs := snapshotCustomers(t, r.Serving, fan.Snapshot)
	per := map[int]int{}
	for _, c := range cs {
		per[lake.SubscriberBucket(c.SubscriberID)]++
	}
	for _, pt := range parts {
		if per[pt.Bucket] != pt.Customers {
			t.Errorf("bucket %d: part has %d customers, the snapshot %d of that bucket", pt.Bucket, pt.Customers, per[pt.Bucket])
		}
		keys := []string{pt.Key, scoring.RankedKey(planned.Plan.Run), scoring.ReportKey(planned.Plan.Run, pt.Bucket)}
		for s := range pt.Pieces {
			keys = append(keys, scoring.ShardKey(planned.Plan.Run, s))
			keys = append(keys, scoring.PieceKey(planned.Plan.Run, pt.Bucket, s, "columns"), scoring.PieceKey(planned.Plan.Run, pt.Bucket, s, "detail"))
		}
		for _, key := range keys {
			if _, err := r.Serving.Get(ctx, key); !errors.Is(err, lake.ErrNotFound) {
				t.Errorf("part %s after the commit: %v, want not found", key, err)
			}
		}
		if pt.DetailBytes == 0 {
			t.Errorf("bucket %d: no detail piece", pt.Bucket)
		}
	}
}

// snapshotCustomers reads every customer of the run p points to, shard by
// shard when it is sharded.
func snapshotCustomers(t *testing.T, st serving.Store, p serving.Pointer) []serving.Customer {
	t.Helper()
	ctx := context.Background()
	src := st.(serving.Source)
	if len(p.Shards) == 0 {
		snap, err := serving.Open(ctx, src, p, serving.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cs, err := snap.AllCustomers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	var out []serving.Customer
	for k := range p.Shards {
		snap, err := serving.OpenShard(ctx, src, p, k, len(p.Shards), serving.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cs, err := snap.AllCustomers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cs...)
	}
	return out
}

func bucketTasks(p *scoring.Plan) []scoring.Task {
	var out []scoring.Task
	for k := range lake.SubscriberBuckets {
		out = append(out, scoring.Task{Action: "bucket", Plan: p, Bucket: k})
	}
	return out
}

// TestRankRefusesIncompleteParts: a missing, repeated or foreign part
// writes nothing.
func TestRankRefusesIncompleteParts(t *testing.T) {
	r := &scoring.Runner{Serving: serving.NewMemStore()}
	p := &scoring.Plan{Run: "20260703T050000Z"}
	all := func() []scoring.Part {
		var out []scoring.Part
		for k := range lake.SubscriberBuckets {
			out = append(out, scoring.Part{Bucket: k, Key: scoring.PartKey(p.Run, k)})
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		parts []scoring.Part
		want  string
	}{
		{"missing", all()[1:], "7 of 8 buckets"},
		{"twice", append(all(), scoring.Part{Bucket: 3, Key: scoring.PartKey(p.Run, 3)}), "given twice"},
		{"out of range", append(all()[1:], scoring.Part{Bucket: 8, Key: scoring.PartKey(p.Run, 8)}), "out of range"},
		{"other run", append(all()[1:], scoring.Part{Bucket: 0, Key: scoring.PartKey("20260702T050000Z", 0)}), "not this run's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Handle(context.Background(), scoring.Task{Action: "rank", Plan: p, Parts: tc.parts})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("rank of %s parts: %v, want an error saying %q", tc.name, err, tc.want)
			}
		})
	}
	for _, task := range []scoring.Task{{Action: "bucket"}, {Action: "bucket", Plan: p, Bucket: -1}, {Action: "nope"},
		{Action: "shard"}, {Action: "shard", Ranked: scoring.RankedKey(p.Run), Shard: 1}, {Action: "commit"},
		{Action: "commit", Plan: p, Ranked: scoring.RankedKey(p.Run)}} {
		if _, err := r.Handle(context.Background(), task); err == nil {
			t.Errorf("Handle(%+v) = nil error", task)
		}
	}
}

// TestShardedRunWritesEachShard: a Runner with Shards writes the run's
// snapshot in that many shards (the layout the api's shard functions
// open); together they hold exactly the unsharded run's customers, each in
// the shard ShardOf names, with the same figures and detail.
func TestShardedRunWritesEachShard(t *testing.T) {
	_, r := trainedLake(t)
	ctx := context.Background()
	clock := time.Date(2026, 7, 3, 5, 0, 0, 0, time.UTC)
	if _, err := r.Run(ctx, scoring.Options{Now: func() time.Time { return clock }, ListSize: 40}); err != nil {
		t.Fatal(err)
	}
	_, whole := readSnapshot(t, r.Serving)
	byID := map[string]serving.Customer{}
	for _, c := range whole {
		byID[c.SubscriberID] = c
	}

	const n = 3
	sharded := &scoring.Runner{Tables: r.Tables, Models: r.Models, Serving: r.Serving, Shards: n}
	later := clock.Add(time.Hour)
	res, err := sharded.Run(ctx, scoring.Options{Now: func() time.Time { return later }, ListSize: 40})
	if err != nil {
		t.Fatal(err)
	}
	p, err := serving.Latest(ctx, r.Serving, func(err error) bool { return errors.Is(err, lake.ErrNotFound) })
	if err != nil {
		t.Fatal(err)
	}
	if p.Run != res.Run || len(p.Shards) != n {
		t.Fatalf("latest.json: run %s with %d shards, want run %s in %d", p.Run, len(p.Shards), res.Run, n)
	}
	src := r.Serving.(serving.Source)
	seen := 0
	for k := range n {
		snap, err := serving.OpenShard(ctx, src, p, k, n, serving.Options{})
		if err != nil {
			t.Fatalf("shard %d: %v", k, err)
		}
		cs, err := snap.AllCustomers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			t.Errorf("shard %d holds no customers", k)
		}
		for _, c := range cs {
			if got := serving.ShardOf(c.SubscriberID, n); got != k {
				t.Errorf("customer %s in shard %d, ShardOf says %d", c.SubscriberID, k, got)
			}
			w, ok := byID[c.SubscriberID]
			if !ok {
				t.Errorf("shard %d: customer %s is not in the unsharded run", k, c.SubscriberID)
				continue
			}
			if !reflect.DeepEqual(c, w) {
				t.Errorf("customer %s: shard %d's row differs from the unsharded run's\n got %+v\nwant %+v", c.SubscriberID, k, c, w)
			}
		}
		seen += len(cs)
	}
	if seen != len(whole) {
		t.Errorf("the shards hold %d customers, the unsharded run %d", seen, len(whole))
	}
}

// TestCommitHoldsOneBucket: the commit holds the rank rows of one bucket
// and the serving pieces of one shard at a time, not the run's: what it
// decodes at once is the largest bucket's rows and the largest shard's
// pieces, a fraction of every customer's when the run has more shards.
func TestCommitHoldsOneBucket(t *testing.T) {
	_, r0 := trainedLake(t)
	ctx := context.Background()
	clock := time.Date(2026, 7, 3, 5, 0, 0, 0, time.UTC)
	var pieceBytes []int64
	for i, shards := range []int{1, 4} {
		r := *r0
		r.Shards = shards
		res, err := r.Run(ctx, scoring.Options{Now: func() time.Time { return clock.Add(time.Duration(i) * time.Hour) }, ListSize: 40})
		if err != nil {
			t.Fatal(err)
		}
		cs := snapshotCustomers(t, r.Serving, res.Snapshot)
		per := map[int]int{}
		for _, c := range cs {
			per[lake.SubscriberBucket(c.SubscriberID)]++
		}
		largest := 0
		for _, n := range per {
			largest = max(largest, n)
		}
		if res.Held == nil || res.Held.RankRows != largest || largest >= len(cs) {
			t.Fatalf("%d shards: the commit held %+v rank rows at once, want the largest bucket's %d of %d customers", shards, res.Held, largest, len(cs))
		}
		if res.Held.RankedNumbers == 0 || res.Held.RankedNumbers >= len(cs) {
			t.Errorf("%d shards: %d ranked numbers held for %d customers, want some but fewer than one each (the histograms' bins)", shards, res.Held.RankedNumbers, len(cs))
		}
		pieceBytes = append(pieceBytes, res.Held.PieceBytes)
	}
	if pieceBytes[1]*2 > pieceBytes[0] {
		t.Errorf("the commit held %d bytes of pieces at once in 4 shards, %d unsharded: want one shard's", pieceBytes[1], pieceBytes[0])
	}
}
