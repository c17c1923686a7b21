package scoring

import (
	"math"
	"slices"
)

// Names of the lists every run computes; a segment's list is
// SegmentListPrefix followed by the segment id.
const (
	ListChurnRisk         = "churn-risk"
	ListValueAtRisk       = "value-at-risk"
	ListHighValueAtRisk   = "high-value-at-risk"
	ListWinBack           = "win-back-candidates"
	ListBadDebtRisk       = "bad-debt-risk"
	SegmentListPrefix     = "segment-"
	highValueQuantile     = 0.8 // high value: monthly value at or above this quantile
	highValueRiskQuantile = 0.5 // at risk: probability above this quantile (the median)
)

// ListSummary is one list of a run, without its ids.
type ListSummary struct {
	Name      string `json:"name"`
	Title     string `json:"title"`
	Customers int    `json:"customers"`
}

// The lists of a run (rankAcc.listsOf builds them from the buckets' rank
// rows; listsBruteForce in the tests from every row), each at most the
// plan's ListSize long. Ties are broken by subscriber id, so a list is
// the same for the same scores.
//
//   - churn-risk: scored (active or suspended) customers by churn
//     probability, highest first.
//   - value-at-risk: scored customers by value at risk (probability × CLV),
//     highest first.
//   - high-value-at-risk: scored customers whose monthly value is in the
//     run's top fifth (at or above the 80th percentile of scored customers'
//     monthly value) and whose churn probability is above the run's median;
//     by churn probability, highest first.
//   - win-back-candidates: customers deactivated in the three months before
//     the newest register snapshot, by monthly value, highest first.
//   - bad-debt-risk: scored customers by bad-debt probability (2+
//     consecutive bills in arrears within the bad-debt model's horizon),
//     highest first; empty without a bad-debt model (badDebt false).
//   - segment-<id>: one per segment of the segmentation, its scored
//     customers by churn probability, highest first.
//
// A customer is "scored" here when its lifecycle is not lost.

// quantile is the q-quantile of v by nearest rank (the smallest value with
// at least a q share of values at or below it); NaN when v is empty.
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[quantileIndex(len(s), q)]
}

// quantileIndex is where quantile's answer is among n (n > 0) numbers
// sorted ascending.
func quantileIndex(n int, q float64) int {
	k := int(math.Ceil(q*float64(n))) - 1
	return min(n-1, max(0, k))
}
