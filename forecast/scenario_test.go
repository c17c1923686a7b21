package forecast

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func band(p, w80, w95 float64) Band {
	return Band{Point: p, Lo80: p - w80, Hi80: p + w80, Lo95: p - w95, Hi95: p + w95}
}

func handBase(months int) BaseCase {
	b := BaseCase{Dim: "region", Group: "North", Run: "r1", Customers: 1000, Hazard: 0.02}
	subs := []float64{1000, 990, 980}
	for k := range months {
		b.Months = append(b.Months, time.Date(2026, time.Month(8+k), 1, 0, 0, 0, 0, time.UTC))
		b.Subscribers = append(b.Subscribers, band(subs[k], 10, 20))
		b.Revenue = append(b.Revenue, band(subs[k]*10, 100, 200))
	}
	return b
}

// TestRetentionByHand: 100 of 1,000 customers contacted at 2 each, 40%
// accept an offer costing 5: cost 200 + 200 = 400. Uplift 0.1 (95% 0.02 …
// 0.18) over two months: 5, 10 extra customers, then 10 × 0.98 = 9.8; at
// 10 a customer, 50 + 100 + 98 = 248 extra revenue, profit −152.
func TestRetentionByHand(t *testing.T) {
	spec := Spec{Name: "offer", Kind: KindRetention, By: "region", Group: "North", Months: 3, Contacts: 100,
		CostPerContact: 2, OfferCost: 5, Uplift: ptr(0.1), UpliftLo: ptr(0.02), UpliftHi: ptr(0.18)}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	out := Retention(spec, handBase(3), 0.4, Estimate{Value: 0.1, Lo: 0.02, Hi: 0.18, Source: "given"})
	checks := []struct {
		name      string
		got, want float64
	}{
		{"cost", out.Cost, 400},
		{"extra subscribers 1", out.Months[0].ExtraSubscribers.Point, 5},
		{"extra subscribers 2", out.Months[1].ExtraSubscribers.Point, 10},
		{"extra subscribers 3", out.Months[2].ExtraSubscribers.Point, 9.8},
		{"extra revenue 3", out.Months[2].ExtraRevenue.Point, 98},
		{"profit", out.Profit.Point, -152},
		{"profit lo95", out.Profit.Lo95, 2*2.48*10 - 400},
		{"profit hi95", out.Profit.Hi95, 18*2.48*10 - 400},
		{"baseline churned", out.BaselineChurned, 0.02 * (1000 + 1000 + 990)},
		{"churned", out.Churned.Point, 0.02*(1000+1000+990) - 9.8},
		{"revenue total", out.Revenue.Point, 29700 + 248},
		{"subscribers 3", out.Months[2].Subscribers.Point, 989.8},
		{"subscribers 3 lo95", out.Months[2].Subscribers.Lo95, 989.8 - math.Hypot(20, 9.8-1.96)},
		{"extra revenue 3 lo80", out.Months[2].ExtraRevenue.Lo80, (0.1 - z80*0.08/z95) * 100 * 0.98 * 10},
	}
	for _, c := range checks {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestPriceByHand: plan hazard 0.02, 10% dearer, ε = 2 ± 0.5: hazard 0.024,
// customers × (0.976/0.98)^k, revenue also × 1.1.
func TestPriceByHand(t *testing.T) {
	spec := Spec{Name: "dearer", Kind: KindPrice, Plan: "BASIC", PriceChangePct: 10, Months: 2, Elasticity: ptr(2.0), ElasticitySE: ptr(0.5)}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	base := handBase(2)
	eps := Estimate{Value: 2, Lo: 2 - z95*0.5, Hi: 2 + z95*0.5, Source: "given"}
	out := Price(spec, base, eps)
	r := 0.976 / 0.98
	if got, want := out.Months[0].Subscribers.Point, 1000*r; !near(got, want) {
		t.Errorf("subscribers 1 = %v, want %v", got, want)
	}
	if got, want := out.Months[1].Revenue.Point, 9900*r*r*1.1; !near(got, want) {
		t.Errorf("revenue 2 = %v, want %v", got, want)
	}
	if got, want := out.Profit.Point, 10000*(r*1.1-1)+9900*(r*r*1.1-1); !near(got, want) {
		t.Errorf("profit = %v, want %v", got, want)
	}
	hi := 0.02 * (1 + eps.Lo*0.1) // the lower elasticity keeps more customers
	rl := (1 - hi) / 0.98
	if got, want := out.Profit.Hi95, 10000*(rl*1.1-1)+9900*(rl*rl*1.1-1); !near(got, want) {
		t.Errorf("profit hi95 = %v, want %v", got, want)
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		spec  Spec
		field string
	}{
		{Spec{Kind: KindPrice, Plan: "A", PriceChangePct: 5}, "name"},
		{Spec{Name: "x", Kind: "discount"}, "kind"},
		{Spec{Name: "x", Kind: KindPrice, PriceChangePct: 5}, "plan"},
		{Spec{Name: "x", Kind: KindPrice, Plan: "A"}, "price_change_pct"},
		{Spec{Name: "x", Kind: KindPrice, Plan: "A", PriceChangePct: 5, Elasticity: ptr(1.0)}, "elasticity_se"},
		{Spec{Name: "x", Kind: KindPrice, Plan: "A", PriceChangePct: 5, Months: 13}, "months"},
		{Spec{Name: "x", Kind: KindRetention, By: "city", Group: "a", Uplift: ptr(0.1), UpliftLo: ptr(0.0), UpliftHi: ptr(0.2)}, "by"},
		{Spec{Name: "x", Kind: KindRetention}, "uplift"},
		{Spec{Name: "x", Kind: KindRetention, Campaign: "c1", Uplift: ptr(0.1)}, "campaign"},
		{Spec{Name: "x", Kind: KindRetention, Uplift: ptr(0.3), UpliftLo: ptr(0.0), UpliftHi: ptr(0.2)}, "uplift"},
		{Spec{Name: "x", Kind: KindRetention, Campaign: "c1", AcceptanceRate: ptr(1.5)}, "acceptance_rate"},
		{Spec{Name: "x", Kind: KindRetention, Campaign: "c1", CostPerContact: -1}, "cost_per_contact"},
	}
	for _, tt := range tests {
		err := tt.spec.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("Validate(%+v) = %v, want an error on %s", tt.spec, err, tt.field)
		}
	}
	ok := Spec{Name: "x", Kind: KindRetention, Campaign: "c1"}
	if err := ok.Validate(); err != nil || ok.By != "total" || ok.Group != TotalGroup || ok.Months != MaxHorizon || ok.EffectMonths != 2 {
		t.Errorf("Validate defaults: %+v (%v)", ok, err)
	}
}

// TestElasticityRecoversPlanted: churn 5% at an unchanged price, planted
// elasticity 2 (10% dearer: a fifth more churn); the estimate's 95%
// interval holds 2 on every seed but about one in twenty.
func TestElasticityRecoversPlanted(t *testing.T) {
	const planted, seeds = 2.0, 40
	covered := 0
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 99))
		var obs []PriceObservation
		for range 20000 {
			x := float64(rng.IntN(6)*10 - 20) // −20 … +30%
			p := 0.05 * (1 + planted*x/100)
			obs = append(obs, PriceObservation{ChangePct: x, Churned: rng.Float64() < p})
		}
		e, err := Elasticity(obs)
		if err != nil {
			t.Fatal(err)
		}
		if e.Lo <= planted && planted <= e.Hi {
			covered++
		}
		if seed == 0 {
			t.Logf("seed 0: elasticity %.3f (95%% %.3f … %.3f)", e.Value, e.Lo, e.Hi)
			if e.Hi-e.Lo > 1.5 || math.Abs(e.Value-planted) > 0.75 {
				t.Errorf("elasticity %.3f (%.3f … %.3f): too far from %v or too wide", e.Value, e.Lo, e.Hi, planted)
			}
		}
	}
	t.Logf("planted elasticity inside the 95%% interval on %d of %d seeds", covered, seeds)
	if covered < 34 {
		t.Errorf("interval held the planted elasticity on %d of %d seeds, want about 95%%", covered, seeds)
	}
	if _, err := Elasticity(make([]PriceObservation, 10)); err == nil {
		t.Error("Elasticity of 10 observations: no error")
	}
}

