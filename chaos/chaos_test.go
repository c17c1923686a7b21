package chaos_test

import (
	"cmp"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/telcolake/telcolake/chaos"
	"github.com/telcolake/telcolake/lake"
)

var (
	long = flag.Bool("chaos.long", false, "long rounds (make chaos): a bigger file, more files, more kills")
	seed = flag.Uint64("chaos.seed", 0, "seed of the kill plans (0: 1 for the short round, the time for long ones)")
)

func TestMain(m *testing.M) {
	chaos.RunChildIfRequested()
	flag.Parse()
	os.Exit(m.Run())
}

const cdrHeader = "call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n"

// cdr is an export of n valid rows with call ids unique to prefix, over
// 28 days of October.
func cdr(prefix string, n int) []byte { return cdrDays(prefix, n, 1, 28) }

// cdrDays is an export whose calls start on days first … first+days-1 of
// October (a day's export is one partition, a month's 28).
func cdrDays(prefix string, n, first, days int) []byte {
	var b strings.Builder
	b.WriteString(cdrHeader)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%s-%07d,S%06d,4917%08d,4930%06d,offnet,2026-10-%02dT%02d:%02d:07Z,%d,voice,out,false,false,CELL%03d,North,0,0.%04d\n",
			prefix, i, i%5000, i%5000, i%9973, first+i%days, i%24, i%60, 1+i%3600, i%100, i%10000)
	}
	return []byte(b.String())
}

// round sizes the work.
type round struct {
	bigFiles, bigRows     int
	bigKills              int // per large file
	small, smallRows      int
	workers               int
	writers, pgKills      int // the PostgreSQL round
	pgFiles, pgRows       int
	markerDelayUpTo       time.Duration
	smallKillsPerFileUpTo int
}

func sizes() round {
	if *long {
		return round{bigFiles: 3, bigRows: 150_000, bigKills: 12, small: 100, smallRows: 300, workers: 4, writers: 16, pgKills: 4, pgFiles: 12, pgRows: 20_000,
			markerDelayUpTo: 30 * time.Millisecond, smallKillsPerFileUpTo: 3}
	}
	return round{bigFiles: 1, bigRows: 20_000, bigKills: 6, small: 10, smallRows: 200, workers: 3, writers: 16, pgKills: 4, pgFiles: 12, pgRows: 2000,
		markerDelayUpTo: 20 * time.Millisecond, smallKillsPerFileUpTo: 1}
}

func newRNG(t *testing.T) *rand.Rand {
	s := *seed
	if s == 0 {
		s = 1
		if *long {
			s = uint64(time.Now().UnixNano())
		}
	}
	t.Logf("kill plans from seed %d (rerun with -chaos.seed=%d)", s, s)
	return rand.New(rand.NewPCG(s, 0x7e1c0))
}

