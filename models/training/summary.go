package training

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// WriteSummary prints the run for a person: what was built, how well the
// churn model validates, whether it was promoted, and the segments in words.
func (res *Result) WriteSummary(w io.Writer, indent string) {
	p := func(format string, a ...any) { fmt.Fprintf(w, indent+format+"\n", a...) }
	rows := 0
	for _, m := range res.Months {
		rows += m.Rows
	}
	if len(res.Months) > 0 {
		p("features: %d month(s) built (%s … %s), %d customer-month rows", len(res.Months),
			res.Months[0].Month.Format("2006-01"), res.Months[len(res.Months)-1].Month.Format("2006-01"), rows)
	}
	c := res.Churn
	p("churn model %s: %s, trained on %s (%d rows), validated out-of-time on %s (%d rows)",
		res.Version, c.Kind, res.TrainWindow, res.TrainRows, res.ValidMonth, res.ValidRows)
	p("  AUC %.3f (95%% CI %.3f–%.3f), PR-AUC %.3f, lift@10%% %.1f×", c.AUC, c.AUCCI[0], c.AUCCI[1], c.PRAUC, c.Lift10)
	for _, k := range c.Candidates {
		mark := " "
		if k.Selected {
			mark = "*"
		}
		p("  %s %-24s AUC %.3f  PR-AUC %.3f  %.1fs", mark, k.Kind, k.ValidAUC, k.ValidPRAUC, k.TrainSeconds)
	}
	if len(c.Top) > 0 {
		var top []string
		for _, t := range c.Top[:min(5, len(c.Top))] {
			top = append(top, t.Feature)
		}
		p("  strongest features: %s", strings.Join(top, ", "))
	}
	verdict := "promoted"
	if !c.Promoted {
		verdict = "NOT promoted"
	}
	p("  %s: %s", verdict, c.Decision)
	p("  report: %s", c.Report)
	p("segments: k=%d (silhouette %.2f)", res.K, res.Silhouette)
	for _, s := range res.Segments {
		churn := "–"
		if !math.IsNaN(s.ChurnRate) {
			churn = fmt.Sprintf("%.1f%%", 100*s.ChurnRate)
		}
		p("  %d  %-40s %5.1f%% of customers, churn %s, mean bill %.2f", s.ID, s.Profile, 100*s.Share, churn, s.MeanValue)
	}
}
