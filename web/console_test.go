package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/forecast"
	"github.com/telcolake/telcolake/groups"
	"github.com/telcolake/telcolake/models/serving"
)

const adminKey = "admin-key-0123456789"

// fixture is a console over a real api.Server on a generated snapshot,
// with one user per role (password pw-<name>-0123).
type fixture struct {
	api       *api.Server
	console   *Console
	customers []serving.Customer
	now       time.Time
	audit     *syncBuffer
	src       *api.MemSources
	files     fakeFiles
	campaigns *memCampaigns
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

var users = map[string]api.Role{"ada": api.RoleAgent, "ana": api.RoleAnalyst, "adm": api.RoleAdmin}

func password(name string) string { return "pw-" + name + "-0123" }

var usersOnce = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "users")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "users")
	for name, role := range users {
		if err := AddUser(path, name, role, password(name)); err != nil {
			return nil, err
		}
	}
	return os.ReadFile(path)
})

// apiNow is the API's clock in the fixture: the ingest log's days are
// around it. (The console's clock, fixture.now, may move.)
var apiNow = time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)

func newFixture(t testing.TB) *fixture { return newFixtureN(t, 300) }

func newFixtureN(t testing.TB, n int) *fixture {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	regions, plans := []string{"North", "South", "East"}, []string{"BASIC10", "PLUS20", "MAX40"}
	cs := make([]serving.Customer, n)
	for i := range cs {
		c := &cs[i]
		c.SubscriberID = fmt.Sprintf("S%07d", i+1)
		c.Name = fmt.Sprintf("Person%03d Surname%03d", i, i)
		c.MSISDN = fmt.Sprintf("49170%08d", 10000000+i)
		c.Status, c.Lifecycle, c.Region, c.Plan = "active", "established", regions[rng.IntN(3)], plans[rng.IntN(3)]
		c.AgeBand, c.PaymentMethod, c.Gender = "35-44", "direct_debit", "F"
		c.TenureMonths = int32(rng.IntN(100))
		c.ActivationDate, c.StatusDate = "2020-01-01", "2020-01-01"
		c.Probability = float64(rng.IntN(1000)) / 1000
		c.Reasons = []string{"care calls rose"}
		c.SegmentID, c.SegmentName = int32(rng.IntN(2)), "seg"
		c.MonthlyValue = float64(rng.IntN(9000))/100 + 5
		c.CLV, c.ValueAtRisk = c.MonthlyValue*20, c.MonthlyValue*20*c.Probability
		c.AmountDue = c.MonthlyValue
		c.ValueTier, c.Profit = serving.Tiers[i%4], c.MonthlyValue*0.6
		for m := 0; m < 6; m++ {
			c.History = append(c.History, serving.Month{Month: fmt.Sprintf("2026-%02d", 5+m), VoiceMinutes: float64(rng.IntN(600)) + 0.25,
				DataMB: float64(rng.IntN(5000)), AmountDue: c.MonthlyValue})
		}
	}
	meta := &serving.Meta{Run: "20261102T040000Z", ScoredAt: time.Date(2026, 11, 2, 4, 0, 0, 0, time.UTC), FeatureMonth: "2026-10",
		Customers: len(cs), Segments: []serving.Segment{{ID: 0, Name: "seg", Profile: "heavy callers"}, {ID: 1, Name: "seg", Profile: "light users"}}}
	// A title and a description as long as the demo's lists': TestBrowser
	// checks they stay in their cards (dashboard, lists).
	risk := serving.List{Name: "churn-risk", Title: "Churn risk in mostly off-peak calls · weekend caller", Description: "most likely to leave first: active and suspended customers by predicted churn probability (two or more consecutive bills in arrears within the bad-debt model's horizon aside), highest first"}
	for i := 0; i < min(len(cs), 120); i++ {
		risk.IDs = append(risk.IDs, cs[i].SubscriberID)
	}
	meta.Lists = []serving.List{risk}
	meta.Insight = testReport(t, meta.Run, cs)
	st := serving.NewMemStore()
	ctx := context.Background()
	if _, err := serving.Write(ctx, st, meta, cs); err != nil {
		t.Fatal(err)
	}
	snap, err := serving.Load(ctx, st, serving.IsNotFound, serving.Options{})
	if err != nil {
		t.Fatal(err)
	}
	audit := &syncBuffer{}
	src, files := newFakeSources(t)
	mc := newMemCampaigns()
	srv, err := api.New(snap, src, api.Config{Keys: []api.Key{{Name: "ops", Role: api.RoleAdmin, Hash: api.HashKey(adminKey)}},
		Audit: slog.New(slog.NewJSONHandler(audit, nil)), Campaigns: mc, Groups: &groups.MemStore{}, Forecasts: testForecast(t), Scenarios: &forecast.MemScenarios{},
		Now: func() time.Time { return apiNow }})
	if err != nil {
		t.Fatal(err)
	}
	b, err := usersOnce()
	if err != nil {
		t.Fatal(err)
	}
	us, err := ParseUsers(b)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{api: srv, customers: cs, now: time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC), audit: audit}
	f.src, f.files, f.campaigns = src, files, mc
	f.console, err = New(Config{API: srv, Users: us, Key: bytes.Repeat([]byte("k"), 32), TTL: time.Hour, Now: func() time.Time { return f.now },
		Models: files, Landing: files})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// client is a browser: it keeps the console's cookies for one host.
