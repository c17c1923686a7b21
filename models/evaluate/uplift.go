package evaluate

import (
	"bytes"
	"fmt"
)

// UpliftSection is the uplift model's part of a training run's report:
// who to contact, judged on a held-out campaign by its Qini curve and
// AUUC against ranking by churn risk. Skipped says why there is no model
// (no or one past campaign); the numbers are then zero.
type UpliftSection struct {
	Version   string // the uplift model's version in the registry
	Method    string
	Skipped   string
	Campaigns int // past campaigns with a known outcome
	Running   int // campaigns whose horizon the register does not cover yet
	HeldOut   string
	TrainRows int
	HeldRows  int
	Treated   int // treated customers of the held-out campaign
	Missing   int // contacts without a feature row in their month
	// AUUC of the uplift model and of churn-risk ranking on the held-out
	// campaign, and their difference (model − risk), with percentile
	// bootstrap 95% intervals over Reps resamples.
	AUUCModel, AUUCRisk, AUUCDiff UpliftEstimate
	Reps                          int
	QiniModel, QiniRisk           []QiniPoint
	Promoted                      bool
	Decision                      string
	Notes                         []string
}

// UpliftEstimate is an estimate with its 95% interval.
type UpliftEstimate struct {
	Estimate, Lo, Hi float64
}

// QiniPoint is one point of a Qini curve: contacting the top Share keeps
// Gain more customers, as a share of all treated, than not contacting.
type QiniPoint struct {
	Share, Gain float64
}

// markdown renders the section.
func (u *UpliftSection) markdown(b *bytes.Buffer) {
	b.WriteString("## Who to contact: uplift model\n\n")
	if u.Method != "" {
		fmt.Fprintf(b, "Method: %s.\n\n", u.Method)
	}
	fmt.Fprintf(b, "Past campaigns with a known outcome: %d (still within their horizon: %d).\n\n", u.Campaigns, u.Running)
	if u.Skipped != "" {
		fmt.Fprintf(b, "Skipped: %s.\n\n", u.Skipped)
		return
	}
	fmt.Fprintf(b, "Version `%s`, trained on %s contacts of the older campaigns, held out: `%s` (%s contacts, %s treated; %d contacts had no feature row and were left out).\n\n",
		u.Version, thousands(u.TrainRows), u.HeldOut, thousands(u.HeldRows), thousands(u.Treated), u.Missing)
	table(b, []string{"Ranking", "AUUC", "95% interval"}, "lrr", [][]string{
		{"uplift model", sig4(u.AUUCModel.Estimate), sig4(u.AUUCModel.Lo) + " – " + sig4(u.AUUCModel.Hi)},
		{"churn risk", sig4(u.AUUCRisk.Estimate), sig4(u.AUUCRisk.Lo) + " – " + sig4(u.AUUCRisk.Hi)},
		{"difference", sig4(u.AUUCDiff.Estimate), sig4(u.AUUCDiff.Lo) + " – " + sig4(u.AUUCDiff.Hi)},
	})
	fmt.Fprintf(b, "\nAUUC is the mean over the top k of Q(k)/N_t, Q(k) = retained treated − retained control × N_t(k)/N_c(k); intervals: percentile bootstrap over customers, %d resamples.\n\n", u.Reps)
	fmt.Fprintf(b, "Decision: %s.\n\n", u.Decision)
	if len(u.QiniModel) > 0 && len(u.QiniModel) == len(u.QiniRisk) {
		var rows [][]string
		for i := range u.QiniModel {
			rows = append(rows, []string{fmt.Sprintf("%.0f%%", 100*u.QiniModel[i].Share), fmt.Sprintf("%+.4f", u.QiniModel[i].Gain), fmt.Sprintf("%+.4f", u.QiniRisk[i].Gain)})
		}
		table(b, []string{"Top share contacted", "Uplift model", "Churn risk"}, "rrr", rows)
		b.WriteString("\nQini curve: incremental retained customers as a share of all treated.\n\n")
	}
	for _, n := range u.Notes {
		fmt.Fprintf(b, "- %s\n", n)
	}
	if len(u.Notes) > 0 {
		b.WriteString("\n")
	}
}

// Markdown renders the section alone (the uplift model's own report.md).
func (u *UpliftSection) Markdown() []byte {
	var b bytes.Buffer
	u.markdown(&b)
	return b.Bytes()
}

func sig4(v float64) string { return fixed(v, 4) }
