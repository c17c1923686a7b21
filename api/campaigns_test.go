package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telcolake/telcolake/campaign"
)

// memCampaigns is an in-memory Campaigns: saved campaigns and contacts,
// with responses and churn set by the test.
type memCampaigns struct {
	mu        sync.Mutex
	camps     map[string]campaign.Campaign
	contacts  map[string][]campaign.Contact
	responses map[string][]campaign.Response
	churned   map[string]bool
	fail      error
}

func newMemCampaigns() *memCampaigns {
	return &memCampaigns{camps: map[string]campaign.Campaign{}, contacts: map[string][]campaign.Contact{},
		responses: map[string][]campaign.Response{}, churned: map[string]bool{}}
}

func (m *memCampaigns) Save(_ context.Context, c campaign.Campaign, cs []campaign.Contact) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.camps[c.ID], m.contacts[c.ID] = c, slices.Clone(cs)
	return nil
}

func (m *memCampaigns) List(context.Context) ([]campaign.Campaign, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []campaign.Campaign
	for _, c := range m.camps {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b campaign.Campaign) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (m *memCampaigns) Get(_ context.Context, id string) (campaign.Campaign, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.camps[id]
	if !ok {
		return c, campaign.ErrNotFound
	}
	return c, nil
}

func (m *memCampaigns) Contacts(_ context.Context, id string) ([]campaign.Contact, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.contacts[id] {
		m.contacts[id][i].Name, m.contacts[id][i].MSISDN = "", "" // the lake keeps none
	}
	return slices.Clone(m.contacts[id]), nil
}

func (m *memCampaigns) Measure(_ context.Context, id string, now time.Time) (campaign.Results, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return campaign.Measure(m.camps[id], m.contacts[id], m.responses[id], func(s string) bool { return m.churned[s] }, now), nil
}

// fixtureCampaign is the campaign newFixture freezes from the first 60 of
// value-at-risk.
const fixtureCampaign = "cmp-20261101-fixture"

func seedCampaign(t testing.TB, f *fixture) {
	t.Helper()
	m, ok := f.s.cfg.Campaigns.(*memCampaigns)
	if !ok {
		return
	}
	var cands []campaign.Contact
	for _, id := range f.meta.Lists[1].IDs[:60] {
		c := f.byID(id)
		cands = append(cands, campaign.Contact{SubscriberID: id, Probability: c.Probability, Reasons: c.Reasons, CLV: c.CLV})
	}
	spec := campaign.Spec{Name: "Fixture", Offer: "discount-10", Channel: campaign.ChannelCall, CostPerContact: 2, Size: 60, ControlShare: 0.25, List: "value-at-risk"}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	c, cs, err := campaign.Freeze(fixtureCampaign, spec, f.meta.Run, time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC), "ops", cands)
	if err != nil {
		t.Fatal(err)
	}
	m.Save(context.Background(), c, cs)
}

func (f *fixture) post(t testing.TB, role Role, target, body string) response {
	t.Helper()
	r := event("POST", target, "X-API-Key", secretOf[role], "Content-Type", "application/json")
	r.Body = ioNopCloser(body)
	return f.do(t, r)
}

const createBody = `{"name":"Winter save","offer":"discount-10","channel":"outbound_call","cost_per_contact":2.5,"size":50,"control_share":0.2,"list":"value-at-risk"}`

