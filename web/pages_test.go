package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/evaluate"
)

// fakeFiles are the lake's and the landing bucket's files (model
// reports, reject reports) in memory; the lake's tables are the API's
// shared fake, api.MemSources.
type fakeFiles map[string][]byte

func (f fakeFiles) Get(_ context.Context, key string) ([]byte, error) {
	b, ok := f[key]
	if !ok {
		return nil, lake.ErrNotFound
	}
	return b, nil
}

// monthlyCube is crm.cube_monthly: seven months of one group, 1,000
// customers at each month's end and 10 + month leaving in it.
func monthlyCube(t testing.TB) *insight.Fact {
	t.Helper()
	fa := insight.NewFact(insight.MonthlyCubeSpec)
	for m := 5; m <= 11; m++ {
		if err := fa.Append([]string{fmt.Sprintf("2026-%02d", m), "North", "BASIC10", "0", "loyal", "25-34", "F"},
			0, []float64{1000, 20, float64(10 + m), 20000, 1e5, 1e6}); err != nil {
			t.Fatal(err)
		}
	}
	return fa
}

func ptr[T any](v T) *T { return &v }

// newFakeSources has two churn runs (the older promoted) with reports, a
// segment run, and an ingest log of five files over two days, two of them
// with rejected rows and reports.
func newFakeSources(t testing.TB) (*api.MemSources, fakeFiles) {
	t.Helper()
	f := &api.MemSources{Facts: map[string]*insight.Fact{insight.MonthlyCubeSpec.Name: monthlyCube(t)}}
	files := fakeFiles{}
	rng := rand.New(rand.NewPCG(5, 6))
	for i, v := range []struct {
		version, month string
		promoted       bool
	}{{"20261101T030000Z", "2026-08-01", false}, {"20261001T030000Z", "2026-07-01", true}} {
		probs, labels := make([]float64, 400), make([]bool, 400)
		for j := range probs {
			probs[j] = rng.Float64()
			labels[j] = rng.Float64() < probs[j]*(0.5+0.2*float64(i))
		}
		rep := &evaluate.Report{Version: v.version, Kind: "logistic", CreatedAt: time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC),
			TrainWindow: "2026-03 … 2026-06", ValidWindow: v.month[:7], Horizon: 2, TrainRows: 1000,
			Validation: evaluate.Summarise(probs, labels, 1),
			Candidates: []evaluate.Candidate{{Kind: "logistic", ValidAUC: 0.81, Selected: true}, {Kind: "gbt", ValidAUC: 0.79}},
			Segments: []evaluate.SegmentRow{{ID: 0, Name: "Heavy callers", Rows: 200, ChurnRate: 0.2, Predicted: 0.22,
				ECEBefore: 0.05, ECEAfter: 0.02, Calibration: evaluate.Summarise(probs[:200], labels[:200], 2).Calibration}},
			Promotion: evaluate.Promotion{Promoted: v.promoted, Reason: "better than the serving model"}}
		b, err := rep.JSON()
		if err != nil {
			t.Fatal(err)
		}
		files["churn/"+v.version+"/report.json"] = b
		auc := rep.Validation.AUC
		f.Runs = append(f.Runs, api.ModelRun{Version: v.version, Kind: "churn", Algorithm: "logistic", TrainedAt: rep.CreatedAt,
			ValidMonth: ptr(v.month), AUC: &auc, AUCLo: ptr(rep.Validation.AUCCI.Lo), AUCHi: ptr(rep.Validation.AUCCI.Hi),
			Lift10: ptr(rep.Validation.Lift10), Promoted: v.promoted, Decision: "kept"})
	}
	f.Runs = append(f.Runs, api.ModelRun{Version: "20261101T030500Z", Kind: "segment", Algorithm: "kmeans", K: ptr(int32(2)), Promoted: true})
	today, yesterday := time.Date(2026, 11, 3, 6, 0, 0, 0, time.UTC), time.Date(2026, 11, 2, 6, 0, 0, 0, time.UTC)
	add := func(key, status string, at time.Time, ok, rejected int64, reasons ...lake.ReasonCount) {
		fl := api.IngestFile{Source: "landing/" + key, Status: status, StartedAt: at, RowsOK: ok, RowsRejected: rejected}
		if rejected > 0 {
			fl.ReportKey = ptr(lake.ReportKey(key))
			b := fmt.Appendf(nil, `{"source":%q,"status":%q,"rows_rejected":%d,"rejected_by_reason":[`, fl.Source, status, rejected)
			for i, rc := range reasons {
				if i > 0 {
					b = append(b, ',')
				}
				b = fmt.Appendf(b, `{"column":%q,"reason":%q,"rows":%d}`, rc.Column, rc.Reason, rc.Rows)
			}
			b = fmt.Appendf(b, `],"errors":[{"line":7,"column":"msisdn","value":"****123","reason":"not a number"}]}`)
			files[lake.ReportKey(key)] = b
		}
		f.Files = append(f.Files, fl)
	}
	add("exports/cdr/2026/11/03/a.csv.gz", lake.StatusCommitted, today, 1000, 3,
		lake.ReasonCount{Column: "duration", Reason: "negative", Rows: 2}, lake.ReasonCount{Column: "msisdn", Reason: "not a number", Rows: 1})
	add("exports/cdr/2026/11/03/b.csv.gz", lake.StatusQuarantined, today, 0, 400, lake.ReasonCount{Column: "duration", Reason: "negative", Rows: 400})
	add("exports/bills/2026/11/03/c.csv", lake.StatusCommitted, today, 50, 0)
	add("exports/cdr/2026/11/02/d.csv.gz", lake.StatusCommitted, yesterday, 900, 0)
	add("exports/cdr/2026/11/02/e.csv.gz", lake.StatusFailed, yesterday, 0, 0)
	return f, files
}

