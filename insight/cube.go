// Package insight answers the operator's analytical questions from the
// serving snapshot's columns in memory: the data cube over customers
// (Compute, GROUP BY CUBE semantics), and later lifecycle, churn causes and
// score tracking.
package insight

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"

	"github.com/telcolake/telcolake/models/serving"
)

// Columns is the part of a serving snapshot the cube reads
// (*serving.Snapshot has it).
type Columns interface {
	Len() int
	Dict(name string) *serving.DictColumn
	Int32s(name string) []int32
	Float64s(name string) []float64
	Cents(name string) []int64
}

// MaxDims is the most dimensions a cube groups by.
const MaxDims = 4

// DefaultMaxCells bounds the cells of a cube (subtotals and total
// included) when Query.MaxCells is 0.
const DefaultMaxCells = 10_000

// Dimension is a way to group customers: a dictionary column of the
// snapshot, or bands of an integer column.
type Dimension struct {
	Name   string
	column string
	// bands: upper bounds (exclusive) of each band but the last, and
	// their labels (one more); nil for a dictionary column.
	bounds []int32
	labels []string
}

// TenureBands are the labels of the tenure_band dimension (months).
var TenureBands = []string{"0-5", "6-11", "12-23", "24-35", "36-59", "60+"}

// Dimensions are the dimensions a cube can group by. The snapshot has no
// month: it is one feature month (trends are the monthly cube's). A
// snapshot written before value tiers, income band, occupation, education
// and district existed groups them all under "".
var Dimensions = []Dimension{
	{Name: "region", column: "region"},
	{Name: "plan", column: "plan"},
	{Name: "segment", column: "segment_id"},
	{Name: "lifecycle", column: "lifecycle"},
	{Name: "age_band", column: "age_band"},
	{Name: "status", column: "status"},
	{Name: "gender", column: "gender"},
	{Name: "payment_method", column: "payment_method"},
	{Name: "tenure_band", column: "tenure_months", bounds: []int32{6, 12, 24, 36, 60}, labels: TenureBands},
	{Name: "value_tier", column: "value_tier"},
	{Name: "income_band", column: "income_band"},
	{Name: "occupation", column: "occupation"},
	{Name: "education", column: "education"},
	{Name: "district", column: "district"},
}

// DimensionByName returns the dimension called name.
func DimensionByName(name string) (Dimension, bool) {
	i := slices.IndexFunc(Dimensions, func(d Dimension) bool { return d.Name == name })
	if i < 0 {
		return Dimension{}, false
	}
	return Dimensions[i], true
}

// agg is how a measure combines the customers of a cell.
type agg uint8

const (
	aggCount agg = iota
	aggSum
	aggMean
)

// Measure is a figure computed per cell.
type Measure struct {
	Name   string
	column string
	agg    agg
	// Money reports whether the measure is in currency units (summed
	// exactly in whole cents).
	Money bool
}

// Measures are the measures a cube computes, in the order of its answer.
var Measures = []Measure{
	{Name: "count", agg: aggCount},
	{Name: "churn_rate", column: "churn_probability", agg: aggMean},
	{Name: "monthly_value_sum", column: "monthly_value", agg: aggSum, Money: true},
	{Name: "monthly_value_mean", column: "monthly_value", agg: aggMean, Money: true},
	{Name: "clv_sum", column: "clv", agg: aggSum, Money: true},
	{Name: "value_at_risk_sum", column: "value_at_risk", agg: aggSum, Money: true},
	{Name: "voice_minutes_mean", column: "voice_minutes", agg: aggMean},
	{Name: "data_mb_mean", column: "data_mb", agg: aggMean},
	{Name: "arrears_mean", column: "arrears", agg: aggMean, Money: true},
	{Name: "profit_sum", column: "profit", agg: aggSum, Money: true},
	{Name: "profit_mean", column: "profit", agg: aggMean, Money: true},
}

// MeasureByName returns the measure called name.
func MeasureByName(name string) (Measure, bool) {
	i := slices.IndexFunc(Measures, func(m Measure) bool { return m.Name == name })
	if i < 0 {
		return Measure{}, false
	}
	return Measures[i], true
}

// Query is a cube to compute.
type Query struct {
	Dims     []string // 0 to MaxDims distinct Dimensions names
	Measures []string // Measures names; none: all
	// Rows are the rows to aggregate, each once (a filter's selection);
	// nil: every row.
	Rows []int32
	// MaxCells bounds the answer's cells (0: DefaultMaxCells).
	MaxCells int
}

// denseKeys is the largest key space the first pass indexes with a table.
const denseKeys = 1 << 16

