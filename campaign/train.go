package campaign

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/telcolake/telcolake/models/dataset"
)

// MinArmRows is the fewest treated and the fewest control customers with
// features a model (pooled or per offer) is fitted on: below it the
// boosted trees' validation split has too few churners to stop early.
const MinArmRows = 100

// Past is one past campaign as training reads it: the campaign, its
// frozen contacts, and Churned, whether each contact left within the
// campaign's horizon (from the register).
type Past struct {
	Campaign Campaign
	Contacts []Contact
	Churned  map[string]bool
}

// Known splits campaigns into those whose outcome the register covers
// (its newest snapshot, knownUntil, on or after the horizon's end), oldest
// first, and the count of those still running.
func Known(cs []Campaign, knownUntil time.Time) (known []Campaign, running int) {
	for _, c := range cs {
		if knownUntil.IsZero() || knownUntil.Before(c.HorizonEnd().Truncate(24*time.Hour)) {
			running++
			continue
		}
		known = append(known, c)
	}
	slices.SortStableFunc(known, func(a, b Campaign) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return known, running
}

// Example rows: the feature rows of past campaigns' contacts with their
// arm, outcome, frozen churn risk and campaign.
type Examples struct {
	Frame    *dataset.Frame // Label: churned within the horizon
	Treated  []bool
	Risk     []float64 // churn probability frozen at the campaign's creation
	Campaign []int     // index into the pasts the rows came from
}

// Join builds the examples of pasts: f holds feature rows and rowOf finds
// the row of a customer in past p's feature month (false: none; the
// contact is left out and counted in missing).
func Join(f *dataset.Frame, pasts []Past, rowOf func(p int, id string) (int, bool)) (Examples, int) {
	var rows []int
	var labels []bool
	var ex Examples
	missing := 0
	for p, past := range pasts {
		for _, ct := range past.Contacts {
			i, ok := rowOf(p, ct.SubscriberID)
			if !ok {
				missing++
				continue
			}
			rows = append(rows, i)
			labels = append(labels, past.Churned[ct.SubscriberID])
			ex.Treated = append(ex.Treated, ct.Arm == ArmTreated)
			ex.Risk = append(ex.Risk, ct.Probability)
			ex.Campaign = append(ex.Campaign, p)
		}
	}
	ex.Frame = f.Subset(rows)
	ex.Frame.Label = labels
	return ex, missing
}

// pick returns the rows of ex whose campaign satisfies keep.
func (ex Examples) pick(keep func(p int) bool) (f *dataset.Frame, treated []bool, risk []float64) {
	var rows []int
	for i, p := range ex.Campaign {
		if keep(p) {
			rows = append(rows, i)
			treated = append(treated, ex.Treated[i])
			risk = append(risk, ex.Risk[i])
		}
	}
	return ex.Frame.Subset(rows), treated, risk
}

// arms counts the treated and control rows.
func arms(treated []bool) (t, c int) {
	for _, x := range treated {
		if x {
			t++
		} else {
			c++
		}
	}
	return t, c
}

// Model is the served uplift model: the pooled two-model fitted on every
// past campaign but the held-out one, the per-offer models where an offer
// has enough customers in both arms, and what each offer costs a contact.
type Model struct {
	Version string             `json:"version"`
	Pooled  *Uplift            `json:"pooled"`
	Offers  map[string]*Uplift `json:"offers"`
	// Cost is the cost per contact of each offer tried: that of its newest
	// campaign. Channel is that campaign's channel.
	Cost    map[string]float64 `json:"cost"`
	Channel map[string]string  `json:"channel"`
	// Held is the held-out campaign and Comparison the pooled model
	// against churn-risk ranking on it.
	Held       string     `json:"held_out_campaign"`
	Comparison Comparison `json:"comparison"`
}

// Fallback names what stands in for an offer without a model of its own.
const Fallback = "pooled model (every offer's campaigns together)"

// For returns the model of offer, or the pooled one (pooled true).
func (m *Model) For(offer string) (u *Uplift, pooled bool) {
	if u := m.Offers[offer]; u != nil {
		return u, false
	}
	return m.Pooled, true
}

// OfferNames are the offers past campaigns tried, sorted.
func (m *Model) OfferNames() []string {
	out := make([]string, 0, len(m.Cost))
	for o := range m.Cost {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}

// Training is the outcome of Train: the model, or why there is none.
type Training struct {
	Model *Model // nil when skipped
	// Skipped says why no model was fitted ("" when one was).
	Skipped string
	// Campaigns counts the campaigns with a known outcome, Running those
	// whose horizon the register does not cover yet.
	Campaigns, Running  int
	TrainRows, HeldRows int
	// Missing counts contacts without a feature row in their month.
	Missing int
	Notes   []string
}

// Train fits the uplift model from past campaigns (oldest first, outcomes
// known): the pooled two-model on every campaign but the newest, which is
// held out to compare the model's ranking with the frozen churn risk
// (Compare, reps bootstrap resamples); per-offer models on the same
// training campaigns where an offer has MinArmRows in both arms. With no
// or one campaign nothing is fitted and Skipped says so.
func Train(ctx context.Context, version string, pasts []Past, ex Examples, reps int, seed uint64) (Training, error) {
	tr := Training{Campaigns: len(pasts)}
	switch len(pasts) {
	case 0:
		tr.Skipped = "no past campaign with a known outcome (the register must cover a campaign's horizon): uplift model not fitted"
		return tr, nil
	case 1:
		tr.Skipped = fmt.Sprintf("one past campaign with a known outcome (%s): a second is needed to hold one out, so no uplift model was fitted", pasts[0].Campaign.ID)
		return tr, nil
	}
	held := len(pasts) - 1
	f, treated, _ := ex.pick(func(p int) bool { return p != held })
	hf, hTreated, hRisk := ex.pick(func(p int) bool { return p == held })
	tr.TrainRows, tr.HeldRows = f.Rows(), hf.Rows()
	if t, c := arms(treated); t < MinArmRows || c < MinArmRows {
		tr.Skipped = fmt.Sprintf("the training campaigns have %d treated and %d control customers with features; at least %d of each are needed: uplift model not fitted", t, c, MinArmRows)
		return tr, nil
	}
	if t, c := arms(hTreated); t == 0 || c == 0 {
		tr.Skipped = fmt.Sprintf("the held-out campaign %s has %d treated and %d control customers with features: nothing to compare on, uplift model not fitted", pasts[held].Campaign.ID, t, c)
		return tr, nil
	}
	pooled, err := FitUplift(ctx, "", f, treated, seed)
	if err != nil {
		return tr, err
	}
	m := &Model{Version: version, Pooled: pooled, Offers: map[string]*Uplift{}, Cost: map[string]float64{}, Channel: map[string]string{},
		Held: pasts[held].Campaign.ID}
	for _, p := range pasts { // oldest first: the newest campaign's cost wins
		m.Cost[p.Campaign.Offer], m.Channel[p.Campaign.Offer] = p.Campaign.CostPerContact, p.Campaign.Channel
	}
	up, err := pooled.Predict(hf, hRisk)
	if err != nil {
		return tr, err
	}
	raw, err := pooled.Raw(hf)
	if err != nil {
		return tr, err
	}
	if n := Incoherent(raw, hRisk); n > 0 {
		tr.Notes = append(tr.Notes, fmt.Sprintf("the two arm models' plain difference exceeded the customer's churn risk (or fell below risk − 1) for %d of %d held-out customers (%.1f%%): the served uplift shifts the churn score's log-odds by the models' difference instead, so it never does",
			n, len(raw), 100*float64(n)/float64(len(raw))))
	}
	m.Comparison = Compare(up, hRisk, hTreated, hf.Label, reps, seed)
	offers := m.OfferNames()
	if len(offers) > 1 {
		for _, o := range offers {
			of, ot, _ := ex.pick(func(p int) bool { return p != held && pasts[p].Campaign.Offer == o })
			if t, c := arms(ot); t < MinArmRows || c < MinArmRows {
				tr.Notes = append(tr.Notes, fmt.Sprintf("offer %s: %d treated and %d control customers in the training campaigns, fewer than %d: served by the %s", o, t, c, MinArmRows, Fallback))
				continue
			}
			u, err := FitUplift(ctx, o, of, ot, seed+uint64(len(m.Offers))+1)
			if err != nil {
				return tr, fmt.Errorf("campaign: uplift offer %s: %w", o, err)
			}
			m.Offers[o] = u
		}
	} else {
		tr.Notes = append(tr.Notes, fmt.Sprintf("one offer tried (%s): the pooled model is its model", strings.Join(offers, "")))
	}
	tr.Model = m
	return tr, nil
}

// Incoherent counts the uplifts outside [risk − 1, risk]: a contact that
// would keep more than the customer's chance of leaving, or drive away
// more than its chance of staying.
func Incoherent(uplift, risk []float64) int {
	n := 0
	for i, u := range uplift {
		p := min(1, max(0, risk[i]))
		if u > p || u < p-1 {
			n++
		}
	}
	return n
}