// kills plans n deaths for a file like the probed one: half at a marker
// before the data commit (the last of them is the commit loop's reload, so
// a delayed kill there lands inside the commit), a quarter right after the
// data commit (each at once or a few ms later), a quarter from outside at a
// random time within the first half of the probe's lifetime (a process
// that runs faster than the probe outlives a later one, and its file is
// done; measured: at 80% some large files lived through their first kill).
func kills(rng *rand.Rand, n int, p chaos.Probe, delayUpTo time.Duration) []chaos.Kill {
	out := make([]chaos.Kill, n)
	for i := range out {
		switch rng.IntN(4) {
		case 0, 1:
			out[i] = chaos.Kill{AtMarker: 1 + rng.IntN(p.CommittedAt-1)}
		case 2:
			out[i] = chaos.Kill{AfterDataCommit: true}
		default:
			out[i] = chaos.Kill{After: time.Duration(1 + rng.Int64N(int64(p.Took)/2))}
			continue
		}
		if rng.IntN(2) == 0 {
			out[i].Delay = time.Duration(rng.Int64N(int64(delayUpTo)))
		}
	}
	// A death after the data commit ends the file's work (what follows is
	// a duplicate): those go last, so the others hit real work.
	slices.SortStableFunc(out, func(a, b chaos.Kill) int {
		return cmp.Compare(btoi(a.AfterDataCommit), btoi(b.AfterDataCommit))
	})
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func newLake(t *testing.T, catalog string) *chaos.Lake {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if catalog == "" {
		catalog = "sqlite://" + filepath.Join(dir, "catalog.db")
	}
	l, err := chaos.NewLake(context.Background(), dir, catalog, exe)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestKilledIngestsLoseNothing kills ingest processes over a large file and
// a burst of small ones, at markers (table loads, reads, the moment after
// the data commit, report writes) and at random times, redelivers until
// each file is done, redelivers everything once more, and checks the lake.
func TestKilledIngestsLoseNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns ingest processes and kills them")
	}
	rs := sizes()
	rng := newRNG(t)
	ctx := context.Background()
	l := newLake(t, "")
	start := time.Now()

	// How many markers an undisturbed ingest of each kind of file passes,
	// measured on a scratch lake, so that every planned marker is reached.
	scratch := newLake(t, "")
	bigBody := cdr("BIG", rs.bigRows)
	bigProbe, err := scratch.ProbeFile(ctx, "exports/cdr/2026/10/15/probe-big.csv", bigBody, int64(rs.bigRows))
	if err != nil {
		t.Fatal(err)
	}
	smallProbe, err := scratch.ProbeFile(ctx, "exports/cdr/2026/10/15/probe-small.csv", cdrDays("PROBE", rs.smallRows, 15, 1), int64(rs.smallRows))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("an undisturbed ingest: large file %+v, small file %+v", bigProbe, smallProbe)

	// Large files one after the other, each killed over and over until its
	// plan is spent or a delivery lives (then it is done).
	var files []chaos.File
	var total chaos.Tally
	for i := 0; i < rs.bigFiles; i++ {
		body := bigBody
		if i > 0 {
			body = cdr(fmt.Sprintf("BIG%d", i), rs.bigRows)
		}
		big, err := l.Drop(fmt.Sprintf("exports/cdr/2026/10/15/big-%d.csv", i), body, int64(rs.bigRows))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, big)
		plan := kills(rng, rs.bigKills, bigProbe, rs.markerDelayUpTo)
		tb, err := l.DeliverUntilDone(ctx, big, plan, rs.bigKills+10)
		total.Add(tb)
		t.Logf("large file %d (%d rows, %.1f MB): %d deliveries, %d killed (plan %v)", i, rs.bigRows, float64(big.Size)/1e6, tb.Deliveries, tb.Killed, plan)
		if err != nil {
			t.Fatal(err)
		}
	}

	type job struct {
		f     chaos.File
		kills []chaos.Kill
	}
	jobs := make(chan job)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for w := 0; w < rs.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				tl, err := l.DeliverUntilDone(ctx, j.f, j.kills, len(j.kills)+10)
				mu.Lock()
				total.Add(tl)
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < rs.small; i++ {
		// A burst of one day's small exports: one partition each, as mediation sends them.
		f, err := l.Drop(fmt.Sprintf("exports/cdr/2026/10/%02d/small-%03d.csv", 1+i%28, i), cdrDays(fmt.Sprintf("S%03d", i), rs.smallRows, 1+i%28, 1), int64(rs.smallRows))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		jobs <- job{f, kills(rng, rng.IntN(rs.smallKillsPerFileUpTo+1), smallProbe, rs.markerDelayUpTo)}
	}
	close(jobs)
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}

	// Every event once more, as a late retry or reconcile would: all no-ops.
	for _, f := range files {
		out, err := l.Deliver(ctx, f, chaos.Kill{})
		if err != nil || out.Err != "" || len(out.Result.Files) != 1 || out.Result.Files[0].Status != lake.StatusDuplicate {
			t.Errorf("redelivery of %s: %+v, %v; want duplicate", f.Key, out, err)
		}
	}
	found, err := l.Check(ctx, files)
	if err != nil {
		t.Error(err)
	}
	t.Logf("%d files, %d deliveries: %d killed, %d failed and retried, %d ended as duplicates; %d rows, %d snapshots read whole, %d log rows; orphans left for cleanup: %d data files, %d metadata files; %.1fs",
		len(files), total.Deliveries, total.Killed, total.Failed, total.Duplicates, found.Rows, found.Snapshots, found.LogRows,
		found.DataOrphans, found.MetadataOrphans, time.Since(start).Seconds())
	if total.Killed == 0 {
		t.Error("no delivery was killed: the round tested nothing")
	}
}

