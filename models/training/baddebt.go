package training

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/telcolake/telcolake/models/churn"
	"github.com/telcolake/telcolake/models/dataset"
	"github.com/telcolake/telcolake/models/evaluate"
	"github.com/telcolake/telcolake/models/features"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/synth"
)

// DefaultBadDebtHorizon is the bad-debt label's horizon N in months: "2+
// consecutive bills in arrears within N months".
const DefaultBadDebtHorizon = 3

// BadDebtResult is the bad-debt model's part of a run: a second
// classifier through the same split, training, calibration, report and
// promotion as churn, with its own registry kind and a gate against a
// trivial baseline (ranking by current arrears).
type BadDebtResult struct {
	// Trained is false when the history is too short for the horizon;
	// Decision says why.
	Trained       bool       `json:"trained"`
	Horizon       int        `json:"horizon_months"`
	TrainWindow   string     `json:"train_window"`
	ValidMonth    string     `json:"valid_month"`
	TrainRows     int        `json:"train_rows"`
	ValidRows     int        `json:"valid_rows"`
	Positives     int        `json:"valid_positives"`
	Kind          string     `json:"kind"`
	AUC           float64    `json:"auc"`
	AUCCI         [2]float64 `json:"auc_ci95"`
	BaselineAUC   float64    `json:"baseline_auc"`
	BaselineAUCCI [2]float64 `json:"baseline_auc_ci95"`
	Gain          float64    `json:"auc_gain"`
	GainCI        [2]float64 `json:"auc_gain_ci95"`
	Promoted      bool       `json:"promoted"`
	Decision      string     `json:"decision"`
	Artifact      string     `json:"artifact,omitempty"`
	Report        string     `json:"report,omitempty"`
	// Planted is the recovery of the generator's deliberate non-payers
	// (synthetic data with a truth file only).
	Planted *evaluate.PlantedSection `json:"planted,omitempty"`
	// Sample is how the rows were sampled (by month only: the bad-debt
	// label is read from the bills of the rows kept).
	Sample *SampleReport `json:"sample,omitempty"`
}

// BaselineName says what the bad-debt baseline ranks by.
const BaselineName = "current arrears (months in arrears, then the amount)"

// badDebtTarget labels rows with features.BadDebtLabels.
func (r *Runner) badDebtTarget(horizon int) target {
	return target{kind: registry.KindBadDebt, horizon: horizon, what: "crm.bills",
		labels: func(ctx context.Context, set *features.Set) ([]bool, []bool, error) {
			return features.BadDebtLabels(ctx, r.Tables, set, horizon)
		}}
}

