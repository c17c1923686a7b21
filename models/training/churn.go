package training

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/telcolake/telcolake/models/churn"
	"github.com/telcolake/telcolake/models/dataset"
	"github.com/telcolake/telcolake/models/evaluate"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/segment"
)

// fitted is a classifier's candidates fitted on a split, the best first.
type fitted struct {
	model *churn.Model
	cands []churn.Candidate
}

// fit fits a split's candidates (churn.Train): the expensive half of a
// classifier, which the run does side by side for churn and bad debt.
func (r *Runner) fit(ctx context.Context, sp *split, seed uint64) (*fitted, error) {
	model, cands, err := churn.Train(ctx, sp.train, sp.val, churn.Options{Seed: seed, Logistic: r.Logistic, NoLogistic: r.Logistic == nil})
	if err != nil {
		return nil, err
	}
	return &fitted{model: model, cands: cands}, nil
}

// trainChurn judges, reports and (unless it validates worse than the
// promoted one) promotes the churn model fitted on sp.
func (r *Runner) trainChurn(ctx context.Context, sp *split, fit *fitted, seg *segment.Model, opt Options, res *Result, now time.Time) error {
	train, val, first, valid := sp.train, sp.val, sp.first, sp.valid
	model, cands := fit.model, fit.cands
	raw, err := model.Predict(val)
	if err != nil {
		return fmt.Errorf("training: churn: score validation month: %w", err)
	}
	sum := evaluate.Summarise(raw, val.Label, opt.Seed+1)
	c := &res.Churn
	c.Kind, c.AUC, c.PRAUC, c.Lift10 = model.Kind, sum.AUC, sum.PRAUC, sum.Lift10
	c.AUCCI = [2]float64{sum.AUCCI.Lo, sum.AUCCI.Hi}

	// Calibration: fitted on one hash-half of the validation month, judged
	// on the other, which it never saw.
	cal, choice, judged := calibrate(val.IDs, raw, val.Label, opt.Seed+2)
	model.Calibration = cal
	judgedLabels := pick(val.Label, judged)
	before := evaluate.MeasureCalibration(pick(raw, judged), judgedLabels, opt.Seed+3)
	after := evaluate.MeasureCalibration(cal.ApplyAll(pick(raw, judged)), judgedLabels, opt.Seed+3)
	c.Calibration = CalibrationResult{Method: choice.Method, FitRows: choice.Rows, JudgedRows: len(judged),
		LogLoss: map[string]float64{}, Before: calibrationOf(before), After: calibrationOf(after)}
	for k, v := range choice.LogLoss {
		c.Calibration.LogLoss[k] = nanToZero(v)
	}
	probs, reasons, err := model.Score(val, 3)
	if err != nil {
		return fmt.Errorf("training: churn: score validation month: %w", err)
	}

	// The ground truth, when the data is synthetic.
	truth, note, err := truthFor(opt.Truth, res.ValidMonth)
	if err != nil {
		return err
	}
	var quality, baseline []evaluate.ReasonQuality
	var oracle *evaluate.OracleComparison
	if truth == nil {
		c.Truth = TruthResult{Note: note}
	} else {
		var top []string
		for _, im := range model.Importance() {
			top = append(top, im.Feature)
		}
		c.Truth, quality, baseline = compareTruth(val, probs, reasons, top, truth, opt.Horizon, opt.Seed+4)
		if c.Truth.Available {
			oc := evaluate.OracleComparison{Rows: c.Truth.Rows, ModelAUC: c.Truth.ModelAUC, OracleAUC: c.Truth.OracleAUC,
				AUCGap: c.Truth.AUCGap, AUCGapCI: evaluate.Interval{Lo: c.Truth.AUCGapCI[0], Hi: c.Truth.AUCGapCI[1]},
				ModelPRAUC: c.Truth.ModelPRAUC, OraclePRAUC: c.Truth.OraclePRAUC, PRAUCGap: c.Truth.PRAUCGap,
				PRAUCGapCI: evaluate.Interval{Lo: c.Truth.PRAUCGapCI[0], Hi: c.Truth.PRAUCGapCI[1]}}
			oracle = &oc
		}
	}
	for _, k := range cands {
		c.Candidates = append(c.Candidates, evaluate.Candidate{Kind: k.Kind, ValidAUC: k.ValidAUC,
			ValidPRAUC: k.ValidPRAUC, TrainSeconds: k.TrainSeconds, Selected: k.Selected})
	}
	for _, im := range model.Importance() {
		c.Top = append(c.Top, evaluate.Importance{Feature: im.Feature, Value: im.Value})
	}

	// The gate: the promoted model scored on the same validation month.
	promo := evaluate.Promotion{Promoted: true, PreviousAUC: math.NaN()}
	var prev churn.Model
	ptr, ok, err := r.Registry.LoadPromoted(ctx, registry.KindChurn, &prev)
	switch {
	case err != nil:
		r.warn(ctx, "promoted churn model unreadable; the new one replaces it", err)
		promo.Reason = "the promoted model could not be read (" + err.Error() + ")"
	case !ok:
		promo.Reason = "first churn model"
	default:
		promo.Previous = ptr.Version
		pp, err := prev.Predict(val)
		if err != nil {
			promo.Reason = "the promoted model cannot score the current features (" + err.Error() + ")"
			break
		}
		promo.PreviousAUC = evaluate.ROCAUC(pp, val.Label)
		prevECE := evaluate.ECE(pick(pp, judged), judgedLabels)
		var prevRecall, newRecall float64 = math.NaN(), math.NaN()
		if len(quality) > 0 && quality[0].Cases > 0 {
			newRecall = quality[0].Recall
			if _, pr, err := prev.Score(val, 3); err == nil {
				if q := evaluate.ScoreReasons(reasonCases(val, truth, pr)); len(q) > 0 {
					prevRecall = q[0].Recall
				}
			}
		}
		switch {
		case sum.AUC < promo.PreviousAUC-opt.Margin:
			promo.Promoted = false
			promo.Reason = fmt.Sprintf("validation AUC %.4f is below the promoted %s's %.4f on the same month by more than the %.3f margin: kept, not promoted",
				sum.AUC, ptr.Version, promo.PreviousAUC, opt.Margin)
		case after.ECE > prevECE+opt.ECEMargin:
			promo.Promoted = false
			promo.Reason = fmt.Sprintf("calibration error (ECE) %.4f is above the promoted %s's %.4f on the same rows by more than the %.3f margin: kept, not promoted",
				after.ECE, ptr.Version, prevECE, opt.ECEMargin)
		case newRecall < prevRecall-opt.RecallMargin:
			promo.Promoted = false
			promo.Reason = fmt.Sprintf("reason recall %.3f is below the promoted %s's %.3f on the same churners by more than the %.2f margin: kept, not promoted",
				newRecall, ptr.Version, prevRecall, opt.RecallMargin)
		default:
			promo.Reason = fmt.Sprintf("validation AUC %.4f vs the promoted %s's %.4f on the same month (margin %.3f); ECE %.4f vs %.4f (margin %.3f)",
				sum.AUC, ptr.Version, promo.PreviousAUC, opt.Margin, after.ECE, prevECE, opt.ECEMargin)
			if !math.IsNaN(prevRecall) {
				promo.Reason += fmt.Sprintf("; reason recall %.3f vs %.3f (margin %.2f)", newRecall, prevRecall, opt.RecallMargin)
			}
		}
	}

	rep := &evaluate.Report{
		Version: res.Version, Kind: model.Kind, CreatedAt: now,
		TrainWindow: res.TrainWindow, ValidWindow: res.ValidMonth, Horizon: opt.Horizon,
		TrainRows: train.Rows(), TrainPositives: count(train.Label),
		Validation: sum, Candidates: c.Candidates, Importance: c.Top, Promotion: promo,
		Oracle: oracle, TruthNote: c.Truth.Note, Reasons: quality, ReasonBaseline: baseline,
		Calibrated: &evaluate.CalibrationSection{Choice: choice, JudgedRows: len(judged), Before: before, After: after},
		Uplift:     res.Uplift.Section,
		Sample:     sp.sample.section(),
	}
	if seg != nil {
		rep.Segments, err = segmentRows(seg, val, probs, raw, judged)
		if err != nil {
			return err
		}
	}
	res.report = rep
	files, err := rep.Files()
	if err != nil {
		return fmt.Errorf("training: report: %w", err)
	}
	uri, err := r.Registry.Save(ctx, registry.KindChurn, res.Version, model, files)
	if err != nil {
		return err
	}
	c.Artifact = uri
	c.Report = r.Registry.Store.URI(registry.Key(registry.KindChurn, res.Version, evaluate.FileMarkdown))
	c.Promoted, c.Decision = promo.Promoted, promo.Reason
	if promo.Promoted {
		if err := r.Registry.Promote(ctx, registry.Pointer{Kind: registry.KindChurn, Version: res.Version,
			Artifact: uri, AUC: sum.AUC, PromotedAt: time.Now().UTC()}); err != nil {
			return err
		}
	}
	return r.recordRun(ctx, modelRun{
		version: res.Version, kind: registry.KindChurn, algorithm: model.Kind, trainedAt: now,
		trainFrom: first, trainTo: valid.AddDate(0, -1, 0), validMonth: valid, hasValid: true, horizon: opt.Horizon,
		trainRows: int64(train.Rows()), validRows: int64(val.Rows()),
		auc: sum.AUC, aucLo: sum.AUCCI.Lo, aucHi: sum.AUCCI.Hi, prAUC: sum.PRAUC, lift10: sum.Lift10,
		artifact: uri, report: c.Report, promoted: promo.Promoted, decision: promo.Reason, sample: sp.sample,
	})
}