// ErrTooManyCells means the cube would have more cells than allowed.
var ErrTooManyCells = errors.New("insight: cube has too many cells")

// Cube is a computed cube: a cell for every combination of values present
// in the rows, for every subset of the dimensions (GROUP BY CUBE).
type Cube struct {
	Dims     []string
	Measures []string
	Rows     int // customers aggregated (the grand total's count)
	Cells    []Cell
}

// Cell is one group. Values[i] is the value of Dims[i], or "" where
// Rolled has bit i set (the dimension is rolled up: every value, SQL's
// GROUPING). Values line up with Cube.Measures.
type Cell struct {
	Rolled uint8
	Keys   []string
	Values []float64
	Count  int64
}

// IsRolled reports whether dimension i is rolled up in c.
func (c *Cell) IsRolled(i int) bool { return c.Rolled>>i&1 == 1 }

// sums are a cell's accumulators, one per distinct column read.
type sums struct {
	count int64
	f     []float64 // Float64 columns
	c     []int64   // Cents columns
}

// Compute aggregates q.Rows of cols into the cube of q: one pass over the
// rows into the finest cells, then each finest cell rolled into its 2^d
// subsets. Money sums are exact (int64 cents).
func Compute(cols Columns, q Query) (*Cube, error) {
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
	radix := make([]uint64, len(q.Dims)) // labels + 1 (the rolled-up code)
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
		radix[i] = uint64(len(dims[i].labels)) + 1
	}

	// The measures and the columns they read.
	var ms []Measure
	if len(q.Measures) == 0 {
		ms = Measures
	}
	for i, name := range q.Measures {
		m, ok := MeasureByName(name)
		if !ok {
			return nil, fmt.Errorf("insight: unknown measure %q", name)
		}
		if slices.Index(q.Measures, name) != i {
			return nil, fmt.Errorf("insight: measure %s twice", name)
		}
		ms = append(ms, m)
	}
	var fcols []string
	var ccols []string
	var fdata [][]float64
	var cdata [][]int64
	slot := make([]int, len(ms)) // index into f or c of sums
	for j, m := range ms {
		if m.agg == aggCount {
			continue
		}
		col, _ := serving.ColumnByName(m.column)
		if col.Kind == serving.Cents {
			if k := slices.Index(ccols, m.column); k >= 0 {
				slot[j] = k
				continue
			}
			v := cols.Cents(m.column)
			if len(v) != n {
				return nil, fmt.Errorf("insight: column %s missing", m.column)
			}
			slot[j] = len(ccols)
			ccols, cdata = append(ccols, m.column), append(cdata, v)
		} else {
			if k := slices.Index(fcols, m.column); k >= 0 {
				slot[j] = k
				continue
			}
			v := cols.Float64s(m.column)
			if len(v) != n {
				return nil, fmt.Errorf("insight: column %s missing", m.column)
			}
			slot[j] = len(fcols)
			fcols, fdata = append(fcols, m.column), append(fdata, v)
		}
	}

	// Pass 1: each row's finest cell, as a mixed-radix key.
	var keys []uint64
	ids := map[uint64]int32{}
	// A dense table of key → cell when the keys are few (the usual case:
	// a handful of values per dimension), the map otherwise.
	space := uint64(1)
	for _, r := range radix {
		hi, lo := bits.Mul64(space, r)
		if hi != 0 {
			return nil, fmt.Errorf("%w: the dimensions have too many values", ErrTooManyCells)
		}
		space = lo
	}
	var dense []int32
	if space <= denseKeys {
		dense = make([]int32, space)
		for i := range dense {
			dense[i] = -1
		}
	}
	// The keys, one column at a time (tight loops, no branch per row on
	// the kind of dimension).
	key := make([]uint64, len(rows))
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
	var counts []int64
	fsum := make([][]float64, len(fdata))
	csum := make([][]int64, len(cdata))
	if dense != nil {
		// Few keys: the key is the cell. Counts and sums go straight into
		// arrays indexed by key (no cell id per row), then are compacted to
		// the keys present, in key order.
		cnt := make([]int64, space)
		for _, kk := range key {
			cnt[kk]++
		}
		for kk, c := range cnt {
			if c > 0 {
				keys, counts = append(keys, uint64(kk)), append(counts, c)
			}
		}
		if len(keys) > maxCells {
			return nil, fmt.Errorf("%w: more than %d", ErrTooManyCells, maxCells)
		}
		for j, col := range fdata {
			acc := make([]float64, space)
			for k, r := range rows {
				acc[key[k]] += col[r]
			}
			out := make([]float64, len(keys))
			for c, kk := range keys {
				out[c] = acc[kk]
			}
			fsum[j] = out
		}
		for j, col := range cdata {
			acc := make([]int64, space)
			for k, r := range rows {
				acc[key[k]] += col[r]
			}
			out := make([]int64, len(keys))
			for c, kk := range keys {
				out[c] = acc[kk]
			}
			csum[j] = out
		}
	} else {
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
		// The sums per finest cell, one column at a time into flat arrays.
		counts = make([]int64, len(keys))
		for _, c := range cellOf {
			counts[c]++
		}
		for j, col := range fdata {
			acc := make([]float64, len(keys))
			for k, r := range rows {
				acc[cellOf[k]] += col[r]
			}
			fsum[j] = acc
		}
		for j, col := range cdata {
			acc := make([]int64, len(keys))
			for k, r := range rows {
				acc[cellOf[k]] += col[r]
			}
			csum[j] = acc
		}
	}

	// Pass 2: roll each finest cell into every subset of the dimensions.
	// A group's key is a finest key with the rolled dimensions at code
	// radix-1 (no value has that code), so groups share the finest cells'
	// key space: the same dense table (reset) when it is small, a map
	// otherwise; the sums go to flat arrays, group by group.
	d := len(dims)
	nf, nc := len(fcols), len(ccols)
	if dense != nil {
		for i := range dense {
			dense[i] = -1
		}
	}
	gids := map[uint64]int32{}
	var gkeys []uint64
	var grolled []uint8
	var gcount []int64
	var gf []float64
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
		gf = append(gf, make([]float64, nf)...)
		gc = append(gc, make([]int64, nc)...)
		return id, nil
	}
	codes := make([]uint64, d)
	for c, key := range keys {
		for i := d - 1; i >= 0; i-- {
			codes[i] = key % radix[i]
			key /= radix[i]
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
			gcount[id] += counts[c]
			for j := range nf {
				gf[int(id)*nf+j] += fsum[j][c]
			}
			for j := range nc {
				gc[int(id)*nc+j] += csum[j][c]
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
	// dimensions not rolled up, compared through each dimension's rank of
	// its labels (no string building per comparison).
	ranks := make([][]int32, d)
	for i := range dims {
		labels := dims[i].labels
		idx := make([]int32, len(labels))
		for k := range idx {
			idx[k] = int32(k)
		}
		slices.SortFunc(idx, func(a, b int32) int { return strings.Compare(labels[a], labels[b]) })
		ranks[i] = make([]int32, len(labels))
		for pos, k := range idx {
			ranks[i][k] = int32(pos)
		}
	}
	type ordered struct {
		rolled uint8
		rank   [MaxDims]int32
		id     int32
	}
	ord := make([]ordered, len(gkeys))
	for id, gk := range gkeys {
		o := ordered{rolled: grolled[id], id: int32(id)}
		for i := d - 1; i >= 0; i-- {
			if code := gk % radix[i]; code < radix[i]-1 {
				o.rank[i] = ranks[i][code]
			}
			gk /= radix[i]
		}
		ord[id] = o
	}
	slices.SortFunc(ord, func(a, b ordered) int {
		if a.rolled != b.rolled {
			return int(a.rolled) - int(b.rolled)
		}
		for i := range d {
			if a.rank[i] != b.rank[i] {
				return int(a.rank[i]) - int(b.rank[i])
			}
		}
		return 0
	})

	cube := &Cube{Dims: slices.Clone(q.Dims), Rows: len(rows), Cells: make([]Cell, len(ord))}
	for _, m := range ms {
		cube.Measures = append(cube.Measures, m.Name)
	}
	keyStrs := make([]string, len(ord)*d)
	values := make([]float64, len(ord)*len(ms))
	for n, o := range ord {
		id := int(o.id)
		s := sums{count: gcount[id], f: gf[id*nf : (id+1)*nf], c: gc[id*nc : (id+1)*nc]}
		cell := Cell{Rolled: o.rolled, Keys: keyStrs[n*d : (n+1)*d : (n+1)*d], Values: values[n*len(ms) : (n+1)*len(ms) : (n+1)*len(ms)], Count: s.count}
		gk := gkeys[id]
		for i := d - 1; i >= 0; i-- {
			code := gk % radix[i]
			gk /= radix[i]
			if code < radix[i]-1 {
				cell.Keys[i] = dims[i].labels[code]
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
	var sum float64
	if m.Money {
		if m.agg == aggSum {
			return serving.FromCents(s.c[slot])
		}
		sum = float64(s.c[slot]) / 100
	} else {
		sum = s.f[slot]
	}
	if m.agg == aggSum {
		return sum
	}
	if s.count == 0 {
		return math.NaN()
	}
	return sum / float64(s.count)
}