type client struct {
	f       *fixture
	host    string
	cookies map[string]*http.Cookie
}

func (f *fixture) client(host string) *client {
	return &client{f: f, host: host, cookies: map[string]*http.Cookie{}}
}

func (c *client) do(method, target string, form url.Values, hdr ...string) *http.Response {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, "http://"+c.host+target, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	for _, ck := range c.cookies {
		r.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	w := httptest.NewRecorder()
	c.f.console.ServeHTTP(w, r)
	resp := w.Result()
	for _, ck := range resp.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck
		}
	}
	return resp
}

func text(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var tokenRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs in as name and returns the sign-in answer.
func (c *client) signIn(t *testing.T, name, pw string) *http.Response {
	t.Helper()
	page := text(t, c.do("GET", "/console/signin", nil))
	m := tokenRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the sign-in form")
	}
	return c.do("POST", "/console/signin", url.Values{"csrf": {m[1]}, "user": {name}, "password": {pw}})
}

func (c *client) csrf(t *testing.T, page string) string {
	t.Helper()
	m := tokenRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the page")
	}
	return m[1]
}

func TestSignInEachRole(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		user, host, home string
		secure           bool
	}{
		{"ada", "127.0.0.1:8080", "/console/lookup", false},
		{"ana", "localhost:8080", "/console/search", false},
		{"adm", "console.example.com", "/console/search", true},
	} {
		t.Run(tt.user, func(t *testing.T) {
			c := f.client(tt.host)
			resp := c.signIn(t, tt.user, password(tt.user))
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tt.home {
				t.Fatalf("sign-in: %d to %q, want 303 to %s", resp.StatusCode, resp.Header.Get("Location"), tt.home)
			}
			ck := c.cookies[sessionCookie]
			if ck == nil {
				t.Fatal("no session cookie")
			}
			raw := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
			for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/console/", "Max-Age=3600"} {
				if !strings.Contains(raw, attr) {
					t.Errorf("session cookie lacks %s: %s", attr, raw)
				}
			}
			if got := strings.Contains(raw, "; Secure"); got != tt.secure {
				t.Errorf("Secure = %v on host %s, want %v", got, tt.host, tt.secure)
			}
			home := c.do("GET", tt.home, nil)
			if body := text(t, home); home.StatusCode != 200 || !strings.Contains(body, tt.user+" · "+string(users[tt.user])) {
				t.Errorf("home %s: %d", tt.home, home.StatusCode)
			}
		})
	}
}

