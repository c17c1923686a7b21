package training

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/models/dataset"
	"github.com/telcolake/telcolake/models/evaluate"
	"github.com/telcolake/telcolake/models/features"
	"github.com/telcolake/telcolake/models/registry"
)

// MaxUpliftCampaigns bounds the past campaigns the uplift model reads (the
// newest with a known outcome), so memory stays bounded as campaigns
// accumulate.
const MaxUpliftCampaigns = 24

// upliftReps is the bootstrap resamples of the held-out comparison.
const upliftReps = 200

// UpliftResult is the uplift model's part of a run.
type UpliftResult struct {
	Version  string  `json:"version,omitempty"`
	Skipped  string  `json:"skipped,omitempty"`
	HeldOut  string  `json:"held_out,omitempty"`
	AUUC     float64 `json:"auuc"`
	AUUCRisk float64 `json:"auuc_risk"`
	DiffLo   float64 `json:"auuc_diff_lo"`
	DiffHi   float64 `json:"auuc_diff_hi"`
	Promoted bool    `json:"promoted"`
	Decision string  `json:"decision,omitempty"`
	Artifact string  `json:"artifact,omitempty"`
	// Section is what the churn report's uplift section shows.
	Section *evaluate.UpliftSection `json:"-"`
}

// RunUplift fits the uplift model alone, outside the monthly run (after
// campaigns have come back): the same as the run's uplift part.
func (r *Runner) RunUplift(ctx context.Context, opt Options) (UpliftResult, error) {
	opt = opt.withDefaults()
	now := opt.Now().UTC()
	reg, err := features.LoadOutcomes(ctx, r.Tables)
	if err != nil {
		return UpliftResult{}, err
	}
	res := &Result{Version: registry.NewVersion(now)}
	err = r.trainUplift(ctx, opt, res, reg.LastExportDate(), now)
	return res.Uplift, err
}

// trainUplift fits the uplift model from the lake: the past campaigns of
// crm.campaigns whose horizon the register covers (knownUntil, its newest
// snapshot), their frozen contacts (crm.campaign_contacts), each contact's
// features in the newest feature month that began before the campaign was
// created (crm.features), and churn within the horizon from the register.
// The newest campaign is held out; the model is promoted only when it
// beats ranking by the frozen churn risk there (campaign.Compare).
func (r *Runner) trainUplift(ctx context.Context, opt Options, res *Result, knownUntil, now time.Time) error {
	sec := &evaluate.UpliftSection{Method: campaign.UpliftMethod}
	res.Uplift.Section = sec
	skip := func(why string) error {
		sec.Skipped, res.Uplift.Skipped = why, why
		res.Uplift.Decision = "skipped: " + why
		return nil
	}
	st := campaign.LakeStore{Tables: r.Tables}
	all, err := st.List(ctx)
	if err != nil {
		return fmt.Errorf("training: uplift: %w", err)
	}
	known, running := campaign.Known(all, knownUntil)
	sec.Running = running
	if len(known) > MaxUpliftCampaigns {
		known = known[len(known)-MaxUpliftCampaigns:]
	}
	built, err := features.BuiltMonths(ctx, r.Tables)
	if err != nil {
		return err
	}
	months := make([]time.Time, 0, len(built))
	for m := range built {
		months = append(months, m)
	}
	slices.SortFunc(months, time.Time.Compare)
	var pasts []campaign.Past
	var pastMonth []time.Time
	for _, c := range known {
		i, _ := slices.BinarySearchFunc(months, c.CreatedAt, time.Time.Compare)
		// months[i-1] is the newest month that began before the campaign.
		if i == 0 {
			sec.Notes = append(sec.Notes, fmt.Sprintf("campaign %s: no feature month began before it was created: left out", c.ID))
			continue
		}
		contacts, err := st.Contacts(ctx, c.ID)
		if err != nil {
			return fmt.Errorf("training: uplift: %w", err)
		}
		churned, err := st.Churned(ctx, c.CreatedAt, c.HorizonEnd())
		if err != nil {
			return fmt.Errorf("training: uplift: campaign %s: %w", c.ID, err)
		}
		pasts = append(pasts, campaign.Past{Campaign: c, Contacts: contacts, Churned: churned})
		pastMonth = append(pastMonth, months[i-1])
	}
	sec.Campaigns = len(pasts)
	if len(pasts) < 2 {
		tr, _ := campaign.Train(ctx, "", pasts, campaign.Examples{}, 0, 0)
		return skip(tr.Skipped)
	}
	frame, rowOf, err := r.upliftFeatures(ctx, pasts, pastMonth)
	if err != nil {
		return err
	}
	ex, missing := campaign.Join(frame, pasts, func(p int, id string) (int, bool) { return rowOf(pastMonth[p], id) })
	sec.Missing = missing
	version := res.Version
	tr, err := campaign.Train(ctx, version, pasts, ex, upliftReps, opt.Seed+11)
	if err != nil {
		return fmt.Errorf("training: uplift: %w", err)
	}
	sec.TrainRows, sec.HeldRows, sec.Notes = tr.TrainRows, tr.HeldRows, append(sec.Notes, tr.Notes...)
	if tr.Model == nil {
		return skip(tr.Skipped)
	}
	m := tr.Model
	c := m.Comparison
	sec.Version, sec.HeldOut, sec.Treated, sec.Reps = version, m.Held, c.Treated, c.Reps
	sec.AUUCModel = evaluate.UpliftEstimate(c.AUUCModel)
	sec.AUUCRisk = evaluate.UpliftEstimate(c.AUUCRisk)
	sec.AUUCDiff = evaluate.UpliftEstimate(c.Diff)
	for i := range c.QiniModel {
		sec.QiniModel = append(sec.QiniModel, evaluate.QiniPoint(c.QiniModel[i]))
		sec.QiniRisk = append(sec.QiniRisk, evaluate.QiniPoint(c.QiniRisk[i]))
	}
	sec.Promoted, sec.Decision = c.Promoted, c.Decision
	js, err := (&evaluate.Report{Version: version, Uplift: sec}).JSON()
	if err != nil {
		return err
	}
	uri, err := r.Registry.Save(ctx, registry.KindUplift, version, m, map[string][]byte{
		evaluate.FileMarkdown: sec.Markdown(), evaluate.FileJSON: js})
	if err != nil {
		return err
	}
	u := &res.Uplift
	u.Version, u.HeldOut, u.Artifact = version, m.Held, uri
	u.AUUC, u.AUUCRisk, u.DiffLo, u.DiffHi = c.AUUCModel.Estimate, c.AUUCRisk.Estimate, c.Diff.Lo, c.Diff.Hi
	u.Promoted, u.Decision = c.Promoted, c.Decision
	if c.Promoted {
		if err := r.Registry.Promote(ctx, registry.Pointer{Kind: registry.KindUplift, Version: version, Artifact: uri, PromotedAt: time.Now().UTC()}); err != nil {
			return err
		}
	}
	first := pasts[0].Campaign.CreatedAt
	return r.recordRun(ctx, modelRun{version: version, kind: registry.KindUplift, algorithm: "two-model boosted trees",
		trainedAt: now, trainFrom: first, trainTo: pasts[len(pasts)-1].Campaign.CreatedAt,
		trainRows: int64(tr.TrainRows), validRows: int64(tr.HeldRows),
		auuc: c.AUUCModel.Estimate, auucLo: c.AUUCModel.Lo, auucHi: c.AUUCModel.Hi, auucRisk: c.AUUCRisk.Estimate,
		artifact: uri, report: r.Registry.Store.URI(registry.Key(registry.KindUplift, version, evaluate.FileMarkdown)),
		promoted: c.Promoted, decision: c.Decision})
}

