package insight

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
)

// A Fact is a stored cube table held in memory (crm.usage_cube,
// crm.cube_monthly): dictionary-coded dimension columns and numeric
// columns, small enough to aggregate per request. ComputeFact answers the
// same dims/measures questions as Compute, with GROUP BY CUBE semantics,
// over its rows.
//
// Counts of distinct subscribers are not additive over every dimension:
// FactSpec.Rollable lists the dimensions whose rolled-up rows the table
// stores (grouping bit i set: Rollable[i] is null in that row and covers
// all its values, with the exact distinct count), and FactSpec.Time the
// dimension no row rolls up (month). A distinct measure is taken from the
// rows that roll up exactly what the cell rolls up, summed only over the
// other dimensions, whose values partition the subscribers; a cell that
// would have to add distinct counts over several months, or over several
// (but not all) values of a rolled-up dimension the filter selects, gets
// NaN (null in the answer): it is not known.

// FactSpec describes a stored cube table.
type FactSpec struct {
	Name     string
	Dims     []string // dimension columns (strings)
	Rollable []string // of Dims: grouping bit i ↔ Rollable[i]
	Time     string   // of Dims: distinct counts never add up over it
	Columns  []string // numeric columns
	Measures []FactMeasure
}

// FactMeasure is a measure of a Fact: Num summed, or Num's sum over Den's
// when Den is set. Distinct marks Num (or Den) as a distinct count.
type FactMeasure struct {
	Name     string
	Num, Den string
	// NumDistinct, DenDistinct: the column is a count of distinct
	// subscribers (see Fact).
	NumDistinct, DenDistinct bool
	Money                    bool
	Doc                      string
}

// UsageCubeSpec is crm.usage_cube.
var UsageCubeSpec = FactSpec{
	Name:     "usage_cube",
	Dims:     []string{"month", "hour", "day_type", "call_kind", "gender", "age_band", "income_band"},
	Rollable: []string{"hour", "day_type", "call_kind"},
	Time:     "month",
	Columns:  []string{"calls", "minutes", "subscribers"},
	Measures: []FactMeasure{
		{Name: "calls", Num: "calls", Doc: "voice calls"},
		{Name: "minutes", Num: "minutes", Doc: "voice minutes"},
		{Name: "subscribers", Num: "subscribers", NumDistinct: true, Doc: "distinct subscribers with such a call (null where not exact)"},
		{Name: "minutes_per_call", Num: "minutes", Den: "calls", Doc: "mean call length, minutes"},
		{Name: "minutes_per_subscriber", Num: "minutes", Den: "subscribers", DenDistinct: true, Doc: "minutes per distinct subscriber"},
		{Name: "calls_per_subscriber", Num: "calls", Den: "subscribers", DenDistinct: true, Doc: "calls per distinct subscriber"},
	},
}

// MonthlyCubeSpec is crm.cube_monthly.
var MonthlyCubeSpec = FactSpec{
	Name:    "cube_monthly",
	Dims:    []string{"month", "region", "plan", "segment", "lifecycle", "age_band", "gender"},
	Time:    "month",
	Columns: []string{"subscribers", "new", "churned", "revenue", "minutes", "data_mb"},
	Measures: []FactMeasure{
		{Name: "subscribers", Num: "subscribers", NumDistinct: true, Doc: "customers at the month's end (null over several months)"},
		{Name: "subscriber_months", Num: "subscribers", Doc: "customers at each month's end, summed over months"},
		{Name: "new", Num: "new", Doc: "customers activated in the month"},
		{Name: "churned", Num: "churned", Doc: "customers deactivated in the month"},
		{Name: "revenue", Num: "revenue", Money: true, Doc: "amount due of the month's bills"},
		{Name: "arpu", Num: "revenue", Den: "subscribers", Money: true, Doc: "revenue per customer and month"},
		{Name: "minutes", Num: "minutes", Doc: "voice minutes"},
		{Name: "data_mb", Num: "data_mb", Doc: "data volume, MB"},
		{Name: "minutes_per_subscriber", Num: "minutes", Den: "subscribers", Doc: "voice minutes per customer and month"},
	},
}

// Fact is a stored cube table in memory. Build it with NewFact and Append.
type Fact struct {
	Spec     FactSpec
	labels   [][]string // per dim
	ids      []map[string]uint16
	codes    [][]uint16 // per dim, per row; len(labels) never (null is rolled, grouping says)
	nums     [][]float64
	grouping []uint8
	byGroup  map[uint8][]int32
}

