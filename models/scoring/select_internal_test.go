package scoring

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSelectMatchesSort: the k-th smallest by histogram and one bin's
// numbers is the sorted slice's k-th, for every k, with NaN, infinities,
// both zeros, ties and numbers that share a bin; above counts the
// numbers greater than it.
func TestSelectMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	var v []float64
	for range 3000 {
		switch rng.IntN(8) {
		case 0:
			v = append(v, math.Round(rng.Float64()*20)/20) // ties
		case 1:
			v = append(v, 0.25+rng.Float64()*1e-6) // one bin
		case 2:
			v = append(v, -rng.ExpFloat64()*1000)
		default:
			v = append(v, rng.Float64())
		}
	}
	v = append(v, math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0, 1, 1)
	rng.Shuffle(len(v), func(i, j int) { v[i], v[j] = v[j], v[i] })
	sorted := slices.Clone(v)
	slices.SortFunc(sorted, cmp.Compare[float64])
	h := newHistogram()
	for _, x := range v {
		h.add(x)
	}
	for k := -1; k <= len(v); k++ {
		p := h.pick(k)
		for _, x := range v {
			p.offer(x)
		}
		got, above := p.value(len(v))
		kk := max(0, min(k, len(v)-1))
		want := sorted[kk]
		if cmp.Compare(got, want) != 0 {
			t.Fatalf("k=%d: %v, want %v", k, got, want)
		}
		wantAbove := 0
		for _, x := range v {
			if cmp.Compare(x, want) > 0 {
				wantAbove++
			}
		}
		if above != wantAbove {
			t.Fatalf("k=%d: %d above %v, want %d", k, above, got, wantAbove)
		}
	}
	for _, pair := range [][2]float64{{math.Inf(-1), -1e300}, {-1, -0.5}, {-1e-300, 0}, {0, 1e-300}, {0.5, 1}, {1e300, math.Inf(1)}} {
		if orderKey(pair[0]) >= orderKey(pair[1]) {
			t.Errorf("orderKey(%v) >= orderKey(%v)", pair[0], pair[1])
		}
	}
	if orderKey(math.NaN()) >= orderKey(math.Inf(-1)) || orderKey(math.Copysign(0, -1)) != orderKey(0) {
		t.Error("orderKey: NaN not first, or -0 not +0")
	}
}
