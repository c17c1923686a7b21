package api

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/telcolake/telcolake/models/serving"
)

// The index reads the columns the filters and sorts need as flat slices
// (struct of arrays) of the snapshot's columns.bin, in place: numbers as
// int32 (counts, cents, fixed point), categories as small dictionary codes. A query is one tight pass per condition over a
// selection vector, then a bounded heap for the page.

// numField is a numeric column of the snapshot: sortable, some
// filterable. Its kind is the serving contract's.
type numField struct {
	name  string // as in JSON, sort= and CSV; a serving.Columns name
	isInt bool   // serving.Int32; otherwise Fixed or Cents
}

// numFields are the numeric fields, in the order of the summary.
var numFields = contractNums(
	"tenure_months", "churn_probability", "monthly_value", "clv", "value_at_risk", "voice_minutes", "voice_calls",
	"sms", "data_mb", "roaming_calls", "intl_calls", "care_calls", "distinct_contacts", "amount_due", "arrears",
	"months_in_arrears", "discount", "credit_use", "voice_minutes_trend", "calls_trend", "data_trend", "contacts_trend",
	"spend_trend", "cost_to_serve", "profit", "uplift", "contact_value", "bad_debt_probability")

func contractNums(names ...string) []numField {
	out := make([]numField, len(names))
	for i, n := range names {
		col, ok := serving.ColumnByName(n)
		if !ok || col.Kind == serving.Dict {
			panic("api: " + n + " is not a numeric column of the serving contract")
		}
		out[i] = numField{name: n, isInt: col.Kind == serving.Int32}
	}
	return out
}

func numFieldIndex(name string) int {
	for i, f := range numFields {
		if f.name == name {
			return i
		}
	}
	return -1
}

// catField is a categorical field the filter selects by exact value.
type catField struct {
	param  string   // query parameter
	column string   // the serving.Columns Dict column
	closed []string // the contract's Enum: the allowed values; nil: any value (unknown ones match nothing)
}

// catFields are the categorical filters. segment holds the segment id in
// decimal.
var catFields = contractCats(
	"segment", "segment_id", "region", "region", "plan", "plan", "status", "status",
	"lifecycle", "lifecycle", "age_band", "age_band", "payment_method", "payment_method",
	"gender", "gender", "income_band", "income_band", "occupation", "occupation", "education", "education",
	"district", "district", "value_tier", "value_tier")

func contractCats(pairs ...string) []catField {
	var out []catField
	for i := 0; i+1 < len(pairs); i += 2 {
		col, ok := serving.ColumnByName(pairs[i+1])
		if !ok || col.Kind != serving.Dict {
			panic("api: " + pairs[i+1] + " is not a dictionary column of the serving contract")
		}
		out = append(out, catField{param: pairs[i], column: col.Name, closed: col.Enum})
	}
	return out
}

// numColumn is a numeric column viewed in the snapshot: one of the three
// slices is set, each int32. Money (c, whole cents) compares and sorts as
// cents/100, the float64 a decimal with two places parses to; a Fixed
// field (x) as x/scale likewise. A range condition is then a range of the
// int32 values (unitsAtLeast, unitsAtMost).
type numColumn struct {
	i     []int32 // Int32 fields
	c     []int32 // Cents fields
	x     []int32 // Fixed fields, in units of 1/scale
	scale float64 // of x
}

// units returns the column's int32 values and what one unit is worth
// (1/scale).
func (c *numColumn) units() ([]int32, float64) {
	switch {
	case c.c != nil:
		return c.c, 100
	case c.x != nil:
		return c.x, c.scale
	}
	return c.i, 1
}

type catColumn struct {
	codes  []uint16
	dict   map[string]uint16
	counts []int // rows per code
}

