package liblinear

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestFitRecoversWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 4000
	x := make([][]float64, n)
	y := make([]float64, n)
	for i := range x {
		a, b := r.NormFloat64(), r.NormFloat64()
		x[i] = []float64{a, b, r.NormFloat64(), 1} // the last column carries the intercept
		if r.Float64() < 1/(1+math.Exp(2-1.5*a+b)) {
			y[i] = 1
		}
	}
	first := append([]float64(nil), x[0]...)
	w, err := Fit(x, y, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1.5, -1, 0, -2}
	if len(w) != len(want) {
		t.Fatalf("Fit returned %d weights, want %d", len(w), len(want))
	}
	for j := range w {
		if math.Abs(w[j]-want[j]) > 0.25 {
			t.Errorf("weight %d = %.3f, want about %v (all %v)", j, w[j], want[j], w)
		}
	}
	if !reflect.DeepEqual(x[0], first) {
		t.Errorf("Fit reordered the caller's rows")
	}
}

func TestFitErrors(t *testing.T) {
	tests := []struct {
		name string
		x    [][]float64
		y    []float64
		want string
	}{
		{"no rows", nil, nil, "0 rows"},
		{"labels short", [][]float64{{1}, {2}}, []float64{1}, "2 rows and 1 labels"},
		{"ragged", [][]float64{{1, 1}, {2}}, []float64{1, 0}, "row 1 has 1 columns"},
		{"bad label", [][]float64{{1}, {2}}, []float64{1, 2}, "label 2"},
		{"no positive", [][]float64{{1}, {2}}, []float64{0, 0}, "no positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Fit(tt.x, tt.y, 1, 1)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Fit = %v, want an error about %q", err, tt.want)
			}
		})
	}
}

func TestReadWeights(t *testing.T) {
	file := func(labels string) string {
		return "solver_type L2R_LR\nnr_class 2\nlabel " + labels + "\nnr_feature 3\nbias -1\nw\n0.5 \n-2 \n0.25 \n"
	}
	tests := []struct {
		labels string
		want   []float64
	}{
		{"1 0", []float64{0.5, -2}},
		{"0 1", []float64{-0.5, 2}}, // liblinear scores its first label
	}
	for _, tt := range tests {
		p := filepath.Join(t.TempDir(), "m.txt")
		if err := os.WriteFile(p, []byte(file(tt.labels)), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readWeights(p, 2)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("labels %s: weights %v, want %v", tt.labels, got, tt.want)
		}
	}
}
