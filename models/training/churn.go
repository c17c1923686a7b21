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

func (r *Runner) trainChurn(ctx context.Context, train, val *dataset.Frame, seg *segment.Model, opt Options, res *Result, first, valid, now time.Time) error {
	model, cands, err := churn.Train(ctx, train, val, churn.Options{Seed: opt.Seed, Logistic: r.Logistic, NoLogistic: r.Logistic == nil})
	if err != nil {
		return fmt.Errorf("training: churn: %w", err)
	}
	probs, err := model.Predict(val)
	if err != nil {
		return fmt.Errorf("training: churn: score validation month: %w", err)
	}
	sum := evaluate.Summarise(probs, val.Label, opt.Seed+1)
	c := &res.Churn
	c.Kind, c.AUC, c.PRAUC, c.Lift10 = model.Kind, sum.AUC, sum.PRAUC, sum.Lift10
	c.AUCCI = [2]float64{sum.AUCCI.Lo, sum.AUCCI.Hi}
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
		if sum.AUC < promo.PreviousAUC-opt.Margin {
			promo.Promoted = false
			promo.Reason = fmt.Sprintf("validation AUC %.4f is below the promoted %s's %.4f on the same month by more than the %.3f margin: kept, not promoted",
				sum.AUC, ptr.Version, promo.PreviousAUC, opt.Margin)
		} else {
			promo.Reason = fmt.Sprintf("validation AUC %.4f vs the promoted %s's %.4f on the same month (margin %.3f)",
				sum.AUC, ptr.Version, promo.PreviousAUC, opt.Margin)
		}
	}

	rep := &evaluate.Report{
		Version: res.Version, Kind: model.Kind, CreatedAt: now,
		TrainWindow: res.TrainWindow, ValidWindow: res.ValidMonth, Horizon: opt.Horizon,
		TrainRows: train.Rows(), TrainPositives: count(train.Label),
		Validation: sum, Candidates: c.Candidates, Importance: c.Top, Promotion: promo,
	}
	if seg != nil {
		rep.Segments, err = segmentRows(seg, val, probs)
		if err != nil {
			return err
		}
	}
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
		artifact: uri, report: c.Report, promoted: promo.Promoted, decision: promo.Reason,
	})
}

// segmentRows compares observed and predicted churn per segment.
func segmentRows(seg *segment.Model, val *dataset.Frame, probs []float64) ([]evaluate.SegmentRow, error) {
	ids, err := seg.Assign(val)
	if err != nil {
		return nil, fmt.Errorf("training: assign segments: %w", err)
	}
	type acc struct {
		n, pos int
		p      float64
	}
	by := map[int]*acc{}
	for i, id := range ids {
		a := by[id]
		if a == nil {
			a = &acc{}
			by[id] = a
		}
		a.n++
		a.p += probs[i]
		if val.Label[i] {
			a.pos++
		}
	}
	var out []evaluate.SegmentRow
	for _, s := range seg.Segments {
		a := by[s.ID]
		if a == nil {
			continue
		}
		out = append(out, evaluate.SegmentRow{ID: s.ID, Name: s.Name, Rows: a.n,
			ChurnRate: float64(a.pos) / float64(a.n), Predicted: a.p / float64(a.n)})
	}
	return out, nil
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
