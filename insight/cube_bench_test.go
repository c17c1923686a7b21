package insight

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

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

// BenchmarkComputeSparse: 1, 2 and 3 dimensions over a million rows, of
// which a filter selected 2.7% spread over all of them (the bench's cube
// with a filter): the rows' values are read at random places of the
// columns.
func BenchmarkComputeSparse(b *testing.B) {
	const n = 1_000_000
	cols := genColumns(n, 3)
	r := rand.New(rand.NewPCG(3, 4))
	var sel []int32
	for i := range n {
		if r.IntN(1000) < 27 {
			sel = append(sel, int32(i))
		}
	}
	for _, dims := range [][]string{{"region"}, {"region", "plan"}, {"region", "plan", "segment"}} {
		b.Run(fmt.Sprint(len(dims)), func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime()
			for range b.N {
				if _, err := Compute(cols, Query{Dims: dims, Measures: []string{"count", "churn_rate", "monthly_value_sum", "value_at_risk_sum"}, Rows: sel}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user + system time so far: on a shared machine
// it varies less than wall time with the other work.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
