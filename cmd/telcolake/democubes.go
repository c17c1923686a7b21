package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// tryCubes asks the operator's analytical questions of the running API, one
// request each, and prints the request with the few figures that answer
// it (README, "Cubes over time and usage", quotes this output).
func tryCubes(ctx context.Context, w io.Writer, base string) error {
	secret := demoAPIKeys[1].secret // analyst
	type cell = map[string]any
	get := func(path string) ([]cell, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("X-API-Key", secret)
		resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var a struct {
			Cells []cell `json:"cells"`
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			return nil, fmt.Errorf("GET %s: %w", path, err)
		}
		return a.Cells, nil
	}
	grouping := func(c cell) int { v, _ := c["grouping"].(float64); return int(v) }
	str := func(c cell, k string) string { v, _ := c[k].(string); return v }
	num := func(c cell, k string) string {
		v, ok := c[k].(float64)
		if !ok {
			return "n/a"
		}
		if v == float64(int64(v)) {
			return fmt.Sprintf("%d", int64(v))
		}
		return fmt.Sprintf("%.2f", v)
	}
	val := func(c cell, k string) float64 { v, _ := c[k].(float64); return v }
	show := func(what, path string) {
		fmt.Fprintf(w, "  # %s\n  curl -s -H 'X-API-Key: %s' '%s%s'\n", what, secret, base, path)
	}

	fmt.Fprintf(w, "\nThe operator's questions, one request each (the cubes over customers, time and usage):\n")
	// The newest month of the usage cube: the questions are about one month.
	months, err := get("/v1/cube/usage?dims=month&measures=calls")
	if err != nil {
		return err
	}
	var month string
	for _, c := range months {
		if grouping(c) == 0 && str(c, "month") > month {
			month = str(c, "month")
		}
	}
	if month == "" {
		return fmt.Errorf("crm.usage_cube is empty")
	}

	q := "/v1/cube?dims=plan&roaming_min=5&measures=count,voice_minutes_mean,monthly_value_mean,churn_rate"
	show("traits of heavy roamers (5+ roaming calls in the scored month), by plan", q)
	cells, err := get(q)
	if err != nil {
		return err
	}
	slices.SortFunc(cells, func(a, b cell) int { return cmp.Compare(val(b, "count"), val(a, "count")) })
	for _, c := range cells {
		name := str(c, "plan")
		if grouping(c) == 1 {
			name = "all heavy roamers"
		}
		fmt.Fprintf(w, "    → %-18s %5s customers, %7s voice min, %6s/month, churn %s\n", name, num(c, "count"),
			num(c, "voice_minutes_mean"), num(c, "monthly_value_mean"), num(c, "churn_rate"))
	}

	q = "/v1/cube/usage?dims=gender,age_band,hour&income_band=A,B&call_kind=long_distance&month=" + month + "&measures=calls,subscribers,calls_per_subscriber"
	show("are women around 30 (25-34) in the top income bands (A, B) the long-distance users, and at what hours? ("+month+")", q)
	if cells, err = get(q); err != nil {
		return err
	}
	var hours []cell
	for _, c := range cells {
		switch {
		case grouping(c) == 4 && str(c, "age_band") == "25-34": // per gender, all hours
			fmt.Fprintf(w, "    → %s 25-34, income A-B: %s long-distance calls by %s subscribers, %s per subscriber\n",
				str(c, "gender"), num(c, "calls"), num(c, "subscribers"), num(c, "calls_per_subscriber"))
		case grouping(c) == 7:
			fmt.Fprintf(w, "    → everyone in income A-B:  %s long-distance calls by %s subscribers, %s per subscriber\n",
				num(c, "calls"), num(c, "subscribers"), num(c, "calls_per_subscriber"))
		case grouping(c) == 0 && str(c, "gender") == "F" && str(c, "age_band") == "25-34":
			hours = append(hours, c)
		}
	}
	slices.SortFunc(hours, func(a, b cell) int { return cmp.Compare(val(b, "calls"), val(a, "calls")) })
	var top []string
	for _, c := range hours[:min(4, len(hours))] {
		top = append(top, fmt.Sprintf("%s:00 (%s calls)", str(c, "hour"), num(c, "calls")))
	}
	fmt.Fprintf(w, "    → their busiest hours (UTC): %s\n", strings.Join(top, ", "))

	q = "/v1/cube/usage?dims=day_type,call_kind&call_kind=long_distance,roaming&month=" + month + "&measures=calls,minutes,subscribers,minutes_per_call"
	show("weekend against weekday, long-distance and roaming calls ("+month+")", q)
	if cells, err = get(q); err != nil {
		return err
	}
	for _, c := range cells {
		if grouping(c) == 0 {
			fmt.Fprintf(w, "    → %-7s %-13s %6s calls, %8s min, %5s subscribers, %s min per call\n", str(c, "day_type"), str(c, "call_kind"),
				num(c, "calls"), num(c, "minutes"), num(c, "subscribers"), num(c, "minutes_per_call"))
		}
	}

	q = "/v1/cube/monthly?dims=month,segment&measures=subscribers,new,churned,revenue,arpu"
	show("the trend: customers, new, churned, revenue and ARPU by month (and by segment, region, plan ... with dims=)", q)
	if cells, err = get(q); err != nil {
		return err
	}
	for _, c := range cells {
		if grouping(c) == 2 { // per month, every segment
			fmt.Fprintf(w, "    → %s: %6s customers, %4s new, %4s churned, revenue %10s, ARPU %s\n", str(c, "month"),
				num(c, "subscribers"), num(c, "new"), num(c, "churned"), num(c, "revenue"), num(c, "arpu"))
		}
	}
	return nil
}
