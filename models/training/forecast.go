package training

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/telcolake/telcolake/forecast"
	"github.com/telcolake/telcolake/models/churn"
	"github.com/telcolake/telcolake/models/evaluate"
	"github.com/telcolake/telcolake/models/features"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/segment"
)

// ForecastResult is the forecast's part of a run: the backtest and the
// total revenue of the next three months with its bands.
type ForecastResult struct {
	Section *evaluate.ForecastSection `json:"backtest"`
	// NextQuarterRevenue is the total revenue of the three months after
	// the newest, by the served method.
	NextQuarterRevenue forecast.Band `json:"next_quarter_revenue"`
	RevenueMethod      string        `json:"revenue_method"`
	Rows               int           `json:"rows"`
	SnapshotID         int64         `json:"snapshot_id"`
}

// buildForecast forecasts from crm.cube_monthly (just rebuilt), with the
// attrition of the promoted churn model's probabilities for the newest
// feature month (what scoring will give those customers), writes
// crm.forecasts and adds the backtest to the churn report of this run.
func (r *Runner) buildForecast(ctx context.Context, seg *segment.Model, newest time.Time, opt Options, res *Result, rep *evaluate.Report) (*ForecastResult, error) {
	series, err := forecast.History(ctx, r.Tables)
	if err != nil {
		return nil, fmt.Errorf("training: %w", err)
	}
	if len(series) == 0 {
		return nil, nil
	}
	attr, source, err := r.attrition(ctx, seg, newest, opt.Horizon)
	if err != nil {
		r.warn(ctx, "forecast: churn scores unavailable; observed attrition used", err)
	}
	fr, err := forecast.Build(series, attr, forecast.Options{Seed: opt.Seed + 11, AttritionSource: source})
	if err != nil {
		return nil, fmt.Errorf("training: %w", err)
	}
	out := &ForecastResult{Section: &evaluate.ForecastSection{HistoryMonths: fr.HistoryMonths,
		From: fr.From.Format("2006-01"), To: fr.To.Format("2006-01"), Horizon: fr.Horizon,
		Attrition: fr.AttritionSource, Seasonal: fr.Seasonal}}
	for _, bt := range fr.Backtests {
		out.Section.Backtests = append(out.Section.Backtests, evaluate.ForecastBacktest{Dim: bt.Dim, Measure: bt.Measure,
			Groups: bt.Groups, ModelMAPE: bt.ModelMAPE, BaselineMAPE: bt.BaselineMAPE, Baseline: bt.Baseline,
			BeatBaseline: bt.BeatBaseline, Served: bt.Served, Note: bt.Note})
	}
	if f, ok := fr.Find("total", forecast.TotalGroup, forecast.Revenue); ok {
		out.NextQuarterRevenue, out.RevenueMethod = f.Quarter, f.Method
	}
	out.Section.Elasticity = r.elasticity(ctx, opt.Horizon, fr)
	for _, f := range fr.Forecasts {
		out.Rows += len(f.History) + len(f.Bands)
	}
	out.Rows += len(fr.Elasticities)
	if out.SnapshotID, err = forecast.Write(ctx, r.Tables, res.Version, opt.Now().UTC(), fr); err != nil {
		return nil, fmt.Errorf("training: %w", err)
	}
	if rep != nil {
		rep.Forecast = out.Section
		files, err := rep.Files()
		if err != nil {
			return nil, fmt.Errorf("training: report with forecast: %w", err)
		}
		for _, name := range []string{evaluate.FileJSON, evaluate.FileMarkdown} {
			if err := r.Registry.Store.Put(ctx, registry.Key(registry.KindChurn, res.Version, name), files[name]); err != nil {
				return nil, fmt.Errorf("training: report with forecast: %w", err)
			}
		}
	}
	return out, nil
}

