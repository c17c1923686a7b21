package churn

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/telcolake/telcolake/models/dataset"
	"github.com/telcolake/telcolake/models/evaluate"
)

// EvalOptions configure EvalCSV.
type EvalOptions struct {
	Target string
	Seed   uint64
	// ValidShare is the share of the training file held out (stratified)
	// to choose among the candidates (0.2).
	ValidShare float64
	// Resamples is the number of bootstrap resamples for the intervals
	// (1000).
	Resamples int
	Train     Options
}

// EvalResult is the outcome of EvalCSV.
type EvalResult struct {
	Notices    []string
	Candidates []Candidate
	Selected   string
	// TrainRows and TestRows count the rows used; TestRate is the test
	// file's churn rate and MeanPredicted the mean predicted probability
	// on it.
	TrainRows, TestRows     int
	TestRate, MeanPredicted float64
	// TrainSeconds is the whole training: candidates and the refit.
	TrainSeconds float64
	// ValidShare is the share of the training file the candidates were
	// compared on.
	ValidShare float64

	AUC, PRAUC, Lift10       float64
	AUCCI, PRAUCCI, Lift10CI evaluate.Interval
	Model                    *Model

	// Calibration is how the model's probabilities were calibrated: on
	// out-of-fold predictions of the training file (CalibrationFolds
	// folds), never on the test file. Before and After measure the test
	// file without and with it.
	Calibration   evaluate.CalibrationChoice
	Before, After evaluate.CalibrationMetrics

	// Compare has every candidate refitted on the whole training table
	// and measured on the test table, for the report only: the choice was
	// made on the validation hold-out before.
	Compare []CandidateTest

	// Examples are the riskiest test rows with their reasons.
	Examples []Example
}

// Example is one scored row of the test table.
type Example struct {
	Row         int // 1-based data row of the test file (after skipped rows)
	Probability float64
	Churned     bool
	Reasons     []Reason
}

// CandidateTest is one candidate's test metrics.
type CandidateTest struct {
	Kind               string
	AUC, PRAUC, Lift10 float64
	AUCCI              evaluate.Interval
}

