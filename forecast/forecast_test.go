package forecast

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func month(i int) time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, i, 0) }

// points builds a history from columns (nil: zeros).
func points(subs, newN, churned, rev []float64) []Point {
	out := make([]Point, len(subs))
	for i := range subs {
		out[i] = Point{Month: month(i), Subscribers: subs[i]}
		if newN != nil {
			out[i].New = newN[i]
		}
		if churned != nil {
			out[i].Churned = churned[i]
		}
		if rev != nil {
			out[i].Revenue = rev[i]
		}
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*max(1, math.Abs(b)) }

func TestMAPE(t *testing.T) {
	tests := []struct {
		actual, forecast []float64
		want             float64
	}{
		{[]float64{100, 200}, []float64{110, 150}, 17.5}, // (10% + 25%) / 2
		{[]float64{0, 50}, []float64{10, 40}, 20},        // a zero actual is left out
		{[]float64{80}, []float64{80}, 0},
	}
	for _, tt := range tests {
		if got := MAPE(tt.actual, tt.forecast); !near(got, tt.want) {
			t.Errorf("MAPE(%v, %v) = %v, want %v", tt.actual, tt.forecast, got, tt.want)
		}
	}
	if got := MAPE([]float64{0}, []float64{1}); !math.IsNaN(got) {
		t.Errorf("MAPE of only zero actuals = %v, want NaN", got)
	}
}

func TestSeasonalNaiveAndNaive(t *testing.T) {
	subs := make([]float64, 14)
	for i := range subs {
		subs[i] = float64(100 + i) // months 0..13
	}
	hist := points(subs, nil, nil, nil)
	pr, ok := SeasonalNaive(hist, 3)
	if !ok {
		t.Fatal("SeasonalNaive refused 14 months")
	}
	// Month 14 is forecast as month 2 (twelve before), 15 as 3, 16 as 4.
	for k, want := range []float64{102, 103, 104} {
		if got := pr.Values[Subscribers][k]; got != want {
			t.Errorf("seasonal naive month +%d = %v, want %v", k+1, got, want)
		}
	}
	if !pr.Months[0].Equal(month(14)) {
		t.Errorf("first forecast month %v, want %v", pr.Months[0], month(14))
	}
	if _, ok := SeasonalNaive(hist[:11], 3); ok {
		t.Error("SeasonalNaive accepted 11 months")
	}
	if _, name := Baseline(hist[:11], 3); name != MethodNaive {
		t.Errorf("Baseline of 11 months = %s, want naive", name)
	}
	n := Naive(hist[:11], 2)
	if n.Values[Subscribers][0] != 110 || n.Values[Subscribers][1] != 110 {
		t.Errorf("naive = %v, want 110, 110", n.Values[Subscribers])
	}
}

// TestCohortByHand checks the cohort arithmetic on four months computed
// by hand: observed hazard 30/300 = 0.1; new customers' level (α = 0.5
// over 0, 10, 10, 20) 13.75; revenue per customer's level (over 10, 10,
// 12, 12) 11.5.
func TestCohortByHand(t *testing.T) {
	hist := points([]float64{100, 100, 100, 100}, []float64{0, 10, 10, 20}, []float64{0, 10, 10, 10},
		[]float64{1000, 1000, 1200, 1200})
	pr := Cohort(hist, 2, nil)
	s1 := 100*0.9 + 13.75              // 103.75
	s2 := 100*0.81 + 13.75*0.9 + 13.75 // 107.125
	for k, want := range []float64{s1, s2} {
		if got := pr.Values[Subscribers][k]; !near(got, want) {
			t.Errorf("subscribers +%d = %v, want %v", k+1, got, want)
		}
		if got := pr.Values[Revenue][k]; !near(got, want*11.5) {
			t.Errorf("revenue +%d = %v, want %v", k+1, got, want*11.5)
		}
	}
	// With the churn model's attrition instead: two customers, p = 0.19
	// and 0.51 over two months, i.e. monthly hazards 0.1 and 0.3.
	a := AttritionFrom([]float64{0.19, 0.51}, 2)
	if !near(a.Hazard, 0.2) || !near(a.Survive[0], 0.8) || !near(a.Survive[1], (0.81+0.49)/2) {
		t.Fatalf("AttritionFrom = %+v, want hazard 0.2, survive 0.8, 0.65", a)
	}
	pr = Cohort(hist, 2, &a)
	if got, want := pr.Values[Subscribers][1], 100*0.65+13.75*0.8+13.75; !near(got, want) {
		t.Errorf("subscribers +2 with scores = %v, want %v", got, want)
	}
}

// TestBacktestByHand: a base losing 10% a month with no new customers is
// what the cohort model assumes, so its backtest MAPE is 0 and it beats
// naive; a flat series ties and the baseline is served.
func TestBacktestByHand(t *testing.T) {
	subs := []float64{1000, 900, 810, 729, 656.1, 590.49}
	churned := []float64{0, 100, 90, 81, 72.9, 65.61}
	falling := Series{Dim: "total", Group: TotalGroup, Points: points(subs, nil, churned, nil)}
	bt := backtest([]Series{falling}, Subscribers)
	// Naive from month 2 (810): |810−729|/729, |810−656.1|/656.1, |810−590.49|/590.49.
	wantNaive := 100 * (81/729.0 + 153.9/656.1 + 219.51/590.49) / 3
	if !near(bt.ModelMAPE, 0) || !near(bt.BaselineMAPE, wantNaive) || bt.Baseline != MethodNaive {
		t.Errorf("backtest = %+v, want model 0, naive %v", bt, wantNaive)
	}
	if !bt.BeatBaseline || bt.Served != MethodCohort {
		t.Errorf("falling base: served %s (beat %v), want cohort", bt.Served, bt.BeatBaseline)
	}
	flat := Series{Dim: "total", Group: TotalGroup, Points: points([]float64{5, 5, 5, 5, 5, 5}, nil, nil, nil)}
	bt = backtest([]Series{flat}, Subscribers)
	if bt.BeatBaseline || bt.Served != MethodNaive {
		t.Errorf("flat: served %s (beat %v), want naive on a tie", bt.Served, bt.BeatBaseline)
	}
	short := Series{Dim: "total", Group: TotalGroup, Points: points([]float64{5, 5, 5, 5}, nil, nil, nil)}
	bt = backtest([]Series{short}, Subscribers)
	if !math.IsNaN(bt.ModelMAPE) || bt.Served != MethodNaive || bt.Note == "" {
		t.Errorf("4 months: %+v, want no backtest and naive served", bt)
	}
}

func TestBuildServesWhatBeatTheBaseline(t *testing.T) {
	subs := []float64{1000, 900, 810, 729, 656.1, 590.49}
	churned := []float64{0, 100, 90, 81, 72.9, 65.61}
	rev := []float64{10000, 9000, 8100, 7290, 6561, 5904.9}
	res, err := Build([]Series{{Dim: "total", Group: TotalGroup, Points: points(subs, nil, churned, rev)}}, nil, Options{Horizon: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Forecasts) != len(Measures) || len(res.Backtests) != len(Measures) {
		t.Fatalf("%d forecasts, %d backtests, want %d each", len(res.Forecasts), len(res.Backtests), len(Measures))
	}
	for _, f := range res.Forecasts {
		if f.Measure != Subscribers {
			continue
		}
		if f.Method != MethodCohort || len(f.Bands) != 3 || len(f.History) != 6 {
			t.Fatalf("subscribers: %s, %d bands, %d history, want cohort, 3, 6", f.Method, len(f.Bands), len(f.History))
		}
		if !near(f.Bands[0].Point, 590.49*0.9) {
			t.Errorf("point +1 = %v, want %v", f.Bands[0].Point, 590.49*0.9)
		}
	}
	gap := Series{Dim: "total", Group: TotalGroup, Points: []Point{{Month: month(0)}, {Month: month(2)}}}
	if _, err := Build([]Series{gap}, nil, Options{}); err == nil {
		t.Error("Build accepted a series with a missing month")
	}
}

// TestIntervalCoverage: on series whose level is a random walk in logs
// (what the bootstrap assumes), the 80% and 95% bands three months ahead
// hold the realised value about as often as they say.
func TestIntervalCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const series, n, h = 300, 30, 3
	var in80, in95, total int
	var ss []Series
	var future [][]float64
	for i := range series {
		v := 1000.0
		subs := make([]float64, n+h)
		for t := range subs {
			v *= math.Exp(0.04 * rng.NormFloat64())
			subs[t] = v
		}
		ss = append(ss, Series{Dim: "region", Group: string(rune('a'+i%26)) + string(rune('a'+i/26)), Points: points(subs[:n], nil, nil, nil)})
		future = append(future, subs[n:])
	}
	res, err := Build(ss, nil, Options{Horizon: h, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for _, f := range res.Forecasts {
		if f.Measure != Subscribers {
			continue
		}
		for k, b := range f.Bands {
			a := future[i][k]
			if b.Lo95 > b.Lo80 || b.Hi95 < b.Hi80 || b.Lo80 > b.Point || b.Point > b.Hi80 {
				t.Fatalf("bands out of order: %+v", b)
			}
			if a >= b.Lo80 && a <= b.Hi80 {
				in80++
			}
			if a >= b.Lo95 && a <= b.Hi95 {
				in95++
			}
			total++
		}
		if w1, w3 := f.Bands[0].Hi95-f.Bands[0].Lo95, f.Bands[2].Hi95-f.Bands[2].Lo95; w3 <= w1 {
			t.Errorf("%s: band does not widen with the horizon (%v, %v)", f.Group, w1, w3)
		}
		i++
	}
	c80, c95 := float64(in80)/float64(total), float64(in95)/float64(total)
	t.Logf("coverage over %d forecasts: 80%% band %.3f, 95%% band %.3f", total, c80, c95)
	if c80 < 0.74 || c80 > 0.86 {
		t.Errorf("80%% band covers %.3f, want 0.74…0.86", c80)
	}
	if c95 < 0.91 || c95 > 0.98 {
		t.Errorf("95%% band covers %.3f, want 0.91…0.98", c95)
	}
}

// TestBandsWidenWithShortHistory: with six months of noisy history (four
// one-step errors) every month's band is wider than the month before's, in
// the log (relative) scale and, for a steady point, in absolute terms; the
// 95% band is wider than the 80% one by t's ratio with 3 degrees of
// freedom, not by the normal's; and month k's band is point·exp(±t·s·√k).
func TestBandsWidenWithShortHistory(t *testing.T) {
	months := []time.Time{month(6), month(7), month(8), month(9), month(10), month(11)}
	point := []float64{1000, 1000, 1000, 1000, 1000, 1000}
	errs := []float64{0.03, -0.05, 0.01, 0.06}
	bs, quarter := bands(months, point, errs, rand.New(rand.NewPCG(1, 2)))
	// s of the centred errors (mean 0.0125), 3 degrees of freedom;
	// t(3) quantiles 1.637744 (0.90) and 3.182446 (0.975).
	s := math.Sqrt((0.0175*0.0175 + 0.0625*0.0625 + 0.0025*0.0025 + 0.0475*0.0475) / 3)
	for k, b := range bs {
		r := s * math.Sqrt(float64(k+1))
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"lo80", b.Lo80, 1000 * math.Exp(-1.637744*r)}, {"hi80", b.Hi80, 1000 * math.Exp(1.637744*r)},
			{"lo95", b.Lo95, 1000 * math.Exp(-3.182446*r)}, {"hi95", b.Hi95, 1000 * math.Exp(3.182446*r)},
		} {
			if math.Abs(c.got-c.want) > 1e-3 {
				t.Errorf("month %d: %s = %v, want %v", k+1, c.name, c.got, c.want)
			}
		}
		if k == 0 {
			continue
		}
		p := bs[k-1]
		if b.Hi80-b.Lo80 <= p.Hi80-p.Lo80 || b.Hi95-b.Lo95 <= p.Hi95-p.Lo95 ||
			math.Log(b.Hi80/b.Lo80) <= math.Log(p.Hi80/p.Lo80) {
			t.Errorf("month %d's band %+v is not wider than month %d's %+v", k+1, b, k, p)
		}
		if ratio := math.Log(b.Hi95/b.Lo95) / math.Log(b.Hi80/b.Lo80); ratio < 1.9 {
			t.Errorf("month %d: 95%% band only %.2f× the 80%% band's log width, want t(3)'s 1.94", k+1, ratio)
		}
	}
	if !(quarter.Lo95 < quarter.Lo80 && quarter.Lo80 < quarter.Point && quarter.Point < quarter.Hi80 && quarter.Hi80 < quarter.Hi95) {
		t.Errorf("quarter band out of order: %+v", quarter)
	}
	one, none := bands(months[:2], point[:2], errs[:1], rand.New(rand.NewPCG(1, 2)))
	if one[1].Lo95 != 1000 || one[1].Hi95 != 1000 || none.Hi95 != 2000 {
		t.Errorf("one error gave bands %+v, quarter %+v; want the point itself", one, none)
	}
}
