package evaluate

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

func TestCompareOracleHandMade(t *testing.T) {
	labels := []bool{true, false, true, false}
	model := []float64{0.9, 0.8, 0.3, 0.1}  // one pair of four misordered
	oracle := []float64{0.9, 0.2, 0.8, 0.1} // perfect
	c := CompareOracle(model, oracle, labels, 1)
	// Model AUC: churners 0.9 and 0.3 against stayers 0.8 and 0.1, 3 of 4
	// pairs right. PR AUC: precision 1/1 at the first churner, 2/3 at the
	// second.
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"model AUC", c.ModelAUC, 0.75}, {"oracle AUC", c.OracleAUC, 1}, {"AUC gap", c.AUCGap, 0.25},
		{"model PR AUC", c.ModelPRAUC, (1 + 2.0/3) / 2}, {"oracle PR AUC", c.OraclePRAUC, 1},
		{"PR AUC gap", c.PRAUCGap, 1 - (1+2.0/3)/2},
	} {
		if !near(tc.got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if c.Rows != 4 || c.Positives != 2 {
		t.Errorf("rows %d positives %d, want 4 and 2", c.Rows, c.Positives)
	}
	if !(c.AUCGapCI.Lo <= c.AUCGap && c.AUCGap <= c.AUCGapCI.Hi) || c.AUCGapCI.Lo < 0 {
		t.Errorf("AUC gap interval %+v does not hold the gap %v, or goes below 0 though the oracle is never worse", c.AUCGapCI, c.AUCGap)
	}
	// The same scores twice: no gap, a zero-width interval.
	same := CompareOracle(model, model, labels, 1)
	if same.AUCGap != 0 || same.AUCGapCI != (Interval{0, 0}) {
		t.Errorf("a model against itself: gap %v interval %+v, want 0 and [0,0]", same.AUCGap, same.AUCGapCI)
	}
}

func TestCompareOracleBootstrapMatchesMetrics(t *testing.T) {
	// With all weights 1 the weighted ranker gives ROCAUC and PRAUC.
	r := rand.New(rand.NewPCG(3, 4))
	n := 500
	s, l, w := make([]float64, n), make([]bool, n), make([]float64, n)
	for i := range s {
		s[i] = math.Round(r.Float64()*50) / 50 // ties
		l[i] = r.Float64() < s[i]
		w[i] = 1
	}
	auc, pr := newRanker(s, l).weighted(w)
	if !near(auc, ROCAUC(s, l)) || !near(pr, PRAUC(s, l)) {
		t.Errorf("weighted ranker: AUC %v PR %v, want %v and %v", auc, pr, ROCAUC(s, l), PRAUC(s, l))
	}
}

func TestScoreReasonsHandMade(t *testing.T) {
	cases := []ReasonCase{
		{Dominant: "signs", Reasons: [][]string{{"signs"}, {"plan"}, {"tenure"}}, Real: []string{"signs", "plan"}}, // hit, top-1 real
		{Dominant: "plan", Reasons: [][]string{{"arrears"}, {"tenure"}}, Real: []string{"plan"}},                   // miss, top-1 not real
		{Dominant: "plan", Reasons: [][]string{{"tenure"}, {"arrears"}, {"plan", "income"}, {"plan"}}, // hit at 3, top-1 real
			Real: []string{"plan", "tenure"}},
		{Dominant: "signs", Real: []string{"signs"}}, // no reasons: a miss, not in precision
		{Dominant: "signs", Reasons: [][]string{{"arrears"}, {"tenure"}, {"income"}, {"signs"}}, Real: []string{"signs"}}, // 4th does not count
	}
	got := ScoreReasons(cases)
	want := []struct {
		driver          string
		cases, with     int
		recall, precise float64
	}{
		{"", 5, 4, 2.0 / 5, 2.0 / 4},
		{"plan", 2, 2, 1.0 / 2, 1.0 / 2},
		{"signs", 3, 2, 1.0 / 3, 1.0 / 2},
	}
	if len(got) != len(want) {
		t.Fatalf("ScoreReasons gave %d rows, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Driver != w.driver || g.Cases != w.cases || g.WithReason != w.with || !near(g.Recall, w.recall) || !near(g.Precision, w.precise) {
			t.Errorf("row %d = %+v, want driver %q cases %d with reason %d recall %v precision %v", i, g, w.driver, w.cases, w.with, w.recall, w.precise)
		}
		if !(g.RecallCI.Lo <= g.Recall && g.Recall <= g.RecallCI.Hi) {
			t.Errorf("row %d: recall %v outside its interval %+v", i, g.Recall, g.RecallCI)
		}
	}
	// Wilson for 8 of 10, checked against the closed form by hand:
	// centre (0.8+1.9208/10)/(1+3.8415/10), half-width 0.2303.
	if iv := Wilson(8, 10); math.Abs(iv.Lo-0.4902) > 1e-3 || math.Abs(iv.Hi-0.9433) > 1e-3 {
		t.Errorf("Wilson(8, 10) = %+v, want about [0.4902, 0.9433]", iv)
	}
}

func TestCalibrationMetricsByHand(t *testing.T) {
	p := []float64{0.05, 0.15, 0.12, 0.95}
	y := []bool{false, true, false, true}
	// Bins: [0,0.1) holds 0.05 (no churn): |0.05-0| = 0.05; [0.1,0.2)
	// holds 0.15 and 0.12 (one churn): |0.27-1| = 0.73; [0.9,1] holds 0.95
	// (churn): 0.05. ECE = 0.83/4.
	if got := ECE(p, y); !near(got, 0.83/4) {
		t.Errorf("ECE = %v, want %v", got, 0.83/4)
	}
	if got, want := Brier(p, y), (0.0025+0.7225+0.0144+0.0025)/4; !near(got, want) {
		t.Errorf("Brier = %v, want %v", got, want)
	}
	if got, want := LogLoss(p, y), -(math.Log(0.95)+math.Log(0.15)+math.Log(0.88)+math.Log(0.95))/4; !near(got, want) {
		t.Errorf("LogLoss = %v, want %v", got, want)
	}
	m := MeasureCalibration(p, y, 1)
	if !near(m.ECE, 0.83/4) || m.ECECI.Lo > m.ECECI.Hi || m.BrierCI.Lo > m.Brier || m.BrierCI.Hi < m.Brier {
		t.Errorf("MeasureCalibration = %+v", m)
	}
}

// overconfident returns outcomes drawn from q and a model that says
// sigmoid(3·logit(q)): right ranking, far too sure.
func overconfident(n int, seed uint64) (p []float64, y []bool) {
	r := rand.New(rand.NewPCG(seed, 1))
	for range n {
		q := 0.02 + 0.3*r.Float64()*r.Float64()
		p = append(p, sigmoid(3*clampLogit(q)))
		y = append(y, r.Float64() < q)
	}
	return p, y
}

func TestCalibratorsFixOverconfidence(t *testing.T) {
	fitP, fitY := overconfident(4000, 1)
	testP, testY := overconfident(4000, 2) // other rows: never seen by the fit
	before := ECE(testP, testY)
	for _, c := range []*Calibrator{FitPlatt(fitP, fitY), FitIsotonic(fitP, fitY)} {
		after := c.ApplyAll(testP)
		if e := ECE(after, testY); e > before/3 {
			t.Errorf("%s: ECE %.4f on unseen rows, before %.4f: not fixed", c.Method, e, before)
		}
		if a, b := ROCAUC(after, testY), ROCAUC(testP, testY); math.Abs(a-b) > 1e-3 {
			t.Errorf("%s changed the ranking: AUC %.4f, before %.4f", c.Method, a, b)
		}
		data, _ := json.Marshal(c)
		var back Calibrator
		if err := json.Unmarshal(data, &back); err != nil || back.Check() != nil || back.Apply(0.3) != c.Apply(0.3) {
			t.Errorf("%s does not round-trip through JSON: %v", c.Method, err)
		}
	}
	if c := FitPlatt(fitP, fitY); math.Abs(c.A-1.0/3) > 0.08 {
		t.Errorf("Platt slope %.3f, want about 1/3 (the model's log-odds are 3 times too large)", c.A)
	}
	c, ch := FitCalibrator(fitP, fitY, 1)
	if ch.Method == CalibrateNone || c == nil || ch.Rows != len(fitP) {
		t.Errorf("FitCalibrator chose %q on overconfident scores: %+v", ch.Method, ch)
	}
	// Calibrated scores: calibrating again does not help, "none" wins or
	// ties within noise.
	calP, calY := make([]float64, len(fitP)), fitY
	r := rand.New(rand.NewPCG(5, 6))
	for i := range calP {
		calP[i] = 0.02 + 0.3*r.Float64()*r.Float64()
		calY[i] = r.Float64() < calP[i]
	}
	_, ch = FitCalibrator(calP, calY, 1)
	if ll := ch.LogLoss; ll[ch.Method] > ll[CalibrateNone] {
		t.Errorf("chosen %q has a higher cross-fitted log loss than none: %v", ch.Method, ll)
	}
}
