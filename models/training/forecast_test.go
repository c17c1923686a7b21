package training_test

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/forecast"
	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/training"
)

// checkForecast holds a run's forecast to what it must be: every dimension
// and measure backtested (6 months of history: fitted on 3, the last 3
// forecast), attrition from the promoted churn model, crm.forecasts
// written, and the backtest in the churn report's JSON and Markdown.
func checkForecast(t *testing.T, l *laketest.Lake, r *training.Runner, res *training.Result) {
	t.Helper()
	ctx := context.Background()
	f := res.Forecast
	if f == nil || f.Section == nil {
		t.Fatal("run without a forecast")
	}
	if f.Section.HistoryMonths != 6 || len(f.Section.Backtests) != len(forecast.Dimensions)*len(forecast.Measures) {
		t.Errorf("forecast over %d months with %d backtests, want 6 and %d", f.Section.HistoryMonths, len(f.Section.Backtests), len(forecast.Dimensions)*len(forecast.Measures))
	}
	if !strings.HasPrefix(f.Section.Attrition, "churn model ") {
		t.Errorf("attrition from %q, want the churn model", f.Section.Attrition)
	}
	for _, bt := range f.Section.Backtests {
		if bt.Groups == 0 || math.IsNaN(bt.ModelMAPE) || bt.Baseline != forecast.MethodNaive {
			t.Errorf("backtest %+v: want groups, a MAPE and the naive baseline (under 12 months)", bt)
		}
		if want := map[bool]string{true: forecast.MethodCohort, false: forecast.MethodNaive}[bt.BeatBaseline]; bt.Served != want {
			t.Errorf("%s/%s served %s, beat %v", bt.Dim, bt.Measure, bt.Served, bt.BeatBaseline)
		}
	}
	q := f.NextQuarterRevenue
	if !(q.Lo95 <= q.Lo80 && q.Lo80 <= q.Hi80 && q.Hi80 <= q.Hi95) || q.Point <= 0 {
		t.Errorf("next quarter's revenue %+v: want a positive point in nested bands", q)
	}
	st, err := forecast.LakeStore{Tables: l.Cat}.Forecast(ctx)
	if err != nil || st.Run != res.Version || len(st.Rows) != f.Rows {
		t.Fatalf("crm.forecasts: run %s, %d rows (%v); want %s, %d", st.Run, len(st.Rows), err, res.Version, f.Rows)
	}
	js, err := r.Registry.Store.Get(ctx, registry.Key(registry.KindChurn, res.Version, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Forecast *struct {
			Backtests []struct{ Dim, Measure, Served string }
		}
	}
	if err := json.Unmarshal(js, &rep); err != nil || rep.Forecast == nil || len(rep.Forecast.Backtests) != len(f.Section.Backtests) {
		t.Errorf("report.json's forecast section: %+v (%v)", rep.Forecast, err)
	}
	md, err := r.Registry.Store.Get(ctx, registry.Key(registry.KindChurn, res.Version, "report.md"))
	if err != nil || !strings.Contains(string(md), "## Forecast backtest") || !strings.Contains(string(md), "## Churn elasticity of price") {
		t.Errorf("report.md without the forecast backtest or the elasticity (%v)", err)
	}
	// The elasticity part: the register's plan changes (a few % a year of
	// 1,500 subscribers) are found and the plans priced from the bills;
	// whatever could be estimated is stored with the forecast.
	el := f.Section.Elasticity
	if el == nil || el.Changes == 0 || el.Horizon != 2 || el.Prices["PLUS20"] != 19.99 || (len(el.Rows) == 0) == (len(el.Notes) == 0) && len(el.Rows) == 0 {
		t.Fatalf("elasticity section %+v: want plan changes, plan prices, and rows or a note", el)
	}
	stored := 0
	for _, row := range st.Rows {
		if row.Measure == forecast.MeasureElasticity {
			stored++
		}
	}
	if stored != len(el.Rows) {
		t.Errorf("%d elasticity rows stored, %d in the section", stored, len(el.Rows))
	}
	t.Logf("elasticity: %d plan changes, rows %+v, notes %q", el.Changes, el.Rows, el.Notes)
	for _, bt := range f.Section.Backtests {
		if bt.Dim == "total" {
			t.Logf("backtest total %s: model MAPE %.2f%%, %s %.2f%%, served %s", bt.Measure, bt.ModelMAPE, bt.Baseline, bt.BaselineMAPE, bt.Served)
		}
	}
}
