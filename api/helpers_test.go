package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"github.com/telcolake/telcolake/forecast"
	"github.com/telcolake/telcolake/groups"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/lambdahttp"
	"github.com/telcolake/telcolake/models/serving"
)

// The test keys' secrets, one per role.
const (
	agentSecret   = "agent-secret-0123456789"
	analystSecret = "analyst-secret-0123456789"
	adminSecret   = "admin-secret-0123456789"
)

var secretOf = map[Role]string{RoleAgent: agentSecret, RoleAnalyst: analystSecret, RoleAdmin: adminSecret}

func testKeys() []Key {
	return []Key{
		{Name: "desk-7", Role: RoleAgent, Hash: HashKey(agentSecret)},
		{Name: "bi-team", Role: RoleAnalyst, Hash: HashKey(analystSecret)},
		{Name: "ops", Role: RoleAdmin, Hash: HashKey(adminSecret)},
	}
}

var (
	firstNames = []string{"Anna", "Ben", "Cem", "Dana", "Émile", "Farah", "Gus", "Hana", "Ivo", "Jule", "Kofi", "Lena", "Zoë Marie"}
	lastNames  = []string{"Schmidt", "Okafor", "Yılmaz", "Novak", "García", "Müller", "Ito", "Berg", "Dubois", "Khan"}
	regions    = []string{"North", "South", "East", "West", "Central", "Île-de-France"}
	plans      = []string{"BASIC10", "PLUS20", "MAX40", "DATA15"}
	payments   = []string{"direct_debit", "card", "cash", "invoice"}
	ageBands   = []string{"18-24", "25-34", "35-44", "45-54", "55-64", "65+", ""}
	reasonPool = []string{"falling usage", "rising arrears", "service calls", "short tenure", "competitor contacts", "roaming drop"}
	segNames   = []string{"heavy talkers", "data natives", "roamers", "quiet savers", "family hubs"}
)

// genSnapshot builds a deterministic snapshot of n customers. Values are
// rounded coarsely so that sort ties are common. Without history the
// customers are smaller (for the 1M benchmark).
var (
	occupations = []string{"teacher", "engineer", "sales, retail", "retired", ""}
	educations  = []string{"secondary", "university", "vocational"}
	incomeBands = []string{"A", "B", "C", "D", "E", ""}
)

