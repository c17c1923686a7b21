package scoring

import (
	"math"
	"time"

	"github.com/telcolake/telcolake/models/serving"
)

// CLV is a customer's lifetime value under v, as serving.ValueModel
// documents it:
//
//	CLV = monthlyProfit × Σ_{t=1..HorizonMonths} ((1−p_m) / (1+d))^t
//
// where p_m = 1 − (1−probability)^(1/LabelHorizonMonths) is the monthly
// churn hazard that, held constant, gives the predicted probability over
// the label's horizon, and d = (1+AnnualDiscountRate)^(1/12) − 1 is the
// monthly rate equivalent to the annual one. A probability of 1 gives 0;
// probabilities outside [0, 1] are clamped. A loss-making customer
// (negative profit) has a negative CLV.
func CLV(v serving.ValueModel, monthlyProfit, probability float64) float64 {
	p := min(1, max(0, probability))
	n := v.LabelHorizonMonths
	if n <= 0 {
		n = defaultLabelHorizon
	}
	pm := 1 - math.Pow(1-p, 1/float64(n))
	d := math.Pow(1+v.AnnualDiscountRate, 1.0/12) - 1
	q := (1 - pm) / (1 + d)
	// Σ q^t for t = 1..H, summed directly: H is small and q may be 1.
	sum, qt := 0.0, 1.0
	for range v.HorizonMonths {
		qt *= q
		sum += qt
	}
	return monthlyProfit * sum
}

// Usage is what a customer's monthly cost to serve depends on.
type Usage struct {
	MonthlyValue float64 // mean bill, net of discount
	Discount     float64 // the feature month's discount
	VoiceMinutes float64
	OffnetShare  float64 // share of outgoing calls to other networks, 0..1
	IntlCalls    float64
	AvgCallS     float64 // mean voice call length, seconds
	CareCalls    float64
	Arrears      float64
	// BadDebtProbability is the bad-debt model's probability (0 without
	// one): expected arrears = it × 2 × MonthlyValue.
	BadDebtProbability float64
}

// Cost is a customer's monthly cost to serve under m, item by item
// (serving.CostModel documents the formula); money rounded to cents.
type Cost struct {
	Network, Interconnect, International, Care, Discount, BadDebt float64
}

// Total is the cost to serve.
func (c Cost) Total() float64 {
	return cents(c.Network + c.Interconnect + c.International + c.Care + c.Discount + c.BadDebt)
}

// CostToServe prices u under m.
func CostToServe(m serving.CostModel, u Usage) Cost {
	nz := func(v float64) float64 { return max(0, zeroNaN(v)) }
	gross := zeroNaN(u.MonthlyValue) + nz(u.Discount)
	return Cost{
		Network:       cents(m.NetworkShare * max(0, gross)),
		Interconnect:  cents(m.OffnetPerMinute * nz(u.VoiceMinutes) * min(1, nz(u.OffnetShare))),
		International: cents(m.IntlPerMinute * nz(u.IntlCalls) * nz(u.AvgCallS) / 60),
		Care:          cents(m.CarePerCall * nz(u.CareCalls)),
		Discount:      cents(nz(u.Discount)),
		BadDebt:       cents(m.BadDebtRate * max(nz(u.Arrears), min(1, nz(u.BadDebtProbability))*2*nz(u.MonthlyValue))),
	}
}

// Profit is gross revenue (monthly value + discount) minus the cost to
// serve, in cents.
func Profit(m serving.CostModel, u Usage) (cost, profit float64) {
	c := CostToServe(m, u).Total()
	return c, cents(zeroNaN(u.MonthlyValue) + max(0, zeroNaN(u.Discount)) - c)
}

// TierBounds are the ranks (0-based, exclusive) where the tiers top1,
// top5 and top20 end among n ranked customers: ⌈n/100⌉, ⌈n/20⌉, ⌈n/5⌉.
func TierBounds(n int) (top1, top5, top20 int) {
	return (n + 99) / 100, (n + 19) / 20, (n + 4) / 5
}

// monthlyValue is the mean bill (amount_due) over the feature months of h
// within the three months ending with h's last, counting only months with
// a bill, rounded to cents; 0 without any bill.
func monthlyValue(h history) float64 {
	if len(h) == 0 {
		return 0
	}
	last := h[len(h)-1].Month
	first := monthBefore(last, 2)
	// In whole cents, so a half cent rounds the same on every platform.
	var cents int64
	n := 0
	for i := len(h) - 1; i >= 0 && h[i].Month >= first; i-- {
		if v := h[i].AmountDue; !math.IsNaN(v) {
			cents += int64(math.Round(v * 100))
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return math.Round(float64(cents)/float64(n)) / 100
}

// monthBefore returns the YYYY-MM label k months before m (YYYY-MM).
func monthBefore(m string, k int) string {
	t, err := time.Parse("2006-01", m)
	if err != nil {
		return m
	}
	return t.AddDate(0, -k, 0).Format("2006-01")
}
