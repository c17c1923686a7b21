package scoring

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/models/segment"
	"github.com/telcolake/telcolake/models/serving"
)

// The run's ranks computed over every row at once, as the commit did
// before it read the buckets' rank rows: the reference of
// TestRanksMatchBruteForce.

func listsBruteForce(cs []serving.Customer, seg *segment.Model, size int, badDebt bool) []serving.List {
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

// segments describes the segmentation's segments for this run.
func segmentsBruteForce(cs []serving.Customer, seg *segment.Model) []serving.Segment {
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

// assignTiers sets ValueTier on cs: the scored customers (scored[i]) by
// CLV, highest first (ties by subscriber id): the first ⌈1%⌉ top1, up to
// ⌈5%⌉ top5, up to ⌈20%⌉ top20, the rest rest; the others none. The
// boundaries are counts of customers, so a tier's size does not depend on
// ties in CLV.
func assignTiersBruteForce(cs []serving.Customer, scored []bool) {
	var idx []int
	for i := range cs {
		cs[i].ValueTier = serving.TierNone
		if scored[i] {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if c := cmp.Compare(cs[b].CLV, cs[a].CLV); c != 0 {
			return c
		}
		return cmp.Compare(cs[a].SubscriberID, cs[b].SubscriberID)
	})
	n := len(idx)
	b1, b5, b20 := TierBounds(n)
	for k, i := range idx {
		switch {
		case k < b1:
			cs[i].ValueTier = serving.TierTop1
		case k < b5:
			cs[i].ValueTier = serving.TierTop5
		case k < b20:
			cs[i].ValueTier = serving.TierTop20
		default:
			cs[i].ValueTier = serving.TierRest
		}
	}
}

// TestRanksMatchBruteForce: the tiers, lists and segments ranked from the
// buckets' rank rows, one bucket at a time, are those ranked over every
// row at once, with many ties in every key, however the rows fall into
// buckets.
func TestRanksMatchBruteForce(t *testing.T) {
	seg := &segment.Model{Segments: []segment.Segment{{ID: 1, Name: "one", Profile: "p1"}, {ID: 2, Name: "two", Profile: "p2"}, {ID: 3, Name: "three"}}}
	for _, tc := range []struct {
		n, buckets, size int
	}{{1, 1, 5}, {7, 3, 2}, {300, 8, 10}, {1000, 5, 1000}, {2500, 8, 40}} {
		rng := rand.New(rand.NewPCG(uint64(tc.n), 9))
		cs := make([]serving.Customer, tc.n)
		scored := make([]bool, tc.n)
		for i := range cs {
			c := &cs[i]
			c.SubscriberID = fmt.Sprintf("S%05d", rng.IntN(10*tc.n+10)*10+i%10)
			c.Probability = float64(rng.IntN(20)) / 19
			c.MonthlyValue = float64(rng.IntN(30)) * 2.5
			c.CLV = float64(rng.IntN(12)-2) * 100 // ties, negatives, zeros
			c.ValueAtRisk = float64(rng.IntN(9)) * 3.25
			c.Profit = float64(rng.IntN(500)-100) / 100
			c.BadDebtProbability = float64(rng.IntN(5)) / 4
			c.ContactValue = float64(rng.IntN(7) - 3)
			if rng.IntN(3) == 0 {
				c.BestOffer = "sms"
			}
			c.SegmentID = int32(rng.IntN(4))
			c.Region, c.Plan = []string{"N", "S", ""}[rng.IntN(3)], fmt.Sprintf("P%d", rng.IntN(3))
			c.Lifecycle = []string{lifecycleNew, lifecycleLoyal, lifecycleLost}[rng.IntN(3)]
			scored[i] = c.Lifecycle != lifecycleLost || rng.IntN(10) == 0 // a lost row scored now and then
		}
		slices.SortFunc(cs, func(a, b serving.Customer) int { return cmp.Compare(a.SubscriberID, b.SubscriberID) })
		cs = slices.CompactFunc(cs, func(a, b serving.Customer) bool { return a.SubscriberID == b.SubscriberID })
		scored = scored[:len(cs)]
		buckets := make([]*bucketRanks, tc.buckets)
		for k := range buckets {
			buckets[k] = &bucketRanks{Bucket: k}
		}
		prev := make([]uint8, len(cs))
		for i := range cs {
			b := buckets[rng.IntN(tc.buckets)]
			prev[i] = uint8(rng.IntN(len(serving.Tiers)))
			b.Rows = append(b.Rows, rankRowOf(&cs[i], scored[i], prev[i]))
		}
		rk, err := rankRun(tc.size, seg, true, true, func(fn func(*bucketRanks)) error {
			for _, b := range buckets {
				fn(b)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("n=%d: %v", tc.n, err)
		}
		want := slices.Clone(cs)
		assignTiersBruteForce(want, scored)
		mig := make([][]int64, len(serving.Tiers))
		for i := range mig {
			mig[i] = make([]int64, len(serving.Tiers))
		}
		for i := range want {
			if got := rk.cuts.of(scored[i], cs[i].CLV, cs[i].SubscriberID); got != want[i].ValueTier {
				t.Errorf("n=%d: customer %s (CLV %v): tier %s, want %s", tc.n, cs[i].SubscriberID, cs[i].CLV, got, want[i].ValueTier)
			}
			mig[prev[i]][tierIndex(want[i].ValueTier)]++
		}
		// The migration counted in the third pass, the customers on a
		// cut-off's CLV once the cut-offs' ids are known.
		if !reflect.DeepEqual(rk.migration, mig) {
			t.Errorf("n=%d: tier migration %v, want %v", tc.n, rk.migration, mig)
		}
		if wl := listsBruteForce(cs, seg, tc.size, true); !reflect.DeepEqual(rk.lists, wl) {
			for k := range wl {
				if k < len(rk.lists) && !reflect.DeepEqual(rk.lists[k], wl[k]) {
					t.Errorf("n=%d: list %s:\n got %v\nwant %v", tc.n, wl[k].Name, rk.lists[k], wl[k])
				}
			}
			if len(rk.lists) != len(wl) {
				t.Errorf("n=%d: %d lists, want %d", tc.n, len(rk.lists), len(wl))
			}
		}
		var probs []float64
		for i := range cs {
			if cs[i].Lifecycle != lifecycleLost {
				probs = append(probs, cs[i].Probability)
			}
		}
		if want := insight.TopShareThreshold(probs, insight.AtRiskShare); rk.th != want {
			t.Errorf("n=%d: at-risk threshold %v, want %v", tc.n, rk.th, want)
		}
		gs, ws := rk.acc.segmentsOf(seg), segmentsBruteForce(cs, seg)
		for k := range ws {
			g, w := gs[k], ws[k]
			if g.ID != w.ID || g.Customers != w.Customers || g.Share != w.Share ||
				math.Abs(g.MeanPredicted-w.MeanPredicted) > 1e-12 || math.Abs(g.MeanValue-w.MeanValue) > 1e-9 {
				t.Errorf("n=%d: segment %d: %+v, want %+v", tc.n, w.ID, g, w)
			}
		}
	}
}

// TestExactSumIgnoresOrder: the sums of the summary and the segments are
// the same in any order of their terms, as the buckets' add up to one
// process's.
func TestExactSumIgnoresOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	v := make([]float64, 10000)
	for i := range v {
		v[i] = rng.Float64()
		if i%100 == 0 {
			v[i] = -rng.Float64() * 1e3 // outside [0, 1]: the slow path
		}
	}
	var a exactSum
	for _, x := range v {
		a.add(x)
	}
	rng.Shuffle(len(v), func(i, j int) { v[i], v[j] = v[j], v[i] })
	var s exactSum
	for _, x := range v {
		s.add(x)
	}
	if a.float() != s.float() {
		t.Errorf("sum %v in one order, %v in another", a.float(), s.float())
	}
	var plain float64
	for _, x := range v {
		plain += x
	}
	if math.Abs(a.float()-plain) > 1e-6 {
		t.Errorf("exact sum %v, plain sum %v", a.float(), plain)
	}
}
