package insight

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// GroupSurvival summarises one group's survival: its median lifetime with
// the interval, and the estimate at chosen times.
type GroupSurvival struct {
	Name   string   `json:"name"`
	N      int      `json:"n"`
	Events int      `json:"events"`
	MaxT   float64  `json:"max_time"`
	Median Estimate `json:"median"`
	At     []Point  `json:"at"` // only the times within the observations
}

// SurvivalReport is what `telcolake survival` prints: all subjects, each
// group, and the log-rank test between the groups.
type SurvivalReport struct {
	By      string          `json:"by,omitempty"`
	All     GroupSurvival   `json:"all"`
	Groups  []GroupSurvival `json:"groups,omitempty"`
	LogRank *LogRank        `json:"log_rank,omitempty"`
}

// Summarise estimates the curve of obs and reads it at the times at.
func Summarise(name string, obs []Obs, at []float64) (GroupSurvival, error) {
	c, err := KaplanMeier(obs)
	if err != nil {
		return GroupSurvival{}, err
	}
	g := GroupSurvival{Name: name, N: c.N, Events: c.Events, MaxT: c.MaxT, Median: c.Median()}
	for _, t := range at {
		if p, ok := c.At(t); ok {
			g.At = append(g.At, p)
		}
	}
	return g, nil
}

// AnalyseSurvival builds the report of d (by names the grouping column,
// if any); with two or more groups it runs the log-rank test.
func AnalyseSurvival(d *SurvivalData, by string, at []float64) (*SurvivalReport, error) {
	all, err := Summarise("all", d.All, at)
	if err != nil {
		return nil, err
	}
	rep := &SurvivalReport{By: by, All: all}
	for i, name := range d.Names {
		g, err := Summarise(name, d.Groups[i], at)
		if err != nil {
			return nil, err
		}
		rep.Groups = append(rep.Groups, g)
	}
	if len(d.Groups) >= 2 {
		if rep.LogRank, err = LogRankTest(d.Groups); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// Write prints the report as plain text.
func (r *SurvivalReport) Write(w io.Writer) error {
	a := r.All
	fmt.Fprintf(w, "subjects %d, events %d (%.1f%%), censored %d, longest observation %s\n",
		a.N, a.Events, 100*float64(a.Events)/float64(a.N), a.N-a.Events, num(a.MaxT))
	fmt.Fprintf(w, "median lifetime %s\n", a.Median)
	for _, p := range a.At {
		fmt.Fprintf(w, "survival at %s: %.4f (95%% band %.4f–%.4f), %s at risk\n", num(p.Time), p.Surv, p.Lower, p.Upper, atRisk(p.AtRisk))
	}
	if len(r.Groups) > 0 {
		fmt.Fprintf(w, "\nby %s:\n", r.By)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprint(tw, "  group\tsubjects\tevents\tmedian (95% CI)")
		times := map[float64]bool{}
		var order []float64
		for _, g := range r.Groups {
			for _, p := range g.At {
				if !times[p.Time] {
					times[p.Time] = true
					order = append(order, p.Time)
				}
			}
		}
		for _, t := range order {
			fmt.Fprintf(tw, "\tS(%s) (95%% band)", num(t))
		}
		fmt.Fprintln(tw)
		for _, g := range r.Groups {
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%s", g.Name, g.N, g.Events, g.Median)
			for _, t := range order {
				cell := "—"
				for _, p := range g.At {
					if p.Time == t {
						cell = fmt.Sprintf("%.4f (%.4f–%.4f)", p.Surv, p.Lower, p.Upper)
					}
				}
				fmt.Fprintf(tw, "\t%s", cell)
			}
			fmt.Fprintln(tw)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if lr := r.LogRank; lr != nil {
		fmt.Fprintf(w, "log-rank test: chi² = %.3f, df = %d, p = %.3g\n", lr.Chi2, lr.DF, lr.P)
	}
	_, err := fmt.Fprint(w)
	return err
}

// String renders "197 (95% CI 180–224)", "not reached" bounds as such.
func (e Estimate) String() string {
	b := func(p *float64) string {
		if p == nil {
			return "not reached"
		}
		return num(*p)
	}
	if e.Value == nil {
		return "not reached (95% CI " + b(e.Lower) + "–" + b(e.Upper) + ")"
	}
	return b(e.Value) + " (95% CI " + b(e.Lower) + "–" + b(e.Upper) + ")"
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

func atRisk(n int) string {
	if n < 0 {
		return "none"
	}
	return strconv.Itoa(n)
}
