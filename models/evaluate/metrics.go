// Package evaluate measures how well a churn score ranks and calibrates:
// ROC and PR AUC, lift, calibration, confusion at a threshold and bootstrap
// intervals, and writes the model report.
package evaluate

import (
	"math"
	"math/rand/v2"
	"sort"
)

// order returns row indexes by descending score; ties keep input order.
func order(scores []float64) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	return idx
}

// ROCAUC is the area under the ROC curve: the probability that a random
// positive scores above a random negative, ties counting one half. It is
// NaN when either class is absent.
func ROCAUC(scores []float64, labels []bool) float64 {
	idx := order(scores)
	pos, neg := classCounts(labels)
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	// Walk groups of tied scores from the top; each negative in a group
	// beats the positives above it and ties half with those in its group.
	var posAbove, area float64
	for i := 0; i < len(idx); {
		j := i
		var p, n float64
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			if labels[idx[j]] {
				p++
			} else {
				n++
			}
			j++
		}
		area += n * (posAbove + p/2)
		posAbove += p
		i = j
	}
	return area / (pos * neg)
}

// PRAUC is the average precision: the mean, over the positives, of the
// precision at each positive's rank (tied scores share the group's
// precision). It is NaN when there are no positives.
func PRAUC(scores []float64, labels []bool) float64 {
	idx := order(scores)
	pos, _ := classCounts(labels)
	if pos == 0 {
		return math.NaN()
	}
	var tp, seen, sum float64
	for i := 0; i < len(idx); {
		j := i
		var p float64
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			if labels[idx[j]] {
				p++
			}
			j++
		}
		tp += p
		seen += float64(j - i)
		sum += p * tp / seen
		i = j
	}
	return sum / pos
}

// LiftAt is the positive rate among the top frac of rows by score divided
// by the overall positive rate (lift@10% is LiftAt(s, l, 0.1)). The top
// is ceil(frac·n) rows. NaN when there are no positives.
func LiftAt(scores []float64, labels []bool, frac float64) float64 {
	n := len(scores)
	if n == 0 {
		return math.NaN()
	}
	k := int(math.Ceil(frac * float64(n)))
	k = max(1, min(k, n))
	idx := order(scores)
	var top, all float64
	for i, r := range idx {
		if labels[r] {
			all++
			if i < k {
				top++
			}
		}
	}
	if all == 0 {
		return math.NaN()
	}
	return (top / float64(k)) / (all / float64(n))
}

// Interval is a two-sided confidence interval.
type Interval struct {
	Lo, Hi float64
}

// Bootstrap resamples rows with replacement b times and returns the 2.5%
// and 97.5% percentiles of metric over the resamples (a 95% percentile
// interval). Resamples where the metric is NaN are skipped.
func Bootstrap(scores []float64, labels []bool, metric func([]float64, []bool) float64, b int, seed uint64) Interval {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	n := len(scores)
	s := make([]float64, n)
	l := make([]bool, n)
	vals := make([]float64, 0, b)
	for range b {
		for i := range n {
			k := r.IntN(n)
			s[i], l[i] = scores[k], labels[k]
		}
		if v := metric(s, l); !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return Interval{math.NaN(), math.NaN()}
	}
	sort.Float64s(vals)
	return Interval{Lo: quantile(vals, 0.025), Hi: quantile(vals, 0.975)}
}

// quantile of sorted values with linear interpolation.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}

// Confusion counts predictions at a threshold: score >= threshold is
// predicted positive.
type Confusion struct {
	Threshold      float64
	TP, FP, TN, FN int
}

// ConfusionAt builds the confusion matrix at threshold.
func ConfusionAt(scores []float64, labels []bool, threshold float64) Confusion {
	c := Confusion{Threshold: threshold}
	for i, s := range scores {
		switch pred := s >= threshold; {
		case pred && labels[i]:
			c.TP++
		case pred:
			c.FP++
		case labels[i]:
			c.FN++
		default:
			c.TN++
		}
	}
	return c
}