func TestSignInRefused(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct{ name, user, pw string }{
		{"wrong password", "ana", "pw-ada-0123"},
		{"unknown user", "nobody", "whatever-123"},
		{"empty", "", ""},
	} {
		c := f.client("127.0.0.1")
		resp := c.signIn(t, tt.user, tt.pw)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "error=bad") || c.cookies[sessionCookie] != nil {
			t.Errorf("%s: %d to %q, session %v", tt.name, resp.StatusCode, loc, c.cookies[sessionCookie] != nil)
		}
	}
	// Without the form's token, with another form's token, or cross-site.
	c := f.client("127.0.0.1")
	c.do("GET", "/console/signin", nil)
	other := f.client("127.0.0.1")
	tok := other.csrf(t, text(t, other.do("GET", "/console/signin", nil)))
	good := c.csrf(t, text(t, c.do("GET", "/console/signin", nil)))
	form := func(tok string) url.Values {
		return url.Values{"csrf": {tok}, "user": {"adm"}, "password": {password("adm")}}
	}
	for _, tt := range []struct {
		name string
		form url.Values
		hdr  []string
	}{
		{"no token", form(""), nil},
		{"another form's token", form(tok), nil},
		{"cross-site origin", form(good), []string{"Origin", "https://evil.example"}},
		{"cross-site fetch", form(good), []string{"Sec-Fetch-Site", "cross-site"}},
	} {
		if resp := c.do("POST", "/console/signin", tt.form, tt.hdr...); resp.StatusCode != http.StatusForbidden || c.cookies[sessionCookie] != nil {
			t.Errorf("%s: %d, want 403 and no session", tt.name, resp.StatusCode)
		}
	}
}

func TestForgedAndExpiredCookies(t *testing.T) {
	f := newFixture(t)
	c := f.client("127.0.0.1")
	c.signIn(t, "ana", password("ana"))
	good := c.cookies[sessionCookie].Value
	enc, mac, _ := strings.Cut(good, ".")
	payload, _ := base64Decode(enc)
	forgedRole := base64Encode(strings.Replace(payload, "|analyst|", "|admin|", 1)) + "." + mac
	for name, v := range map[string]string{
		"role changed": forgedRole,
		"mac dropped":  enc,
		"mac of another key": func() string {
			ss := &sessions{key: bytes.Repeat([]byte("x"), 32), ttl: time.Hour, now: func() time.Time { return f.now }, revoked: map[string]time.Time{}}
			_, v := ss.issue(User{Name: "ana", Role: api.RoleAdmin})
			return v
		}(),
		"garbage": "x.y",
	} {
		c.cookies[sessionCookie] = &http.Cookie{Name: sessionCookie, Value: v}
		if resp := c.do("GET", "/console/search", nil); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/signin") {
			t.Errorf("%s: %d %s, want a redirect to sign-in", name, resp.StatusCode, resp.Header.Get("Location"))
		}
		if resp := c.do("GET", "/console/data/customers", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: data %d, want 401", name, resp.StatusCode)
		}
	}
	c.cookies[sessionCookie] = &http.Cookie{Name: sessionCookie, Value: good}
	if resp := c.do("GET", "/console/search", nil); resp.StatusCode != 200 {
		t.Fatalf("good cookie: %d", resp.StatusCode)
	}
	f.now = f.now.Add(time.Hour)
	if resp := c.do("GET", "/console/search", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("expired cookie: %d, want 303 to sign-in", resp.StatusCode)
	}
}

