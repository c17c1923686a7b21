package forecast

import (
	"fmt"
	"math"
)

// PriceObservation is one customer's plan change: the price difference of
// the new plan against the old (%), and whether they left within the
// months after.
type PriceObservation struct {
	ChangePct float64
	Churned   bool
}

// Elasticity estimates the churn elasticity of price from plan changes:
// a least-squares line churn = a + b·x over the observations' price
// changes x (%), ε = 100·b/a the % change of churn per 1% price change at
// no change (ε = 2: 10% dearer, a fifth more churn), its standard error by the delta method from the OLS covariance
// (heteroscedasticity-robust, HC1, as churn is 0/1). It needs at least 30
// observations with at least two distinct price changes and churn at no
// change above zero.
func Elasticity(obs []PriceObservation) (Estimate, error) {
	n := float64(len(obs))
	if len(obs) < 30 {
		return Estimate{}, fmt.Errorf("forecast: elasticity: %d plan change(s); at least 30 are needed", len(obs))
	}
	var mx, my float64
	for _, o := range obs {
		mx += o.ChangePct
		if o.Churned {
			my++
		}
	}
	mx, my = mx/n, my/n
	var sxx, sxy float64
	for _, o := range obs {
		dx := o.ChangePct - mx
		sxx += dx * dx
		sxy += dx * (b2f(o.Churned) - my)
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
	for _, o := range obs {
		x := o.ChangePct
		e := b2f(o.Churned) - a - b*x
		s00++
		s01 += x
		s11 += x * x
		e2 := e * e
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
		Source: fmt.Sprintf("estimated from %d plan changes (OLS, HC1, delta method)", len(obs))}, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
