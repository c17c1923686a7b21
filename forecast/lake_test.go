package forecast_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/forecast"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
)

// writeCube puts monthly cube cells into the lake: per month, two regions
// of one plan and segment.
func writeCube(t *testing.T, tables lake.TableLoader, months int) {
	t.Helper()
	rb, err := lake.NewRowBuilder(lake.CubeMonthlyTable, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Release()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for m := range months {
		for r, region := range []string{"North", "South"} {
			if region == "South" && m == 1 {
				continue // a month without South customers: zeros, not a gap
			}
			subs := int64(100*(r+1) - 5*m)
			rb.Date("month", start.AddDate(0, m, 0))
			rb.String("region", region)
			rb.String("plan", "BASIC")
			rb.String("segment", "1")
			rb.String("lifecycle", "loyal")
			rb.String("age_band", "25-34")
			rb.String("gender", "unknown")
			rb.Int64("subscribers", subs)
			rb.Int64("new", 2)
			rb.Int64("churned", 7)
			rb.Money("revenue", subs*1050) // 10.50 per customer
			rb.Float("minutes", float64(subs)*100)
			rb.Float("data_mb", float64(subs)*2000)
			rb.Time("built_at", start)
		}
	}
	rec := rb.Record()
	defer rec.Release()
	if _, err := lake.ReplaceRows(context.Background(), tables, lake.CubeMonthlyTable, nil, []arrow.RecordBatch{rec}, iceberg.Properties{}); err != nil {
		t.Fatal(err)
	}
}

func TestHistoryBuildWriteRead(t *testing.T) {
	ctx := context.Background()
	l := laketest.New(t)
	writeCube(t, l.Cat, 7)
	series, err := forecast.History(ctx, l.Cat)
	if err != nil {
		t.Fatal(err)
	}
	got := map[forecast.Key]forecast.Series{}
	for _, s := range series {
		got[forecast.Key{Dim: s.Dim, Group: s.Group}] = s
	}
	if len(got) != 5 { // total, 2 regions, 1 plan, 1 segment
		t.Fatalf("%d series, want 5: %v", len(got), got)
	}
	south := got[forecast.Key{Dim: "region", Group: "South"}]
	if len(south.Points) != 7 || south.Points[1].Subscribers != 0 || south.Points[2].Subscribers != 190 {
		t.Errorf("South = %+v, want 7 months, 0 in the second, 190 in the third", south.Points)
	}
	total := got[forecast.Key{Dim: "total", Group: forecast.TotalGroup}]
	if p := total.Points[0]; p.Subscribers != 300 || p.Revenue != 3150 || p.Churned != 14 {
		t.Errorf("total month 1 = %+v, want 300 subscribers, 3150 revenue, 14 churned", p)
	}
	res, err := forecast.Build(series, nil, forecast.Options{Horizon: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	built := time.Date(2026, 8, 2, 3, 0, 0, 0, time.UTC)
	if _, err := forecast.Write(ctx, l.Cat, "20260802T030000Z", built, res); err != nil {
		t.Fatal(err)
	}
	st, err := forecast.LakeStore{Tables: l.Cat}.Forecast(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// 5 groups × 4 measures × (7 known + 3 ahead).
	if st.Run != "20260802T030000Z" || !st.BuiltAt.Equal(built) || len(st.Rows) != 5*4*10 {
		t.Fatalf("stored run %s at %v with %d rows, want 200", st.Run, st.BuiltAt, len(st.Rows))
	}
	var ahead int
	for _, r := range st.Rows {
		if r.Kind == "forecast" {
			ahead++
			if r.Lo95 == nil || r.Hi95 == nil || r.Lo80 == nil || *r.Lo95 > *r.Lo80 || *r.Hi95 < *r.Hi80 {
				t.Errorf("forecast row without a band: %+v", r)
			}
		} else if r.Lo80 != nil {
			t.Errorf("actual row with a band: %+v", r)
		}
		if r.ModelMAPE == nil || r.Note == "" {
			t.Errorf("row without its backtest: %+v", r)
		}
	}
	if ahead != 5*4*3 {
		t.Errorf("%d forecast rows, want 60", ahead)
	}
	// A second run replaces the first.
	if _, err := forecast.Write(ctx, l.Cat, "20260901T030000Z", built, res); err != nil {
		t.Fatal(err)
	}
	if st, err = (forecast.LakeStore{Tables: l.Cat}).Forecast(ctx); err != nil || len(st.Rows) != 200 || st.Run != "20260901T030000Z" {
		t.Fatalf("after a second run: %d rows of %s (%v), want 200 of the second", len(st.Rows), st.Run, err)
	}
	// Elasticities are stored with the run and read back for scenarios:
	// the plan's own, the overall one for a plan without its own.
	est := func(v, se float64, src string) forecast.Estimate {
		return forecast.Estimate{Value: v, Lo: v - 1.959963984540054*se, Hi: v + 1.959963984540054*se, Source: src}
	}
	res.Elasticities = []forecast.PlanElasticity{
		{Plan: forecast.OverallPlan, SE: 0.3, Changes: 200, Estimate: est(0.9, 0.3, "estimated from 200 plan changes, all plans")},
		{Plan: "BASIC", SE: 0.4, Changes: 120, Own: true, Estimate: est(1.3, 0.4, "estimated from 120 plan changes away from BASIC")},
	}
	if _, err := forecast.Write(ctx, l.Cat, "20261001T030000Z", built, res); err != nil {
		t.Fatal(err)
	}
	if st, err = (forecast.LakeStore{Tables: l.Cat}).Forecast(ctx); err != nil || len(st.Rows) != 202 {
		t.Fatalf("with elasticities: %d rows (%v), want 202", len(st.Rows), err)
	}
	for _, tt := range []struct {
		plan   string
		want   forecast.Estimate
		suffix string
	}{
		{"BASIC", res.Elasticities[1].Estimate, ""},
		{"PLUS", res.Elasticities[0].Estimate, "; plan PLUS has no estimate of its own"},
	} {
		got, ok := forecast.ElasticityFor(st, tt.plan)
		w := tt.want
		w.Source += tt.suffix
		if !ok || math.Abs(got.Value-w.Value) > 1e-12 || math.Abs(got.Lo-w.Lo) > 1e-12 || math.Abs(got.Hi-w.Hi) > 1e-12 || got.Source != w.Source {
			t.Errorf("ElasticityFor(%s) = %+v, %v; want %+v", tt.plan, got, ok, w)
		}
	}
	if _, err := forecast.BaseCaseFrom(st, "plan", "BASIC", 3); err != nil {
		t.Errorf("the baseline beside the elasticity rows: %v", err)
	}
}

func TestScenarioStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	l := laketest.New(t)
	st := forecast.ScenarioStore{Tables: l.Cat}
	u := 0.05
	at := time.Date(2026, 8, 2, 3, 0, 0, 0, time.UTC)
	a := forecast.Scenario{ID: "scn-a", Owner: "analyst", CreatedAt: at, ForecastRun: "r1",
		Spec:    forecast.Spec{Name: "offer", Kind: forecast.KindRetention, By: "total", Group: "all", Uplift: &u, UpliftLo: &u, UpliftHi: &u},
		Outcome: forecast.Outcome{Cost: 12.5, Profit: forecast.Band{Point: 3, Lo95: 1, Hi95: 5}, Assumptions: []string{"x"}}}
	b := a
	b.ID, b.CreatedAt, b.Spec.Name = "scn-b", at.Add(time.Minute), "second"
	for _, sc := range []forecast.Scenario{b, a, a} { // a saved twice: replaced, not doubled
		if err := st.Save(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "scn-a" || got[1].Spec.Name != "second" || got[0].Outcome.Profit.Hi95 != 5 ||
		*got[0].Spec.Uplift != 0.05 || !got[0].CreatedAt.Equal(at) {
		t.Errorf("List = %+v, want a then b as saved", got)
	}
}
