package forecast

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Scenario kinds.
const (
	KindPrice     = "price"
	KindRetention = "retention"
)

// z80 and z95 are the normal quantiles of the two-sided 80% and 95%
// intervals.
const (
	z80 = 1.2815515655446004
	z95 = 1.959963984540054
)

// Spec is what-if as the analyst asks it (the body of POST /v1/scenarios).
type Spec struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`             // price or retention
	Months int    `json:"months,omitempty"` // 1…12, default 12
	Shared bool   `json:"shared,omitempty"` // visible to every analyst, not only the owner

	// A price change of one plan.
	Plan           string  `json:"plan,omitempty"`
	PriceChangePct float64 `json:"price_change_pct,omitempty"` // e.g. 10 = 10% dearer
	// Elasticity is the % change of the plan's monthly churn hazard per 1%
	// price change, with its standard error; estimated by Elasticity from
	// plan changes when the lake has them, else given here and labelled so.
	Elasticity   *float64 `json:"elasticity,omitempty"`
	ElasticitySE *float64 `json:"elasticity_se,omitempty"`

	// A retention offer to the customers of one forecast group.
	By             string   `json:"by,omitempty"`    // total, region, plan or segment
	Group          string   `json:"group,omitempty"` // its value; "all" for total
	Contacts       int      `json:"contacts,omitempty"`
	CostPerContact float64  `json:"cost_per_contact,omitempty"`
	OfferCost      float64  `json:"offer_cost,omitempty"` // per customer who accepts
	AcceptanceRate *float64 `json:"acceptance_rate,omitempty"`
	// The effect: a past campaign's measured uplift (its 95% interval), or
	// one given here with its interval.
	Campaign     string   `json:"campaign,omitempty"`
	Uplift       *float64 `json:"uplift,omitempty"`
	UpliftLo     *float64 `json:"uplift_lo,omitempty"`
	UpliftHi     *float64 `json:"uplift_hi,omitempty"`
	EffectMonths int      `json:"effect_months,omitempty"` // months over which the uplift accrues (default 2)
}

// FieldError names the field of a Spec that is wrong.
type FieldError struct{ Field, Msg string }

func (e *FieldError) Error() string { return "forecast: " + e.Field + ": " + e.Msg }

func bad(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

func finiteIn(v, lo, hi float64) bool { return !math.IsNaN(v) && v >= lo && v <= hi }

// Validate checks s and fills its defaults.
func (s *Spec) Validate() error {
	s.Name = strings.TrimSpace(s.Name)
	switch {
	case s.Name == "" || len(s.Name) > 100:
		return bad("name", "must be 1-100 characters")
	case s.Months == 0:
		s.Months = MaxHorizon
	case s.Months < 1 || s.Months > MaxHorizon:
		return bad("months", "must be 1-%d", MaxHorizon)
	}
	switch s.Kind {
	case KindPrice:
		if s.Plan == "" {
			return bad("plan", "required for a price scenario")
		}
		if !finiteIn(s.PriceChangePct, -90, 200) || s.PriceChangePct == 0 {
			return bad("price_change_pct", "must be a non-zero change between -90 and 200 (%%)")
		}
		if (s.Elasticity == nil) != (s.ElasticitySE == nil) {
			return bad("elasticity_se", "elasticity and elasticity_se go together")
		}
		if s.Elasticity != nil && (!finiteIn(*s.Elasticity, -20, 20) || !finiteIn(*s.ElasticitySE, 0, 20)) {
			return bad("elasticity", "must be between -20 and 20 with a standard error between 0 and 20")
		}
		if s.By != "" || s.Campaign != "" || s.Uplift != nil || s.Contacts != 0 {
			return bad("kind", "a price scenario takes plan, price_change_pct and elasticity, not a retention offer's fields")
		}
	case KindRetention:
		if s.By == "" {
			s.By, s.Group = "total", TotalGroup
		}
		if !contains(Dimensions, s.By) {
			return bad("by", "must be one of %s", strings.Join(Dimensions, ", "))
		}
		if s.Group == "" {
			return bad("group", "required with by=%s", s.By)
		}
		if s.Contacts < 0 {
			return bad("contacts", "must be at least 0 (0: every customer of the group)")
		}
		if !finiteIn(s.CostPerContact, 0, 1e6) {
			return bad("cost_per_contact", "must be 0 or more")
		}
		if !finiteIn(s.OfferCost, 0, 1e6) {
			return bad("offer_cost", "must be 0 or more")
		}
		if s.AcceptanceRate != nil && !finiteIn(*s.AcceptanceRate, 0, 1) {
			return bad("acceptance_rate", "must be between 0 and 1")
		}
		given := s.Uplift != nil || s.UpliftLo != nil || s.UpliftHi != nil
		switch {
		case s.Campaign != "" && given:
			return bad("campaign", "give a campaign whose measured uplift is used, or uplift with uplift_lo and uplift_hi, not both")
		case s.Campaign == "" && !given:
			return bad("uplift", "required (with uplift_lo and uplift_hi) unless a campaign is given")
		case given && (s.Uplift == nil || s.UpliftLo == nil || s.UpliftHi == nil):
			return bad("uplift", "uplift, uplift_lo and uplift_hi go together")
		case given && !(finiteIn(*s.UpliftLo, -1, 1) && finiteIn(*s.UpliftHi, -1, 1) && *s.UpliftLo <= *s.Uplift && *s.Uplift <= *s.UpliftHi):
			return bad("uplift", "must be shares between -1 and 1 with uplift_lo ≤ uplift ≤ uplift_hi")
		}
		if s.EffectMonths == 0 {
			s.EffectMonths = 2
		}
		if s.EffectMonths < 1 || s.EffectMonths > MaxHorizon {
			return bad("effect_months", "must be 1-%d", MaxHorizon)
		}
		if s.Plan != "" || s.PriceChangePct != 0 || s.Elasticity != nil {
			return bad("kind", "a retention scenario takes a group and an offer, not a price change's fields")
		}
	default:
		return bad("kind", "must be price or retention")
	}
	return nil
}

func contains(xs []string, v string) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

// Estimate is a value with its 95% interval.
type Estimate struct {
	Value  float64 `json:"value"`
	Lo     float64 `json:"lo"`
	Hi     float64 `json:"hi"`
	Source string  `json:"source"`
}

// BaseCase is what a scenario is compared with: the baseline forecast of
// its group, month by month, from the stored forecast.
type BaseCase struct {
	Dim, Group  string
	Run         string
	Customers   float64 // at the newest known month's end
	Hazard      float64 // monthly
	Months      []time.Time
	Subscribers []Band
	Revenue     []Band
}

// BaseCaseFrom picks a group's baseline from the stored forecast.
func BaseCaseFrom(st *Stored, dim, group string, months int) (BaseCase, error) {
	b := BaseCase{Dim: dim, Group: group, Run: st.Run}
	var last time.Time
	for _, r := range st.Rows {
		if r.Dim != dim || r.Group != group {
			continue
		}
		if r.Kind == "actual" && r.Measure == Subscribers && !r.Month.Before(last) {
			last, b.Customers = r.Month, r.Value
		}
		if r.Kind != "forecast" || r.Lo80 == nil {
			continue
		}
		band := Band{Month: r.Month, Point: r.Value, Lo80: *r.Lo80, Hi80: *r.Hi80, Lo95: *r.Lo95, Hi95: *r.Hi95}
		switch r.Measure {
		case Subscribers:
			b.Subscribers = append(b.Subscribers, band)
			b.Months = append(b.Months, r.Month)
			b.Hazard = r.Hazard
		case Revenue:
			b.Revenue = append(b.Revenue, band)
		}
	}
	if len(b.Subscribers) == 0 {
		return b, fmt.Errorf("%w: no forecast of %s=%s in run %s", ErrNoBaseline, dim, group, st.Run)
	}
	if len(b.Subscribers) < months || len(b.Revenue) < months {
		return b, fmt.Errorf("%w: the forecast of %s=%s covers %d months, the scenario asks %d", ErrNoBaseline, dim, group, len(b.Subscribers), months)
	}
	b.Months, b.Subscribers, b.Revenue = b.Months[:months], b.Subscribers[:months], b.Revenue[:months]
	return b, nil
}

// ErrNoBaseline means the stored forecast has no baseline for a scenario.
var ErrNoBaseline = errors.New("forecast: no baseline forecast")

// Month is one month of a scenario against its baseline.
type Month struct {
	Month               time.Time `json:"month"`
	BaselineSubscribers Band      `json:"baseline_subscribers"`
	Subscribers         Band      `json:"subscribers"`
	BaselineRevenue     Band      `json:"baseline_revenue"`
	Revenue             Band      `json:"revenue"`
	// ExtraSubscribers and ExtraRevenue are the scenario minus the
	// baseline; their bands are the effect's uncertainty alone (the
	// baseline's own cancels in the difference).
	ExtraSubscribers Band    `json:"extra_subscribers"`
	ExtraRevenue     Band    `json:"extra_revenue"`
	Cost             float64 `json:"cost"`
}

// Outcome is a scenario's result over its months.
type Outcome struct {
	Months []Month `json:"months"`
	// BaselineChurned and Churned are the expected customers lost over
	// the months; RetainedCustomers the difference at the end.
	BaselineChurned float64 `json:"baseline_churned"`
	Churned         Band    `json:"churned"`
	BaselineRevenue float64 `json:"baseline_revenue_total"`
	Revenue         Band    `json:"revenue_total"`
	Cost            float64 `json:"cost_total"`
	// Profit is the extra revenue minus the cost, against the baseline.
	Profit      Band     `json:"profit"`
	Effect      Estimate `json:"effect"`
	Assumptions []string `json:"assumptions"`
	Baseline    string   `json:"baseline"` // e.g. "total=all of forecast run …"
}

// effectBand maps a linear-in-effect quantity f(e) through the effect's
// 95% interval (and an 80% one from the same normal standard error).
func effectBand(e Estimate, f func(float64) float64) Band {
	se := (e.Hi - e.Lo) / (2 * z95)
	p := f(e.Value)
	lo80, hi80 := f(e.Value-z80*se), f(e.Value+z80*se)
	lo95, hi95 := f(e.Lo), f(e.Hi)
	return Band{Point: p, Lo80: math.Min(lo80, hi80), Hi80: math.Max(lo80, hi80), Lo95: math.Min(lo95, hi95), Hi95: math.Max(lo95, hi95)}
}

// combine is base shifted by d, the two uncertainties added in quadrature
// (independent).
func combine(base, d Band) Band {
	q := func(a, b float64) float64 { return math.Sqrt(a*a + b*b) }
	p := base.Point + d.Point
	return Band{Month: base.Month, Point: p,
		Lo80: p - q(base.Point-base.Lo80, d.Point-d.Lo80), Hi80: p + q(base.Hi80-base.Point, d.Hi80-d.Point),
		Lo95: p - q(base.Point-base.Lo95, d.Point-d.Lo95), Hi95: p + q(base.Hi95-base.Point, d.Hi95-d.Point)}
}

// Retention computes a retention offer against its group's baseline:
// contacts customers (0: all the group's), of whom acceptance accept;
// effect is the uplift per contacted customer (treated minus control
// churn, as campaigns measure it), accruing evenly over spec.EffectMonths,
// after which the retained leave at the group's hazard. Each retained
// customer brings the baseline's revenue per customer of the month. The
// cost is contacts × cost per contact plus acceptors × offer cost, in the
// first month.
func Retention(spec Spec, base BaseCase, acceptance float64, effect Estimate) Outcome {
	n := float64(spec.Contacts)
	if n <= 0 || n > base.Customers {
		n = base.Customers
	}
	cost := n*spec.CostPerContact + n*acceptance*spec.OfferCost
	H := float64(spec.EffectMonths)
	extraSubs := func(k int) func(float64) float64 {
		return func(u float64) float64 {
			kk := float64(k)
			return n * u * math.Min(kk, H) / H * math.Pow(1-base.Hazard, math.Max(0, kk-H))
		}
	}
	out := Outcome{Effect: effect, Cost: cost}
	var profitF []func(float64) float64
	for k := 1; k <= len(base.Months); k++ {
		bs, br := base.Subscribers[k-1], base.Revenue[k-1]
		arpu := 0.0
		if bs.Point > 0 {
			arpu = br.Point / bs.Point
		}
		es := extraSubs(k)
		er := func(u float64) float64 { return es(u) * arpu }
		profitF = append(profitF, er)
		m := Month{Month: base.Months[k-1], BaselineSubscribers: bs, BaselineRevenue: br,
			ExtraSubscribers: effectBand(effect, es), ExtraRevenue: effectBand(effect, er)}
		if k == 1 {
			m.Cost = cost
		}
		m.ExtraSubscribers.Month, m.ExtraRevenue.Month = m.Month, m.Month
		m.Subscribers, m.Revenue = combine(bs, m.ExtraSubscribers), combine(br, m.ExtraRevenue)
		out.Months = append(out.Months, m)
	}
	finish(&out, base, func(u float64) float64 {
		return extraSubs(len(base.Months))(u)
	}, func(u float64) float64 {
		s := -cost
		for _, f := range profitF {
			s += f(u)
		}
		return s
	})
	out.Assumptions = []string{
		fmt.Sprintf("%.0f customers contacted, %.1f%% accept; cost %.2f", n, 100*acceptance, cost),
		fmt.Sprintf("uplift %.4f per contacted customer (95%% %.4f … %.4f; %s), accruing over %d months, then the retained leave at the group's hazard %.4f a month",
			effect.Value, effect.Lo, effect.Hi, effect.Source, spec.EffectMonths, base.Hazard),
		"a retained customer brings the baseline's revenue per customer; new customers are as in the baseline",
	}
	return out
}

// Price computes a price change of one plan against its baseline: the
// plan's monthly churn hazard h becomes h·(1 + ε·x/100) for a change of
// x% and elasticity ε, every customer (and every new one) surviving at the
// new hazard instead, and paying (1 + x/100) times the baseline's revenue
// per customer. The bands carry the elasticity's 95% interval (ε ± 1.96
// standard errors).
func Price(spec Spec, base BaseCase, eps Estimate) Outcome {
	x := spec.PriceChangePct / 100
	h := base.Hazard
	ratio := func(e float64, k int) float64 {
		h2 := min(max(h*(1+e*x), 0), 1)
		if h >= 1 {
			return 1
		}
		return math.Pow((1-h2)/(1-h), float64(k))
	}
	out := Outcome{Effect: eps}
	var revF []func(float64) float64
	for k := 1; k <= len(base.Months); k++ {
		bs, br := base.Subscribers[k-1], base.Revenue[k-1]
		es := func(e float64) float64 { return bs.Point * (ratio(e, k) - 1) }
		er := func(e float64) float64 { return br.Point * (ratio(e, k)*(1+x) - 1) }
		revF = append(revF, er)
		m := Month{Month: base.Months[k-1], BaselineSubscribers: bs, BaselineRevenue: br,
			ExtraSubscribers: effectBand(eps, es), ExtraRevenue: effectBand(eps, er)}
		m.ExtraSubscribers.Month, m.ExtraRevenue.Month = m.Month, m.Month
		m.Subscribers, m.Revenue = combine(bs, m.ExtraSubscribers), combine(br, m.ExtraRevenue)
		out.Months = append(out.Months, m)
	}
	last := len(base.Months)
	finish(&out, base, func(e float64) float64 { return base.Subscribers[last-1].Point * (ratio(e, last) - 1) },
		func(e float64) float64 {
			s := 0.0
			for _, f := range revF {
				s += f(e)
			}
			return s
		})
	out.Assumptions = []string{
		fmt.Sprintf("plan %s %+.1f%%: monthly churn hazard %.4f × (1 + ε·%.3f), ε = %.3f (95%% %.3f … %.3f; %s)",
			spec.Plan, spec.PriceChangePct, h, x, eps.Value, eps.Lo, eps.Hi, eps.Source),
		"customers who stay pay the new price on the baseline's usage; profit counts revenue only (the cost of serving a customer is not modelled)",
	}
	return out
}

// finish fills the totals: extraEnd(e) is the extra customers at the last
// month, profit(e) the extra revenue minus the cost.
func finish(out *Outcome, base BaseCase, extraEnd, profit func(float64) float64) {
	prev := base.Customers
	for _, s := range base.Subscribers {
		out.BaselineChurned += base.Hazard * prev
		prev = s.Point
	}
	for _, r := range base.Revenue {
		out.BaselineRevenue += r.Point
	}
	// New customers are as in the baseline, so extra customers at the end
	// are customers who did not leave.
	d := effectBand(out.Effect, extraEnd)
	out.Churned = Band{Point: out.BaselineChurned - d.Point, Lo80: out.BaselineChurned - d.Hi80, Hi80: out.BaselineChurned - d.Lo80,
		Lo95: out.BaselineChurned - d.Hi95, Hi95: out.BaselineChurned - d.Lo95}
	out.Profit = effectBand(out.Effect, profit)
	p := out.Profit
	out.Revenue = Band{Point: out.BaselineRevenue + p.Point + out.Cost, Lo80: out.BaselineRevenue + p.Lo80 + out.Cost,
		Hi80: out.BaselineRevenue + p.Hi80 + out.Cost, Lo95: out.BaselineRevenue + p.Lo95 + out.Cost, Hi95: out.BaselineRevenue + p.Hi95 + out.Cost}
	out.Baseline = fmt.Sprintf("%s=%s of forecast run %s", base.Dim, base.Group, base.Run)
}
