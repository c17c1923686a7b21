package insight

import (
	"encoding/csv"
	"math"
	"os"
	"testing"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.10f, want %.10f (±%g)", what, got, want, tol)
	}
}

func val(p *float64) float64 {
	if p == nil {
		return math.Inf(1)
	}
	return *p
}

// TestKaplanMeierByHand checks the estimate against a computation by
// hand, ties included: a censoring at an event time is still at risk.
func TestKaplanMeierByHand(t *testing.T) {
	obs := []Obs{{1, true}, {2, true}, {2, false}, {3, true}, {4, false}, {4, true}, {5, false}, {6, true}}
	c, err := KaplanMeier(obs)
	if err != nil {
		t.Fatal(err)
	}
	// t  n  d  S
	// 1  8  1  7/8             = 0.875
	// 2  7  1  0.875·6/7       = 0.75   (the one censored at 2 is at risk)
	// 3  5  1  0.75·4/5        = 0.6
	// 4  4  1  0.6·3/4         = 0.45   (the one censored at 4 is at risk)
	// 6  1  1  0                        (d = n: no Greenwood variance)
	want := []struct {
		t    float64
		n, d int
		s    float64
	}{{1, 8, 1, 0.875}, {2, 7, 1, 0.75}, {3, 5, 1, 0.6}, {4, 4, 1, 0.45}, {6, 1, 1, 0}}
	if len(c.Steps) != len(want) {
		t.Fatalf("%d steps, want %d", len(c.Steps), len(want))
	}
	for i, w := range want {
		s := c.Steps[i]
		if s.Time != w.t || s.AtRisk != w.n || s.Events != w.d {
			t.Errorf("step %d = t %v n %d d %d, want t %v n %d d %d", i, s.Time, s.AtRisk, s.Events, w.t, w.n, w.d)
		}
		near(t, "S", s.Surv, w.s, 1e-12)
	}
	// Greenwood at t=3: 0.6² (1/(8·7) + 1/(7·6) + 1/(5·4)) = 0.36 · 0.0916667.
	gw := 1.0/56 + 1.0/42 + 1.0/20
	near(t, "SE(3)", c.Steps[2].SE, 0.6*math.Sqrt(gw), 1e-12)
	// Log-log band at t=3: 0.6^exp(±z·√gw/|ln 0.6|).
	k := math.Exp(z95 * math.Sqrt(gw) / math.Abs(math.Log(0.6)))
	near(t, "lower(3)", c.Steps[2].Lower, math.Pow(0.6, k), 1e-12)
	near(t, "upper(3)", c.Steps[2].Upper, math.Pow(0.6, 1/k), 1e-12)
	if !math.IsNaN(c.Steps[4].SE) || c.Steps[4].Lower != 0 {
		t.Errorf("step at S=0: SE %v lower %v, want NaN and 0", c.Steps[4].SE, c.Steps[4].Lower)
	}
	if m := c.Median(); val(m.Value) != 4 {
		t.Errorf("median = %v, want 4 (first time S < 0.5)", val(m.Value))
	}
	for _, tc := range []struct {
		at float64
		s  float64
		n  int
		ok bool
	}{{0.5, 1, 8, true}, {2, 0.75, 5, true}, {2.5, 0.75, 5, true}, {5, 0.45, 1, true}, {7, 1, 0, false}} {
		p, ok := c.At(tc.at)
		if ok != tc.ok || (ok && (math.Abs(p.Surv-tc.s) > 1e-12 || p.AtRisk != tc.n)) {
			t.Errorf("At(%v) = S %v at risk %d ok %v, want %v %d %v", tc.at, p.Surv, p.AtRisk, ok, tc.s, tc.n, tc.ok)
		}
	}
}

// TestLogRankByHand: A = {1 event, 3 event}, B = {2 event, 4 censored}.
// Event times 1, 2, 3 with (n_A, n) = (2, 4), (1, 3), (1, 2):
// E_A = 1/2 + 1/3 + 1/2 = 4/3, O_A = 2,
// V = (1·3/3)(2/4)(2/4) + (1·2/2)(1/3)(2/3) + (1·1/1)(1/2)(1/2) = 13/18,
// χ² = (2/3)² / (13/18) = 8/13 on 1 df.
func TestLogRankByHand(t *testing.T) {
	lr, err := LogRankTest([][]Obs{{{1, true}, {3, true}}, {{2, true}, {4, false}}})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "O_A", lr.Observed[0], 2, 1e-12)
	near(t, "E_A", lr.Expected[0], 4.0/3, 1e-12)
	near(t, "chi2", lr.Chi2, 8.0/13, 1e-12)
	if lr.DF != 1 {
		t.Errorf("df = %d, want 1", lr.DF)
	}
	// χ²₁ survival is erfc(√(x/2)).
	near(t, "p", lr.P, math.Erfc(math.Sqrt(8.0/13/2)), 1e-12)
}