// EvalCSV trains on the train table and measures on the test table
// (telcolake eval). The candidates are compared on a stratified hold-out
// of the training table; the chosen configuration is then refitted on the
// whole training table and scored once on the test table, with bootstrap
// 95% intervals.
func EvalCSV(ctx context.Context, train, test io.Reader, opt EvalOptions) (*EvalResult, error) {
	if opt.ValidShare <= 0 || opt.ValidShare >= 1 {
		opt.ValidShare = 0.2
	}
	if opt.Resamples <= 0 {
		opt.Resamples = 1000
	}
	opt.Train.Seed = opt.Seed
	res := &EvalResult{ValidShare: opt.ValidShare}
	tr, notes, err := LoadCSV(train, opt.Target)
	if err != nil {
		return nil, fmt.Errorf("churn: eval: training file: %w", err)
	}
	for _, n := range notes {
		res.Notices = append(res.Notices, "train: "+n)
	}
	te, notes, err := LoadCSVLike(test, opt.Target, tr)
	if err != nil {
		return nil, fmt.Errorf("churn: eval: test file: %w", err)
	}
	for _, n := range notes {
		res.Notices = append(res.Notices, "test: "+n)
	}
	if err := checkLabels(tr, "training"); err != nil {
		return nil, fmt.Errorf("churn: eval: %w", err)
	}

	t0 := time.Now()
	r := rand.New(rand.NewPCG(opt.Seed, 0xe5a1))
	fit, hold := stratifiedSplit(tr.Label, opt.ValidShare, r)
	_, cands, err := Train(ctx, tr.Subset(fit), tr.Subset(hold), opt.Train)
	if err != nil {
		return nil, fmt.Errorf("churn: eval: %w", err)
	}
	res.Candidates = cands
	var chosen Candidate
	for _, c := range cands {
		if c.Selected {
			chosen = c
		}
	}
	res.Selected = chosen.Kind
	m, err := Refit(ctx, tr, chosen, opt.Train)
	if err != nil {
		return nil, fmt.Errorf("churn: eval: %w", err)
	}
	p, err := m.Predict(te)
	if err != nil {
		return nil, fmt.Errorf("churn: eval: test file: %w", err)
	}
	oof, err := outOfFold(ctx, tr, chosen, opt.Train, r)
	if err != nil {
		return nil, fmt.Errorf("churn: eval: calibration: %w", err)
	}
	m.Calibration, res.Calibration = evaluate.FitCalibrator(oof, tr.Label, opt.Seed)
	res.TrainSeconds = time.Since(t0).Seconds()
	res.Model = m
	res.Before = evaluate.MeasureCalibration(p, te.Label, opt.Seed)
	res.After = evaluate.MeasureCalibration(m.Calibration.ApplyAll(p), te.Label, opt.Seed)
	_, reasons, err := m.Score(te, 3)
	if err != nil {
		return nil, fmt.Errorf("churn: eval: test file: %w", err)
	}
	top := make([]int, len(p))
	for i := range top {
		top[i] = i
	}
	slices.SortStableFunc(top, func(a, b int) int { return cmp.Compare(p[b], p[a]) })
	for _, i := range top[:min(3, len(top))] {
		res.Examples = append(res.Examples, Example{Row: i + 1, Probability: p[i], Churned: te.Label[i], Reasons: reasons[i]})
	}
	res.TrainRows, res.TestRows = tr.Rows(), te.Rows()
	res.TestRate, res.MeanPredicted = rate(te.Label), mean(p)
	lift10 := func(s []float64, l []bool) float64 { return evaluate.LiftAt(s, l, 0.1) }
	for _, c := range cands {
		cp := p
		if !c.Selected {
			cm, err := Refit(ctx, tr, c, opt.Train)
			if err != nil {
				return nil, fmt.Errorf("churn: eval: %w", err)
			}
			if cp, err = cm.Predict(te); err != nil {
				return nil, fmt.Errorf("churn: eval: test file: %w", err)
			}
		}
		res.Compare = append(res.Compare, CandidateTest{
			Kind:   c.Kind,
			AUC:    evaluate.ROCAUC(cp, te.Label),
			PRAUC:  evaluate.PRAUC(cp, te.Label),
			Lift10: lift10(cp, te.Label),
			AUCCI:  evaluate.Bootstrap(cp, te.Label, evaluate.ROCAUC, opt.Resamples, opt.Seed),
		})
	}
	res.AUC = evaluate.ROCAUC(p, te.Label)
	res.PRAUC = evaluate.PRAUC(p, te.Label)
	res.Lift10 = lift10(p, te.Label)
	res.AUCCI = evaluate.Bootstrap(p, te.Label, evaluate.ROCAUC, opt.Resamples, opt.Seed)
	res.PRAUCCI = evaluate.Bootstrap(p, te.Label, evaluate.PRAUC, opt.Resamples, opt.Seed)
	res.Lift10CI = evaluate.Bootstrap(p, te.Label, lift10, opt.Resamples, opt.Seed)
	return res, nil
}

// CalibrationFolds is the number of folds whose out-of-fold predictions
// EvalCSV calibrates on.
const CalibrationFolds = 5

// outOfFold returns, for each row of f, the probability given by
// candidate c refitted on the other folds (stratified folds).
func outOfFold(ctx context.Context, f *dataset.Frame, c Candidate, opt Options, r *rand.Rand) ([]float64, error) {
	fold := make([]int, f.Rows())
	for _, want := range []bool{true, false} {
		var rows []int
		for i, l := range f.Label {
			if l == want {
				rows = append(rows, i)
			}
		}
		r.Shuffle(len(rows), func(a, b int) { rows[a], rows[b] = rows[b], rows[a] })
		for k, i := range rows {
			fold[i] = k % CalibrationFolds
		}
	}
	out := make([]float64, f.Rows())
	for k := range CalibrationFolds {
		var fit, held []int
		for i, fk := range fold {
			if fk == k {
				held = append(held, i)
			} else {
				fit = append(fit, i)
			}
		}
		m, err := Refit(ctx, f.Subset(fit), c, opt)
		if err != nil {
			return nil, err
		}
		p, err := m.Predict(f.Subset(held))
		if err != nil {
			return nil, err
		}
		for j, i := range held {
			out[i] = p[j]
		}
	}
	return out, nil
}

