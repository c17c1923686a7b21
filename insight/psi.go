package insight

import (
	"fmt"
	"math"
	"slices"
)

// Drift: the population stability index of a feature between a reference
// month and the next,
//
//	PSI = Σ_bins (a − e) · ln(a / e)
//
// with e and a the shares of the reference and current values in each bin.
// Bins are the reference's deciles (cut points at its 10th … 90th
// percentiles, so ties may merge bins); an empty bin's share is taken as
// psiFloor so the logarithm stays finite. Missing values (NaN) are left
// out. The usual reading, which Level applies: below 0.1 stable, 0.1 to
// 0.25 a moderate shift worth a look, 0.25 or more a significant shift
// (retrain, or check the feed).

// Drift thresholds.
const (
	PSIModerate    = 0.1
	PSISignificant = 0.25
	psiFloor       = 1e-4
	psiBins        = 10
)

// PSIFromShares is the index of two distributions over the same bins.
func PSIFromShares(expected, actual []float64) (float64, error) {
	if len(expected) != len(actual) || len(expected) == 0 {
		return 0, fmt.Errorf("insight: psi over %d and %d bins", len(expected), len(actual))
	}
	var psi float64
	for i := range expected {
		e, a := max(expected[i], psiFloor), max(actual[i], psiFloor)
		psi += (a - e) * math.Log(a/e)
	}
	return psi, nil
}

// PSI bins reference into its deciles and returns the index of current
// against it. Both need values that are not NaN.
func PSI(reference, current []float64) (float64, error) {
	ref := finite(reference)
	cur := finite(current)
	if len(ref) == 0 || len(cur) == 0 {
		return 0, ErrNoData
	}
	slices.Sort(ref)
	var cuts []float64
	for q := 1; q < psiBins; q++ {
		c := ref[(q*len(ref))/psiBins]
		if len(cuts) == 0 || c > cuts[len(cuts)-1] {
			cuts = append(cuts, c)
		}
	}
	bin := func(v float64) int {
		i, _ := slices.BinarySearch(cuts, v) // bins are [cut_{i-1}, cut_i)
		if i < len(cuts) && cuts[i] == v {
			i++
		}
		return i
	}
	e := make([]float64, len(cuts)+1)
	a := make([]float64, len(cuts)+1)
	for _, v := range ref {
		e[bin(v)]++
	}
	for _, v := range cur {
		a[bin(v)]++
	}
	for i := range e {
		e[i] /= float64(len(ref))
		a[i] /= float64(len(cur))
	}
	return PSIFromShares(e, a)
}

// Level reads an index by the thresholds: stable, moderate or significant.
func Level(psi float64) string {
	switch {
	case psi >= PSISignificant:
		return "significant"
	case psi >= PSIModerate:
		return "moderate"
	}
	return "stable"
}

func finite(v []float64) []float64 {
	out := make([]float64, 0, len(v))
	for _, x := range v {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			out = append(out, x)
		}
	}
	return out
}
