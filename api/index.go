package api

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync"

	"github.com/telcolake/telcolake/models/serving"
)

// The index keeps the columns the filters and sorts read as flat slices
// (struct of arrays): numbers as float64 or int32, categories as small
// dictionary codes. A query is one tight pass per condition over a
// selection vector, then a bounded heap for the page.

// numField is a numeric field of a customer: sortable, some filterable.
type numField struct {
	name  string // as in JSON, sort= and CSV
	isInt bool
	f     func(*serving.Customer) float64
	i     func(*serving.Customer) int32
}

// numFields are the numeric fields, in the order of the summary.
var numFields = []numField{
	{name: "tenure_months", isInt: true, i: func(c *serving.Customer) int32 { return c.TenureMonths }},
	{name: "churn_probability", f: func(c *serving.Customer) float64 { return c.Probability }},
	{name: "monthly_value", f: func(c *serving.Customer) float64 { return c.MonthlyValue }},
	{name: "clv", f: func(c *serving.Customer) float64 { return c.CLV }},
	{name: "value_at_risk", f: func(c *serving.Customer) float64 { return c.ValueAtRisk }},
	{name: "voice_minutes", f: func(c *serving.Customer) float64 { return c.VoiceMinutes }},
	{name: "voice_calls", isInt: true, i: func(c *serving.Customer) int32 { return c.VoiceCalls }},
	{name: "sms", isInt: true, i: func(c *serving.Customer) int32 { return c.SMS }},
	{name: "data_mb", f: func(c *serving.Customer) float64 { return c.DataMB }},
	{name: "roaming_calls", isInt: true, i: func(c *serving.Customer) int32 { return c.RoamingCalls }},
	{name: "intl_calls", isInt: true, i: func(c *serving.Customer) int32 { return c.IntlCalls }},
	{name: "care_calls", isInt: true, i: func(c *serving.Customer) int32 { return c.CareCalls }},
	{name: "distinct_contacts", isInt: true, i: func(c *serving.Customer) int32 { return c.DistinctContact }},
	{name: "amount_due", f: func(c *serving.Customer) float64 { return c.AmountDue }},
	{name: "arrears", f: func(c *serving.Customer) float64 { return c.Arrears }},
	{name: "months_in_arrears", isInt: true, i: func(c *serving.Customer) int32 { return c.MonthsInArrears }},
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
	closed []string // the allowed values; nil: any value (unknown ones match nothing)
	get    func(*serving.Customer) string
}

// catFields are the categorical filters. segment holds the segment id in
// decimal.
var catFields = []catField{
	{param: "segment", get: func(c *serving.Customer) string { return strconv.Itoa(int(c.SegmentID)) }},
	{param: "region", get: func(c *serving.Customer) string { return c.Region }},
	{param: "plan", get: func(c *serving.Customer) string { return c.Plan }},
	{param: "status", closed: []string{"active", "suspended", "deactivated"}, get: func(c *serving.Customer) string { return c.Status }},
	{param: "lifecycle", closed: []string{"new", "established", "loyal", "suspended", "lost"}, get: func(c *serving.Customer) string { return c.Lifecycle }},
	{param: "age_band", closed: []string{"18-24", "25-34", "35-44", "45-54", "55-64", "65+"}, get: func(c *serving.Customer) string { return c.AgeBand }},
	{param: "payment_method", get: func(c *serving.Customer) string { return c.PaymentMethod }},
}

type numColumn struct {
	f []float64 // float fields
	i []int32   // int fields
}

type catColumn struct {
	codes  []uint16
	dict   map[string]uint16
	counts []int // rows per code
}

type index struct {
	n     int
	ids   []string // sorted, = customers[i].SubscriberID
	nums  []numColumn
	cats  []catColumn
	all   []int32 // 0..n-1, the selection of a query without conditions
	sels  sync.Pool
	lists map[string][]int32 // named lists as row numbers, ranked
}

func buildIndex(customers []serving.Customer) (*index, error) {
	n := len(customers)
	if n > math.MaxInt32 {
		return nil, fmt.Errorf("%d customers, more than an index holds", n)
	}
	ix := &index{n: n, ids: make([]string, n), nums: make([]numColumn, len(numFields)), cats: make([]catColumn, len(catFields)), all: make([]int32, n)}
	for j, f := range numFields {
		if f.isInt {
			ix.nums[j].i = make([]int32, n)
		} else {
			ix.nums[j].f = make([]float64, n)
		}
	}
	for j := range catFields {
		ix.cats[j] = catColumn{codes: make([]uint16, n), dict: map[string]uint16{}}
	}
	for r := range customers {
		c := &customers[r]
		if !validID(c.SubscriberID) {
			return nil, fmt.Errorf("row %d: invalid subscriber id %q", r, c.SubscriberID)
		}
		if r > 0 && customers[r-1].SubscriberID >= c.SubscriberID {
			return nil, fmt.Errorf("customers not sorted by subscriber id at row %d (%s, %s)", r, customers[r-1].SubscriberID, c.SubscriberID)
		}
		ix.ids[r] = c.SubscriberID
		ix.all[r] = int32(r)
		for j, f := range numFields {
			if f.isInt {
				ix.nums[j].i[r] = f.i(c)
				continue
			}
			v := f.f(c)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("customer %s: %s is %v", c.SubscriberID, f.name, v)
			}
			ix.nums[j].f[r] = v
		}
		for _, v := range c.History {
			for _, x := range []float64{v.VoiceMinutes, v.DataMB, v.AmountDue, v.AmountPaid, v.Arrears} {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return nil, fmt.Errorf("customer %s: history %s has a non-finite number", c.SubscriberID, v.Month)
				}
			}
		}
		for j, f := range catFields {
			cc := &ix.cats[j]
			v := f.get(c)
			code, ok := cc.dict[v]
			if !ok {
				if len(cc.dict) > math.MaxUint16 {
					return nil, fmt.Errorf("%s has more than %d distinct values", f.param, math.MaxUint16+1)
				}
				code = uint16(len(cc.dict))
				cc.dict[v] = code
				cc.counts = append(cc.counts, 0)
			}
			cc.codes[r] = code
			cc.counts[code]++
		}
	}
	ix.sels.New = func() any { s := make([]int32, 0, n); return &s }
	return ix, nil
}