func genSnapshot(seed uint64, n int, history bool) (*serving.Meta, []serving.Customer) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	cs := make([]serving.Customer, n)
	for i := range cs {
		c := &cs[i]
		c.SubscriberID = fmt.Sprintf("S%07d", i*3+1)
		c.MSISDN = fmt.Sprintf("4917%08d", rng.IntN(1e8))
		c.Name = pick(firstNames) + " " + pick(lastNames)
		c.Gender = pick([]string{"F", "M", "U"})
		c.AgeBand, c.Region, c.Plan, c.PaymentMethod = pick(ageBands), pick(regions), pick(plans), pick(payments)
		c.TenureMonths = int32(rng.IntN(121))
		c.ActivationDate = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).AddDate(0, -int(c.TenureMonths), 0).Format(time.DateOnly)
		switch x := rng.IntN(20); {
		case x == 0:
			c.Status, c.Lifecycle = "deactivated", "lost"
		case x == 1:
			c.Status, c.Lifecycle = "suspended", "suspended"
		default:
			c.Status = "active"
			c.Lifecycle = map[bool]string{true: "new", false: "established"}[c.TenureMonths < 6]
			if c.TenureMonths > 60 {
				c.Lifecycle = "loyal"
			}
		}
		c.StatusDate = c.ActivationDate
		if c.Status != "deactivated" {
			c.Probability = math.Round(rng.Float64()*100) / 100
			for k := rng.IntN(4); k > 0; k-- {
				c.Reasons = append(c.Reasons, pick(reasonPool))
			}
		}
		c.SegmentID = int32(rng.IntN(len(segNames)))
		c.SegmentName = segNames[c.SegmentID]
		c.MonthlyValue = math.Round(rng.Float64()*750)/10 + 5
		c.CLV = math.Round(c.MonthlyValue*20*(1-c.Probability)*100) / 100
		c.ValueAtRisk = math.Round(c.Probability*c.CLV*100) / 100
		c.VoiceMinutes = math.Round(rng.Float64() * 600)
		c.VoiceCalls = int32(rng.IntN(300))
		c.SMS = int32(rng.IntN(100))
		c.DataMB = math.Round(rng.Float64()*20000) / 4
		c.RoamingCalls = int32(rng.IntN(8))
		c.IntlCalls = int32(rng.IntN(10))
		c.CareCalls = int32(rng.IntN(5))
		c.DistinctContact = int32(rng.IntN(80))
		c.AmountDue = c.MonthlyValue
		if rng.IntN(5) == 0 {
			c.MonthsInArrears = int32(1 + rng.IntN(4))
			c.Arrears = math.Round(float64(c.MonthsInArrears)*c.MonthlyValue*100) / 100
		}
		c.Occupation, c.Education, c.IncomeBand = pick(occupations), pick(educations), pick(incomeBands)
		c.District = c.Region + "-" + strconv.Itoa(1+rng.IntN(4))
		c.Discount = float64(rng.IntN(4)) * 2.5
		c.CreditUse = math.Round(rng.Float64()*120) / 100
		c.VoiceMinutesTrend, c.CallsTrend = math.Round(rng.NormFloat64()*10)/20, math.Round(rng.NormFloat64()*10)/20
		c.DataTrend, c.ContactsTrend, c.SpendTrend = math.Round(rng.NormFloat64()*10)/20, math.Round(rng.NormFloat64()*10)/20, math.Round(rng.NormFloat64()*10)/20
		c.Profit = math.Round(c.MonthlyValue*60) / 100
		c.CostToServe = math.Round((c.MonthlyValue+c.Discount-c.Profit)*100) / 100
		// No draw (it would shift every later customer): a spread of
		// bad-debt probabilities from figures already drawn.
		if c.Status != "deactivated" {
			c.BadDebtProbability = math.Round(math.Mod(c.CreditUse*7+float64(c.MonthsInArrears)*0.13+c.VoiceMinutes/997, 1)*100) / 100
			if c.BadDebtProbability >= 0.5 {
				c.BadDebtReasons = []string{"many international calls (12 calls)", "bill near the credit limit (95%)"}
			}
		}
		c.ValueTier = pick(serving.Tiers[:4])
		if c.Status == "deactivated" {
			c.ValueTier = serving.TierNone
		}
		if history {
			for m := 0; m < 6; m++ {
				c.History = append(c.History, serving.Month{Month: fmt.Sprintf("2026-%02d", 5+m), VoiceMinutes: float64(rng.IntN(600)),
					VoiceCalls: int32(rng.IntN(300)), SMS: int32(rng.IntN(50)), DataMB: float64(rng.IntN(5000)), CareCalls: int32(rng.IntN(3)),
					AmountDue: c.MonthlyValue, AmountPaid: c.MonthlyValue})
			}
		}
	}
	meta := &serving.Meta{Run: "20261102T040000Z", ScoredAt: time.Date(2026, 11, 2, 4, 0, 0, 0, time.UTC), FeatureMonth: "2026-10",
		ChurnModel: "churn-20261101T000000Z", SegmentModel: "segment-20261101T000000Z", Customers: n,
		Value: serving.ValueModel{Costs: serving.DefaultCosts, AnnualDiscountRate: 0.1, HorizonMonths: 24, LabelHorizonMonths: 2}}
	for id, name := range segNames {
		var size int
		var p, v float64
		for i := range cs {
			if cs[i].SegmentID == int32(id) {
				size++
				p += cs[i].Probability
				v += cs[i].MonthlyValue
			}
		}
		meta.Segments = append(meta.Segments, serving.Segment{ID: int32(id), Name: name, Profile: "profile of " + name,
			Customers: size, Share: float64(size) / float64(max(n, 1)), ChurnRate: 0.05, MeanPredicted: p / float64(max(size, 1)), MeanValue: v / float64(max(size, 1))})
	}
	ranked := func(keep func(*serving.Customer) bool, by func(*serving.Customer) float64, limit int) []string {
		var idx []int
		for i := range cs {
			if keep(&cs[i]) {
				idx = append(idx, i)
			}
		}
		slices.SortStableFunc(idx, func(a, b int) int { return -cmp.Compare(by(&cs[a]), by(&cs[b])) })
		ids := []string{}
		for _, i := range idx[:min(limit, len(idx))] {
			ids = append(ids, cs[i].SubscriberID)
		}
		return ids
	}
	all := func(*serving.Customer) bool { return true }
	meta.Lists = []serving.List{
		{Name: "churn-risk", Title: "Churn risk", Description: "highest churn probability", IDs: ranked(all, func(c *serving.Customer) float64 { return c.Probability }, 100)},
		{Name: "value-at-risk", Title: "Value at risk", Description: "highest value at risk", IDs: ranked(all, func(c *serving.Customer) float64 { return c.ValueAtRisk }, 100)},
		{Name: "win-back-candidates", Title: "Win back", Description: "recently lost", IDs: ranked(func(c *serving.Customer) bool { return c.Lifecycle == "lost" },
			func(c *serving.Customer) float64 { return c.MonthlyValue }, 100)},
		{Name: "segment-2", Title: "Roamers", Description: "segment 2 by value at risk", IDs: ranked(func(c *serving.Customer) bool { return c.SegmentID == 2 },
			func(c *serving.Customer) float64 { return c.ValueAtRisk }, 1000)},
	}
	meta.Insight = testReport(meta.Run, cs)
	return meta, cs
}

