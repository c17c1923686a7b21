package web

import (
	"math"
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
		// Axes: the history's first month (2026-01) and the forecast's
		// months (2026-11 …) labelled, the years under the first month and
		// January, value ticks on the left.
		for _, want := range []string{`class="xl" x="52.0" y="202.0">01</text>`, `>2026</text>`, `>11</text>`, `>2027</text>`, `class="yl"`, `class="axis"`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: chart lacks %s", tt.user, want)
			}
		}
	}
}

// TestAxisTicks: round ticks that cover the range, and short labels.
func TestAxisTicks(t *testing.T) {
	for _, tt := range []struct {
		lo, hi float64
		want   []float64
	}{
		{0, 1000, []float64{0, 250, 500, 750, 1000}},
		{0, 900, []float64{0, 250, 500, 750, 1000}},
		{430, 980, []float64{400, 600, 800, 1000}},
		{0.12, 0.31, []float64{0.1, 0.15, 0.2, 0.25, 0.3, 0.35}},
		{5, 5, []float64{5}},
	} {
		got := axisTicks(tt.lo, tt.hi, 4)
		if len(got) != len(tt.want) {
			t.Errorf("axisTicks(%v, %v) = %v, want %v", tt.lo, tt.hi, got, tt.want)
			continue
		}
		for i := range got {
			if math.Abs(got[i]-tt.want[i]) > 1e-9 {
				t.Errorf("axisTicks(%v, %v) = %v, want %v", tt.lo, tt.hi, got, tt.want)
				break
			}
		}
	}
	for v, want := range map[float64]string{0: "0", 12: "12", 0.25: "0.25", 350000: "350k", 1250000: "1.25M", 2500: "2.5k", -4000: "-4k"} {
		if got := compact(v); got != want {
			t.Errorf("compact(%v) = %q, want %q", v, got, want)
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
