package api

import (
	"cmp"
	"encoding/json"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/groups"
	"github.com/telcolake/telcolake/models/serving"
)

// TestCampaignFromGroup: a campaign from a saved group takes the group's
// active and suspended customers, best first by value at risk (the
// fixture's run has no uplift model), and draws the control group with
// the campaign's seed.
func TestCampaignFromGroup(t *testing.T) {
	f := newFixture(t, nil)
	body := `{"name":"North save","offer":"discount-10","channel":"sms","cost_per_contact":0.2,"size":25,"control_share":0.2,"group":"` + fixtureGroup + `"}`
	resp := f.post(t, RoleAnalyst, "/v1/campaigns", body)
	if resp.StatusCode != 201 {
		t.Fatalf("POST group campaign = %d %s", resp.StatusCode, cut(resp.Body, 300))
	}
	var got campaignInfo
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
		t.Fatal(err)
	}
	// By hand: the group is region=North&status=active, by value at risk.
	var want []serving.Customer
	for _, c := range f.customers {
		if c.Region == "North" && c.Status == "active" {
			want = append(want, c)
		}
	}
	slices.SortStableFunc(want, func(a, b serving.Customer) int {
		if c := cmp.Compare(b.ValueAtRisk, a.ValueAtRisk); c != 0 {
			return c
		}
		return strings.Compare(a.SubscriberID, b.SubscriberID)
	})
	if len(want) < 25 {
		t.Fatalf("fixture: %d customers in the group, want at least 25", len(want))
	}
	contacts, err := f.s.cfg.Campaigns.Contacts(t.Context(), got.ID)
	if err != nil {
		t.Fatal(err)
	}
	draw := campaign.Draw(25, 0.2, campaign.Seed(got.ID))
	if got.SourceKind != "group" || got.SourceName != fixtureGroup || got.Treated != 20 || got.Control != 5 || len(contacts) != 25 {
		t.Fatalf("campaign %+v with %d contacts", got, len(contacts))
	}
	for i, ct := range contacts {
		if ct.SubscriberID != want[i].SubscriberID || (ct.Arm == campaign.ArmControl) != draw[i] || ct.ValueAtRisk != want[i].ValueAtRisk {
			t.Errorf("contact %d = %s %s (VaR %v), want %s control=%v (VaR %v)", i, ct.SubscriberID, ct.Arm, ct.ValueAtRisk,
				want[i].SubscriberID, draw[i], want[i].ValueAtRisk)
		}
	}
	for _, tc := range []struct{ group, param string }{
		{"grp-none", "group"},
		{"not a group", "group"},
	} {
		body := strings.Replace(body, fixtureGroup, tc.group, 1)
		if r := f.post(t, RoleAnalyst, "/v1/campaigns", body); r.StatusCode != 400 || problemOfBody(t, r.Body).Parameter != tc.param {
			t.Errorf("group %q: %d %s, want 400 naming %s", tc.group, r.StatusCode, cut(r.Body, 200), tc.param)
		}
	}
}

