package campaign

import (
	"cmp"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
)

// QiniPoint is one point of a Qini curve: targeting the top Share of
// customers by a score keeps Gain more customers, as a share of all
// treated customers, than not contacting them would.
type QiniPoint struct {
	Share float64 `json:"share"`
	Gain  float64 `json:"gain"`
}

// order returns the rows by score, highest first (ties by row).
func order(score []float64) []int {
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(score[b], score[a]) })
	return idx
}

// qini walks rows in ord with weights w (nil: 1 each) and returns the
// AUUC and, when points > 0, the curve at points evenly spaced shares.
// Q(k) = R_t(k) − R_c(k)·N_t(k)/N_c(k), where R counts retained (not
// churned) customers among the first k and N customers; AUUC is the mean
// of Q(k)/N_t over k: random targeting scores about half the overall
// uplift, a perfect ranking more.
func qini(ord []int, treated, churned []bool, w []float64, points int) (float64, []QiniPoint) {
	var total, totalT float64
	for _, i := range ord {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		total += wi
		if treated[i] {
			totalT += wi
		}
	}
	if total == 0 || totalT == 0 {
		return 0, nil
	}
	var nt, nc, rt, rc, area, seen float64
	var curve []QiniPoint
	next := 1
	for _, i := range ord {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		if wi == 0 {
			continue
		}
		if treated[i] {
			nt += wi
			if !churned[i] {
				rt += wi
			}
		} else {
			nc += wi
			if !churned[i] {
				rc += wi
			}
		}
		q := rt
		if nc > 0 {
			q = rt - rc*nt/nc
		}
		seen += wi
		area += wi * q / totalT
		for points > 0 && next <= points && seen >= total*float64(next)/float64(points)-1e-9 {
			curve = append(curve, QiniPoint{Share: float64(next) / float64(points), Gain: q / totalT})
			next++
		}
	}
	return area / total, curve
}

// AUUC is the area under the Qini curve of score (see qini).
func AUUC(score []float64, treated, churned []bool) float64 {
	a, _ := qini(order(score), treated, churned, nil, 0)
	return a
}

// QiniCurve is the Qini curve of score at points evenly spaced shares.
func QiniCurve(score []float64, treated, churned []bool, points int) []QiniPoint {
	_, c := qini(order(score), treated, churned, nil, points)
	return c
}

// Comparison is an uplift ranking against ranking by churn risk on a
// held-out campaign.
type Comparison struct {
	Rows      int         `json:"rows"`
	Treated   int         `json:"treated"`
	AUUCModel Interval    `json:"auuc_model"`
	AUUCRisk  Interval    `json:"auuc_risk"`
	Diff      Interval    `json:"auuc_diff"` // model − risk
	Reps      int         `json:"bootstrap_reps"`
	QiniModel []QiniPoint `json:"qini_model"`
	QiniRisk  []QiniPoint `json:"qini_risk"`
	// Promoted: the model beats risk ranking, its AUUC difference's 95%
	// interval above zero.
	Promoted bool   `json:"promoted"`
	Decision string `json:"decision"`
}

// Compare holds the uplift scores against churn risk on a held-out
// campaign (treated arms and churn outcomes), with percentile bootstrap
// 95% intervals over customers (reps resamples, seeded).
func Compare(uplift, risk []float64, treated, churned []bool, reps int, seed uint64) Comparison {
	om, or := order(uplift), order(risk)
	c := Comparison{Rows: len(uplift), Reps: reps}
	for _, t := range treated {
		if t {
			c.Treated++
		}
	}
	var am, ar float64
	am, c.QiniModel = qini(om, treated, churned, nil, 10)
	ar, c.QiniRisk = qini(or, treated, churned, nil, 10)
	r := rand.New(rand.NewPCG(seed, 0x9171))
	w := make([]float64, len(uplift))
	bm, br, bd := make([]float64, reps), make([]float64, reps), make([]float64, reps)
	for k := range reps {
		clear(w)
		for range len(w) {
			w[r.IntN(len(w))]++
		}
		bm[k], _ = qini(om, treated, churned, w, 0)
		br[k], _ = qini(or, treated, churned, w, 0)
		bd[k] = bm[k] - br[k]
	}
	c.AUUCModel = percentiles(am, bm)
	c.AUUCRisk = percentiles(ar, br)
	c.Diff = percentiles(am-ar, bd)
	c.Promoted = reps > 0 && c.Diff.Lo > 0
	if c.Promoted {
		c.Decision = fmt.Sprintf("promoted: AUUC %.4f beats risk ranking's %.4f (difference %.4f, 95%% interval %.4f to %.4f)", am, ar, am-ar, c.Diff.Lo, c.Diff.Hi)
	} else {
		c.Decision = fmt.Sprintf("not promoted: AUUC %.4f against risk ranking's %.4f (difference %.4f, 95%% interval %.4f to %.4f includes or lies below 0)", am, ar, am-ar, c.Diff.Lo, c.Diff.Hi)
	}
	return c
}

func percentiles(est float64, xs []float64) Interval {
	if len(xs) == 0 {
		return Interval{Estimate: est, Lo: est, Hi: est}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	at := func(q float64) float64 { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return Interval{Estimate: est, Lo: at(0.025), Hi: at(0.975)}
}

// WriteReport writes the comparison as the Markdown section of the model
// report: the AUUCs with their intervals, the decision, and the two Qini
// curves by decile.
func (c Comparison) WriteReport(w io.Writer, title string) {
	fmt.Fprintf(w, "## %s\n\n", title)
	fmt.Fprintf(w, "Uplift model: %s.\n\n", UpliftMethod)
	fmt.Fprintf(w, "Held-out campaign: %d customers, %d treated. AUUC = mean over k of Q(k)/N_t, Q(k) = retained treated − retained control × N_t(k)/N_c(k) among the top k; 95%% intervals: percentile bootstrap over customers, %d resamples.\n\n", c.Rows, c.Treated, c.Reps)
	fmt.Fprintf(w, "| ranking | AUUC | 95%% interval |\n|---|---|---|\n")
	fmt.Fprintf(w, "| uplift model | %.4f | %.4f – %.4f |\n", c.AUUCModel.Estimate, c.AUUCModel.Lo, c.AUUCModel.Hi)
	fmt.Fprintf(w, "| churn risk | %.4f | %.4f – %.4f |\n", c.AUUCRisk.Estimate, c.AUUCRisk.Lo, c.AUUCRisk.Hi)
	fmt.Fprintf(w, "| difference | %.4f | %.4f – %.4f |\n\n", c.Diff.Estimate, c.Diff.Lo, c.Diff.Hi)
	fmt.Fprintf(w, "Decision: %s.\n\n", c.Decision)
	fmt.Fprintf(w, "Qini curve (incremental retained customers as a share of all treated, contacting the top share):\n\n| top share | uplift model | churn risk |\n|---|---|---|\n")
	for i := range c.QiniModel {
		fmt.Fprintf(w, "| %.0f%% | %+.4f | %+.4f |\n", 100*c.QiniModel[i].Share, c.QiniModel[i].Gain, c.QiniRisk[i].Gain)
	}
	fmt.Fprintln(w)
}
