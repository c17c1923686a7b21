package forecast_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/telcolake/telcolake/forecast"
	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/synth"
)

// TestElasticityFromLake: synthetic exports with planted plan changes
// (synth.PlantedElasticity) go through the ingest into the lake; the plan
// changes read back from crm.subscribers are the planted ones, the plan
// prices read from crm.bills are the generator's fees, and the overall
// elasticity's 95% interval holds the planted one.
func TestElasticityFromLake(t *testing.T) {
	ctx := context.Background()
	l := laketest.New(t)
	landing := filepath.Join(l.Root, laketest.Landing)
	const months, horizon = 8, 2
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	man, err := synth.Generate(ctx, synth.Config{Subscribers: 6000, Months: months, Seed: 3, Start: start,
		CDRFileSpan: "month", PlanChangeRate: 1, Truth: true}, synth.DirSink(landing))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range man.Files {
		if f.Table != synth.TableSubscribers && f.Table != synth.TableBills {
			continue // the CDRs play no part
		}
		body, err := os.ReadFile(filepath.Join(landing, filepath.FromSlash(f.Key)))
		if err != nil {
			t.Fatal(err)
		}
		l.Ingest(t, f.Key, string(body))
	}
	tb, err := os.ReadFile(filepath.Join(landing, filepath.FromSlash(man.PlanChangeTruth)))
	if err != nil {
		t.Fatal(err)
	}
	truth, err := synth.ReadPlanChangeTruth(bytes.NewReader(tb))
	if err != nil {
		t.Fatal(err)
	}

	study, err := forecast.StudyPlanChanges(ctx, l.Cat, horizon)
	if err != nil {
		t.Fatal(err)
	}
	fees := map[string]float64{"BASIC10": 9.99, "PLUS20": 19.99, "PREMIUM40": 39.99, "FAMILY": 49.99}
	for plan, fee := range fees {
		if study.Prices[plan] != fee {
			t.Errorf("price of %s from the bills = %v, want the fee %v", plan, study.Prices[plan], fee)
		}
	}
	// Every planted change followed for the whole horizon is found, and
	// nothing else.
	last := start.AddDate(0, months-1-horizon, 0)
	want := map[string]synth.PlanChange{}
	for _, c := range truth {
		if m, _ := time.Parse("2006-01", c.Month); !m.After(last) {
			want[c.SubscriberID] = c
		}
	}
	up := 0
	for _, c := range study.Changes {
		w, ok := want[c.SubscriberID]
		if !ok || w.Month != c.Month.Format("2006-01") || w.OldPlan != c.OldPlan || w.NewPlan != c.NewPlan || math.Abs(w.PriceChangePct-c.ChangePct) > 0.01 {
			t.Errorf("plan change %+v, planted %+v (%v)", c, w, ok)
		}
		if c.ChangePct > 0 {
			up++
		}
	}
	if len(study.Changes) != len(want) || study.Unpriced != 0 {
		t.Errorf("%d plan changes found (%d unpriced), %d planted and followed for %d months", len(study.Changes), study.Unpriced, len(want), horizon)
	}
	es, notes := forecast.Elasticities(study)
	if len(es) == 0 || es[0].Plan != forecast.OverallPlan {
		t.Fatalf("Elasticities = %+v, %v; want the overall one first", es, notes)
	}
	all := es[0].Estimate
	t.Logf("%d plan changes (%d up) %s … %s; overall elasticity %.3f (95%% %.3f … %.3f), planted %v; %s",
		len(study.Changes), up, study.From.Format("2006-01"), study.To.Format("2006-01"), all.Value, all.Lo, all.Hi, synth.PlantedElasticity, all.Source)
	for _, e := range es[1:] {
		t.Logf("plan %s: %.3f (95%% %.3f … %.3f), %d changes, own %v", e.Plan, e.Estimate.Value, e.Estimate.Lo, e.Estimate.Hi, e.Changes, e.Own)
	}
	if !(all.Lo <= synth.PlantedElasticity && synth.PlantedElasticity <= all.Hi) || all.Hi-all.Lo > 1.5 {
		t.Errorf("overall elasticity %.3f (95%% %.3f … %.3f): want an interval narrower than 1.5 holding the planted %v", all.Value, all.Lo, all.Hi, synth.PlantedElasticity)
	}
	if !strings.HasPrefix(all.Source, "estimated from ") {
		t.Errorf("source %q", all.Source)
	}
}

// TestElasticitiesRules: a plan with enough changes gets its own estimate,
// one with too few the overall one (and says so), a plan without churn at
// an unchanged price is noted and left out; no plan with enough changes,
// no estimate.
func TestElasticitiesRules(t *testing.T) {
	study := &forecast.PriceStudy{Horizon: 2, Stayers: map[string]forecast.PriceCell{
		"A": {N: 10000, Churned: 600}, "B": {N: 5000, Churned: 200}, "C": {N: 3000, Churned: 150}, "D": {N: 2000}}}
	add := func(plan, to string, pct float64, n, churned int) {
		for i := range n {
			study.Changes = append(study.Changes, forecast.PlanChange{SubscriberID: plan + to, OldPlan: plan, NewPlan: to, ChangePct: pct, Churned: i < churned})
		}
	}
	// A: churn 6% unchanged, 12% at +100%, 3% at −50%: ε = 1.
	add("A", "B", 100, 150, 18)
	add("A", "Z", -50, 100, 3)
	// B: 40 changes (under MinPlanChanges, enough to join the overall):
	// churn 4% unchanged, 2.5% at −50%: ε = 0.75.
	add("B", "A", -50, 40, 1)
	// C: 5 changes: neither its own nor in the overall.
	add("C", "B", 20, 5, 0)
	// D: nobody who kept the plan left.
	add("D", "A", 10, 40, 0)
	es, notes := forecast.Elasticities(study)
	got := map[string]forecast.PlanElasticity{}
	for _, e := range es {
		got[e.Plan] = e
	}
	a, b, c, all := got["A"], got["B"], got["C"], got[forecast.OverallPlan]
	if !a.Own || a.Changes != 250 || math.Abs(a.Estimate.Value-1) > 1e-9 {
		t.Errorf("A = %+v, want its own estimate 1 from 250 changes", a)
	}
	if b.Own || c.Own || b.Estimate != c.Estimate && !strings.Contains(c.Estimate.Source, "plan C has 5 plan changes") {
		t.Errorf("B = %+v, C = %+v: want the overall estimate", b, c)
	}
	if !strings.Contains(b.Estimate.Source, "plan B has 40 plan changes (under 100), so the overall estimate is used") {
		t.Errorf("B's source %q", b.Estimate.Source)
	}
	// The overall: A (ε 1) and B (ε 0.75) weighted by their precision.
	if all.Changes != 290 || all.Own || all.Estimate.Value <= 0.75 || all.Estimate.Value >= 1 || all.SE >= a.SE {
		t.Errorf("overall = %+v, want A's and B's 290 changes, between their estimates", all)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "plan D: no churn at an unchanged price") {
		t.Errorf("notes = %q", notes)
	}
	if _, ok := got["D"]; !ok || got["D"].Own {
		t.Errorf("D = %+v, want the overall estimate", got["D"])
	}
	study.Changes = study.Changes[290:]
	es, notes = forecast.Elasticities(study)
	if len(es) != 0 || len(notes) == 0 || !strings.Contains(notes[len(notes)-1], "no elasticity") {
		t.Errorf("without enough changes: %+v, %q", es, notes)
	}
}
