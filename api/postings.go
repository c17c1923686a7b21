package api

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
)

// Postings let a selective condition find its rows without reading every
// row. A field's postings are its rows sorted by value: for a dictionary
// column the rows of each code, in row order (a counting sort); for a
// numeric column every row in value order, NaN last (a radix sort). A
// categorical condition's rows are then the lists of its codes, a range's
// one slice found by two binary searches; the lists are marked in a bitmap
// of the rows, the other categorical conditions of few codes are
// intersected with it word by word (each code's rows are a bitmap too),
// it is read back in row order, and the remaining conditions compact that
// selection as before.
//
// A field's postings are built the first time a selective condition on it
// is asked, in the background: no request waits, and until they are ready
// the condition scans every row, with the same answer. Each costs 4 bytes
// per row; at most maxPostedFields fields get them (the others always
// scan), which bounds the memory at 4·maxPostedFields bytes per customer.

// maxPostedFields is the most fields that get postings.
const maxPostedFields = 8

// postedShare: a first condition keeping at most 1/postedShare of the rows
// is answered from postings (marking a row in the bitmap costs several
// times the scan's per-row work).
const postedShare = 8

// postings are one field's rows sorted by value.
type postings struct {
	ix      *index
	codes   []uint16   // a dictionary column, or
	num     *numColumn // a numeric one
	started atomic.Bool
	ready   atomic.Bool
	once    sync.Once
	rows    []int32 // every row, by code or by value
	start   []int32 // dictionary: code c's rows are rows[start[c]:start[c+1]]
	valid   int     // numeric: rows[:valid] are not NaN
}

// available reports whether p's postings are built, starting their build
// in the background the first time it is asked (within the field budget).
func (p *postings) available() bool {
	if p.ready.Load() {
		return true
	}
	if p.started.CompareAndSwap(false, true) {
		if p.ix.posted.Add(1) > maxPostedFields {
			return false // over the budget: this field always scans
		}
		go p.build()
	}
	return false
}

// build builds p's postings once (a caller that comes while another
// builds them waits for it).
func (p *postings) build() {
	p.once.Do(func() {
		if p.codes != nil {
			p.rows, p.start = codePostings(p.codes)
		} else {
			p.rows, p.valid = valuePostings(p.num)
		}
		p.ready.Store(true)
	})
}

// codePostings sorts the rows by code (counting sort: row order within a
// code).
func codePostings(codes []uint16) (rows, start []int32) {
	n := 0
	for _, c := range codes {
		n = max(n, int(c)+1)
	}
	start = make([]int32, n+1)
	for _, c := range codes {
		start[c+1]++
	}
	for c := range n {
		start[c+1] += start[c]
	}
	pos := make([]int32, n)
	copy(pos, start)
	rows = make([]int32, len(codes))
	for r, c := range codes {
		rows[pos[c]] = int32(r)
		pos[c]++
	}
	return rows, start
}

// valuePostings sorts the rows of a numeric column by value, NaN last, and
// counts the rows that are not NaN.
func valuePostings(c *numColumn) (rows []int32, valid int) {
	col, _ := c.units()
	keys := make([]uint64, len(col))
	for r, v := range col {
		keys[r] = uint64(uint32(v) ^ 1<<31)
	}
	rows = radixOrder(keys)
	valid = len(rows)
	return rows, valid
}

