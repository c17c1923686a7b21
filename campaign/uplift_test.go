package campaign_test

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/models/dataset"
	"github.com/telcolake/telcolake/synth"
)

// upliftFrame turns a synthetic campaign into the model's frame, arms,
// churn risk and planted effect.
func upliftFrame(rows []synth.UpliftRow) (*dataset.Frame, []bool, []float64, []float64) {
	cols := []*dataset.Column{{Name: "tenure_months"}, {Name: "care_calls"}, {Name: "arrears_months"}, {Name: "usage_trend"}, {Name: "plan_price"}}
	f := &dataset.Frame{Cols: cols, Label: make([]bool, len(rows))}
	treated, risk, effect := make([]bool, len(rows)), make([]float64, len(rows)), make([]float64, len(rows))
	for i, r := range rows {
		for j, v := range []float64{r.TenureMonths, r.CareCalls, r.ArrearsMonths, r.UsageTrend, r.PlanPrice} {
			cols[j].Num = append(cols[j].Num, v)
		}
		f.Label[i], treated[i], risk[i], effect[i] = r.Churned, r.Treated, r.Risk, r.Effect
	}
	return f, treated, risk, effect
}

func TestQiniHandMade(t *testing.T) {
	// Four customers: a treated one retained, a control one churned, a
	// treated one churned, a control one retained.
	score := []float64{4, 3, 2, 1}
	treated := []bool{true, false, true, false}
	churned := []bool{false, true, true, false}
	// Q(1) = 1 − 0 = 1 (no control yet: R_t), Q(2) = 1 − 0·1/1 = 1,
	// Q(3) = 1 − 0·2/1 = 1, Q(4) = 1 − 1·2/2 = 0; AUUC = (1+1+1+0)/4/N_t(2).
	if got, want := campaign.AUUC(score, treated, churned), 3.0/4/2; got != want {
		t.Errorf("AUUC = %v, want %v", got, want)
	}
	c := campaign.QiniCurve(score, treated, churned, 4)
	want := []campaign.QiniPoint{{0.25, 0.5}, {0.5, 0.5}, {0.75, 0.5}, {1, 0}}
	for i := range want {
		if c[i] != want[i] {
			t.Errorf("Qini curve = %v, want %v", c, want)
			break
		}
	}
}

// TestUpliftBeatsRiskRanking: fitted on one synthetic campaign, the
// two-model uplift ranks a held-out campaign better than the churn risk
// (here a perfect churn model's: the true probability without contact),
// because risk ranking contacts sleeping dogs and lost causes first; the
// Qini comparison promotes it. The planted effect's own ranking is the
// ceiling.
func TestUpliftBeatsRiskRanking(t *testing.T) {
	ctx := context.Background()
	train, treated, _, _ := upliftFrame(synth.UpliftCampaign(8000, 0.5, 1))
	m, err := campaign.FitUplift(ctx, "discount-10", train, treated, 1)
	if err != nil {
		t.Fatal(err)
	}
	held, hTreated, hRisk, hEffect := upliftFrame(synth.UpliftCampaign(8000, 0.5, 2))
	up, err := m.Predict(held, hRisk)
	if err != nil {
		t.Fatal(err)
	}
	cmp := campaign.Compare(up, hRisk, hTreated, held.Label, 200, 7)
	oracle := campaign.AUUC(hEffect, hTreated, held.Label)
	t.Logf("AUUC uplift %.4f (%.4f–%.4f), risk %.4f (%.4f–%.4f), difference %.4f (%.4f–%.4f), planted-effect ranking %.4f",
		cmp.AUUCModel.Estimate, cmp.AUUCModel.Lo, cmp.AUUCModel.Hi, cmp.AUUCRisk.Estimate, cmp.AUUCRisk.Lo, cmp.AUUCRisk.Hi,
		cmp.Diff.Estimate, cmp.Diff.Lo, cmp.Diff.Hi, oracle)
	if !cmp.Promoted || cmp.Diff.Lo <= 0 {
		t.Errorf("uplift model not promoted over risk ranking: %s", cmp.Decision)
	}
	if cmp.AUUCModel.Estimate > oracle+0.01 {
		t.Errorf("model AUUC %.4f above the planted effect's %.4f", cmp.AUUCModel.Estimate, oracle)
	}
	// The model's ranking follows the planted effect: mean predicted
	// uplift of sleeping dogs below zero, of persuadables above.
	rows := synth.UpliftCampaign(8000, 0.5, 2)
	var dog, pers, nd, np float64
	for i, r := range rows {
		switch r.Kind {
		case synth.SleepingDog:
			dog += up[i]
			nd++
		case synth.Persuadable:
			pers += up[i]
			np++
		}
	}
	if dog/nd >= 0 || pers/np <= 0 {
		t.Errorf("mean predicted uplift: sleeping dogs %.3f, persuadables %.3f", dog/nd, pers/np)
	}
	var rep bytes.Buffer
	cmp.WriteReport(&rep, "Who to contact: uplift")
	if !strings.Contains(rep.String(), "| uplift model |") || !strings.Contains(rep.String(), "promoted") {
		t.Errorf("report:\n%s", rep.String())
	}
	// A model that ranks at random is not promoted.
	noise := make([]float64, len(up))
	for i := range noise {
		noise[i] = float64((i * 7919) % 1000)
	}
	if c := campaign.Compare(noise, noise, hTreated, held.Label, 100, 3); c.Promoted {
		t.Errorf("a ranking equal to the baseline was promoted: %s", c.Decision)
	}
}

