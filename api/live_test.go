package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/telcolake/telcolake/models/serving"
)

// liveFixture is a Live over a memory store that counts reads, with a
// clock the test moves.
type liveFixture struct {
	st   *serving.MemStore
	live *Live
	now  time.Time
}

func newLiveFixture(t *testing.T) *liveFixture {
	t.Helper()
	lf := &liveFixture{st: serving.NewMemStore(), now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	live, err := NewLive(LiveConfig{Store: lf.st, NotFound: serving.IsNotFound, Config: Config{Keys: testKeys()},
		Every: time.Minute, Now: func() time.Time { return lf.now }})
	if err != nil {
		t.Fatal(err)
	}
	lf.live = live
	return lf
}

func (lf *liveFixture) write(t *testing.T, run string, n int) {
	t.Helper()
	meta, cs := genSnapshot(uint64(n), n, true)
	meta.Run = run
	if _, err := serving.Write(context.Background(), lf.st, meta, cs); err != nil {
		t.Fatal(err)
	}
}

func (lf *liveFixture) get(t *testing.T, target string, hdr ...string) (int, string, int) {
	t.Helper()
	before := lf.st.Reads()
	resp := record(lf.live, event("GET", target, hdr...))
	return resp.StatusCode, resp.Body, lf.st.Reads() - before
}

// TestLiveChecksKeysBeforeLoading: requests that are refused, public or
// unknown read nothing from the store; the first admitted one loads.
func TestLiveChecksKeysBeforeLoading(t *testing.T) {
	lf := newLiveFixture(t)
	lf.write(t, "run-1", 50)
	for _, tt := range []struct {
		name, target string
		hdr          []string
		status       int
	}{
		{"anonymous", "/v1/customers", nil, 401},
		{"bad key", "/v1/customers/S0000001", []string{"X-API-Key", "not-a-key"}, 401},
		{"forbidden", "/v1/ingest/files", []string{"X-API-Key", agentSecret}, 403},
		{"unknown path", "/v1/nothing", []string{"X-API-Key", adminSecret}, 404},
		{"bad method path", "/v1/customers/a%20b", []string{"X-API-Key", adminSecret}, 400},
		{"openapi", "/v1/openapi.json", nil, 200},
		{"health", "/healthz", nil, 200},
	} {
		code, body, reads := lf.get(t, tt.target, tt.hdr...)
		if code != tt.status || reads != 0 {
			t.Errorf("%s: status %d, %d store reads; want %d, none (%s)", tt.name, code, reads, tt.status, cut(body, 120))
		}
	}
	if lf.live.Loads() != 0 {
		t.Fatalf("loaded %d snapshots before an admitted request", lf.live.Loads())
	}
	code, body, reads := lf.get(t, "/v1/customers?limit=3", "X-API-Key", analystSecret)
	if code != 200 || reads == 0 || lf.live.Loads() != 1 {
		t.Fatalf("admitted request: %d, %d reads, %d loads: %s", code, reads, lf.live.Loads(), cut(body, 200))
	}
	if p := decodePage(t, body); p.Count != 50 || p.Run != "run-1" {
		t.Errorf("page = %+v", p)
	}
	if code, body, _ := lf.get(t, "/healthz"); code != 200 || !strings.Contains(body, `"run":"run-1"`) {
		t.Errorf("healthz after load: %d %s", code, body)
	}
}

// TestLiveReload: an unchanged run is not downloaded again; a new run is
// looked for at most once per interval and replaces the old.
func TestLiveReload(t *testing.T) {
	lf := newLiveFixture(t)
	admin := []string{"X-API-Key", adminSecret}
	if code, body, _ := lf.get(t, "/v1/segments", admin...); code != 503 || !strings.Contains(body, "no scores yet") {
		t.Fatalf("before any run: %d %s", code, body)
	}
	lf.write(t, "run-1", 40)
	if code, _, _ := lf.get(t, "/v1/segments", admin...); code != 200 {
		t.Fatalf("after the first run: %d", code)
	}
	// Within the interval: no read at all.
	lf.now = lf.now.Add(30 * time.Second)
	if _, _, reads := lf.get(t, "/v1/lists", admin...); reads != 0 {
		t.Errorf("within the interval: %d reads, want 0", reads)
	}
	// After it, same run: only latest.json.
	lf.now = lf.now.Add(time.Minute)
	if _, _, reads := lf.get(t, "/v1/lists", admin...); reads != 1 || lf.live.Loads() != 1 {
		t.Errorf("same run after the interval: %d reads, %d loads; want 1 read (latest.json), 1 load", reads, lf.live.Loads())
	}
	// A new run: loaded once, answers switch to it.
	lf.write(t, "run-2", 70)
	lf.now = lf.now.Add(2 * time.Minute)
	code, body, _ := lf.get(t, "/v1/customers?limit=1", admin...)
	if p := decodePage(t, body); code != 200 || p.Run != "run-2" || p.Count != 70 || lf.live.Loads() != 2 {
		t.Errorf("after a new run: %d %+v, %d loads", code, p, lf.live.Loads())
	}
}

// TestLiveBrokenRun: a corrupt snapshot answers 503 (not the old data
// mixed with the new), is not read again before the interval, and a good
// run afterwards loads.
func TestLiveBrokenRun(t *testing.T) {
	lf := newLiveFixture(t)
	admin := []string{"X-API-Key", adminSecret}
	lf.write(t, "run-1", 30)
	p, err := serving.Latest(context.Background(), lf.st, serving.IsNotFound)
	if err != nil {
		t.Fatal(err)
	}
	cols := lf.st.Bytes(p.Columns)
	cols[len(cols)/2] ^= 0x55
	if code, body, _ := lf.get(t, "/v1/segments", admin...); code != 503 || !strings.Contains(body, "could not be loaded") {
		t.Fatalf("corrupt run: %d %s", code, body)
	}
	if code, _, reads := lf.get(t, "/v1/segments", admin...); code != 503 || reads != 0 {
		t.Errorf("corrupt run again within the interval: %d, %d reads; want 503, none", code, reads)
	}
	lf.write(t, "run-2", 30)
	lf.now = lf.now.Add(2 * time.Minute)
	if code, body, _ := lf.get(t, "/v1/segments", admin...); code != 200 {
		t.Errorf("good run after a broken one: %d %s", code, body)
	}
}

// TestLiveReloadSwaps: a new run is loaded once and answers; the same run
// is not read again; a broken newer run leaves the previous one answering
// (reloaded once, never held beside the broken one) and is not retried
// every interval; a good run after it loads.
func TestLiveReloadSwaps(t *testing.T) {
	lf := newLiveFixture(t)
	admin := []string{"X-API-Key", adminSecret}
	page := func(step string) (int, string) {
		t.Helper()
		code, body, _ := lf.get(t, "/v1/customers?limit=1", admin...)
		if code != 200 {
			t.Fatalf("%s: %d %s", step, code, body)
		}
		p := decodePage(t, body)
		return p.Count, p.Run
	}
	lf.write(t, "run-1", 20)
	if n, run := page("first run"); n != 20 || run != "run-1" || lf.live.Loads() != 1 {
		t.Fatalf("first run: %d customers of %s, %d loads", n, run, lf.live.Loads())
	}
	lf.write(t, "run-2", 25)
	lf.now = lf.now.Add(2 * time.Minute)
	if n, run := page("new run"); n != 25 || run != "run-2" || lf.live.Loads() != 2 {
		t.Fatalf("new run: %d customers of %s, %d loads; want 25 of run-2, 2 loads", n, run, lf.live.Loads())
	}
	lf.now = lf.now.Add(2 * time.Minute)
	if _, _, reads := lf.get(t, "/v1/customers?limit=1", admin...); reads != 1 || lf.live.Loads() != 2 {
		t.Errorf("current run: %d reads, %d loads; want latest.json alone, no load", reads, lf.live.Loads())
	}
	// A broken run-3: run-2 answers again.
	lf.write(t, "run-3", 30)
	p, err := serving.Latest(context.Background(), lf.st, serving.IsNotFound)
	if err != nil {
		t.Fatal(err)
	}
	cols := lf.st.Bytes(p.Columns)
	cols[len(cols)/2] ^= 0x55
	lf.now = lf.now.Add(2 * time.Minute)
	if n, run := page("broken run"); n != 25 || run != "run-2" || lf.live.Loads() != 3 {
		t.Errorf("broken new run: %d customers of %s, %d loads; want run-2's 25 (reloaded: 3 loads)", n, run, lf.live.Loads())
	}
	for i := range 3 {
		lf.now = lf.now.Add(2 * time.Minute)
		if _, _, reads := lf.get(t, "/v1/customers?limit=1", admin...); reads != 1 || lf.live.Loads() != 3 {
			t.Errorf("broken run, check %d: %d reads, %d loads; want latest.json alone", i, reads, lf.live.Loads())
		}
	}
	lf.write(t, "run-4", 35)
	lf.now = lf.now.Add(2 * time.Minute)
	if n, run := page("good run"); n != 35 || run != "run-4" || lf.live.Loads() != 4 {
		t.Errorf("good run after the broken one: %d customers of %s, %d loads", n, run, lf.live.Loads())
	}
}
