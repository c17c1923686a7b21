package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// wantMatrix is the access policy as the brief states it, written out
// independently of Matrix: agent = one customer with contact data, no bulk;
// analyst = everything but masked; admin = everything in clear.
var wantMatrix = map[Op][3]Access{ // agent, analyst, admin
	OpCustomer:     {Clear, Masked, Clear},
	OpCustomers:    {Denied, Masked, Clear},
	OpCustomersCSV: {Denied, Masked, Clear},
	OpLists:        {Denied, Allowed, Allowed},
	OpList:         {Denied, Masked, Clear},
	OpListCSV:      {Denied, Masked, Clear},
	OpSegments:     {Allowed, Allowed, Allowed},
	OpModels:       {Denied, Allowed, Allowed},
	OpIngestFiles:  {Denied, Allowed, Allowed},
	OpCube:         {Denied, Allowed, Allowed},
	OpCubeMonthly:  {Denied, Allowed, Allowed},
	OpCubeUsage:    {Denied, Allowed, Allowed},

	OpCampaignCreate:      {Denied, Allowed, Allowed},
	OpCampaigns:           {Denied, Allowed, Allowed},
	OpCampaign:            {Denied, Allowed, Allowed},
	OpCampaignContacts:    {Denied, Masked, Clear},
	OpCampaignContactsCSV: {Denied, Masked, Clear},
	OpCampaignResults:     {Denied, Allowed, Allowed},
	OpSurvival:            {Denied, Allowed, Allowed},
	OpTransitions:         {Denied, Allowed, Allowed},
	OpCauses:              {Denied, Allowed, Allowed},
	OpTracking:            {Denied, Allowed, Allowed},
	OpGroupCreate:         {Denied, Allowed, Allowed},
	OpGroups:              {Denied, Allowed, Allowed},
	OpGroup:               {Denied, Allowed, Allowed},
	OpGroupDelete:         {Denied, Allowed, Allowed},
	OpValueTiers:          {Denied, Allowed, Allowed},
	OpForecast:            {Denied, Allowed, Allowed},
	OpScenarioCreate:      {Denied, Allowed, Allowed},
	OpScenarios:           {Denied, Allowed, Allowed},
	OpScenario:            {Denied, Allowed, Allowed},
	OpCampaignsResults:    {Denied, Allowed, Allowed},
	OpCustomerOffers:      {Clear, Masked, Clear},
}

var publicOps = []Op{OpHealth, OpOpenAPI}

func TestMatrixIsThePolicy(t *testing.T) {
	for _, p := range Matrix {
		if p.Public {
			if !slices.Contains(publicOps, p.Op) {
				t.Errorf("%s is public, want a key", p.Op)
			}
			continue
		}
		want, ok := wantMatrix[p.Op]
		if !ok {
			t.Errorf("Matrix has %s, the policy does not", p.Op)
			continue
		}
		for i, r := range Roles {
			if got := p.Of(r); got != want[i] {
				t.Errorf("Matrix[%s][%s] = %s, want %s", p.Op, r, got, want[i])
			}
		}
	}
	if len(Matrix) != len(wantMatrix)+len(publicOps) {
		t.Errorf("Matrix has %d rows, want %d", len(Matrix), len(wantMatrix)+len(publicOps))
	}
	// Every operation the handler serves has a row, and every row an operation.
	f := newFixture(t, nil)
	served := map[Op]bool{}
	for _, rt := range f.s.routes {
		served[rt.op] = true
		if rt.csvOp != "" {
			served[rt.csvOp] = true
		}
	}
	for _, p := range Matrix {
		if !served[p.Op] {
			t.Errorf("Matrix row %s is served by no route", p.Op)
		}
		delete(served, p.Op)
	}
	for op := range served {
		t.Errorf("route operation %s has no Matrix row (denied to all)", op)
	}
}

