package scoring

import (
	"cmp"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"slices"
	"strconv"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/models/segment"
	"github.com/telcolake/telcolake/models/serving"
)

// What a run ranks over every customer (value tiers, the lists, the
// segments' figures, the sums of the summary, the tier migration, the
// at-risk causes) is computed by the commit from each bucket's rank rows
// (rankRow: a few numbers and short strings per customer, no detail),
// read one bucket at a time. What the commit keeps across buckets is the
// lists' candidates (at most ListSize per list), the sums, and histograms
// of the quantiles' and tiers' inputs (CLV, monthly value, churn
// probability), of a fixed size whatever the customers, then the numbers
// of the few bins where the quantiles and cut-offs are (select.go). The
// value tier of each customer is then a comparison with three cut-offs
// (tierCuts), applied where the snapshot's rows are merged
// (serving.MergeFrom) and crm.scores is written.

// rankRow is what the commit reads of one customer.
type rankRow struct {
	ID string
	// Scored: active or suspended in the register, ranked into value
	// tiers and summed; false: a win-back row. Lost: its lifecycle is
	// lost, which puts it on the win-back list and out of the other lists,
	// the segments' figures and the causes (the same as !Scored but for a
	// customer without a register row whose features say deactivated).
	Scored, Lost       bool
	Probability        float64
	MonthlyValue       float64
	CLV                float64
	ValueAtRisk        float64
	Profit             float64
	BadDebtProbability float64
	ContactValue       float64
	HasOffer           bool // a best offer (an uplift model scored it)
	SegmentID          int32
	Region, Plan       string
	SegmentName        string
	Cause              string // insight.CauseOf its first reason
	// PrevTier is the customer's tier in the plan's previous-month run
	// (index in serving.Tiers; TierNone's when not in it).
	PrevTier uint8
}

// bucketRanks is a bucket's rank file: its customers' rank rows in id
// order, and the previous-month run's customers of the bucket that are not
// in this run, counted by their tier then.
type bucketRanks struct {
	Bucket int
	Rows   []rankRow
	Gone   []int64 // by serving.Tiers index
	// Survival is the bucket's survival observations (every subscriber
	// of the bucket in the register), counted: the lifecycle report's
	// curves add the buckets' up.
	Survival survivalTally
}

func rankRowOf(c *serving.Customer, scored bool, prev uint8) rankRow {
	lost := c.Lifecycle == lifecycleLost
	cause := ""
	if len(c.Reasons) > 0 {
		cause = insight.CauseOf(c.Reasons[0])
	}
	return rankRow{ID: c.SubscriberID, Scored: scored, Lost: lost, Probability: c.Probability, MonthlyValue: c.MonthlyValue,
		CLV: c.CLV, ValueAtRisk: c.ValueAtRisk, Profit: c.Profit, BadDebtProbability: c.BadDebtProbability,
		ContactValue: c.ContactValue, HasOffer: c.BestOffer != "", SegmentID: c.SegmentID,
		Region: c.Region, Plan: c.Plan, SegmentName: c.SegmentName, Cause: cause, PrevTier: prev}
}

// exactSum adds numbers in whole units of 2^-60 (a probability in [0, 1]
// is exact to 2^-60), so that a sum does not depend on the order of its
// terms: the buckets' sums add up to what one process sums. Terms are
// truncated to 2^-60; NaN and infinities are left out.
type exactSum struct {
	hi, lo uint64  // terms in [0, 1], 128 bits
	other  big.Int // the rest
}

func (s *exactSum) add(x float64) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return
	}
	if x >= 0 && x <= 1 {
		var c uint64
		s.lo, c = bits.Add64(s.lo, uint64(math.Ldexp(x, 60)), 0)
		s.hi += c
		return
	}
	f := new(big.Float).SetMantExp(big.NewFloat(x), 60)
	i, _ := f.Int(nil)
	s.other.Add(&s.other, i)
}

