package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/models/serving"
)

// testReport is a lifecycle report over the fixture's customers, built
// with the insight functions the score function uses.
func testReport(t testing.TB, run string, cs []serving.Customer) json.RawMessage {
	t.Helper()
	rep := insight.Report{Run: run, DataEnd: "2026-10-31"}
	var obs []insight.Obs
	var plans []string
	var scored []insight.Scored
	var items []insight.Reasoned
	for i := range cs {
		c := &cs[i]
		left := i%4 == 0
		obs = append(obs, insight.Obs{Time: float64(c.TenureMonths) + 0.5, Event: left})
		plans = append(plans, c.Plan)
		scored = append(scored, insight.Scored{Prob: c.Probability, Left: left})
		items = append(items, insight.Reasoned{Group: c.Region, Reason: []string{"many calls to customer care", "spend falling"}[i%2]})
	}
	sb, err := insight.SurvivalByGroup("plan", obs, plans)
	if err != nil {
		t.Fatal(err)
	}
	rep.Survival = []insight.SurvivalBy{sb}
	rep.Transitions = []insight.TransitionMatrix{insight.Transitions("2026-09", "2026-10",
		[]insight.Move{{From: "new", To: "established"}, {From: "new", To: "lost"}, {From: "joined", To: "new"}})}
	rep.ValueCurve = []insight.TenureValue{{Tenure: 0, Customers: 30, MeanValue: 20}, {Tenure: 1, Customers: 30, MeanValue: 25}}
	rep.Causes = []insight.CausesBy{{By: "region", Threshold: 0.4, AtRisk: insight.CountReasons(items),
		Left: []insight.LeftMonth{{Month: "2026-10", Left: 5, Scored: 4, Groups: insight.CountReasons(items[:4])}}}}
	stayed := make([]insight.Scored, len(scored))
	for i, x := range scored {
		stayed[i] = insight.Scored{Prob: x.Prob}
	}
	rep.Tracking = insight.Tracking{Runs: []insight.RunTracking{insight.TrackRun(run, "2026-08", "2026-10-31", true, scored),
		insight.TrackRun(run+"b", "2026-09", "2026-11-30", true, stayed)},
		Drift:    []insight.FeatureDrift{{Feature: "voice_minutes", From: "2026-09", To: "2026-10", PSI: 0.31, Level: "significant"}},
		Moderate: insight.PSIModerate, Significant: insight.PSISignificant}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLifecyclePages: analysts and admins see the three pages with their
// charts; agents are refused and not shown the links; no customer's id,
// name or number appears.
func TestLifecyclePages(t *testing.T) {
	f := newFixture(t)
	pages := []struct {
		path  string
		wants []string
	}{
		{"/console/lifecycle", []string{`<svg class="surv"`, `class="band s0"`, `<svg class="heat"`, `id="logrank"`, "2026-09 → 2026-10", "<th>Plan</th>"}},
		{"/console/lifecycle?by=region", []string{`<strong>region</strong>`}},
		// The reasons are longer than the narrow chart's labels: the wide
		// chart shows them whole.
		{"/console/causes", []string{`<svg class="hbars wide"`, ">many calls to customer care</text>", `id="leavers"`, "2026-10", "<th>Region</th>"}},
		{"/console/tracking", []string{`id="tracked-runs"`, `<svg class="pairs"`, `drift-significant`, "0.310",
			// A complete window without a leaver says why it has no figure.
			`<p class="note no-leavers">20261102T040000Zb (2026-09, window to 2026-11-30): no customer of this run`}},
	}
	for _, tt := range []struct {
		user   string
		status int
	}{{"ada", http.StatusForbidden}, {"ana", http.StatusOK}, {"adm", http.StatusOK}} {
		c := f.client("127.0.0.1")
		c.signIn(t, tt.user, password(tt.user))
		home := text(t, c.do("GET", "/console/lookup", nil))
		if strings.Contains(home, `href="/console/lifecycle`) != (tt.status == http.StatusOK) {
			t.Errorf("%s: lifecycle link shown %v", tt.user, strings.Contains(home, `href="/console/lifecycle`))
		}
		for _, p := range pages {
			resp := c.do("GET", p.path, nil)
			body := text(t, resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("%s: GET %s = %d, want %d", tt.user, p.path, resp.StatusCode, tt.status)
			}
			if tt.status != http.StatusOK {
				continue
			}
			for _, w := range p.wants {
				if !strings.Contains(body, w) {
					t.Errorf("%s: %s lacks %q", tt.user, p.path, w)
				}
			}
			// "group" once named both the grouping here and the
			// campaigns page's saved group, and the latter won.
			if strings.Contains(body, "Saved group") {
				t.Errorf("%s: %s heads a column \"Saved group\"", tt.user, p.path)
			}
			for i := range f.customers[:50] {
				cu := &f.customers[i]
				if strings.Contains(body, cu.SubscriberID) || strings.Contains(body, cu.MSISDN) || (cu.Name != "" && strings.Contains(body, cu.Name)) {
					t.Fatalf("%s: %s shows customer %d", tt.user, p.path, i)
				}
			}
		}
	}
}

func TestEstimate(t *testing.T) {
	v := func(x float64) *float64 { return &x }
	for _, tt := range []struct {
		lang string
		e    insight.Estimate
		want string
	}{
		{"en", insight.Estimate{Value: v(24.3), Lower: v(20.1), Upper: v(30)}, "24.3 (20.1–30.0)"},
		{"en", insight.Estimate{Value: v(92.3), Lower: v(89.7)}, "92.3 (89.7–∞)"},
		{"en", insight.Estimate{}, "not reached"},
		{"en", insight.Estimate{Lower: v(40.2)}, "not reached (> 40.2)"},
		{"zh", insight.Estimate{}, "未达到"},
	} {
		if got := estimate(dicts[tt.lang], tt.e); got != tt.want {
			t.Errorf("estimate(%s, %+v) = %q, want %q", tt.lang, tt.e, got, tt.want)
		}
	}
}