func TestSignOut(t *testing.T) {
	f := newFixture(t)
	c := f.client("127.0.0.1")
	c.signIn(t, "adm", password("adm"))
	old := c.cookies[sessionCookie].Value
	page := text(t, c.do("GET", "/console/search", nil))
	if resp := c.do("POST", "/console/signout", url.Values{"csrf": {"forged"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out with a forged token: %d, want 403", resp.StatusCode)
	}
	resp := c.do("POST", "/console/signout", url.Values{"csrf": {c.csrf(t, page)}})
	if resp.StatusCode != http.StatusSeeOther || c.cookies[sessionCookie] != nil {
		t.Fatalf("sign-out: %d, cookie kept %v", resp.StatusCode, c.cookies[sessionCookie] != nil)
	}
	c.cookies[sessionCookie] = &http.Cookie{Name: sessionCookie, Value: old} // a copy of the old cookie
	if resp := c.do("GET", "/console/search", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("signed-out cookie: %d, want 303 to sign-in", resp.StatusCode)
	}
}

// TestRolesAndMasking: the pages follow the API's matrix and masking.
func TestRolesAndMasking(t *testing.T) {
	f := newFixture(t)
	c0 := f.customers[7]
	for _, tt := range []struct {
		user          string
		search, data  int
		clearOn360    bool
		clearInSearch bool
	}{
		{"ada", http.StatusForbidden, http.StatusForbidden, true, false},
		{"ana", 200, 200, false, false},
		{"adm", 200, 200, true, true},
	} {
		t.Run(tt.user, func(t *testing.T) {
			c := f.client("127.0.0.1")
			c.signIn(t, tt.user, password(tt.user))
			resp := c.do("GET", "/console/search?sort=tenure_months", nil)
			body := text(t, resp)
			if resp.StatusCode != tt.search {
				t.Fatalf("search: %d, want %d", resp.StatusCode, tt.search)
			}
			if resp.StatusCode == 200 {
				hasClear := strings.Contains(body, "Person") || strings.Contains(body, "4917010000")
				if hasClear != tt.clearInSearch {
					t.Errorf("search page shows clear names/MSISDNs: %v, want %v", hasClear, tt.clearInSearch)
				}
				if !strings.Contains(body, "%</td>") {
					t.Error("no probability as a percentage in the table")
				}
			}
			if resp := c.do("GET", "/console/data/customers?region=North", nil); resp.StatusCode != tt.data {
				t.Errorf("data: %d, want %d", resp.StatusCode, tt.data)
			}
			csv := c.do("GET", "/console/data/customers?format=csv&region=North", nil)
			csvBody := text(t, csv)
			if csv.StatusCode == 200 && (strings.Contains(csvBody, "Person") != tt.clearInSearch) {
				t.Errorf("CSV clear names %v, want %v", strings.Contains(csvBody, "Person"), tt.clearInSearch)
			}
			page := c.do("GET", "/console/customers/"+c0.SubscriberID, nil)
			pb := text(t, page)
			if page.StatusCode != 200 {
				t.Fatalf("360: %d", page.StatusCode)
			}
			if got := strings.Contains(pb, c0.Name) && strings.Contains(pb, c0.MSISDN); got != tt.clearOn360 {
				t.Errorf("360 in clear %v, want %v", got, tt.clearOn360)
			}
			if want := fmt.Sprintf("%.1f%%", c0.Probability*100); !strings.Contains(pb, want) {
				t.Errorf("360 lacks the probability %s", want)
			}
			if strings.Count(pb, "<rect") != 18 {
				t.Errorf("360 has %d bars, want 3 charts × 6 months", strings.Count(pb, "<rect"))
			}
		})
	}
}

// TestCountIsTheAPIs: the live count equals the API's count for the same
// conditions, and a page view writes the API's audit line.
func TestCountIsTheAPIs(t *testing.T) {
	f := newFixture(t)
	c := f.client("127.0.0.1")
	c.signIn(t, "ana", password("ana"))
	for _, q := range []string{"region=North&churn_min=0.5", "plan=PLUS20,MAX40&tenure_max=30", "", "region=&churn_min=0.2"} {
		resp := c.do("GET", "/console/data/customers?"+q, nil)
		var got struct{ Count int }
		json.NewDecoder(resp.Body).Decode(&got)
		apiQ := conditions(mustQuery(t, q)).Encode()
		r := httptest.NewRequest("GET", "/v1/customers?"+apiQ, nil)
		r.Header.Set("X-API-Key", adminKey)
		w := httptest.NewRecorder()
		f.api.ServeHTTP(w, r)
		var want struct{ Count int }
		json.NewDecoder(w.Body).Decode(&want)
		if resp.StatusCode != 200 || got.Count != want.Count || want.Count == 0 {
			t.Errorf("%q: console %d (%d), API %d", q, got.Count, resp.StatusCode, want.Count)
		}
	}
	if resp := c.do("GET", "/console/data/customers?churn_min=2", nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad condition: %d, want the API's 400", resp.StatusCode)
	}
	c.do("GET", "/console/customers/"+f.customers[3].SubscriberID, nil)
	var line map[string]any
	lines := strings.Split(strings.TrimSpace(f.audit.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &line); err != nil {
		t.Fatal(err)
	}
	if line["msg"] != "api access" || line["key"] != "user:ana" || line["role"] != "analyst" || line["op"] != string(api.OpCustomer) || line["rows"] != 1.0 {
		t.Errorf("audit line of the 360° page: %v", line)
	}
	if strings.Contains(f.audit.String(), f.customers[3].Name) || strings.Contains(f.audit.String(), f.customers[3].MSISDN) {
		t.Error("audit holds personal data")
	}
}

func mustQuery(t *testing.T, q string) url.Values {
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestLanguage(t *testing.T) {
	f := newFixture(t)
	c := f.client("127.0.0.1")
	for _, tt := range []struct{ target, accept, want string }{
		{"/console/signin", "zh-CN,zh;q=0.9,en;q=0.8", "登录"},
		{"/console/signin", "en-GB", "Sign in"},
		{"/console/signin?lang=zh", "en", "登录"},
		{"/console/signin?lang=en", "zh-CN", "Sign in"},
		{"/console/signin", "fr", "Sign in"},
	} {
		if body := text(t, c.do("GET", tt.target, nil, "Accept-Language", tt.accept)); !strings.Contains(body, "<h1>"+tt.want+"</h1>") {
			t.Errorf("%s with %q: want %s", tt.target, tt.accept, tt.want)
		}
	}
}

func TestUsersFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	if err := AddUser(path, "lee", api.RoleAnalyst, "first-password"); err != nil {
		t.Fatal(err)
	}
	if err := AddUser(path, "lee", api.RoleAdmin, "second-password"); err != nil {
		t.Fatal(err)
	}
	us, err := LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := us.Check("lee", "second-password"); !ok || u.Role != api.RoleAdmin || us.Len() != 1 {
		t.Errorf("replaced user: %v %v (%d users)", u, ok, us.Len())
	}
	if _, ok := us.Check("lee", "first-password"); ok {
		t.Error("the old password still works")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(path); strings.Contains(string(b), "second-password") {
		t.Error("password stored in clear")
	}
	for _, tt := range []struct{ name, role, pw string }{
		{"Bad Name", "admin", "long-enough-pw"}, {"ok", "root", "long-enough-pw"}, {"ok", "admin", "short"},
	} {
		if err := AddUser(path, tt.name, api.Role(tt.role), tt.pw); err == nil {
			t.Errorf("AddUser(%q, %q, %q) accepted", tt.name, tt.role, tt.pw)
		}
	}
	for _, bad := range []string{"lee admin", "lee root $2a$11$abc", "lee admin not-a-hash"} {
		if _, err := ParseUsers([]byte(bad)); err == nil {
			t.Errorf("ParseUsers(%q) accepted", bad)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		n    int
		want string
	}{{447.138671875, 1, "447.1"}, {1234567.891, 2, "1,234,567.89"}, {-1000, 0, "-1,000"}, {0.004, 2, "0.00"}, {-0.001, 2, "0.00"}} {
		if got := grouped(tt.v, tt.n); got != tt.want {
			t.Errorf("grouped(%v, %d) = %s, want %s", tt.v, tt.n, got, tt.want)
		}
	}
	if got := funcs["pct"].(func(float64) string)(0.7652522004117405); got != "76.5%" {
		t.Errorf("pct = %s", got)
	}
}

// TestListPages: lists follow the API's matrix (agents get none) and
// masking; the ranked page pages with the API's cursor; CSV as the API's.
func TestListPages(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		user   string
		status int
		clear  bool
	}{{"ada", http.StatusForbidden, false}, {"ana", 200, false}, {"adm", 200, true}} {
		c := f.client("127.0.0.1")
		c.signIn(t, tt.user, password(tt.user))
		idx := c.do("GET", "/console/lists", nil)
		body := text(t, idx)
		if idx.StatusCode != tt.status || tt.status == 200 && !strings.Contains(body, `href="/console/lists/churn-risk?lang=en">Churn risk in mostly off-peak calls · weekend caller</a>`) {
			t.Fatalf("%s: lists %d", tt.user, idx.StatusCode)
		}
		pg := c.do("GET", "/console/lists/churn-risk", nil)
		pb := text(t, pg)
		if pg.StatusCode != tt.status {
			t.Fatalf("%s: list %d, want %d", tt.user, pg.StatusCode, tt.status)
		}
		if tt.status != 200 {
			continue
		}
		if strings.Contains(pb, f.customers[0].Name) != tt.clear || strings.Count(pb, "<tr><td>") != 50 {
			t.Errorf("%s: clear %v, rows %d", tt.user, strings.Contains(pb, f.customers[0].Name), strings.Count(pb, "<tr><td>"))
		}
		m := regexp.MustCompile(`href="(/console/lists/churn-risk\?cursor=[^"]+)"`).FindStringSubmatch(pb)
		if m == nil {
			t.Fatal("no next page")
		}
		next := text(t, c.do("GET", strings.ReplaceAll(m[1], "&amp;", "&"), nil))
		if !strings.Contains(next, "<tr><td>51</td>") {
			t.Errorf("%s: the second page does not start at rank 51", tt.user)
		}
		csv := text(t, c.do("GET", "/console/data/lists/churn-risk", nil))
		if strings.Count(csv, "\n") != 121 || strings.Contains(csv, f.customers[0].Name) != tt.clear {
			t.Errorf("%s: CSV of %d lines, clear %v", tt.user, strings.Count(csv, "\n"), strings.Contains(csv, f.customers[0].Name))
		}
	}
	c := f.client("127.0.0.1")
	c.signIn(t, "adm", password("adm"))
	if resp := c.do("GET", "/console/lists/nope", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown list: %d", resp.StatusCode)
	}
}

// TestNegatedConditionReachesTheAPI: not.<field> in a search URL is kept
// and negates, so the counts with and without it add up to everyone's.
func TestNegatedConditionReachesTheAPI(t *testing.T) {
	f := newFixture(t)
	c := f.client("127.0.0.1")
	c.signIn(t, "ana", password("ana"))
	count := func(q string) int {
		t.Helper()
		resp := c.do("GET", "/console/data/customers?"+q, nil)
		var got struct{ Count int }
		json.NewDecoder(resp.Body).Decode(&got)
		if resp.StatusCode != 200 {
			t.Fatalf("%q: %d", q, resp.StatusCode)
		}
		return got.Count
	}
	all, in, out := count(""), count("region=North"), count("not.region=North")
	if in == 0 || out == 0 || in+out != all {
		t.Errorf("region=North %d + not.region=North %d, want both > 0 adding to %d", in, out, all)
	}
	if got := conditions(mustQuery(t, "not.region=North&not.bogus=1&group=g1")); got.Get("not.region") != "North" || got.Has("not.bogus") || got.Get("group") != "g1" {
		t.Errorf("conditions kept %v", got)
	}
}
