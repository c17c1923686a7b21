package churn

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
)

// Logistic is a logistic regression on the standardised encoding:
// p = sigmoid(Bias + Σ W[j]·z[j]).
type Logistic struct {
	W    []float64
	Bias float64
	// PositiveWeight is the class weight on the positives
	// (negatives/positives), C the inverse L2 penalty and Rows the rows it
	// was fitted on; kept for the record.
	PositiveWeight float64
	C              float64
	Rows           int
}

// logit is the linear score of one encoded row.
func (l *Logistic) logit(z []float64) float64 {
	s := l.Bias
	for j, w := range l.W {
		s += w * z[j]
	}
	return s
}

// LogisticSolver fits an L2-regularised logistic regression: rows x
// with 0/1 labels y, inverse penalty c, the positives weighted by
// posWeight; it returns one weight per column of x scoring the positives,
// p = sigmoid(Σ w[j]·x[j]) (no separate intercept: the rows carry a
// constant column). liblinear.Fit is the one telcolake uses; it needs cgo,
// so only the training path links it.
type LogisticSolver func(x [][]float64, y []float64, c, posWeight float64) ([]float64, error)

// trainLogistic fits an L2-regularised logistic regression with solve
// and scores it in Go: sigmoid(w·z+b).
//
// Class imbalance: the positives get the class weight negatives/positives.
// Weighting inflates the odds by that factor, so its log is taken off the
// intercept and the intercept is then refitted so the mean predicted
// probability on the training rows equals the training churn rate.
//
// The solver sees u = z + offset: the indicator columns uncentred (offset
// Centre/Scale), so their zeros stay sparse; the weights are the same on z
// and the intercept absorbs w·offset. At most maxRows rows (a stratified
// random sample) are used: liblinear's problem holds a node for every
// column of every row, and a few hundred weights need no more.
func trainLogistic(ctx context.Context, solve LogisticSolver, z [][]float64, y []bool, offset []float64, c float64, maxRows int, seed uint64) (*Logistic, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("churn: logistic: %w", err)
	}
	if solve == nil {
		return nil, fmt.Errorf("churn: logistic: no solver (Options.Logistic, e.g. liblinear.Fit; or Options.NoLogistic)")
	}
	var pos, neg int
	for _, l := range y {
		if l {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return nil, fmt.Errorf("churn: logistic: need both classes (%d churners, %d stayers)", pos, neg)
	}
	use := make([]int, len(y))
	for i := range use {
		use[i] = i
	}
	if maxRows > 0 && len(y) > maxRows {
		r := rand.New(rand.NewPCG(seed, 0x10915))
		fit, _ := stratifiedSplit(y, 1-float64(maxRows)/float64(len(y)), r)
		use = fit
	}
	p := len(z[0])
	rows := make([][]float64, 0, len(use))
	labels := make([]float64, 0, len(use))
	for _, i := range use {
		// A constant last column carries the intercept.
		x := make([]float64, p+1)
		for j, v := range z[i] {
			x[j] = v + offset[j]
		}
		x[p] = 1
		lab := 0.0
		if y[i] {
			lab = 1
		}
		rows = append(rows, x)
		labels = append(labels, lab)
	}
	weight := float64(neg) / float64(pos)
	w, err := solve(rows, labels, c, weight)
	if err != nil {
		return nil, fmt.Errorf("churn: logistic: %w", err)
	}
	if len(w) != p+1 {
		return nil, fmt.Errorf("churn: logistic: solver returned %d weights, want %d", len(w), p+1)
	}
	bias := w[p] - math.Log(weight)
	for j := range p {
		bias += w[j] * offset[j]
	}
	lr := &Logistic{W: w[:p], Bias: bias, PositiveWeight: weight, C: c, Rows: len(use)}
	scores := make([]float64, len(z))
	for i, r := range z {
		scores[i] = lr.logit(r) - lr.Bias
	}
	lr.Bias = interceptFor(scores, float64(pos)/float64(len(y)), lr.Bias)
	return lr, nil
}

// interceptFor returns the intercept b such that the mean of
// sigmoid(b + s[i]) is rate, by Newton's method from start.
func interceptFor(s []float64, rate, start float64) float64 {
	b := start
	for range 100 {
		var m, d float64
		for _, v := range s {
			p := sigmoid(b + v)
			m += p
			d += p * (1 - p)
		}
		m /= float64(len(s))
		d /= float64(len(s))
		if d < 1e-12 {
			break
		}
		step := (m - rate) / d
		step = math.Max(-2, math.Min(2, step))
		b -= step
		if math.Abs(step) < 1e-10 {
			break
		}
	}
	return b
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}
