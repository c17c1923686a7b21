package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// tryAPI calls the local HTTP API the way the printed curl commands do,
// checks each answers 200, and prints the commands with a taste of the
// answer.
func tryAPI(ctx context.Context, w io.Writer, base string) error {
	key := func(role string) string {
		for _, k := range demoAPIKeys {
			if k.role == role {
				return k.secret
			}
		}
		return ""
	}
	get := func(path, role string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("X-API-Key", key(role))
		c := &http.Client{Timeout: 60 * time.Second}
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s as %s: %s: %s", path, role, resp.Status, strings.TrimSpace(string(body)))
		}
		return body, nil
	}
	// The riskiest customer of the churn-risk list is the look-up example.
	t0 := time.Now()
	body, err := get("/v1/lists/churn-risk?limit=3", "analyst")
	if err != nil {
		return err
	}
	cold := time.Since(t0)
	var list struct {
		Items []struct {
			SubscriberID string `json:"subscriber_id"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil || len(list.Items) == 0 {
		return fmt.Errorf("churn-risk list: unexpected answer %.200s", body)
	}
	id := list.Items[0].SubscriberID
	examples := []struct{ what, path, role string }{
		{"an agent looks up one customer (360° view, contact data shown)", "/v1/customers/" + id, "agent"},
		{"an analyst counts active customers with churn risk of 20% or more, most value at risk first (names and numbers masked)", "/v1/customers?churn_min=0.2&status=active&sort=-value_at_risk&limit=5", "analyst"},
		{"the retention campaign's list, as CSV", "/v1/lists/churn-risk?format=csv", "admin"},
		{"an analyst breaks active customers down by region and plan, with subtotals and a grand total (the data cube)", "/v1/cube?dims=region,plan&measures=count,churn_rate,value_at_risk_sum&status=active", "analyst"},
	}
	fmt.Fprintf(w, "\nHTTP API (first call, loading the snapshot: %.0f ms). Try:\n", float64(cold.Microseconds())/1000)
	for _, e := range examples {
		b, err := get(e.path, e.role)
		if err != nil {
			return err
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		first := lines[0]
		if strings.Contains(e.path, "format=csv") {
			first = fmt.Sprintf("%d rows; header: %s", len(lines)-1, first)
		}
		if len(first) > 160 {
			first = first[:160] + " …"
		}
		flags := "-s"
		if strings.Contains(e.path, "format=csv") {
			flags = "-s --compressed" // exports come gzip-compressed when the client accepts it
		}
		fmt.Fprintf(w, "  # %s\n  curl %s -H 'X-API-Key: %s' '%s%s'\n    → %s\n", e.what, flags, key(e.role), base, e.path, first)
	}
	return nil
}
