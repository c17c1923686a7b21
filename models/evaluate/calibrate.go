package evaluate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// Calibration methods.
const (
	CalibrateNone     = "none"
	CalibratePlatt    = "platt"
	CalibrateIsotonic = "isotonic"
)

// Calibrator maps a model's probability to a calibrated one. The zero
// value (or nil) is the identity. It round-trips through encoding/json.
type Calibrator struct {
	Method string
	// Platt: sigmoid(A·logit(p) + B).
	A, B float64 `json:",omitempty"`
	// Isotonic: knots X (logit of the model's probability, increasing)
	// with calibrated probabilities Y (increasing), linear in between and
	// flat beyond the ends, so the order of customers is kept.
	X, Y []float64 `json:",omitempty"`
}

// Apply returns the calibrated probability of p.
func (c *Calibrator) Apply(p float64) float64 {
	if c == nil {
		return p
	}
	switch c.Method {
	case CalibratePlatt:
		return sigmoid(c.A*clampLogit(p) + c.B)
	case CalibrateIsotonic:
		x := clampLogit(p)
		i := sort.SearchFloat64s(c.X, x)
		switch {
		case i == 0:
			return c.Y[0]
		case i == len(c.X):
			return c.Y[len(c.Y)-1]
		}
		t := (x - c.X[i-1]) / (c.X[i] - c.X[i-1])
		return c.Y[i-1] + t*(c.Y[i]-c.Y[i-1])
	}
	return p
}

// ApplyAll returns the calibrated probabilities of ps.
func (c *Calibrator) ApplyAll(ps []float64) []float64 {
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = c.Apply(p)
	}
	return out
}

