package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/telcolake/telcolake/groups"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/models/serving"
)

const (
	fixtureGroup = "grp-20261101T090000Z-fixture"
	groupBody    = `{"name":"Northern roamers","shared":true,"conditions":"region=North,South&not.plan=BASIC10&roaming_min=1"}`
	otherSecret  = "tl_other-analyst-secret-000000000000"
)

// seedGroup saves a shared group of the admin's in the fixture's store.
func seedGroup(t testing.TB, f *fixture) {
	t.Helper()
	g := groups.Group{ID: fixtureGroup, Name: "Active in the North", Owner: "ops", Shared: true,
		Conditions: "region=North&status=active", CreatedAt: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
	if err := f.s.cfg.Groups.Save(context.Background(), g); err != nil {
		t.Fatal(err)
	}
}

// ownGroup saves a private group owned by role's key and returns its id.
func (f *fixture) ownGroup(t testing.TB, role Role) string {
	t.Helper()
	owner := "nobody"
	for _, k := range testKeys() {
		if k.Role == role {
			owner = k.Name
		}
	}
	id := groups.NewID(time.Now())
	g := groups.Group{ID: id, Name: "mine", Owner: owner, Conditions: "status=active", CreatedAt: time.Now().UTC()}
	if err := f.s.cfg.Groups.Save(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	f.s.forgetGroups()
	return id
}

func (f *fixture) getAs(t testing.TB, secret, target string) response {
	t.Helper()
	return f.do(t, event("GET", target, "X-API-Key", secret))
}

func withOtherAnalyst(c *Config) {
	c.Keys = append(c.Keys, Key{Name: "bi-other", Role: RoleAnalyst, Hash: HashKey(otherSecret)})
}

// TestGroupsThroughTheHandler: save a group, find it, use it with
// further conditions on /v1/customers, /v1/cube, /v1/value/tiers and a
// list (AND), and delete it; who sees and deletes what.
func TestGroupsThroughTheHandler(t *testing.T) {
	f := newFixture(t, withOtherAnalyst)
	body := `{"name":"Risky women, not on BASIC","conditions":"gender=F&not.plan=BASIC10&plan=MAX40&plan=PLUS20&churn_min=0.3"}`
	resp := f.post(t, RoleAnalyst, "/v1/groups", body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/groups = %d: %s", resp.StatusCode, resp.Body)
	}
	var g groupInfo
	if err := json.Unmarshal([]byte(resp.Body), &g); err != nil {
		t.Fatal(err)
	}
	if g.Owner != "bi-team" || g.Shared || g.Conditions != "churn_min=0.3&gender=F&not.plan=BASIC10&plan=MAX40,PLUS20" ||
		resp.Headers["Location"] != "/v1/groups/"+g.ID {
		t.Fatalf("saved %+v, Location %q", g, resp.Headers["Location"])
	}
	keep := func(c *serving.Customer) bool {
		return c.Gender == "F" && c.Plan != "BASIC10" && in(c.Plan, "MAX40", "PLUS20") && c.Probability >= 0.3
	}
	want := 0
	for i := range f.customers {
		if keep(&f.customers[i]) {
			want++
		}
	}
	if g.Customers != want || want == 0 {
		t.Fatalf("group has %d customers, want %d (>0)", g.Customers, want)
	}

	// group= AND further conditions, on every route that takes it.
	and := func(c *serving.Customer) bool { return keep(c) && c.Region == "North" }
	var ids []string
	for i := range f.customers {
		if and(&f.customers[i]) {
			ids = append(ids, f.customers[i].SubscriberID)
		}
	}
	page := decodePage(t, f.get(t, RoleAnalyst, "/v1/customers?region=North&limit=100&group="+g.ID).Body)
	if page.Count != len(ids) {
		t.Errorf("/v1/customers with group and region: count %d, want %d", page.Count, len(ids))
	}
	for _, it := range page.Items {
		if !slices.Contains(ids, it["subscriber_id"].(string)) {
			t.Errorf("%s is not in the group and the North", it["subscriber_id"])
		}
	}
	cube := f.get(t, RoleAnalyst, "/v1/cube?measures=count&region=North&group="+g.ID)
	if !strings.Contains(cube.Body, fmt.Sprintf(`"count":%d`, len(ids))) && !strings.Contains(cube.Body, fmt.Sprintf(`"values":[%d]`, len(ids))) {
		t.Errorf("cube of the group in the North: want count %d: %s", len(ids), cut(cube.Body, 300))
	}
	var tiers struct {
		Customers int `json:"customers"`
	}
	json.Unmarshal([]byte(f.get(t, RoleAnalyst, "/v1/value/tiers?region=North&group="+g.ID).Body), &tiers)
	if tiers.Customers != len(ids) {
		t.Errorf("value tiers of the group in the North: %d customers, want %d", tiers.Customers, len(ids))
	}
	list := f.meta.Lists[0]
	var inList int
	for _, id := range list.IDs {
		if c := f.byID(id); c != nil && keep(c) {
			inList++
		}
	}
	if lp := decodePage(t, f.get(t, RoleAnalyst, "/v1/lists/"+list.Name+"?limit=100&group="+g.ID).Body); lp.Count != inList {
		t.Errorf("list %s with the group: %d, want %d", list.Name, lp.Count, inList)
	}

	// Private: the owner and admins see it; another analyst neither sees,
	// uses nor deletes it.
	for _, tc := range []struct {
		secret string
		sees   bool
	}{{analystSecret, true}, {adminSecret, true}, {otherSecret, false}} {
		resp := f.getAs(t, tc.secret, "/v1/groups/"+g.ID)
		if (resp.StatusCode == http.StatusOK) != tc.sees || !tc.sees && resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET the private group as %s…: %d, sees %v", tc.secret[:8], resp.StatusCode, tc.sees)
		}
		listed := strings.Contains(f.getAs(t, tc.secret, "/v1/groups").Body, g.ID)
		if listed != tc.sees {
			t.Errorf("GET /v1/groups as %s… lists it: %v, want %v", tc.secret[:8], listed, tc.sees)
		}
		use := f.getAs(t, tc.secret, "/v1/customers?group="+g.ID)
		if (use.StatusCode == http.StatusOK) != tc.sees {
			t.Errorf("group= as %s…: %d", tc.secret[:8], use.StatusCode)
		}
		if !tc.sees && problemOfBody(t, use.Body).Parameter != pGroup {
			t.Errorf("group= of an invisible group: %s, want a 400 naming group", use.Body)
		}
	}
	del := func(secret, id string) int {
		return f.do(t, event("DELETE", "/v1/groups/"+id, "X-API-Key", secret)).StatusCode
	}
	// The fixture's shared group (the admin's): another analyst sees it
	// but may not delete it.
	if code := f.getAs(t, otherSecret, "/v1/groups/"+fixtureGroup).StatusCode; code != http.StatusOK {
		t.Errorf("a shared group for another analyst: %d, want 200", code)
	}
	if code := del(otherSecret, fixtureGroup); code != http.StatusForbidden {
		t.Errorf("DELETE someone else's shared group as an analyst: %d, want 403", code)
	}
	if code := del(otherSecret, g.ID); code != http.StatusNotFound {
		t.Errorf("DELETE someone else's private group: %d, want 404", code)
	}
	if code := del(adminSecret, fixtureGroup); code != http.StatusOK {
		t.Errorf("DELETE as admin: %d, want 200", code)
	}
	if code := del(analystSecret, g.ID); code != http.StatusOK {
		t.Errorf("DELETE own group: %d, want 200", code)
	}
	if code := f.get(t, RoleAnalyst, "/v1/customers?group="+g.ID).StatusCode; code != http.StatusBadRequest {
		t.Errorf("group= of a deleted group: %d, want 400", code)
	}
}

// TestGroupBadInput: a group's conditions are validated as the query is;
// each bad body is a 400 naming what is wrong, and nothing is saved.
func TestGroupBadInput(t *testing.T) {
	f := newFixture(t, nil)
	before, _ := f.s.cfg.Groups.List(context.Background())
	for _, tc := range []struct{ body, param string }{
		{`{"name":"x","conditions":"colour=red"}`, "colour"},
		{`{"name":"x","conditions":"status=gone"}`, "status"},
		{`{"name":"x","conditions":"not.status=gone"}`, "not.status"},
		{`{"name":"x","conditions":"churn_min=2"}`, "churn_min"},
		{`{"name":"x","conditions":"minutes_trend_min=-2"}`, "minutes_trend_min"},
		{`{"name":"x","conditions":"segment=999"}`, "segment"},
		{`{"name":"x","conditions":"sort=clv&region=North"}`, "sort"},
		{`{"name":"x","conditions":"group=` + fixtureGroup + `"}`, "conditions"},
		{`{"name":"x","conditions":""}`, "conditions"},
		{`{"name":"x","conditions":"%zz"}`, "conditions"},
		{`{"name":"","conditions":"region=North"}`, "name"},
		{`{"name":"` + strings.Repeat("n", 101) + `","conditions":"region=North"}`, "name"},
		{`{"name":"x","conditions":"region=North","owner":"ops"}`, "owner"},
		{`{"name":"x","shared":"yes","conditions":"region=North"}`, "shared"},
	} {
		resp := f.post(t, RoleAnalyst, "/v1/groups", tc.body)
		if resp.StatusCode != http.StatusBadRequest || problemOfBody(t, resp.Body).Parameter != tc.param {
			t.Errorf("POST %s = %d %s, want 400 naming %s", tc.body, resp.StatusCode, cut(resp.Body, 200), tc.param)
		}
	}
	if after, _ := f.s.cfg.Groups.List(context.Background()); len(after) != len(before) {
		t.Errorf("%d groups after bad input, want %d", len(after), len(before))
	}
	if code := f.get(t, RoleAnalyst, "/v1/customers?group=grp-none").StatusCode; code != http.StatusBadRequest {
		t.Errorf("group= of no group: %d, want 400", code)
	}
	if code := f.get(t, RoleAnalyst, "/v1/customers?group=a&group=b").StatusCode; code != http.StatusBadRequest {
		t.Errorf("group= twice: %d, want 400", code)
	}
}

// TestGroupsSurviveRestart: a group saved through one server into the
// lake (crm.customer_groups) is used by a server built afresh over a new
// connection to the same lake, as after a redeploy.
func TestGroupsSurviveRestart(t *testing.T) {
	l := laketest.New(t)
	meta, cs := genSnapshot(7, fixtureSize, false)
	first, err := newServer(meta, cs, nil, Config{Keys: testKeys(), Groups: groups.LakeStore{Tables: l.Cat}})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{s: first, meta: meta, customers: stored(t, first)}
	resp := f.post(t, RoleAnalyst, "/v1/groups", `{"name":"Top tiers in the East","shared":true,"conditions":"value_tier=top1,top5,top20&region=East"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST = %d: %s", resp.StatusCode, resp.Body)
	}
	var g groupInfo
	json.Unmarshal([]byte(resp.Body), &g)

	cat := reopen(t, l)
	second, err := newServer(meta, cs, nil, Config{Keys: testKeys(), Groups: groups.LakeStore{Tables: cat}})
	if err != nil {
		t.Fatal(err)
	}
	f2 := &fixture{s: second, meta: meta, customers: f.customers}
	want := 0
	for i := range f.customers {
		if c := &f.customers[i]; c.Region == "East" && in(c.ValueTier, "top1", "top5", "top20") {
			want++
		}
	}
	if p := decodePage(t, f2.get(t, RoleAdmin, "/v1/customers?group="+g.ID).Body); p.Count != want || want == 0 {
		t.Errorf("after the restart group= selects %d, want %d (>0)", p.Count, want)
	}
	var got groupInfo
	json.Unmarshal([]byte(f2.get(t, RoleAnalyst, "/v1/groups/"+g.ID).Body), &got)
	if got.Name != g.Name || got.Conditions != g.Conditions || got.Owner != "bi-team" || !got.CreatedAt.Equal(g.CreatedAt) {
		t.Errorf("after the restart %+v, saved %+v", got.Group, g.Group)
	}
}

// TestOrNotMatchBruteForce: random conditions with lists (OR within a
// field), negations and ranges give exactly the customers a plain loop
// picks.
func TestOrNotMatchBruteForce(t *testing.T) {
	f := newFixture(t, nil)
	rng := rand.New(rand.NewPCG(11, 12))
	fields := map[string]func(*serving.Customer) string{
		"region": func(c *serving.Customer) string { return c.Region }, "plan": func(c *serving.Customer) string { return c.Plan },
		"gender": func(c *serving.Customer) string { return c.Gender }, "income_band": func(c *serving.Customer) string { return c.IncomeBand },
		"occupation": func(c *serving.Customer) string { return c.Occupation }, "education": func(c *serving.Customer) string { return c.Education },
		"district": func(c *serving.Customer) string { return c.District }, "value_tier": func(c *serving.Customer) string { return c.ValueTier },
		"status": func(c *serving.Customer) string { return c.Status }, "age_band": func(c *serving.Customer) string { return c.AgeBand },
	}
	values := map[string][]string{}
	for name, get := range fields {
		seen := map[string]bool{}
		for i := range f.customers {
			if v := get(&f.customers[i]); v != "" && !seen[v] {
				seen[v] = true
				values[name] = append(values[name], v)
			}
		}
		slices.Sort(values[name])
		if !in(name, "age_band", "status", "value_tier") { // closed: an unknown value is a 400
			values[name] = append(values[name], "no-such-value")
		}
	}
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names)
	type rangeCond struct {
		param string
		get   func(*serving.Customer) float64
		lo    float64
		hi    float64
	}
	ranges := []rangeCond{
		{"sms", func(c *serving.Customer) float64 { return float64(c.SMS) }, 0, 100},
		{"contacts", func(c *serving.Customer) float64 { return float64(c.DistinctContact) }, 0, 80},
		{"discount", func(c *serving.Customer) float64 { return c.Discount }, 0, 8},
		{"credit_use", func(c *serving.Customer) float64 { return c.CreditUse }, 0, 1.2},
		{"minutes_trend", func(c *serving.Customer) float64 { return c.VoiceMinutesTrend }, -1, 1},
		{"spend_trend", func(c *serving.Customer) float64 { return c.SpendTrend }, -1, 1},
		{"profit", func(c *serving.Customer) float64 { return c.Profit }, 0, 50},
	}
	for pass := range 2 {
		if pass == 1 {
			buildAllPostings(f.s.ix) // from now on selective conditions use postings and code bitmaps
		}
		for trial := range 60 {
			q := url.Values{}
			var conds []func(*serving.Customer) bool
			for _, name := range names {
				if rng.IntN(3) != 0 {
					continue
				}
				vals := values[name]
				k := 1 + rng.IntN(min(3, len(vals)))
				pick := make([]string, k)
				for i := range pick {
					pick[i] = vals[rng.IntN(len(vals))]
				}
				get, neg := fields[name], rng.IntN(2) == 0
				key := name
				if neg {
					key = notPrefix + name
				}
				quoted := make([]string, len(pick))
				for i, v := range pick {
					quoted[i] = quoteListValue(v) // "sales, retail"
				}
				if rng.IntN(2) == 0 {
					q[key] = []string{strings.Join(quoted, ",")} // one comma list
				} else {
					q[key] = quoted // repeated
				}
				conds = append(conds, func(c *serving.Customer) bool { return slices.Contains(pick, get(c)) != neg })
			}
			for _, rc := range ranges {
				if rng.IntN(4) != 0 {
					continue
				}
				a := rc.lo + rng.Float64()*(rc.hi-rc.lo)
				a = float64(int(a*100)) / 100
				if rc.param == "sms" || rc.param == "contacts" {
					a = float64(int(a))
				}
				if rng.IntN(2) == 0 {
					q.Set(rc.param+"_min", fmt.Sprint(a))
					conds = append(conds, func(c *serving.Customer) bool { return rc.get(c) >= a })
				} else {
					q.Set(rc.param+"_max", fmt.Sprint(a))
					conds = append(conds, func(c *serving.Customer) bool { return rc.get(c) <= a })
				}
			}
			var want []string
			for i := range f.customers {
				c := &f.customers[i]
				ok := true
				for _, cond := range conds {
					ok = ok && cond(c)
				}
				if ok {
					want = append(want, c.SubscriberID)
				}
			}
			target := "/v1/customers?limit=100&sort=profit&" + q.Encode()
			resp := f.get(t, RoleAdmin, target)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("trial %d: %s = %d: %s", trial, target, resp.StatusCode, resp.Body)
			}
			p := decodePage(t, resp.Body)
			if p.Count != len(want) {
				t.Errorf("trial %d: %s: count %d, want %d", trial, target, p.Count, len(want))
				continue
			}
			for _, it := range p.Items {
				if !slices.Contains(want, it["subscriber_id"].(string)) {
					t.Errorf("trial %d: %s: %s should not match", trial, target, it["subscriber_id"])
				}
			}
			// The cube selects the same customers.
			resp = f.get(t, RoleAdmin, "/v1/cube?dims=region&"+q.Encode())
			var c struct{ Customers int }
			if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(resp.Body), &c) != nil || c.Customers != len(want) {
				t.Errorf("pass %d trial %d: cube of %s: status %d, %d customers, want %d", pass, trial, q.Encode(), resp.StatusCode, c.Customers, len(want))
			}
		}
	}
}

// TestDistrictMasked: analysts filter by district but see it masked in
// rows, as names; admins see it.
func TestSplitList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{"a,b", []string{"a", "b"}, true},
		{`"sales, retail",clerk`, []string{"sales, retail", "clerk"}, true},
		{`clerk, "sales, retail"`, []string{"clerk", "sales, retail"}, true},
		{`"say ""hi""",x`, []string{`say "hi"`, "x"}, true},
		{`"open,x`, nil, false},
		{`a"b,c`, []string{`a"b`, "c"}, true},
	} {
		got, ok := splitList(tc.in)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("splitList(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
		if ok {
			var back []string
			for _, v := range got {
				back = append(back, quoteListValue(strings.TrimSpace(v)))
			}
			if again, _ := splitList(strings.Join(back, ",")); len(again) != len(got) {
				t.Errorf("quoteListValue round trip of %q: %q", tc.in, again)
			}
		}
	}
}

func TestDistrictMasked(t *testing.T) {
	f := newFixture(t, nil)
	d := f.customers[0].District
	for _, tc := range []struct {
		role  Role
		clear bool
	}{{RoleAnalyst, false}, {RoleAdmin, true}} {
		p := decodePage(t, f.get(t, tc.role, "/v1/customers?limit=100&district="+url.QueryEscape(d)).Body)
		if p.Count == 0 {
			t.Fatalf("no customer in district %s", d)
		}
		for _, it := range p.Items {
			got := it["district"].(string)
			if (got == d) != tc.clear || !tc.clear && got != maskName(d) {
				t.Errorf("%s sees district %q of %q", tc.role, got, d)
			}
		}
	}
}

// reopen opens a second catalog connection to l's lake (a restart).
func reopen(t *testing.T, l *laketest.Lake) lake.TableLoader {
	t.Helper()
	cat, err := lake.OpenCatalog(context.Background(), l.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	return cat
}