func TestNextBestOffers(t *testing.T) {
	ctx := context.Background()
	train, treated, _, _ := upliftFrame(synth.UpliftCampaign(6000, 0.5, 4))
	m, err := campaign.FitUplift(ctx, "discount-10", train, treated, 1)
	if err != nil {
		t.Fatal(err)
	}
	held, _, risk, effect := upliftFrame(synth.UpliftCampaign(3000, 0.5, 5))
	clv := make([]float64, held.Rows())
	for i := range clv {
		clv[i] = 600
	}
	offers, err := campaign.NextBestOffers([]*campaign.Uplift{m}, held, risk, clv, map[string]float64{"discount-10": 5})
	if err != nil {
		t.Fatal(err)
	}
	// Offered customers gain more, by the planted effect, than those left alone.
	var on, off, non, noff float64
	for i, o := range offers {
		if o.Offer != "" {
			on += effect[i]
			non++
		} else {
			off += effect[i]
			noff++
		}
	}
	if non == 0 || noff == 0 || on/non <= off/noff+0.02 {
		t.Errorf("planted effect of the offered %.3f (%v), of the rest %.3f (%v)", on/non, non, off/noff, noff)
	}
}

// TestContactValue: uplift × CLV − cost, with a customer of negative CLV
// worth nothing to keep, so a contact that drives them away is not a gain.
func TestContactValue(t *testing.T) {
	for _, tc := range []struct {
		name              string
		uplift, clv, cost float64
		want              float64
	}{
		{"kept by the call", 0.10, 500, 3, 47},
		{"would stay anyway", 0, 500, 3, -3},
		{"driven away by the call", -0.05, 500, 3, -28},
		{"unprofitable, driven away", -0.465, -200, 3, -3},
		{"unprofitable, kept", 0.2, -200, 3, -3},
	} {
		if got := campaign.ContactValue(tc.uplift, tc.clv, tc.cost); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: ContactValue(%g, %g, %g) = %g, want %g", tc.name, tc.uplift, tc.clv, tc.cost, got, tc.want)
		}
	}
}