// fitBadDebt loads the bad-debt split and fits its candidates (the
// expensive half, which the run does beside the churn fit). Too short a
// history, or a single class, is not an error: b says why and the split
// is nil.
func (r *Runner) fitBadDebt(ctx context.Context, months []time.Time, opt Options, b *BadDebtResult) (*split, *fitted, error) {
	b.Horizon = opt.BadDebtHorizon
	sp, err := r.split(ctx, months, r.badDebtTarget(opt.BadDebtHorizon), opt)
	if errors.Is(err, ErrNotEnoughHistory) {
		b.Decision = "not trained: " + err.Error()
		r.warn(ctx, "bad-debt model not trained", err)
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	train, val := sp.train, sp.val
	b.Sample = sp.sample
	b.TrainWindow, b.ValidMonth, b.TrainRows, b.ValidRows = sp.trainWindow(), sp.validMonth(), train.Rows(), val.Rows()
	b.Positives = count(val.Label)
	if count(train.Label) == 0 || b.Positives == 0 || b.Positives == val.Rows() {
		b.Decision = fmt.Sprintf("not trained: %d of %d training and %d of %d validation rows are bad debt; both classes are needed",
			count(train.Label), train.Rows(), b.Positives, val.Rows())
		return nil, nil, nil
	}
	fit, err := r.fit(ctx, sp, opt.Seed+10)
	if err != nil {
		return nil, nil, fmt.Errorf("training: bad debt: %w", err)
	}
	return sp, fit, nil
}

// trainBadDebt judges and (if it beats the baseline and is not worse than
// the promoted one) promotes the bad-debt model fitted by fitBadDebt.
func (r *Runner) trainBadDebt(ctx context.Context, sp *split, fit *fitted, opt Options, res *Result, now time.Time) error {
	b := &res.BadDebt
	train, val := sp.train, sp.val
	model, cands := fit.model, fit.cands
	raw, err := model.Predict(val)
	if err != nil {
		return fmt.Errorf("training: bad debt: score validation month: %w", err)
	}
	sum := evaluate.Summarise(raw, val.Label, opt.Seed+11)
	cal, choice, judged := calibrate(val.IDs, raw, val.Label, opt.Seed+12)
	model.Calibration = cal
	judgedLabels := pick(val.Label, judged)
	before := evaluate.MeasureCalibration(pick(raw, judged), judgedLabels, opt.Seed+13)
	after := evaluate.MeasureCalibration(cal.ApplyAll(pick(raw, judged)), judgedLabels, opt.Seed+13)

	base := arrearsBaseline(val)
	bs := evaluate.Summarise(base, val.Label, opt.Seed+14)
	cmp := evaluate.CompareOracle(raw, base, val.Label, opt.Seed+15) // "oracle" = baseline: gap = baseline − model
	bl := &evaluate.BaselineSection{Name: BaselineName, AUC: bs.AUC, AUCCI: bs.AUCCI,
		Gain: -cmp.AUCGap, GainCI: evaluate.Interval{Lo: -cmp.AUCGapCI.Hi, Hi: -cmp.AUCGapCI.Lo},
		Description: "A model that only reproduced what the arrears already show would add nothing; it is promoted only when its validation AUC is above the baseline's (by more than the run's margin, default 0)."}
	bl.Beats = sum.AUC > bs.AUC+opt.BadDebtBaselineMargin
	b.Kind, b.AUC, b.AUCCI = model.Kind, sum.AUC, [2]float64{sum.AUCCI.Lo, sum.AUCCI.Hi}
	b.BaselineAUC, b.BaselineAUCCI = nanToZero(bs.AUC), [2]float64{nanToZero(bs.AUCCI.Lo), nanToZero(bs.AUCCI.Hi)}
	b.Gain, b.GainCI = nanToZero(bl.Gain), [2]float64{nanToZero(bl.GainCI.Lo), nanToZero(bl.GainCI.Hi)}

	if b.Planted, err = plantedRecovery(opt.Truth, val, sp.valid, opt.BadDebtHorizon, raw, base); err != nil {
		return err
	}

	// The gate: beat the baseline, and do not fall behind the promoted
	// model on the same month by more than the margin.
	promo := evaluate.Promotion{Promoted: true, PreviousAUC: math.NaN()}
	var prev churn.Model
	ptr, ok, err := r.Registry.LoadPromoted(ctx, registry.KindBadDebt, &prev)
	if err != nil {
		r.warn(ctx, "promoted bad-debt model unreadable; the new one may replace it", err)
	} else if ok {
		promo.Previous = ptr.Version
		if pp, err := prev.Predict(val); err == nil {
			promo.PreviousAUC = evaluate.ROCAUC(pp, val.Label)
		}
	}
	switch {
	case !bl.Beats:
		promo.Promoted = false
		promo.Reason = fmt.Sprintf("validation AUC %.4f does not beat the baseline's %.4f (%s) by more than %.3f: not promoted",
			sum.AUC, bs.AUC, BaselineName, opt.BadDebtBaselineMargin)
	case !math.IsNaN(promo.PreviousAUC) && sum.AUC < promo.PreviousAUC-opt.Margin:
		promo.Promoted = false
		promo.Reason = fmt.Sprintf("validation AUC %.4f is below the promoted %s's %.4f on the same month by more than the %.3f margin: kept, not promoted",
			sum.AUC, ptr.Version, promo.PreviousAUC, opt.Margin)
	default:
		promo.Reason = fmt.Sprintf("validation AUC %.4f beats the baseline's %.4f (gain %.4f, 95%% CI %.4f … %.4f)",
			sum.AUC, bs.AUC, bl.Gain, bl.GainCI.Lo, bl.GainCI.Hi)
		if promo.Previous == "" {
			promo.Reason += "; first bad-debt model"
		} else if !math.IsNaN(promo.PreviousAUC) {
			promo.Reason += fmt.Sprintf("; the promoted %s scores %.4f on the same month (margin %.3f)", ptr.Version, promo.PreviousAUC, opt.Margin)
		}
	}

	rep := &evaluate.Report{
		Title: "Bad-debt model " + res.Version, Version: res.Version, Kind: model.Kind, CreatedAt: now,
		TrainWindow: b.TrainWindow, ValidWindow: b.ValidMonth, Horizon: opt.BadDebtHorizon,
		TrainRows: train.Rows(), TrainPositives: count(train.Label), Validation: sum, Promotion: promo,
		Calibrated: &evaluate.CalibrationSection{Choice: choice, JudgedRows: len(judged), Before: before, After: after},
		Target: &evaluate.Target{Positive: "bad debtor", Positives: "bad debtors",
			Label: fmt.Sprintf("bad debtor = %d+ consecutive bills in arrears within %d months after the snapshot (crm.bills)", features.BadDebtArrearsMonths, opt.BadDebtHorizon)},
		Baseline: bl, Planted: b.Planted, Sample: sp.sample.section(),
	}
	for _, k := range cands {
		rep.Candidates = append(rep.Candidates, evaluate.Candidate{Kind: k.Kind, ValidAUC: k.ValidAUC,
			ValidPRAUC: k.ValidPRAUC, TrainSeconds: k.TrainSeconds, Selected: k.Selected})
	}
	for _, im := range model.Importance() {
		rep.Importance = append(rep.Importance, evaluate.Importance{Feature: im.Feature, Value: im.Value})
	}
	files, err := rep.Files()
	if err != nil {
		return fmt.Errorf("training: bad-debt report: %w", err)
	}
	uri, err := r.Registry.Save(ctx, registry.KindBadDebt, res.Version, model, files)
	if err != nil {
		return err
	}
	b.Trained, b.Artifact = true, uri
	b.Report = r.Registry.Store.URI(registry.Key(registry.KindBadDebt, res.Version, evaluate.FileMarkdown))
	b.Promoted, b.Decision = promo.Promoted, promo.Reason
	if promo.Promoted {
		if err := r.Registry.Promote(ctx, registry.Pointer{Kind: registry.KindBadDebt, Version: res.Version,
			Artifact: uri, AUC: sum.AUC, PromotedAt: time.Now().UTC()}); err != nil {
			return err
		}
	}
	return r.recordRun(ctx, modelRun{
		version: res.Version, kind: registry.KindBadDebt, algorithm: model.Kind, trainedAt: now,
		trainFrom: sp.first, trainTo: sp.valid.AddDate(0, -1, 0), validMonth: sp.valid, hasValid: true, horizon: opt.BadDebtHorizon,
		trainRows: int64(train.Rows()), validRows: int64(val.Rows()),
		auc: sum.AUC, aucLo: sum.AUCCI.Lo, aucHi: sum.AUCCI.Hi, prAUC: sum.PRAUC, lift10: sum.Lift10,
		artifact: uri, report: b.Report, promoted: promo.Promoted, decision: promo.Reason, sample: sp.sample,
	})
}

// arrearsBaseline scores each row by what its bill already shows: months
// in arrears, ties broken by the arrears amount (a share below 1, so it
// never outranks a whole month).
func arrearsBaseline(f *dataset.Frame) []float64 {
	out := make([]float64, f.Rows())
	months, amount := f.Col("months_in_arrears"), f.Col("arrears")
	for i := range out {
		var m, a float64
		if months != nil && months.Kind == dataset.Numeric && !math.IsNaN(months.Num[i]) {
			m = months.Num[i]
		}
		if amount != nil && amount.Kind == dataset.Numeric && !math.IsNaN(amount.Num[i]) && amount.Num[i] > 0 {
			a = amount.Num[i] / (amount.Num[i] + 100)
		}
		out[i] = m + a
	}
	return out
}

// plantedRecovery measures how well the model (and the baseline) find the
// generator's deliberate non-payers who stop paying within the label's
// horizon after the validation month: precision of the top decile by
// score against their base rate. truthPath is the churn truth file; the
// non-payers' file lies beside it. nil without truth.
func plantedRecovery(truthPath string, val *dataset.Frame, valid time.Time, horizon int, model, base []float64) (*evaluate.PlantedSection, error) {
	if truthPath == "" {
		return nil, nil
	}
	path := filepath.Join(filepath.Dir(truthPath), filepath.Base(synth.BadDebtTruthKey))
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("training: bad-debt truth: %w", err)
	}
	defer f.Close()
	truth, err := synth.ReadBadDebtTruth(f)
	if err != nil {
		return nil, fmt.Errorf("training: %s: %w", path, err)
	}
	until := valid.AddDate(0, 1+horizon, 0) // first day after the horizon
	planted := make([]bool, val.Rows())
	n := 0
	for i, id := range val.IDs {
		if np, ok := truth[id]; ok && np.Stop.Before(until) && !np.Stop.Before(valid) {
			planted[i] = true
			n++
		}
	}
	p := &evaluate.PlantedSection{What: fmt.Sprintf("deliberate non-payers who stop paying in the validation month or the %d months after it", horizon),
		Rows: val.Rows(), Planted: n, BaseRate: float64(n) / float64(max(1, val.Rows()))}
	p.TopRows = (val.Rows() + 9) / 10
	p.TopPrecision, p.TopRecall = topDecile(model, planted, p.TopRows, n)
	p.BaselinePrecision, p.BaselineRecall = topDecile(base, planted, p.TopRows, n)
	if p.BaseRate > 0 {
		p.TopLift, p.BaselineLift = p.TopPrecision/p.BaseRate, p.BaselinePrecision/p.BaseRate
	}
	return p, nil
}

// topDecile is the precision and recall of the k highest scores (ties by
// row order) at finding the marked rows, of which there are n.
func topDecile(scores []float64, marked []bool, k, n int) (precision, recall float64) {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return 0
	})
	hit := 0
	for _, i := range idx[:min(k, len(idx))] {
		if marked[i] {
			hit++
		}
	}
	if k > 0 {
		precision = float64(hit) / float64(k)
	}
	if n > 0 {
		recall = float64(hit) / float64(n)
	}
	return precision, recall
}
