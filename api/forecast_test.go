package api

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/telcolake/telcolake/forecast"
)

const fixtureScenario = "scn-20261101T090000Z-fixture"

// scenarioBody is a retention offer to the North with a given uplift.
const scenarioBody = `{"name":"North offer","kind":"retention","by":"region","group":"North","contacts":50,
"cost_per_contact":2,"offer_cost":5,"acceptance_rate":0.4,"uplift":0.1,"uplift_lo":0.02,"uplift_hi":0.18}`

// fixtureForecast is a forecast built from 14 seeded months of two
// regions and one plan.
func fixtureForecast(t testing.TB) Forecasts { return fixtureForecastWith(t, nil) }

// fixtureForecastWith is fixtureForecast with elasticities stored beside
// it, as the training run stores them.
func fixtureForecastWith(t testing.TB, es []forecast.PlanElasticity) Forecasts {
	t.Helper()
	var series []forecast.Series
	start := time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)
	for gi, k := range []forecast.Key{{Dim: "total", Group: "all"}, {Dim: "region", Group: "North"}, {Dim: "region", Group: "South"}, {Dim: "plan", Group: "BASIC10"}} {
		s := forecast.Series{Dim: k.Dim, Group: k.Group}
		subs := 1000.0 * float64(gi+1)
		for m := range 14 {
			churned := math.Round(subs * 0.02)
			subs += 15 - churned
			s.Points = append(s.Points, forecast.Point{Month: start.AddDate(0, m, 0), Subscribers: subs, New: 15, Churned: churned,
				Revenue: subs * (10 + float64(m%3)), Minutes: subs * 120, DataMB: subs * 3000})
		}
		series = append(series, s)
	}
	res, err := forecast.Build(series, nil, forecast.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	res.Elasticities = es
	return forecast.MemForecast{Stored: res.Stored("20261101T030000Z", start.AddDate(0, 14, 1))}
}

func seedScenario(t testing.TB, f *fixture) {
	t.Helper()
	u := 0.05
	sc := forecast.Scenario{ID: fixtureScenario, Owner: "ops", CreatedAt: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC), ForecastRun: "20261101T030000Z",
		Spec: forecast.Spec{Name: "shared offer", Kind: forecast.KindRetention, By: "total", Group: "all", Shared: true,
			Uplift: &u, UpliftLo: &u, UpliftHi: &u, Months: 12, EffectMonths: 2}}
	if err := f.s.cfg.Scenarios.Save(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
}

func TestForecastParams(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct{ query, param string }{
		{"by=city", "by"},
		{"measure=profit", "measure"},
		{"months=7", "months"},
		{"months=0", "months"},
		{"months=x", "months"},
		{"by=region&by=plan", "by"},
		{"colour=red", "colour"},
	}
	for _, tt := range tests {
		resp := f.get(t, RoleAnalyst, "/v1/forecast?"+tt.query)
		if resp.StatusCode != http.StatusBadRequest || problemOfBody(t, resp.Body).Parameter != tt.param {
			t.Errorf("GET /v1/forecast?%s = %d %s, want 400 naming %s", tt.query, resp.StatusCode, cut(resp.Body, 200), tt.param)
		}
	}
}

func TestForecastAnswer(t *testing.T) {
	f := newFixture(t, nil)
	resp := f.get(t, RoleAnalyst, "/v1/forecast?by=region&measure=subscribers&months=4")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, cut(resp.Body, 300))
	}
	var a forecastAnswer
	if err := json.Unmarshal([]byte(resp.Body), &a); err != nil {
		t.Fatal(err)
	}
	if a.By != "region" || a.Months != 4 || len(a.Groups) != 2 || a.Groups[0].Group != "North" || a.Groups[1].Group != "South" {
		t.Fatalf("answer %+v: want North and South", a)
	}
	// 14 months of history: the backtest's baseline is naive (11 months
	// before the backtest), the served baseline seasonal naive.
	if a.Backtest.Baseline != forecast.MethodNaive || a.Backtest.ModelMAPE == nil || a.Backtest.Note == "" {
		t.Errorf("backtest %+v", a.Backtest)
	}
	if (a.Served == "model") != (a.Method == forecast.MethodCohort) || (a.Served == "model") != a.Backtest.BeatBaseline {
		t.Errorf("served %s by %s, beat %v: the model only when it beat the baseline", a.Served, a.Method, a.Backtest.BeatBaseline)
	}
	for _, g := range a.Groups {
		if len(g.History) != 14 || len(g.Forecast) != 4 || g.Forecast[0].Month != "2026-11" {
			t.Errorf("%s: %d history, %d forecast from %v; want 14, 4 from 2026-11", g.Group, len(g.History), len(g.Forecast), g.Forecast)
		}
		for _, m := range g.Forecast {
			if !(m.Lo95 <= m.Lo80 && m.Lo80 <= m.Hi80 && m.Hi80 <= m.Hi95) {
				t.Errorf("%s %s: bands out of order %+v", g.Group, m.Month, m)
			}
		}
	}
	none := newFixture(t, func(c *Config) { c.Forecasts = forecast.MemForecast{} })
	none.allow5xx = true
	if resp := none.get(t, RoleAdmin, "/v1/forecast"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("without a forecast: %d, want 503", resp.StatusCode)
	}
}

