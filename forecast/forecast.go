// Package forecast projects the subscriber base forward: subscribers,
// revenue, voice minutes and data for the next months per region, plan,
// segment and in total, with 80% and 95% intervals, backtested against a
// seasonal-naive (or, with under a year of history, a naive) baseline; and
// what-if scenarios (a price change per plan, a retention offer) as
// differences against that baseline forecast, a price change through the
// churn elasticity of price estimated from the register's plan changes
// (planchange.go) or given by the analyst. Scenarios live here because
// a scenario is a forecast under changed assumptions: the same cohort
// arithmetic, the same bands.
//
// The model ("cohort") for a group with S customers at the newest month's
// end:
//
//	S(T+k)   = S(T)·surv(k) + Σ_{j≤k} N(T+j)·(1−h)^(k−j)
//	rev(T+k) = S(T+k)·ARPU(T+k), minutes and data alike per customer
//
// surv(k) is the mean over the group's scored customers of (1−h_i)^k with
// h_i = 1−(1−p_i)^(1/H), p_i the churn model's probability of leaving within
// H months (heterogeneous: risky customers leave first); h is the group's
// mean monthly hazard, applied to new customers. Without scores (the
// backtest, whose origin has none) h is the group's observed churn rate
// over the three months before the origin and surv(k) = (1−h)^k. New
// customers per month and revenue, minutes and data per customer follow a
// seasonal level model: an exponentially weighted level (α = 0.5) of the
// deseasonalised history times a multiplicative month-of-year index,
// estimated only with two full years (24 months) of history; with less
// the model is non-seasonal and says so.
//
// Intervals treat the log error as a random walk with an unknown scale:
// the one-step log errors of the same forecaster on every origin of the
// group's own history (pooled over the groups of its dimension when a group
// has fewer than 8), centred, give the scale s with n−1 degrees of freedom,
// and month k's band is point·exp(±t·s·√k), t the Student-t quantile with
// n−1 degrees of freedom (errors accumulate like a random walk, which is
// right for a drifting level and conservative for noise around a steady
// one). The bands therefore widen with every month of the horizon, and with
// few errors the 95% band is honestly wider than the 80% one (t's tails,
// not the largest of four resampled errors). An earlier residual bootstrap
// (resampled error paths) gave lumpy quantiles with a short history: a band
// narrower in a later month, a 95% band hardly wider than the 80%. The
// quarter's band (the sum of the first three months) comes from 1,000
// seeded paths of the same walk, each with its own scale drawn from s's
// sampling distribution, so its quantiles match the months' t bands.
package forecast

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// Measures a forecast covers.
const (
	Subscribers = "subscribers"
	Revenue     = "revenue"
	Minutes     = "minutes"
	Data        = "data_mb"
)

// Measures lists the measures in their order.
var Measures = []string{Subscribers, Revenue, Minutes, Data}

// Dimensions a forecast is grouped by; "total" has one group, "all".
var Dimensions = []string{"total", "region", "plan", "segment"}

// TotalGroup is the one group of dimension "total".
const TotalGroup = "all"

// Methods of a forecast.
const (
	MethodCohort        = "cohort"
	MethodSeasonalNaive = "seasonal_naive"
	MethodNaive         = "naive"
)

// MaxHorizon is the longest forecast, in months: scenarios run twelve
// months; the API serves at most ServedHorizon of them as the forecast.
const MaxHorizon = 12

// ServedHorizon is the longest forecast /v1/forecast answers: the bands
// beyond half a year rest on too few errors to be served as a forecast.
const ServedHorizon = 6

// BacktestMonths is how many known months the backtest forecasts.
const BacktestMonths = 3

// Point is one month of a group's history.
type Point struct {
	Month                     time.Time
	Subscribers, New, Churned float64
	Revenue                   float64 // currency units
	Minutes, DataMB           float64
}

func (p Point) value(measure string) float64 {
	switch measure {
	case Subscribers:
		return p.Subscribers
	case Revenue:
		return p.Revenue
	case Minutes:
		return p.Minutes
	case Data:
		return p.DataMB
	}
	return math.NaN()
}

