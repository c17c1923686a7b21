package reconcile_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/reconcile"
)

const cdrHeader = "call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n"

func cdr(prefix string, n int) string {
	var b strings.Builder
	b.WriteString(cdrHeader)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%s%05d,S%05d,4917%08d,4930%06d,offnet,2026-10-%02dT10:%02d:07Z,%d,voice,out,false,false,C1,North,0,0.10\n",
			prefix, i, i, i, i, 1+i%28, i%60, 1+i%600)
	}
	return b.String()
}

// fixture is a lake, its landing directory and a reconciler over both.
type fixture struct {
	t   *testing.T
	l   *laketest.Lake
	rc  *reconcile.Reconciler
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	l := laketest.New(t)
	f := &fixture{t: t, l: l, now: time.Now()}
	f.rc = &reconcile.Reconciler{
		Bucket: laketest.Landing,
		Store:  lake.DirStore{Root: l.Root},
		Ledger: func(ctx context.Context) ([]lake.LogEntry, error) { return lake.ReadIngestLog(ctx, l.Cat) },
		Ingest: l.In,
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:    func() time.Time { return f.now },
	}
	return f
}

// drop writes an export without ingesting it (its event is lost), modified age ago.
func (f *fixture) drop(key, body string, age time.Duration) {
	f.t.Helper()
	p := filepath.Join(f.l.Root, laketest.Landing, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		f.t.Fatal(err)
	}
	mt := f.now.Add(-age)
	if err := os.Chtimes(p, mt, mt); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) run(in reconcile.Input) reconcile.Report {
	f.t.Helper()
	rep, err := f.rc.Run(context.Background(), in)
	if err != nil {
		f.t.Fatalf("reconcile: %v", err)
	}
	return rep
}

func (f *fixture) rows() int64 {
	f.t.Helper()
	at, err := lake.ReadTable(context.Background(), f.l.Cat, lake.CDRTable, "call_id")
	if err != nil {
		f.t.Fatal(err)
	}
	defer at.Release()
	return at.NumRows()
}

func statuses(acts []reconcile.Action) map[string]string {
	out := map[string]string{}
	for _, a := range acts {
		out[a.Key] = a.Status
	}
	return out
}

// TestReconcileRedrivesLostFiles: files whose events were lost are ingested,
// files the ledger concluded (committed, rejected) are left alone, young
// files are left to their events, and the next run has nothing to do.
func TestReconcileRedrivesLostFiles(t *testing.T) {
	f := newFixture(t)
	f.l.Ingest(t, "exports/cdr/2026/10/01/a.csv", cdr("A", 30)) // its event came
	f.now = f.now.Add(16 * time.Minute)                         // a.csv is old enough to judge
	f.drop("exports/cdr/2026/10/02/lost.csv", cdr("L", 40), time.Hour)
	f.drop("exports/cdr/2026/09/30/late.csv", cdr("T", 20), 20*time.Minute) // late file under an old date
	f.drop("exports/cdr/2026/10/03/young.csv", cdr("Y", 10), time.Minute)
	f.drop("exports/unknown/what.csv", "x\n", time.Hour) // rejected on re-drive: concluded next time

	rep := f.run(reconcile.Input{})
	want := map[string]string{"exports/cdr/2026/10/02/lost.csv": lake.StatusCommitted, "exports/cdr/2026/09/30/late.csv": lake.StatusCommitted,
		"exports/unknown/what.csv": lake.StatusRejected}
	if got := statuses(rep.Redriven); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("re-driven %v, want %v", got, want)
	}
	if rep.Listed != 5 || rep.Young != 1 || rep.Concluded != 1 || rep.Checked != 4 {
		t.Errorf("listed %d, young %d, checked %d, concluded %d; want 5, 1, 4, 1", rep.Listed, rep.Young, rep.Checked, rep.Concluded)
	}
	if n := f.rows(); n != 30+40+20 {
		t.Errorf("crm.cdr has %d rows, want 90", n)
	}

	f.now = f.now.Add(time.Hour) // the young file is old enough now
	rep = f.run(reconcile.Input{})
	if got := statuses(rep.Redriven); len(got) != 1 || got["exports/cdr/2026/10/03/young.csv"] != lake.StatusCommitted {
		t.Errorf("second run re-drove %v, want only the once-young file", got)
	}
	rep = f.run(reconcile.Input{})
	if !rep.NothingToDo() || rep.Concluded != rep.Checked {
		t.Errorf("third run: %s (%+v); want nothing to do", rep.Summary(), rep)
	}
	if !strings.HasSuffix(rep.Summary(), "nothing to do") {
		t.Errorf("summary %q", rep.Summary())
	}
	if n := f.rows(); n != 100 {
		t.Errorf("crm.cdr has %d rows, want 100", n)
	}
	var st reconcile.State
	b, err := os.ReadFile(filepath.Join(f.l.Root, laketest.Landing, reconcile.StateKey))
	if err != nil || json.Unmarshal(b, &st) != nil {
		t.Fatalf("state %s: %v", b, err)
	}
	if !st.Watermark.Equal(f.now.Add(-reconcile.DefaultMinAge)) {
		t.Errorf("watermark %v, want now - min age %v", st.Watermark, f.now.Add(-reconcile.DefaultMinAge))
	}
	if _, err := os.Stat(filepath.Join(f.l.Root, laketest.Landing, filepath.FromSlash(rep.Key))); err != nil {
		t.Errorf("run report not written: %v", err)
	}
}

