package features

import (
	"slices"
	"testing"
)

// TestBillBookWindow: a month's window of a run's bill book is the bills
// of the year up to it (months mi−12 … mi), in month order, so reading
// the bills once for every month builds what reading them each month did;
// arrears counted over it stop at 13 months as before.
func TestBillBookWindow(t *testing.T) {
	var bs []bill
	for m := int32(100); m <= 130; m++ { // 31 months, all in arrears
		bs = append(bs, bill{month: m, arrears: 1})
	}
	book := billBook{"S1": bs}
	months := func(bs []bill) []int32 {
		var out []int32
		for _, b := range bs {
			out = append(out, b.month)
		}
		return out
	}
	span := func(from, to int32) []int32 {
		var out []int32
		for m := from; m <= to; m++ {
			out = append(out, m)
		}
		return out
	}
	tests := []struct {
		id      string
		mi      int32
		want    []int32
		arrears int32
	}{
		{"S1", 99, nil, 0},
		{"S1", 100, span(100, 100), 1},
		{"S1", 105, span(100, 105), 6},
		{"S1", 120, span(108, 120), 13},
		{"S1", 130, span(118, 130), 13},
		{"S1", 140, span(128, 130), 0}, // no bill of its own month
		{"S2", 120, nil, 0},
	}
	for _, tc := range tests {
		w := book.window(tc.id, tc.mi)
		if got := months(w); !slices.Equal(got, tc.want) {
			t.Errorf("window(%s, %d) = months %v, want %v", tc.id, tc.mi, got, tc.want)
		}
		if got := monthsInArrears(w, tc.mi); got != tc.arrears {
			t.Errorf("monthsInArrears(window(%s, %d)) = %d, want %d", tc.id, tc.mi, got, tc.arrears)
		}
	}
}
