package insight

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Survival analysis: the Kaplan–Meier estimate of a survival function
// from right-censored durations, its pointwise 95% band, its quantiles
// (the median lifetime) with their intervals, and the log-rank test
// between groups. The same code serves the lifecycle report of the lake
// (Lifecycle) and `telcolake survival` on any tabular file.
//
// Conventions, as in SAS PROC LIFETEST and statsmodels' SurvfuncRight
// (which the tests hold it to):
//   - Ties: at a time t with d events and c censorings, the c censored
//     are still at risk at t (n counts every duration ≥ t), and S drops
//     by the factor 1 − d/n.
//   - Variance: Greenwood's, Var(Ŝ) = Ŝ² Σ d/(n(n−d)); undefined once
//     d = n (Ŝ = 0).
//   - Band: log-log ("cloglog"): θ = log(−log Ŝ), se(θ) =
//     √(Σ d/(n(n−d))) / |log Ŝ|, and the band is exp(−exp(θ ± z·se(θ))),
//     which stays inside [0, 1]. z = 1.959964 (95%).
//   - Quantile p: the first event time at which Ŝ < 1 − p (strictly).
//     Its interval inverts the same log-log Z test: the event times whose
//     band contains 1 − p, from the first of them to the event time after
//     the last (none, "not reached", when the last is the last event
//     time).

// z95 is the standard normal quantile of 0.975.
const z95 = 1.959963984540054

// Obs is one subject: how long it was observed, and whether the event
// (churn, deactivation) ended the observation (false: right-censored,
// still active when the data ends).
type Obs struct {
	Time  float64
	Event bool
}

// Step is the estimate at one event time.
type Step struct {
	Time     float64 `json:"time"`
	AtRisk   int     `json:"at_risk"`
	Events   int     `json:"events"`
	Censored int     `json:"censored"` // censored at this time (still at risk at it)
	Surv     float64 `json:"survival"`
	SE       float64 `json:"se"` // Greenwood; NaN once Surv is 0
	Lower    float64 `json:"lower"`
	Upper    float64 `json:"upper"`
	// gw is Σ d/(n(n−d)) up to this step (+Inf once d = n).
	gw float64
}

// Curve is a Kaplan–Meier estimate: one Step per distinct event time,
// in time order.
type Curve struct {
	N      int     `json:"n"`
	Events int     `json:"events"`
	Steps  []Step  `json:"-"`
	MaxT   float64 `json:"max_time"` // the longest observation, event or not
}

// ErrNoData means a survival estimate was asked of no subjects.
var ErrNoData = errors.New("insight: no subjects")

// KaplanMeier estimates the survival function of obs. Times must be
// finite and ≥ 0.
func KaplanMeier(obs []Obs) (*Curve, error) {
	t, err := TallyOf(obs)
	if err != nil {
		return nil, err
	}
	return KaplanMeierTally(t)
}

// Count is the events and censorings at one time.
type Count struct{ Events, Censored int }

// Tally is survival observations counted by time: what the estimate and
// the log-rank test depend on, so the tallies of parts of the subjects add
// up (Merge) to the whole's and give the same curve as its observations.
type Tally map[float64]Count

