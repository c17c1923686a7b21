package insight

import (
	"fmt"
	"math"
	"sync"
)

// ExpectedArrearsColumn is the derived column of expected arrears the
// expected_arrears_sum measure sums: per customer, min(1, bad-debt
// probability) × 2 × max(0, monthly value), in whole cents (rounded half
// away from zero), as the cost to serve prices it.
const ExpectedArrearsColumn = "expected_arrears"

// derivedCents are the cube's columns computed from a snapshot's own, in
// whole cents, so their sums are exact and add across shards like a
// stored money column's.
var derivedCents = map[string]func(Columns) ([]int64, error){
	ExpectedArrearsColumn: expectedArrears,
}

// arrearsCache keeps the expected arrears of the last snapshot read: the
// snapshot's columns are immutable, so the same two source columns give
// the same derived one, and a cube of every measure (the default) costs
// no pass over all customers after the first. Holding the source slices
// keeps their arrays alive, so a key is never reused by another snapshot.
var arrearsCache struct {
	sync.Mutex
	p   []int32
	v   []int32
	out []int64
}

// expectedArrears computes (or finds) the expected arrears column of cols.
func expectedArrears(cols Columns) ([]int64, error) {
	n := cols.Len()
	p, scale := cols.Fixed("bad_debt_probability")
	v := cols.Cents("monthly_value")
	if len(p) != n || len(v) != n {
		return nil, fmt.Errorf("insight: column %s: bad_debt_probability or monthly_value missing", ExpectedArrearsColumn)
	}
	c := &arrearsCache
	c.Lock()
	defer c.Unlock()
	if n > 0 && len(c.p) == n && &c.p[0] == &p[0] && &c.v[0] == &v[0] {
		return c.out, nil
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = ExpectedArrearsCents(float64(p[i])/scale, int64(v[i]))
	}
	if n > 0 {
		c.p, c.v, c.out = p, v, out
	}
	return out, nil
}

// ExpectedArrearsCents is one customer's expected arrears in whole cents:
// min(1, max(0, p)) × 2 × max(0, monthly value in cents), NaN p as 0.
func ExpectedArrearsCents(p float64, monthlyValueCents int64) int64 {
	if !(p > 0) {
		return 0
	}
	return int64(math.Round(min(1, p) * 2 * float64(max(0, monthlyValueCents))))
}