func TestChiSquareSurvival(t *testing.T) {
	for _, tc := range []struct {
		x    float64
		df   int
		want float64
	}{
		{3.841458820694124, 1, 0.05}, {5.991464547107979, 2, 0.05}, {0, 3, 1},
		{2, 2, math.Exp(-1)}, // χ²₂ survival is exp(−x/2)
		{20, 4, math.Exp(-10) * (1 + 10)},
		{1, 5, 0.9625657732472964},
	} {
		if got := ChiSquareSurvival(tc.x, tc.df); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("ChiSquareSurvival(%v, %d) = %v, want %v", tc.x, tc.df, got, tc.want)
		}
	}
}

// lcgData is the synthetic data of testdata/survival_reference.py: 300
// subjects in 3 groups, integer times (many ties), the same 64-bit LCG.
func lcgData() (all []Obs, groups [3][]Obs) {
	state := uint64(42)
	next := func() float64 {
		state = state*6364136223846793005 + 1442695040888963407
		return float64(state>>11) / float64(uint64(1)<<53)
	}
	for i := range 300 {
		k := i % 3
		u1, u2 := next(), next()
		o := Obs{Time: 1 + math.Floor(u1*float64(60+40*k)), Event: u2 < 0.7-0.15*float64(k)}
		all = append(all, o)
		groups[k] = append(groups[k], o)
	}
	return all, groups
}

type refPoint struct{ at, s, se, lo, hi float64 }

type refCurve struct {
	n, events            int
	median, lower, upper float64 // upper +Inf: not reached
	points               []refPoint
}

func checkRef(t *testing.T, name string, obs []Obs, want refCurve) {
	t.Helper()
	c, err := KaplanMeier(obs)
	if err != nil {
		t.Fatal(err)
	}
	if c.N != want.n || c.Events != want.events {
		t.Errorf("%s: n %d events %d, want %d %d", name, c.N, c.Events, want.n, want.events)
	}
	m := c.Median()
	if val(m.Value) != want.median || val(m.Lower) != want.lower || val(m.Upper) != want.upper {
		t.Errorf("%s: median %v [%v, %v], want %v [%v, %v]", name, val(m.Value), val(m.Lower), val(m.Upper), want.median, want.lower, want.upper)
	}
	for _, p := range want.points {
		got, ok := c.At(p.at)
		if !ok {
			t.Errorf("%s: At(%v) not defined", name, p.at)
			continue
		}
		near(t, name+" S", got.Surv, p.s, 1e-9)
		near(t, name+" lower", got.Lower, p.lo, 1e-9)
		near(t, name+" upper", got.Upper, p.hi, 1e-9)
		i := 0
		for i < len(c.Steps) && c.Steps[i].Time <= p.at {
			i++
		}
		near(t, name+" SE", c.Steps[i-1].SE, p.se, 1e-9)
	}
}

// TestKaplanMeierMatchesStatsmodels holds the estimate, its band, the
// median's interval and the log-rank test to statsmodels 0.13.5
// (SurvfuncRight, quantile_ci with its default cloglog method, survdiff).
// Every figure below is that program's output on the same data, produced
// once by `/usr/bin/python3 insight/testdata/survival_reference.py` on
// 2026-12-01 (the bands from statsmodels' Greenwood SE by the log-log
// formula, in the script).
func TestKaplanMeierMatchesStatsmodels(t *testing.T) {
	all, g := lcgData()
	checkRef(t, "all", all, refCurve{300, 166, 59, 56, 74, []refPoint{
		{10, 0.9452610447, 0.0133111169, 0.9121818246, 0.9661100798},
		{30, 0.8230900071, 0.0230252993, 0.7725818326, 0.8633758301},
		{60, 0.4863259013, 0.0335533421, 0.4191125327, 0.5501428747},
	}})
	checkRef(t, "group 0", g[0], refCurve{100, 66, 44, 38, 48, []refPoint{
		{10, 0.8778253326, 0.0330642434, 0.7948337765, 0.9287200911},
		{30, 0.6745434398, 0.0492878547, 0.5675399938, 0.7605883101},
	}})
	checkRef(t, "group 1", g[1], refCurve{100, 59, 76, 59, 87, []refPoint{
		{10, 0.9896907216, 0.0102560001, 0.9290740722, 0.9985413393},
		{30, 0.8814475350, 0.0336371733, 0.7959140108, 0.9326169700},
	}})
	checkRef(t, "group 2", g[2], refCurve{100, 41, 111, 87, 126, []refPoint{
		{10, 0.9689440994, 0.0176558208, 0.9067740338, 0.9898811109},
		{30, 0.9128937025, 0.0294938704, 0.8331210798, 0.9555273561},
	}})
	lr, err := LogRankTest(g[:])
	if err != nil {
		t.Fatal(err)
	}
	near(t, "chi2 (3 groups)", lr.Chi2, 93.9931164796, 1e-8)
	if lr.DF != 2 || lr.P > 1e-15 { // statsmodels prints p 0
		t.Errorf("3 groups: df %d p %v, want 2 and ~0", lr.DF, lr.P)
	}
	lr, err = LogRankTest(g[:2])
	if err != nil {
		t.Fatal(err)
	}
	near(t, "chi2 (groups 0, 1)", lr.Chi2, 45.0202059541, 1e-8)
	// statsmodels prints p 1.950117845e-11, computed as 1 − cdf (it loses
	// digits to cancellation); scipy's chi2.sf and erfc(√(χ²/2)) give
	// 1.9501181602e-11, which we match.
	near(t, "p (groups 0, 1)", lr.P/1.950117845e-11, 1, 1e-6)
	near(t, "p (groups 0, 1) vs erfc", lr.P/math.Erfc(math.Sqrt(lr.Chi2/2)), 1, 1e-12)
}

