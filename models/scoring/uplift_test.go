package scoring_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/models/dataset"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/scoring"
	"github.com/telcolake/telcolake/models/serving"
	"github.com/telcolake/telcolake/synth"
)

// upliftOffers are the offers of the uplift model promoteUplift saves:
// discount-10 with its own model, sms-bonus served by the pooled one.
var upliftOffers = map[string]float64{"discount-10": 4, "sms-bonus": 0.2}

// promoteUplift fits a small uplift model on a synthetic campaign whose
// columns carry crm.features names, and promotes it.
func promoteUplift(t *testing.T, reg *registry.Registry) {
	t.Helper()
	ctx := context.Background()
	rows := synth.UpliftCampaign(2000, 0.5, 9)
	names := []string{"tenure_months", "care_calls", "months_in_arrears", "voice_minutes_trend", "amount_due"}
	f := &dataset.Frame{Label: make([]bool, len(rows))}
	for _, n := range names {
		f.Cols = append(f.Cols, &dataset.Column{Name: n})
	}
	treated := make([]bool, len(rows))
	for i, r := range rows {
		for j, v := range []float64{r.TenureMonths, r.CareCalls, r.ArrearsMonths, r.UsageTrend, r.PlanPrice} {
			f.Cols[j].Num = append(f.Cols[j].Num, v)
		}
		f.Label[i], treated[i] = r.Churned, r.Treated
	}
	u, err := campaign.FitUplift(ctx, "", f, treated, 1)
	if err != nil {
		t.Fatal(err)
	}
	own, err := campaign.FitUplift(ctx, "discount-10", f, treated, 2)
	if err != nil {
		t.Fatal(err)
	}
	m := campaign.Model{Version: "u1", Pooled: u, Offers: map[string]*campaign.Uplift{"discount-10": own}, Cost: upliftOffers,
		Channel: map[string]string{"discount-10": campaign.ChannelCall, "sms-bonus": campaign.ChannelSMS}}
	uri, err := reg.Save(ctx, registry.KindUplift, "u1", m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Promote(ctx, registry.Pointer{Kind: registry.KindUplift, Version: "u1", Artifact: uri, PromotedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// checkUplift: every scored customer's contact value is the best offer's
// uplift × max(CLV, 0) − cost, over the offers of the meta; lost customers have
// none.
func checkUplift(t *testing.T, meta *serving.Meta, cs []serving.Customer) {
	t.Helper()
	if meta.Uplift == nil || meta.Uplift.Model != "u1" || len(meta.Uplift.Offers) != 2 ||
		meta.Uplift.Offers[0].Offer != "discount-10" || meta.Uplift.Offers[0].Model != "own" || meta.Uplift.Offers[1].Model != campaign.Fallback {
		t.Fatalf("meta uplift = %+v", meta.Uplift)
	}
	var positive, negative int
	for i := range cs {
		c := &cs[i]
		if c.Status == "deactivated" {
			if c.BestOffer != "" || c.ContactValue != 0 || c.Uplift != 0 {
				t.Errorf("lost %s scored for contact: %+v", c.SubscriberID, c)
			}
			continue
		}
		for k, u := range c.OfferUplift[:len(meta.Uplift.Offers)] {
			if u > c.Probability || u < c.Probability-1 {
				t.Fatalf("%s: offer %d uplift %v outside [churn risk − 1, churn risk] = [%v, %v]", c.SubscriberID, k, u, c.Probability-1, c.Probability)
			}
		}
		best, bestV := "", math.Inf(-1)
		for k, o := range meta.Uplift.Offers {
			if v := c.OfferUplift[k]*max(c.CLV, 0) - o.Cost; v > bestV {
				best, bestV = o.Offer, v
			}
		}
		if c.BestOffer != best || math.Abs(c.ContactValue-bestV) > 0.006 || c.Uplift != c.OfferUplift[slices.IndexFunc(meta.Uplift.Offers, func(o serving.OfferInfo) bool { return o.Offer == best })] {
			t.Fatalf("%s: best offer %s value %v uplift %v; want %s %v (offer uplifts %v, CLV %v)", c.SubscriberID, c.BestOffer, c.ContactValue, c.Uplift, best, bestV, c.OfferUplift, c.CLV)
		}
		if c.ContactValue > 0 {
			positive++
		} else {
			negative++
		}
	}
	byID := map[string]*serving.Customer{}
	for i := range cs {
		byID[cs[i].SubscriberID] = &cs[i]
	}
	for _, l := range meta.Lists {
		if l.Name != scoring.ListBestToContact {
			continue
		}
		if len(l.IDs) == 0 {
			t.Error("best-to-contact is empty")
		}
		for _, id := range l.IDs {
			if byID[id].ContactValue <= 0 {
				t.Errorf("best-to-contact holds %s, worth %v", id, byID[id].ContactValue)
			}
		}
	}
	if positive == 0 || negative == 0 {
		t.Errorf("%d customers worth a contact, %d not: want both", positive, negative)
	}
}
