package main

import (
	"context"
	"fmt"
	"io"
)

// tryPriceScenario saves one price what-if through the running API
// without an elasticity, so the one the training run estimated from the
// register's plan changes is used, and prints where it came from and the
// 12-month outcome against the baseline forecast.
func tryPriceScenario(ctx context.Context, w io.Writer, base string) error {
	const body = `{"name":"demo: PLUS20 10% dearer","kind":"price","plan":"PLUS20","price_change_pct":10}`
	sc, err := postScenario(ctx, base, body)
	if err != nil {
		return err
	}
	o := sc.Outcome
	fmt.Fprintf(w, "\nWhat-if: %s, elasticity %.2f (95%% %.2f … %.2f), %s\n", sc.Spec.Name, o.Effect.Value, o.Effect.Lo, o.Effect.Hi, o.Effect.Source)
	fmt.Fprintf(w, "  over 12 months: churned %.0f (95%% %.0f … %.0f) instead of %.0f; revenue against the baseline %+.0f (95%% %+.0f … %+.0f)\n",
		o.Churned.Point, o.Churned.Lo95, o.Churned.Hi95, o.BaselineChurned, o.Profit.Point, o.Profit.Lo95, o.Profit.Hi95)
	return nil
}
