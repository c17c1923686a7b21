package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/models/serving"
)

// testReport is a lifecycle report over the fixture's customers, built with
// the insight functions the score function uses: survival by tenure (lost
// customers left), causes of the top decile, one tracked run.
func testReport(run string, cs []serving.Customer) json.RawMessage {
	rep := insight.Report{Run: run, DataEnd: "2026-11-30"}
	var obs []insight.Obs
	keys := map[string][]string{}
	var probs []float64
	var scored []insight.Scored
	for i := range cs {
		c := &cs[i]
		obs = append(obs, insight.Obs{Time: float64(c.TenureMonths), Event: c.Lifecycle == "lost"})
		keys["plan"] = append(keys["plan"], c.Plan)
		keys["region"] = append(keys["region"], c.Region)
		keys["segment"] = append(keys["segment"], c.SegmentName)
		keys["cohort"] = append(keys["cohort"], c.ActivationDate[:4])
		probs = append(probs, c.Probability)
		scored = append(scored, insight.Scored{Prob: c.Probability, Left: c.Lifecycle == "lost"})
	}
	for _, by := range insight.SurvivalGroupings {
		sb, err := insight.SurvivalByGroup(by, obs, keys[by])
		if err != nil {
			panic(err)
		}
		rep.Survival = append(rep.Survival, sb)
	}
	th := insight.TopShareThreshold(probs, insight.AtRiskShare)
	for _, by := range []string{"region", "plan", "segment"} {
		var items []insight.Reasoned
		for i := range cs {
			if cs[i].Probability >= th && len(cs[i].Reasons) > 0 {
				g := map[string]string{"region": cs[i].Region, "plan": cs[i].Plan, "segment": cs[i].SegmentName}[by]
				items = append(items, insight.Reasoned{Group: g, Reason: insight.CauseOf(cs[i].Reasons[0])})
			}
		}
		rep.Causes = append(rep.Causes, insight.CausesBy{By: by, Threshold: th, AtRisk: insight.CountReasons(items)})
	}
	rep.Transitions = []insight.TransitionMatrix{
		insight.Transitions("2026-09", "2026-10", []insight.Move{{From: "new", To: "established"}}),
		insight.Transitions("2026-10", "2026-11", []insight.Move{{From: "loyal", To: "lost"}}),
	}
	rep.Tracking.Runs = []insight.RunTracking{insight.TrackRun(run, "2026-10", "2026-12-31", false, scored)}
	rep.Tracking.Drift = []insight.FeatureDrift{{Feature: "voice_minutes", From: "2026-09", To: "2026-10", PSI: 0.12, Level: "moderate"}}
	b, err := json.Marshal(rep)
	if err != nil {
		panic(err)
	}
	return b
}

