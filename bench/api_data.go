package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/telcolake/telcolake/models/serving"
)

// subscriberID is the id of generated customer i (1-based); fixed width,
// so the ids sort as the numbers do.
func subscriberID(i int) string { return fmt.Sprintf("S%08d", i) }

type weighted struct {
	v string
	w float64
}

func pick(rng *rand.Rand, ws []weighted) string {
	total := 0.0
	for _, x := range ws {
		total += x.w
	}
	u := rng.Float64() * total
	for _, x := range ws {
		if u < x.w {
			return x.v
		}
		u -= x.w
	}
	return ws[len(ws)-1].v
}

var (
	genRegions = []weighted{{"north", 14}, {"south", 13}, {"east", 12}, {"west", 12}, {"central", 16}, {"coast", 9},
		{"lakes", 8}, {"highlands", 6}, {"rift", 6}, {"metro", 4}}
	genPlans = []weighted{{"prepaid-basic", 35}, {"prepaid-plus", 20}, {"flex-10", 15}, {"flex-20", 12},
		{"postpaid-50", 12}, {"postpaid-unlimited", 6}}
	planValue = map[string]float64{"prepaid-basic": 8, "prepaid-plus": 15, "flex-10": 12, "flex-20": 22,
		"postpaid-50": 45, "postpaid-unlimited": 80}
	genAgeBands = []weighted{{"18-24", 16}, {"25-34", 25}, {"35-44", 22}, {"45-54", 17}, {"55-64", 12}, {"65+", 8}}
	genPayment  = []weighted{{"mobile-money", 55}, {"card", 20}, {"direct-debit", 15}, {"cash", 10}}
	genSegments = []struct {
		name, profile string
		w             float64
	}{
		{"light users", "low usage, low value", 24}, {"voice loyalists", "heavy voice, long tenure", 18},
		{"data natives", "heavy data, young", 17}, {"value seekers", "price sensitive, plan switching", 15},
		{"business travellers", "roaming and international calls", 8}, {"at-risk payers", "arrears and care calls", 10},
		{"premium", "high value postpaid", 8},
	}
	genReasons = []string{"usage_drop", "arrears", "care_calls", "short_tenure", "price_plan", "data_decline", "competitor_contacts"}
)

// lognormal draws exp(N(ln median, sigma)).
func lognormal(rng *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*rng.NormFloat64())
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// customerGen generates scored customers.
type customerGen struct {
	vm           serving.ValueModel
	d            float64 // monthly discount rate
	featureMonth time.Time
	months       []string
	segW         []weighted
}

const margin = 0.6 // profit as a share of the monthly value, for the generated CLV

func newCustomerGen() *customerGen {
	vm := serving.ValueModel{Costs: serving.DefaultCosts, AnnualDiscountRate: 0.1, HorizonMonths: 36, LabelHorizonMonths: 2}
	d := math.Pow(1+vm.AnnualDiscountRate, 1.0/12) - 1
	featureMonth := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	months := make([]string, 6)
	for i := range months {
		months[i] = featureMonth.AddDate(0, i-5, 0).Format("2006-01")
	}
	segW := make([]weighted, len(genSegments))
	for i, s := range genSegments {
		segW[i] = weighted{strconv.Itoa(i), s.w}
	}
	return &customerGen{vm: vm, d: d, featureMonth: featureMonth, months: months, segW: segW}
}

