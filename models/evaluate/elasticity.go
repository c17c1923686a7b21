package evaluate

import (
	"bytes"
	"fmt"
	"slices"
)

// ElasticitySection is the churn elasticity of price the training run
// estimated from the register's plan changes (package forecast), stored
// with the forecast for price scenarios.
type ElasticitySection struct {
	Horizon  int    // months a change is followed
	From, To string // YYYY-MM: the months observations start in
	Changes  int    // priced plan changes found
	Unpriced int    // plan changes left out: a plan without a price
	// Prices are the plans' prices as billed (the most frequent gross bill).
	Prices map[string]float64
	Rows   []ElasticityRow
	Notes  []string
}

// ElasticityRow is one plan's elasticity (Plan "all": the overall one).
type ElasticityRow struct {
	Plan       string
	Value      float64
	Lo, Hi, SE float64
	Changes    int
	Own        bool // the plan's own estimate; else the overall one
}

func (e *ElasticitySection) markdown(b *bytes.Buffer) {
	b.WriteString("\n## Churn elasticity of price\n\n")
	fmt.Fprintf(b, "%d plan changes (%d left out without a plan price) starting %s … %s, each followed for %d months; the register's customers who kept their plan are the unchanged price. Plan prices as billed:",
		e.Changes, e.Unpriced, e.From, e.To, e.Horizon)
	plans := make([]string, 0, len(e.Prices))
	for p := range e.Prices {
		plans = append(plans, p)
	}
	slices.Sort(plans)
	for i, p := range plans {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(b, "%s %s %.2f", sep, p, e.Prices[p])
	}
	b.WriteString(".\n\n")
	if len(e.Rows) > 0 {
		b.WriteString("| plan | elasticity | 95% interval | se | plan changes | estimate |\n|---|---:|---|---:|---:|---|\n")
		for _, r := range e.Rows {
			src := "own"
			if !r.Own {
				src = "overall (too few changes)"
			}
			if r.Plan == "all" {
				src = "precision-weighted over plans"
			}
			fmt.Fprintf(b, "| %s | %.3f | %.3f … %.3f | %.3f | %d | %s |\n", r.Plan, r.Value, r.Lo, r.Hi, r.SE, r.Changes, src)
		}
	}
	for _, n := range e.Notes {
		fmt.Fprintf(b, "\n- %s", n)
	}
	if len(e.Notes) > 0 {
		b.WriteString("\n")
	}
}
