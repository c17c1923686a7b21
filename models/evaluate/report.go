package evaluate

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Candidate is one model kind tried during training, scored on the
// validation month.
type Candidate struct {
	Kind         string
	ValidAUC     float64
	ValidPRAUC   float64
	TrainSeconds float64
	Selected     bool
}

// SegmentRow compares, for one customer segment of the validation month,
// the observed churn rate with the mean predicted probability.
type SegmentRow struct {
	ID        int
	Name      string
	Rows      int
	ChurnRate float64 // observed share of churners
	Predicted float64 // mean predicted churn probability

	// JudgedRows are the segment's rows in the half of the validation
	// month the calibration never saw; ECEBefore and ECEAfter are their
	// calibration error without and with it (NaN without rows), and
	// Calibration their calibrated bins (the segment's chart).
	JudgedRows          int
	ECEBefore, ECEAfter float64
	Calibration         []CalBin
}

// Importance is how much the model relies on one feature.
type Importance struct {
	Feature string
	Value   float64
}

// Promotion records whether the new model replaced the serving one.
type Promotion struct {
	Promoted    bool
	Reason      string
	Previous    string  // version of the serving model before; "" if none
	PreviousAUC float64 // its validation AUC; NaN if unknown
}

// Report is the evaluation report kept next to a model artifact: what a
// retention analyst reads to decide whether to trust the model.
type Report struct {
	Title     string // e.g. "Churn model 20261123T101500Z"; defaults from Version
	Version   string
	Kind      string // model kind, as in Candidate.Kind
	CreatedAt time.Time

	TrainWindow string // e.g. "2026-03 … 2026-06"
	ValidWindow string // e.g. "2026-07"
	Horizon     int    // label: deactivated within Horizon months

	TrainRows, TrainPositives int

	Validation Summary
	Candidates []Candidate
	Segments   []SegmentRow
	Importance []Importance
	Promotion  Promotion
	Notes      []string

	// Oracle sets the model beside the generator's own probabilities on
	// the same rows; nil without ground truth, TruthNote says why.
	Oracle    *OracleComparison
	TruthNote string
	// Reasons is reason recall and precision against the ground truth,
	// overall first (ScoreReasons); ReasonBaseline the same, row for row,
	// for the same three reasons given to every customer.
	Reasons, ReasonBaseline []ReasonQuality
	// Calibrated describes the calibration of the deployed probabilities.
	Calibrated *CalibrationSection
	// Uplift is the uplift model's section of the run; nil: not trained.
	Uplift *UpliftSection
	// Forecast is the backtest of the run's forecast; nil without one.
	Forecast *ForecastSection

	// Target names what the model predicts when it is not churn (a
	// second classifier through the same machinery): its label in words
	// and what a positive row is called; nil for churn.
	Target *Target
	// Baseline compares the model with a trivial ranking on the same
	// validation rows; nil when there is none.
	Baseline *BaselineSection
	// Planted is how well the model finds the rows the generator planted
	// as positives (synthetic data only); nil otherwise.
	Planted *PlantedSection
	// Sample says whether the rows are a sample of the window's, and
	// which; nil: not recorded (every row).
	Sample *SampleSection
}

// Target describes a non-churn target in words.
type Target struct {
	// Label defines the label, e.g. "bad debt = 2+ consecutive bills in
	// arrears within 3 months after the snapshot".
	Label string
	// Positive and Positives name one and several positive rows
	// ("non-payer", "non-payers"); the report's churn wording ("churner",
	// "churned", "churn rate") reads in these words instead.
	Positive, Positives string
}

// BaselineSection is the model against a trivial ranking (e.g. current
// arrears) on the same rows: the baseline's AUC with its bootstrap
// interval, and the model's AUC gain with a paired bootstrap interval.
type BaselineSection struct {
	Name        string // e.g. "months in arrears, then arrears amount"
	AUC         float64
	AUCCI       Interval
	Gain        float64 // model AUC − baseline AUC
	GainCI      Interval
	Beats       bool // the promotion rule's verdict
	Description string
}

// PlantedSection measures recovery of the generator's planted positives
// among the validation rows: precision of the top decile by score against
// the planted rows' base rate, for the model and for the baseline.
type PlantedSection struct {
	What                   string // e.g. "deliberate non-payers who stop paying in the label's horizon"
	Rows, Planted, TopRows int
	BaseRate               float64
	TopPrecision, TopLift  float64
	TopRecall              float64
	BaselinePrecision      float64
	BaselineLift           float64
	BaselineRecall         float64
}