// index is the snapshot's columns as the queries read them (slices of the
// loaded file, no copies) plus the named lists as row numbers.
type index struct {
	n    int
	snap *serving.Snapshot
	nums []numColumn
	cats []catColumn
	all  []int32 // 0..n-1, the selection of a query without conditions
	sels sync.Pool
	// catPost and numPost are the postings of catFields and numFields
	// (see postings), catBits their code bitmaps, posted how many postings
	// have started building, bitmaps pooled bitmaps of the rows (clear).
	catPost, numPost []postings
	catBits          []codeBits // of catFields; codes nil: too many codes for bitmaps
	posted           atomic.Int32
	bitmaps          sync.Pool
}

func buildIndex(snap *serving.Snapshot) (*index, error) {
	n := snap.Len()
	ix := &index{n: n, snap: snap, nums: make([]numColumn, len(numFields)), cats: make([]catColumn, len(catFields)), all: make([]int32, n)}
	for j, f := range numFields {
		col, _ := serving.ColumnByName(f.name)
		switch col.Kind {
		case serving.Int32:
			ix.nums[j].i = snap.Int32s(f.name)
		case serving.Fixed:
			ix.nums[j].x, ix.nums[j].scale = snap.Fixed(f.name)
		case serving.Cents:
			ix.nums[j].c = snap.Cents(f.name)
		}
		if len(ix.nums[j].i)+len(ix.nums[j].x)+len(ix.nums[j].c) != n {
			return nil, fmt.Errorf("column %s missing", f.name)
		}
	}
	for j, f := range catFields {
		d := snap.Dict(f.column)
		if d == nil || len(d.Codes) != n {
			return nil, fmt.Errorf("column %s missing", f.column)
		}
		cc := catColumn{codes: d.Codes, dict: make(map[string]uint16, len(d.Values)), counts: d.Counts}
		for code, v := range d.Values {
			cc.dict[v] = uint16(code)
		}
		ix.cats[j] = cc
	}
	for r := range ix.all {
		ix.all[r] = int32(r)
	}
	ix.catPost, ix.numPost = make([]postings, len(catFields)), make([]postings, len(numFields))
	for j := range ix.catPost {
		ix.catPost[j] = postings{ix: ix, codes: ix.cats[j].codes}
	}
	for j := range ix.numPost {
		ix.numPost[j] = postings{ix: ix, num: &ix.nums[j]}
	}
	ix.catBits = make([]codeBits, len(catFields))
	for j := range ix.catBits {
		if len(ix.cats[j].dict) <= maxBitmapCodes {
			ix.catBits[j].codes = ix.cats[j].codes
		}
	}
	ix.sels.New = func() any { s := make([]int32, 0, n); return &s }
	return ix, nil
}

// row returns the row of a subscriber id.
func (ix *index) row(id string) (int, bool) { return ix.snap.Find(id) }

// after returns the first row whose id is greater than id.
func (ix *index) after(id string) int32 { return int32(ix.snap.After(id)) }

// id returns row r's subscriber id.
func (ix *index) id(r int32) string { return ix.snap.ID(int(r)) }

// pred is one condition: a categorical IN-set or a closed numeric range
// of a column's int32 values (cents and fixed point alike).
type pred struct {
	codes    []uint16
	mask     []uint64
	counts   []int // rows per code
	i        []int32
	ilo, ihi int32
	kept     float64   // estimated share of rows kept
	post     *postings // the field's postings; nil: none
	bits     *codeBits // a categorical field's code bitmaps; nil: none
}

// empty reports whether a range condition can hold for no value.
func (p *pred) empty() bool {
	return p.i != nil && p.ilo > p.ihi
}

// catPred selects rows whose value of categorical field j is one of values.
func (ix *index) catPred(j int, values []string) pred {
	cc := &ix.cats[j]
	mask := make([]uint64, (len(cc.dict)+64)/64)
	for _, v := range values {
		if code, ok := cc.dict[v]; ok {
			mask[code>>6] |= 1 << (code & 63)
		}
	}
	p := pred{codes: cc.codes, mask: mask, counts: cc.counts, post: ix.postingsOf(ix.catPost, j)}
	if j < len(ix.catBits) && ix.catBits[j].codes != nil {
		p.bits = &ix.catBits[j]
	}
	return p
}