// upliftFeatures loads the feature rows the campaigns need: of each
// month once, the rows of that month's campaigns' contacts only, as one
// frame with a look-up of a customer's row in a month.
func (r *Runner) upliftFeatures(ctx context.Context, pasts []campaign.Past, months []time.Time) (*dataset.Frame, func(time.Time, string) (int, bool), error) {
	uniq := slices.Clone(months)
	slices.SortFunc(uniq, time.Time.Compare)
	uniq = slices.CompactFunc(uniq, time.Time.Equal)
	contacts := map[time.Time]map[string]bool{}
	for p, past := range pasts {
		ids := contacts[months[p]]
		if ids == nil {
			ids = map[string]bool{}
			contacts[months[p]] = ids
		}
		for _, c := range past.Contacts {
			ids[c.SubscriberID] = true
		}
	}
	var frame *dataset.Frame
	index := map[time.Time]map[string]int{}
	for _, m := range uniq {
		ids := contacts[m]
		set, err := features.LoadRows(ctx, r.Tables, m, m, func(id string, _ time.Time) bool { return ids[id] })
		if err != nil {
			return nil, nil, fmt.Errorf("training: uplift: features of %s: %w", m.Format("2006-01"), err)
		}
		off := 0
		if frame == nil {
			frame = set.Frame
		} else {
			off = frame.Rows()
			if err := appendFrame(frame, set.Frame); err != nil {
				return nil, nil, fmt.Errorf("training: uplift: features of %s: %w", m.Format("2006-01"), err)
			}
		}
		ix := make(map[string]int, set.Rows())
		for i, id := range set.IDs {
			ix[id] = off + i
		}
		index[m] = ix
	}
	return frame, func(m time.Time, id string) (int, bool) { i, ok := index[m][id]; return i, ok }, nil
}

// appendFrame appends b's rows to a (the same columns, in order).
func appendFrame(a, b *dataset.Frame) error {
	if len(a.Cols) != len(b.Cols) {
		return fmt.Errorf("%d columns against %d", len(b.Cols), len(a.Cols))
	}
	for j, c := range a.Cols {
		if b.Cols[j].Name != c.Name {
			return fmt.Errorf("column %d is %s, want %s", j, b.Cols[j].Name, c.Name)
		}
		c.Num = append(c.Num, b.Cols[j].Num...)
		c.Cat = append(c.Cat, b.Cols[j].Cat...)
	}
	a.IDs = append(a.IDs, b.IDs...)
	a.Label = append(a.Label, b.Label...)
	return nil
}