// Check reports a malformed calibrator (as read from an artifact).
func (c *Calibrator) Check() error {
	if c == nil {
		return nil
	}
	switch c.Method {
	case "", CalibrateNone, CalibratePlatt:
		return nil
	case CalibrateIsotonic:
		if len(c.X) == 0 || len(c.X) != len(c.Y) || !slices.IsSorted(c.X) {
			return fmt.Errorf("evaluate: isotonic calibrator with %d knots and %d values, or unsorted", len(c.X), len(c.Y))
		}
		return nil
	}
	return fmt.Errorf("evaluate: unknown calibration method %q", c.Method)
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// clampLogit is the log-odds of p kept inside [1e-6, 1−1e-6].
func clampLogit(p float64) float64 {
	p = min(1-1e-6, max(1e-6, p))
	return math.Log(p / (1 - p))
}

// FitPlatt fits sigmoid(A·logit(p)+B) by maximum likelihood: Newton's
// method with step halving, a tiny ridge towards the identity keeping it
// defined on separable data.
func FitPlatt(p []float64, y []bool) *Calibrator {
	x := make([]float64, len(p))
	for i, v := range p {
		x[i] = clampLogit(v)
	}
	const ridge = 1e-6
	loss := func(a, b float64) float64 {
		var s float64
		for i, xi := range x {
			z := a*xi + b
			if !y[i] {
				z = -z
			}
			s += math.Log1p(math.Exp(-z)) // −log sigmoid(z), stable for z > −700
		}
		return s + ridge/2*((a-1)*(a-1)+b*b)
	}
	a, b := 1.0, 0.0
	cur := loss(a, b)
	for range 100 {
		var ga, gb, haa, hab, hbb float64
		for i, xi := range x {
			q := sigmoid(a*xi + b)
			d := q
			if y[i] {
				d = q - 1
			}
			w := q * (1 - q)
			ga += d * xi
			gb += d
			haa += w * xi * xi
			hab += w * xi
			hbb += w
		}
		ga += ridge * (a - 1)
		gb += ridge * b
		haa += ridge
		hbb += ridge
		det := haa*hbb - hab*hab
		if det <= 0 {
			break
		}
		da := (hbb*ga - hab*gb) / det
		db := (haa*gb - hab*ga) / det
		step := 1.0
		for ; step > 1e-6; step /= 2 {
			if l := loss(a-step*da, b-step*db); l <= cur {
				a, b, cur = a-step*da, b-step*db, l
				break
			}
		}
		if step <= 1e-6 || math.Abs(step*da)+math.Abs(step*db) < 1e-9 {
			break
		}
	}
	return &Calibrator{Method: CalibratePlatt, A: a, B: b}
}

// FitIsotonic fits a non-decreasing map by pool-adjacent-violators on the
// model's log-odds; each pooled block becomes a knot at its mean log-odds,
// its churn rate kept inside [0.5/(n+1), 1−0.5/(n+1)] for a block of n.
func FitIsotonic(p []float64, y []bool) *Calibrator {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	type block struct{ sx, sy, n float64 }
	var bs []block
	for _, i := range idx {
		t := 0.0
		if y[i] {
			t = 1
		}
		bs = append(bs, block{clampLogit(p[i]), t, 1})
		for len(bs) > 1 {
			a, b := bs[len(bs)-2], bs[len(bs)-1]
			if a.sy/a.n < b.sy/b.n {
				break
			}
			bs = append(bs[:len(bs)-2], block{a.sx + b.sx, a.sy + b.sy, a.n + b.n})
		}
	}
	c := &Calibrator{Method: CalibrateIsotonic}
	for _, b := range bs {
		lo := 0.5 / (b.n + 1)
		c.X = append(c.X, b.sx/b.n)
		c.Y = append(c.Y, min(1-lo, max(lo, b.sy/b.n)))
	}
	// Equal knots (ties in the model's score across blocks cannot happen:
	// a tie is one block) are kept strictly increasing for Apply.
	for i := 1; i < len(c.X); i++ {
		if c.X[i] <= c.X[i-1] {
			c.X[i] = math.Nextafter(c.X[i-1], math.Inf(1))
		}
	}
	return c
}

// CalibrationChoice records how FitCalibrator chose: each method's
// cross-fitted log loss on the rows it was given.
type CalibrationChoice struct {
	Method  string
	Rows    int
	LogLoss map[string]float64
}

// FitCalibrator chooses among no calibration, Platt and isotonic by
// two-fold cross-fitted log loss on the given rows (each half calibrated
// by a map fitted on the other), then fits the chosen method on all of
// them. It never sees other rows: callers keep the rows they judge it on
// apart.
func FitCalibrator(p []float64, y []bool, seed uint64) (*Calibrator, CalibrationChoice) {
	ch := CalibrationChoice{Rows: len(p), LogLoss: map[string]float64{}}
	r := rand.New(rand.NewPCG(seed, 0xCA11B))
	fold := make([]bool, len(p))
	for i := range fold {
		fold[i] = r.IntN(2) == 0
	}
	part := func(f bool) ([]float64, []bool) {
		var ps []float64
		var ys []bool
		for i, v := range fold {
			if v == f {
				ps, ys = append(ps, p[i]), append(ys, y[i])
			}
		}
		return ps, ys
	}
	p0, y0 := part(false)
	p1, y1 := part(true)
	fits := map[string]func([]float64, []bool) *Calibrator{
		CalibrateNone:     func([]float64, []bool) *Calibrator { return nil },
		CalibratePlatt:    FitPlatt,
		CalibrateIsotonic: FitIsotonic,
	}
	ch.Method = CalibrateNone
	best := math.Inf(1)
	for _, m := range []string{CalibrateNone, CalibratePlatt, CalibrateIsotonic} {
		ll := math.NaN()
		if bothClasses(y0) && bothClasses(y1) {
			a, b := fits[m](p0, y0), fits[m](p1, y1)
			ll = (LogLoss(b.ApplyAll(p0), y0)*float64(len(p0)) + LogLoss(a.ApplyAll(p1), y1)*float64(len(p1))) / float64(len(p))
		}
		ch.LogLoss[m] = ll
		if ll < best {
			ch.Method, best = m, ll
		}
	}
	return fits[ch.Method](p, y), ch
}

func bothClasses(y []bool) bool {
	p, n := classCounts(y)
	return p > 0 && n > 0
}

// CalibrationMetrics measure probabilities against outcomes, with 95%
// bootstrap intervals.
type CalibrationMetrics struct {
	Rows                      int
	Brier, LogLoss, ECE       float64
	BrierCI, LogLossCI, ECECI Interval
}

// Brier is the mean squared difference between probability and outcome.
func Brier(p []float64, y []bool) float64 { return weightedBrier(p, y, nil) }

// LogLoss is the mean negative log-likelihood, probabilities kept inside
// [1e-15, 1−1e-15].
func LogLoss(p []float64, y []bool) float64 { return weightedLogLoss(p, y, nil) }

// ECE is the expected calibration error over CalibrationBins equal-width
// bins: the row-weighted mean of |mean predicted − observed rate|.
func ECE(p []float64, y []bool) float64 { return weightedECE(p, y, nil) }

func weight(w []float64, i int) float64 {
	if w == nil {
		return 1
	}
	return w[i]
}

func weightedBrier(p []float64, y []bool, w []float64) float64 {
	var s, n float64
	for i, v := range p {
		t := 0.0
		if y[i] {
			t = 1
		}
		s += weight(w, i) * (v - t) * (v - t)
		n += weight(w, i)
	}
	return s / n
}

func weightedLogLoss(p []float64, y []bool, w []float64) float64 {
	var s, n float64
	for i, v := range p {
		v = min(1-1e-15, max(1e-15, v))
		if !y[i] {
			v = 1 - v
		}
		s -= weight(w, i) * math.Log(v)
		n += weight(w, i)
	}
	return s / n
}

func weightedECE(p []float64, y []bool, w []float64) float64 {
	var sp, sy, sn [CalibrationBins]float64
	var n float64
	for i, v := range p {
		b := min(max(int(v*CalibrationBins), 0), CalibrationBins-1)
		x := weight(w, i)
		sp[b] += x * v
		if y[i] {
			sy[b] += x
		}
		sn[b] += x
		n += x
	}
	var e float64
	for b := range sn {
		e += math.Abs(sp[b] - sy[b])
	}
	return e / n
}

// MeasureCalibration computes Brier, log loss and ECE of p against y with
// BootstrapResamples-resample intervals.
func MeasureCalibration(p []float64, y []bool, seed uint64) CalibrationMetrics {
	m := CalibrationMetrics{Rows: len(p), Brier: math.NaN(), LogLoss: math.NaN(), ECE: math.NaN()}
	if len(p) == 0 {
		m.BrierCI, m.LogLossCI, m.ECECI = Interval{math.NaN(), math.NaN()}, Interval{math.NaN(), math.NaN()}, Interval{math.NaN(), math.NaN()}
		return m
	}
	m.Brier, m.LogLoss, m.ECE = Brier(p, y), LogLoss(p, y), ECE(p, y)
	r := rand.New(rand.NewPCG(seed, 0xB71E))
	w := make([]float64, len(p))
	var bs, ls, es []float64
	for range BootstrapResamples {
		clear(w)
		for range len(w) {
			w[r.IntN(len(w))]++
		}
		bs = append(bs, weightedBrier(p, y, w))
		ls = append(ls, weightedLogLoss(p, y, w))
		es = append(es, weightedECE(p, y, w))
	}
	m.BrierCI, m.LogLossCI, m.ECECI = percentileInterval(bs), percentileInterval(ls), percentileInterval(es)
	return m
}