// TestBigMLMatchesStatsmodels runs on the real BigML churn file when the
// workspace has it (../shared/data, not in the repository): account
// length as the duration, churn as the event, by international plan.
// Figures from the same script given that file.
func TestBigMLMatchesStatsmodels(t *testing.T) {
	f, err := os.Open("../../shared/data/bigml-churn/churn-bigml-80.csv")
	if err != nil {
		t.Skip("BigML churn file not here:", err)
	}
	defer f.Close()
	d, err := ReadSurvival(csv.NewReader(f), "Account length", "Churn", "International plan")
	if err != nil {
		t.Fatal(err)
	}
	obs, groups, names := d.All, d.Groups, d.Names
	checkRef(t, "bigml", obs, refCurve{2666, 388, 197, 180, 224, []refPoint{
		{50, 0.9855153062, 0.0023651067, 0.9800605415, 0.9894858347},
		{100, 0.9064607139, 0.0066271661, 0.8925836012, 0.9186274992},
		{150, 0.7248341382, 0.0153565213, 0.6934093521, 0.7536286652},
		{200, 0.4867233561, 0.0408553678, 0.4045865664, 0.5638415071},
	}})
	if len(names) != 2 || names[0] != "No" || names[1] != "Yes" {
		t.Fatalf("groups %v, want [No Yes]", names)
	}
	checkRef(t, "intl No", groups[0], refCurve{2396, 270, 212, 201, math.Inf(1), []refPoint{
		{100, 0.9252879703, 0.0063455711, 0.9118086953, 0.9367789057},
		{150, 0.7833469101, 0.0153638278, 0.7514041665, 0.8117102278},
	}})
	checkRef(t, "intl Yes", groups[1], refCurve{270, 118, 133, 125, 147, []refPoint{
		{100, 0.7615039179, 0.0286482479, 0.6996768011, 0.8123207921},
		{150, 0.3875307267, 0.0422797398, 0.3048819469, 0.4692924778},
	}})
	lr, err := LogRankTest(groups)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "bigml chi2", lr.Chi2, 160.4663904256, 1e-7)
}

func TestKaplanMeierRejects(t *testing.T) {
	if _, err := KaplanMeier(nil); err == nil {
		t.Error("KaplanMeier(nil): no error")
	}
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1)} {
		if _, err := KaplanMeier([]Obs{{bad, true}}); err == nil {
			t.Errorf("KaplanMeier(time %v): no error", bad)
		}
	}
	if _, err := LogRankTest([][]Obs{{{1, true}}}); err == nil {
		t.Error("LogRankTest(1 group): no error")
	}
}

// BenchmarkSurvivalByGroup: the lifecycle report's survival step over
// 1M subscribers in 5 plans (seeded durations in months, a third censored).
func BenchmarkSurvivalByGroup(b *testing.B) {
	state := uint64(7)
	next := func() float64 {
		state = state*6364136223846793005 + 1442695040888963407
		return float64(state>>11) / float64(uint64(1)<<53)
	}
	obs := make([]Obs, 1_000_000)
	keys := make([]string, len(obs))
	plans := []string{"BASIC10", "PLUS20", "PREMIUM40", "FAMILY", "PREPAID_S"}
	for i := range obs {
		obs[i] = Obs{Time: math.Floor(next()*3650) / DaysPerMonth, Event: next() < 0.66}
		keys[i] = plans[i%len(plans)]
	}
	b.ResetTimer()
	for range b.N {
		if _, err := SurvivalByGroup("plan", obs, keys); err != nil {
			b.Fatal(err)
		}
	}
}
