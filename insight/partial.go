package insight

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/telcolake/telcolake/models/serving"
)

// A cube is computed in two steps so that it can be computed over shards:
// ComputePartial aggregates one part of the customers (a shard, or all of
// them) into its finest cells — every dimension grouped, none rolled up —
// holding counts and exact sums; Merge adds the finest cells of any number
// of partials by their dimension values and rolls them up into the
// subtotals and the grand total (GROUP BY CUBE). Compute is the two over
// one part, so a cube over N shards is the same answer, byte for byte, as
// over the whole: every sum is exact and order-independent —
//
//   - money: int64 whole cents (the snapshot's own representation);
//   - the other measures (probabilities, minutes, MB): each value rounded
//     to a multiple of 10^-9 (error at most 5e-10; |v| < 9.2e9; a value
//     with at most nine decimals is kept exactly, so a mean of 0.3 and
//     0.3 reads 0.3) and added in 128-bit integers, which cannot overflow
//     for any realistic number of rows. A float64 sum would depend on the order of
//     the additions, and so on the split into shards.
//
// Means and rates are computed from the merged sums and counts, never
// averaged across shards.

// fixedScale is the fixed point of the non-money sums: 10^9 units.
const fixedScale = 1e9

// Fixed is a 128-bit sum of values in units of 10^-9 (two's complement,
// Hi the high word).
type Fixed struct {
	Hi int64  `json:"h"`
	Lo uint64 `json:"l"`
}

// add adds a value already in fixed units.
func (f *Fixed) add(x int64) {
	var c uint64
	f.Lo, c = bits.Add64(f.Lo, uint64(x), 0)
	f.Hi += int64(c) + x>>63
}

// plus adds another sum.
func (f *Fixed) plus(g Fixed) {
	var c uint64
	f.Lo, c = bits.Add64(f.Lo, g.Lo, 0)
	f.Hi += g.Hi + int64(c)
}

// units is the sum in fixed units as a float64 (rounded,
// deterministically).
func (f Fixed) units() float64 {
	if f.Hi < 0 { // the magnitude, so a small negative sum converts as exactly as a positive one
		lo, b := bits.Sub64(0, f.Lo, 0)
		hi := uint64(-f.Hi) - b
		return -(float64(hi)*(1<<64) + float64(lo))
	}
	return float64(f.Hi)*(1<<64) + float64(f.Lo)
}

// Float is the sum as a float64.
func (f Fixed) Float() float64 { return f.units() / fixedScale }

// toFixed is v in fixed units, rounded to the nearest (half away from
// zero; no branch).
func toFixed(v float64) int64 {
	x := v * fixedScale
	return int64(x + math.Copysign(0.5, x))
}

// Partial is the finest cells of a cube over one part of the customers:
// what Merge adds up. It travels between a shard and the front as JSON
// (every number an integer: exact).
type Partial struct {
	Dims     []string `json:"dims"`
	Measures []string `json:"measures"`
	// Rows is the number of customers aggregated.
	Rows int `json:"rows"`
	// FixedColumns and CentsColumns are the columns summed, in the order
	// of each cell's Fixed and Cents.
	FixedColumns []string      `json:"fixed_columns"`
	CentsColumns []string      `json:"cents_columns"`
	Cells        []PartialCell `json:"cells"`
}

// PartialCell is one finest cell: the value of each dimension and its
// sums.
type PartialCell struct {
	Keys  []string `json:"k"`
	Count int64    `json:"n"`
	Fixed []Fixed  `json:"f,omitempty"`
	Cents []int64  `json:"c,omitempty"`
}

// sums are a cell's accumulators, one per distinct column read.
type sums struct {
	count int64
	f     []Fixed // Float64 columns, fixed point
	c     []int64 // Cents columns
}

// Compute aggregates q.Rows of cols into the cube of q: ComputePartial,
// then Merge of that one partial.
func Compute(cols Columns, q Query) (*Cube, error) {
	p, err := ComputePartial(cols, q)
	if err != nil {
		return nil, err
	}
	return Merge([]*Partial{p}, q.MaxCells)
}

