package evaluate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// OracleComparison sets a model's ranking beside the best possible one on
// the same rows and labels: the data generator's own probabilities (the
// exact posterior given what it planted), which no model can beat in
// expectation. The gaps are oracle minus model, with 95% intervals from a
// paired bootstrap (both scored on the same resamples).
type OracleComparison struct {
	Rows, Positives int

	ModelAUC, OracleAUC, AUCGap       float64
	AUCGapCI                          Interval
	ModelPRAUC, OraclePRAUC, PRAUCGap float64
	PRAUCGapCI                        Interval
}

// CompareOracle compares model with oracle scores on the same labels. It
// panics if the lengths differ.
func CompareOracle(model, oracle []float64, labels []bool, seed uint64) OracleComparison {
	if len(model) != len(labels) || len(oracle) != len(labels) {
		panic(fmt.Sprintf("evaluate: CompareOracle: %d model and %d oracle scores, %d labels", len(model), len(oracle), len(labels)))
	}
	c := OracleComparison{Rows: len(labels)}
	p, _ := classCounts(labels)
	c.Positives = int(p)
	c.ModelAUC, c.OracleAUC = ROCAUC(model, labels), ROCAUC(oracle, labels)
	c.ModelPRAUC, c.OraclePRAUC = PRAUC(model, labels), PRAUC(oracle, labels)
	c.AUCGap, c.PRAUCGap = c.OracleAUC-c.ModelAUC, c.OraclePRAUC-c.ModelPRAUC
	m := newRanker(model, labels)
	o := newRanker(oracle, labels)
	r := rand.New(rand.NewPCG(seed, 0x0AC1E))
	w := make([]float64, len(labels))
	var aucGaps, prGaps []float64
	for range BootstrapResamples {
		clear(w)
		for range len(w) {
			w[r.IntN(len(w))]++
		}
		ma, mp := m.weighted(w)
		oa, op := o.weighted(w)
		if !math.IsNaN(ma) && !math.IsNaN(oa) {
			aucGaps = append(aucGaps, oa-ma)
		}
		if !math.IsNaN(mp) && !math.IsNaN(op) {
			prGaps = append(prGaps, op-mp)
		}
	}
	c.AUCGapCI, c.PRAUCGapCI = percentileInterval(aucGaps), percentileInterval(prGaps)
	return c
}

// ranker holds one score vector's groups of tied scores, best first, so
// a weighted resample is scored without sorting again.
type ranker struct {
	labels []bool
	group  []int32
	pos    []float64
	neg    []float64
}

func newRanker(scores []float64, labels []bool) *ranker {
	idx := order(scores)
	rk := &ranker{labels: labels, group: make([]int32, len(scores))}
	g := int32(-1)
	for i, k := range idx {
		if i == 0 || scores[k] != scores[idx[i-1]] {
			g++
		}
		rk.group[k] = g
	}
	rk.pos = make([]float64, g+1)
	rk.neg = make([]float64, g+1)
	return rk
}

// weighted returns ROC AUC and PR AUC with row weights w (bootstrap
// multiplicities).
func (rk *ranker) weighted(w []float64) (auc, pr float64) {
	clear(rk.pos)
	clear(rk.neg)
	var p, q float64
	for k, x := range w {
		if x == 0 {
			continue
		}
		if rk.labels[k] {
			rk.pos[rk.group[k]] += x
			p += x
		} else {
			rk.neg[rk.group[k]] += x
			q += x
		}
	}
	auc, pr = math.NaN(), math.NaN()
	if p > 0 && q > 0 {
		var above, area float64
		for g := range rk.pos {
			area += rk.neg[g] * (above + rk.pos[g]/2)
			above += rk.pos[g]
		}
		auc = area / (p * q)
	}
	if p > 0 {
		var tp, seen, sum float64
		for g := range rk.pos {
			if rk.pos[g]+rk.neg[g] == 0 {
				continue
			}
			tp += rk.pos[g]
			seen += rk.pos[g] + rk.neg[g]
			sum += rk.pos[g] * tp / seen
		}
		pr = sum / p
	}
	return auc, pr
}

// ReasonCase is one churner whose truth names a dominant driver: the
// drivers the model's top reasons stand for, in reason order, and the
// drivers that really pushed this customer's risk up.
type ReasonCase struct {
	Dominant string
	// Reasons holds, per top reason (at most 3, best first), the drivers
	// that reason's feature can reflect.
	Reasons [][]string
	// Real are the drivers with a positive contribution for this customer.
	Real []string
}

// ReasonQuality says whether the model's reasons name the real causes.
// Recall: the share of cases whose top 3 reasons include the dominant
// driver. Precision: the share of cases with at least one reason whose
// top-1 reason stands for a real driver of that customer. Intervals are
// 95% Wilson intervals.
type ReasonQuality struct {
	Driver      string // "" for all drivers together
	Cases       int
	Recall      float64
	RecallCI    Interval
	WithReason  int
	Precision   float64
	PrecisionCI Interval
}

// ScoreReasons returns the overall ReasonQuality first, then one per
// dominant driver, in name order.
func ScoreReasons(cases []ReasonCase) []ReasonQuality {
	type acc struct{ n, hit, top, topHit int }
	all := &acc{}
	by := map[string]*acc{}
	for _, c := range cases {
		a := by[c.Dominant]
		if a == nil {
			a = &acc{}
			by[c.Dominant] = a
		}
		hit := false
		for _, ds := range c.Reasons[:min(3, len(c.Reasons))] {
			hit = hit || slices.Contains(ds, c.Dominant)
		}
		topHit := false
		if len(c.Reasons) > 0 {
			for _, d := range c.Reasons[0] {
				topHit = topHit || slices.Contains(c.Real, d)
			}
		}
		for _, x := range []*acc{all, a} {
			x.n++
			if hit {
				x.hit++
			}
			if len(c.Reasons) > 0 {
				x.top++
				if topHit {
					x.topHit++
				}
			}
		}
	}
	q := func(d string, a *acc) ReasonQuality {
		return ReasonQuality{Driver: d, Cases: a.n, Recall: ratio(a.hit, a.n), RecallCI: Wilson(a.hit, a.n),
			WithReason: a.top, Precision: ratio(a.topHit, a.top), PrecisionCI: Wilson(a.topHit, a.top)}
	}
	out := []ReasonQuality{q("", all)}
	names := make([]string, 0, len(by))
	for d := range by {
		names = append(names, d)
	}
	slices.Sort(names)
	for _, d := range names {
		out = append(out, q(d, by[d]))
	}
	return out
}

// Wilson is the 95% Wilson score interval of k successes in n trials;
// NaN bounds when n is 0.
func Wilson(k, n int) Interval {
	if n == 0 {
		return Interval{math.NaN(), math.NaN()}
	}
	const z = 1.959963984540054
	p, nf := float64(k)/float64(n), float64(n)
	den := 1 + z*z/nf
	mid := (p + z*z/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	return Interval{Lo: max(0, mid-half), Hi: min(1, mid+half)}
}
