package evaluate

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// sameFloat is equality that treats NaN as equal to NaN.
func sameFloat(a, b float64) bool {
	return a == b || (math.IsNaN(a) && math.IsNaN(b))
}

func sameInterval(a, b Interval) bool { return sameFloat(a.Lo, b.Lo) && sameFloat(a.Hi, b.Hi) }

// synthetic returns n scored rows whose labels are drawn with probability
// equal to a noisy version of the score, so the score ranks and is roughly
// calibrated; scores are rounded to 2 decimals to create ties.
func synthetic(n int, seed uint64) ([]float64, []bool) {
	r := rand.New(rand.NewPCG(seed, 1))
	probs := make([]float64, n)
	labels := make([]bool, n)
	for i := range n {
		risk := math.Pow(r.Float64(), 3) // most subscribers are low risk
		probs[i] = math.Round(100*min(max(risk+0.08*r.NormFloat64(), 0.001), 0.999)) / 100
		labels[i] = r.Float64() < risk
	}
	return probs, labels
}

func TestSummariseMatchesMetrics(t *testing.T) {
	probs := []float64{.9, .8, .8, .7, .6, .4, .4, .3, .2, .1, .05, .05}
	labels := []bool{true, true, false, true, false, true, false, false, false, false, true, false}
	const seed = 7
	s := Summarise(probs, labels, seed)

	if s.Rows != 12 || s.Positives != 5 {
		t.Errorf("Rows, Positives = %d, %d, want 12, 5", s.Rows, s.Positives)
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"AUC", s.AUC, ROCAUC(probs, labels)},
		{"PRAUC", s.PRAUC, PRAUC(probs, labels)},
		{"Lift10", s.Lift10, LiftAt(probs, labels, 0.1)},
		{"Threshold", s.Threshold, BestF1Threshold(probs, labels)},
		{"AUCCI.Lo", s.AUCCI.Lo, Bootstrap(probs, labels, ROCAUC, BootstrapResamples, seed).Lo},
		{"AUCCI.Hi", s.AUCCI.Hi, Bootstrap(probs, labels, ROCAUC, BootstrapResamples, seed).Hi},
		{"PRAUCCI.Lo", s.PRAUCCI.Lo, Bootstrap(probs, labels, PRAUC, BootstrapResamples, seed).Lo},
		{"PRAUCCI.Hi", s.PRAUCCI.Hi, Bootstrap(probs, labels, PRAUC, BootstrapResamples, seed).Hi},
	}
	for _, c := range checks {
		if !near(c.got, c.want) {
			t.Errorf("Summarise: %s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !(s.AUCCI.Lo <= s.AUC && s.AUC <= s.AUCCI.Hi) {
		t.Errorf("AUC %v outside its interval %+v", s.AUC, s.AUCCI)
	}
	if want := ConfusionAt(probs, labels, s.Threshold); s.Confusion != want {
		t.Errorf("Confusion = %+v, want %+v", s.Confusion, want)
	}
	if want := Calibration(probs, labels, CalibrationBins); !reflect.DeepEqual(nanless(s.Calibration), nanless(want)) {
		t.Errorf("Calibration = %+v, want %+v", s.Calibration, want)
	}
	if want := ROCCurve(probs, labels); !reflect.DeepEqual(s.ROC, want) {
		t.Errorf("ROC = %v, want %v", s.ROC, want)
	}
	if want := GainsCurve(probs, labels, GainsSteps); !reflect.DeepEqual(s.Gains, want) {
		t.Errorf("Gains = %v, want %v", s.Gains, want)
	}
	if got, want := s.PositiveRate(), 5.0/12; !near(got, want) {
		t.Errorf("PositiveRate = %v, want %v", got, want)
	}
	var sum float64
	for _, p := range probs {
		sum += p
	}
	if got, want := s.MeanPredicted(), sum/12; !near(got, want) {
		t.Errorf("MeanPredicted = %v, want %v", got, want)
	}
}

// nanless replaces NaN in calibration bins by -1 so DeepEqual can compare.
func nanless(bins []CalBin) []CalBin {
	out := append([]CalBin(nil), bins...)
	for i := range out {
		if math.IsNaN(out[i].MeanPredicted) {
			out[i].MeanPredicted = -1
		}
		if math.IsNaN(out[i].ObservedRate) {
			out[i].ObservedRate = -1
		}
	}
	return out
}

// bootstrapRanking must give exactly what the two Bootstrap calls give:
// same draws, same groups, same arithmetic.
func TestBootstrapRankingMatchesBootstrap(t *testing.T) {
	big, bigLabels := synthetic(3000, 3)
	tests := []struct {
		name   string
		scores []float64
		labels []bool
		seed   uint64
	}{
		{"small with ties", []float64{.5, .5, .9, .1, .1, .7}, []bool{true, false, true, false, true, false}, 1},
		{"all tied", []float64{.3, .3, .3, .3}, []bool{true, false, false, true}, 2},
		{"rare positive", []float64{.9, .2, .3, .4, .5, .1, .6}, []bool{true, false, false, false, false, false, false}, 3},
		{"no positives", []float64{.9, .2, .3}, []bool{false, false, false}, 4},
		{"no negatives", []float64{.9, .2, .3}, []bool{true, true, true}, 5},
		{"one row", []float64{.4}, []bool{true}, 6},
		{"empty", nil, nil, 7},
		{"synthetic 3000 rows", big, bigLabels, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const b = 200
			auc, pr := bootstrapRanking(tt.scores, tt.labels, b, tt.seed)
			if want := Bootstrap(tt.scores, tt.labels, ROCAUC, b, tt.seed); !sameInterval(auc, want) {
				t.Errorf("AUC interval = %+v, want %+v", auc, want)
			}
			if want := Bootstrap(tt.scores, tt.labels, PRAUC, b, tt.seed); !sameInterval(pr, want) {
				t.Errorf("PR AUC interval = %+v, want %+v", pr, want)
			}
		})
	}
}