func TestCreateCampaign(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	f := newFixture(t, func(c *Config) { c.Now = func() time.Time { return now } })
	resp := f.post(t, RoleAnalyst, "/v1/campaigns", createBody)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST = %d: %s", resp.StatusCode, resp.Body)
	}
	var got campaignInfo
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Treated != 40 || got.Control != 10 || got.Run != f.meta.Run || got.CreatedBy != "bi-team" || !got.CreatedAt.Equal(now) ||
		got.Seed != campaign.Seed(got.ID) || resp.Headers["Location"] != "/v1/campaigns/"+got.ID || got.CostPerContact != 2.5 {
		t.Errorf("created %+v (Location %q)", got, resp.Headers["Location"])
	}
	m := f.s.cfg.Campaigns.(*memCampaigns)
	cs := m.contacts[got.ID]
	draw := campaign.Draw(50, 0.2, got.Seed)
	for i, ct := range cs {
		if ct.SubscriberID != f.meta.Lists[1].IDs[i] || ct.Rank != i+1 || (ct.Arm == campaign.ArmControl) != draw[i] {
			t.Fatalf("contact %d = %+v, want rank %d of value-at-risk, control %v", i, ct, i+1, draw[i])
		}
		if c := f.byID(ct.SubscriberID); ct.CLV != c.CLV || ct.Probability != c.Probability {
			t.Fatalf("contact %d froze CLV %v probability %v, want %v %v", i, ct.CLV, ct.Probability, c.CLV, c.Probability)
		}
	}
	// Listed and readable.
	if r := f.get(t, RoleAnalyst, "/v1/campaigns/"+got.ID); r.StatusCode != 200 || !strings.Contains(r.Body, `"name":"Winter save"`) {
		t.Errorf("GET campaign = %d %s", r.StatusCode, cut(r.Body, 200))
	}
	if r := f.get(t, RoleAnalyst, "/v1/campaigns"); r.StatusCode != 200 || !strings.Contains(r.Body, got.ID) {
		t.Errorf("GET campaigns = %d %s", r.StatusCode, cut(r.Body, 200))
	}
	// The audit line names the operation, never a customer.
	if a := f.audit.String(); !strings.Contains(a, string(OpCampaignCreate)) {
		t.Errorf("no audit line for %s: %s", OpCampaignCreate, cut(a, 300))
	}
}

func TestCreateCampaignBadInput(t *testing.T) {
	f := newFixture(t, nil)
	edit := func(from, to string) string { return strings.Replace(createBody, from, to, 1) }
	tests := []struct {
		name, body, param string
		status            int
	}{
		{"channel", edit(`"outbound_call"`, `"fax"`), "channel", 400},
		{"share", edit(`0.2,`, `0.9,`), "control_share", 400},
		{"size type", edit(`50`, `"fifty"`), "size", 400},
		{"unknown field", edit(`{`, `{"colour":"red",`), "colour", 400},
		{"no source", edit(`,"list":"value-at-risk"`, ``), "list", 400},
		{"unknown list", edit(`value-at-risk`, `nope`), "list", 400},
		{"group not yet", edit(`"list":"value-at-risk"`, `"group":"g-1"`), "group", 400},
		{"cost", edit(`2.5`, `-1`), "cost_per_contact", 400},
		{"control seed too large", edit(`{`, `{"control_seed":9007199254740992,`), "control_seed", 400},
		{"control seed negative", edit(`{`, `{"control_seed":-1,`), "control_seed", 400},
		{"not json", `name=x`, "", 400},
		{"two objects", createBody + createBody, "", 400},
		{"too large", `{"name":"` + strings.Repeat("x", maxCampaignBody) + `"}`, "", 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.post(t, RoleAdmin, "/v1/campaigns", tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("POST %s = %d, want %d: %s", tc.name, resp.StatusCode, tc.status, resp.Body)
			}
			if p := problemOfBody(t, resp.Body); p.Parameter != tc.param {
				t.Errorf("problem names %q, want %q: %s", p.Parameter, tc.param, p.Detail)
			}
		})
	}
	if n := len(f.s.cfg.Campaigns.(*memCampaigns).camps); n != 1 { // the fixture's own
		t.Errorf("%d campaigns after bad requests, want 1", n)
	}
	// Other methods: 405 with the path's methods.
	r := f.do(t, event("DELETE", "/v1/campaigns", "X-API-Key", adminSecret))
	if r.StatusCode != 405 || r.Headers["Allow"] != "GET, POST" {
		t.Errorf("DELETE /v1/campaigns = %d Allow %q, want 405 GET, POST", r.StatusCode, r.Headers["Allow"])
	}
	if r := f.do(t, event("POST", "/v1/lists", "X-API-Key", adminSecret)); r.StatusCode != 405 || r.Headers["Allow"] != "GET" {
		t.Errorf("POST /v1/lists = %d Allow %q, want 405 GET", r.StatusCode, r.Headers["Allow"])
	}
	if r := f.get(t, RoleAdmin, "/v1/campaigns/cmp-none/results"); r.StatusCode != 404 {
		t.Errorf("results of an unknown campaign = %d, want 404", r.StatusCode)
	}
	if r := f.get(t, RoleAdmin, "/v1/campaigns/"+fixtureCampaign+"/contacts?arm=both"); r.StatusCode != 400 || problemOfBody(t, r.Body).Parameter != "arm" {
		t.Errorf("arm=both = %d %s, want 400 naming arm", r.StatusCode, r.Body)
	}
}