// Series is a group's monthly history, contiguous months, oldest first.
type Series struct {
	Dim, Group string
	Points     []Point
}

// Attrition is what the churn model says of a group's customers at the
// newest month's end: Survive[k-1] is the expected share of them still
// customers k months later, Hazard the mean monthly hazard.
type Attrition struct {
	Customers int
	Survive   []float64
	Hazard    float64
}

// AttritionFrom turns churn probabilities over horizon months into an
// Attrition over MaxHorizon months.
func AttritionFrom(probs []float64, horizon int) Attrition {
	a := Attrition{Customers: len(probs), Survive: make([]float64, MaxHorizon)}
	if len(probs) == 0 || horizon <= 0 {
		return a
	}
	for _, p := range probs {
		p = min(max(p, 0), 1)
		h := 1 - math.Pow(1-p, 1/float64(horizon))
		a.Hazard += h
		s := 1.0
		for k := range MaxHorizon {
			s *= 1 - h
			a.Survive[k] += s
		}
	}
	n := float64(len(probs))
	a.Hazard /= n
	for k := range a.Survive {
		a.Survive[k] /= n
	}
	return a
}

// observedAttrition is the attrition of the three months before the end
// of hist, as a constant hazard.
func observedAttrition(hist []Point) Attrition {
	var churned, base float64
	for t := max(1, len(hist)-3); t < len(hist); t++ {
		churned += hist[t].Churned
		base += hist[t-1].Subscribers
	}
	a := Attrition{Survive: make([]float64, MaxHorizon)}
	if base > 0 {
		a.Hazard = churned / base
	}
	s := 1.0
	for k := range a.Survive {
		s *= 1 - a.Hazard
		a.Survive[k] = s
	}
	return a
}

// Projection is a point forecast of every measure, months ahead.
type Projection struct {
	Months []time.Time
	Values map[string][]float64 // measure → value per month
}

// Cohort projects hist h months ahead with the cohort model; attr nil
// takes the observed attrition of hist.
func Cohort(hist []Point, h int, attr *Attrition) Projection {
	a := observedAttrition(hist)
	if attr != nil && len(attr.Survive) >= h {
		a = *attr
	}
	n := len(hist)
	months := futureMonths(hist[n-1].Month, h)
	col := func(f func(Point) float64) []float64 {
		out := make([]float64, n)
		for i, p := range hist {
			out[i] = f(p)
		}
		return out
	}
	perCustomer := func(f func(Point) float64) []float64 {
		return col(func(p Point) float64 {
			if p.Subscribers <= 0 {
				return math.NaN()
			}
			return f(p) / p.Subscribers
		})
	}
	hm := col(func(p Point) float64 { return float64(p.Month.Month()) })
	newN := seasonalLevel(col(func(p Point) float64 { return p.New }), hm, months)
	arpu := seasonalLevel(perCustomer(func(p Point) float64 { return p.Revenue }), hm, months)
	mpu := seasonalLevel(perCustomer(func(p Point) float64 { return p.Minutes }), hm, months)
	dpu := seasonalLevel(perCustomer(func(p Point) float64 { return p.DataMB }), hm, months)
	pr := Projection{Months: months, Values: map[string][]float64{}}
	base := hist[n-1].Subscribers
	for k := 1; k <= h; k++ {
		s := base * a.Survive[k-1]
		for j := 1; j <= k; j++ {
			s += newN[j-1] * math.Pow(1-a.Hazard, float64(k-j))
		}
		pr.Values[Subscribers] = append(pr.Values[Subscribers], s)
		pr.Values[Revenue] = append(pr.Values[Revenue], s*arpu[k-1])
		pr.Values[Minutes] = append(pr.Values[Minutes], s*mpu[k-1])
		pr.Values[Data] = append(pr.Values[Data], s*dpu[k-1])
	}
	return pr
}

