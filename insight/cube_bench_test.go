package insight

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/telcolake/telcolake/models/serving"
)

// BenchmarkCompute: 3 dimensions over a generated snapshot (the shape of
// bench's cube part), every row and a 2.5% selection.
func BenchmarkCompute(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	regions := []string{"north", "south", "east", "west", "central", "capital", "coast", "alps", "lakes", "islands"}
	plans := []string{"flex-10", "flex-20", "max-40", "family", "prepaid"}
	cs := make([]serving.Customer, 20000)
	for i := range cs {
		c := customer(i, regions[r.IntN(len(regions))], plans[r.IntN(len(plans))], int32(r.IntN(90)), float64(r.IntN(5000))/100, 100, r.Float64())
		c.SegmentID = int32(r.IntN(8))
		c.SubscriberID = fmt.Sprintf("S%06d", i)
		cs[i] = c
	}
	snap := open(b, cs)
	var sel []int32
	for i := range cs {
		if i%40 == 0 {
			sel = append(sel, int32(i))
		}
	}
	for _, tc := range []struct {
		name string
		rows []int32
	}{{"all", nil}, {"selection", sel}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := Compute(snap, Query{Dims: []string{"region", "plan", "segment"}, Measures: []string{"count", "churn_rate", "monthly_value_sum", "value_at_risk_sum"}, Rows: tc.rows}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