// TestCampaignContactsExport: the CSV for the call centre holds the
// treated arm only, in rank order, with the offer; arm=all adds control.
func TestCampaignContactsExport(t *testing.T) {
	f := newFixture(t, nil)
	m := f.s.cfg.Campaigns.(*memCampaigns)
	cs := m.contacts[fixtureCampaign]
	var treated []string
	for _, ct := range cs {
		if ct.Arm == campaign.ArmTreated {
			treated = append(treated, ct.SubscriberID)
		}
	}
	for _, tc := range []struct {
		query string
		want  int
	}{{"", len(treated)}, {"&arm=all", 60}, {"&arm=control", 60 - len(treated)}} {
		resp := f.get(t, RoleAdmin, "/v1/campaigns/"+fixtureCampaign+"/contacts?format=csv"+tc.query)
		if resp.StatusCode != 200 {
			t.Fatalf("export%s = %d %s", tc.query, resp.StatusCode, resp.Body)
		}
		h, rows := readCSV(t, resp.Body)
		if len(rows) != tc.want {
			t.Errorf("export%s: %d rows, want %d", tc.query, len(rows), tc.want)
		}
		iid, iarm, ioffer := slices.Index(h, "subscriber_id"), slices.Index(h, "arm"), slices.Index(h, "offer")
		if tc.query == "" {
			for i, r := range rows {
				if r[iid] != treated[i] || r[iarm] != campaign.ArmTreated || r[ioffer] != "discount-10" {
					t.Fatalf("row %d = %v, want treated %s", i, r, treated[i])
				}
			}
		}
	}
	// JSON pages with a cursor cover the arm once.
	seen := 0
	target := "/v1/campaigns/" + fixtureCampaign + "/contacts?limit=7"
	for range 20 {
		resp := f.get(t, RoleAnalyst, target)
		var p struct {
			Count      int           `json:"count"`
			Items      []contactItem `json:"items"`
			NextCursor *string       `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Items {
			if it.SubscriberID != treated[seen] {
				t.Fatalf("page item %d = %s, want %s", seen, it.SubscriberID, treated[seen])
			}
			seen++
		}
		if p.NextCursor == nil {
			break
		}
		target = "/v1/campaigns/" + fixtureCampaign + "/contacts?limit=7&cursor=" + *p.NextCursor
	}
	if seen != len(treated) {
		t.Errorf("pages covered %d contacts, want %d", seen, len(treated))
	}
}

func TestCampaignResults(t *testing.T) {
	f := newFixture(t, nil)
	m := f.s.cfg.Campaigns.(*memCampaigns)
	cs := m.contacts[fixtureCampaign]
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	tr, co := 0, 0
	for _, ct := range cs {
		if ct.Arm == campaign.ArmTreated {
			m.responses[fixtureCampaign] = append(m.responses[fixtureCampaign], campaign.Response{SubscriberID: ct.SubscriberID, ContactedAt: at, Outcome: campaign.OutcomeAccepted})
			m.churned[ct.SubscriberID] = tr < 5
			tr++
		} else {
			m.churned[ct.SubscriberID] = co < 6
			co++
		}
	}
	resp := f.get(t, RoleAnalyst, "/v1/campaigns/"+fixtureCampaign+"/results")
	var r campaign.Results
	if err := json.Unmarshal([]byte(resp.Body), &r); err != nil {
		t.Fatalf("%v: %s", err, resp.Body)
	}
	want := campaign.DiffInterval(6, co, 5, tr)
	if r.Treated != tr || r.Control != co || r.Uplift != want || r.Accepted != tr || r.Method != campaign.NewcombeMethod {
		t.Errorf("results = %+v, want uplift %+v", r, want)
	}
}

type stringBody struct{ *strings.Reader }

func (stringBody) Close() error { return nil }

func ioNopCloser(s string) stringBody { return stringBody{strings.NewReader(s)} }