// TallyOf counts obs by time; times must be finite and ≥ 0.
func TallyOf(obs []Obs) (Tally, error) {
	t := Tally{}
	for _, o := range obs {
		if err := t.Add(o); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Add counts one observation; its time must be finite and ≥ 0.
func (t Tally) Add(o Obs) error {
	if math.IsNaN(o.Time) || math.IsInf(o.Time, 0) || o.Time < 0 {
		return fmt.Errorf("insight: survival time %v, want a finite number ≥ 0", o.Time)
	}
	c := t[o.Time]
	if o.Event {
		c.Events++
	} else {
		c.Censored++
	}
	t[o.Time] = c
	return nil
}

// Merge adds the counts of o.
func (t Tally) Merge(o Tally) {
	for tm, c := range o {
		a := t[tm]
		a.Events += c.Events
		a.Censored += c.Censored
		t[tm] = a
	}
}

// N is the number of subjects counted.
func (t Tally) N() int {
	n := 0
	for _, c := range t {
		n += c.Events + c.Censored
	}
	return n
}

// times are the tally's times with a subject, ascending.
func (t Tally) times() ([]float64, error) {
	out := make([]float64, 0, len(t))
	for tm, c := range t {
		if math.IsNaN(tm) || math.IsInf(tm, 0) || tm < 0 {
			return nil, fmt.Errorf("insight: survival time %v, want a finite number ≥ 0", tm)
		}
		if c.Events+c.Censored > 0 {
			out = append(out, tm)
		}
	}
	slices.Sort(out)
	return out, nil
}

// KaplanMeierTally is KaplanMeier of the observations t counts.
func KaplanMeierTally(t Tally) (*Curve, error) {
	times, err := t.times()
	if err != nil {
		return nil, err
	}
	if len(times) == 0 {
		return nil, ErrNoData
	}
	atRisk := t.N()
	c := &Curve{N: atRisk, MaxT: times[len(times)-1]}
	s, gw := 1.0, 0.0
	for _, tm := range times {
		d, cens := t[tm].Events, t[tm].Censored
		if d > 0 {
			s *= 1 - float64(d)/float64(atRisk)
			if d == atRisk {
				gw = math.Inf(1)
			} else {
				gw += float64(d) / (float64(atRisk) * float64(atRisk-d))
			}
			st := Step{Time: tm, AtRisk: atRisk, Events: d, Censored: cens, Surv: s, gw: gw}
			st.SE, st.Lower, st.Upper = band(s, gw)
			c.Steps = append(c.Steps, st)
			c.Events += d
		}
		atRisk -= d + cens
	}
	return c, nil
}

// band returns Greenwood's standard error of s and its log-log 95% band.
func band(s, gw float64) (se, lo, hi float64) {
	switch {
	case s <= 0 || math.IsInf(gw, 1):
		return math.NaN(), 0, 0
	case s >= 1:
		return 0, 1, 1
	}
	se = s * math.Sqrt(gw)
	seTheta := math.Sqrt(gw) / math.Abs(math.Log(s))
	lo = math.Pow(s, math.Exp(z95*seTheta))
	hi = math.Pow(s, math.Exp(-z95*seTheta))
	return se, lo, hi
}

// Point is the estimate at one chosen time.
type Point struct {
	Time   float64 `json:"time"`
	AtRisk int     `json:"at_risk"` // observed at least this long
	Surv   float64 `json:"survival"`
	Lower  float64 `json:"lower"`
	Upper  float64 `json:"upper"`
}

// At returns Ŝ(t) (right-continuous: the events at t count) with its band.
// Beyond the longest observation the estimate is undefined: ok is false.
func (c *Curve) At(t float64) (p Point, ok bool) {
	p = Point{Time: t, Surv: 1, Lower: 1, Upper: 1}
	if t > c.MaxT {
		return p, false
	}
	i, found := slices.BinarySearchFunc(c.Steps, t, func(s Step, t float64) int {
		if s.Time < t {
			return -1
		}
		if s.Time > t {
			return 1
		}
		return 0
	})
	if found {
		i++
	}
	// Steps[:i] are at or before t.
	if i > 0 {
		s := c.Steps[i-1]
		p.Surv, p.Lower, p.Upper = s.Surv, s.Lower, s.Upper
	}
	p.AtRisk = c.atRiskAfter(t)
	return p, true
}

// atRiskAfter counts the subjects observed longer than t, from the steps
// (at risk just before each event time) and N.
func (c *Curve) atRiskAfter(t float64) int {
	for _, s := range c.Steps {
		if s.Time > t {
			return s.AtRisk
		}
	}
	// No event after t: the steps cannot say how many censored remain.
	if len(c.Steps) == 0 || t < c.Steps[0].Time {
		return c.N
	}
	return -1
}

// Estimate is a quantile with its 95% interval. A nil bound is not
// reached: the curve never falls far enough (the upper bound of a median
// while many are still at risk, typically).
type Estimate struct {
	Value *float64 `json:"value"`
	Lower *float64 `json:"lower"`
	Upper *float64 `json:"upper"`
}

// Median is Quantile(0.5).
func (c *Curve) Median() Estimate { return c.Quantile(0.5) }

// Quantile returns the time by which a share p of subjects have had the
// event, with its interval (see the conventions above).
func (c *Curve) Quantile(p float64) Estimate {
	var e Estimate
	for _, s := range c.Steps {
		if s.Surv < 1-p {
			e.Value = ptr(s.Time)
			break
		}
	}
	target := math.Log(-math.Log(1 - p))
	first, last := -1, -1
	for i, s := range c.Steps {
		if s.Surv <= 0 || s.Surv >= 1 || math.IsInf(s.gw, 1) {
			continue // statsmodels: NaN, never inside
		}
		theta := math.Log(-math.Log(s.Surv))
		se := math.Sqrt(s.gw) / math.Abs(math.Log(s.Surv))
		if math.Abs(theta-target) <= z95*se {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first >= 0 {
		e.Lower = ptr(c.Steps[first].Time)
		if last+1 < len(c.Steps) {
			e.Upper = ptr(c.Steps[last+1].Time)
		}
	}
	return e
}

func ptr(v float64) *float64 { return &v }

// LogRank is the log-rank test of equal survival across groups.
type LogRank struct {
	Observed []float64 `json:"observed"` // events per group
	Expected []float64 `json:"expected"` // under equal hazards
	Chi2     float64   `json:"chi2"`
	DF       int       `json:"df"`
	P        float64   `json:"p"`
}

// LogRankTest compares the survival of two or more groups: at each
// distinct event time of the pooled data, each group's expected events
// are its share of those at risk; the statistic is (O−E)ᵀ V⁻¹ (O−E) over
// all groups but the last, with V the hypergeometric covariance, χ² with
// groups−1 degrees of freedom.
func LogRankTest(groups [][]Obs) (*LogRank, error) {
	ts := make([]Tally, len(groups))
	for k, obs := range groups {
		t, err := TallyOf(obs)
		if err != nil {
			return nil, err
		}
		ts[k] = t
	}
	return LogRankTally(ts)
}

// LogRankTally is LogRankTest of the observations each tally counts.
func LogRankTally(groups []Tally) (*LogRank, error) {
	g := len(groups)
	if g < 2 {
		return nil, fmt.Errorf("insight: log-rank test of %d groups, want 2 or more", g)
	}
	atRisk := make([]float64, g)
	all := Tally{}
	for k, t := range groups {
		if _, err := t.times(); err != nil {
			return nil, err
		}
		if atRisk[k] = float64(t.N()); atRisk[k] == 0 {
			return nil, fmt.Errorf("insight: log-rank test: group %d is empty", k+1)
		}
		all.Merge(t)
	}
	times, err := all.times()
	if err != nil {
		return nil, err
	}
	lr := &LogRank{Observed: make([]float64, g), Expected: make([]float64, g), DF: g - 1}
	v := make([][]float64, g)
	for i := range v {
		v[i] = make([]float64, g)
	}
	n := float64(all.N())
	d := make([]float64, g)
	for _, t := range times {
		var dt float64
		for k := range g {
			d[k] = float64(groups[k][t].Events)
			dt += d[k]
		}
		if dt > 0 {
			for k := range g {
				lr.Observed[k] += d[k]
				lr.Expected[k] += dt * atRisk[k] / n
			}
			if n > 1 {
				f := dt * (n - dt) / (n - 1)
				for k := range g {
					for l := range g {
						kron := 0.0
						if k == l {
							kron = 1
						}
						v[k][l] += f * atRisk[k] / n * (kron - atRisk[l]/n)
					}
				}
			}
		}
		for k := range g {
			c := groups[k][t]
			atRisk[k] -= float64(c.Events + c.Censored)
			n -= float64(c.Events + c.Censored)
		}
	}
	m := g - 1
	diff := make([]float64, m)
	for k := range m {
		diff[k] = lr.Observed[k] - lr.Expected[k]
	}
	sub := make([][]float64, m)
	for k := range m {
		sub[k] = slices.Clone(v[k][:m])
	}
	x, err := solve(sub, diff)
	if err != nil {
		return nil, fmt.Errorf("insight: log-rank test: %w", err)
	}
	for k := range m {
		lr.Chi2 += diff[k] * x[k]
	}
	lr.P = ChiSquareSurvival(lr.Chi2, lr.DF)
	return lr, nil
}

// solve solves a·x = b by Gaussian elimination with partial pivoting (a is
// changed).
func solve(a [][]float64, b []float64) ([]float64, error) {
	n := len(b)
	x := slices.Clone(b)
	for col := range n {
		p := col
		for r := col + 1; r < n; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[p][col]) {
				p = r
			}
		}
		if math.Abs(a[p][col]) < 1e-12 {
			return nil, errors.New("singular covariance (a group without events at risk?)")
		}
		a[col], a[p] = a[p], a[col]
		x[col], x[p] = x[p], x[col]
		for r := col + 1; r < n; r++ {
			f := a[r][col] / a[col][col]
			for k := col; k < n; k++ {
				a[r][k] -= f * a[col][k]
			}
			x[r] -= f * x[col]
		}
	}
	for r := n - 1; r >= 0; r-- {
		for k := r + 1; k < n; k++ {
			x[r] -= a[r][k] * x[k]
		}
		x[r] /= a[r][r]
	}
	return x, nil
}

// ChiSquareSurvival is P(X > x) for X χ²-distributed with df degrees of
// freedom: the regularized upper incomplete gamma Q(df/2, x/2).
func ChiSquareSurvival(x float64, df int) float64 {
	if x <= 0 {
		return 1
	}
	return gammaQ(float64(df)/2, x/2)
}

// gammaQ is the regularized upper incomplete gamma function, by its series
// below a+1 and its continued fraction above (Numerical Recipes §6.2).
func gammaQ(a, x float64) float64 {
	lg, _ := math.Lgamma(a)
	if x < a+1 {
		sum, del := 1/a, 1/a
		for n := 1.0; n < 1000; n++ {
			del *= x / (a + n)
			sum += del
			if math.Abs(del) < math.Abs(sum)*1e-15 {
				break
			}
		}
		return 1 - sum*math.Exp(-x+a*math.Log(x)-lg)
	}
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1.0; i < 1000; i++ {
		an := -i * (i - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-15 {
			break
		}
	}
	return math.Exp(-x+a*math.Log(x)-lg) * h
}
