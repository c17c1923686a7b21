package synth

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSimulateCampaign(t *testing.T) {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var ts []CampaignTarget
	for i := range 4000 {
		ts = append(ts, CampaignTarget{ID: fmt.Sprintf("S%05d", i), Treated: i%5 != 0, Risk: float64(i%100) / 100})
	}
	a, b := SimulateCampaign(ts, start, 60, 7), SimulateCampaign(ts, start, 60, 7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave other outcomes")
	}
	kinds := map[string]int{}
	var tChurn, cChurn, tN, cN, wantEffect float64
	for _, o := range a {
		kinds[o.Kind]++
		if o.Treated != (o.Outcome != "") {
			t.Fatalf("%s: treated %v with outcome %q", o.ID, o.Treated, o.Outcome)
		}
		if o.Churned && (o.ChurnDate.Before(start) || o.ChurnDate.After(start.AddDate(0, 0, 60))) {
			t.Fatalf("%s churned on %s, outside the horizon", o.ID, o.ChurnDate)
		}
		if o.Treated {
			tN++
			wantEffect += o.PChurnControl - o.PChurnTreated
			if o.Churned {
				tChurn++
			}
		} else {
			cN++
			if o.Churned {
				cChurn++
			}
		}
	}
	for _, k := range []string{Persuadable, SureThing, LostCause, SleepingDog} {
		if kinds[k] < 50 {
			t.Errorf("%d %s customers of 4000", kinds[k], k)
		}
	}
	// The realised uplift is near the planted one (sd of the difference ≈ 0.016).
	got, want := cChurn/cN-tChurn/tN, wantEffect/tN
	if want <= 0.01 || got < want-0.05 || got > want+0.05 {
		t.Errorf("realised uplift %.3f, planted %.3f", got, want)
	}
	var buf bytes.Buffer
	if err := WriteResponses(&buf, "cmp-1", a); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != int(tN)+1 {
		t.Errorf("responses: %d lines, want %d", n, int(tN)+1)
	}
}

func TestRegisterAfter(t *testing.T) {
	prev := "export_date,subscriber_id,msisdn,plan,activation_date,status,status_date,payment_method\n" +
		"2026-11-30,S1,491700000001,basic,2024-01-01,active,2024-01-01,card\n" +
		"2026-11-30,S2,491700000002,basic,2024-01-01,active,2024-01-01,card\n"
	var out bytes.Buffer
	left := map[string]time.Time{"S2": time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC)}
	if err := RegisterAfter(&out, strings.NewReader(prev), time.Date(2027, 1, 30, 0, 0, 0, 0, time.UTC), left); err != nil {
		t.Fatal(err)
	}
	want := "export_date,subscriber_id,msisdn,plan,activation_date,status,status_date,payment_method\n" +
		"2027-01-30,S1,491700000001,basic,2024-01-01,active,2024-01-01,card\n" +
		"2027-01-30,S2,491700000002,basic,2024-01-01,deactivated,2027-01-05,card\n"
	if out.String() != want {
		t.Errorf("RegisterAfter =\n%s\nwant\n%s", out.String(), want)
	}
}

func TestUpliftCampaignPlanted(t *testing.T) {
	rows := UpliftCampaign(20000, 0.3, 3)
	n := map[string]int{}
	risk := map[string]float64{}
	effect := map[string]float64{}
	for _, r := range rows {
		n[r.Kind]++
		risk[r.Kind] += r.Risk
		effect[r.Kind] += r.Effect
	}
	for k := range n {
		risk[k] /= float64(n[k])
		effect[k] /= float64(n[k])
		t.Logf("%-13s %5d  mean risk %.3f  mean effect %+.3f", k, n[k], risk[k], effect[k])
	}
	if !(effect[Persuadable] > 0.02 && effect[SleepingDog] < -0.1 && effect[SureThing] == 0 && effect[LostCause] == 0) {
		t.Errorf("planted effects %v", effect)
	}
	if !(risk[SleepingDog] > risk[Persuadable] && risk[LostCause] > risk[Persuadable]) {
		t.Errorf("risk ranking would not put sleeping dogs and lost causes first: %v", risk)
	}
}