func (f *fixture) postScenario(t *testing.T, role Role, body string) response {
	t.Helper()
	r := event("POST", "/v1/scenarios", "Content-Type", "application/json", "X-API-Key", secretOf[role])
	r.Body = ioNopCloser(body)
	return f.do(t, r)
}

func TestScenarioCreateAndCompare(t *testing.T) {
	f := newFixture(t, nil)
	resp := f.postScenario(t, RoleAnalyst, scenarioBody)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, cut(resp.Body, 300))
	}
	var a scenarioInfo
	if err := json.Unmarshal([]byte(resp.Body), &a); err != nil {
		t.Fatal(err)
	}
	o := a.Outcome
	// 50 contacted at 2, 20 accept at 5: cost 200.
	if o.Cost != 200 || len(o.Months) != 12 || o.Effect.Source != "given by the analyst" || a.Owner != "bi-team" {
		t.Errorf("outcome cost %v over %d months, effect %q, owner %s", o.Cost, len(o.Months), o.Effect.Source, a.Owner)
	}
	if !(o.Profit.Lo95 < o.Profit.Point && o.Profit.Point < o.Profit.Hi95) || o.Months[1].ExtraSubscribers.Point != 5 {
		t.Errorf("profit %+v, extra customers in month 2 %v (want 50 × 0.1)", o.Profit, o.Months[1].ExtraSubscribers.Point)
	}
	price := `{"name":"BASIC10 +10%","kind":"price","plan":"BASIC10","price_change_pct":10,"elasticity":1.5,"elasticity_se":0.4,"months":6}`
	resp = f.postScenario(t, RoleAnalyst, price)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("price: %d %s", resp.StatusCode, cut(resp.Body, 300))
	}
	var p scenarioInfo
	_ = json.Unmarshal([]byte(resp.Body), &p)
	if len(p.Outcome.Months) != 6 || !strings.Contains(p.Outcome.Effect.Source, "given") || p.Outcome.Months[5].Revenue.Point <= p.Outcome.Months[5].BaselineRevenue.Point {
		t.Errorf("price outcome %+v: 6 months, more revenue at +10%% with elasticity 1.5 on a 2%% hazard", p.Outcome.Months)
	}
	// Side by side, in the asked order; the shared fixture scenario too.
	resp = f.get(t, RoleAnalyst, "/v1/scenarios?ids="+p.ID+","+a.ID+","+fixtureScenario)
	var cmp struct {
		Compare []comparison `json:"compare"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &cmp); err != nil || len(cmp.Compare) != 3 || cmp.Compare[0].ID != p.ID || cmp.Compare[1].Profit != o.Profit {
		t.Errorf("side by side: %d %s", resp.StatusCode, cut(resp.Body, 300))
	}
	// The analyst's scenario is theirs and admins': another analyst-role
	// key would not see it; the agent may not ask at all.
	if resp := f.get(t, RoleAdmin, "/v1/scenarios/"+a.ID); resp.StatusCode != http.StatusOK {
		t.Errorf("admin reads an analyst's scenario: %d", resp.StatusCode)
	}
	if resp := f.get(t, RoleAnalyst, "/v1/scenarios?ids=nope"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown id: %d, want 404", resp.StatusCode)
	}
}

// TestPriceScenarioUsesEstimate: a price scenario without an elasticity
// takes the one stored with the forecast (the plan's own, else the
// overall) and says where it came from; an analyst's elasticity overrides
// it, and the answer says that too.
func TestPriceScenarioUsesEstimate(t *testing.T) {
	own := forecast.PlanElasticity{Plan: "BASIC10", SE: 0.25, Changes: 140, Own: true,
		Estimate: forecast.Estimate{Value: 1.2, Lo: 1.2 - 1.959963984540054*0.25, Hi: 1.2 + 1.959963984540054*0.25, Source: "estimated from 140 plan changes away from BASIC10"}}
	all := forecast.PlanElasticity{Plan: forecast.OverallPlan, SE: 0.2, Changes: 300,
		Estimate: forecast.Estimate{Value: 0.9, Lo: 0.9 - 1.959963984540054*0.2, Hi: 0.9 + 1.959963984540054*0.2, Source: "estimated from 300 plan changes, all plans"}}
	f := newFixture(t, func(c *Config) { c.Forecasts = fixtureForecastWith(t, []forecast.PlanElasticity{all, own}) })
	post := func(body string) forecast.Outcome {
		t.Helper()
		resp := f.postScenario(t, RoleAnalyst, body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", body, resp.StatusCode, cut(resp.Body, 300))
		}
		var sc scenarioInfo
		if err := json.Unmarshal([]byte(resp.Body), &sc); err != nil {
			t.Fatal(err)
		}
		return sc.Outcome
	}
	tests := []struct {
		name, body string
		value      float64
		source     []string
	}{
		{"estimated", `{"name":"dearer","kind":"price","plan":"BASIC10","price_change_pct":10}`, 1.2,
			[]string{"estimated from 140 plan changes away from BASIC10", "95% 0.710 … 1.690"}},
		{"given", `{"name":"dearer","kind":"price","plan":"BASIC10","price_change_pct":10,"elasticity":2,"elasticity_se":0.5}`, 2,
			[]string{"given by the analyst, overriding the lake's estimate 1.200 (95% 0.710 … 1.690)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := post(tt.body)
			if o.Effect.Value != tt.value || len(o.Assumptions) == 0 {
				t.Fatalf("effect %+v, want %v", o.Effect, tt.value)
			}
			for _, w := range tt.source {
				if !strings.Contains(o.Assumptions[0], w) {
					t.Errorf("assumption %q, want %q", o.Assumptions[0], w)
				}
			}
			// Dearer: fewer customers than the baseline at the end.
			last := o.Months[len(o.Months)-1]
			if last.ExtraSubscribers.Point >= 0 || last.ExtraSubscribers.Lo95 >= last.ExtraSubscribers.Hi95 {
				t.Errorf("extra customers at the end %+v, want fewer, with a band", last.ExtraSubscribers)
			}
		})
	}
	// A plan without an estimate of its own in the run: the overall one.
	if got, ok := forecast.ElasticityFor(mustStored(t, f), "PLUS20"); !ok || got.Value != 0.9 || !strings.Contains(got.Source, "plan PLUS20 has no estimate of its own") {
		t.Errorf("ElasticityFor(PLUS20) = %+v, want the overall", got)
	}
}

func mustStored(t *testing.T, f *fixture) *forecast.Stored {
	t.Helper()
	st, err := f.s.cfg.Forecasts.Forecast(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestScenarioPrivate(t *testing.T) {
	f := newFixture(t, nil)
	private := forecast.Scenario{ID: "scn-private", Owner: "ops", CreatedAt: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC),
		Spec: forecast.Spec{Name: "admin's own", Kind: forecast.KindPrice, Plan: "BASIC10"}}
	if err := f.s.cfg.Scenarios.Save(context.Background(), private); err != nil {
		t.Fatal(err)
	}
	if resp := f.get(t, RoleAnalyst, "/v1/scenarios/scn-private"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("analyst reads an admin's private scenario: %d, want 404", resp.StatusCode)
	}
	resp := f.get(t, RoleAnalyst, "/v1/scenarios")
	if strings.Contains(resp.Body, "scn-private") || !strings.Contains(resp.Body, fixtureScenario) {
		t.Errorf("analyst's list: %s", cut(resp.Body, 300))
	}
}

func TestScenarioBadBodies(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct{ body, param string }{
		{`{"name":"x","kind":"price","plan":"BASIC10","price_change_pct":10}`, "elasticity"},
		{`{"name":"x","kind":"price","plan":"GOLD","price_change_pct":10,"elasticity":1,"elasticity_se":0.1}`, "plan"},
		{`{"name":"x","kind":"retention","by":"region","group":"Mars","uplift":0.1,"uplift_lo":0,"uplift_hi":0.2,"acceptance_rate":0.5}`, "group"},
		{`{"name":"x","kind":"retention","uplift":0.1,"uplift_lo":0,"uplift_hi":0.2}`, "acceptance_rate"},
		{`{"name":"x","kind":"retention","campaign":"cmp-none"}`, "campaign"},
		{`{"name":"x","kind":"retention","uplift":0.1}`, "uplift"},
		{`{"name":"","kind":"retention"}`, "name"},
	}
	for _, tt := range tests {
		resp := f.postScenario(t, RoleAnalyst, tt.body)
		if resp.StatusCode != http.StatusBadRequest || problemOfBody(t, resp.Body).Parameter != tt.param {
			t.Errorf("POST %s = %d %s, want 400 naming %s", tt.body, resp.StatusCode, cut(resp.Body, 200), tt.param)
		}
	}
	if resp := f.postScenario(t, RoleAnalyst, `{"name":"x","kind":"retention","bogus":1}`); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown field: %d, want 400", resp.StatusCode)
	}
}

// TestScenarioFromCampaign: the offer's effect is the fixture campaign's
// measured uplift, labelled as such.
func TestScenarioFromCampaign(t *testing.T) {
	f := newFixture(t, nil)
	resp := f.postScenario(t, RoleAdmin, `{"name":"as measured","kind":"retention","campaign":"`+fixtureCampaign+`","months":3}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("%d %s", resp.StatusCode, cut(resp.Body, 300))
	}
	var a scenarioInfo
	_ = json.Unmarshal([]byte(resp.Body), &a)
	res, err := f.s.cfg.Campaigns.Measure(context.Background(), fixtureCampaign, f.s.now())
	if err != nil {
		t.Fatal(err)
	}
	if e := a.Outcome.Effect; e.Value != res.Uplift.Estimate || e.Lo != res.Uplift.Lo || !strings.Contains(e.Source, "measured by campaign "+fixtureCampaign) {
		t.Errorf("effect %+v, want the campaign's uplift %+v", e, res.Uplift)
	}
}
