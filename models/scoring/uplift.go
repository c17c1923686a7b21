package scoring

import (
	"context"
	"fmt"

	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/models/dataset"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/serving"
)

// ListBestToContact ranks customers by the expected net value of a
// contact (serving.Customer.ContactValue); only runs with a promoted
// uplift model have it.
const ListBestToContact = "best-to-contact"

// loadUplift reads the plan's uplift model (a run without one scores
// churn as before and leaves the contact columns zero).
func (r *Runner) loadUplift(ctx context.Context, version string) (*campaign.Model, *serving.UpliftMeta, error) {
	var m campaign.Model
	if err := r.Models.Load(ctx, registry.KindUplift, version, &m); err != nil {
		return nil, nil, fmt.Errorf("scoring: %w", err)
	}
	if m.Pooled == nil {
		return nil, nil, fmt.Errorf("scoring: uplift model %s has no pooled model", version)
	}
	meta := &serving.UpliftMeta{Model: version, Method: campaign.UpliftMethod}
	for _, o := range m.OfferNames() {
		if len(meta.Offers) == serving.MaxOffers {
			meta.Dropped = append(meta.Dropped, o)
			continue
		}
		kind := "own"
		if _, pooled := m.For(o); pooled {
			kind = campaign.Fallback
		}
		meta.Offers = append(meta.Offers, serving.OfferInfo{Offer: o, Cost: m.Cost[o], Channel: m.Channel[o], Model: kind})
	}
	return &m, meta, nil
}

// scoreUplift fills the contact columns of cs, the customers of rows f
// (their churn probability and CLV already set): each offer's uplift,
// bounded by the customer's churn probability (campaign.Bounded), and the
// offer with the highest uplift × CLV − cost per contact.
func scoreUplift(m *campaign.Model, meta *serving.UpliftMeta, f *dataset.Frame, cs []serving.Customer) error {
	preds := map[*campaign.Uplift][]float64{}
	risk := make([]float64, len(cs))
	for i := range cs {
		risk[i] = cs[i].Probability
	}
	for k, o := range meta.Offers {
		u, _ := m.For(o.Offer)
		up, ok := preds[u]
		if !ok {
			var err error
			if up, err = u.Predict(f, risk); err != nil {
				return fmt.Errorf("scoring: uplift: %w", err)
			}
			preds[u] = up
		}
		for i := range cs {
			c := &cs[i]
			c.OfferUplift[k] = up[i]
			v := campaign.ContactValue(up[i], c.CLV, o.Cost)
			if k == 0 || v > c.ContactValue {
				c.Uplift, c.ContactValue, c.BestOffer = up[i], v, o.Offer
			}
		}
	}
	for i := range cs {
		cs[i].ContactValue = cents(cs[i].ContactValue)
	}
	return nil
}