// upliftFixture serves a snapshot whose run has an uplift model with two
// offers: every customer's offer uplifts set, the best offer chosen as
// scoring does.
func upliftFixture(t *testing.T) *fixture {
	t.Helper()
	meta, cs := genSnapshot(7, fixtureSize, true)
	meta.Uplift = &serving.UpliftMeta{Model: "u1", Method: campaign.UpliftMethod, Offers: []serving.OfferInfo{
		{Offer: "discount-10", Cost: 4, Channel: campaign.ChannelCall, Model: "own"},
		{Offer: "sms-bonus", Cost: 0.25, Channel: campaign.ChannelSMS, Model: campaign.Fallback}}}
	for i := range cs {
		c := &cs[i]
		if c.Status == "deactivated" {
			continue
		}
		c.OfferUplift[0] = math.Round(float64(i%7-2)*10) / 1000 // −0.02 … 0.04
		c.OfferUplift[1] = math.Round(float64(i%5-1)*5) / 1000  // −0.005 … 0.015
		for k, o := range meta.Uplift.Offers {
			if v := c.OfferUplift[k]*c.CLV - o.Cost; k == 0 || v > c.ContactValue {
				c.Uplift, c.ContactValue, c.BestOffer = c.OfferUplift[k], math.Round(v*100)/100, o.Offer
			}
		}
	}
	audit := &syncBuffer{}
	cfg := Config{Keys: testKeys(), Audit: slog.New(slog.NewJSONHandler(audit, nil)), MaxPageSize: 100, Campaigns: newMemCampaigns(), Groups: &groups.MemStore{}}
	s, err := newServer(meta, cs, sampleSources(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{s: s, meta: meta, customers: stored(t, s), audit: audit}
}

// TestCustomerOffers: the next-best offers of a customer are the run's
// offers by uplift × CLV − cost, highest first; masked for analysts; a
// run without an uplift model answers none, with a note.
func TestCustomerOffers(t *testing.T) {
	f := upliftFixture(t)
	var c *serving.Customer
	for i := range f.customers {
		if x := &f.customers[i]; x.Status != "deactivated" && x.OfferUplift[0] != 0 && x.OfferUplift[1] != 0 && x.CLV > 100 {
			c = x
			break
		}
	}
	if c == nil {
		t.Fatal("fixture: no customer with two offer uplifts")
	}
	type offers struct {
		Name   string      `json:"name"`
		Model  string      `json:"uplift_model"`
		Offers []offerItem `json:"offers"`
		Note   string      `json:"note"`
	}
	get := func(f *fixture, role Role, id string) offers {
		r := f.get(t, role, "/v1/customers/"+id+"/offers")
		if r.StatusCode != 200 {
			t.Fatalf("offers of %s as %s = %d %s", id, role, r.StatusCode, cut(r.Body, 200))
		}
		var o offers
		if err := json.Unmarshal([]byte(r.Body), &o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	o := get(f, RoleAgent, c.SubscriberID)
	v0, v1 := c.OfferUplift[0]*c.CLV-4, c.OfferUplift[1]*c.CLV-0.25
	first, second := "discount-10", "sms-bonus"
	if v1 > v0 {
		first, second, v0, v1 = second, first, v1, v0
	}
	if o.Model != "u1" || len(o.Offers) != 2 || o.Offers[0].Offer != first || o.Offers[1].Offer != second ||
		o.Offers[0].Value != money(v0) || o.Offers[1].Value != money(v1) || o.Offers[0].Rank != 1 || o.Offers[0].Worth != (v0 > 0) ||
		o.Name != c.Name {
		t.Errorf("offers of %s = %+v; want %s %.2f then %s %.2f", c.SubscriberID, o, first, v0, second, v1)
	}
	if first != c.BestOffer {
		t.Errorf("first offer %s, snapshot's best offer %s", first, c.BestOffer)
	}
	if m := get(f, RoleAnalyst, c.SubscriberID); m.Name == c.Name && c.Name != "" {
		t.Errorf("analyst sees the name in clear: %q", m.Name)
	}
	if r := f.get(t, RoleAgent, "/v1/customers/NOPE/offers"); r.StatusCode != 404 {
		t.Errorf("offers of an unknown customer = %d, want 404", r.StatusCode)
	}
	// Sort and filter on the contact value.
	r := f.get(t, RoleAnalyst, "/v1/customers?sort=-contact_value&contact_value_min=0.01&limit=100")
	if r.StatusCode != 200 {
		t.Fatalf("filter on contact_value = %d %s", r.StatusCode, cut(r.Body, 200))
	}
	p := decodePage(t, r.Body)
	n := 0
	for _, c := range f.customers {
		if c.ContactValue >= 0.01 {
			n++
		}
	}
	if p.Count != n || n == 0 {
		t.Errorf("contact_value_min=0.01 counts %d, want %d", p.Count, n)
	}
	for i, it := range p.Items {
		if v := it["contact_value"].(float64); v < 0.01 || (i > 0 && v > p.Items[i-1]["contact_value"].(float64)) {
			t.Errorf("item %d contact value %v out of order or range", i, v)
		}
	}
	if r := f.get(t, RoleAnalyst, "/v1/customers?uplift_min=2"); r.StatusCode != 400 || problemOfBody(t, r.Body).Parameter != "uplift_min" {
		t.Errorf("uplift_min=2: %d, want 400 naming uplift_min", r.StatusCode)
	}
	// No uplift model: no offers, a note.
	plain := newFixture(t, nil)
	if o := get(plain, RoleAdmin, plain.customers[0].SubscriberID); len(o.Offers) != 0 || !strings.Contains(o.Note, "no promoted uplift model") {
		t.Errorf("offers without an uplift model = %+v", o)
	}
}

// TestCampaignResultsByChannel: the summary is campaign.Summarise of every
// campaign measured; by= is validated.
func TestCampaignResultsByChannel(t *testing.T) {
	f := newFixture(t, nil)
	r := f.get(t, RoleAnalyst, "/v1/campaign-results?by=channel")
	if r.StatusCode != 200 {
		t.Fatalf("campaign-results = %d %s", r.StatusCode, cut(r.Body, 300))
	}
	var got struct {
		By        string             `json:"by"`
		Campaigns int                `json:"campaigns"`
		Groups    []campaign.Summary `json:"groups"`
	}
	if err := json.Unmarshal([]byte(r.Body), &got); err != nil {
		t.Fatal(err)
	}
	res, err := f.s.cfg.Campaigns.Measure(t.Context(), fixtureCampaign, f.s.now())
	if err != nil {
		t.Fatal(err)
	}
	want := campaign.Summarise([]campaign.Results{res}, func(x campaign.Results) string { return x.Channel })
	if got.By != "channel" || got.Campaigns != 1 || len(got.Groups) != 1 || got.Groups[0].Key != want[0].Key ||
		got.Groups[0].Treated != want[0].Treated || (got.Groups[0].Uplift == nil) != (want[0].Uplift == nil) {
		t.Errorf("campaign-results = %+v, want %+v", got, want)
	}
	if r := f.get(t, RoleAnalyst, "/v1/campaign-results?by=region"); r.StatusCode != 400 || problemOfBody(t, r.Body).Parameter != "by" {
		t.Errorf("by=region: %d, want 400 naming by", r.StatusCode)
	}
}
