package insight

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPSIByHand: shares (0.25 ×4) against (0.1, 0.2, 0.3, 0.4):
// (−0.15)ln(0.4) + (−0.05)ln(0.8) + 0.05 ln(1.2) + 0.15 ln(1.6)
// = 0.137444 + 0.011157 + 0.009116 + 0.070501 = 0.228218.
func TestPSIByHand(t *testing.T) {
	got, err := PSIFromShares([]float64{0.25, 0.25, 0.25, 0.25}, []float64{0.1, 0.2, 0.3, 0.4})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "psi", got, 0.2282180, 1e-6)
	if Level(got) != "moderate" {
		t.Errorf("Level(%v) = %s, want moderate", got, Level(got))
	}
	same, _ := PSIFromShares([]float64{0.5, 0.5}, []float64{0.5, 0.5})
	if same != 0 || Level(same) != "stable" {
		t.Errorf("equal shares: psi %v %s, want 0 stable", same, Level(same))
	}
	// An empty bin takes the floor share: (1e-4 − 0.5) ln(1e-4/0.5) + (0.9999 − 0.5) ln(0.9999/0.5)
	empty, _ := PSIFromShares([]float64{0.5, 0.5}, []float64{0, 1})
	near(t, "psi with an empty bin", empty, (1e-4-0.5)*math.Log(1e-4/0.5)+(1-0.5)*math.Log(1/0.5), 1e-4)
	if Level(empty) != "significant" {
		t.Errorf("Level(%v) = %s, want significant", empty, Level(empty))
	}
	if _, err := PSIFromShares([]float64{1}, []float64{0.5, 0.5}); err == nil {
		t.Error("bins of different lengths: no error")
	}
}

// TestPSIBinsByReferenceDeciles: values 0..99 binned at their deciles; the
// same values give 0, the values shifted by 10 move every bin's share to
// its neighbour (first bin empty, last doubled).
func TestPSIBinsByReferenceDeciles(t *testing.T) {
	ref := make([]float64, 100)
	shift := make([]float64, 100)
	for i := range ref {
		ref[i], shift[i] = float64(i), float64(i+10)
	}
	if got, _ := PSI(ref, ref); got != 0 {
		t.Errorf("PSI(ref, ref) = %v, want 0", got)
	}
	got, err := PSI(ref, append(shift, math.NaN()))
	if err != nil {
		t.Fatal(err)
	}
	e := []float64{.1, .1, .1, .1, .1, .1, .1, .1, .1, .1}
	a := []float64{0, .1, .1, .1, .1, .1, .1, .1, .1, .2}
	want, _ := PSIFromShares(e, a)
	near(t, "shifted", got, want, 1e-12)
	// A large random sample of the same distribution is stable.
	r := rand.New(rand.NewPCG(1, 2))
	x, y := make([]float64, 5000), make([]float64, 5000)
	for i := range x {
		x[i], y[i] = r.NormFloat64(), r.NormFloat64()
	}
	if p, _ := PSI(x, y); Level(p) != "stable" {
		t.Errorf("two samples of N(0,1): psi %v", p)
	}
	for i := range y {
		y[i] += 1
	}
	if p, _ := PSI(x, y); Level(p) != "significant" {
		t.Errorf("N(0,1) against N(1,1): psi %v, want ≥ 0.25", p)
	}
	if _, err := PSI(nil, ref); err == nil {
		t.Error("PSI(nil, …): no error")
	}
}