// CalibrationSection is how the probabilities were calibrated and how
// well, on rows the calibration never saw.
type CalibrationSection struct {
	Choice        CalibrationChoice
	JudgedRows    int
	Before, After CalibrationMetrics
}

// Names of the files Files returns.
const (
	FileMarkdown    = "report.md"
	FileROC         = "roc.png"
	FileGains       = "gains.png"
	FileCalibration = "calibration.png"
)

// maxFeatures is how many features the report lists.
const maxFeatures = 15

// Files renders the report: FileMarkdown, which embeds the three charts,
// the charts FileROC, FileGains and FileCalibration as PNG, and FileJSON.
func (r *Report) Files() (map[string][]byte, error) {
	js, err := r.JSON()
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{FileMarkdown: r.Markdown(), FileJSON: js}
	charts := []struct {
		name string
		draw func(Summary, string) ([]byte, error)
	}{
		{FileROC, rocChart},
		{FileGains, gainsChart},
		{FileCalibration, calibrationChart},
	}
	sub := r.chartSubtitle()
	for _, c := range charts {
		b, err := c.draw(r.Validation, sub)
		if err != nil {
			return nil, fmt.Errorf("evaluate: report %s: %s: %w", r.Version, c.name, err)
		}
		files[c.name] = b
	}
	for _, sg := range r.Segments {
		if len(sg.Calibration) == 0 {
			continue
		}
		name := segmentChartName(sg.ID)
		title := fmt.Sprintf("segment %d, calibrated, %s held-out rows", sg.ID, thousands(sg.JudgedRows))
		if sg.Name != "" {
			title = sg.Name + ": " + title
		}
		b, err := calibrationChart(Summary{Calibration: sg.Calibration}, title)
		if err != nil {
			return nil, fmt.Errorf("evaluate: report %s: %s: %w", r.Version, name, err)
		}
		files[name] = b
	}
	return files, nil
}