// postingsOf is &list[j], or nil for an index without postings.
func (ix *index) postingsOf(list []postings, j int) *postings {
	if j < len(list) {
		return &list[j]
	}
	return nil
}

// negate turns p, a categorical condition on field j, into its opposite:
// the rows whose value is none of p's.
func (ix *index) negate(j int, p pred) pred {
	n := len(ix.cats[j].dict)
	for code := range n {
		p.mask[code>>6] ^= 1 << (code & 63)
	}
	return p
}

// rangePred selects rows whose numeric field j is within [lo, hi].
func (ix *index) rangePred(j int, lo, hi float64) pred {
	col, scale := ix.nums[j].units()
	p := pred{i: col, ilo: 1, ihi: 0, post: ix.postingsOf(ix.numPost, j)} // empty
	a, b := unitsAtLeast(lo, scale), unitsAtMost(hi, scale)
	if a > math.MaxInt32 || b < math.MinInt32 {
		return p // past every int32 value: no row
	}
	p.ilo, p.ihi = int32(max(a, math.MinInt32)), int32(min(b, math.MaxInt32))
	return p
}

// match returns the rows meeting every condition, in row order, and the
// pooled buffer holding them, to hand back with release once the rows are
// used. Without conditions it is the shared all-rows selection (buffer nil).
//
// The most selective condition (estimated) runs first over every row; each
// further one compacts the selection. The loops are branch-free: every row
// is written, and the write position advances by the condition's 0 or 1.
func (ix *index) match(preds []pred) ([]int32, *[]int32) {
	if len(preds) == 0 {
		return ix.all, nil
	}
	ix.orderBySelectivity(preds)
	sp := ix.sels.Get().(*[]int32)
	for j := range preds {
		if preds[j].empty() {
			return (*sp)[:0], sp
		}
	}
	sel := (*sp)[:ix.n]
	if k, ok := ix.matchPosted(preds, sel, ix.n/postedShare); ok {
		*sp = sel[:0]
		return sel[:k], sp
	}
	// Every CPU matches its share of the rows into its own part of the
	// buffer; the parts then close up, in row order.
	w := min(runtime.GOMAXPROCS(0), max(1, ix.n/parallelMatchRows))
	ks := make([]int, w)
	var wg sync.WaitGroup
	for i := 1; i < w; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lo, hi := i*ix.n/w, (i+1)*ix.n/w
			ks[i] = matchRange(preds, sel[lo:hi], lo, hi)
		}()
	}
	ks[0] = matchRange(preds, sel[:ix.n/w], 0, ix.n/w)
	wg.Wait()
	k := ks[0]
	for i := 1; i < w; i++ {
		lo := i * ix.n / w
		k += copy(sel[k:], sel[lo:lo+ks[i]])
	}
	sel = sel[:k]
	*sp = sel[:0]
	return sel, sp
}

// parallelMatchRows is the fewest rows per CPU worth a goroutine.
const parallelMatchRows = 1 << 16

// matchRange writes the rows in [lo, hi) meeting every condition to sel
// (len hi-lo), in order, and returns how many there are.
func matchRange(preds []pred, sel []int32, lo, hi int) int {
	k := 0
	p := &preds[0]
	switch {
	case p.codes != nil && len(p.mask) == 1:
		m := p.mask[0]
		for r, c := range p.codes[lo:hi] {
			sel[k] = int32(lo + r)
			k += int(m >> (c & 63) & 1)
		}
	case p.codes != nil:
		mask := p.mask
		for r, c := range p.codes[lo:hi] {
			sel[k] = int32(lo + r)
			k += int(mask[c>>6] >> (c & 63) & 1)
		}
	default:
		vlo, span := p.ilo, uint32(p.ihi-p.ilo)
		for r, v := range p.i[lo:hi] {
			sel[k] = int32(lo + r)
			k += b2i(uint32(v-vlo) <= span)
		}
	}
	return len(compact(preds[1:], sel[:k]))
}