// TestRedeliveriesAfterACrashLogOnce: an ingest dies right after its data
// commit; eight redeliveries at once then find the data committed, and one
// of them, not eight, writes the log row (a bug this package found: each
// wrote one).
func TestRedeliveriesAfterACrashLogOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns ingest processes and kills them")
	}
	ctx := context.Background()
	l := newLake(t, "")
	f, err := l.Drop("exports/cdr/2026/10/01/crashed.csv", cdr("C", 50), 50)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := l.Deliver(ctx, f, chaos.Kill{AfterDataCommit: true}); err != nil || !out.Killed {
		t.Fatalf("first delivery: %+v, %v; want killed", out, err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := l.Deliver(ctx, f, chaos.Kill{}); err != nil || out.Err != "" {
				t.Errorf("redelivery: %+v, %v", out, err)
			}
		}()
	}
	wg.Wait()
	if _, err := l.Check(ctx, []chaos.File{f}); err != nil {
		t.Error(err)
	}
}

// TestSixteenWritersOnPostgres runs 16 ingest processes at once on the
// PostgreSQL catalog (12 files, 4 of them delivered twice at the same
// time), kills 4 of them at random moments, redelivers, and checks exact
// counts. It needs TELCOLAKE_TEST_POSTGRES (make test sets it through
// .ci/with-postgres).
func TestSixteenWritersOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns ingest processes and kills them")
	}
	pg := os.Getenv("TELCOLAKE_TEST_POSTGRES")
	if pg == "" {
		t.Skip("TELCOLAKE_TEST_POSTGRES is not set (run through .ci/with-postgres)")
	}
	rs := sizes()
	rng := newRNG(t)
	ctx := context.Background()
	l := newLake(t, scratchDatabase(t, pg))
	var files []chaos.File
	for i := 0; i < rs.pgFiles; i++ {
		f, err := l.Drop(fmt.Sprintf("exports/cdr/2026/10/%02d/pg-%02d.csv", 1+i, i), cdr(fmt.Sprintf("PG%02d", i), rs.pgRows), int64(rs.pgRows))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	// 16 deliveries at once: every file, and the first ones again.
	deliveries := make([]chaos.File, 0, rs.writers)
	for i := 0; i < rs.writers; i++ {
		deliveries = append(deliveries, files[i%len(files)])
	}
	plan := make([]chaos.Kill, len(deliveries))
	// Deaths at markers rather than on a timer, so that each one happens
	// however fast or loaded the machine is: half somewhere in the first six
	// markers (loads, the read, the commit loop), half right after the
	// data commit, each at once or a few ms later.
	for n, i := range rng.Perm(len(deliveries))[:rs.pgKills] {
		plan[i] = chaos.Kill{AtMarker: 1 + rng.IntN(6), AfterDataCommit: n%2 == 1}
		if plan[i].AfterDataCommit {
			plan[i].AtMarker = 0
		}
		if rng.IntN(2) == 0 {
			plan[i].Delay = time.Duration(rng.Int64N(int64(rs.markerDelayUpTo)))
		}
	}
	outs := make([]chaos.Outcome, len(deliveries))
	errs := make([]error, len(deliveries))
	var wg sync.WaitGroup
	for i, f := range deliveries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = l.Deliver(ctx, f, plan[i])
		}()
	}
	wg.Wait()
	killed, failed := 0, 0
	for i := range outs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if outs[i].Killed {
			killed++
		}
		if outs[i].Err != "" {
			failed++
			t.Logf("delivery %d (%s) failed and is redelivered: %s", i, deliveries[i].Key, outs[i].Err)
		}
	}
	// Redeliver until every file is done (the done ones answer duplicate).
	for _, f := range files {
		if _, err := l.DeliverUntilDone(ctx, f, nil, 10); err != nil {
			t.Error(err)
		}
	}
	found, err := l.Check(ctx, files)
	if err != nil {
		t.Error(err)
	}
	t.Logf("%d writers at once, %d killed, %d failed; %d rows in %d files, %d log rows; orphans: %d data, %d metadata",
		len(deliveries), killed, failed, found.Rows, len(files), found.LogRows, found.DataOrphans, found.MetadataOrphans)
	if killed == 0 {
		t.Error("no writer was killed: the round tested nothing")
	}
}

// scratchDatabase creates an empty database beside the one in url and
// returns its URL: other packages' tests use the shared one at the same time.
func scratchDatabase(t *testing.T, pg string) string {
	t.Helper()
	db, err := sql.Open("pgx", pg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name := fmt.Sprintf("chaos_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create scratch database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", pg)
		if err == nil {
			db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			db.Close()
		}
	})
	u, err := url.Parse(pg)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