// row returns the row of a subscriber id.
func (ix *index) row(id string) (int, bool) {
	i := sort.SearchStrings(ix.ids, id)
	return i, i < ix.n && ix.ids[i] == id
}

// after returns the first row whose id is greater than id.
func (ix *index) after(id string) int32 {
	return int32(sort.Search(ix.n, func(i int) bool { return ix.ids[i] > id }))
}

// pred is one condition: a categorical IN-set or a closed numeric range.
type pred struct {
	codes    []uint16
	mask     []uint64
	counts   []int // rows per code
	f        []float64
	flo, fhi float64
	i        []int32
	ilo, ihi int32
	kept     float64 // estimated share of rows kept
}

// empty reports whether a range condition can hold for no value.
func (p *pred) empty() bool {
	return p.i != nil && p.ilo > p.ihi || p.f != nil && p.flo > p.fhi
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
	return pred{codes: cc.codes, mask: mask, counts: cc.counts}
}

// rangePred selects rows whose numeric field j is within [lo, hi].
func (ix *index) rangePred(j int, lo, hi float64) pred {
	c := &ix.nums[j]
	if c.i != nil {
		clamp := func(v float64) int32 {
			switch {
			case v <= math.MinInt32:
				return math.MinInt32
			case v >= math.MaxInt32:
				return math.MaxInt32
			}
			return int32(v)
		}
		return pred{i: c.i, ilo: clamp(math.Ceil(lo)), ihi: clamp(math.Floor(hi))}
	}
	return pred{f: c.f, flo: lo, fhi: hi}
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
	k := 0
	p := &preds[0]
	switch {
	case p.codes != nil && len(p.mask) == 1:
		m := p.mask[0]
		for r, c := range p.codes {
			sel[k] = int32(r)
			k += int(m >> (c & 63) & 1)
		}
	case p.codes != nil:
		mask := p.mask
		for r, c := range p.codes {
			sel[k] = int32(r)
			k += int(mask[c>>6] >> (c & 63) & 1)
		}
	case p.i != nil:
		lo, span := p.ilo, uint32(p.ihi-p.ilo)
		for r, v := range p.i {
			sel[k] = int32(r)
			k += b2i(uint32(v-lo) <= span)
		}
	default:
		lo, hi := p.flo, p.fhi
		for r, v := range p.f {
			sel[k] = int32(r)
			k += b2i(v >= lo) & b2i(v <= hi)
		}
	}
	sel = sel[:k]
	for j := 1; j < len(preds) && len(sel) > 0; j++ {
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
		case p.i != nil:
			col, lo, span := p.i, p.ilo, uint32(p.ihi-p.ilo)
			for _, r := range sel {
				sel[k] = r
				k += b2i(uint32(col[r]-lo) <= span)
			}
		default:
			col, lo, hi := p.f, p.flo, p.fhi
			for _, r := range sel {
				v := col[r]
				sel[k] = r
				k += b2i(v >= lo) & b2i(v <= hi)
			}
		}
		sel = sel[:k]
	}
	*sp = sel[:0]
	return sel, sp
}

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
// rows for ranges. An empty range sorts first.
func (ix *index) orderBySelectivity(preds []pred) {
	if len(preds) < 2 {
		return
	}
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
				if p.i != nil {
					hits += b2i(p.i[r] >= p.ilo && p.i[r] <= p.ihi)
				} else {
					hits += b2i(p.f[r] >= p.flo && p.f[r] <= p.fhi)
				}
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
	c := &ix.nums[o.field]
	if c.i != nil {
		return o.sign() * float64(c.i[r])
	}
	return o.sign() * c.f[r]
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
	if c.i != nil {
		col := c.i
		for _, r := range sel {
			v := sg * float64(col[r])
			if from != nil && (v < fk || (v == fk && r < fr)) {
				continue
			}
			if len(h) == k && (v > h[0].k || (v == h[0].k && r > h[0].r)) {
				continue
			}
			push(entry{v, r})
		}
	} else {
		col := c.f
		for _, r := range sel {
			v := sg * col[r]
			if from != nil && (v < fk || (v == fk && r < fr)) {
				continue
			}
			if len(h) == k && (v > h[0].k || (v == h[0].k && r > h[0].r)) {
				continue
			}
			push(entry{v, r})
		}
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

// validID reports whether s is a valid subscriber id: 1-64 printable ASCII
// characters, no spaces.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
