package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/models/serving"
)

func TestHealthz(t *testing.T) {
	f := newFixture(t, nil)
	resp := f.get(t, "", "/healthz")
	var h struct {
		Status    string `json:"status"`
		Run       string `json:"run"`
		Customers int    `json:"customers"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &h); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %d %s", resp.StatusCode, resp.Body)
	}
	if h.Status != "ok" || h.Run != f.meta.Run || h.Customers != len(f.customers) {
		t.Errorf("healthz = %+v, want ok, %s, %d", h, f.meta.Run, len(f.customers))
	}
}

func TestCustomerLookup(t *testing.T) {
	f := newFixture(t, nil)
	c := &f.customers[123]
	for _, role := range Roles {
		resp := f.get(t, role, "/v1/customers/"+c.SubscriberID)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", role, resp.StatusCode, resp.Body)
		}
		var got struct {
			Run          string `json:"run"`
			FeatureMonth string `json:"feature_month"`
			Customer     struct {
				item
				Gender         string          `json:"gender"`
				ActivationDate string          `json:"activation_date"`
				SegmentProfile string          `json:"segment_profile"`
				History        []serving.Month `json:"history"`
			} `json:"customer"`
		}
		if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
			t.Fatal(err)
		}
		g := got.Customer
		if got.Run != f.meta.Run || got.FeatureMonth != f.meta.FeatureMonth {
			t.Errorf("run, month = %s, %s", got.Run, got.FeatureMonth)
		}
		if g.SubscriberID != c.SubscriberID || g.Plan != c.Plan || g.TenureMonths != c.TenureMonths || g.Lifecycle != c.Lifecycle ||
			g.Status != c.Status || g.ChurnProbability != c.Probability || g.CLV != c.CLV || g.ValueAtRisk != c.ValueAtRisk ||
			g.MonthlyValue != c.MonthlyValue || g.SegmentID != c.SegmentID || g.SegmentName != c.SegmentName || g.Gender != c.Gender ||
			g.ActivationDate != c.ActivationDate || len(g.Reasons) != len(c.Reasons) {
			t.Errorf("%s: customer %+v, want %+v", role, g, *c)
		}
		if want := "profile of " + c.SegmentName; g.SegmentProfile != want {
			t.Errorf("segment profile %q, want %q", g.SegmentProfile, want)
		}
		if len(g.History) != 6 || g.History[5] != c.History[5] {
			t.Errorf("history %v, want %v", g.History, c.History)
		}
	}
	for _, tt := range []struct {
		id   string
		want int
	}{
		{"S0000002", http.StatusNotFound}, // ids are S0000001, S0000004, …
		{"S9999999", http.StatusNotFound},
		{url.PathEscape("<b>x</b>"), http.StatusNotFound},
		{"", http.StatusNotFound}, // /v1/customers/ is no route
		{"a%20b", http.StatusBadRequest},
		{"%09", http.StatusBadRequest},
		{strings.Repeat("A", 64), http.StatusNotFound},
		{strings.Repeat("A", 65), http.StatusBadRequest},
	} {
		resp := f.get(t, RoleAgent, "/v1/customers/"+tt.id)
		if resp.StatusCode != tt.want {
			t.Errorf("GET /v1/customers/%s = %d, want %d: %s", tt.id, resp.StatusCode, tt.want, resp.Body)
		}
		if strings.Contains(resp.Body, "<b>") {
			t.Errorf("id reflected unescaped: %s", resp.Body)
		}
	}
}

func TestRoutingAndMethods(t *testing.T) {
	f := newFixture(t, nil)
	for _, tt := range []struct {
		method, target string
		want           int
	}{
		{"GET", "/", http.StatusNotFound},
		{"GET", "/v1", http.StatusNotFound},
		{"GET", "/v1/customer", http.StatusNotFound},
		{"GET", "/v1/customers/S0000001/history", http.StatusNotFound},
		{"GET", "/v2/customers", http.StatusNotFound},
		{"GET", "/V1/CUSTOMERS", http.StatusNotFound},
		{"POST", "/v1/customers", http.StatusMethodNotAllowed},
		{"DELETE", "/v1/customers/S0000001", http.StatusMethodNotAllowed},
		{"PUT", "/healthz", http.StatusMethodNotAllowed},
		{"HEAD", "/v1/segments", http.StatusMethodNotAllowed},
		{"OPTIONS", "/v1/lists", http.StatusMethodNotAllowed},
		{"POST", "/nowhere", http.StatusNotFound},
	} {
		resp := f.do(t, event(tt.method, tt.target, "X-API-Key", adminSecret))
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.target, resp.StatusCode, tt.want)
		}
		if tt.want == http.StatusMethodNotAllowed && resp.Headers["Allow"] != "GET" {
			t.Errorf("%s %s: Allow %q, want GET", tt.method, tt.target, resp.Headers["Allow"])
		}
	}
	// A named stage prefixes the raw path.
	ev := gatewayEvent("GET", "/prod/healthz")
	ev.RequestContext.Stage = "prod"
	if resp := f.doEvent(t, ev); resp.StatusCode != http.StatusOK {
		t.Errorf("staged /prod/healthz = %d, want 200", resp.StatusCode)
	}
}

func TestKeyPresentation(t *testing.T) {
	f := newFixture(t, nil)
	target := "/v1/segments"
	tests := []struct {
		name string
		hdr  []string
		want int
	}{
		{"x-api-key", []string{"x-api-key", analystSecret}, 200},
		{"bearer", []string{"Authorization", "Bearer " + analystSecret}, 200},
		{"bearer lowercase scheme", []string{"Authorization", "bearer " + analystSecret}, 200},
		{"bearer extra spaces", []string{"Authorization", "Bearer   " + analystSecret + " "}, 200},
		{"both headers", []string{"X-API-Key", analystSecret, "Authorization", "Bearer " + adminSecret}, 200},
		{"missing", nil, 401},
		{"empty x-api-key", []string{"X-API-Key", ""}, 401},
		{"blank x-api-key", []string{"X-API-Key", "   "}, 401},
		{"wrong", []string{"X-API-Key", "nope"}, 401},
		{"hash instead of secret", []string{"X-API-Key", HashKey(analystSecret)}, 401},
		{"secret with suffix", []string{"X-API-Key", analystSecret + "x"}, 401},
		{"two values joined", []string{"X-API-Key", analystSecret + "," + analystSecret}, 401},
		{"basic scheme", []string{"Authorization", "Basic " + analystSecret}, 401},
		{"bearer without key", []string{"Authorization", "Bearer "}, 401},
		{"bare key in authorization", []string{"Authorization", analystSecret}, 401},
		{"huge", []string{"X-API-Key", strings.Repeat("k", 5000)}, 401},
		{"key in query", nil, 401},
	}
	var unauthorized []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := target
			if tt.name == "key in query" {
				target += "?api_key=" + analystSecret
			}
			ev := gatewayEvent("GET", target, tt.hdr...) // headers as given, not lowercased
			resp := f.doEvent(t, ev)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, resp.Body)
			}
			if tt.want == 401 {
				if resp.Headers[http.CanonicalHeaderKey("WWW-Authenticate")] == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if strings.Contains(resp.Body, analystSecret) || strings.Contains(resp.Body, "nope") {
					t.Errorf("401 echoes the key: %s", resp.Body)
				}
				unauthorized = append(unauthorized, resp.Body)
			}
		})
	}
	for _, b := range unauthorized {
		if b != unauthorized[0] {
			t.Errorf("401 answers differ: %s vs %s", b, unauthorized[0])
		}
	}
}

func TestLists(t *testing.T) {
	f := newFixture(t, nil)
	var idx struct {
		Run   string     `json:"run"`
		Lists []listInfo `json:"lists"`
	}
	if err := json.Unmarshal([]byte(f.get(t, RoleAnalyst, "/v1/lists").Body), &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Lists) != len(f.meta.Lists) {
		t.Fatalf("%d lists, want %d", len(idx.Lists), len(f.meta.Lists))
	}
	for i, l := range idx.Lists {
		m := f.meta.Lists[i]
		if l.Name != m.Name || l.Title != m.Title || l.Description != m.Description || l.Size != len(m.IDs) {
			t.Errorf("list %d = %+v, want %s %q %q %d", i, l, m.Name, m.Title, m.Description, len(m.IDs))
		}
	}
	for _, m := range f.meta.Lists {
		var got []string
		cursor := ""
		for n := 0; ; n++ {
			target := "/v1/lists/" + m.Name + "?limit=9"
			if cursor != "" {
				target += "&cursor=" + url.QueryEscape(cursor)
			}
			resp := f.get(t, RoleAdmin, target)
			p := decodePage(t, resp.Body)
			if resp.StatusCode != 200 || p.Count != len(m.IDs) {
				t.Fatalf("%s: %d, count %d, want %d", target, resp.StatusCode, p.Count, len(m.IDs))
			}
			for j, it := range p.Items {
				if rank := int(it["rank"].(float64)); rank != len(got)+1 {
					t.Fatalf("%s: item %d rank %d, want %d", m.Name, j, rank, len(got)+1)
				}
				got = append(got, it["subscriber_id"].(string))
			}
			if p.NextCursor == nil {
				break
			}
			cursor = *p.NextCursor
			if n > len(m.IDs) {
				t.Fatal("paging does not end")
			}
		}
		if strings.Join(got, ",") != strings.Join(m.IDs, ",") {
			t.Errorf("list %s paged = %v, want %v", m.Name, head(got), head(m.IDs))
		}
		h, rows := readCSV(t, f.get(t, RoleAnalyst, "/v1/lists/"+m.Name+"?format=csv").Body)
		if h[0] != "rank" || len(rows) != len(m.IDs) {
			t.Fatalf("csv of %s: header %v, %d rows, want rank first and %d rows", m.Name, h[:2], len(rows), len(m.IDs))
		}
		for i, r := range rows {
			if r[0] != fmt.Sprint(i+1) || r[1] != m.IDs[i] {
				t.Fatalf("csv of %s row %d = %v, want rank %d id %s", m.Name, i, r[:2], i+1, m.IDs[i])
			}
		}
	}
	if resp := f.get(t, RoleAdmin, "/v1/lists/no-such-list"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown list: %d, want 404", resp.StatusCode)
	}
}

func TestSegmentsModelsIngest(t *testing.T) {
	f := newFixture(t, nil)
	var segs struct {
		Run      string            `json:"run"`
		Segments []serving.Segment `json:"segments"`
	}
	if err := json.Unmarshal([]byte(f.get(t, RoleAgent, "/v1/segments").Body), &segs); err != nil {
		t.Fatal(err)
	}
	if len(segs.Segments) != len(f.meta.Segments) || segs.Segments[2] != f.meta.Segments[2] {
		t.Errorf("segments = %+v, want %+v", segs.Segments, f.meta.Segments)
	}
	var models struct {
		Runs []ModelRun `json:"runs"`
	}
	if err := json.Unmarshal([]byte(f.get(t, RoleAnalyst, "/v1/models?kind=churn").Body), &models); err != nil {
		t.Fatal(err)
	}
	if len(models.Runs) != 1 || models.Runs[0].Kind != "churn" || !models.Runs[0].Promoted || *models.Runs[0].AUC != 0.81 {
		t.Errorf("models?kind=churn = %+v", models.Runs)
	}
	var files struct {
		Files []IngestFile `json:"files"`
	}
	if err := json.Unmarshal([]byte(f.get(t, RoleAnalyst, "/v1/ingest/files?status=quarantined").Body), &files); err != nil {
		t.Fatal(err)
	}
	if len(files.Files) != 1 || files.Files[0].RowsRejected != 9 || files.Files[0].ReportKey == nil {
		t.Errorf("ingest files = %+v", files.Files)
	}
	if err := json.Unmarshal([]byte(f.get(t, RoleAdmin, "/v1/ingest/files?limit=1").Body), &files); err != nil || len(files.Files) != 1 {
		t.Errorf("limit=1: %d files, %v", len(files.Files), err)
	}
	// A failing lake is a 500 without its cause; the cause goes to the log.
	var logBuf syncBuffer
	g := newFixture(t, func(c *Config) { c.Log = slog.New(slog.NewJSONHandler(&logBuf, nil)) })
	g.allow5xx = true
	g.s.src = &MemSources{Err: errors.New("catalog: connection refused to db.internal")}
	for _, target := range []string{"/v1/models", "/v1/ingest/files"} {
		resp := g.get(t, RoleAdmin, target)
		if resp.StatusCode != http.StatusInternalServerError || strings.Contains(resp.Body, "db.internal") {
			t.Errorf("%s with a failing lake: %d %s", target, resp.StatusCode, resp.Body)
		}
	}
	if !strings.Contains(logBuf.String(), "db.internal") {
		t.Errorf("cause not logged: %s", logBuf.String())
	}
	g.s.src = nil
	if resp := g.get(t, RoleAdmin, "/v1/models"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("no sources: %d, want 503", resp.StatusCode)
	}
}

// TestAudit: one line per customer-data request, with who, what and how
// many rows, and never a name, an MSISDN or a secret.
func TestAudit(t *testing.T) {
	f := newFixture(t, nil)
	c := &f.customers[42]
	tests := []struct {
		role   Role
		target string
		rows   int
		status int
	}{
		{RoleAgent, "/v1/customers/" + c.SubscriberID, 1, 200},
		{RoleAdmin, "/v1/customers/" + c.SubscriberID, 1, 200},
		{RoleAnalyst, "/v1/customers?region=North&churn_min=0.2&limit=5", 5, 200},
		{RoleAdmin, "/v1/customers?segment=" + fmt.Sprint(c.SegmentID) + "&format=csv", -1, 200},
		{RoleAdmin, "/v1/lists/churn-risk?limit=3", 3, 200},
		{RoleAgent, "/v1/customers?region=North", 0, 403},
		{"", "/v1/customers/" + c.SubscriberID, 0, 401},
		{RoleAnalyst, "/v1/customers?tenure_min=x", 0, 400},
	}
	for _, tt := range tests {
		f.audit.Reset()
		resp := f.get(t, tt.role, tt.target)
		if resp.StatusCode != tt.status {
			t.Fatalf("%s: %d, want %d", tt.target, resp.StatusCode, tt.status)
		}
		lines := strings.Split(strings.TrimSpace(f.audit.String()), "\n")
		if len(lines) != 1 {
			t.Fatalf("%s: %d audit lines, want 1: %q", tt.target, len(lines), f.audit.String())
		}
		var a map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &a); err != nil {
			t.Fatal(err)
		}
		wantKey := map[Role]string{RoleAgent: "desk-7", RoleAnalyst: "bi-team", RoleAdmin: "ops", "": ""}[tt.role]
		path, _, _ := strings.Cut(tt.target, "?")
		if a["key"] != wantKey || a["role"] != string(tt.role) || a["method"] != "GET" || a["path"] != path || int(a["status"].(float64)) != tt.status {
			t.Errorf("%s: audit %v", tt.target, a)
		}
		if _, ok := a["duration_ms"].(float64); !ok {
			t.Errorf("%s: no duration in %v", tt.target, a)
		}
		if tt.rows >= 0 && int(a["rows"].(float64)) != tt.rows {
			t.Errorf("%s: audit rows %v, want %d", tt.target, a["rows"], tt.rows)
		}
		if tt.rows < 0 && int(a["rows"].(float64)) == 0 {
			t.Errorf("%s: audit rows 0 for a CSV", tt.target)
		}
		if q, _ := url.ParseQuery(strings.TrimPrefix(tt.target[len(path):], "?")); len(q) > 0 {
			logged, _ := a["query"].(map[string]any)
			for k, v := range q {
				if logged[k] != strings.Join(v, ",") {
					t.Errorf("%s: audit query %s = %v, want %v", tt.target, k, logged[k], v)
				}
			}
		}
		line := lines[0]
		for i := range f.customers {
			x := &f.customers[i]
			if strings.Contains(line, x.MSISDN) || strings.Contains(line, x.Name) || strings.Contains(line, maskMSISDN(x.MSISDN)) {
				t.Fatalf("%s: audit line holds personal data of %s: %s", tt.target, x.SubscriberID, line)
			}
		}
		for _, s := range secretOf {
			if strings.Contains(line, s) || strings.Contains(line, HashKey(s)) {
				t.Fatalf("audit line holds a key: %s", line)
			}
		}
	}
	// A cursor is logged as present, not by value.
	p := decodePage(t, f.get(t, RoleAdmin, "/v1/customers?limit=2").Body)
	f.audit.Reset()
	f.get(t, RoleAdmin, "/v1/customers?limit=2&cursor="+url.QueryEscape(*p.NextCursor))
	if strings.Contains(f.audit.String(), *p.NextCursor) || !strings.Contains(f.audit.String(), `"cursor":"(opaque)"`) {
		t.Errorf("cursor in audit: %s", f.audit.String())
	}
	// No customer data, no audit line.
	f.audit.Reset()
	for _, target := range []string{"/v1/segments", "/v1/lists", "/v1/models", "/healthz"} {
		f.get(t, RoleAdmin, target)
	}
	if f.audit.String() != "" {
		t.Errorf("audit lines for requests without customer data: %s", f.audit.String())
	}
}

func TestNewRejects(t *testing.T) {
	meta, cs := genSnapshot(3, 20, false)
	good := Config{Keys: testKeys()}
	if _, err := newServer(meta, cs, nil, good); err != nil {
		t.Fatalf("New: %v", err)
	}
	swap := append([]serving.Customer(nil), cs...)
	swap[3], swap[4] = swap[4], swap[3]
	dup := append([]serving.Customer(nil), cs...)
	dup[5].SubscriberID = dup[4].SubscriberID
	nan := append([]serving.Customer(nil), cs...)
	nan[2].CLV = math.NaN()
	badID := append([]serving.Customer(nil), cs...)
	badID[0].SubscriberID = "A B"
	badList := *meta
	badList.Lists = append([]serving.List{{Name: "x y"}}, meta.Lists...)
	tests := []struct {
		name string
		meta *serving.Meta
		cs   []serving.Customer
		cfg  Config
		want string
	}{
		{"no meta", nil, cs, good, "meta"},
		{"unsorted", meta, swap, good, "not sorted"},
		{"duplicate id", meta, dup, good, "not sorted"},
		{"NaN", meta, nan, good, "clv is NaN"},
		{"bad id", meta, badID, good, "invalid subscriber id"},
		{"bad list name", &badList, cs, good, "invalid list name"},
		{"no keys", meta, cs, Config{}, "no keys"},
		{"bad hash", meta, cs, Config{Keys: []Key{{Name: "a", Role: RoleAdmin, Hash: "abc"}}}, "hash"},
		{"bad role", meta, cs, Config{Keys: []Key{{Name: "a", Role: "root", Hash: HashKey("x")}}}, "role"},
	}
	for _, tt := range tests {
		_, err := newServer(tt.meta, tt.cs, nil, tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%s) = %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}

func TestEmptySnapshot(t *testing.T) {
	s, err := newServer(&serving.Meta{Run: "empty"}, nil, nil, Config{Keys: testKeys()})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{s: s}
	for _, target := range []string{"/v1/customers", "/v1/customers?format=csv", "/v1/customers?churn_min=0.5", "/v1/lists", "/v1/segments"} {
		if resp := f.get(t, RoleAdmin, target); resp.StatusCode != 200 {
			t.Errorf("%s on an empty snapshot: %d %s", target, resp.StatusCode, resp.Body)
		}
	}
	if p := decodePage(t, f.get(t, RoleAdmin, "/v1/customers").Body); p.Count != 0 || p.Items == nil || p.NextCursor != nil {
		t.Errorf("empty page = %+v", p)
	}
}

func TestHandleSurvivesPanic(t *testing.T) {
	f := newFixture(t, nil)
	f.allow5xx = true
	f.s.routes[0].serve = func(*Server, *request) error { panic("boom") }
	resp := record(f.s, event("GET", "/healthz"))
	if resp.StatusCode != 500 || strings.Contains(resp.Body, "boom") || strings.Contains(resp.Body, "goroutine") {
		t.Errorf("panic answer: %d %s", resp.StatusCode, resp.Body)
	}
}

// TestConcurrentRequests: Handle is safe for concurrent use (run with
// -race); concurrent pages equal the sequential answer.
func TestConcurrentRequests(t *testing.T) {
	f := newFixture(t, nil)
	targets := []string{"/v1/customers?region=North&limit=9", "/v1/customers?churn_min=0.3&sort=-clv&limit=9", "/v1/customers/" + f.customers[9].SubscriberID}
	want := map[string]string{}
	for _, target := range targets {
		want[target] = f.get(t, RoleAdmin, target).Body
	}
	done := make(chan error)
	for w := 0; w < 8; w++ {
		go func() {
			var err error
			for i := 0; i < 30 && err == nil; i++ {
				target := targets[(w+i)%len(targets)]
				resp := record(f.s, event("GET", target, "X-API-Key", adminSecret))
				if resp.Body != want[target] {
					err = fmt.Errorf("%s: concurrent answer differs", target)
				}
			}
			done <- err
		}()
	}
	for w := 0; w < 8; w++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestWithUser: a request in a WithUser context is served with that role's
// access and masking, audited under user:<name>; a header cannot claim it.
func TestWithUser(t *testing.T) {
	var audit strings.Builder
	f := newFixture(t, func(c *Config) { c.Audit = slog.New(slog.NewJSONHandler(&audit, nil)) })
	c := f.customers[0]
	for _, tt := range []struct {
		role   Role
		target string
		want   int
		clear  bool
	}{
		{RoleAgent, "/v1/customers/" + c.SubscriberID, 200, true},
		{RoleAgent, "/v1/customers", http.StatusForbidden, false},
		{RoleAnalyst, "/v1/customers/" + c.SubscriberID, 200, false},
		{RoleAdmin, "/v1/customers/" + c.SubscriberID, 200, true},
		{Role("root"), "/v1/customers/" + c.SubscriberID, http.StatusUnauthorized, false},
	} {
		r := event("GET", tt.target)
		r = r.WithContext(WithUser(r.Context(), "lee", tt.role))
		resp := f.do(t, r)
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s: %d, want %d", tt.role, tt.target, resp.StatusCode, tt.want)
		}
		if got := strings.Contains(resp.Body, c.MSISDN); resp.StatusCode == 200 && got != tt.clear {
			t.Errorf("%s: MSISDN in clear %v, want %v", tt.role, got, tt.clear)
		}
	}
	if !strings.Contains(audit.String(), `"key":"user:lee","role":"analyst"`) {
		t.Errorf("audit lines lack the user: %s", audit.String())
	}
	if resp := f.do(t, event("GET", "/v1/customers/"+c.SubscriberID, "X-API-Key", "user:lee")); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a key naming a user: %d, want 401", resp.StatusCode)
	}
}
