package forecast

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// PriceObservation is one customer's plan change: the price difference of
// the new plan against the old (%), and whether they left within the
// months after.
type PriceObservation struct {
	ChangePct float64
	Churned   bool
}

// PriceCell is the observations of one price difference: N customers
// whose plan's price changed by ChangePct (%; 0 for customers who kept
// their plan), Churned of whom left within the months after.
type PriceCell struct {
	ChangePct  float64
	N, Churned int
}

// Elasticity estimates the churn elasticity of price from plan changes:
// a least-squares line churn = a + b·x over the observations' price
// changes x (%), ε = 100·b/a the % change of churn per 1% price change at
// no change (ε = 2: 10% dearer, a fifth more churn), its standard error by the delta method from the OLS covariance
// (heteroscedasticity-robust, HC1, as churn is 0/1). It needs at least 30
// observations with at least two distinct price changes and churn at no
// change above zero.
func Elasticity(obs []PriceObservation) (Estimate, error) {
	by := map[float64]*PriceCell{}
	for _, o := range obs {
		c := by[o.ChangePct]
		if c == nil {
			c = &PriceCell{ChangePct: o.ChangePct}
			by[o.ChangePct] = c
		}
		c.N++
		if o.Churned {
			c.Churned++
		}
	}
	cells := make([]PriceCell, 0, len(by))
	for _, c := range by {
		cells = append(cells, *c)
	}
	slices.SortFunc(cells, func(a, b PriceCell) int { return cmp.Compare(a.ChangePct, b.ChangePct) })
	e, err := ElasticityCells(cells)
	if err == nil {
		e.Source = fmt.Sprintf("estimated from %d plan changes (OLS, HC1, delta method)", len(obs))
	}
	return e, err
}

// ElasticityCells is Elasticity over observations counted by price
// difference (the same estimate: churn is 0/1, so the cells are
// sufficient). Its Source counts the plan changes, the observations with
// a price difference.
func ElasticityCells(cells []PriceCell) (Estimate, error) {
	var n, mx, my float64
	changes := 0
	for _, c := range cells {
		if c.N < 0 || c.Churned < 0 || c.Churned > c.N {
			return Estimate{}, fmt.Errorf("forecast: elasticity: cell %+v", c)
		}
		n += float64(c.N)
		mx += float64(c.N) * c.ChangePct
		my += float64(c.Churned)
		if c.ChangePct != 0 {
			changes += c.N
		}
	}
	if n < 30 {
		return Estimate{}, fmt.Errorf("forecast: elasticity: %.0f observation(s); at least 30 are needed", n)
	}
	mx, my = mx/n, my/n
	var sxx, sxy float64
	for _, c := range cells {
		dx := c.ChangePct - mx
		sxx += float64(c.N) * dx * dx
		sxy += dx * (float64(c.Churned) - float64(c.N)*my)
	}
	if sxx == 0 {
		return Estimate{}, fmt.Errorf("forecast: elasticity: every plan change has the same price difference")
	}
	b := sxy / sxx
	a := my - b*mx
	if a <= 0 {
		return Estimate{}, fmt.Errorf("forecast: elasticity: no churn at an unchanged price (intercept %.4f)", a)
	}
	// HC1 sandwich: (X'X)^-1 X' diag(e²) X (X'X)^-1 · n/(n-2).
	var s00, s01, s11 float64 // X'X
	var m00, m01, m11 float64 // X' diag(e²) X
	for _, c := range cells {
		x, w := c.ChangePct, float64(c.N)
		e1, e0 := 1-a-b*x, -a-b*x
		e2 := float64(c.Churned)*e1*e1 + float64(c.N-c.Churned)*e0*e0
		s00 += w
		s01 += w * x
		s11 += w * x * x
		m00 += e2
		m01 += e2 * x
		m11 += e2 * x * x
	}
	det := s00*s11 - s01*s01
	i00, i01, i11 := s11/det, -s01/det, s00/det
	// V = I M I with I symmetric 2×2.
	t00, t01 := i00*m00+i01*m01, i00*m01+i01*m11
	t10, t11 := i01*m00+i11*m01, i01*m01+i11*m11
	scale := n / (n - 2)
	vaa := (t00*i00 + t01*i01) * scale
	vab := (t00*i01 + t01*i11) * scale
	vbb := (t10*i01 + t11*i11) * scale
	eps := 100 * b / a
	// Delta method: ∂ε/∂b = 100/a, ∂ε/∂a = −100·b/a².
	ga, gb := -100*b/(a*a), 100/a
	se := math.Sqrt(ga*ga*vaa + 2*ga*gb*vab + gb*gb*vbb)
	return Estimate{Value: eps, Lo: eps - z95*se, Hi: eps + z95*se,
		Source: fmt.Sprintf("estimated from %d plan changes (OLS, HC1, delta method)", changes)}, nil
}