// floatKey maps a float64 to a uint64 of the same order (-0 before +0,
// which compare equal anyway); every NaN maps to the largest key.
func floatKey(v float64) uint64 {
	if v != v {
		return math.MaxUint64
	}
	b := math.Float64bits(v)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

// radixOrder returns the indexes of keys in ascending key order, equal keys
// in index order (LSD radix sort, 11 bits a pass; a pass whose digit is the
// same for every key is skipped).
func radixOrder(keys []uint64) []int32 {
	const digit = 11
	n := len(keys)
	order, tmp := make([]int32, n), make([]int32, n)
	for r := range order {
		order[r] = int32(r)
	}
	var count [1 << digit]int32
	for shift := 0; shift < 64; shift += digit {
		clear(count[:])
		for _, k := range keys {
			count[k>>shift&(1<<digit-1)]++
		}
		if n == 0 || int(count[keys[0]>>shift&(1<<digit-1)]) == n {
			continue
		}
		var sum int32
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for _, r := range order {
			d := keys[r] >> shift & (1<<digit - 1)
			tmp[count[d]] = r
			count[d]++
		}
		order, tmp = tmp, order
	}
	return order
}

// postedLists returns the lists of rows meeting p from its postings and
// how many rows they hold; ok is false when p has no postings ready.
func (p *pred) postedLists() (lists [][]int32, count int, ok bool) {
	if p.post == nil || !p.post.available() {
		return nil, 0, false
	}
	ps := p.post
	if p.codes != nil {
		for w, m := range p.mask {
			for m != 0 {
				c := w<<6 + bits.TrailingZeros64(m)
				m &= m - 1
				if c+1 < len(ps.start) {
					if l := ps.rows[ps.start[c]:ps.start[c+1]]; len(l) > 0 {
						lists = append(lists, l)
						count += len(l)
					}
				}
			}
		}
		return lists, count, true
	}
	valid := ps.rows[:ps.valid]
	// lo: the first row of the range, hi: the first after it.
	var lo, hi int
	col := p.i
	lo = search(valid, func(r int32) bool { return col[r] >= p.ilo })
	hi = search(valid, func(r int32) bool { return col[r] > p.ihi })
	if hi <= lo {
		return nil, 0, true
	}
	return [][]int32{valid[lo:hi]}, hi - lo, true
}

// search is the first index of rows at which above holds (it holds from
// there on), len(rows) if none.
func search(rows []int32, above func(int32) bool) int {
	lo, hi := 0, len(rows)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if above(rows[mid]) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// matchPosted writes the rows meeting every condition to sel, in row
// order, when the first condition is answered from its postings: it keeps
// at most most rows and its postings are ready. The other categorical
// conditions whose code bitmaps are ready are intersected with the
// first's rows in the bitmap, word by word; the rest compact the
// selection. ok false: scan instead.
func (ix *index) matchPosted(preds []pred, sel []int32, most int) (k int, ok bool) {
	if preds[0].kept*float64(ix.n) > 2*float64(most) {
		return 0, false // not selective (the estimate, with room for its error): no postings built for it
	}
	lists, count, ok := preds[0].postedLists()
	if !ok || count > most {
		return 0, false
	}
	if count == 0 {
		return 0, true
	}
	var anded []*pred
	others := make([]pred, 0, len(preds)-1)
	for j := 1; j < len(preds); j++ {
		if p := &preds[j]; p.bits != nil && p.bits.available() {
			anded = append(anded, p)
		} else {
			others = append(others, *p)
		}
	}
	if len(anded) == 0 && len(lists) == 1 && preds[0].codes != nil { // one code: already in row order
		k = copy(sel, lists[0])
	} else {
		k = ix.intersectInOrder(lists, anded, sel)
	}
	return len(compact(others, sel[:k])), true
}

// intersectInOrder writes the rows of lists (disjoint) that meet every
// condition of anded (categorical, code bitmaps ready) to sel in row order
// through a bitmap of the rows, and returns how many there are.
func (ix *index) intersectInOrder(lists [][]int32, anded []*pred, sel []int32) int {
	words := (ix.n + 63) / 64
	bp, _ := ix.bitmaps.Get().(*[]uint64)
	if bp == nil || len(*bp) != words {
		b := make([]uint64, words)
		bp = &b
	}
	bm := *bp
	for _, l := range lists {
		for _, r := range l {
			bm[r>>6] |= 1 << (r & 63)
		}
	}
	for _, p := range anded {
		p.andInto(bm)
	}
	k := 0
	for w, m := range bm {
		if m == 0 {
			continue
		}
		bm[w] = 0 // leaves the bitmap clear for its next use
		for m != 0 {
			sel[k] = int32(w<<6 + bits.TrailingZeros64(m))
			k++
			m &= m - 1
		}
	}
	ix.bitmaps.Put(bp)
	return k
}

// andInto clears the bits of bm whose rows do not meet p, a categorical
// condition with code bitmaps: bm AND (the OR of its codes' bitmaps), or
// bm AND NOT (the OR of the other codes') when those are fewer.
func (p *pred) andInto(bm []uint64) {
	cb := p.bits.bits
	var in, out [][]uint64
	for c := range cb {
		if c>>6 < len(p.mask) && p.mask[c>>6]>>(c&63)&1 == 1 {
			in = append(in, cb[c])
		} else {
			out = append(out, cb[c])
		}
	}
	switch {
	case len(in) == 0:
		clear(bm)
	case len(out) == 0:
	case len(in) == 1:
		b := in[0][:len(bm)]
		for w := range bm {
			bm[w] &= b[w]
		}
	case len(out) == 1:
		b := out[0][:len(bm)]
		for w := range bm {
			bm[w] &^= b[w]
		}
	case len(in) <= len(out):
		for w := range bm {
			var m uint64
			for _, b := range in {
				m |= b[w]
			}
			bm[w] &= m
		}
	default:
		for w := range bm {
			var m uint64
			for _, b := range out {
				m |= b[w]
			}
			bm[w] &^= m
		}
	}
}

// maxBitmapCodes is the most codes a dictionary field may have for code
// bitmaps (n/8 bytes per code: at most 2 bytes per customer per field).
const maxBitmapCodes = 16

// codeBits are a dictionary field's rows as one bitmap per code, built
// in the background the first time a condition on the field follows a
// first condition answered from postings (the same rule as postings: no
// request waits).
type codeBits struct {
	codes   []uint16
	started atomic.Bool
	ready   atomic.Bool
	once    sync.Once
	bits    [][]uint64 // per code, one bit per row
}

// available reports whether b's bitmaps are built, starting their build in
// the background the first time it is asked.
func (b *codeBits) available() bool {
	if b.ready.Load() {
		return true
	}
	if b.started.CompareAndSwap(false, true) {
		go b.build()
	}
	return false
}

// build builds b's bitmaps once.
func (b *codeBits) build() {
	b.once.Do(func() {
		nc := 0
		for _, c := range b.codes {
			nc = max(nc, int(c)+1)
		}
		words := (len(b.codes) + 63) / 64
		b.bits = make([][]uint64, nc)
		for c := range b.bits {
			b.bits[c] = make([]uint64, words)
		}
		for r, c := range b.codes {
			b.bits[c][r>>6] |= 1 << (r & 63)
		}
		b.ready.Store(true)
	})
}
