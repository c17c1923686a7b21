package campaign

import "math"

// z95 is the standard normal quantile for a two-sided 95% interval.
const z95 = 1.959963984540054

// Interval is an estimate with its 95% interval.
type Interval struct {
	Estimate float64 `json:"estimate"`
	Lo       float64 `json:"lo"`
	Hi       float64 `json:"hi"`
}

// Wilson returns the Wilson score 95% interval of x successes in n trials.
func Wilson(x, n int) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	p, nf := float64(x)/float64(n), float64(n)
	z2 := z95 * z95
	centre := (p + z2/(2*nf)) / (1 + z2/nf)
	half := z95 / (1 + z2/nf) * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return max(0, centre-half), min(1, centre+half)
}

// NewcombeMethod names the interval DiffInterval computes.
const NewcombeMethod = "Newcombe hybrid score interval (method 10, from Wilson intervals), 95%"

// DiffInterval is the difference p1 − p2 of two proportions (x1 of n1,
// x2 of n2) with Newcombe's hybrid score 95% interval (Newcombe 1998,
// method 10).
func DiffInterval(x1, n1, x2, n2 int) Interval {
	if n1 == 0 || n2 == 0 {
		return Interval{Estimate: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
	}
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	l1, u1 := Wilson(x1, n1)
	l2, u2 := Wilson(x2, n2)
	d := p1 - p2
	return Interval{
		Estimate: d,
		Lo:       d - math.Sqrt((p1-l1)*(p1-l1)+(u2-p2)*(u2-p2)),
		Hi:       d + math.Sqrt((u1-p1)*(u1-p1)+(p2-l2)*(p2-l2)),
	}
}

// scale multiplies an interval by k ≥ 0.
func (iv Interval) scale(k float64) Interval {
	return Interval{Estimate: iv.Estimate * k, Lo: iv.Lo * k, Hi: iv.Hi * k}
}

// Power is the chance that a two-cell test of a difference in churn (two
// proportions, two-sided at 5%, normal approximation with each arm's own
// variance) finds a true control churn pc against treated churn pt with
// nc control and nt treated customers: Φ(|pc − pt|/SE − z) + Φ(−|pc − pt|/SE − z),
// SE = √(pc(1 − pc)/nc + pt(1 − pt)/nt). 0.05 (the test's size) when
// there is no difference; NaN without customers in an arm.
func Power(pc, pt float64, nc, nt int) float64 {
	if nc <= 0 || nt <= 0 {
		return math.NaN()
	}
	se := math.Sqrt(pc*(1-pc)/float64(nc) + pt*(1-pt)/float64(nt))
	if se == 0 {
		if pc == pt {
			return 0.05
		}
		return 1
	}
	d := math.Abs(pc-pt) / se
	phi := func(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
	return phi(d-z95) + phi(-d-z95)
}