// sampleSources are two promoted model runs, two ingested files of
// today and the sample cubes.
func sampleSources() *MemSources {
	auc := 0.81
	rk := "reports/exports/cdr/x.csv.errors.json"
	return &MemSources{
		Runs: []ModelRun{{Version: "churn-20261101T000000Z", Kind: "churn", Algorithm: "logistic", TrainedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
			TrainRows: 1000, AUC: &auc, Artifact: "s3://lake/models/churn/x/model.json", Promoted: true, Decision: "first model"},
			{Version: "segment-20261101T000000Z", Kind: "segment", Algorithm: "kmeans++", TrainedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
				TrainRows: 1000, Artifact: "s3://lake/models/segment/x/model.json", Promoted: true, Decision: "first model"}},
		Files: []IngestFile{{Source: "s3://landing/exports/cdr/x.csv", ETag: "e1", Status: "committed", RowsOK: 10, RowsRejected: 1, ReportKey: &rk,
			StartedAt: time.Now().UTC()},
			{Source: "s3://landing/exports/cdr/y.csv", ETag: "e2", Status: "quarantined", RowsOK: 0, RowsRejected: 9, ReportKey: &rk,
				StartedAt: time.Now().UTC()}},
		Facts: sampleFacts(),
	}
}

// sampleFacts are small stored cubes: two months of a monthly cube and a
// usage cube with its rolled-up rows.
func sampleFacts() map[string]*insight.Fact {
	m := insight.NewFact(insight.MonthlyCubeSpec)
	for _, r := range []struct {
		dims []string
		nums []float64
	}{
		{[]string{"2026-05", "North", "BASIC10", "1", "loyal", "25-34", "F"}, []float64{10, 1, 2, 199.9, 1000, 5000}},
		{[]string{"2026-05", "South", "PLUS20", "2", "new", "35-44", "M"}, []float64{5, 5, 0, 99.95, 300, 100}},
		{[]string{"2026-06", "North", "BASIC10", "1", "loyal", "25-34", "F"}, []float64{9, 0, 1, 179.91, 900, 4000}},
	} {
		if err := m.Append(r.dims, 0, r.nums); err != nil {
			panic(err)
		}
	}
	u := insight.NewFact(insight.UsageCubeSpec)
	// One subscriber F/25-34/A calling long distance at 09 on weekdays and
	// locally at 20 on weekends; one M calling long distance at 09.
	type call struct {
		hour, day, kind, gender string
		sub                     int
	}
	calls := []call{{"09", "weekday", "long_distance", "F", 1}, {"20", "weekend", "local", "F", 1}, {"09", "weekday", "long_distance", "M", 2}}
	type key [7]string
	rows := map[key][3]float64{}
	subs := map[key]map[int]bool{}
	var order []key
	grouping := map[key]uint8{}
	for _, c := range calls {
		for g := range uint8(8) {
			k := key{"2026-05", c.hour, c.day, c.kind, c.gender, "25-34", "A"}
			for b := range 3 {
				if g>>b&1 == 1 {
					k[1+b] = ""
				}
			}
			if _, ok := rows[k]; !ok {
				order = append(order, k)
				subs[k] = map[int]bool{}
				grouping[k] = g
			}
			v := rows[k]
			v[0]++
			v[1] += 10
			subs[k][c.sub] = true
			v[2] = float64(len(subs[k]))
			rows[k] = v
		}
	}
	for _, k := range order {
		v := rows[k]
		if err := u.Append(k[:], grouping[k], v[:]); err != nil {
			panic(err)
		}
	}
	return map[string]*insight.Fact{m.Spec.Name: m, u.Spec.Name: u}
}

