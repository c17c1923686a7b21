package scoring

import (
	"fmt"
	"io"
)

// WriteSummary prints the run for a person: what was scored with which
// models, the value parameters, the lists and where the snapshot is.
func (res *Result) WriteSummary(w io.Writer, indent string) {
	p := func(format string, a ...any) { fmt.Fprintf(w, indent+format+"\n", a...) }
	if len(res.Built) > 0 {
		p("features: built %d missing month(s) first (%s … %s)", len(res.Built),
			res.Built[0].Month.Format("2006-01"), res.Built[len(res.Built)-1].Month.Format("2006-01"))
	}
	p("scoring run %s: feature month %s, churn model %s, segmentation %s",
		res.Run, res.FeatureMonth, res.ChurnModel, res.SegmentModel)
	p("  %d customers scored, mean churn probability %.1f%%; %d recently lost listed for win-back",
		res.Scored, 100*res.MeanProbability, res.WinBack)
	v := res.Value
	c := v.Costs
	p("  value: profit = revenue - cost to serve (network %.0f%%, off-net %.3f/min, international %.3f/min, care %.2f/call, discounts, bad debt %.0f%% of arrears or expected arrears);",
		100*c.NetworkShare, c.OffnetPerMinute, c.IntlPerMinute, c.CarePerCall, 100*c.BadDebtRate)
	p("    CLV over %d months at %.0f%% a year, churn over %d months; monthly profit %.2f, total value at risk %.2f",
		v.HorizonMonths, 100*v.AnnualDiscountRate, v.LabelHorizonMonths, res.TotalProfit, res.TotalValueAtRisk)
	for _, l := range res.Lists {
		p("  %-22s %5d  %s", l.Name, l.Customers, l.Title)
	}
	p("  snapshot: %s (%.1f MB), %s (%.1f MB), %s (latest.json points to run %s)", res.Snapshot.Columns, float64(res.Snapshot.ColumnsBytes)/1e6,
		res.Snapshot.Detail, float64(res.Snapshot.DetailBytes)/1e6, res.Snapshot.Meta, res.Snapshot.Run)
	p("  took %.1fs", res.Seconds)
}
