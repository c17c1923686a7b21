package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telcolake/telcolake/campaign"
)

// memCampaigns is an in-memory api.Campaigns.
type memCampaigns struct {
	mu       sync.Mutex
	camps    []campaign.Campaign
	contacts map[string][]campaign.Contact
}

func newMemCampaigns() *memCampaigns { return &memCampaigns{contacts: map[string][]campaign.Contact{}} }

func (m *memCampaigns) Save(_ context.Context, c campaign.Campaign, cs []campaign.Contact) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.camps = append(m.camps, c)
	m.contacts[c.ID] = slices.Clone(cs)
	return nil
}

func (m *memCampaigns) List(context.Context) ([]campaign.Campaign, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.camps), nil
}

func (m *memCampaigns) Get(_ context.Context, id string) (campaign.Campaign, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.camps {
		if c.ID == id {
			return c, nil
		}
	}
	return campaign.Campaign{}, campaign.ErrNotFound
}

func (m *memCampaigns) Contacts(_ context.Context, id string) ([]campaign.Contact, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.contacts[id]), nil
}

// Measure counts every third treated and every second control customer
// as churned.
func (m *memCampaigns) Measure(ctx context.Context, id string, now time.Time) (campaign.Results, error) {
	c, err := m.Get(ctx, id)
	if err != nil {
		return campaign.Results{}, err
	}
	cs, _ := m.Contacts(ctx, id)
	churned := map[string]bool{}
	for i, ct := range cs {
		churned[ct.SubscriberID] = (ct.Arm == campaign.ArmTreated && i%3 == 0) || (ct.Arm == campaign.ArmControl && i%2 == 0)
	}
	return campaign.Measure(c, cs, nil, func(s string) bool { return churned[s] }, now), nil
}

func TestCampaignPages(t *testing.T) {
	f := newFixture(t)
	ana := f.client("127.0.0.1")
	ana.signIn(t, "ana", password("ana"))
	page := text(t, ana.do("GET", "/console/campaigns", nil))
	if !strings.Contains(page, `id="new-campaign"`) || !strings.Contains(page, `value="churn-risk"`) {
		t.Fatalf("campaigns page lacks the form or the list: %.400s", page)
	}
	form := url.Values{"csrf": {ana.csrf(t, page)}, "name": {"Winter save"}, "list": {"churn-risk"}, "offer": {"discount-10"},
		"channel": {"sms"}, "cost_per_contact": {"0.05"}, "size": {"100"}, "control_share": {"0.2"}}
	// A bad value comes back with the API's reason, and nothing is created.
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("control_share", "0.9")
	resp := ana.do("POST", "/console/campaigns", bad)
	if body := text(t, resp); resp.StatusCode != 400 || !strings.Contains(body, "control_share") {
		t.Errorf("bad form: %d %.300s", resp.StatusCode, body)
	}
	noToken := url.Values{}
	for k, v := range form {
		noToken[k] = v
	}
	noToken.Del("csrf")
	if resp := ana.do("POST", "/console/campaigns", noToken); resp.StatusCode != http.StatusForbidden {
		t.Errorf("without a CSRF token: %d, want 403", resp.StatusCode)
	}
	resp = ana.do("POST", "/console/campaigns", form)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/campaigns/cmp-") {
		t.Fatalf("create: %d Location %q: %.300s", resp.StatusCode, loc, text(t, resp))
	}
	m := f.campaigns
	if len(m.camps) != 1 || m.camps[0].Treated != 80 || m.camps[0].Control != 20 || m.camps[0].CreatedBy != "user:ana" {
		t.Fatalf("campaigns after create: %+v", m.camps)
	}
	id := m.camps[0].ID
	page = text(t, ana.do("GET", strings.SplitN(loc, "?", 2)[0], nil))
	r, _ := m.Measure(context.Background(), id, f.now)
	wantIv := "95% interval " + funcs["pct"].(func(float64) string)(r.Uplift.Lo) + " – " + funcs["pct"].(func(float64) string)(r.Uplift.Hi)
	if got := textOf(t, page, "uplift-interval"); got != wantIv {
		t.Errorf("uplift interval shown %q, want %q", got, wantIv)
	}
	if !strings.Contains(page, `id="uplift-chart"`) || !strings.Contains(page, `id="incomplete"`) {
		t.Errorf("campaign page lacks the interval chart or the open-horizon note")
	}
	// The export: masked for the analyst, clear for the admin, treated arm only.
	csvA := text(t, ana.do("GET", "/console/data/campaigns/"+id, nil))
	adm := f.client("127.0.0.1")
	adm.signIn(t, "adm", password("adm"))
	csvB := text(t, adm.do("GET", "/console/data/campaigns/"+id, nil))
	for _, ct := range m.contacts[id] {
		if ct.Arm != campaign.ArmTreated {
			if strings.Contains(csvB, ct.SubscriberID+",") {
				t.Errorf("export holds control customer %s", ct.SubscriberID)
			}
		}
	}
	if strings.Count(csvB, "\n") != 81 || strings.Contains(csvA, "Person") || !strings.Contains(csvB, "Person") {
		t.Errorf("exports: admin %d lines (clear names %v), analyst holds clear names %v",
			strings.Count(csvB, "\n"), strings.Contains(csvB, "Person"), strings.Contains(csvA, "Person"))
	}
	// Agents get neither the page nor the link.
	ada := f.client("127.0.0.1")
	ada.signIn(t, "ada", password("ada"))
	if resp := ada.do("GET", "/console/campaigns", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("agent: campaigns page %d, want 403", resp.StatusCode)
	}
	if home := text(t, ada.do("GET", "/console/lookup", nil)); strings.Contains(home, `href="/console/campaigns?`) {
		t.Error("agent sees the campaigns link")
	}
	if home := text(t, ana.do("GET", "/console/lookup", nil)); !strings.Contains(home, `href="/console/campaigns?`) {
		t.Error("analyst does not see the campaigns link")
	}
}