// fill generates customer i (1-based) into c from rng and rx (the
// attributes added later, from their own stream).
func (g *customerGen) fill(rng, rx *rand.Rand, c *serving.Customer, i int) {
	vm, d, featureMonth, months, segW := g.vm, g.d, g.featureMonth, g.months, g.segW
	c.SubscriberID = subscriberID(i)
	c.MSISDN = fmt.Sprintf("2547%08d", rng.IntN(1e8))
	c.Name = fmt.Sprintf("Customer %d", i)
	c.Gender = []string{"F", "M"}[rng.IntN(2)]
	c.AgeBand = pick(rng, genAgeBands)
	c.Region = pick(rng, genRegions)
	c.Plan = pick(rng, genPlans)
	c.PaymentMethod = pick(rng, genPayment)
	seg, _ := strconv.Atoi(pick(rng, segW))
	c.SegmentID, c.SegmentName = int32(seg), genSegments[seg].name
	c.TenureMonths = int32(min(240, rng.ExpFloat64()*30))
	act := featureMonth.AddDate(0, -int(c.TenureMonths), rng.IntN(28))
	c.ActivationDate = act.Format("2006-01-02")
	switch u := rng.Float64(); {
	case u < 0.88:
		c.Status = "active"
	case u < 0.93:
		c.Status = "suspended"
	default:
		c.Status = "deactivated"
	}
	c.StatusDate = c.ActivationDate
	switch {
	case c.Status == "suspended":
		c.Lifecycle = "suspended"
		c.StatusDate = featureMonth.AddDate(0, 0, -rng.IntN(60)).Format("2006-01-02")
	case c.Status == "deactivated":
		c.Lifecycle = "lost"
		c.StatusDate = featureMonth.AddDate(0, 0, -rng.IntN(60)).Format("2006-01-02")
	case c.TenureMonths <= 6:
		c.Lifecycle = "new"
	case c.TenureMonths <= 24:
		c.Lifecycle = "established"
	default:
		c.Lifecycle = "loyal"
	}
	// Skewed churn probability, mean ≈ 5%: most customers low, a tail
	// of risky ones.
	if c.Status != "deactivated" {
		p := rng.ExpFloat64() * 0.025
		if rng.Float64() < 0.07 {
			u := rng.Float64()
			p = 0.95 * u * u
		}
		c.Probability = min(0.99, p)
		if c.Probability > 0.1 {
			k := 1 + rng.IntN(3)
			c.Reasons = make([]string, 0, k)
			for _, j := range rng.Perm(len(genReasons))[:k] {
				c.Reasons = append(c.Reasons, genReasons[j])
			}
		}
	}
	c.MonthlyValue = round2(lognormal(rng, planValue[c.Plan], 0.45))
	hz := 1 - math.Pow(1-c.Probability, 1/float64(vm.LabelHorizonMonths))
	sum := 0.0
	for t := 1; t <= vm.HorizonMonths; t++ {
		sum += math.Pow(1-hz, float64(t)) / math.Pow(1+d, float64(t))
	}
	c.CLV = round2(c.MonthlyValue * margin * sum)
	c.ValueAtRisk = round2(c.Probability * c.CLV)

	c.VoiceMinutes = round2(lognormal(rng, 150, 0.9))
	c.VoiceCalls = int32(c.VoiceMinutes/2.5 + rng.Float64()*10)
	c.SMS = int32(rng.ExpFloat64() * 40)
	c.DataMB = round2(lognormal(rng, 3000, 1.0))
	if rng.Float64() < 0.1 {
		c.RoamingCalls = int32(1 + rng.ExpFloat64()*6)
	}
	c.IntlCalls = int32(rng.ExpFloat64() * 2)
	c.CareCalls = int32(rng.ExpFloat64() * 0.7)
	c.DistinctContact = int32(5 + rng.ExpFloat64()*25)
	c.AmountDue = round2(c.MonthlyValue * (0.8 + 0.4*rng.Float64()))
	if rng.Float64() < 0.15 {
		c.Arrears = round2(lognormal(rng, 30, 0.8))
		c.MonthsInArrears = int32(1 + rng.IntN(6))
	}
	c.History = make([]serving.Month, len(months))
	for m, ym := range months {
		f := 0.7 + 0.6*rng.Float64()
		due := round2(c.MonthlyValue * f)
		c.History[m] = serving.Month{Month: ym, VoiceMinutes: round2(c.VoiceMinutes * f), VoiceCalls: int32(float64(c.VoiceCalls) * f),
			SMS: int32(float64(c.SMS) * f), DataMB: round2(c.DataMB * f), CareCalls: int32(rng.ExpFloat64() * 0.5),
			AmountDue: due, AmountPaid: due, Arrears: 0}
	}
	last := &c.History[len(months)-1]
	last.VoiceMinutes, last.DataMB, last.Arrears, last.AmountDue = c.VoiceMinutes, c.DataMB, c.Arrears, c.AmountDue
	genAttributes(rx, c, margin)
	genUplift(c, i)
	serving.Quantize(c) // the values the snapshot holds, so the counts computed here are the API's
}

// benchOffers are the generated run's offers (Meta.Uplift), with their
// cost per contact.
var benchOffers = []serving.OfferInfo{{Offer: "bonus-data", Cost: 2, Channel: "sms", Model: "own"},
	{Offer: "discount-10", Cost: 8, Channel: "call", Model: "own"}, {Offer: "handset-upgrade", Cost: 40, Channel: "shop", Model: "pooled"},
	{Offer: "loyalty-points", Cost: 1, Channel: "app", Model: "pooled"}}

var badDebtReasons = []string{"arrears rising (2 months)", "payments late", "credit limit nearly used", "cash payer, falling top-ups"}

// genUplift sets what a run with an uplift and a bad-debt model fills
// (uplift per offer, the best offer and its value, bad-debt probability
// and reasons), from customer i's own stream, so the other fields stay as
// they were generated before.
func genUplift(c *serving.Customer, i int) {
	ru := rand.New(rand.NewPCG(uint64(i), 0x0ff3))
	if c.Status != "deactivated" {
		best := -1
		for k, o := range benchOffers {
			c.OfferUplift[k] = math.Round((0.01+0.02*ru.NormFloat64())*1e6) / 1e6
			if v := round2(c.OfferUplift[k]*c.CLV - o.Cost); best < 0 || v > c.ContactValue {
				best, c.ContactValue = k, v
			}
		}
		c.BestOffer, c.Uplift = benchOffers[best].Offer, c.OfferUplift[best]
		p := ru.Float64()
		c.BadDebtProbability = math.Round(p*p*p*0.6*1e6) / 1e6
		if c.BadDebtProbability > 0.15 {
			c.BadDebtReasons = []string{badDebtReasons[ru.IntN(len(badDebtReasons))]}
		}
	}
}