// TestSimulateCampaignTraits: with features, the planted kind follows
// them (not the risk), and the realised effect has the kind's sign:
// contacts keep persuadables, drive sleeping dogs away and change nothing
// for lost causes.
func TestSimulateCampaignTraits(t *testing.T) {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		kind   string
		traits Traits
	}{
		{SleepingDog, Traits{Plan: "PLUS20", TenureMonths: 40, CareCalls: 2, VoiceMinutesTrend: -0.5}},
		{LostCause, Traits{Plan: "BASIC10", TenureMonths: 6, MonthsInArrears: 3}},
		{Persuadable, Traits{Plan: "PREMIUM40", TenureMonths: 12, VoiceMinutesTrend: 0.1}},
		{Persuadable, Traits{Plan: "PREPAID_S", TenureMonths: 12, VoiceMinutesTrend: -0.3}},
		{SureThing, Traits{Plan: "PREPAID_S", TenureMonths: 12, VoiceMinutesTrend: 0.2}},
		{SureThing, Traits{Plan: "BASIC10", TenureMonths: 30, CareCalls: 1}},
	}
	for _, c := range cases {
		t.Run(c.kind+"/"+c.traits.Plan, func(t *testing.T) {
			var ts []CampaignTarget
			for i := range 6000 {
				tr := c.traits
				ts = append(ts, CampaignTarget{ID: fmt.Sprintf("S%05d", i), Treated: i%2 == 0, Risk: 0.3, Traits: &tr})
			}
			var churn, n [2]float64 // control, treated
			for _, o := range SimulateCampaign(ts, start, 60, 3) {
				if o.Kind != c.kind {
					t.Fatalf("%s: kind %s, want %s", o.ID, o.Kind, c.kind)
				}
				k := 0
				if o.Treated {
					k = 1
				}
				n[k]++
				if o.Churned {
					churn[k]++
				}
			}
			// uplift = control churn − treated churn; sd ≈ 0.012 here.
			uplift := churn[0]/n[0] - churn[1]/n[1]
			var lo, hi float64
			switch c.kind {
			case Persuadable:
				lo, hi = 0.10, 0.20 // planted 0.3 × 0.496 ≈ 0.149
			case SleepingDog:
				lo, hi = -0.17, -0.07 // planted −0.15 × 0.8 = −0.12
			default:
				lo, hi = -0.04, 0.04
			}
			if uplift < lo || uplift > hi {
				t.Errorf("realised uplift %.3f, want in [%.2f, %.2f]", uplift, lo, hi)
			}
		})
	}
}

// TestSimulateCampaignPerCustomer: a customer's draws are its own — the
// same outcome in the same arm wherever it stands in the targets and
// whoever else is in the campaign — and the play-forward seed follows the
// campaign's name, not its date.
func TestSimulateCampaignPerCustomer(t *testing.T) {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var ts []CampaignTarget
	for i := range 500 {
		ts = append(ts, CampaignTarget{ID: fmt.Sprintf("S%05d", i), Treated: i%3 != 0, Risk: float64(i%50) / 50})
	}
	a := SimulateCampaign(ts, start, 60, 9)
	rev := slices.Clone(ts[100:])
	slices.Reverse(rev)
	b := SimulateCampaign(rev, start, 60, 9)
	byID := map[string]CampaignOutcome{}
	for _, o := range b {
		byID[o.ID] = o
	}
	for _, o := range a[100:] {
		if !reflect.DeepEqual(o, byID[o.ID]) {
			t.Fatalf("%s: %+v, moved and with fewer others %+v", o.ID, o, byID[o.ID])
		}
	}
	// The other arm: the same kind and probabilities; a churner in the
	// control arm whose contact cannot help (sleeping dog, lost cause,
	// sure thing) churns when treated too.
	flip := slices.Clone(ts)
	for i := range flip {
		flip[i].Treated = !flip[i].Treated
	}
	for i, o := range SimulateCampaign(flip, start, 60, 9) {
		x := a[i]
		if o.Kind != x.Kind || o.PChurnControl != x.PChurnControl || o.PChurnTreated != x.PChurnTreated {
			t.Fatalf("%s: kind or probabilities change with the arm: %+v against %+v", o.ID, o, x)
		}
		ctl, trt := x, o
		if x.Treated {
			ctl, trt = o, x
		}
		if ctl.Churned && !trt.Churned && ctl.Kind != Persuadable {
			t.Errorf("%s (%s): churns without a contact, stays with one", o.ID, o.Kind)
		}
	}
	if CampaignSeed(1, "Demo retention call") != CampaignSeed(1, "Demo retention call") ||
		CampaignSeed(1, "Demo retention call") == CampaignSeed(1, "Demo SMS data bonus test") ||
		CampaignSeed(1, "Demo retention call") == CampaignSeed(2, "Demo retention call") {
		t.Error("CampaignSeed: not a function of the seed and the name alone")
	}
}