func rate(l []bool) float64 {
	n := 0
	for _, v := range l {
		if v {
			n++
		}
	}
	return float64(n) / float64(len(l))
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// Write prints the notices, the candidate table and the test metrics:
// lines starting with "AUC", "PR-AUC", "lift@10%", then the calibration
// and lines starting with "log loss", "Brier" and "ECE" (calibrated, with
// the uncalibrated figure beside).
func (r *EvalResult) Write(w io.Writer) error {
	ew := &errWriter{w: w}
	for _, n := range r.Notices {
		fmt.Fprintln(ew, "notice:", n)
	}
	fmt.Fprintf(ew, "candidates (validation: %.0f%% of the training file, stratified):\n", 100*r.ValidShare)
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  model\tvalid AUC\tvalid PR-AUC\ttrain s\t")
	for _, c := range r.Candidates {
		mark := ""
		if c.Selected {
			mark = "selected"
		}
		fmt.Fprintf(tw, "  %s\t%.4f\t%.4f\t%.2f\t%s\n", c.Kind, c.ValidAUC, c.ValidPRAUC, c.TrainSeconds, mark)
	}
	tw.Flush()
	if len(r.Compare) > 0 {
		fmt.Fprintln(ew, "test, each candidate refitted on the whole training file (comparison only; chosen above on validation):")
		tw = tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  model\ttest AUC (95% CI)\ttest PR-AUC\tlift@10%\t")
		for _, c := range r.Compare {
			fmt.Fprintf(tw, "  %s\t%.4f (%.2f–%.2f)\t%.4f\t%.2f\t\n", c.Kind, c.AUC, c.AUCCI.Lo, c.AUCCI.Hi, c.PRAUC, c.Lift10)
		}
		tw.Flush()
	}
	fmt.Fprintf(ew, "model: %s refitted on all %d training rows; training %.1f s in all\n", r.Selected, r.TrainRows, r.TrainSeconds)
	if r.Model != nil {
		fmt.Fprint(ew, "top features:")
		for i, im := range r.Model.Importance() {
			if i == 5 {
				break
			}
			fmt.Fprintf(ew, " %s (%.3f)", im.Feature, im.Value)
		}
		fmt.Fprintln(ew)
	}
	for _, e := range r.Examples {
		var phrases []string
		for _, rs := range e.Reasons {
			phrases = append(phrases, rs.Phrase)
		}
		fmt.Fprintf(ew, "riskiest: row %d, p=%.2f, churned %v: %s\n", e.Row, e.Probability, e.Churned, strings.Join(phrases, "; "))
	}
	fmt.Fprintf(ew, "test: %d rows, churn rate %.3f, mean predicted %.3f\n", r.TestRows, r.TestRate, r.MeanPredicted)
	fmt.Fprintf(ew, "AUC %.4f (95%% CI %.2f–%.2f)\n", r.AUC, r.AUCCI.Lo, r.AUCCI.Hi)
	fmt.Fprintf(ew, "PR-AUC %.4f (95%% CI %.2f–%.2f)\n", r.PRAUC, r.PRAUCCI.Lo, r.PRAUCCI.Hi)
	fmt.Fprintf(ew, "lift@10%% %.2f (95%% CI %.2f–%.2f)\n", r.Lift10, r.Lift10CI.Lo, r.Lift10CI.Hi)
	fmt.Fprintf(ew, "calibration: %s, chosen by %d-fold out-of-fold log loss on the training file (none %.4f, platt %.4f, isotonic %.4f)\n",
		r.Calibration.Method, CalibrationFolds, r.Calibration.LogLoss[evaluate.CalibrateNone],
		r.Calibration.LogLoss[evaluate.CalibratePlatt], r.Calibration.LogLoss[evaluate.CalibrateIsotonic])
	fmt.Fprintf(ew, "log loss %.4f (95%% CI %.3f–%.3f; before calibration %.4f)\n", r.After.LogLoss, r.After.LogLossCI.Lo, r.After.LogLossCI.Hi, r.Before.LogLoss)
	fmt.Fprintf(ew, "Brier %.4f (95%% CI %.3f–%.3f; before calibration %.4f)\n", r.After.Brier, r.After.BrierCI.Lo, r.After.BrierCI.Hi, r.Before.Brier)
	fmt.Fprintf(ew, "ECE %.4f (95%% CI %.3f–%.3f; before calibration %.4f)\n", r.After.ECE, r.After.ECECI.Lo, r.After.ECECI.Hi, r.Before.ECE)
	return ew.err
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
