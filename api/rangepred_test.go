package api

import (
	"math"
	"slices"
	"testing"
)

// TestRangePredUnits: a range condition keeps exactly the rows whose
// value (units/scale) is within its bounds, also at the ends of the int32
// range, where a saturated value must not meet a bound past it.
func TestRangePredUnits(t *testing.T) {
	col := numColumn{x: []int32{math.MaxInt32, 5, -math.MaxInt32, 0, 30000}, scale: 1e5}
	ix := &index{n: len(col.x), nums: []numColumn{col}}
	inf := math.Inf(1)
	for _, tt := range []struct {
		lo, hi float64
		want   []int32
	}{
		{1e9, inf, nil},
		{-inf, -1e9, nil},
		{21474.83647, inf, []int32{0}},
		{-inf, -21474.83647, []int32{2}},
		{0.00005, 0.00005, []int32{1}},
		{0.3, 0.3, []int32{4}},
		{0.30000000000000004, inf, []int32{0}},
		{-inf, inf, []int32{0, 1, 2, 3, 4}},
		{0.5, 0.1, nil},
	} {
		p := ix.rangePred(0, tt.lo, tt.hi)
		var got []int32
		for r := range int32(ix.n) {
			if !p.empty() && p.holds(r) {
				got = append(got, r)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("rangePred(%v, %v) keeps rows %v, want %v", tt.lo, tt.hi, got, tt.want)
		}
	}
}