// Markdown renders the report as Markdown that reads well on GitHub and in
// a terminal. Missing numbers (NaN) show as "–".
func (r *Report) Markdown() []byte {
	var b bytes.Buffer
	v := r.Validation
	title := r.Title
	if title == "" {
		title = "Churn model " + r.Version
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	var meta []string
	if r.Version != "" {
		meta = append(meta, "version `"+r.Version+"`")
	}
	if r.Kind != "" {
		meta = append(meta, describeKind(r.Kind)+" (`"+r.Kind+"`)")
	}
	if !r.CreatedAt.IsZero() {
		meta = append(meta, "created "+r.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	if len(meta) > 0 {
		fmt.Fprintf(&b, "%s\n\n", capitalise(strings.Join(meta, " · ")))
	}

	b.WriteString("## Summary\n\n")
	b.WriteString(r.summaryParagraph())
	b.WriteString("\n\n")

	b.WriteString("## Data\n\n")
	table(&b, []string{"", ""}, "ll", [][]string{
		{"Training window", orDash(r.TrainWindow)},
		{"Training rows", rowsAndPositives(r.TrainRows, r.TrainPositives)},
		{"Validation month", orDash(r.ValidWindow)},
		{"Validation rows", rowsAndPositives(v.Rows, v.Positives)},
		{"Label", r.labelText()},
	})
	b.WriteString("\nThe model is trained on the training window and judged only on the validation month, which it never saw.\n\n")
	if r.Sample != nil {
		r.Sample.markdown(&b)
	}

	if len(r.Candidates) > 0 {
		b.WriteString("## Candidates\n\n")
		var rows [][]string
		for _, c := range r.Candidates {
			sel := ""
			if c.Selected {
				sel = "✓"
			}
			rows = append(rows, []string{describeKind(c.Kind) + " (`" + c.Kind + "`)", fixed(c.ValidAUC, 3), fixed(c.ValidPRAUC, 3), seconds(c.TrainSeconds), sel})
		}
		table(&b, []string{"Model", "Validation AUC", "Validation PR AUC", "Training time", "Selected"}, "lrrrc", rows)
		b.WriteString("\n")
	}

	b.WriteString("## Validation metrics\n\n")
	table(&b, []string{"Metric", "Value", "95% CI", "Meaning"}, "lrrl", [][]string{
		{"ROC AUC", fixed(v.AUC, 3), interval(v.AUCCI, 3), "chance a churner scores above a non-churner (0.5 = random)"},
		{"PR AUC", fixed(v.PRAUC, 3), interval(v.PRAUCCI, 3), "average precision over the ranking (random = churn rate)"},
		{"Lift at 10%", times(v.Lift10), "–", "churners in the top 10% by risk vs a random 10%"},
		{"Churn rate", percent(v.PositiveRate(), 1), "–", "observed share of churners"},
		{"Mean predicted", percent(v.MeanPredicted(), 1), "–", "average predicted churn probability"},
	})
	fmt.Fprintf(&b, "\nIntervals are 2.5–97.5%% percentiles over %d bootstrap resamples of the validation rows.\n\n", BootstrapResamples)

	r.writeBaseline(&b)
	if r.Target == nil {
		r.writeTruth(&b)
	}
	r.writeConfusion(&b)
	r.writeCalibration(&b)
	r.writeCalibrated(&b)

	if len(r.Segments) > 0 {
		b.WriteString("## Segments\n\n")
		var rows [][]string
		for _, s := range r.Segments {
			name := s.Name
			if name == "" {
				name = "segment " + strconv.Itoa(s.ID)
			}
			rows = append(rows, []string{strconv.Itoa(s.ID), name, thousands(s.Rows), percent(s.ChurnRate, 1), percent(s.Predicted, 1), points(s.Predicted - s.ChurnRate)})
		}
		table(&b, []string{"ID", "Segment", "Rows", "Observed churn", "Mean predicted", "Gap"}, "rlrrrr", rows)
		b.WriteString("\nGap is predicted minus observed, in percentage points: positive where the model expects more churn than happened.\n\n")
	}

	if len(r.Importance) > 0 {
		b.WriteString("## Top features\n\n")
		imp := append([]Importance(nil), r.Importance...)
		sort.SliceStable(imp, func(i, j int) bool { return imp[i].Value > imp[j].Value })
		shown := imp[:min(len(imp), maxFeatures)]
		var rows [][]string
		for i, f := range shown {
			rows = append(rows, []string{strconv.Itoa(i + 1), "`" + f.Feature + "`", sig(f.Value)})
		}
		table(&b, []string{"#", "Feature", "Importance"}, "rlr", rows)
		if len(imp) > len(shown) {
			fmt.Fprintf(&b, "\n%d more features not shown.\n", len(imp)-len(shown))
		}
		b.WriteString("\n")
	}

	b.WriteString("## Promotion\n\n")
	b.WriteString(r.promotionText())
	b.WriteString("\n\n")

	if r.Uplift != nil {
		r.Uplift.markdown(&b)
	}

	b.WriteString("## Charts\n\n")
	fmt.Fprintf(&b, "![ROC curve](%s)\n\n", FileROC)
	fmt.Fprintf(&b, "![Cumulative gains](%s)\n\n", FileGains)
	fmt.Fprintf(&b, "![Calibration](%s)\n", FileCalibration)
	for _, sg := range r.Segments {
		if len(sg.Calibration) > 0 {
			fmt.Fprintf(&b, "\n![Calibration, segment %d](%s)\n", sg.ID, segmentChartName(sg.ID))
		}
	}

	if r.Forecast != nil {
		r.Forecast.markdown(&b)
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	if t := r.Target; t != nil {
		return []byte(t.reword(b.String()))
	}
	return b.Bytes()
}

// labelText defines the label in words.
func (r *Report) labelText() string {
	if r.Target != nil && r.Target.Label != "" {
		return r.Target.Label
	}
	return labelDefinition(r.Horizon)
}

// reword puts the report's churn wording into t's words.
func (t *Target) reword(s string) string {
	p, ps := t.Positive, t.Positives
	if p == "" || ps == "" {
		return s
	}
	return strings.NewReplacer(
		"churners", ps, "Churners", capitalise(ps), "churner", p, "Churner", capitalise(p),
		"Churned", capitalise(ps), "churned", "became "+ps, "Churn rate", capitalise(p)+" rate",
		"churn rate", p+" rate", "% churn", "% "+ps, " churn ", " "+p+" risk ", "of churn", "of becoming a "+p,
	).Replace(s)
}

// writeBaseline writes the comparison with the trivial ranking and the
// recovery of planted positives.
func (r *Report) writeBaseline(b *bytes.Buffer) {
	if c := r.Baseline; c != nil {
		b.WriteString("## Against the baseline\n\n")
		verdict := "does not beat"
		if c.Beats {
			verdict = "beats"
		}
		fmt.Fprintf(b, "Baseline: %s. The model %s it on the validation month.\n\n", c.Name, verdict)
		table(b, []string{"", "ROC AUC", "95% CI"}, "lrr", [][]string{
			{"Model", fixed(r.Validation.AUC, 3), interval(r.Validation.AUCCI, 3)},
			{"Baseline", fixed(c.AUC, 3), interval(c.AUCCI, 3)},
			{"Gain (model − baseline)", fixed(c.Gain, 3), interval(c.GainCI, 3)},
		})
		fmt.Fprintf(b, "\nThe gain's interval is a paired bootstrap (%d resamples, both scored on each).", BootstrapResamples)
		if c.Description != "" {
			b.WriteString(" " + c.Description)
		}
		b.WriteString("\n\n")
	}
	if p := r.Planted; p != nil {
		b.WriteString("## Planted positives recovered\n\n")
		fmt.Fprintf(b, "The generator planted %s; %s of the %s validation rows are such (base rate %s). In the top 10%% by score (%s rows):\n\n",
			p.What, thousands(p.Planted), thousands(p.Rows), percent(p.BaseRate, 2), thousands(p.TopRows))
		table(b, []string{"Ranking", "Precision", "× base rate", "Recall"}, "lrrr", [][]string{
			{"Model", percent(p.TopPrecision, 1), times(p.TopLift), percent(p.TopRecall, 1)},
			{"Baseline", percent(p.BaselinePrecision, 1), times(p.BaselineLift), percent(p.BaselineRecall, 1)},
		})
		b.WriteString("\n")
	}
}

// chartSubtitle says which model and rows a chart shows.
func (r *Report) chartSubtitle() string {
	var parts []string
	if r.Version != "" {
		parts = append(parts, "model "+r.Version)
	}
	set := "validation"
	if r.ValidWindow != "" {
		set += " " + r.ValidWindow
	}
	v := r.Validation
	parts = append(parts, fmt.Sprintf("%s: %s rows, %s churners", set, thousands(v.Rows), thousands(v.Positives)))
	return strings.Join(parts, ", ")
}

// summaryParagraph says in words how well the model ranks and how the top
// decile compares with random contact.
func (r *Report) summaryParagraph() string {
	v := r.Validation
	month := r.ValidWindow
	if month == "" {
		month = "the validation set"
	}
	model := "the model"
	if r.Kind != "" {
		model = "the selected " + describeKind(r.Kind) + " model"
	}
	var s []string
	switch {
	case v.Rows == 0:
		s = append(s, fmt.Sprintf("There are no validation rows for %s, so the model could not be judged.", month))
	case math.IsNaN(v.AUC):
		s = append(s, fmt.Sprintf("On %s, all %s rows have the same label (%s churners), so how well %s ranks churners cannot be measured (AUC –).",
			month, thousands(v.Rows), thousands(v.Positives), model))
	default:
		s = append(s, fmt.Sprintf("On %s, %s ranks a churner above a non-churner %s of the time (AUC %s, 95%% CI %s)",
			month, model, percent(v.AUC, 0), fixed(v.AUC, 2), interval(v.AUCCI, 2)))
		if !math.IsNaN(v.Lift10) {
			s[0] += fmt.Sprintf("; contacting the top 10%% by risk finds %s as many churners as a random 10%%", times(v.Lift10))
		}
		s[0] += "."
	}
	if mp, cr := v.MeanPredicted(), v.PositiveRate(); !math.IsNaN(mp) && !math.IsNaN(cr) {
		s = append(s, fmt.Sprintf("It predicts %s churn on average against %s observed.", percent(mp, 1), percent(cr, 1)))
	}
	if r.Promotion.Promoted {
		s = append(s, "It was promoted to serve scores.")
	} else {
		s = append(s, "It was not promoted.")
	}
	return strings.Join(s, " ")
}

func (r *Report) writeConfusion(b *bytes.Buffer) {
	v := r.Validation
	c := v.Confusion
	th := fixed(c.Threshold, 3)
	flagged := c.TP + c.FP
	fmt.Fprintf(b, "## At the chosen threshold\n\n")
	if v.Positives == 0 {
		fmt.Fprintf(b, "With no churners in the validation month, F1 cannot choose a threshold; the table uses %s, the highest score. ", th)
	} else {
		fmt.Fprintf(b, "The threshold %s maximises F1 on the validation month. ", th)
	}
	fmt.Fprintf(b, "Subscribers scoring %s or more are flagged as at risk: %s of %s (%s).\n\n",
		th, thousands(flagged), thousands(v.Rows), percent(ratio(flagged, v.Rows), 1))
	table(b, []string{"", "Churned", "Stayed", "Total"}, "lrrr", [][]string{
		{"Flagged (score ≥ " + th + ")", thousands(c.TP), thousands(c.FP), thousands(flagged)},
		{"Not flagged", thousands(c.FN), thousands(c.TN), thousands(c.FN + c.TN)},
		{"Total", thousands(c.TP + c.FN), thousands(c.FP + c.TN), thousands(v.Rows)},
	})
	if p := c.Precision(); bad(p) {
		fmt.Fprintf(b, "\n- Precision –: no subscriber is flagged.\n")
	} else {
		fmt.Fprintf(b, "\n- Precision %s: of the flagged subscribers, %s churned.\n", percent(p, 1), percent(p, 1))
	}
	if r := c.Recall(); bad(r) {
		fmt.Fprintf(b, "- Recall –: there are no churners to find.\n")
	} else {
		fmt.Fprintf(b, "- Recall %s: the flagged group holds %s of all churners.\n", percent(r, 1), percent(r, 1))
	}
	fmt.Fprintf(b, "- F1 %s.\n\n", fixed(c.F1(), 3))
	b.WriteString("A campaign with a different budget should pick its own cut-off from the gains chart; the threshold only fixes one operating point.\n\n")
}

func (r *Report) writeCalibration(b *bytes.Buffer) {
	b.WriteString("## Calibration\n\n")
	var rows [][]string
	for _, c := range r.Validation.Calibration {
		rows = append(rows, []string{fixed(c.Lo, 1) + "–" + fixed(c.Hi, 1), thousands(c.Rows), percent(c.MeanPredicted, 1), percent(c.ObservedRate, 1)})
	}
	table(b, []string{"Predicted", "Rows", "Mean predicted", "Observed"}, "lrrr", rows)
	b.WriteString("\nA well calibrated model has observed close to mean predicted in every bin with enough rows, so a score of 0.3 means about 30% churn.\n\n")
}

// segmentChartName is the file name of segment id's calibration chart.
func segmentChartName(id int) string { return fmt.Sprintf("calibration-segment-%d.png", id) }

// writeTruth writes the comparison with the generator's ground truth.
func (r *Report) writeTruth(b *bytes.Buffer) {
	b.WriteString("## Against the ground truth\n\n")
	o := r.Oracle
	if o == nil {
		note := r.TruthNote
		if note == "" {
			note = "no ground truth"
		}
		fmt.Fprintf(b, "Oracle AUC: none (%s).\n\n", note)
		return
	}
	b.WriteString("The data generator knows why each customer leaves. Its own probabilities, the exact chance of churn given everything it planted that shows by the month's end, are the best any model can do on this data: the oracle.\n\n")
	table(b, []string{"", "Model", "Oracle", "Gap", "Gap 95% CI"}, "lrrrr", [][]string{
		{"ROC AUC", fixed(o.ModelAUC, 3), fixed(o.OracleAUC, 3), fixed(o.AUCGap, 3), interval(o.AUCGapCI, 3)},
		{"PR AUC", fixed(o.ModelPRAUC, 3), fixed(o.OraclePRAUC, 3), fixed(o.PRAUCGap, 3), interval(o.PRAUCGapCI, 3)},
	})
	fmt.Fprintf(b, "\nOver the same %s validation rows and label; the gap's interval is a paired bootstrap (%d resamples, both scored on each).", thousands(o.Rows), BootstrapResamples)
	if r.TruthNote != "" {
		b.WriteString(" " + capitalise(r.TruthNote) + ".")
	}
	b.WriteString("\n\n")
	if len(r.Reasons) == 0 {
		return
	}
	b.WriteString("### Reasons that name the cause\n\n")
	var rows [][]string
	for k, q := range r.Reasons {
		d := q.Driver
		if d == "" {
			d = "**all**"
		}
		bRecall, bPrecision := "–", "–"
		if k < len(r.ReasonBaseline) {
			bRecall, bPrecision = fixed(r.ReasonBaseline[k].Recall, 2), fixed(r.ReasonBaseline[k].Precision, 2)
		}
		rows = append(rows, []string{d, thousands(q.Cases), fixed(q.Recall, 2), interval(q.RecallCI, 2), bRecall,
			fixed(q.Precision, 2), interval(q.PrecisionCI, 2), bPrecision})
	}
	table(b, []string{"Dominant driver", "Churners", "Recall", "95% CI", "Baseline", "Top-1 precision", "95% CI", "Baseline"}, "lrrrrrrr", rows)
	b.WriteString("\nChurners of the validation month whose truth has a dominant planted driver (log-odds contribution ≥ 0.5). Recall: the share whose top 3 reasons include a feature reflecting that driver. Top-1 precision: the share whose first reason reflects a driver that really raised this customer's risk (≥ 0.1 log-odds). Wilson 95% intervals. Baseline: the same three reasons for everyone (the model's three most important features); where it scores as well, the figure says little about the individual reasons.\n\n")
}

// writeCalibrated writes how the deployed probabilities were calibrated.
func (r *Report) writeCalibrated(b *bytes.Buffer) {
	c := r.Calibrated
	if c == nil {
		return
	}
	b.WriteString("## Calibrated probabilities\n\n")
	fmt.Fprintf(b, "The scores customers get are calibrated: method **%s**, fitted on %s rows (one half of the validation month, by a hash of the customer id) and chosen by two-fold cross-fitted log loss on them (none %s, Platt %s, isotonic %s). The figures below are on the other %s rows, which the calibration never saw.\n\n",
		c.Choice.Method, thousands(c.Choice.Rows), fixed(c.Choice.LogLoss[CalibrateNone], 4), fixed(c.Choice.LogLoss[CalibratePlatt], 4),
		fixed(c.Choice.LogLoss[CalibrateIsotonic], 4), thousands(c.JudgedRows))
	table(b, []string{"Metric", "Before", "95% CI", "After", "95% CI"}, "lrrrr", [][]string{
		{"Brier score", fixed(c.Before.Brier, 4), interval(c.Before.BrierCI, 4), fixed(c.After.Brier, 4), interval(c.After.BrierCI, 4)},
		{"Log loss", fixed(c.Before.LogLoss, 4), interval(c.Before.LogLossCI, 4), fixed(c.After.LogLoss, 4), interval(c.After.LogLossCI, 4)},
		{"ECE", fixed(c.Before.ECE, 4), interval(c.Before.ECECI, 4), fixed(c.After.ECE, 4), interval(c.After.ECECI, 4)},
	})
	fmt.Fprintf(b, "\nECE is the expected calibration error over %d equal-width bins (row-weighted |mean predicted − observed|).\n\n", CalibrationBins)
	var rows [][]string
	for _, s := range r.Segments {
		if s.JudgedRows == 0 {
			continue
		}
		rows = append(rows, []string{strconv.Itoa(s.ID), thousands(s.JudgedRows), fixed(s.ECEBefore, 4), fixed(s.ECEAfter, 4)})
	}
	if len(rows) > 0 {
		table(b, []string{"Segment", "Held-out rows", "ECE before", "ECE after"}, "rrrr", rows)
		b.WriteString("\nOne calibration chart per segment is under Charts.\n\n")
	}
}

func (r *Report) promotionText() string {
	p := r.Promotion
	var s string
	if p.Promoted {
		s = "**Promoted.**"
		if p.Previous != "" {
			s += fmt.Sprintf(" It replaces `%s` (validation AUC %s → %s).", p.Previous, fixed(p.PreviousAUC, 3), fixed(r.Validation.AUC, 3))
		} else {
			s += " There was no serving model before."
		}
	} else {
		s = "**Not promoted.**"
		if p.Previous != "" {
			s += fmt.Sprintf(" `%s` keeps serving (validation AUC %s; this model %s).", p.Previous, fixed(p.PreviousAUC, 3), fixed(r.Validation.AUC, 3))
		}
	}
	if p.Reason != "" {
		s += " Reason: " + p.Reason
		if !strings.HasSuffix(p.Reason, ".") {
			s += "."
		}
	}
	return s
}

// describeKind names a model kind in words; unknown kinds are kept as is.
func describeKind(kind string) string {
	switch strings.ToLower(strings.NewReplacer("_", "-", " ", "-").Replace(kind)) {
	case "gbt", "gbm", "gradient-boosted", "gradient-boosting", "boosted-trees", "xgboost":
		return "gradient-boosted"
	case "logistic", "logreg", "logistic-regression", "lr":
		return "logistic regression"
	case "forest", "random-forest", "rf":
		return "random forest"
	case "tree", "decision-tree", "id3", "cart":
		return "decision tree"
	case "knn", "k-nearest-neighbours", "k-nearest-neighbors":
		return "nearest-neighbour"
	case "naive-bayes", "nb", "bayes":
		return "naive Bayes"
	case "baseline", "prior", "constant":
		return "baseline"
	}
	return kind
}

func labelDefinition(horizon int) string {
	switch {
	case horizon <= 0:
		return "churner = deactivated (horizon not recorded)"
	case horizon == 1:
		return "churner = deactivated within 1 month after the snapshot"
	}
	return fmt.Sprintf("churner = deactivated within %d months after the snapshot", horizon)
}

func rowsAndPositives(rows, pos int) string {
	return fmt.Sprintf("%s (%s churners, %s)", thousands(rows), thousands(pos), percent(ratio(pos, rows), 1))
}

// table writes a Markdown table; align holds one of l, r, c per column.
// Pipes in cells are escaped.
func table(b *bytes.Buffer, head []string, align string, rows [][]string) {
	esc := strings.NewReplacer("|", `\|`, "\n", " ")
	b.WriteString("|")
	for _, h := range head {
		fmt.Fprintf(b, " %s |", esc.Replace(h))
	}
	b.WriteString("\n|")
	for i := range head {
		switch align[i] {
		case 'r':
			b.WriteString("---:|")
		case 'c':
			b.WriteString(":---:|")
		default:
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, row := range rows {
		b.WriteString("|")
		for _, c := range row {
			fmt.Fprintf(b, " %s |", esc.Replace(c))
		}
		b.WriteString("\n")
	}
}

const dash = "–"

func orDash(s string) string {
	if s == "" {
		return dash
	}
	return s
}

func bad(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }

// fixed formats v with prec decimals, "–" for NaN or infinity.
func fixed(v float64, prec int) string {
	if bad(v) {
		return dash
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// percent formats a share as a percentage with prec decimals.
func percent(v float64, prec int) string {
	if bad(v) {
		return dash
	}
	return strconv.FormatFloat(100*v, 'f', prec, 64) + "%"
}

// points formats a difference of shares in percentage points.
func points(v float64) string {
	if bad(v) {
		return dash
	}
	s := strconv.FormatFloat(100*v, 'f', 1, 64)
	if s == "-0.0" {
		s = "0.0"
	}
	if v > 0 && s != "0.0" {
		s = "+" + s
	}
	return s + " pp"
}

// times formats a ratio such as a lift: "4.1×".
func times(v float64) string {
	if bad(v) {
		return dash
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + "×"
}

func interval(iv Interval, prec int) string {
	if bad(iv.Lo) || bad(iv.Hi) {
		return dash
	}
	return fixed(iv.Lo, prec) + "–" + fixed(iv.Hi, prec)
}

// seconds formats a duration in seconds: "0.4 s", "12 s", "3 min 5 s".
func seconds(v float64) string {
	switch {
	case bad(v) || v < 0:
		return dash
	case v < 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + " s"
	case v < 120:
		return strconv.FormatFloat(v, 'f', 0, 64) + " s"
	}
	d := time.Duration(math.Round(v)) * time.Second
	return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
}

// sig formats v with three significant digits, without exponents for the
// usual range of importances.
func sig(v float64) string {
	if bad(v) {
		return dash
	}
	if v == 0 {
		return "0"
	}
	if a := math.Abs(v); a < 1e-4 || a >= 1e6 {
		return strconv.FormatFloat(v, 'e', 2, 64)
	}
	digits := max(0, 2-int(math.Floor(math.Log10(math.Abs(v)))))
	return strconv.FormatFloat(v, 'f', digits, 64)
}

// thousands formats n with comma separators: 1234567 → "1,234,567".
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
