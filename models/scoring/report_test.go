package scoring_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/models/scoring"
	"github.com/telcolake/telcolake/models/serving"
)

// stepsUntilCommit runs a scoring run as the DailyScore state machine does
// up to its commit (a plan, one invocation per bucket, the rank step, one
// per serving shard, each with a fresh Runner) and answers the commit's
// task.
func stepsUntilCommit(t *testing.T, r *scoring.Runner, clock time.Time) scoring.Task {
	t.Helper()
	ctx := context.Background()
	runner := func() *scoring.Runner {
		return &scoring.Runner{Tables: r.Tables, Models: r.Models, Serving: r.Serving, Shards: r.Shards}
	}
	p, _, err := runner().Plan(ctx, scoring.Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	var parts []scoring.Part
	for _, task := range bucketTasks(p) {
		ans, err := runner().Handle(ctx, task)
		if err != nil {
			t.Fatalf("bucket %d: %v", task.Bucket, err)
		}
		parts = append(parts, *ans.(*scoring.Part))
	}
	rk, err := runner().Rank(ctx, p, parts)
	if err != nil {
		t.Fatal(err)
	}
	var shards []scoring.ShardDone
	for _, task := range rk.Shards {
		sd, err := runner().Shard(ctx, task.Ranked, task.Shard)
		if err != nil {
			t.Fatalf("shard %d: %v", task.Shard, err)
		}
		shards = append(shards, *sd)
	}
	return scoring.Task{Action: "commit", Plan: p, Ranked: rk.Key, Shards: shards}
}

// TestReportFromPartsEqualsWhole: the lifecycle report the commit builds
// from the buckets' parts (transitions, value curve, drift, tracking, the
// causes of leavers) equals, byte for byte as JSON, the report of the
// whole register, every crm.features row and the chosen crm.scores runs
// read in one process after the commit (the commit's code before the
// parts): after a first run (Run), after leavers and a second run of the
// same month through the state machine's steps in 3 serving shards, both
// with a sample of a fifth of the subscribers, and after a third run
// sampling everyone.
func TestReportFromPartsEqualsWhole(t *testing.T) {
	l, r := trainedLake(t)
	ctx := context.Background()
	check := func(name string, sampled bool) *insight.Report {
		t.Helper()
		meta := latestMeta(t, r.Serving)
		want, err := r.WholeReport(ctx, meta)
		if err != nil {
			t.Fatal(err)
		}
		if string(meta.Insight) != string(want) {
			got := string(meta.Insight)
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			lo := max(0, i-200)
			t.Fatalf("%s: the report from the parts differs from the whole tables' at byte %d:\n got …%.400s\nwant …%.400s", name, i, got[lo:], want[lo:])
		}
		var rep insight.Report
		if err := json.Unmarshal(meta.Insight, &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Transitions) == 0 || len(rep.ValueCurve) == 0 || len(rep.Tracking.Drift) == 0 || len(rep.Tracking.Runs) == 0 {
			t.Fatalf("%s: a report with nothing to compare: %d transitions, %d tenures, %d drifts, %d tracked runs",
				name, len(rep.Transitions), len(rep.ValueCurve), len(rep.Tracking.Drift), len(rep.Tracking.Runs))
		}
		for _, rt := range rep.Tracking.Runs {
			if rt.FeatureMonth == "2026-06" && sampled != (rt.Customers < 1000) {
				t.Errorf("%s: the tracked run of 2026-06 holds %d customers; sampled %v", name, rt.Customers, sampled)
			}
		}
		return &rep
	}
	restore := scoring.SetSampleTarget(300)
	defer restore()
	if _, err := r.Run(ctx, scoring.Options{Now: func() time.Time { return time.Date(2026, 7, 3, 5, 0, 0, 0, time.UTC) }}); err != nil {
		t.Fatal(err)
	}
	check("first run", true)

	left := ingestLeavers(t, l, 40)
	sharded := *r
	sharded.Shards = 3
	commit := stepsUntilCommit(t, &sharded, time.Date(2026, 7, 16, 5, 0, 0, 0, time.UTC))
	if _, err := sharded.Handle(ctx, commit); err != nil {
		t.Fatal(err)
	}
	rep := check("second run, in steps", true)
	leavers := 0
	for _, c := range rep.Causes {
		for _, lm := range c.Left {
			if lm.Month == "2026-07" && c.By == "plan" {
				leavers = lm.Scored
			}
		}
	}
	if leavers != len(left) {
		t.Errorf("causes of leavers count %d scored leavers in 2026-07, want the %d deactivated", leavers, len(left))
	}

	restore()
	if _, err := r.Run(ctx, scoring.Options{Now: func() time.Time { return time.Date(2026, 7, 17, 5, 0, 0, 0, time.UTC) }}); err != nil {
		t.Fatal(err)
	}
	check("third run, everyone sampled", false)
}

// failingPointer is a serving store whose writes of the pointer fail.
type failingPointer struct{ serving.Store }

func (f failingPointer) Put(ctx context.Context, key string, body []byte) error {
	if key == serving.LatestKey {
		return errPointer
	}
	return f.Store.Put(ctx, key, body)
}

var errPointer = errorString("the pointer's write failed")

type errorString string

func (e errorString) Error() string { return string(e) }

// TestCommitRetriedAfterScoresCommit: a commit that fails after its
// crm.scores snapshot (the pointer's write fails) leaves the run's rows
// committed and the pointer where it was; its retry finds the run's files
// committed, makes no crm.scores snapshot (without the check it made two:
// the partition deleted and the same files added again), and publishes
// the run: every customer once in crm.scores, the snapshot of the run,
// the parts removed.
func TestCommitRetriedAfterScoresCommit(t *testing.T) {
	l, r := trainedLake(t)
	ctx := context.Background()
	first, err := r.Run(ctx, scoring.Options{Now: func() time.Time { return time.Date(2026, 7, 3, 5, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	sharded := *r
	sharded.Shards = 2
	commit := stepsUntilCommit(t, &sharded, time.Date(2026, 7, 4, 5, 0, 0, 0, time.UTC))
	broken := sharded
	broken.Serving = failingPointer{r.Serving}
	if _, err := broken.Handle(ctx, commit); err == nil {
		t.Fatal("a commit whose pointer write fails succeeded")
	}
	run := commit.Plan.Run
	rd := scoresReader{t, l.Cat}
	rows := len(rd.readRows(run))
	if rows == 0 {
		t.Fatal("the failed commit committed no crm.scores rows: the test does not fail after the scores commit")
	}
	if p := latest(t, r.Serving); p.Run != first.Run {
		t.Fatalf("the pointer moved to %s after a failed commit, want %s", p.Run, first.Run)
	}
	snaps := scoresSnapshots(t, l)
	ans, err := sharded.Handle(ctx, commit)
	if err != nil {
		t.Fatalf("the retried commit: %v", err)
	}
	res := ans.(*scoring.Result)
	if got := len(rd.readRows(run)); got != rows || got != res.Scored+res.WinBack {
		t.Errorf("crm.scores holds %d rows of the run after the retry, %d before it, want the %d customers", got, rows, res.Scored+res.WinBack)
	}
	if n := scoresSnapshots(t, l); n != snaps {
		t.Errorf("the retry made %d crm.scores snapshots, want none", n-snaps)
	}
	p := latest(t, r.Serving)
	cs := snapshotCustomers(t, r.Serving, p)
	if p.Run != run || len(cs) != rows || len(p.Shards) != 2 {
		t.Errorf("after the retry the snapshot is run %s of %d customers in %d shards, want %s of %d in 2",
			p.Run, len(cs), len(p.Shards), run, rows)
	}
	if !reflect.DeepEqual(p, res.Snapshot) {
		t.Errorf("the pointer %+v, the retry's answer %+v", p, res.Snapshot)
	}
	if _, err := r.Serving.Get(ctx, scoring.RankedKey(run)); err == nil {
		t.Error("the parts are still there after the retried commit")
	}
}

// scoresSnapshots is how many snapshots crm.scores has.
func scoresSnapshots(t *testing.T, l *laketest.Lake) int {
	t.Helper()
	tbl, err := l.Cat.LoadTable(context.Background(), lake.ScoresTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	return len(tbl.Metadata().Snapshots())
}

// latest reads the serving store's pointer.
func latest(t *testing.T, st serving.Store) serving.Pointer {
	t.Helper()
	body, err := st.Get(context.Background(), serving.LatestKey)
	if err != nil {
		t.Fatal(err)
	}
	var p serving.Pointer
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// latestMeta reads the meta.json of the run the pointer names.
func latestMeta(t *testing.T, st serving.Store) *serving.Meta {
	t.Helper()
	body, err := st.Get(context.Background(), latest(t, st).Meta)
	if err != nil {
		t.Fatal(err)
	}
	meta := &serving.Meta{}
	if err := json.Unmarshal(body, meta); err != nil {
		t.Fatal(err)
	}
	return meta
}