// Precision is TP/(TP+FP), NaN when nothing is predicted positive.
func (c Confusion) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall is TP/(TP+FN), NaN when there are no positives.
func (c Confusion) Recall() float64 { return ratio(c.TP, c.TP+c.FN) }

// F1 is the harmonic mean of precision and recall.
func (c Confusion) F1() float64 { return ratio(2*c.TP, 2*c.TP+c.FP+c.FN) }

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// BestF1Threshold returns the score threshold that maximises F1 (the
// highest such threshold on ties), a common operating point for a
// retention campaign when no cost matrix is given.
func BestF1Threshold(scores []float64, labels []bool) float64 {
	idx := order(scores)
	p, _ := classCounts(labels)
	pos := int(p)
	best, bestT := -1.0, 0.5
	tp := 0
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			if labels[idx[j]] {
				tp++
			}
			j++
		}
		fp := j - tp
		fn := pos - tp
		if f1 := ratio(2*tp, 2*tp+fp+fn); f1 > best {
			best, bestT = f1, scores[idx[i]]
		}
		i = j
	}
	return bestT
}

// CalBin is one row of a calibration table: rows whose predicted
// probability falls in [Lo, Hi).
type CalBin struct {
	Lo, Hi        float64
	Rows          int
	MeanPredicted float64
	ObservedRate  float64 // NaN when the bin is empty
}

// Calibration splits [0,1] into bins equal-width bins and compares the mean
// predicted probability with the observed positive rate in each.
func Calibration(probs []float64, labels []bool, bins int) []CalBin {
	out := make([]CalBin, bins)
	pos := make([]int, bins)
	sum := make([]float64, bins)
	for b := range out {
		out[b].Lo = float64(b) / float64(bins)
		out[b].Hi = float64(b+1) / float64(bins)
	}
	for i, p := range probs {
		b := min(max(int(p*float64(bins)), 0), bins-1)
		out[b].Rows++
		sum[b] += p
		if labels[i] {
			pos[b]++
		}
	}
	for b := range out {
		out[b].MeanPredicted = math.NaN()
		out[b].ObservedRate = math.NaN()
		if out[b].Rows > 0 {
			out[b].MeanPredicted = sum[b] / float64(out[b].Rows)
			out[b].ObservedRate = float64(pos[b]) / float64(out[b].Rows)
		}
	}
	return out
}

// Point is a point on a curve.
type Point struct{ X, Y float64 }

// ROCCurve returns (false positive rate, true positive rate) points from
// (0,0) to (1,1), one per distinct score.
func ROCCurve(scores []float64, labels []bool) []Point {
	idx := order(scores)
	pos, neg := classCounts(labels)
	pts := []Point{{0, 0}}
	if pos == 0 || neg == 0 {
		return append(pts, Point{1, 1})
	}
	var tp, fp float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			if labels[idx[j]] {
				tp++
			} else {
				fp++
			}
			j++
		}
		pts = append(pts, Point{fp / neg, tp / pos})
		i = j
	}
	return pts
}

// GainsCurve returns (share of rows contacted, share of positives found)
// at each of steps evenly spaced cut-offs, starting at (0,0).
func GainsCurve(scores []float64, labels []bool, steps int) []Point {
	idx := order(scores)
	n := len(idx)
	pos, _ := classCounts(labels)
	pts := []Point{{0, 0}}
	if n == 0 || pos == 0 {
		return pts
	}
	var tp float64
	next := 1
	for i, r := range idx {
		if labels[r] {
			tp++
		}
		for next <= steps && i+1 >= int(math.Ceil(float64(next)*float64(n)/float64(steps))) {
			pts = append(pts, Point{float64(next) / float64(steps), tp / pos})
			next++
		}
	}
	return pts
}

// classCounts counts positive and negative labels.
func classCounts(labels []bool) (pos, neg float64) {
	for _, l := range labels {
		if l {
			pos++
		} else {
			neg++
		}
	}
	return pos, neg
}
