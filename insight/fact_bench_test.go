package insight

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkComputeFact: a usage cube of the demo's size (7 months, ~120k
// stored rows) with 3 and 4 dimensions.
func BenchmarkComputeFact(b *testing.B) {
	r := rand.New(rand.NewPCG(15, 3))
	f := usageFact(b, randomEventsN(r, 300000, 5000, 7, true))
	b.Logf("%d stored rows", f.Len())
	for _, q := range []FactQuery{
		{Dims: []string{"day_type", "call_kind"}, Filter: map[string][]string{"month": {"2026-05-01"}}},
		{Dims: []string{"gender", "age_band", "hour"}, Filter: map[string][]string{"call_kind": {"long_distance"}, "income_band": {"A", "B"}}},
		{Dims: []string{"month", "gender", "age_band", "call_kind"}},
	} {
		b.Run(fmtDims(q.Dims), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := ComputeFact(f, q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func fmtDims(d []string) string {
	s := ""
	for i, x := range d {
		if i > 0 {
			s += ","
		}
		s += x
	}
	return s
}
