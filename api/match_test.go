package api

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// TestMatchOnEveryCPU: over enough rows for the match to run on several
// CPUs, the selection is the rows meeting every condition, in row order,
// for each kind of first condition.
func TestMatchOnEveryCPU(t *testing.T) {
	const n = 3*parallelMatchRows + 77
	rng := rand.New(rand.NewPCG(1, 2))
	codes := make([]uint16, n)
	wide := make([]uint16, n)
	ints := make([]int32, n)
	cents := make([]int32, n)
	fixed := make([]int32, n)
	for r := range n {
		codes[r], wide[r] = uint16(rng.IntN(6)), uint16(rng.IntN(100))
		ints[r], cents[r], fixed[r] = int32(rng.IntN(100)), rng.Int32N(10000), rng.Int32N(1e6)-2e5
	}
	ix := &index{n: n}
	ix.sels.New = func() any { s := make([]int32, 0, n); return &s }
	wideMask := make([]uint64, 2)
	wideMask[1] = 1<<3 | 1<<30
	all := []pred{
		{codes: codes, mask: []uint64{1<<1 | 1<<4}, counts: []int{1, 1, 1, 1, 1, 1}},
		{codes: wide, mask: wideMask, counts: make([]int, 100)},
		{i: ints, ilo: 10, ihi: 80},
		{i: cents, ilo: 500, ihi: 9000},
		{i: fixed, ilo: 1e5, ihi: 9.5e5},
	}
	if runtime.GOMAXPROCS(0) < 2 {
		t.Log("one CPU: the parallel split is not exercised")
	}
	for first := range all {
		preds := append([]pred{all[first]}, slices.Delete(slices.Clone(all), first, first+1)...)
		for k := 1; k <= len(preds); k++ {
			ps := slices.Clone(preds[:k])
			var want []int32
			for r := range int32(n) {
				ok := true
				for j := range ps {
					ok = ok && ps[j].holds(r)
				}
				if ok {
					want = append(want, r)
				}
			}
			got, buf := ix.match(ps)
			if !slices.Equal(got, want) {
				t.Errorf("first %d, %d conditions: %d rows, want %d", first, k, len(got), len(want))
			}
			ix.release(buf)
		}
	}
}