// segmentRows compares observed and predicted churn per segment over the
// validation month, and the calibration before and after on the judged
// half (rows the calibration never saw).
func segmentRows(seg *segment.Model, val *dataset.Frame, probs, raw []float64, judged []int) ([]evaluate.SegmentRow, error) {
	ids, err := seg.Assign(val)
	if err != nil {
		return nil, fmt.Errorf("training: assign segments: %w", err)
	}
	type acc struct {
		n, pos int
		p      float64
		jp, jr []float64
		jl     []bool
	}
	by := map[int]*acc{}
	get := func(id int) *acc {
		a := by[id]
		if a == nil {
			a = &acc{}
			by[id] = a
		}
		return a
	}
	for i, id := range ids {
		a := get(id)
		a.n++
		a.p += probs[i]
		if val.Label[i] {
			a.pos++
		}
	}
	for _, i := range judged {
		a := get(ids[i])
		a.jp, a.jr, a.jl = append(a.jp, probs[i]), append(a.jr, raw[i]), append(a.jl, val.Label[i])
	}
	var out []evaluate.SegmentRow
	for _, s := range seg.Segments {
		a := by[s.ID]
		if a == nil || a.n == 0 {
			continue
		}
		row := evaluate.SegmentRow{ID: s.ID, Name: s.Name, Rows: a.n,
			ChurnRate: float64(a.pos) / float64(a.n), Predicted: a.p / float64(a.n),
			JudgedRows: len(a.jl), ECEBefore: math.NaN(), ECEAfter: math.NaN()}
		if len(a.jl) > 0 {
			row.ECEBefore, row.ECEAfter = evaluate.ECE(a.jr, a.jl), evaluate.ECE(a.jp, a.jl)
			row.Calibration = evaluate.Calibration(a.jp, a.jl, evaluate.CalibrationBins)
		}
		out = append(out, row)
	}
	return out, nil
}

// calibrate fits the calibrator on the rows whose id is in the fit half
// and returns it with the other rows, on which it is to be judged.
func calibrate(ids []string, raw []float64, labels []bool, seed uint64) (*evaluate.Calibrator, evaluate.CalibrationChoice, []int) {
	var fitRows, judged []int
	for i, id := range ids {
		if fitHalf(id) {
			fitRows = append(fitRows, i)
		} else {
			judged = append(judged, i)
		}
	}
	cal, choice := evaluate.FitCalibrator(pick(raw, fitRows), pick(labels, fitRows), seed)
	return cal, choice, judged
}

// pick returns xs at the given rows.
func pick[T any](xs []T, rows []int) []T {
	out := make([]T, len(rows))
	for j, i := range rows {
		out[j] = xs[i]
	}
	return out
}

func count(l []bool) int {
	n := 0
	for _, v := range l {
		if v {
			n++
		}
	}
	return n
}
