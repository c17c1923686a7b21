package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/telcolake/telcolake/insight"
)

// tryLifecycle asks the local API, as an analyst, for the median lifetime
// by plan and the leading churn causes, and prints a few lines of each.
func tryLifecycle(ctx context.Context, w io.Writer, base string) error {
	secret := ""
	for _, k := range demoAPIKeys {
		if k.role == "analyst" {
			secret = k.secret
		}
	}
	get := func(path string, v any) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("X-API-Key", secret)
		resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s: %.200s", path, resp.Status, strings.TrimSpace(string(body)))
		}
		return json.Unmarshal(body, v)
	}
	var sv struct {
		Survival insight.SurvivalBy `json:"survival"`
	}
	if err := get("/v1/lifecycle/survival?by=plan", &sv); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nLifecycle (GET /v1/lifecycle/survival?by=plan, Kaplan–Meier from activation, months):\n")
	for _, g := range sv.Survival.Groups {
		s24 := "–"
		if len(g.Curve) > 24 {
			s24 = fmt.Sprintf("%.0f%%", 100*g.Curve[24].Surv)
		}
		fmt.Fprintf(w, "  %-12s %6d customers, %5d left; still here after 24 months %s; median lifetime %s\n",
			g.Group, g.N, g.Events, s24, months(g.Median))
	}
	if lr := sv.Survival.LogRank; lr != nil {
		fmt.Fprintf(w, "  plans differ: log-rank chi² %.1f, df %d, p %.2g\n", lr.Chi2, lr.DF, lr.P)
	}
	var ca insight.CausesBy
	if err := get("/v1/churn/causes?by=region", &ca); err != nil {
		return err
	}
	if len(ca.AtRisk) > 0 {
		all := ca.AtRisk[0]
		fmt.Fprintf(w, "Churn causes (GET /v1/churn/causes): leading reasons of the %d customers at risk (top 10%%, p ≥ %.2f):\n", all.Customers, ca.Threshold)
		for _, r := range all.Reasons[:min(3, len(all.Reasons))] {
			fmt.Fprintf(w, "  %4.0f%%  %s\n", 100*r.Share, r.Reason)
		}
	}
	return nil
}

// months renders a median in months: "41.2 (95% CI 38.0–45.9)", or "not
// reached" while more than half are still customers.
func months(e insight.Estimate) string {
	f := func(p *float64) string {
		if p == nil {
			return "not reached"
		}
		return fmt.Sprintf("%.1f", *p)
	}
	if e.Value == nil {
		return "not reached"
	}
	return f(e.Value) + " (95% CI " + f(e.Lower) + "–" + f(e.Upper) + ")"
}