// TestMatrixEnforced asserts every cell through Handle: the status, and
// for answers with customers whether names and MSISDNs are masked or clear.
func TestMatrixEnforced(t *testing.T) {
	f := newFixture(t, nil)
	id := f.meta.Lists[0].IDs[0]
	targets := map[Op]string{
		OpHealth:       "/healthz",
		OpOpenAPI:      "/v1/openapi.json",
		OpCustomer:     "/v1/customers/" + id,
		OpCustomers:    "/v1/customers?status=active&limit=20",
		OpCustomersCSV: "/v1/customers?format=csv&segment=1",
		OpLists:        "/v1/lists",
		OpList:         "/v1/lists/churn-risk?limit=20",
		OpListCSV:      "/v1/lists/churn-risk?format=csv",
		OpSegments:     "/v1/segments",
		OpModels:       "/v1/models",
		OpIngestFiles:  "/v1/ingest/files",
		OpCube:         "/v1/cube?dims=region,plan&status=active",
		OpCubeMonthly:  "/v1/cube/monthly?dims=month,region&plan=BASIC10",
		OpCubeUsage:    "/v1/cube/usage?dims=hour&call_kind=long_distance",

		OpCampaignCreate:      "/v1/campaigns",
		OpCampaigns:           "/v1/campaigns",
		OpCampaign:            "/v1/campaigns/" + fixtureCampaign,
		OpCampaignContacts:    "/v1/campaigns/" + fixtureCampaign + "/contacts?arm=all&limit=20",
		OpCampaignContactsCSV: "/v1/campaigns/" + fixtureCampaign + "/contacts?format=csv&arm=all",
		OpCampaignResults:     "/v1/campaigns/" + fixtureCampaign + "/results",
		OpSurvival:            "/v1/lifecycle/survival?by=region",
		OpTransitions:         "/v1/lifecycle/transitions",
		OpCauses:              "/v1/churn/causes?by=plan",
		OpTracking:            "/v1/models/tracking",
		OpGroupCreate:         "/v1/groups",
		OpGroups:              "/v1/groups",
		OpGroup:               "/v1/groups/" + fixtureGroup,
		OpGroupDelete:         "/v1/groups/", // + a group of the caller's, made per cell
		OpValueTiers:          "/v1/value/tiers?group=" + fixtureGroup,
		OpForecast:            "/v1/forecast?by=region&measure=subscribers&months=6",
		OpScenarioCreate:      "/v1/scenarios",
		OpScenarios:           "/v1/scenarios?ids=" + fixtureScenario,
		OpScenario:            "/v1/scenarios/" + fixtureScenario,
		OpCampaignsResults:    "/v1/campaign-results?by=channel",
		OpCustomerOffers:      "/v1/customers/" + id + "/offers",
	}
	bodies := map[Op]string{OpCampaignCreate: createBody, OpGroupCreate: groupBody, OpScenarioCreate: scenarioBody}
	for _, p := range Matrix {
		target, ok := targets[p.Op]
		if !ok {
			t.Errorf("no request for %s", p.Op)
			continue
		}
		for _, role := range append([]Role{""}, Roles...) {
			name := string(role)
			if name == "" {
				name = "no-key"
			}
			t.Run(string(p.Op)+"/"+name, func(t *testing.T) {
				method, ok := "GET", http.StatusOK
				resp := response{}
				if strings.HasPrefix(string(p.Op), "POST ") {
					method, ok = "POST", http.StatusCreated
					r := event(method, target, "Content-Type", "application/json")
					if role != "" {
						r.Header.Set("X-API-Key", secretOf[role])
					}
					r.Body = ioNopCloser(bodies[p.Op])
					resp = f.do(t, r)
				} else if strings.HasPrefix(string(p.Op), "DELETE ") {
					method = "DELETE"
					id := f.ownGroup(t, role)
					r := event(method, target+id)
					if role != "" {
						r.Header.Set("X-API-Key", secretOf[role])
					}
					resp = f.do(t, r)
				} else {
					resp = f.get(t, role, target)
				}
				var want int
				switch {
				case p.Public:
					want = http.StatusOK
				case role == "":
					want = http.StatusUnauthorized
				case wantMatrix[p.Op][slices.Index(Roles, role)] == Denied:
					want = http.StatusForbidden
				default:
					want = ok
				}
				if resp.StatusCode != want {
					t.Fatalf("%s %s as %s = %d, want %d: %s", method, target, name, resp.StatusCode, want, cut(resp.Body, 300))
				}
				if want != ok {
					if strings.Contains(resp.Body, "secret") {
						t.Errorf("problem mentions the secret: %s", resp.Body)
					}
					return
				}
				var access Access = Allowed
				if !p.Public {
					access = wantMatrix[p.Op][slices.Index(Roles, role)]
				}
				f.checkPersonalData(t, p.Op, access, resp.Body)
			})
		}
	}
}

