package evaluate

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestROCAUC(t *testing.T) {
	tests := []struct {
		name   string
		scores []float64
		labels []bool
		want   float64
	}{
		// Positives at ranks 1 and 3 of 5 (by score): of the 2×3 pairs,
		// the first positive beats all 3 negatives, the second beats 2.
		{"fixed ranking", []float64{.9, .8, .7, .6, .5}, []bool{true, false, true, false, false}, 5.0 / 6},
		{"perfect", []float64{.9, .8, .1}, []bool{true, true, false}, 1},
		{"inverted", []float64{.1, .2, .9}, []bool{true, true, false}, 0},
		{"all tied", []float64{.5, .5, .5, .5}, []bool{true, false, true, false}, 0.5},
		// One tie between a positive and a negative counts one half:
		// pairs (p.8,n.8)=½, (p.8,n.3)=1, (p.3,n.8)=0, (p.3,n.3)=½.
		{"ties", []float64{.8, .8, .3, .3}, []bool{true, false, true, false}, 0.5},
		{"one class", []float64{.1, .2}, []bool{true, true}, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ROCAUC(tt.scores, tt.labels)
			if math.IsNaN(tt.want) != math.IsNaN(got) || (!math.IsNaN(got) && !near(got, tt.want)) {
				t.Errorf("ROCAUC = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPRAUCAndLift(t *testing.T) {
	s := []float64{.9, .8, .7, .6, .5}
	l := []bool{true, false, true, false, false}
	// Precision at the positives' ranks: 1/1 and 2/3.
	if got, want := PRAUC(s, l), (1+2.0/3)/2; !near(got, want) {
		t.Errorf("PRAUC = %v, want %v", got, want)
	}
	// Top 20% = 1 row, a positive: rate 1 vs overall 2/5 → lift 2.5.
	if got := LiftAt(s, l, 0.2); !near(got, 2.5) {
		t.Errorf("LiftAt(20%%) = %v, want 2.5", got)
	}
	// Top 60% = 3 rows, 2 positives: (2/3)/(2/5).
	if got := LiftAt(s, l, 0.6); !near(got, (2.0/3)/(0.4)) {
		t.Errorf("LiftAt(60%%) = %v", got)
	}
}

func TestConfusionAndCalibration(t *testing.T) {
	s := []float64{.9, .8, .7, .6, .5, .05}
	l := []bool{true, false, true, false, false, true}
	c := ConfusionAt(s, l, 0.7)
	if c.TP != 2 || c.FP != 1 || c.TN != 2 || c.FN != 1 {
		t.Errorf("ConfusionAt(0.7) = %+v", c)
	}
	cal := Calibration(s, l, 2)
	if cal[0].Rows != 1 || cal[1].Rows != 5 || !near(cal[1].ObservedRate, 0.4) || !near(cal[1].MeanPredicted, 0.7) {
		t.Errorf("Calibration = %+v", cal)
	}
	if th := BestF1Threshold(s, l); th != 0.7 {
		t.Errorf("BestF1Threshold = %v, want 0.7", th)
	}
}

func TestBootstrapCoversEstimate(t *testing.T) {
	n := 400
	s := make([]float64, n)
	l := make([]bool, n)
	for i := range n {
		s[i] = float64((i*7919)%n) / float64(n)
		l[i] = s[i]+float64(i%5)/10 > 0.6
	}
	auc := ROCAUC(s, l)
	iv := Bootstrap(s, l, ROCAUC, 300, 1)
	if !(iv.Lo < auc && auc < iv.Hi) || iv.Hi-iv.Lo > 0.2 {
		t.Errorf("bootstrap interval %+v does not sensibly cover AUC %v", iv, auc)
	}
}

func TestCurves(t *testing.T) {
	s := []float64{.9, .8, .7, .6}
	l := []bool{true, false, true, false}
	roc := ROCCurve(s, l)
	if len(roc) != 5 || roc[len(roc)-1] != (Point{1, 1}) || roc[1] != (Point{0, 0.5}) {
		t.Errorf("ROCCurve = %v", roc)
	}
	g := GainsCurve(s, l, 4)
	if len(g) != 5 || g[1] != (Point{0.25, 0.5}) || g[4] != (Point{1, 1}) {
		t.Errorf("GainsCurve = %v", g)
	}
}