var tagRE = regexp.MustCompile(`<[^>]+>`)

// textOf is the element with id's text, tags removed.
func textOf(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no element #%s", id)
	}
	open := strings.LastIndex(body[:i], "<")
	tag := strings.Fields(body[open+1 : i])[0]
	start := strings.Index(body[i:], ">") + i + 1
	end := strings.Index(body[start:], "</"+tag+">") + start
	return strings.TrimSpace(tagRE.ReplaceAllString(body[start:end], " "))
}

func TestPagesByRole(t *testing.T) {
	f := newFixture(t)
	pages := []string{"/console/dashboard", "/console/segments", "/console/models", "/console/models/20261101T030000Z",
		"/console/ingest", "/console/ingest/report?source=landing/exports/cdr/2026/11/03/a.csv.gz"}
	for _, tt := range []struct {
		user string
		want []int
	}{
		{"ada", []int{403, 200, 403, 403, 403, 403}},
		{"ana", []int{200, 200, 200, 200, 200, 200}},
		{"adm", []int{200, 200, 200, 200, 200, 200}},
	} {
		t.Run(tt.user, func(t *testing.T) {
			c := f.client("127.0.0.1")
			c.signIn(t, tt.user, password(tt.user))
			home := text(t, c.do("GET", "/console/lookup", nil))
			for i, p := range pages {
				resp := c.do("GET", p, nil)
				body := text(t, resp)
				if resp.StatusCode != tt.want[i] {
					t.Errorf("%s: %d, want %d", p, resp.StatusCode, tt.want[i])
				}
				if resp.StatusCode == 200 && strings.Contains(body, "NaN") {
					t.Errorf("%s shows NaN", p)
				}
				// The header links a page exactly when the role may open it.
				link := `href="` + strings.SplitN(p, "?", 2)[0] + `?lang=`
				if i != 3 && i != 5 && strings.Contains(home, link) != (tt.want[i] == 200) {
					t.Errorf("nav link %s shown %v, want %v", p, strings.Contains(home, link), tt.want[i] == 200)
				}
			}
		})
	}
}

func TestDashboard(t *testing.T) {
	f := newFixture(t)
	c := f.client("127.0.0.1")
	c.signIn(t, "ana", password("ana"))
	resp := c.do("GET", "/console/dashboard", nil)
	body := text(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("dashboard: %d", resp.StatusCode)
	}
	var risk, sum float64
	for _, cu := range f.customers {
		risk += math.Round(cu.ValueAtRisk*100) / 100
		sum += cu.Probability
	}
	checks := map[string]string{
		"active":        grouped(float64(len(f.customers)), 0),
		"predicted":     fmt.Sprintf("%.1f%%", sum/float64(len(f.customers))*100),
		"var":           grouped(risk, 2),
		"auc":           fmt.Sprintf("%.3f", *f.src.Runs[0].AUC),
		"files-today":   "3",
		"rejects-today": "403",
		"quarantined":   "1",
	}
	for id, want := range checks {
		if got := textOf(t, body, id); got != want {
			t.Errorf("#%s = %q, want %q", id, got, want)
		}
	}
	months := textOf(t, body, "churn-months")
	if !strings.Contains(months, "2026-07") || !strings.Contains(months, "2026-08") || strings.Index(months, "2026-07") > strings.Index(months, "2026-08") {
		t.Errorf("churn by month = %q, want 2026-07 then 2026-08", months)
	}
	monthly := strings.Join(strings.Fields(textOf(t, body, "monthly-churn")), " ")
	if strings.Contains(monthly, "2026-05") || !strings.Contains(monthly, "2026-06 1,000 16 1.6%") || !strings.Contains(monthly, "2026-11 1,000 21 2.1%") {
		t.Errorf("observed churn by month = %q, want the newest six months, 2026-06 … 2026-11", monthly)
	}
	if !strings.Contains(textOf(t, body, "dash-lists"), "Churn risk") {
		t.Error("dashboard lacks the lists")
	}
}

