package evaluate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Settings Summarise uses for every set, so reports are comparable.
const (
	// BootstrapResamples is the number of resamples behind each interval.
	BootstrapResamples = 1000
	// CalibrationBins is the number of equal-width calibration bins.
	CalibrationBins = 10
	// GainsSteps is the number of cut-offs on the gains curve (1% each).
	GainsSteps = 100
	// maxROCPoints bounds the stored ROC curve; see thinCurve.
	maxROCPoints = 500
)

// Summary describes one scored, labelled set: the validation month or a
// test file.
type Summary struct {
	Rows, Positives int

	AUC     float64  // ROC AUC; NaN when one class is absent
	AUCCI   Interval // 95% bootstrap interval
	PRAUC   float64  // average precision; NaN without positives
	PRAUCCI Interval // 95% bootstrap interval
	Lift10  float64  // lift in the top 10% by score; NaN without positives

	Calibration []CalBin // CalibrationBins equal-width bins

	Threshold float64   // the score threshold that maximises F1
	Confusion Confusion // at Threshold

	ROC   []Point // at most about 500 points, from (0,0) to (1,1)
	Gains []Point // GainsSteps+1 points from (0,0), empty beyond (0,0) without positives
}

// PositiveRate is the share of rows that are positive, NaN without rows.
func (s Summary) PositiveRate() float64 { return ratio(s.Positives, s.Rows) }

// MeanPredicted is the mean predicted probability over all rows, NaN
// without rows.
func (s Summary) MeanPredicted() float64 {
	var sum float64
	n := 0
	for _, b := range s.Calibration {
		if b.Rows > 0 {
			sum += b.MeanPredicted * float64(b.Rows)
			n += b.Rows
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// Summarise computes the Summary of probs against labels. The AUC and PR
// AUC intervals are those of Bootstrap with BootstrapResamples resamples
// and seed (the same resamples for both), computed in one pass over a
// single sort, so a month of subscribers takes seconds, not minutes.
// It panics if probs and labels differ in length.
func Summarise(probs []float64, labels []bool, seed uint64) Summary {
	if len(probs) != len(labels) {
		panic(fmt.Sprintf("evaluate: Summarise: %d probabilities but %d labels", len(probs), len(labels)))
	}
	s := Summary{Rows: len(probs)}
	for _, l := range labels {
		if l {
			s.Positives++
		}
	}
	s.AUC = ROCAUC(probs, labels)
	s.PRAUC = PRAUC(probs, labels)
	s.AUCCI, s.PRAUCCI = bootstrapRanking(probs, labels, BootstrapResamples, seed)
	s.Lift10 = LiftAt(probs, labels, 0.1)
	s.Calibration = Calibration(probs, labels, CalibrationBins)
	s.Threshold = BestF1Threshold(probs, labels)
	s.Confusion = ConfusionAt(probs, labels, s.Threshold)
	s.ROC = thinCurve(ROCCurve(probs, labels), maxROCPoints)
	s.Gains = GainsCurve(probs, labels, GainsSteps)
	return s
}

// bootstrapRanking returns what Bootstrap(scores, labels, ROCAUC, b, seed)
// and Bootstrap(scores, labels, PRAUC, b, seed) return, without sorting
// each resample. Both metrics depend only on how many positives and
// negatives each group of tied scores holds, so the rows are sorted once
// and each resample (the same random draws as Bootstrap) only counts rows
// per group.
func bootstrapRanking(scores []float64, labels []bool, b int, seed uint64) (auc, pr Interval) {
	n := len(scores)
	idx := order(scores)
	group := make([]int32, n) // row → rank of its score among distinct scores
	groups := 0
	for i := 0; i < n; {
		j := i
		for j < n && scores[idx[j]] == scores[idx[i]] {
			group[idx[j]] = int32(groups)
			j++
		}
		groups++
		i = j
	}
	pos := make([]float64, groups)
	neg := make([]float64, groups)
	aucs := make([]float64, 0, b)
	prs := make([]float64, 0, b)
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	for range b {
		clear(pos)
		clear(neg)
		var p, q float64
		for range n {
			k := r.IntN(n)
			if labels[k] {
				pos[group[k]]++
				p++
			} else {
				neg[group[k]]++
				q++
			}
		}
		if p > 0 && q > 0 {
			var above, area float64
			for g := range groups {
				area += neg[g] * (above + pos[g]/2)
				above += pos[g]
			}
			aucs = append(aucs, area/(p*q))
		}
		if p > 0 {
			var tp, seen, sum float64
			for g := range groups {
				if pos[g]+neg[g] == 0 {
					continue // absent from this resample
				}
				tp += pos[g]
				seen += pos[g] + neg[g]
				sum += pos[g] * tp / seen
			}
			prs = append(prs, sum/p)
		}
	}
	return percentileInterval(aucs), percentileInterval(prs)
}

// percentileInterval is the 2.5%–97.5% interval of vals, as Bootstrap.
func percentileInterval(vals []float64) Interval {
	if len(vals) == 0 {
		return Interval{math.NaN(), math.NaN()}
	}
	sort.Float64s(vals)
	return Interval{Lo: quantile(vals, 0.025), Hi: quantile(vals, 0.975)}
}

// thinCurve keeps at most about limit points of a monotone curve from
// (0,0) to (1,1): a point is kept when it lies at least 1/limit (in x plus
// y) beyond the last one kept. The first and last points always stay, so
// the curve keeps its ends and, drawn, its shape.
func thinCurve(pts []Point, limit int) []Point {
	if len(pts) <= limit {
		return pts
	}
	step := 2.0 / float64(limit)
	out := []Point{pts[0]}
	last := pts[0]
	for _, p := range pts[1 : len(pts)-1] {
		if math.Abs(p.X-last.X)+math.Abs(p.Y-last.Y) >= step {
			out = append(out, p)
			last = p
		}
	}
	return append(out, pts[len(pts)-1])
}