// SeasonalNaive projects each measure as its value twelve months before;
// it needs 12 months of history (ok false otherwise).
func SeasonalNaive(hist []Point, h int) (Projection, bool) {
	n := len(hist)
	if n < 12 {
		return Projection{}, false
	}
	pr := Projection{Months: futureMonths(hist[n-1].Month, h), Values: map[string][]float64{}}
	for k := 1; k <= h; k++ {
		p := hist[n-12+(k-1)%12]
		for _, m := range Measures {
			pr.Values[m] = append(pr.Values[m], p.value(m))
		}
	}
	return pr, true
}

// Naive projects each measure as its newest value.
func Naive(hist []Point, h int) Projection {
	n := len(hist)
	pr := Projection{Months: futureMonths(hist[n-1].Month, h), Values: map[string][]float64{}}
	for range h {
		for _, m := range Measures {
			pr.Values[m] = append(pr.Values[m], hist[n-1].value(m))
		}
	}
	return pr
}

// Baseline is the baseline forecast of hist: seasonal naive with a year of
// history, naive before.
func Baseline(hist []Point, h int) (Projection, string) {
	if pr, ok := SeasonalNaive(hist, h); ok {
		return pr, MethodSeasonalNaive
	}
	return Naive(hist, h), MethodNaive
}

// seasonalLevel forecasts y (NaN: missing) at the months ahead: an
// exponentially weighted level of the deseasonalised values times a
// month-of-year index, the index only with 24 months of history.
func seasonalLevel(y, monthOfYear []float64, ahead []time.Time) []float64 {
	idx := seasonalIndex(y, monthOfYear)
	level, seen := 0.0, false
	for i, v := range y {
		if math.IsNaN(v) {
			continue
		}
		d := v / idx[int(monthOfYear[i])-1]
		if !seen {
			level, seen = d, true
			continue
		}
		level = 0.5*d + 0.5*level
	}
	out := make([]float64, len(ahead))
	for k, m := range ahead {
		out[k] = level * idx[int(m.Month())-1]
	}
	return out
}

// seasonalIndex is the multiplicative month-of-year index of y (mean 1),
// from the newest whole years of y; all ones under 24 months.
func seasonalIndex(y, monthOfYear []float64) [12]float64 {
	var idx [12]float64
	for i := range idx {
		idx[i] = 1
	}
	n := len(y)
	if n < 24 {
		return idx
	}
	var sum [12]float64
	var cnt [12]int
	for start := n % 12; start+12 <= n; start += 12 {
		block := y[start : start+12]
		mean, k := 0.0, 0
		for _, v := range block {
			if !math.IsNaN(v) {
				mean += v
				k++
			}
		}
		if k < 12 || mean <= 0 {
			continue
		}
		mean /= 12
		for i, v := range block {
			mo := int(monthOfYear[start+i]) - 1
			sum[mo] += v / mean
			cnt[mo]++
		}
	}
	total, k := 0.0, 0
	for i := range idx {
		if cnt[i] > 0 {
			idx[i] = sum[i] / float64(cnt[i])
			total += idx[i]
			k++
		}
	}
	if k < 12 || total <= 0 {
		for i := range idx {
			idx[i] = 1
		}
		return idx
	}
	for i := range idx {
		idx[i] *= 12 / total
	}
	return idx
}

func futureMonths(last time.Time, h int) []time.Time {
	out := make([]time.Time, h)
	for k := range out {
		out[k] = last.AddDate(0, k+1, 0)
	}
	return out
}

// MAPE is the mean absolute percentage error of forecast against actual
// over the months whose actual is not zero; NaN when there is none.
func MAPE(actual, forecast []float64) float64 {
	var s float64
	n := 0
	for i, a := range actual {
		if a == 0 || math.IsNaN(a) || i >= len(forecast) {
			continue
		}
		s += math.Abs(forecast[i]-a) / math.Abs(a)
		n++
	}
	if n == 0 {
		return math.NaN()
	}
	return 100 * s / float64(n)
}

// forecaster projects a history h months ahead.
type forecaster func(hist []Point, h int) Projection