func TestSegmentsPage(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		user    string
		figures bool
	}{{"ada", false}, {"ana", true}} {
		c := f.client("127.0.0.1")
		c.signIn(t, tt.user, password(tt.user))
		body := text(t, c.do("GET", "/console/segments", nil))
		tab := textOf(t, body, "segments")
		if !strings.Contains(tab, "heavy callers") || !strings.Contains(tab, "light users") {
			t.Errorf("%s: segments table lacks the profiles: %q", tt.user, tab)
		}
		n := 0
		for _, cu := range f.customers {
			if cu.SegmentID == 0 {
				n++
			}
		}
		if got := strings.Contains(tab, grouped(float64(n), 0)) && strings.Contains(body, `id="segment-charts"`); got != tt.figures {
			t.Errorf("%s: figures and charts shown %v, want %v", tt.user, got, tt.figures)
		}
	}
}

func TestModelPages(t *testing.T) {
	f := newFixture(t)
	c := f.client("127.0.0.1")
	c.signIn(t, "ana", password("ana"))
	body := text(t, c.do("GET", "/console/models", nil))
	if got := textOf(t, body, "promoted"); got != "20261001T030000Z" {
		t.Errorf("promoted = %q", got)
	}
	if n := strings.Count(textOf(t, body, "runs"), "2026"); n < 3 {
		t.Errorf("runs table: %q", textOf(t, body, "runs"))
	}
	resp := c.do("GET", "/console/models/20261101T030000Z", nil)
	rep := text(t, resp)
	if want := fmt.Sprintf("%.3f", *f.src.Runs[0].AUC); textOf(t, rep, "report-auc") != want {
		t.Errorf("report AUC = %q, want %s", textOf(t, rep, "report-auc"), want)
	}
	if strings.Count(rep, "<polyline") != 8 { // ROC, gains, calibration, one segment: each a curve and the diagonal
		t.Errorf("report has %d curves, want 8", strings.Count(rep, "<polyline"))
	}
	if !strings.Contains(textOf(t, rep, "candidates"), "gbt") || !strings.Contains(textOf(t, rep, "segcal"), "Heavy callers") {
		t.Error("report lacks candidates or segment calibration")
	}
	for _, bad := range []string{"/console/models/20991231T000000Z", "/console/models/..%2Fx", "/console/models/20261101T030500Z"} {
		if resp := c.do("GET", bad, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", bad, resp.StatusCode)
		}
	}
}

func TestIngestPages(t *testing.T) {
	f := newFixture(t)
	c := f.client("127.0.0.1")
	c.signIn(t, "adm", password("adm"))
	body := text(t, c.do("GET", "/console/ingest", nil))
	days := textOf(t, body, "by-day")
	if !strings.Contains(days, "2026-11-03") || !strings.Contains(days, "2026-11-02") {
		t.Errorf("by day: %q", days)
	}
	reasons := strings.Join(strings.Fields(textOf(t, body, "by-reason")), " ")
	if !strings.Contains(reasons, "Files duration negative 402 2 msisdn not a number 1 1") {
		t.Errorf("by reason = %q, want duration negative (402 rows, 2 files) first, then msisdn", reasons)
	}
	rep := c.do("GET", "/console/ingest/report?source=landing/exports/cdr/2026/11/03/a.csv.gz", nil)
	rb := text(t, rep)
	if rep.StatusCode != 200 || textOf(t, rb, "file-status") != lake.StatusCommitted || !strings.Contains(textOf(t, rb, "file-errors"), "****123") {
		t.Errorf("file report: %d", rep.StatusCode)
	}
	if resp := c.do("GET", "/console/ingest/report?source=landing/elsewhere", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a file not in the log: %d, want 404", resp.StatusCode)
	}
}

// memRevocations is a revocation store two console instances share.
type memRevocations struct {
	mu    sync.Mutex
	m     map[string][]byte
	fail  bool
	reads int
}

