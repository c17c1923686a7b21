package scoring

import (
	"math"
	"time"

	"github.com/telcolake/telcolake/models/serving"
)

// CLV is a customer's lifetime value under v, as serving.ValueModel
// documents it:
//
//	CLV = Margin × monthlyValue × Σ_{t=1..HorizonMonths} ((1−p_m) / (1+d))^t
//
// where p_m = 1 − (1−probability)^(1/LabelHorizonMonths) is the monthly
// churn hazard that, held constant, gives the predicted probability over
// the label's horizon, and d = (1+AnnualDiscountRate)^(1/12) − 1 is the
// monthly rate equivalent to the annual one. A probability of 1 gives 0;
// probabilities outside [0, 1] are clamped.
func CLV(v serving.ValueModel, monthlyValue, probability float64) float64 {
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
	return v.Margin * monthlyValue * sum
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