// genCustomers generates n scored customers, sorted by id, and a meta.
func genCustomers(n int, seed uint64) (*serving.Meta, []serving.Customer) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	rx := rand.New(rand.NewPCG(seed+1, seed^0x51ed27)) // the attributes added later, so the others stay as they were
	g := newCustomerGen()
	out := make([]serving.Customer, n)
	for i := range out {
		g.fill(rng, rx, &out[i], i+1)
	}
	return g.meta(out), out
}

// genShard generates the customers of shard k of n among total (ids 1 to
// total with serving.ShardOf(id, n) == k), each from generators seeded by
// its id, so a shard is generated without the others; tiers are ranked
// within the shard.
func genShard(total, n, k int, seed uint64) (*serving.Meta, []serving.Customer) {
	g := newCustomerGen()
	pa, pb := rand.NewPCG(0, 0), rand.NewPCG(0, 0)
	rng, rx := rand.New(pa), rand.New(pb)
	out := make([]serving.Customer, 0, total/n+total/(10*n)+16)
	for i := 1; i <= total; i++ {
		id := subscriberID(i)
		if serving.ShardOf(id, n) != k {
			continue
		}
		pa.Seed(seed, uint64(i))
		pb.Seed(seed+1, uint64(i))
		out = append(out, serving.Customer{})
		g.fill(rng, rx, &out[len(out)-1], i)
	}
	return g.meta(out), out
}

// meta ranks the tiers of out and describes it.
func (g *customerGen) meta(out []serving.Customer) *serving.Meta {
	n := len(out)
	vm, featureMonth := g.vm, g.featureMonth
	assignBenchTiers(out)
	meta := &serving.Meta{Run: "bench-" + featureMonth.Format("2006-01"), ScoredAt: featureMonth.AddDate(0, 1, 2),
		FeatureMonth: featureMonth.Format("2006-01"), ChurnModel: "bench-churn", SegmentModel: "bench-segments",
		Customers: n, Value: vm, BadDebtModel: "bench-baddebt", BadDebtHorizonMonths: 3,
		Uplift: &serving.UpliftMeta{Model: "bench-uplift", Method: "two-model", Offers: benchOffers}}
	counts := make([]int, len(genSegments))
	for i := range out {
		counts[out[i].SegmentID]++
	}
	for i, s := range genSegments {
		meta.Segments = append(meta.Segments, serving.Segment{ID: int32(i), Name: s.name, Profile: s.profile,
			Customers: counts[i], Share: float64(counts[i]) / float64(max(1, n))})
	}
	return meta
}

var (
	genOccupations = []weighted{{"clerk", 14}, {"engineer", 9}, {"teacher", 8}, {"driver", 8}, {"sales, retail", 12}, {"nurse", 6},
		{"IT specialist", 5}, {"farmer", 6}, {"student", 10}, {"retired", 14}, {"self-employed", 8}}
	genEducations = []weighted{{"primary", 15}, {"secondary", 45}, {"vocational", 15}, {"university", 25}}
	genIncome     = []weighted{{"A", 8}, {"B", 17}, {"C", 35}, {"D", 27}, {"E", 13}}
)

// genAttributes sets the attributes added for search on every attribute
// and the value system, from their own random stream.
func genAttributes(rx *rand.Rand, c *serving.Customer, margin float64) {
	c.Occupation, c.Education, c.IncomeBand = pick(rx, genOccupations), pick(rx, genEducations), pick(rx, genIncome)
	c.District = fmt.Sprintf("%s-%d", c.Region, 1+rx.IntN(8))
	if rx.Float64() < 0.3 {
		c.Discount = round2(rx.Float64() * 10)
	}
	c.CreditUse = round2(rx.Float64() * 1.2)
	trend := func() float64 { return round2(rx.NormFloat64() * 0.3) }
	c.VoiceMinutesTrend, c.CallsTrend, c.DataTrend, c.ContactsTrend, c.SpendTrend = trend(), trend(), trend(), trend(), trend()
	c.Profit = round2(c.MonthlyValue * margin)
	c.CostToServe = round2(c.MonthlyValue + c.Discount - c.Profit)
}

// assignBenchTiers sets value tiers by CLV rank as scoring does: top 1%,
// 5%, 20% of the customers not lost, the rest; lost ones none.
func assignBenchTiers(cs []serving.Customer) {
	var idx []int
	for i := range cs {
		cs[i].ValueTier = serving.TierNone
		if cs[i].Status != "deactivated" {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return cs[idx[a]].CLV > cs[idx[b]].CLV })
	n := len(idx)
	for k, i := range idx {
		switch {
		case k < (n+99)/100:
			cs[i].ValueTier = serving.TierTop1
		case k < (n+19)/20:
			cs[i].ValueTier = serving.TierTop5
		case k < (n+4)/5:
			cs[i].ValueTier = serving.TierTop20
		default:
			cs[i].ValueTier = serving.TierRest
		}
	}
}