// compact keeps the rows of sel meeting every condition of preds, in
// place and in order.
func compact(preds []pred, sel []int32) []int32 {
	for j := 0; j < len(preds) && len(sel) > 0; j++ {
		p := &preds[j]
		k := 0
		switch {
		case p.codes != nil && len(p.mask) == 1:
			codes, m := p.codes, p.mask[0]
			for _, r := range sel {
				sel[k] = r
				k += int(m >> (codes[r] & 63) & 1)
			}
		case p.codes != nil:
			codes, mask := p.codes, p.mask
			for _, r := range sel {
				c := codes[r]
				sel[k] = r
				k += int(mask[c>>6] >> (c & 63) & 1)
			}
		default:
			col, lo, span := p.i, p.ilo, uint32(p.ihi-p.ilo)
			for _, r := range sel {
				sel[k] = r
				k += b2i(uint32(col[r]-lo) <= span)
			}
		}
		sel = sel[:k]
	}
	return sel
}

// keep returns the rows of rows (any order, kept) meeting every
// condition: for short selections such as a list's members.
func (ix *index) keep(rows []int32, preds []pred) []int32 {
	out := make([]int32, 0, len(rows))
	for _, r := range rows {
		ok := true
		for j := range preds {
			if !preds[j].holds(r) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// holds reports whether row r meets p.
func (p *pred) holds(r int32) bool {
	switch {
	case p.codes != nil:
		c := p.codes[r]
		return p.mask[c>>6]>>(c&63)&1 == 1
	}
	return p.i[r] >= p.ilo && p.i[r] <= p.ihi
}

// unitsAtLeast is the smallest whole number of units c with c/scale >= v
// (scale 100: cents, FromCents(c) >= v): the first value a condition
// ">= v" keeps, as it would compare the value itself.
func unitsAtLeast(v, scale float64) int64 {
	x := v * scale
	switch {
	case math.IsNaN(v) || x > 1e17:
		return math.MaxInt64
	case x < -1e17:
		return math.MinInt64
	}
	c := int64(math.Ceil(x))
	for float64(c-1)/scale >= v {
		c--
	}
	for float64(c)/scale < v {
		c++
	}
	return c
}

// unitsAtMost is the largest c with c/scale <= v.
func unitsAtMost(v, scale float64) int64 {
	x := v * scale
	switch {
	case math.IsNaN(v) || x < -1e17:
		return math.MinInt64
	case x > 1e17:
		return math.MaxInt64
	}
	c := int64(math.Floor(x))
	for float64(c+1)/scale <= v {
		c++
	}
	for float64(c)/scale > v {
		c--
	}
	return c
}

// centsAtLeast is the smallest whole number of cents c with
// FromCents(c) >= v.
func centsAtLeast(v float64) int64 { return unitsAtLeast(v, 100) }

// centsAtMost is the largest c with FromCents(c) <= v.
func centsAtMost(v float64) int64 { return unitsAtMost(v, 100) }

// b2i is 1 for true; the compiler makes it a flag move, not a branch.
func b2i(b bool) int {
	var i int
	if b {
		i = 1
	}
	return i
}

// sampleSize is how many rows estimate a range condition's selectivity.
const sampleSize = 1024

// orderBySelectivity sorts conditions by the share of rows they keep:
// exact for categories (from the value counts), from a fixed sample of
// rows for ranges. An empty range sorts first. A lone condition gets its
// share too (it decides whether postings answer it).
func (ix *index) orderBySelectivity(preds []pred) {
	step := max(ix.n/sampleSize, 1)
	for j := range preds {
		p := &preds[j]
		var kept float64
		switch {
		case p.empty():
			kept = 0
		case p.codes != nil:
			for c, cnt := range p.counts {
				if p.mask[c>>6]>>(c&63)&1 == 1 {
					kept += float64(cnt)
				}
			}
			kept /= float64(ix.n)
		default:
			hits, tries := 0, 0
			for r := 0; r < ix.n; r += step {
				tries++
				hits += b2i(p.i[r] >= p.ilo && p.i[r] <= p.ihi)
			}
			kept = float64(hits) / float64(max(tries, 1))
		}
		p.kept = kept
	}
	slices.SortStableFunc(preds, func(a, b pred) int { return cmp.Compare(a.kept, b.kept) })
}

// release hands a buffer from match back to the pool.
func (ix *index) release(buf *[]int32) {
	if buf != nil {
		ix.sels.Put(buf)
	}
}

// entry is a row with its sort key; entries order by (key, row). A
// descending sort negates the key, so the order is always ascending and
// ties go to the smaller subscriber id.
type entry struct {
	k float64
	r int32
}

func less(a, b entry) bool { return a.k < b.k || (a.k == b.k && a.r < b.r) }

func cmpEntry(a, b entry) int {
	switch {
	case less(a, b):
		return -1
	case less(b, a):
		return 1
	}
	return 0
}

// order is a sort: a numeric field and a direction.
type order struct {
	field int
	desc  bool
}

func (o order) sign() float64 {
	if o.desc {
		return -1
	}
	return 1
}

// key returns row r's sort key.
func (ix *index) key(o order, r int32) float64 {
	col, scale := ix.nums[o.field].units()
	return o.sign() * (float64(col[r]) / scale)
}

// value returns row r's value of the sort field (the key without sign).
func (ix *index) value(o order, r int32) float64 { return o.sign() * ix.key(o, r) }

// top returns the first k entries of sel in order that come at or after
// from (all of them when from is nil), sorted. It keeps a bounded max-heap
// of k entries: one pass, O(m log k).
func (ix *index) top(sel []int32, o order, from *entry, k int) []entry {
	if k <= 0 {
		return nil
	}
	h := make([]entry, 0, k)
	c := &ix.nums[o.field]
	sg := o.sign()
	var fk float64
	var fr int32
	if from != nil {
		fk, fr = from.k, from.r
	}
	push := func(e entry) {
		if len(h) < k {
			h = append(h, e)
			siftUp(h, len(h)-1)
			return
		}
		if less(e, h[0]) {
			h[0] = e
			siftDown(h, 0)
		}
	}
	col, scale := c.units()
	for _, r := range sel {
		v := sg * (float64(col[r]) / scale)
		if from != nil && (v < fk || (v == fk && r < fr)) {
			continue
		}
		if len(h) == k && (v > h[0].k || (v == h[0].k && r > h[0].r)) {
			continue
		}
		push(entry{v, r})
	}
	slices.SortFunc(h, cmpEntry)
	return h
}

// sorted returns all of sel in order.
func (ix *index) sorted(sel []int32, o order) []entry {
	out := make([]entry, len(sel))
	for j, r := range sel {
		out[j] = entry{ix.key(o, r), r}
	}
	slices.SortFunc(out, cmpEntry)
	return out
}

func siftUp(h []entry, j int) {
	for j > 0 {
		p := (j - 1) / 2
		if !less(h[p], h[j]) {
			return
		}
		h[p], h[j] = h[j], h[p]
		j = p
	}
}

func siftDown(h []entry, j int) {
	n := len(h)
	for {
		l := 2*j + 1
		if l >= n {
			return
		}
		big := l
		if r := l + 1; r < n && less(h[l], h[r]) {
			big = r
		}
		if !less(h[j], h[big]) {
			return
		}
		h[j], h[big] = h[big], h[j]
		j = big
	}
}

// validID reports whether s is a valid subscriber id (serving.ValidID).
func validID(s string) bool { return serving.ValidID(s) }