// measuresOf resolves a query's measure names (none: all).
func measuresOf(names []string) ([]Measure, error) {
	if len(names) == 0 {
		return Measures, nil
	}
	var ms []Measure
	for i, name := range names {
		m, ok := MeasureByName(name)
		if !ok {
			return nil, fmt.Errorf("insight: unknown measure %q", name)
		}
		if slices.Index(names, name) != i {
			return nil, fmt.Errorf("insight: measure %s twice", name)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// sumColumns are the distinct columns the measures sum, split by kind,
// and each measure's slot in its kind's list.
func sumColumns(ms []Measure) (fixed, cents []string, slot []int) {
	slot = make([]int, len(ms))
	for j, m := range ms {
		if m.agg == aggCount {
			continue
		}
		list := &fixed
		if col, _ := serving.ColumnByName(m.column); col.Kind == serving.Cents || derivedCents[m.column] != nil {
			list = &cents
		}
		k := slices.Index(*list, m.column)
		if k < 0 {
			k = len(*list)
			*list = append(*list, m.column)
		}
		slot[j] = k
	}
	return fixed, cents, slot
}

// ComputePartial aggregates q.Rows of cols into the finest cells of q's
// cube, in one pass over the rows: each row's cell as a mixed-radix key
// of its dimensions' codes, counts and sums into arrays indexed by key
// (or by cell id through a map when the key space is large).
func ComputePartial(cols Columns, q Query) (*Partial, error) {
	if len(q.Dims) > MaxDims {
		return nil, fmt.Errorf("insight: %d dimensions, at most %d", len(q.Dims), MaxDims)
	}
	maxCells := q.MaxCells
	if maxCells <= 0 {
		maxCells = DefaultMaxCells
	}
	n := cols.Len()
	rows := q.Rows
	if rows == nil {
		rows = make([]int32, n)
		for r := range rows {
			rows[r] = int32(r)
		}
	}

	// Each dimension as per-row codes into labels.
	type dimCodes struct {
		codes16 []uint16 // dictionary codes
		ints    []int32  // banded column
		bounds  []int32
		labels  []string
	}
	dims := make([]dimCodes, len(q.Dims))
	radix := make([]uint64, len(q.Dims))
	for i, name := range q.Dims {
		d, ok := DimensionByName(name)
		if !ok {
			return nil, fmt.Errorf("insight: unknown dimension %q", name)
		}
		if slices.Index(q.Dims, name) != i {
			return nil, fmt.Errorf("insight: dimension %s twice", name)
		}
		if d.bounds != nil {
			v := cols.Int32s(d.column)
			if len(v) != n {
				return nil, fmt.Errorf("insight: column %s missing", d.column)
			}
			dims[i] = dimCodes{ints: v, bounds: d.bounds, labels: d.labels}
		} else {
			dc := cols.Dict(d.column)
			if dc == nil || len(dc.Codes) != n {
				return nil, fmt.Errorf("insight: column %s missing", d.column)
			}
			dims[i] = dimCodes{codes16: dc.Codes, labels: dc.Values}
		}
		radix[i] = uint64(max(len(dims[i].labels), 1))
	}

	ms, err := measuresOf(q.Measures)
	if err != nil {
		return nil, err
	}
	p := &Partial{Dims: slices.Clone(q.Dims), Rows: len(rows)}
	for _, m := range ms {
		p.Measures = append(p.Measures, m.Name)
	}
	p.FixedColumns, p.CentsColumns, _ = sumColumns(ms)
	fdata := make([][]int32, len(p.FixedColumns))
	fscale := make([]float64, len(p.FixedColumns))
	for j, name := range p.FixedColumns {
		if fdata[j], fscale[j] = cols.Fixed(name); len(fdata[j]) != n {
			return nil, fmt.Errorf("insight: column %s missing", name)
		}
	}
	// A money column is a snapshot's int32 cents (c32) or a derived one
	// in int64 cents (c64).
	type centsCol struct {
		c32 []int32
		c64 []int64
	}
	cdata := make([]centsCol, len(p.CentsColumns))
	for j, name := range p.CentsColumns {
		if f := derivedCents[name]; f != nil {
			if cdata[j].c64, err = f(cols); err != nil {
				return nil, err
			}
			continue
		}
		if cdata[j].c32 = cols.Cents(name); len(cdata[j].c32) != n {
			return nil, fmt.Errorf("insight: column %s missing", name)
		}
	}

	space := uint64(1)
	for _, r := range radix {
		hi, lo := bits.Mul64(space, r)
		if hi != 0 {
			return nil, fmt.Errorf("%w: the dimensions have too many values", ErrTooManyCells)
		}
		space = lo
	}
	// keysOf computes the keys of rows into key, one column at a time
	// (tight loops, no branch per row on the kind of dimension).
	keysOf := func(rows []int32, key []uint64) {
		clear(key)
		for i := range dims {
			d, rx := &dims[i], radix[i]
			if d.codes16 != nil {
				codes := d.codes16
				for k, r := range rows {
					key[k] = key[k]*rx + uint64(codes[r])
				}
				continue
			}
			vs, bounds := d.ints, d.bounds
			for k, r := range rows {
				v, b := vs[r], 0
				for _, ub := range bounds {
					if v >= ub {
						b++
					}
				}
				key[k] = key[k]*rx + uint64(b)
			}
		}
	}
	var keys []uint64
	var counts []int64
	fsum := make([][]Fixed, len(fdata))
	csum := make([][]int64, len(cdata))
	if space <= denseKeys {
		// Few keys: the key is the cell. Counts and sums go straight into
		// arrays indexed by key, block by block of rows (the keys of a
		// block stay in cache), on every CPU over its share of the rows;
		// the shares' integer sums then add exactly.
		type acc struct {
			cnt []int64
			f   [][]Fixed
			c   [][]int64
		}
		work := func(rows []int32) *acc {
			a := &acc{cnt: make([]int64, space), f: make([][]Fixed, len(fdata)), c: make([][]int64, len(cdata))}
			for j := range fdata {
				a.f[j] = make([]Fixed, space)
			}
			for j := range cdata {
				a.c[j] = make([]int64, space)
			}
			var buf [keyBlock]uint64
			for lo := 0; lo < len(rows); lo += keyBlock {
				blk := rows[lo:min(lo+keyBlock, len(rows))]
				key := buf[:len(blk)]
				keysOf(blk, key)
				for _, kk := range key {
					a.cnt[kk]++
				}
				for j, col := range fdata {
					sum, sc := a.f[j], fscale[j]
					for k, r := range blk {
						sum[key[k]].add(toFixed(float64(col[r]) / sc))
					}
				}
				for j, col := range cdata {
					sum := a.c[j]
					if col.c32 != nil {
						for k, r := range blk {
							sum[key[k]] += int64(col.c32[r])
						}
					} else {
						for k, r := range blk {
							sum[key[k]] += col.c64[r]
						}
					}
				}
			}
			return a
		}
		parts := splitRows(rows, int(space))
		accs := make([]*acc, len(parts))
		var wg sync.WaitGroup
		for w, part := range parts[1:] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				accs[w+1] = work(part)
			}()
		}
		accs[0] = work(parts[0])
		wg.Wait()
		a := accs[0]
		for _, b := range accs[1:] {
			for kk := range a.cnt {
				a.cnt[kk] += b.cnt[kk]
			}
			for j := range a.f {
				for kk := range a.f[j] {
					a.f[j][kk].plus(b.f[j][kk])
				}
			}
			for j := range a.c {
				for kk := range a.c[j] {
					a.c[j][kk] += b.c[j][kk]
				}
			}
		}
		for kk, c := range a.cnt {
			if c > 0 {
				keys, counts = append(keys, uint64(kk)), append(counts, c)
			}
		}
		if len(keys) > maxCells {
			return nil, fmt.Errorf("%w: more than %d", ErrTooManyCells, maxCells)
		}
		for j := range fdata {
			out := make([]Fixed, len(keys))
			for c, kk := range keys {
				out[c] = a.f[j][kk]
			}
			fsum[j] = out
		}
		for j := range cdata {
			out := make([]int64, len(keys))
			for c, kk := range keys {
				out[c] = a.c[j][kk]
			}
			csum[j] = out
		}
	} else {
		key := make([]uint64, len(rows))
		keysOf(rows, key)
		ids := map[uint64]int32{}
		cellOf := make([]int32, len(rows))
		for k, kk := range key {
			id, ok := ids[kk]
			if !ok {
				if len(keys) >= maxCells {
					return nil, fmt.Errorf("%w: more than %d", ErrTooManyCells, maxCells)
				}
				id = int32(len(keys))
				ids[kk] = id
				keys = append(keys, kk)
			}
			cellOf[k] = id
		}
		counts = make([]int64, len(keys))
		for _, c := range cellOf {
			counts[c]++
		}
		for j, col := range fdata {
			acc, sc := make([]Fixed, len(keys)), fscale[j]
			for k, r := range rows {
				acc[cellOf[k]].add(toFixed(float64(col[r]) / sc))
			}
			fsum[j] = acc
		}
		for j, col := range cdata {
			acc := make([]int64, len(keys))
			if col.c32 != nil {
				for k, r := range rows {
					acc[cellOf[k]] += int64(col.c32[r])
				}
			} else {
				for k, r := range rows {
					acc[cellOf[k]] += col.c64[r]
				}
			}
			csum[j] = acc
		}
	}

	d := len(dims)
	p.Cells = make([]PartialCell, len(keys))
	keyStrs := make([]string, len(keys)*d)
	nf, nc := len(fdata), len(cdata)
	fs := make([]Fixed, len(keys)*nf)
	cs := make([]int64, len(keys)*nc)
	for c, kk := range keys {
		cell := PartialCell{Keys: keyStrs[c*d : (c+1)*d : (c+1)*d], Count: counts[c]}
		for i := d - 1; i >= 0; i-- {
			cell.Keys[i] = dims[i].labels[kk%radix[i]]
			kk /= radix[i]
		}
		if nf > 0 {
			cell.Fixed = fs[c*nf : (c+1)*nf : (c+1)*nf]
			for j := range nf {
				cell.Fixed[j] = fsum[j][c]
			}
		}
		if nc > 0 {
			cell.Cents = cs[c*nc : (c+1)*nc : (c+1)*nc]
			for j := range nc {
				cell.Cents[j] = csum[j][c]
			}
		}
		p.Cells[c] = cell
	}
	return p, nil
}

// keyBlock is how many rows' keys the dense pass computes at a time.
const keyBlock = 2048

// parallelRows is the fewest rows per CPU worth a goroutine: a
// filter's selection of a few thousand rows is read at random places of
// the columns, where waiting on memory, not arithmetic, is the cost, and
// two CPUs wait in parallel.
const parallelRows = 1 << 12

// splitRows divides rows into one share per CPU (at most), each of at
// least parallelRows rows and at least 4·space, so that each CPU's own
// accumulators (space cells) and their merge stay small against its rows.
func splitRows(rows []int32, space int) [][]int32 {
	n := min(runtime.GOMAXPROCS(0), max(1, len(rows)/max(parallelRows, 4*space)))
	out := make([][]int32, 0, n)
	for w := range n {
		out = append(out, rows[w*len(rows)/n:(w+1)*len(rows)/n])
	}
	return out
}

// ErrPartialsDiffer means partials of different queries were merged.
var ErrPartialsDiffer = errors.New("insight: partials of different cubes")

// Merge adds the finest cells of parts (partials of one query over
// disjoint customers) and rolls each finest cell into its 2^d subsets:
// the cube, with at most maxCells cells (0: DefaultMaxCells).
func Merge(parts []*Partial, maxCells int) (*Cube, error) {
	if len(parts) == 0 {
		return nil, errors.New("insight: no partials to merge")
	}
	if maxCells <= 0 {
		maxCells = DefaultMaxCells
	}
	p0 := parts[0]
	ms, err := measuresOf(p0.Measures)
	if err != nil {
		return nil, err
	}
	fixedCols, centsCols, slot := sumColumns(ms)
	d, nf, nc := len(p0.Dims), len(fixedCols), len(centsCols)
	rowsTotal := 0
	for _, p := range parts {
		if !slices.Equal(p.Dims, p0.Dims) || !slices.Equal(p.Measures, p0.Measures) ||
			!slices.Equal(p.FixedColumns, fixedCols) || !slices.Equal(p.CentsColumns, centsCols) {
			return nil, ErrPartialsDiffer
		}
		for k := range p.Cells {
			if c := &p.Cells[k]; len(c.Keys) != d || len(c.Fixed) != nf || len(c.Cents) != nc {
				return nil, fmt.Errorf("%w: a cell of %d keys, %d and %d sums", ErrPartialsDiffer, len(c.Keys), len(c.Fixed), len(c.Cents))
			}
		}
		rowsTotal += p.Rows
	}

	// Each dimension's values over every part, in text order: a value's
	// code is its rank, and code len(labels) is the rolled-up value.
	labels := make([][]string, d)
	codeOf := make([]map[string]uint64, d)
	radix := make([]uint64, d)
	space := uint64(1)
	for i := range d {
		seen := map[string]bool{}
		for _, p := range parts {
			for k := range p.Cells {
				if v := p.Cells[k].Keys[i]; !seen[v] {
					seen[v] = true
					labels[i] = append(labels[i], v)
				}
			}
		}
		slices.SortFunc(labels[i], strings.Compare)
		codeOf[i] = make(map[string]uint64, len(labels[i]))
		for c, v := range labels[i] {
			codeOf[i][v] = uint64(c)
		}
		radix[i] = uint64(len(labels[i])) + 1
		hi, lo := bits.Mul64(space, radix[i])
		if hi != 0 {
			return nil, fmt.Errorf("%w: the dimensions have too many values", ErrTooManyCells)
		}
		space = lo
	}

	// The groups: a group's key is a finest key with the rolled
	// dimensions at code radix-1, in a dense table when the key space is
	// small, a map otherwise; sums in flat arrays, group by group.
	var dense []int32
	if space <= denseKeys {
		dense = make([]int32, space)
		for i := range dense {
			dense[i] = -1
		}
	}
	gids := map[uint64]int32{}
	var gkeys []uint64
	var grolled []uint8
	var gcount []int64
	var gf []Fixed
	var gc []int64
	group := func(gk uint64, mask uint8) (int32, error) {
		var id int32 = -1
		if dense != nil {
			id = dense[gk]
		} else if x, ok := gids[gk]; ok {
			id = x
		}
		if id >= 0 {
			return id, nil
		}
		if len(gkeys) >= maxCells {
			return 0, fmt.Errorf("%w: more than %d", ErrTooManyCells, maxCells)
		}
		id = int32(len(gkeys))
		if dense != nil {
			dense[gk] = id
		} else {
			gids[gk] = id
		}
		gkeys, grolled, gcount = append(gkeys, gk), append(grolled, mask), append(gcount, 0)
		gf = append(gf, make([]Fixed, nf)...)
		gc = append(gc, make([]int64, nc)...)
		return id, nil
	}
	codes := make([]uint64, d)
	for _, p := range parts {
		for k := range p.Cells {
			cell := &p.Cells[k]
			if cell.Count == 0 {
				continue
			}
			for i := range d {
				codes[i] = codeOf[i][cell.Keys[i]]
			}
			for mask := 0; mask < 1<<d; mask++ {
				var gk uint64
				for i := range d {
					code := codes[i]
					if mask>>i&1 == 1 {
						code = radix[i] - 1
					}
					gk = gk*radix[i] + code
				}
				id, err := group(gk, uint8(mask))
				if err != nil {
					return nil, err
				}
				gcount[id] += cell.Count
				for j := range nf {
					gf[int(id)*nf+j].plus(cell.Fixed[j])
				}
				for j := range nc {
					gc[int(id)*nc+j] += cell.Cents[j]
				}
			}
		}
	}
	if len(gkeys) == 0 {
		// The grand total exists for no rows too (count 0).
		var gk uint64
		for i := range d {
			gk = gk*radix[i] + radix[i] - 1
		}
		if _, err := group(gk, uint8(1<<d-1)); err != nil {
			return nil, err
		}
	}

	// The cells in order: by grouping, then by the values (as text) of the
	// dimensions not rolled up — the codes, which are the text ranks.
	type ordered struct {
		rolled uint8
		code   [MaxDims]uint64
		id     int32
	}
	ord := make([]ordered, len(gkeys))
	for id, gk := range gkeys {
		o := ordered{rolled: grolled[id], id: int32(id)}
		for i := d - 1; i >= 0; i-- {
			o.code[i] = gk % radix[i]
			gk /= radix[i]
		}
		ord[id] = o
	}
	slices.SortFunc(ord, func(a, b ordered) int {
		if a.rolled != b.rolled {
			return int(a.rolled) - int(b.rolled)
		}
		for i := range d {
			if a.code[i] != b.code[i] {
				if a.code[i] < b.code[i] {
					return -1
				}
				return 1
			}
		}
		return 0
	})

	cube := &Cube{Dims: slices.Clone(p0.Dims), Measures: slices.Clone(p0.Measures), Rows: rowsTotal, Cells: make([]Cell, len(ord))}
	keyStrs := make([]string, len(ord)*d)
	values := make([]float64, len(ord)*len(ms))
	for n, o := range ord {
		id := int(o.id)
		s := sums{count: gcount[id], f: gf[id*nf : (id+1)*nf], c: gc[id*nc : (id+1)*nc]}
		cell := Cell{Rolled: o.rolled, Keys: keyStrs[n*d : (n+1)*d : (n+1)*d], Values: values[n*len(ms) : (n+1)*len(ms) : (n+1)*len(ms)], Count: s.count}
		for i := range d {
			if code := o.code[i]; code < radix[i]-1 {
				cell.Keys[i] = labels[i][code]
			}
		}
		for j, m := range ms {
			cell.Values[j] = measureValue(m, &s, slot[j])
		}
		cube.Cells[n] = cell
	}
	return cube, nil
}

// measureValue is measure m of a cell's sums; money in currency units.
func measureValue(m Measure, s *sums, slot int) float64 {
	if m.agg == aggCount {
		return float64(s.count)
	}
	if m.agg == aggSum {
		if m.Money {
			return serving.FromCents(s.c[slot])
		}
		return s.f[slot].Float()
	}
	if s.count == 0 {
		return math.NaN()
	}
	// One division of the exact sum (in its units) by the count in the
	// same units.
	if m.Money {
		return float64(s.c[slot]) / (100 * float64(s.count))
	}
	return s.f[slot].units() / (fixedScale * float64(s.count))
}