func (s *exactSum) float() float64 {
	v := new(big.Int).Lsh(new(big.Int).SetUint64(s.hi), 64)
	v.Add(v, new(big.Int).SetUint64(s.lo))
	v.Add(v, &s.other)
	f := new(big.Float).SetInt(v)
	out, _ := new(big.Float).SetMantExp(f, -60).Float64()
	return out
}

// centsSum adds money in whole cents.
type centsSum int64

func (s *centsSum) add(x float64) { *s += centsSum(math.Round(zeroNaN(x) * 100)) }

func (s centsSum) float() float64 { return float64(s) / 100 }

// ranked is one list's candidate.
type ranked struct {
	key float64
	id  string
}

// before orders candidates: key descending, then id ascending (a list
// ranks ties by subscriber id).
func before(a, b ranked) int {
	if c := cmp.Compare(b.key, a.key); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// topK keeps the k first candidates by before.
type topK struct {
	k    int
	rows []ranked
}

func (t *topK) add(key float64, id string) {
	if t.k <= 0 {
		return
	}
	t.rows = append(t.rows, ranked{key, id})
	if len(t.rows) >= 2*t.k+64 {
		t.trim()
	}
}

func (t *topK) trim() {
	slices.SortFunc(t.rows, before)
	t.rows = slices.Clip(t.rows[:min(t.k, len(t.rows))])
}

func (t *topK) ids() []string {
	t.trim()
	out := make([]string, len(t.rows))
	for i, r := range t.rows {
		out[i] = r.id
	}
	return out
}

// segAcc is a segment's partial figures.
type segAcc struct {
	n     int
	p     exactSum
	value centsSum
}

// rankAcc accumulates the first pass over every bucket's rank rows.
type rankAcc struct {
	size                     int
	scored, winBack, live    int // live: not lost
	sumP, sumBadDebt         exactSum
	valueAtRisk, profit      centsSum
	clv                      *histogram // of the scored customers
	values, probs            *histogram // of the live ones
	churn, var_, winBackList topK
	contact, badDebt         topK
	hasOffer                 bool
	bySeg                    map[int32]*segAcc
	segLists                 map[int32]*topK
	gone                     []int64
	customers                int
}

func newRankAcc(size int, seg *segment.Model) *rankAcc {
	a := &rankAcc{size: size, churn: topK{k: size}, var_: topK{k: size}, winBackList: topK{k: size},
		contact: topK{k: size}, badDebt: topK{k: size}, bySeg: map[int32]*segAcc{}, segLists: map[int32]*topK{},
		gone: make([]int64, len(serving.Tiers)), clv: newHistogram(), values: newHistogram(), probs: newHistogram()}
	if seg != nil {
		for _, s := range seg.Segments {
			a.segLists[int32(s.ID)] = &topK{k: size}
		}
	}
	return a
}

// add takes one bucket's rank rows.
func (a *rankAcc) add(b *bucketRanks) {
	for k, n := range b.Gone {
		if k < len(a.gone) {
			a.gone[k] += n
		}
	}
	a.customers += len(b.Rows)
	for i := range b.Rows {
		r := &b.Rows[i]
		if r.Scored {
			a.scored++
			a.sumP.add(r.Probability)
			a.sumBadDebt.add(r.BadDebtProbability)
			a.valueAtRisk.add(r.ValueAtRisk)
			a.profit.add(r.Profit)
			a.clv.add(r.CLV)
		} else {
			a.winBack++
		}
		if r.Lost {
			a.winBackList.add(r.MonthlyValue, r.ID)
			continue
		}
		a.live++
		a.values.add(r.MonthlyValue)
		a.probs.add(r.Probability)
		a.churn.add(r.Probability, r.ID)
		a.var_.add(r.ValueAtRisk, r.ID)
		a.badDebt.add(r.BadDebtProbability, r.ID)
		a.hasOffer = a.hasOffer || r.HasOffer
		if r.ContactValue > 0 {
			a.contact.add(r.ContactValue, r.ID)
		}
		s := a.bySeg[r.SegmentID]
		if s == nil {
			s = &segAcc{}
			a.bySeg[r.SegmentID] = s
		}
		s.n++
		s.p.add(r.Probability)
		s.value.add(r.MonthlyValue)
		if l := a.segLists[r.SegmentID]; l != nil {
			l.add(r.Probability, r.ID)
		}
	}
}

// tierCut is the last customer of a tier in CLV order (CLV descending,
// then id ascending); a tier of no customers has none.
// Its fields are exported for the rank step's file (gob).
type tierCut struct {
	OK  bool
	CLV float64
	ID  string
	// Above is how many scored customers have a CLV above CLV; the
	// customers with CLV equal to it are ranked by id, and the cut is
	// the (Rank - Above)-th of them.
	Above, Rank int
	ties        []string
}

// tierCuts are the cut-offs of top1, top5 and top20.
type tierCuts [3]tierCut

// tierPicks starts resolving the cut-offs' CLV from the scored
// customers' histogram (clv); their ids need a pass over the rows with
// that CLV (tie, then resolve).
func tierPicks(clv *histogram) [3]*pick {
	var picks [3]*pick
	b1, b5, b20 := TierBounds(clv.n)
	for j, b := range []int{b1, b5, b20} {
		if b > 0 {
			picks[j] = clv.pick(clv.n - b) // the b-th largest
		}
	}
	return picks
}

// newTierCuts is the cut-offs of the resolved picks (tierPicks).
func newTierCuts(picks [3]*pick, n int) tierCuts {
	var cuts tierCuts
	b1, b5, b20 := TierBounds(n)
	for j, b := range []int{b1, b5, b20} {
		if picks[j] == nil {
			continue
		}
		v, above := picks[j].value(n)
		cuts[j] = tierCut{OK: true, CLV: v, Above: above, Rank: b - 1}
	}
	return cuts
}

// tie offers a scored customer to the cut-offs whose CLV it has.
func (c *tierCuts) tie(clv float64, id string) {
	for j := range c {
		if c[j].OK && cmp.Compare(clv, c[j].CLV) == 0 {
			c[j].ties = append(c[j].ties, id)
		}
	}
}

// onCut says whether a CLV is a cut-off's: its tier needs the cut-off's
// id, known once resolved.
func (c *tierCuts) onCut(clv float64) bool {
	for j := range c {
		if c[j].OK && cmp.Compare(clv, c[j].CLV) == 0 {
			return true
		}
	}
	return false
}

// resolve picks each cut-off's id among its ties.
func (c *tierCuts) resolve() error {
	for j := range c {
		if !c[j].OK {
			continue
		}
		slices.Sort(c[j].ties)
		k := c[j].Rank - c[j].Above
		if k < 0 || k >= len(c[j].ties) {
			return fmt.Errorf("scoring: value tier cut-off %d: %d customers share its CLV, rank %d of them wanted", j, len(c[j].ties), k)
		}
		c[j].ID = c[j].ties[k]
		c[j].ties = nil
	}
	return nil
}

// of is the value tier of a customer.
func (c *tierCuts) of(scored bool, clv float64, id string) string {
	if !scored {
		return serving.TierNone
	}
	for j, t := range []string{serving.TierTop1, serving.TierTop5, serving.TierTop20} {
		if !c[j].OK {
			continue
		}
		if d := cmp.Compare(clv, c[j].CLV); d > 0 || (d == 0 && id <= c[j].ID) {
			return t
		}
	}
	return serving.TierRest
}

// tierIndex is t's index in serving.Tiers (TierNone's for another value).
func tierIndex(t string) uint8 {
	if i := slices.Index(serving.Tiers, t); i >= 0 {
		return uint8(i)
	}
	return uint8(slices.Index(serving.Tiers, serving.TierNone))
}

// listsOf builds the run's lists from the accumulated candidates and the
// high-value candidates of the second pass (the definitions are at lists).
func (a *rankAcc) listsOf(seg *segment.Model, badDebt bool, valueCut, probCut float64, high *topK) []serving.List {
	out := []serving.List{
		{Name: ListChurnRisk, Title: "Highest churn risk",
			Description: "Active and suspended customers by predicted churn probability, highest first.",
			IDs:         a.churn.ids()},
		{Name: ListValueAtRisk, Title: "Most value at risk",
			Description: "Active and suspended customers by value at risk (churn probability × lifetime value), highest first.",
			IDs:         a.var_.ids()},
		{Name: ListHighValueAtRisk, Title: "High-value customers at risk",
			Description: fmt.Sprintf("Customers in the top fifth by monthly value (at least %.2f) whose churn probability is above the median (%.1f%%), by churn probability, highest first.",
				valueCut, 100*probCut),
			IDs: high.ids()},
		{Name: ListWinBack, Title: "Win-back candidates",
			Description: "Customers deactivated in the three months before the newest register snapshot, by their last monthly value, highest first.",
			IDs:         a.winBackList.ids()},
	}
	if a.hasOffer {
		out = append(out, serving.List{Name: ListBestToContact, Title: "Best to contact",
			Description: "Active and suspended customers whose best offer's expected net value (uplift × CLV − cost per contact, from the uplift model) is above zero, highest first.",
			IDs:         a.contact.ids()})
	}
	debt := []string{}
	if badDebt {
		debt = a.badDebt.ids()
	}
	out = append(out, serving.List{Name: ListBadDebtRisk, Title: "Highest bad-debt risk",
		Description: "Active and suspended customers by predicted bad-debt probability (two or more consecutive bills in arrears within the bad-debt model's horizon), highest first; empty while no bad-debt model is promoted.",
		IDs:         debt})
	if seg != nil {
		for _, s := range seg.Segments {
			out = append(out, serving.List{Name: SegmentListPrefix + strconv.Itoa(s.ID), Title: "Churn risk in " + s.Name,
				Description: "Active and suspended customers of segment " + strconv.Itoa(s.ID) + " (" + s.Profile + ") by churn probability, highest first.",
				IDs:         a.segLists[int32(s.ID)].ids()})
		}
	}
	return out
}

// segmentsOf describes the segmentation's segments from the partials (as
// segments does from every row).
func (a *rankAcc) segmentsOf(seg *segment.Model) []serving.Segment {
	var out []serving.Segment
	for _, s := range seg.Segments {
		o := serving.Segment{ID: int32(s.ID), Name: s.Name, Profile: s.Profile, ChurnRate: zeroNaN(s.ChurnRate)}
		if p := a.bySeg[int32(s.ID)]; p != nil && p.n > 0 {
			o.Customers = p.n
			o.Share = float64(p.n) / float64(a.live)
			o.MeanPredicted = p.p.float() / float64(p.n)
			o.MeanValue = p.value.float() / float64(p.n)
		}
		out = append(out, o)
	}
	return out
}

// runRanks is what the commit ranks over every bucket's rank rows.
type runRanks struct {
	acc   *rankAcc
	cuts  tierCuts
	lists []serving.List
	// th is the at-risk threshold of the causes report, atRisk the at-risk
	// customers' leading causes counted by group, per causeGroups entry.
	th     float64
	atRisk []insight.ReasonCounts
	// held is how many numbers the quantiles and cut-offs held at once:
	// those of the histograms' bins where they are.
	held int
	// migration counts the customers by their tier in the previous-month
	// run (rankRow.PrevTier) and in this one, by serving.Tiers index (nil
	// unless asked for); the customers gone since are the caller's.
	migration [][]int64
}

// rankRun reads every bucket's rank rows three times (each hands them
// over one bucket at a time): first the sums, the lists' candidates and
// the histograms of the quantiles' inputs, then the numbers of the bins
// where the quantiles and cut-offs are (select.go), then the high-value
// list's candidates, the at-risk customers, the customers who share a
// tier cut-off's CLV and, when migrate, the tier migration (the tier of a
// customer on a cut-off's CLV is counted once the cut-offs' ids are
// known; such customers are the cut-offs' ties, held anyway).
func rankRun(size int, seg *segment.Model, badDebt, migrate bool, each func(func(*bucketRanks)) error) (*runRanks, error) {
	acc := newRankAcc(size, seg)
	if err := each(acc.add); err != nil {
		return nil, err
	}
	values, probs := acc.values, acc.probs
	var valuePick, probPick, thPick *pick
	if probs.n > 0 {
		valuePick, probPick = values.pick(quantileIndex(values.n, highValueQuantile)), probs.pick(quantileIndex(probs.n, highValueRiskQuantile))
		thPick = probs.pick(insight.TopShareIndex(probs.n, insight.AtRiskShare))
	}
	tiers := tierPicks(acc.clv)
	if err := each(func(br *bucketRanks) {
		for i := range br.Rows {
			row := &br.Rows[i]
			if row.Scored {
				for _, p := range tiers {
					if p != nil {
						p.offer(row.CLV)
					}
				}
			}
			if !row.Lost && valuePick != nil {
				valuePick.offer(row.MonthlyValue)
				probPick.offer(row.Probability)
				thPick.offer(row.Probability)
			}
		}
	}); err != nil {
		return nil, err
	}
	held := 0
	for _, p := range append(tiers[:], valuePick, probPick, thPick) {
		if p != nil {
			held += len(p.in)
		}
	}
	// quantile's and TopShareThreshold's answers without a live customer.
	valueCut, probCut, th := math.NaN(), math.NaN(), 1.0
	if valuePick != nil {
		valueCut, _ = valuePick.value(values.n)
		probCut, _ = probPick.value(probs.n)
		th, _ = thPick.value(probs.n)
	}
	rk := &runRanks{acc: acc, th: th, cuts: newTierCuts(tiers, acc.clv.n), held: held,
		atRisk: make([]insight.ReasonCounts, len(causeGroups))}
	for g := range rk.atRisk {
		rk.atRisk[g] = insight.ReasonCounts{}
	}
	acc.clv, acc.values, acc.probs = nil, nil, nil
	high := &topK{k: size}
	type onCut struct {
		id   string
		clv  float64
		prev uint8
	}
	var pending []onCut
	if migrate {
		rk.migration = make([][]int64, len(serving.Tiers))
		for i := range rk.migration {
			rk.migration[i] = make([]int64, len(serving.Tiers))
		}
	}
	if err := each(func(br *bucketRanks) {
		for i := range br.Rows {
			row := &br.Rows[i]
			if row.Scored {
				rk.cuts.tie(row.CLV, row.ID)
			}
			if migrate {
				if row.Scored && rk.cuts.onCut(row.CLV) {
					pending = append(pending, onCut{row.ID, row.CLV, row.PrevTier})
				} else {
					rk.migration[min(int(row.PrevTier), len(serving.Tiers)-1)][tierIndex(rk.cuts.of(row.Scored, row.CLV, row.ID))]++
				}
			}
			if row.Lost {
				continue
			}
			if row.MonthlyValue >= valueCut && row.Probability > probCut {
				high.add(row.Probability, row.ID)
			}
			if !(row.Probability < rk.th) {
				for g, by := range causeGroups {
					rk.atRisk[g].Add(rowGroup(by, row), row.Cause)
				}
			}
		}
	}); err != nil {
		return nil, err
	}
	if err := rk.cuts.resolve(); err != nil {
		return nil, err
	}
	for _, c := range pending {
		rk.migration[min(int(c.prev), len(serving.Tiers)-1)][tierIndex(rk.cuts.of(true, c.clv, c.id))]++
	}
	rk.lists = acc.listsOf(seg, badDebt, valueCut, probCut, high)
	return rk, nil
}