// NewFact returns an empty Fact of spec.
func NewFact(spec FactSpec) *Fact {
	f := &Fact{Spec: spec, labels: make([][]string, len(spec.Dims)), ids: make([]map[string]uint16, len(spec.Dims)),
		codes: make([][]uint16, len(spec.Dims)), nums: make([][]float64, len(spec.Columns)), byGroup: map[uint8][]int32{}}
	for i := range f.ids {
		f.ids[i] = map[string]uint16{}
	}
	return f
}

// Len is the number of rows.
func (f *Fact) Len() int { return len(f.grouping) }

// Append adds a row: the dimension values in Spec.Dims order ("" where
// the row's grouping rolls the dimension up), its grouping, and the
// numeric columns in Spec.Columns order.
func (f *Fact) Append(dims []string, grouping uint8, nums []float64) error {
	if len(dims) != len(f.Spec.Dims) || len(nums) != len(f.Spec.Columns) {
		return fmt.Errorf("insight: %s row has %d dims and %d numbers, want %d and %d", f.Spec.Name, len(dims), len(nums), len(f.Spec.Dims), len(f.Spec.Columns))
	}
	if int(grouping) >= 1<<len(f.Spec.Rollable) {
		return fmt.Errorf("insight: %s row has grouping %d, at most %d", f.Spec.Name, grouping, 1<<len(f.Spec.Rollable)-1)
	}
	row := int32(len(f.grouping))
	for i, v := range dims {
		id, ok := f.ids[i][v]
		if !ok {
			if len(f.labels[i]) >= math.MaxUint16-1 {
				return fmt.Errorf("insight: %s dimension %s has too many values", f.Spec.Name, f.Spec.Dims[i])
			}
			id = uint16(len(f.labels[i]))
			f.ids[i][v] = id
			f.labels[i] = append(f.labels[i], v)
		}
		f.codes[i] = append(f.codes[i], id)
	}
	for j, v := range nums {
		f.nums[j] = append(f.nums[j], v)
	}
	f.grouping = append(f.grouping, grouping)
	f.byGroup[grouping] = append(f.byGroup[grouping], row)
	return nil
}

// Values returns the values dimension name takes in the table, sorted.
func (f *Fact) Values(name string) []string {
	i := slices.Index(f.Spec.Dims, name)
	if i < 0 {
		return nil
	}
	out := slices.Clone(f.labels[i])
	out = slices.DeleteFunc(out, func(s string) bool { return s == "" })
	slices.Sort(out)
	return out
}

// FactQuery is a cube over a Fact.
type FactQuery struct {
	Dims     []string            // 0 to MaxDims of Spec.Dims
	Measures []string            // of Spec.Measures; none: all
	Filter   map[string][]string // dimension → the values kept (OR); any dimension of Spec.Dims
	MaxCells int                 // 0: DefaultMaxCells
}

// MeasureByName returns the measure of spec called name.
func (spec FactSpec) MeasureByName(name string) (FactMeasure, bool) {
	i := slices.IndexFunc(spec.Measures, func(m FactMeasure) bool { return m.Name == name })
	if i < 0 {
		return FactMeasure{}, false
	}
	return spec.Measures[i], true
}

