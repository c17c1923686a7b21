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
	defer res.Uplift.writeSummary(p)
	defer res.BadDebt.writeSummary(p)
	p("churn model %s: %s, trained on %s (%d rows), validated out-of-time on %s (%d rows)",
		res.Version, c.Kind, res.TrainWindow, res.TrainRows, res.ValidMonth, res.ValidRows)
	if sm := res.Sample; sm != nil && sm.Sampled {
		p("  rows: a seeded stratified sample (month × class), %d of %d training and %d of %d validation rows (caps %d and %d)",
			sm.TrainRows, sm.TrainPopulation, sm.ValidRows, sm.ValidPopulation, sm.TrainCap, sm.ValidCap)
	}
	p("  AUC %.3f (95%% CI %.3f–%.3f), PR-AUC %.3f, lift@10%% %.1f×", c.AUC, c.AUCCI[0], c.AUCCI[1], c.PRAUC, c.Lift10)
	for _, k := range c.Candidates {
		mark := " "
		if k.Selected {
			mark = "*"
		}
		p("  %s %-24s AUC %.3f  PR-AUC %.3f  %.1fs", mark, k.Kind, k.ValidAUC, k.ValidPRAUC, k.TrainSeconds)
	}
	if t := c.Truth; t.Available {
		p("  model AUC %.3f vs oracle AUC %.3f: gap %.3f (95%% CI %.3f–%.3f); PR-AUC %.3f vs %.3f, over %d rows",
			t.ModelAUC, t.OracleAUC, t.AUCGap, t.AUCGapCI[0], t.AUCGapCI[1], t.ModelPRAUC, t.OraclePRAUC, t.Rows)
		if len(t.Reasons) > 0 {
			all := t.Reasons[0]
			var by []string
			for _, r := range t.Reasons[1:] {
				by = append(by, fmt.Sprintf("%s %.2f (%d)", r.Driver, r.Recall, r.Churners))
			}
			p("  reason recall %.2f (95%% CI %.2f–%.2f; same 3 reasons for all: %.2f), top-1 precision %.2f (%.2f), over %d churners; by driver: %s",
				all.Recall, all.RecallCI[0], all.RecallCI[1], all.BaselineRecall, all.Precision, all.BaselinePrecision, all.Churners, strings.Join(by, ", "))
		}
	} else {
		p("  oracle AUC: none (%s)", t.Note)
	}
	if k := c.Calibration; k.Method != "" {
		p("  calibration %s (fitted on %d rows): ECE %.4f → %.4f, Brier %.4f → %.4f on the other %d rows",
			k.Method, k.FitRows, k.Before.ECE, k.After.ECE, k.Before.Brier, k.After.Brier, k.JudgedRows)
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

// writeSummary is the bad-debt model's line.
func (b *BadDebtResult) writeSummary(p func(string, ...any)) {
	if !b.Trained {
		p("bad-debt model: %s", b.Decision)
		return
	}
	promoted := "promoted"
	if !b.Promoted {
		promoted = "not promoted"
	}
	p("bad-debt model (2+ bills in arrears within %d months): AUC %.3f (95%% CI %.3f–%.3f) vs %.3f for current arrears, validated on %s; %s",
		b.Horizon, b.AUC, b.AUCCI[0], b.AUCCI[1], b.BaselineAUC, b.ValidMonth, promoted)
}

// WriteSummary prints the uplift model's line: the held-out campaign, its
// AUUC against ranking by churn risk, and the decision (or why no model
// was fitted).
func (u *UpliftResult) WriteSummary(w io.Writer, indent string) {
	u.writeSummary(func(format string, a ...any) { fmt.Fprintf(w, indent+format+"\n", a...) })
}

func (u *UpliftResult) writeSummary(p func(string, ...any)) {
	if u.Skipped != "" || u.HeldOut == "" {
		p("uplift model (who to contact): %s", u.Decision)
		return
	}
	p("uplift model (who to contact) %s, held out on campaign %s: AUUC %.4f against %.4f for ranking by churn risk (difference 95%% CI %.4f to %.4f)",
		u.Version, u.HeldOut, u.AUUC, u.AUUCRisk, u.DiffLo, u.DiffHi)
	verdict := "promoted: the next lists rank by what a contact changes (best-to-contact)"
	if !u.Promoted {
		verdict = "not promoted: the difference's interval is not above 0, so lists keep ranking by risk"
	}
	p("  %s", verdict)
}
