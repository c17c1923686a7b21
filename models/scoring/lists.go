package scoring

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/telcolake/telcolake/models/segment"
	"github.com/telcolake/telcolake/models/serving"
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

// lists ranks the run's customers (sorted by id) into the named lists,
// each at most size long. Ties are broken by subscriber id, so a list is
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
func lists(cs []serving.Customer, seg *segment.Model, size int, badDebt bool) []serving.List {
	var scored, lost []int
	for i := range cs {
		if cs[i].Lifecycle == lifecycleLost {
			lost = append(lost, i)
		} else {
			scored = append(scored, i)
		}
	}
	prob := func(i int) float64 { return cs[i].Probability }
	rank := func(rows []int, key func(int) float64) []string {
		rows = slices.Clone(rows)
		slices.SortStableFunc(rows, func(a, b int) int {
			// Descending by key; rows arrive in id order, kept for ties.
			return cmp.Compare(key(b), key(a))
		})
		ids := make([]string, 0, min(size, len(rows)))
		for _, i := range rows[:min(size, len(rows))] {
			ids = append(ids, cs[i].SubscriberID)
		}
		return ids
	}

	values := make([]float64, 0, len(scored))
	probs := make([]float64, 0, len(scored))
	for _, i := range scored {
		values = append(values, cs[i].MonthlyValue)
		probs = append(probs, cs[i].Probability)
	}
	valueCut, probCut := quantile(values, highValueQuantile), quantile(probs, highValueRiskQuantile)
	var high []int
	for _, i := range scored {
		if cs[i].MonthlyValue >= valueCut && cs[i].Probability > probCut {
			high = append(high, i)
		}
	}

	out := []serving.List{
		{Name: ListChurnRisk, Title: "Highest churn risk",
			Description: "Active and suspended customers by predicted churn probability, highest first.",
			IDs:         rank(scored, prob)},
		{Name: ListValueAtRisk, Title: "Most value at risk",
			Description: "Active and suspended customers by value at risk (churn probability × lifetime value), highest first.",
			IDs:         rank(scored, func(i int) float64 { return cs[i].ValueAtRisk })},
		{Name: ListHighValueAtRisk, Title: "High-value customers at risk",
			Description: fmt.Sprintf("Customers in the top fifth by monthly value (at least %.2f) whose churn probability is above the median (%.1f%%), by churn probability, highest first.",
				valueCut, 100*probCut),
			IDs: rank(high, prob)},
		{Name: ListWinBack, Title: "Win-back candidates",
			Description: "Customers deactivated in the three months before the newest register snapshot, by their last monthly value, highest first.",
			IDs:         rank(lost, func(i int) float64 { return cs[i].MonthlyValue })},
	}
	var worth []int
	hasUplift := false
	for _, i := range scored {
		hasUplift = hasUplift || cs[i].BestOffer != ""
		if cs[i].ContactValue > 0 {
			worth = append(worth, i)
		}
	}
	if hasUplift {
		out = append(out, serving.List{Name: ListBestToContact, Title: "Best to contact",
			Description: "Active and suspended customers whose best offer's expected net value (uplift × CLV − cost per contact, from the uplift model) is above zero, highest first.",
			IDs:         rank(worth, func(i int) float64 { return cs[i].ContactValue })})
	}
	debt := []int{}
	if badDebt {
		debt = scored
	}
	out = append(out, serving.List{Name: ListBadDebtRisk, Title: "Highest bad-debt risk",
		Description: "Active and suspended customers by predicted bad-debt probability (two or more consecutive bills in arrears within the bad-debt model's horizon), highest first; empty while no bad-debt model is promoted.",
		IDs:         rank(debt, func(i int) float64 { return cs[i].BadDebtProbability })})
	if seg != nil {
		for _, s := range seg.Segments {
			var rows []int
			for _, i := range scored {
				if int(cs[i].SegmentID) == s.ID {
					rows = append(rows, i)
				}
			}
			out = append(out, serving.List{Name: SegmentListPrefix + strconv.Itoa(s.ID), Title: "Churn risk in " + s.Name,
				Description: "Active and suspended customers of segment " + strconv.Itoa(s.ID) + " (" + s.Profile + ") by churn probability, highest first.",
				IDs:         rank(rows, prob)})
		}
	}
	return out
}

// quantile is the q-quantile of v by nearest rank (the smallest value with
// at least a q share of values at or below it); NaN when v is empty.
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	k := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(len(s)-1, max(0, k))]
}

// segments describes the segmentation's segments for this run.
func segments(cs []serving.Customer, seg *segment.Model) []serving.Segment {
	type acc struct {
		n        int
		p, value float64
	}
	by := map[int32]*acc{}
	scored := 0
	for _, c := range cs {
		if c.Lifecycle == lifecycleLost {
			continue
		}
		scored++
		a := by[c.SegmentID]
		if a == nil {
			a = &acc{}
			by[c.SegmentID] = a
		}
		a.n++
		a.p += c.Probability
		a.value += c.MonthlyValue
	}
	var out []serving.Segment
	for _, s := range seg.Segments {
		o := serving.Segment{ID: int32(s.ID), Name: s.Name, Profile: s.Profile, ChurnRate: zeroNaN(s.ChurnRate)}
		if a := by[int32(s.ID)]; a != nil {
			o.Customers = a.n
			o.Share = float64(a.n) / float64(scored)
			o.MeanPredicted = a.p / float64(a.n)
			o.MeanValue = a.value / float64(a.n)
		}
		out = append(out, o)
	}
	return out
}