// ComputeFact aggregates f into the cube of q (see Fact for the distinct
// counts). Cube.Rows is the number of the table's finest rows (grouping 0)
// the filter keeps.
func ComputeFact(f *Fact, q FactQuery) (*Cube, error) {
	spec := f.Spec
	if len(q.Dims) > MaxDims {
		return nil, fmt.Errorf("insight: %d dimensions, at most %d", len(q.Dims), MaxDims)
	}
	maxCells := q.MaxCells
	if maxCells <= 0 {
		maxCells = DefaultMaxCells
	}
	dimIdx := make([]int, len(q.Dims))
	for i, name := range q.Dims {
		dimIdx[i] = slices.Index(spec.Dims, name)
		if dimIdx[i] < 0 {
			return nil, fmt.Errorf("insight: %s has no dimension %q", spec.Name, name)
		}
		if slices.Index(q.Dims, name) != i {
			return nil, fmt.Errorf("insight: dimension %s twice", name)
		}
	}
	var ms []FactMeasure
	if len(q.Measures) == 0 {
		ms = spec.Measures
	}
	for i, name := range q.Measures {
		m, ok := spec.MeasureByName(name)
		if !ok {
			return nil, fmt.Errorf("insight: %s has no measure %q", spec.Name, name)
		}
		if slices.Index(q.Measures, name) != i {
			return nil, fmt.Errorf("insight: measure %s twice", name)
		}
		ms = append(ms, m)
	}
	colIdx := func(name string) int { return slices.Index(spec.Columns, name) }
	// The filter as allowed codes per dimension (nil: any).
	allowed := make([][]bool, len(spec.Dims))
	nAllowed := make([]int, len(spec.Dims))
	for name, vals := range q.Filter {
		i := slices.Index(spec.Dims, name)
		if i < 0 {
			return nil, fmt.Errorf("insight: %s has no dimension %q to filter on", spec.Name, name)
		}
		allowed[i] = make([]bool, len(f.labels[i]))
		for _, v := range vals {
			if id, ok := f.ids[i][v]; ok && v != "" && !allowed[i][id] {
				allowed[i][id] = true
				nAllowed[i]++
			}
		}
		if nAllowed[i] == 0 {
			nAllowed[i] = -1 // matches nothing
		}
	}
	timeDim := slices.Index(spec.Dims, spec.Time)
	rollBit := make([]int, len(spec.Dims)) // grouping bit of a dim, -1 if not rollable
	for i, name := range spec.Dims {
		rollBit[i] = slices.Index(spec.Rollable, name)
	}
	radix := make([]uint64, len(q.Dims))
	for i, di := range dimIdx {
		radix[i] = uint64(len(f.labels[di])) + 1
	}

	d := len(q.Dims)
	type acc struct {
		sums      []float64
		month     int // the one month code seen, -1 none
		months    bool
		notExact  bool
		fineCount int64
	}
	type group struct {
		rolled uint8
		key    uint64
	}
	out := map[group]*acc{}
	var order []group
	fineRows := 0
	// Each mask reads the stored rows of one grouping g. The rows of a g
	// are first summed, once, into cells of every query dimension and the
	// month (a filtered pass over the rows); each mask of that g then rolls
	// up those cells, which are far fewer than the rows.
	type fineCell struct {
		codes []uint16 // per query dim
		month int
		sums  []float64
		rows  int64
	}
	fineOf := map[uint8][]*fineCell{}
	fineCells := func(g uint8) []*fineCell {
		if cells, ok := fineOf[g]; ok {
			return cells
		}
		// Cells keyed by the codes and the month in mixed radix: a dense
		// table when that space is small, a map otherwise.
		space, overflow := uint64(1), false
		for _, r := range radix {
			hi, lo := bits.Mul64(space, r)
			overflow = overflow || hi != 0
			space = lo
		}
		monthRadix := uint64(1)
		if timeDim >= 0 {
			monthRadix = uint64(len(f.labels[timeDim]))
		}
		hi, lo := bits.Mul64(space, monthRadix)
		overflow = overflow || hi != 0
		space = lo
		if overflow {
			return nil
		}
		var dense []int32
		if space <= 1<<16 {
			dense = make([]int32, space)
			for i := range dense {
				dense[i] = -1
			}
		}
		ids := map[uint64]int32{}
		var cells []*fineCell
	rows:
		for _, r := range f.byGroup[g] {
			for i, a := range allowed {
				if a != nil && (nAllowed[i] < 0 || !a[f.codes[i][r]]) {
					continue rows
				}
			}
			var key uint64
			for i, di := range dimIdx {
				key = key*radix[i] + uint64(f.codes[di][r])
			}
			month := -1
			if timeDim >= 0 {
				month = int(f.codes[timeDim][r])
				key = key*monthRadix + uint64(month)
			}
			var id int32 = -1
			if dense != nil {
				id = dense[key]
			} else if x, ok := ids[key]; ok {
				id = x
			}
			if id < 0 {
				if len(cells) >= 64*maxCells {
					return nil // more cells than any cube allowed could need
				}
				fc := &fineCell{codes: make([]uint16, d), month: month, sums: make([]float64, len(spec.Columns))}
				for i, di := range dimIdx {
					fc.codes[i] = f.codes[di][r]
				}
				id = int32(len(cells))
				if dense != nil {
					dense[key] = id
				} else {
					ids[key] = id
				}
				cells = append(cells, fc)
			}
			fc := cells[id]
			for j := range fc.sums {
				fc.sums[j] += f.nums[j][r]
			}
			fc.rows++
		}
		fineOf[g] = cells
		return cells
	}
	for mask := 0; mask < 1<<d; mask++ {
		// The stored rows to read: the grouping that rolls up exactly the
		// rollable dims this cell rolls up (output dims not rolled, and
		// filtered dims, stay free).
		var g uint8
		notExact := false
		for b, name := range spec.Rollable {
			di := slices.Index(spec.Dims, name)
			o := slices.Index(q.Dims, name)
			free := o >= 0 && mask>>o&1 == 0
			if allowed[di] != nil {
				if !free && nAllowed[di] > 1 {
					notExact = true // several values of it summed
				}
				free = true
			}
			if !free {
				g |= 1 << b
			}
		}
		timeFree := false
		if o := slices.Index(q.Dims, spec.Time); o >= 0 && mask>>o&1 == 0 {
			timeFree = true
		}
		cells := fineCells(g)
		if cells == nil && len(f.byGroup[g]) > 0 {
			return nil, fmt.Errorf("%w: more than %d", ErrTooManyCells, maxCells)
		}
		for _, fc := range cells {
			var key uint64
			for i := range d {
				code := uint64(fc.codes[i])
				if mask>>i&1 == 1 {
					code = radix[i] - 1
				}
				key = key*radix[i] + code
			}
			gk := group{uint8(mask), key}
			a, ok := out[gk]
			if !ok {
				if len(out) >= maxCells {
					return nil, fmt.Errorf("%w: more than %d", ErrTooManyCells, maxCells)
				}
				a = &acc{sums: make([]float64, len(spec.Columns)), month: -1, notExact: notExact}
				out[gk] = a
				order = append(order, gk)
			}
			for j := range a.sums {
				a.sums[j] += fc.sums[j]
			}
			a.fineCount += fc.rows
			if timeDim >= 0 && !timeFree {
				if a.month >= 0 && a.month != fc.month {
					a.months = true
				}
				a.month = fc.month
			}
		}
	}
	// Rows: the finest stored rows the filter keeps.
fine:
	for _, r := range f.byGroup[0] {
		for i, a := range allowed {
			if a != nil && (nAllowed[i] < 0 || !a[f.codes[i][r]]) {
				continue fine
			}
		}
		fineRows++
	}
	// The grand total exists with no rows too (as in SQL's GROUP BY CUBE).
	total := group{uint8(1<<d - 1), 0}
	for i := range d {
		total.key = total.key*radix[i] + radix[i] - 1
	}
	if _, ok := out[total]; !ok {
		out[total] = &acc{sums: make([]float64, len(spec.Columns)), month: -1}
		order = append(order, total)
	}

	cube := &Cube{Dims: slices.Clone(q.Dims), Rows: fineRows, Cells: make([]Cell, 0, len(order))}
	for _, m := range ms {
		cube.Measures = append(cube.Measures, m.Name)
	}
	for _, gk := range order {
		a := out[gk]
		cell := Cell{Rolled: gk.rolled, Keys: make([]string, d), Values: make([]float64, len(ms)), Count: a.fineCount}
		key := gk.key
		for i := d - 1; i >= 0; i-- {
			code := key % radix[i]
			key /= radix[i]
			if code < radix[i]-1 {
				cell.Keys[i] = f.labels[dimIdx[i]][code]
			}
		}
		exact := !a.notExact && !a.months
		for j, m := range ms {
			num := a.sums[colIdx(m.Num)]
			if m.NumDistinct && !exact {
				num = math.NaN()
			}
			v := num
			if m.Den != "" {
				den := a.sums[colIdx(m.Den)]
				if (m.DenDistinct && !exact) || den == 0 {
					v = math.NaN()
				} else {
					v = num / den
				}
			}
			if m.Money && !math.IsNaN(v) {
				v = math.Round(v*100) / 100
			}
			cell.Values[j] = v
		}
		cube.Cells = append(cube.Cells, cell)
	}
	slices.SortFunc(cube.Cells, func(a, b Cell) int {
		if a.Rolled != b.Rolled {
			return int(a.Rolled) - int(b.Rolled)
		}
		return strings.Compare(strings.Join(a.Keys, "\x00"), strings.Join(b.Keys, "\x00"))
	})
	return cube, nil
}
