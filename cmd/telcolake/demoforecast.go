package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/telcolake/telcolake/forecast"
	"github.com/telcolake/telcolake/models/training"
)

// writeForecastSummary prints the training run's forecast of next
// quarter's revenue with its bands and how the model fared against the
// baseline in the backtest.
func writeForecastSummary(w io.Writer, res *training.Result) {
	f := res.Forecast
	if f == nil || f.Section == nil {
		fmt.Fprintln(w, "    forecast: none (no monthly cube)")
		return
	}
	q := f.NextQuarterRevenue
	fmt.Fprintf(w, "    forecast: revenue of the next 3 months from %s: %.0f (80%% %.0f … %.0f, 95%% %.0f … %.0f), by %s\n",
		q.Month.Format("2006-01"), q.Point, q.Lo80, q.Hi80, q.Lo95, q.Hi95, f.RevenueMethod)
	for _, bt := range f.Section.Backtests {
		if bt.Dim == "total" && bt.Measure == forecast.Revenue {
			verdict := "did not beat"
			if bt.BeatBaseline {
				verdict = "beat"
			}
			fmt.Fprintf(w, "    backtest (last 3 of %d months): the model's MAPE %.2f%% %s %s's %.2f%%; served: %s\n",
				f.Section.HistoryMonths, bt.ModelMAPE, verdict, bt.Baseline, bt.BaselineMAPE, bt.Served)
		}
	}
}

// tryScenario saves one what-if through the running API: a retention
// offer to every customer, the effect given with its interval, and prints
// its 12-month profit against the baseline forecast.
func tryScenario(ctx context.Context, w io.Writer, base string) error {
	body := `{"name":"demo: offer to all","kind":"retention","by":"total","group":"all","cost_per_contact":1.5,` +
		`"offer_cost":5,"acceptance_rate":0.3,"uplift":0.03,"uplift_lo":0.01,"uplift_hi":0.05,"effect_months":2}`
	sc, err := postScenario(ctx, base, body)
	if err != nil {
		return err
	}
	o := sc.Outcome
	fmt.Fprintf(w, "\nWhat-if (POST /v1/scenarios, saved as %s): %s, uplift 0.03 (0.01 … 0.05) over 12 months:\n", sc.ID, sc.Spec.Name)
	fmt.Fprintf(w, "  churned %.0f instead of %.0f; cost %.0f; profit against the baseline %.0f (95%% %.0f … %.0f)\n",
		o.Churned.Point, o.BaselineChurned, o.Cost, o.Profit.Point, o.Profit.Lo95, o.Profit.Hi95)
	return nil
}

// postScenario saves a what-if through the running API as the demo's
// analyst and returns it as saved.
func postScenario(ctx context.Context, base, body string) (forecast.Scenario, error) {
	var sc forecast.Scenario
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/scenarios", bytes.NewBufferString(body))
	if err != nil {
		return sc, err
	}
	req.Header.Set("X-API-Key", demoAPIKeys[1].secret) // analyst
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return sc, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 400))
		return sc, fmt.Errorf("POST /v1/scenarios: %s: %s", resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&sc); err != nil {
		return sc, fmt.Errorf("POST /v1/scenarios: %w", err)
	}
	return sc, nil
}
