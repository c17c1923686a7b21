package insight

import (
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"

	"github.com/telcolake/telcolake/models/serving"
)

// fakeColumns are generated columns, as many rows as a test wants
// without writing a snapshot.
type fakeColumns struct {
	n     int
	dicts map[string]*serving.DictColumn
	ints  map[string][]int32
	fixed map[string][]int32
	cents map[string][]int32
}

func (f *fakeColumns) Len() int                             { return f.n }
func (f *fakeColumns) Dict(name string) *serving.DictColumn { return f.dicts[name] }
func (f *fakeColumns) Int32s(name string) []int32           { return f.ints[name] }
func (f *fakeColumns) Fixed(name string) ([]int32, float64) { return f.fixed[name], 1e4 }
func (f *fakeColumns) Cents(name string) []int32            { return f.cents[name] }

func genColumns(n int, seed uint64) *fakeColumns {
	rng := rand.New(rand.NewPCG(seed, 1))
	f := &fakeColumns{n: n, dicts: map[string]*serving.DictColumn{}, ints: map[string][]int32{},
		fixed: map[string][]int32{}, cents: map[string][]int32{}}
	for _, d := range Dimensions {
		if d.bounds != nil {
			v := make([]int32, n)
			for r := range v {
				v[r] = int32(rng.IntN(100))
			}
			f.ints[d.column] = v
			continue
		}
		k := 2 + rng.IntN(7)
		dc := &serving.DictColumn{Codes: make([]uint16, n), Values: make([]string, k), Counts: make([]int, k)}
		for c := range dc.Values {
			dc.Values[c] = string(rune('z'-c)) + d.column // not in code order
		}
		for r := range dc.Codes {
			c := rng.IntN(k)
			dc.Codes[r] = uint16(c)
			dc.Counts[c]++
		}
		f.dicts[d.column] = dc
	}
	for _, m := range Measures {
		if m.column == "" {
			continue
		}
		if col, _ := serving.ColumnByName(m.column); col.Kind == serving.Cents {
			v := make([]int32, n)
			for r := range v {
				v[r] = rng.Int32N(2_000_000) - 100_000
			}
			f.cents[m.column] = v
		} else {
			v := make([]int32, n)
			for r := range v {
				v[r] = rng.Int32N(50_000_000) // up to 5000
			}
			f.fixed[m.column] = v
		}
	}
	return f
}

// TestMergeOfPartsEqualsWhole: the cube of rows split into parts (as
// shards split customers) and merged is the cube of all of them, exactly
// (every float bit), also when the rows are many enough for the
// aggregation to run on several CPUs and when one part is empty.
func TestMergeOfPartsEqualsWhole(t *testing.T) {
	const n = 3*parallelRows + 123
	cols := genColumns(n, 9)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, dims := range [][]string{nil, {"region"}, {"region", "plan"}, {"region", "plan", "tenure_band"}, {"gender", "segment", "value_tier", "age_band"}} {
		var rows []int32
		for r := range n {
			if rng.IntN(3) > 0 {
				rows = append(rows, int32(r))
			}
		}
		q := Query{Dims: dims, Rows: rows}
		whole, err := Compute(cols, q)
		if err != nil {
			t.Fatal(err)
		}
		serial := runtime.GOMAXPROCS(1)
		one, err := Compute(cols, q)
		runtime.GOMAXPROCS(serial)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(whole, one) {
			t.Fatalf("%v: the cube on %d CPUs differs from the one on 1", dims, serial)
		}
		var parts []*Partial
		split := []int{0, len(rows) / 5, len(rows) / 5, len(rows)} // one part empty
		for i := 0; i+1 < len(split); i++ {
			p, err := ComputePartial(cols, Query{Dims: dims, Rows: rows[split[i]:split[i+1]:split[i+1]]})
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, p)
		}
		merged, err := Merge(parts, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(whole, merged) {
			t.Errorf("%v: merged parts differ from the whole: %d vs %d cells", dims, len(merged.Cells), len(whole.Cells))
		}
		if whole.Rows != len(rows) {
			t.Errorf("%v: %d rows, want %d", dims, whole.Rows, len(rows))
		}
	}
}

// TestFixed checks the 128-bit sums: carries, negative values and their
// conversion.
func TestFixed(t *testing.T) {
	var f Fixed
	for range 1000 {
		f.add(toFixed(9e9)) // near the largest value, many times: carries into Hi
	}
	if got, want := f.Float(), 9e12; got != want {
		t.Errorf("sum of 1000 × 9e9 = %v, want %v", got, want)
	}
	for range 1000 {
		f.add(toFixed(-9e9))
	}
	if f != (Fixed{}) {
		t.Errorf("sum back to zero: %+v", f)
	}
	f.add(toFixed(-0.3))
	var g Fixed
	g.add(toFixed(0.1))
	g.plus(f)
	if got := g.Float(); got != -0.2 {
		t.Errorf("0.1 + -0.3 = %v, want -0.2", got)
	}
}

// TestMergeRefusesMismatch: partials of different cubes do not merge.
func TestMergeRefusesMismatch(t *testing.T) {
	cols := genColumns(100, 1)
	a, _ := ComputePartial(cols, Query{Dims: []string{"region"}})
	b, _ := ComputePartial(cols, Query{Dims: []string{"plan"}})
	if _, err := Merge([]*Partial{a, b}, 0); err == nil {
		t.Error("merged partials of different dimensions")
	}
	if _, err := Merge(nil, 0); err == nil {
		t.Error("merged no partials")
	}
}
