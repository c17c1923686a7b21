package scoring

import (
	"cmp"
	"math"
	"slices"
)

// The commit's order statistics (the value tiers' cut-offs, the
// high-value list's quantiles, the at-risk threshold) are the k-th
// smallest of a number per customer. Sorting them means holding every
// customer's numbers at once (24 bytes a scored customer for three of
// them: 2.4 GB at 100M); a histogram does not: the first pass counts the
// numbers into 2^histBits bins by the top bits of an order-preserving key,
// which says in which bin the k-th smallest is and its rank there; a
// second pass keeps only the numbers of that bin, which sorted give it
// exactly. The answer is the sort's (TestSelectMatchesSort).

// histBits is the bits of the key that pick a bin: 2^18 bins of int64,
// 2 MiB per histogram. The top bits of a positive number's key are its
// exponent and the first 6 bits of its mantissa, so a bin spans 1/64 of a
// power of two (probabilities around 0.1: 0.0016).
const histBits = 18

// orderKey maps x to a key whose unsigned order is cmp.Compare's order of
// float64 (NaN first, -0 equal to +0).
func orderKey(x float64) uint64 {
	if math.IsNaN(x) {
		return 0
	}
	if x == 0 {
		x = 0 // -0 and +0 compare equal
	}
	b := math.Float64bits(x)
	if b>>63 == 1 {
		return ^b // negative: a larger magnitude is smaller
	}
	return b | 1<<63
}

func binOf(x float64) int { return int(orderKey(x) >> (64 - histBits)) }

// histogram counts numbers by bin.
type histogram struct {
	n    int
	bins []int64
}

func newHistogram() *histogram { return &histogram{bins: make([]int64, 1<<histBits)} }

func (h *histogram) add(x float64) {
	h.bins[binOf(x)]++
	h.n++
}

// locate finds the bin of the k-th smallest number (0-based, k < n) and
// how many numbers are in the bins before it.
func (h *histogram) locate(k int) (bin int, before int) {
	var c int64
	for b, v := range h.bins {
		if c+v > int64(k) {
			return b, int(c)
		}
		c += v
	}
	return len(h.bins) - 1, int(c) // not reached for k < n
}

// pick is one order statistic being resolved: the k-th smallest number,
// its bin, and the bin's numbers gathered by a second pass.
type pick struct {
	k, bin, before int
	in             []float64
}

// pick starts resolving the k-th smallest number (clamped to [0, n)).
func (h *histogram) pick(k int) *pick {
	k = max(0, min(k, h.n-1))
	b, before := h.locate(k)
	return &pick{k: k, bin: b, before: before}
}

// offer gives the pick a number of the second pass.
func (p *pick) offer(x float64) {
	if binOf(x) == p.bin {
		p.in = append(p.in, x)
	}
}

// value is the k-th smallest number, once every number has been offered;
// above counts the numbers greater than it (cmp.Compare), of n in all.
func (p *pick) value(n int) (v float64, above int) {
	slices.SortFunc(p.in, cmp.Compare[float64])
	v = p.in[p.k-p.before]
	le := p.before
	for _, x := range p.in {
		if cmp.Compare(x, v) <= 0 {
			le++
		}
	}
	return v, n - le
}