// elasticity estimates the churn elasticity of price from the register's
// plan changes, followed over the churn label's horizon, into fr (stored
// with the forecast, for price scenarios) and returns its report section;
// nil, with a warning, when the register or the bills cannot be read.
func (r *Runner) elasticity(ctx context.Context, horizon int, fr *forecast.Result) *evaluate.ElasticitySection {
	study, err := forecast.StudyPlanChanges(ctx, r.Tables, horizon)
	if err != nil {
		r.warn(ctx, "forecast: plan changes unreadable; no elasticity", err)
		return nil
	}
	var notes []string
	fr.Elasticities, notes = forecast.Elasticities(study)
	sec := &evaluate.ElasticitySection{Horizon: horizon, Changes: len(study.Changes), Unpriced: study.Unpriced, Prices: study.Prices, Notes: notes}
	if !study.From.IsZero() {
		sec.From, sec.To = study.From.Format("2006-01"), study.To.Format("2006-01")
	}
	for _, e := range fr.Elasticities {
		sec.Rows = append(sec.Rows, evaluate.ElasticityRow{Plan: e.Plan, Value: e.Estimate.Value, Lo: e.Estimate.Lo, Hi: e.Estimate.Hi,
			SE: e.SE, Changes: e.Changes, Own: e.Own})
	}
	return sec
}

// attrition scores the newest feature month's customers (not deactivated)
// with the promoted churn model and turns their probabilities into each
// group's attrition. The month is streamed a scan batch at a time: each
// batch's attrition is merged into its groups' (AttritionFrom is a mean,
// so the merge weighted by customers is the whole month's).
func (r *Runner) attrition(ctx context.Context, seg *segment.Model, newest time.Time, horizon int) (map[forecast.Key]forecast.Attrition, string, error) {
	var m churn.Model
	ptr, ok, err := r.Registry.LoadPromoted(ctx, registry.KindChurn, &m)
	if err != nil || !ok {
		return nil, "", err
	}
	out := map[forecast.Key]forecast.Attrition{}
	err = features.Stream(ctx, r.Tables, newest, newest, nil, func(set *features.Set) error {
		probs, err := m.Predict(set.Frame)
		if err != nil {
			return fmt.Errorf("score %s: %w", newest.Format("2006-01"), err)
		}
		var segs []int
		if seg != nil {
			if segs, err = seg.Assign(set.Frame); err != nil {
				return err
			}
		}
		cat := func(name string) []string {
			if c := set.Col(name); c != nil {
				return c.Cat
			}
			return nil
		}
		region, plan, status := cat("region"), cat("plan"), cat("status")
		by := map[forecast.Key][]float64{}
		orUnknown := func(col []string, i int) string {
			if col == nil || col[i] == "" {
				return "unknown"
			}
			return col[i]
		}
		for i, p := range probs {
			if status != nil && status[i] == "deactivated" {
				continue
			}
			s := "unknown"
			if segs != nil {
				s = strconv.Itoa(segs[i])
			}
			for _, k := range []forecast.Key{{Dim: "total", Group: forecast.TotalGroup}, {Dim: "region", Group: orUnknown(region, i)},
				{Dim: "plan", Group: orUnknown(plan, i)}, {Dim: "segment", Group: s}} {
				by[k] = append(by[k], p)
			}
		}
		for k, ps := range by {
			out[k] = mergeAttrition(out[k], forecast.AttritionFrom(ps, horizon))
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, fmt.Sprintf("churn model %s's probabilities for %s (%d-month horizon)", ptr.Version, newest.Format("2006-01"), horizon), nil
}

// mergeAttrition is the attrition of a's and b's customers together.
func mergeAttrition(a, b forecast.Attrition) forecast.Attrition {
	if a.Customers == 0 {
		return b
	}
	n := float64(a.Customers + b.Customers)
	wa, wb := float64(a.Customers)/n, float64(b.Customers)/n
	out := forecast.Attrition{Customers: a.Customers + b.Customers, Hazard: a.Hazard*wa + b.Hazard*wb,
		Survive: make([]float64, len(a.Survive))}
	for k := range out.Survive {
		out.Survive[k] = a.Survive[k]*wa + b.Survive[k]*wb
	}
	return out
}