// oneStepErrors are the log errors log(actual/forecast) of f's one-step
// forecasts from every origin of hist with at least two months before it.
func oneStepErrors(hist []Point, f forecaster, measure string) []float64 {
	var out []float64
	for o := 2; o < len(hist); o++ {
		pr := f(hist[:o], 1)
		a, p := hist[o].value(measure), pr.Values[measure][0]
		if a > 0 && p > 0 {
			out = append(out, math.Log(a/p))
		}
	}
	return out
}

// Band is a forecast month with its intervals.
type Band struct {
	Month      time.Time
	Point      float64
	Lo80, Hi80 float64
	Lo95, Hi95 float64
}

// bands gives point's intervals from errs (one-step log errors, see the
// package comment): month k (1-based) is point·exp(±t·s·√k). With fewer
// than two errors there is no scale and the bands are the point itself.
// The second band is the sum of the first three months (a quarter) along
// 1,000 simulated paths; its Month is the first's.
func bands(months []time.Time, point []float64, errs []float64, rng *rand.Rand) ([]Band, Band) {
	const paths = 1000
	out := make([]Band, len(point))
	q3 := min(3, len(point))
	qp := 0.0
	for k := range q3 {
		qp += point[k]
	}
	qb := Band{Point: qp, Lo80: qp, Hi80: qp, Lo95: qp, Hi95: qp}
	if len(months) > 0 {
		qb.Month = months[0]
	}
	for k, p := range point {
		out[k] = Band{Month: months[k], Point: p, Lo80: p, Hi80: p, Lo95: p, Hi95: p}
	}
	n := len(errs)
	if n < 2 {
		return out, qb
	}
	// Centred: the bands are the spread around the point, not a second
	// forecast of its bias.
	mean := 0.0
	for _, e := range errs {
		mean += e
	}
	mean /= float64(n)
	ss := 0.0
	for _, e := range errs {
		ss += (e - mean) * (e - mean)
	}
	nu := float64(n - 1)
	s := math.Sqrt(ss / nu)
	if s == 0 {
		return out, qb
	}
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: nu}
	t80, t95 := t.Quantile(0.90), t.Quantile(0.975)
	for k, p := range point {
		r := s * math.Sqrt(float64(k+1))
		out[k].Lo80, out[k].Hi80 = p*math.Exp(-t80*r), p*math.Exp(t80*r)
		out[k].Lo95, out[k].Hi95 = p*math.Exp(-t95*r), p*math.Exp(t95*r)
	}
	// The quarter: each path a normal walk with its own scale
	// s·√(ν/χ²_ν), so that every month's marginal is the t band above.
	chi := distuv.ChiSquared{K: nu, Src: rng}
	quarter := make([]float64, paths)
	for i := range quarter {
		sigma := s * math.Sqrt(nu/chi.Rand())
		cum, sum := 0.0, 0.0
		for k := range q3 {
			cum += sigma * rng.NormFloat64()
			sum += point[k] * math.Exp(cum)
		}
		quarter[i] = sum
	}
	slices.Sort(quarter)
	qb.Lo80, qb.Hi80, qb.Lo95, qb.Hi95 = quantile(quarter, 0.10), quantile(quarter, 0.90), quantile(quarter, 0.025), quantile(quarter, 0.975)
	return out, qb
}

// quantile of sorted s by linear interpolation.
func quantile(s []float64, f float64) float64 {
	if len(s) == 1 {
		return s[0]
	}
	x := f * float64(len(s)-1)
	i := int(x)
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[i] + (x-float64(i))*(s[i+1]-s[i])
}

// checkSeries checks that s's months are contiguous.
func checkSeries(s Series) error {
	for i := 1; i < len(s.Points); i++ {
		if want := s.Points[i-1].Month.AddDate(0, 1, 0); !s.Points[i].Month.Equal(want) {
			return fmt.Errorf("forecast: %s=%s: month %s follows %s", s.Dim, s.Group,
				s.Points[i].Month.Format("2006-01"), s.Points[i-1].Month.Format("2006-01"))
		}
	}
	return nil
}