// TestReconcileWatermark: after a run, an object modified before the
// watermark minus the overlap is not judged again, while one inside the
// overlap is.
func TestReconcileWatermark(t *testing.T) {
	f := newFixture(t)
	f.run(reconcile.Input{}) // empty bucket: sets the watermark to now - 15 min
	f.now = f.now.Add(time.Hour)
	f.drop("exports/cdr/2026/10/01/ancient.csv", cdr("O", 5), 3*24*time.Hour)
	f.drop("exports/cdr/2026/10/01/inoverlap.csv", cdr("I", 5), 20*time.Hour)
	rep := f.run(reconcile.Input{})
	if got := statuses(rep.Redriven); len(got) != 1 || got["exports/cdr/2026/10/01/inoverlap.csv"] != lake.StatusCommitted {
		t.Errorf("re-driven %v, want only the file inside the overlap", got)
	}
	if rep.BeforeWindow != 1 {
		t.Errorf("before window %d, want 1", rep.BeforeWindow)
	}
}

// failingIngester fails every file: with an error, as a broken catalog
// would, or with status failed (out of time).
type failingIngester struct {
	calls    int
	timesOut bool
}

func (fi *failingIngester) Ingest(ctx context.Context, obj lake.Object) (lake.Result, error) {
	fi.calls++
	if fi.timesOut {
		return lake.Result{Status: lake.StatusFailed, Message: "out of time"}, nil
	}
	return lake.Result{}, errors.New("ingest " + obj.Key + ": catalog unavailable")
}

// TestReconcileGivesUp: a file whose re-drive fails (an error or status
// failed) is tried once per run, at most three times, then reported as
// given up without being tried.
func TestReconcileGivesUp(t *testing.T) {
	for _, timesOut := range []bool{false, true} {
		t.Run(fmt.Sprintf("status failed %v", timesOut), func(t *testing.T) { testGivesUp(t, timesOut) })
	}
}

func testGivesUp(t *testing.T, timesOut bool) {
	f := newFixture(t)
	fi := &failingIngester{timesOut: timesOut}
	f.rc.Ingest = fi
	f.drop("exports/cdr/2026/10/05/poison.csv", cdr("P", 5), time.Hour)
	for run := 1; run <= 5; run++ {
		f.now = f.now.Add(time.Hour)
		rep := f.run(reconcile.Input{})
		wantCalls := min(run, 3)
		if fi.calls != wantCalls {
			t.Errorf("run %d: %d ingest calls in all, want %d", run, fi.calls, wantCalls)
		}
		if run >= 4 && (len(rep.GivenUp) != 1 || len(rep.Redriven) != 0 || rep.GivenUp[0].Failures != 3) {
			t.Errorf("run %d: given up %+v, re-driven %+v; want the file given up after 3 failures", run, rep.GivenUp, rep.Redriven)
		}
	}
	// The sender uploads a corrected file (a new ETag): it is a new version, tried again.
	f.rc.Ingest = f.l.In
	f.drop("exports/cdr/2026/10/05/poison.csv", cdr("P", 6), 30*time.Minute)
	f.now = f.now.Add(time.Hour)
	rep := f.run(reconcile.Input{})
	if got := statuses(rep.Redriven); got["exports/cdr/2026/10/05/poison.csv"] != lake.StatusCommitted || len(rep.GivenUp) != 0 {
		t.Errorf("corrected file: re-driven %v, given up %+v", got, rep.GivenUp)
	}
}

func TestReconcileInput(t *testing.T) {
	f := newFixture(t)
	for _, in := range []reconcile.Input{{MinAge: "soon"}, {Overlap: "-1h"}, {MaxAttempts: -1}} {
		if _, err := f.rc.Run(context.Background(), in); err == nil {
			t.Errorf("Run(%+v) accepted bad input", in)
		}
	}
}
