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
)

// tryPriceScenario saves one price what-if through the running API
// without an elasticity, so the one the training run estimated from the
// register's plan changes is used, and prints where it came from and the
// 12-month outcome against the baseline forecast.
func tryPriceScenario(ctx context.Context, w io.Writer, base string) error {
	const body = `{"name":"demo: PLUS20 10% dearer","kind":"price","plan":"PLUS20","price_change_pct":10}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/scenarios", bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", demoAPIKeys[1].secret) // analyst
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 400))
		return fmt.Errorf("POST /v1/scenarios: %s: %s", resp.Status, b)
	}
	var sc forecast.Scenario
	if err := json.NewDecoder(resp.Body).Decode(&sc); err != nil {
		return fmt.Errorf("POST /v1/scenarios: %w", err)
	}
	o := sc.Outcome
	fmt.Fprintf(w, "\nWhat-if: %s, elasticity %.2f (95%% %.2f … %.2f), %s\n", sc.Spec.Name, o.Effect.Value, o.Effect.Lo, o.Effect.Hi, o.Effect.Source)
	fmt.Fprintf(w, "  over 12 months: churned %.0f (95%% %.0f … %.0f) instead of %.0f; revenue against the baseline %+.0f (95%% %+.0f … %+.0f)\n",
		o.Churned.Point, o.Churned.Lo95, o.Churned.Hi95, o.BaselineChurned, o.Profit.Point, o.Profit.Lo95, o.Profit.Hi95)
	return nil
}