func (m *memRevocations) Put(_ context.Context, key string, b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("store down")
	}
	m.m[key] = b
	return nil
}

func (m *memRevocations) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	if m.fail {
		return nil, errors.New("store down")
	}
	b, ok := m.m[key]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, lake.ErrNotFound)
	}
	return b, nil
}

// TestSignOutAcrossInstances: a session signed out on one instance is
// refused by another with the same key and store; without the store the
// other instance would still take it. A store that cannot answer refuses.
func TestSignOutAcrossInstances(t *testing.T) {
	f := newFixture(t)
	store := &memRevocations{m: map[string][]byte{}}
	instance := func(st Revocations) *Console {
		cfg := f.console.cfg
		cfg.Revoked = st
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b, lone := instance(store), instance(store), instance(nil)
	ca := f.client("127.0.0.1")
	f.console = a
	ca.signIn(t, "ana", password("ana"))
	cookie := ca.cookies[sessionCookie].Value
	get := func(c *Console) int {
		r := httptest.NewRequest("GET", "http://127.0.0.1/console/segments", nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
		w := httptest.NewRecorder()
		c.ServeHTTP(w, r)
		return w.Code
	}
	if got := get(b); got != http.StatusOK {
		t.Fatalf("instance b before sign-out: %d, want 200", got)
	}
	page := text(t, ca.do("GET", "/console/segments", nil))
	if resp := ca.do("POST", "/console/signout", url.Values{"csrf": {ca.csrf(t, page)}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	if len(store.m) != 1 {
		t.Fatalf("store holds %d records, want 1", len(store.m))
	}
	for k := range store.m {
		if strings.Contains(k, cookie) || strings.Contains(k, strings.SplitN(cookie, ".", 2)[0]) {
			t.Errorf("record key %s holds the cookie", k)
		}
	}
	if got := get(b); got != http.StatusSeeOther {
		t.Errorf("instance b after sign-out on a: %d, want 303 to sign-in", got)
	}
	if got := get(lone); got != http.StatusOK {
		t.Errorf("an instance without the store: %d (it cannot know; this is why the store exists)", got)
	}
	// A new session on b; the store goes down: b refuses rather than guess.
	f.console = b
	cb := f.client("127.0.0.1")
	cb.signIn(t, "ana", password("ana"))
	cookie = cb.cookies[sessionCookie].Value
	if got := get(b); got != http.StatusOK {
		t.Fatalf("new session: %d", got)
	}
	store.fail = true
	if got := get(b); got != http.StatusSeeOther {
		t.Errorf("store down: %d, want 303 (refused)", got)
	}
}

// countingFiles counts the reads of a Files.
type countingFiles struct {
	Files
	gets map[string]int
}

func (c *countingFiles) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets[key]++
	return c.Files.Get(ctx, key)
}

// TestReportReadOncePerVersion: a version's report is read from the
// registry once however many views ask for it; a missing one is asked
// again (it may be written later).
func TestReportReadOncePerVersion(t *testing.T) {
	files := &countingFiles{Files: fakeFiles{"churn/v1/report.json": []byte(`{"horizon":2}`)}, gets: map[string]int{}}
	c := &Console{cfg: Config{Models: files}}
	r := httptest.NewRequest("GET", "/console/dashboard", nil)
	a, err := c.report(r, "churn", "v1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.report(r, "churn", "v1")
	if err != nil || a != b || a.Horizon != 2 {
		t.Fatalf("second read: %v, %v (same report: %v)", b, err, a == b)
	}
	for range 2 {
		if _, err := c.report(r, "churn", "v2"); err == nil {
			t.Fatal("a missing report was found")
		}
	}
	if files.gets["churn/v1/report.json"] != 1 || files.gets["churn/v2/report.json"] != 2 {
		t.Errorf("registry reads %v, want v1 once and the missing v2 each time", files.gets)
	}
}

func TestObjectKey(t *testing.T) {
	key := funcs["objectKey"].(func(string) string)
	for _, tt := range []struct{ in, want string }{
		{"s3://telcolake-landing-dev-000000000000/exports/cdr/2026/11/30/cdr-20261130.csv.gz", "exports/cdr/2026/11/30/cdr-20261130.csv.gz"},
		{"landing/exports/cdr/2026/11/03/a.csv.gz", "landing/exports/cdr/2026/11/03/a.csv.gz"},
		{"s3://bucket", "s3://bucket"},
		{"s3://bucket/", "s3://bucket/"},
	} {
		if got := key(tt.in); got != tt.want {
			t.Errorf("objectKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