// fixture is a server over a generated snapshot, with its audit output.
type fixture struct {
	s         *Server
	meta      *serving.Meta
	customers []serving.Customer
	audit     *syncBuffer
	allow5xx  bool // the test provokes server errors
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.Reset()
}

const fixtureSize = 400

func newFixture(t testing.TB, mod func(*Config)) *fixture {
	t.Helper()
	meta, cs := genSnapshot(7, fixtureSize, true)
	audit := &syncBuffer{}
	cfg := Config{Keys: testKeys(), Audit: slog.New(slog.NewJSONHandler(audit, nil)), MaxPageSize: 100, Campaigns: newMemCampaigns(),
		Groups: &groups.MemStore{}, Forecasts: fixtureForecast(t), Scenarios: &forecast.MemScenarios{}}
	if mod != nil {
		mod(&cfg)
	}
	s, err := newServer(meta, cs, sampleSources(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f := &fixture{s: s, meta: meta, customers: stored(t, s), audit: audit}
	seedCampaign(t, f)
	seedGroup(t, f)
	seedScenario(t, f)
	return f
}

// newServer writes meta and cs as a snapshot to a memory store, opens it
// and builds a server over it: the path of the api function.
func newServer(meta *serving.Meta, cs []serving.Customer, src Sources, cfg Config) (*Server, error) {
	st := serving.NewMemStore()
	if _, err := serving.Write(context.Background(), st, meta, cs); err != nil {
		return nil, err
	}
	snap, err := serving.Load(context.Background(), st, serving.IsNotFound, serving.Options{})
	if err != nil {
		return nil, err
	}
	return New(snap, src, cfg)
}

// stored returns every customer as the server's snapshot holds it (money
// in whole cents), to compare answers with.
func stored(t testing.TB, s *Server) []serving.Customer {
	t.Helper()
	cs, err := s.snap.Customers(context.Background(), s.ix.all)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// response is an answer as the tests read it: headers by canonical name
// (repeated ones joined with ", ").
type response struct {
	StatusCode      int
	Headers         map[string]string
	Body            string
	IsBase64Encoded bool // only through the Lambda adapter
}

// event builds a request for method and target (path?query), with headers
// as name, value pairs.
func event(method, target string, hdr ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return r
}

// gatewayEvent builds the API Gateway v2 event the gateway would send for
// method and target, with headers as given (not lowercased).
func gatewayEvent(method, target string, hdr ...string) events.APIGatewayV2HTTPRequest {
	path, raw, _ := strings.Cut(target, "?")
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "$default", RawPath: path, RawQueryString: raw, Headers: map[string]string{}}
	for i := 0; i+1 < len(hdr); i += 2 {
		ev.Headers[hdr[i]] = hdr[i+1]
	}
	ev.RequestContext = events.APIGatewayV2HTTPRequestContext{Stage: "$default", RequestID: "req-1",
		HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path}}
	return ev
}

// record serves r with h through httptest.
func record(h http.Handler, r *http.Request) response {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	out := response{StatusCode: w.Code, Headers: map[string]string{}, Body: w.Body.String()}
	for k, v := range w.Result().Header {
		out.Headers[k] = strings.Join(v, ", ")
	}
	return out
}

// do sends a request and checks what every response must have.
func (f *fixture) do(t testing.TB, r *http.Request) response {
	t.Helper()
	return f.check(t, r.Method+" "+r.URL.RequestURI(), record(f.s, r))
}

// doEvent sends an API Gateway event through the Lambda adapter, as the
// api function does, and checks the answer as do does.
func (f *fixture) doEvent(t testing.TB, ev events.APIGatewayV2HTTPRequest) response {
	t.Helper()
	resp, err := lambdahttp.Handler(f.s)(context.Background(), ev)
	if err != nil {
		t.Fatalf("Handler(%s %s?%s) error %v, want nil", ev.RequestContext.HTTP.Method, ev.RawPath, ev.RawQueryString, err)
	}
	return f.check(t, ev.RawPath+"?"+ev.RawQueryString, response{StatusCode: resp.StatusCode, Headers: resp.Headers, Body: resp.Body, IsBase64Encoded: resp.IsBase64Encoded})
}

func (f *fixture) check(t testing.TB, what string, resp response) response {
	t.Helper()
	for k, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := resp.Headers[k]; got != want {
			t.Errorf("%s: header %s = %q, want %q", what, k, got, want)
		}
	}
	if ct := resp.Headers["Content-Type"]; !strings.HasSuffix(ct, "; charset=utf-8") {
		t.Errorf("%s: Content-Type %q without charset", what, ct)
	}
	if resp.StatusCode >= 400 {
		var p Problem
		if resp.Headers["Content-Type"] != ctProblem || json.Unmarshal([]byte(resp.Body), &p) != nil || p.Status != resp.StatusCode || p.Title == "" || !strings.HasPrefix(p.Type, problemBase) {
			t.Errorf("%s: status %d answer is not problem+json: %q", what, resp.StatusCode, resp.Body)
		}
	}
	if resp.StatusCode >= 500 && !f.allow5xx {
		t.Errorf("%s: status %d: %s", what, resp.StatusCode, resp.Body)
	}
	return resp
}

// get sends GET target with role's key (none for "").
func (f *fixture) get(t testing.TB, role Role, target string) response {
	t.Helper()
	if role == "" {
		return f.do(t, event("GET", target))
	}
	return f.do(t, event("GET", target, "X-API-Key", secretOf[role]))
}

func problemOfBody(t testing.TB, body string) Problem {
	t.Helper()
	var p Problem
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("problem %q: %v", body, err)
	}
	return p
}

// pageOf decodes a filter or list page.
type pageBody struct {
	Count      int              `json:"count"`
	Items      []map[string]any `json:"items"`
	NextCursor *string          `json:"next_cursor"`
	Run        string           `json:"run"`
}

func decodePage(t testing.TB, body string) pageBody {
	t.Helper()
	var p pageBody
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("page %q: %v", cut(body, 200), err)
	}
	return p
}

func readCSV(t testing.TB, body string) (header []string, rows [][]string) {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v", err)
	}
	if len(recs) == 0 {
		t.Fatal("csv without header")
	}
	return recs[0], recs[1:]
}

func (f *fixture) byID(id string) *serving.Customer {
	i, ok := f.s.ix.row(id)
	if !ok {
		return nil
	}
	return &f.customers[i]
}