// checkPersonalData checks an answer's names and MSISDNs against access.
func (f *fixture) checkPersonalData(t *testing.T, op Op, access Access, body string) {
	t.Helper()
	type row struct{ id, name, msisdn string }
	var rows []row
	switch op {
	case OpCustomerOffers:
		var d struct {
			ID     string `json:"subscriber_id"`
			Name   string `json:"name"`
			MSISDN string `json:"msisdn"`
		}
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row{d.ID, d.Name, d.MSISDN})
	case OpCustomer:
		var d struct {
			Customer map[string]any `json:"customer"`
		}
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row{d.Customer["subscriber_id"].(string), d.Customer["name"].(string), d.Customer["msisdn"].(string)})
	case OpCustomers, OpList:
		for _, it := range decodePage(t, body).Items {
			rows = append(rows, row{it["subscriber_id"].(string), it["name"].(string), it["msisdn"].(string)})
		}
	case OpCampaignContacts:
		var p struct {
			Items []map[string]any `json:"items"`
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Items {
			rows = append(rows, row{it["subscriber_id"].(string), it["name"].(string), it["msisdn"].(string)})
		}
	case OpCustomersCSV, OpListCSV, OpCampaignContactsCSV:
		h, recs := readCSV(t, body)
		iid, iname, imsisdn := slices.Index(h, "subscriber_id"), slices.Index(h, "name"), slices.Index(h, "msisdn")
		for _, r := range recs {
			rows = append(rows, row{r[iid], r[iname], r[imsisdn]})
		}
	default:
		if access != Allowed {
			t.Fatalf("%s: access %s for an answer without customers", op, access)
		}
		for i := range f.customers[:50] {
			if strings.Contains(body, f.customers[i].MSISDN) {
				t.Errorf("%s: answer holds MSISDN of %s", op, f.customers[i].SubscriberID)
			}
		}
		return
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no rows to check", op)
	}
	for _, r := range rows {
		c := f.byID(r.id)
		if c == nil {
			t.Fatalf("%s: unknown id %s", op, r.id)
		}
		wantName, wantMSISDN := c.Name, c.MSISDN
		if access == Masked {
			wantName, wantMSISDN = maskName(c.Name), maskMSISDN(c.MSISDN)
			if strings.Contains(body, c.MSISDN) || strings.Contains(body, c.Name) {
				t.Errorf("%s: masked answer holds %s's clear name or MSISDN", op, r.id)
			}
		}
		if r.name != wantName || r.msisdn != wantMSISDN {
			t.Errorf("%s %s: name, msisdn = %q, %q, want %q, %q (%s)", op, r.id, r.name, r.msisdn, wantName, wantMSISDN, access)
		}
	}
}

func TestMasks(t *testing.T) {
	tests := []struct{ in, name, msisdn string }{
		{"Anna Maria Schmidt", "A*** M*** S***", ""},
		{"Émile", "É***", ""},
		{"", "", ""},
		{"  Zoë  ", "Z***", ""},
	}
	for _, tt := range tests {
		if got := maskName(tt.in); got != tt.name {
			t.Errorf("maskName(%q) = %q, want %q", tt.in, got, tt.name)
		}
	}
	for in, want := range map[string]string{"491701234567": "*********567", "+4917012": "*****012", "12": "**", "": ""} {
		if got := maskMSISDN(in); got != want {
			t.Errorf("maskMSISDN(%q) = %q, want %q", in, got, want)
		}
	}
}