func TestLifecycleEndpoints(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		target string
		status int
		param  string // the parameter a 400 names
		check  func(t *testing.T, body string)
	}{
		{"/v1/lifecycle/survival", 200, "", func(t *testing.T, body string) {
			var d struct {
				Survival insight.SurvivalBy `json:"survival"`
			}
			decode(t, body, &d)
			n := 0
			for _, g := range d.Survival.Groups {
				n += g.N
				if len(g.Curve) == 0 || g.Curve[0].Surv != 1 {
					t.Errorf("group %s: curve does not start at 1", g.Group)
				}
			}
			if d.Survival.By != "plan" || n != len(f.customers) || d.Survival.LogRank == nil {
				t.Errorf("default by %s covers %d customers (want plan, %d) log-rank %v", d.Survival.By, n, len(f.customers), d.Survival.LogRank)
			}
		}},
		{"/v1/lifecycle/survival?by=cohort", 200, "", func(t *testing.T, body string) {
			if !strings.Contains(body, `"by":"cohort"`) || !strings.Contains(body, `"median_months"`) {
				t.Errorf("cohort answer: %s", cut(body, 200))
			}
		}},
		{"/v1/lifecycle/survival?by=gender", 400, "by", nil},
		{"/v1/lifecycle/survival?by=plan&by=region", 400, "by", nil},
		{"/v1/lifecycle/survival?group=x", 400, "group", nil},
		{"/v1/lifecycle/transitions", 200, "", func(t *testing.T, body string) {
			var d struct {
				Transitions []insight.TransitionMatrix `json:"transitions"`
			}
			decode(t, body, &d)
			if len(d.Transitions) != 2 {
				t.Errorf("%d matrices, want 2", len(d.Transitions))
			}
		}},
		{"/v1/lifecycle/transitions?month=2026-11", 200, "", func(t *testing.T, body string) {
			var d struct {
				Transitions []insight.TransitionMatrix `json:"transitions"`
			}
			decode(t, body, &d)
			if len(d.Transitions) != 1 || d.Transitions[0].To != "2026-11" {
				t.Errorf("month=2026-11: %+v", d.Transitions)
			}
		}},
		{"/v1/lifecycle/transitions?month=2026-13", 400, "month", nil},
		{"/v1/lifecycle/transitions?month=nov", 400, "month", nil},
		{"/v1/churn/causes?by=segment", 200, "", func(t *testing.T, body string) {
			var d struct {
				By        string               `json:"by"`
				Threshold float64              `json:"threshold"`
				AtRisk    []insight.CauseGroup `json:"at_risk"`
			}
			decode(t, body, &d)
			if d.By != "segment" || len(d.AtRisk) < 2 || d.AtRisk[0].Group != "all" || d.Threshold <= 0 {
				t.Errorf("causes by segment: %+v", d)
			}
		}},
		{"/v1/churn/causes", 200, "", func(t *testing.T, body string) {
			if !strings.Contains(body, `"by":"region"`) {
				t.Errorf("default causes not by region: %s", cut(body, 200))
			}
		}},
		{"/v1/churn/causes?by=cohort", 400, "by", nil},
		{"/v1/models/tracking", 200, "", func(t *testing.T, body string) {
			var d insight.Tracking
			decode(t, body, &d)
			if len(d.Runs) != 1 || len(d.Runs[0].Deciles) != 10 || d.Runs[0].AUC == nil || len(d.Drift) != 1 {
				t.Errorf("tracking: %+v", d)
			}
		}},
		{"/v1/models/tracking?x=1", 400, "x", nil},
	} {
		t.Run(tc.target, func(t *testing.T) {
			resp := f.get(t, RoleAnalyst, tc.target)
			if resp.StatusCode != tc.status {
				t.Fatalf("GET %s = %d, want %d: %s", tc.target, resp.StatusCode, tc.status, cut(resp.Body, 300))
			}
			if tc.status == http.StatusBadRequest {
				var p Problem
				decode(t, resp.Body, &p)
				if p.Parameter != tc.param {
					t.Errorf("problem names parameter %q, want %q", p.Parameter, tc.param)
				}
				return
			}
			for i := range f.customers {
				if strings.Contains(resp.Body, f.customers[i].SubscriberID) || strings.Contains(resp.Body, f.customers[i].MSISDN) {
					t.Fatalf("answer holds customer %d's id or MSISDN", i)
				}
			}
			tc.check(t, resp.Body)
		})
	}
}

// TestLifecycleWithoutReport: a snapshot without a report answers 503.
func TestLifecycleWithoutReport(t *testing.T) {
	meta, cs := genSnapshot(3, 200, false)
	meta.Insight = nil
	s, err := newServer(meta, cs, nil, Config{Keys: testKeys()})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{s: s, meta: meta, allow5xx: true}
	for _, target := range []string{"/v1/lifecycle/survival", "/v1/lifecycle/transitions", "/v1/churn/causes", "/v1/models/tracking"} {
		if resp := f.get(t, RoleAdmin, target); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("GET %s without a report = %d, want 503", target, resp.StatusCode)
		}
	}
}

func decode(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decode %s: %v", cut(body, 200), err)
	}
}