// TestBounded: the served uplift is p − σ(logit p + shift), within
// [p − 1, p] for every churn score and shift, adversarial ones included,
// and equal to the hand computation where one is easy.
func TestBounded(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		name     string
		p, shift float64
		want     float64
	}{
		{"no effect", 0.3, 0, 0},
		{"odds a third", 0.5, math.Log(1.0 / 3), 0.25},
		{"odds tripled", 0.5, math.Log(3), -0.25},
		{"the demo's 6.2% customer, the strongest effect", 0.062, -inf, 0.062},
		{"a sure stayer is not moved", 0, -5, 0},
		{"a sure leaver is not moved", 1, -5, 0},
		{"certain to be driven away", 0.2, inf, -0.8},
		{"NaN risk", math.NaN(), -1, 0},
		{"NaN shift", 0.4, math.NaN(), 0},
	} {
		if got := campaign.Bounded(tc.p, tc.shift); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: Bounded(%g, %g) = %g, want %g", tc.name, tc.p, tc.shift, got, tc.want)
		}
	}
	ps := []float64{-1, -0, 0, 5e-324, 1e-300, 1e-9, 0.062, 0.5, 1 - 1e-16, 1 - 1e-9, 1, 1.5, inf, -inf, math.NaN()}
	shifts := []float64{-inf, -1e300, -1e9, -40, -18.4, -1, -1e-12, 0, 1e-12, 1, 18.4, 40, 1e9, 1e300, inf, math.NaN()}
	rng := rand.New(rand.NewPCG(16, 1))
	for range 20000 {
		ps = append(ps, rng.Float64())
		shifts = append(shifts[:16], rng.NormFloat64()*10)
		for _, p := range ps[len(ps)-1:] {
			for _, s := range shifts {
				checkBounded(t, p, s)
			}
		}
	}
	for _, p := range ps[:15] {
		for _, s := range shifts[:16] {
			checkBounded(t, p, s)
		}
	}
}

func checkBounded(t *testing.T, p, shift float64) {
	t.Helper()
	u := campaign.Bounded(p, shift)
	q := 0.0
	if p == p {
		q = min(1, max(0, p))
	}
	if u != u || u > q || u < q-1 {
		t.Fatalf("Bounded(%g, %g) = %g, outside [%g, %g]", p, shift, u, q-1, q)
	}
	if (shift < 0 && u < 0) || (shift > 0 && u > 0) {
		t.Fatalf("Bounded(%g, %g) = %g: the wrong sign", p, shift, u)
	}
}

// TestPredictNeverExceedsRisk: a fitted model's uplift stays within
// [risk − 1, risk] for the customers' own risks, for risks drawn at random,
// and for adversarial ones (every customer nearly certain to stay, or to
// leave), where the two models' plain difference does not.
func TestPredictNeverExceedsRisk(t *testing.T) {
	ctx := context.Background()
	train, treated, _, _ := upliftFrame(synth.UpliftCampaign(4000, 0.5, 21))
	m, err := campaign.FitUplift(ctx, "discount-10", train, treated, 3)
	if err != nil {
		t.Fatal(err)
	}
	held, _, own, _ := upliftFrame(synth.UpliftCampaign(3000, 0.5, 22))
	raw, err := m.Raw(held)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(22, 2))
	random := make([]float64, held.Rows())
	for i := range random {
		random[i] = rng.Float64()
	}
	fill := func(v float64) []float64 {
		out := make([]float64, held.Rows())
		for i := range out {
			out[i] = v
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		risk       []float64
		rawExceeds bool // the plain difference is incoherent for some
	}{
		{"own risk", own, false},
		{"random risk", random, false},
		{"nearly sure to stay", fill(0.001), true},
		{"nearly sure to leave", fill(0.999), true},
		{"sure to stay", fill(0), true},
	} {
		up, err := m.Predict(held, tc.risk)
		if err != nil {
			t.Fatal(err)
		}
		if n := campaign.Incoherent(up, tc.risk); n > 0 {
			t.Errorf("%s: %d uplifts outside [risk − 1, risk]", tc.name, n)
		}
		for i, u := range up {
			if u != u {
				t.Fatalf("%s: customer %d: NaN uplift", tc.name, i)
			}
		}
		if n := campaign.Incoherent(raw, tc.risk); tc.rawExceeds && n == 0 {
			t.Errorf("%s: the plain difference never leaves [risk − 1, risk]: the case does not test the bound", tc.name)
		}
	}
	if _, err := m.Predict(held, own[:10]); err == nil {
		t.Error("Predict with fewer churn scores than rows: no error")
	}
}