func TestBaseCaseFrom(t *testing.T) {
	v := func(f float64) *float64 { return &f }
	m := func(i int) time.Time { return time.Date(2026, time.Month(7+i), 1, 0, 0, 0, 0, time.UTC) }
	st := &Stored{Run: "r1", Rows: []Row{
		{Dim: "plan", Group: "A", Measure: Subscribers, Kind: "actual", Month: m(0), Value: 50, Hazard: 0.03},
		{Dim: "plan", Group: "A", Measure: Subscribers, Kind: "forecast", Month: m(1), Value: 49, Lo80: v(48), Hi80: v(50), Lo95: v(47), Hi95: v(51), Hazard: 0.03},
		{Dim: "plan", Group: "A", Measure: Revenue, Kind: "forecast", Month: m(1), Value: 490, Lo80: v(480), Hi80: v(500), Lo95: v(470), Hi95: v(510)},
	}}
	b, err := BaseCaseFrom(st, "plan", "A", 1)
	if err != nil || b.Customers != 50 || b.Hazard != 0.03 || len(b.Subscribers) != 1 || b.Revenue[0].Point != 490 {
		t.Errorf("BaseCaseFrom = %+v (%v)", b, err)
	}
	if _, err := BaseCaseFrom(st, "plan", "A", 2); !errors.Is(err, ErrNoBaseline) {
		t.Errorf("2 months of a 1-month forecast: %v, want ErrNoBaseline", err)
	}
	if _, err := BaseCaseFrom(st, "plan", "B", 1); !errors.Is(err, ErrNoBaseline) {
		t.Errorf("unknown plan: %v, want ErrNoBaseline", err)
	}
}
