package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/telcolake/telcolake/forecast"
)

// testForecast is a forecast over 10 seeded months of the total and two
// regions.
func testForecast(t testing.TB) forecast.MemForecast {
	t.Helper()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ss []forecast.Series
	for gi, k := range []forecast.Key{{Dim: "total", Group: "all"}, {Dim: "region", Group: "North"}, {Dim: "region", Group: "South"}} {
		s := forecast.Series{Dim: k.Dim, Group: k.Group}
		subs := 500.0 * float64(gi+1)
		for m := range 10 {
			subs = subs*0.98 + 12
			s.Points = append(s.Points, forecast.Point{Month: start.AddDate(0, m, 0), Subscribers: subs, New: 12, Churned: subs * 0.02,
				Revenue: subs * (20 + float64(m%2)), Minutes: subs * 90, DataMB: subs * 2500})
		}
		ss = append(ss, s)
	}
	res, err := forecast.Build(ss, nil, forecast.Options{Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	return forecast.MemForecast{Stored: res.Stored("20261101T030000Z", start.AddDate(0, 10, 1))}
}

// TestForecastPage: analysts see a chart with bands per region and the
// served method; agents are refused, as by the API.
func TestForecastPage(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		user string
		code int
	}{{"ada", 403}, {"ana", 200}, {"adm", 200}} {
		c := f.client("127.0.0.1")
		c.signIn(t, tt.user, password(tt.user))
		resp := c.do("GET", "/console/forecast?by=region&measure=subscribers", nil)
		body := text(t, resp)
		if resp.StatusCode != tt.code {
			t.Fatalf("%s: /console/forecast = %d, want %d", tt.user, resp.StatusCode, tt.code)
		}
		if tt.code != 200 {
			continue
		}
		if strings.Count(body, `class="b95"`) != 2 || strings.Count(body, `class="b80"`) != 2 || !strings.Contains(body, "North") || !strings.Contains(body, "South") {
			t.Errorf("%s: want two charts with 80/95 bands, North and South", tt.user)
		}
		if !strings.Contains(textOf(t, body, "forecast-method"), "naive") && !strings.Contains(textOf(t, body, "forecast-method"), "cohort") {
			t.Errorf("%s: the served method is not named: %s", tt.user, textOf(t, body, "forecast-method"))
		}
		if strings.Contains(body, "NaN") {
			t.Errorf("%s: page shows NaN", tt.user)
		}
	}
}

// TestScenariosPage: an analyst creates a retention scenario through the
// form (CSRF), lands on it compared, and a bad number is refused by name.
func TestScenariosPage(t *testing.T) {
	f := newFixture(t)
	ana := f.client("127.0.0.1")
	ana.signIn(t, "ana", password("ana"))
	page := text(t, ana.do("GET", "/console/scenarios", nil))
	form := url.Values{"csrf": {ana.csrf(t, page)}, "name": {"North offer"}, "kind": {"retention"}, "by": {"region"}, "group": {"North"},
		"contacts": {"100"}, "cost_per_contact": {"2"}, "offer_cost": {"5"}, "acceptance_rate": {"0.4"},
		"uplift": {"0.1"}, "uplift_lo": {"0.02"}, "uplift_hi": {"0.18"}}
	resp := ana.do("POST", "/console/scenarios", form)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/scenarios?id=scn-") {
		t.Fatalf("create: %d to %q: %s", resp.StatusCode, resp.Header.Get("Location"), text(t, resp))
	}
	body := text(t, ana.do("GET", resp.Header.Get("Location"), nil))
	if cmp := textOf(t, body, "compare"); !strings.Contains(cmp, "North offer") || !strings.Contains(cmp, "region=North") {
		t.Errorf("comparison: %s", cmp)
	}
	bad := url.Values{"csrf": form["csrf"], "name": {"x"}, "kind": {"retention"}, "uplift": {"lots"}}
	if resp := ana.do("POST", "/console/scenarios", bad); resp.StatusCode != http.StatusBadRequest || !strings.Contains(text(t, resp), "uplift") {
		t.Errorf("bad number: %d", resp.StatusCode)
	}
	noToken := url.Values{"name": {"x"}}
	if resp := ana.do("POST", "/console/scenarios", noToken); resp.StatusCode != http.StatusForbidden {
		t.Errorf("without CSRF: %d, want 403", resp.StatusCode)
	}
}
