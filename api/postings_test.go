package api

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPostingsMatchTheScan: on random columns (repeated values, NaN,
// extreme and negative numbers, codes absent from the data) and random
// conditions of every kind as the first one — one code, several codes,
// a negation, ranges on int32, cents and float64 columns with bounds on,
// between and beyond the values, empty and infinite — the rows the
// postings give, after the other conditions (categorical ones through
// code bitmaps or not), are exactly the scan's and a plain loop's, in row
// order.
func TestPostingsMatchTheScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 64, 1000, 3*parallelMatchRows + 5} {
		codes := make([]uint16, n)
		wide := make([]uint16, n)
		ints := make([]int32, n)
		cents := make([]int32, n)
		fixed := make([]int32, n) // a Fixed column of scale 100
		for r := range n {
			codes[r], wide[r] = uint16(rng.IntN(5)), uint16(rng.IntN(90))
			ints[r] = int32(rng.IntN(50) - 25)
			cents[r] = rng.Int32N(2000) - 500
			fixed[r] = int32(rng.IntN(200)) - 50
			switch rng.IntN(40) {
			case 0, 1:
				fixed[r] = math.MaxInt32
				if rng.IntN(2) == 0 {
					fixed[r] = -math.MaxInt32
				}
			case 2:
				fixed[r] = 0
			case 3:
				ints[r] = math.MinInt32
				if rng.IntN(2) == 0 {
					ints[r] = math.MaxInt32
				}
			case 4:
				cents[r] = math.MinInt32
				if rng.IntN(2) == 0 {
					cents[r] = math.MaxInt32
				}
			}
		}
		counts, wideCounts := make([]int, 6), make([]int, 100)
		for r := range n {
			counts[codes[r]]++
			wideCounts[wide[r]]++
		}
		ix := &index{n: n}
		ix.sels.New = func() any { s := make([]int32, 0, n); return &s }
		nums := []numColumn{{i: ints}, {c: cents}, {x: fixed, scale: 100}}
		catP := []postings{{ix: ix, codes: codes}, {ix: ix, codes: wide}}
		numP := make([]postings, len(nums))
		for j := range nums {
			numP[j] = postings{ix: ix, num: &nums[j]}
		}
		for j := range catP {
			catP[j].build()
			catP[j].started.Store(true)
		}
		narrow := codeBits{codes: codes} // wide has too many codes for bitmaps
		narrow.build()
		narrow.started.Store(true)
		for j := range numP {
			numP[j].build()
			numP[j].started.Store(true)
		}
		bound := func(vals []float64) float64 {
			switch rng.IntN(8) {
			case 0:
				return math.Inf(-1)
			case 1:
				return math.Inf(1)
			case 2:
				return rng.Float64()*4 - 2
			}
			return vals[rng.IntN(len(vals))]
		}
		asFloats := func(j int) []float64 {
			out := make([]float64, n)
			for r := range n {
				switch {
				case nums[j].i != nil:
					out[r] = float64(ints[r])
				case nums[j].c != nil:
					out[r] = float64(cents[r])
				default:
					out[r] = float64(fixed[r]) / 100
				}
			}
			return out
		}
		randPred := func() pred {
			switch k := rng.IntN(5); k {
			case 0, 1:
				col, cnt, pp := codes, counts, &catP[0]
				if k == 1 {
					col, cnt, pp = wide, wideCounts, &catP[1]
				}
				nc := len(cnt)
				mask := make([]uint64, (nc+64)/64)
				for range 1 + rng.IntN(3) {
					c := rng.IntN(nc)
					mask[c>>6] |= 1 << (c & 63)
				}
				if rng.IntN(3) == 0 { // a negation
					for c := range nc {
						mask[c>>6] ^= 1 << (c & 63)
					}
				}
				p := pred{codes: col, mask: mask, counts: cnt, post: pp}
				if k == 0 && rng.IntN(4) > 0 {
					p.bits = &narrow
				}
				return p
			default:
				j := k - 2
				vals := asFloats(j)
				lo, hi := bound(vals), bound(vals)
				if rng.IntN(2) == 0 {
					lo, hi = min(lo, hi), max(lo, hi)
				}
				switch {
				case nums[j].i != nil:
					p := pred{i: ints, ilo: int32(max(min(math.Ceil(lo), math.MaxInt32), math.MinInt32)), ihi: int32(max(min(math.Floor(hi), math.MaxInt32), math.MinInt32))}
					p.post = &numP[j]
					return p
				case nums[j].c != nil:
					p := pred{i: cents, ilo: int32(max(min(math.Ceil(lo), math.MaxInt32), math.MinInt32)), ihi: int32(max(min(math.Floor(hi), math.MaxInt32), math.MinInt32))}
					p.post = &numP[j]
					return p
				}
				clamp := func(v int64) int32 { return int32(max(min(v, math.MaxInt32), math.MinInt32)) }
				return pred{i: fixed, ilo: clamp(unitsAtLeast(lo, 100)), ihi: clamp(unitsAtMost(hi, 100)), post: &numP[j]}
			}
		}
		trials := 300
		if n > 10000 {
			trials = 40
		}
		for trial := range trials {
			preds := make([]pred, 1+rng.IntN(3))
			for i := range preds {
				preds[i] = randPred()
			}
			var want []int32
			for r := range int32(n) {
				ok := true
				for j := range preds {
					ok = ok && preds[j].holds(r)
				}
				if ok {
					want = append(want, r)
				}
			}
			// The postings' path, whatever the first condition keeps (match
			// answers an empty range before any pass).
			if !slices.ContainsFunc(preds, func(p pred) bool { return p.empty() }) {
				sel := make([]int32, n)
				k, ok := ix.matchPosted(preds, sel, n)
				if !ok {
					t.Fatalf("n %d trial %d: postings not used", n, trial)
				}
				if !slices.Equal(sel[:k], want) {
					t.Fatalf("n %d trial %d: postings give %d rows, want %d", n, trial, k, len(want))
				}
			}
			// match, which uses them for a selective first condition, and the
			// plain scan (no postings).
			got, buf := ix.match(slices.Clone(preds))
			if !slices.Equal(got, want) {
				t.Fatalf("n %d trial %d: match gives %d rows, want %d", n, trial, len(got), len(want))
			}
			ix.release(buf)
			plain := slices.Clone(preds)
			for i := range plain {
				plain[i].post, plain[i].bits = nil, nil
			}
			got, buf = ix.match(plain)
			if !slices.Equal(got, want) {
				t.Fatalf("n %d trial %d: scan gives %d rows, want %d", n, trial, len(got), len(want))
			}
			ix.release(buf)
		}
	}
}

// TestPostingsBudget: past maxPostedFields fields, a field's postings are
// never built and its conditions scan.
func TestPostingsBudget(t *testing.T) {
	ix := &index{n: 10}
	ix.posted.Store(maxPostedFields)
	p := postings{ix: ix, codes: make([]uint16, 10)}
	for range 3 {
		if p.available() {
			t.Fatal("postings available past the budget")
		}
	}
	if p.rows != nil {
		t.Fatal("postings built past the budget")
	}
}

// buildAllPostings builds every postings and code bitmap of ix now, so that
// the conditions that may are answered from them.
func buildAllPostings(ix *index) {
	for _, list := range [][]postings{ix.catPost, ix.numPost} {
		for j := range list {
			list[j].started.Store(true)
			list[j].build()
		}
	}
	for j := range ix.catBits {
		if ix.catBits[j].codes != nil {
			ix.catBits[j].started.Store(true)
			ix.catBits[j].build()
		}
	}
}