func TestSummariseSingleClassAndEmpty(t *testing.T) {
	tests := []struct {
		name   string
		probs  []float64
		labels []bool
	}{
		{"no churners", []float64{.1, .4, .2}, []bool{false, false, false}},
		{"only churners", []float64{.1, .4, .2}, []bool{true, true, true}},
		{"no rows", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Summarise(tt.probs, tt.labels, 1)
			if !math.IsNaN(s.AUC) || !math.IsNaN(s.AUCCI.Lo) || !math.IsNaN(s.AUCCI.Hi) {
				t.Errorf("AUC = %v (%+v), want NaN", s.AUC, s.AUCCI)
			}
			if s.Rows != len(tt.probs) {
				t.Errorf("Rows = %d, want %d", s.Rows, len(tt.probs))
			}
		})
	}
}

func TestSummarisePanicsOnLengthMismatch(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Summarise with 2 probabilities and 1 label did not panic")
		}
	}()
	Summarise([]float64{.1, .2}, []bool{true}, 1)
}

func TestThinCurve(t *testing.T) {
	probs, labels := synthetic(20000, 11)
	for i := range probs {
		probs[i] += float64(i) * 1e-9 // distinct scores: one ROC point per row
	}
	full := ROCCurve(probs, labels)
	if len(full) <= maxROCPoints {
		t.Fatalf("test needs a long curve, got %d points", len(full))
	}
	thin := thinCurve(full, maxROCPoints)
	if len(thin) > maxROCPoints+2 {
		t.Errorf("thinCurve kept %d points, want at most %d", len(thin), maxROCPoints+2)
	}
	if thin[0] != full[0] || thin[len(thin)-1] != full[len(full)-1] {
		t.Errorf("thinCurve ends = %v, %v, want %v, %v", thin[0], thin[len(thin)-1], full[0], full[len(full)-1])
	}
	for i := 1; i < len(thin); i++ {
		if thin[i].X < thin[i-1].X || thin[i].Y < thin[i-1].Y {
			t.Fatalf("thinCurve not monotone at %d: %v after %v", i, thin[i], thin[i-1])
		}
	}
	// The area under the thinned curve stays close to the AUC.
	var area float64
	for i := 1; i < len(thin); i++ {
		area += (thin[i].X - thin[i-1].X) * (thin[i].Y + thin[i-1].Y) / 2
	}
	if auc := ROCAUC(probs, labels); math.Abs(area-auc) > 0.002 {
		t.Errorf("area under thinned curve = %v, AUC %v", area, auc)
	}
	short := []Point{{0, 0}, {0.5, 0.5}, {1, 1}}
	if got := thinCurve(short, maxROCPoints); !reflect.DeepEqual(got, short) {
		t.Errorf("thinCurve(short) = %v, want it unchanged", got)
	}
}

// BenchmarkSummarise is a validation month of 200,000 subscribers.
func BenchmarkSummarise(b *testing.B) {
	probs, labels := synthetic(200000, 1)
	for b.Loop() {
		Summarise(probs, labels, 1)
	}
}

// BenchmarkBootstrapTwice is what the intervals would cost with Bootstrap,
// at 20 resamples instead of BootstrapResamples (multiply by 50).
func BenchmarkBootstrapTwice(b *testing.B) {
	probs, labels := synthetic(200000, 1)
	for b.Loop() {
		Bootstrap(probs, labels, ROCAUC, 20, 1)
		Bootstrap(probs, labels, PRAUC, 20, 1)
	}
}
