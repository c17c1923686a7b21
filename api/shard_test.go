package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/lambdahttp"
	"github.com/telcolake/telcolake/models/serving"
)

// shardedFixture serves the fixture's snapshot split into n shards (each
// written and opened as its own snapshot, as n api instances would),
// reached in process ("local"), over HTTP through a test server per
// shard ("http") or by invoking a function per shard ("invoke"). Both share the whole fixture's group and campaign stores.
func shardedFixture(t *testing.T, n int, transport string) (*fixture, *fixture) {
	t.Helper()
	whole := newFixture(t, nil)
	meta, cs := genSnapshot(7, fixtureSize, true)
	cfg := Config{Keys: testKeys(), Audit: slog.New(slog.NewJSONHandler(io.Discard, nil)), MaxPageSize: 100,
		Groups: whole.s.cfg.Groups, Campaigns: whole.s.cfg.Campaigns}
	var snaps []*serving.Snapshot
	for k, part := range serving.Split(cs, n) {
		if len(part) == 0 {
			t.Fatalf("shard %d of %d is empty", k, n)
		}
		st := serving.NewMemStore()
		if _, err := serving.Write(context.Background(), st, meta, part); err != nil {
			t.Fatal(err)
		}
		snap, err := serving.Load(context.Background(), st, serving.IsNotFound, serving.Options{})
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, snap)
	}
	var s *Server
	var err error
	switch transport {
	case "local":
		s, err = NewSharded(snaps, sampleSources(), cfg)
	case "invoke": // each shard a function behind the Lambda Invoke API
		var shards []Shard
		for _, snap := range snaps {
			inst, err := New(snap, sampleSources(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			fn := lambdahttp.Handler(inst)
			shards = append(shards, InvokeShard(func(ctx context.Context, payload []byte) ([]byte, error) {
				var ev events.APIGatewayV2HTTPRequest
				if err := json.Unmarshal(payload, &ev); err != nil {
					return nil, err
				}
				resp, err := fn(ctx, ev)
				if err != nil {
					return nil, err
				}
				return json.Marshal(resp)
			}))
		}
		s, err = NewFront(meta, shards, sampleSources(), cfg)
	default: // http
		var shards []Shard
		for _, snap := range snaps {
			inst, err := New(snap, sampleSources(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(inst)
			t.Cleanup(srv.Close)
			sh, err := RemoteShard(srv.URL, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			shards = append(shards, sh)
		}
		s, err = NewFront(meta, shards, sampleSources(), cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return whole, &fixture{s: s, meta: meta, customers: whole.customers, audit: &syncBuffer{}}
}

// same asserts that the sharded front answers target exactly as the
// unsharded server does: status, content type and body, byte for byte.
func same(t *testing.T, whole, sharded *fixture, role Role, target string, hdr ...string) response {
	t.Helper()
	if role != "" {
		hdr = append(hdr, "X-API-Key", secretOf[role])
	}
	want := whole.do(t, event("GET", target, hdr...))
	got := sharded.do(t, event("GET", target, hdr...))
	if got.StatusCode != want.StatusCode || got.Body != want.Body || got.Headers["Content-Type"] != want.Headers["Content-Type"] ||
		got.Headers["Content-Disposition"] != want.Headers["Content-Disposition"] {
		t.Fatalf("%s as %q:\n got %d %s %s\nwant %d %s %s", target, role, got.StatusCode, got.Headers["Content-Type"], head1(got.Body),
			want.StatusCode, want.Headers["Content-Type"], head1(want.Body))
	}
	return got
}

// TestShardedEqualsUnsharded asks both layouts the same questions, with 2
// and 5 shards, in process, over HTTP and through function invocations: every filter paged through its
// cursors, CSV exports (plain and gzip), look-ups, cubes with random
// dimensions, measures and filters (JSON and CSV), value tiers, lists
// paged and exported, group=, group sizes, health and the errors — every
// answer byte-identical.
func TestShardedEqualsUnsharded(t *testing.T) {
	for _, tc := range []struct {
		n         int
		transport string
	}{{2, "local"}, {5, "local"}, {5, "http"}, {2, "invoke"}} {
		t.Run(fmt.Sprintf("%d shards %s", tc.n, tc.transport), func(t *testing.T) {
			testSharded(t, tc.n, tc.transport)
		})
	}
}

func testSharded(t *testing.T, n int, transport string) {
	whole, sharded := shardedFixture(t, n, transport)
	for _, fc := range filterCases {
		for _, role := range []Role{RoleAdmin, RoleAnalyst} {
			cursor, pages := "", 0
			for {
				q := strings.TrimPrefix(fc.query+"&limit=23", "&")
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				p := decodePage(t, same(t, whole, sharded, role, "/v1/customers?"+q).Body)
				pages++
				if p.NextCursor == nil {
					break
				}
				cursor = *p.NextCursor
				if pages > fixtureSize {
					t.Fatal("paging does not end")
				}
			}
			csvQ := strings.TrimPrefix(fc.query+"&format=csv", "&")
			same(t, whole, sharded, role, "/v1/customers?"+csvQ)
		}
	}
	same(t, whole, sharded, RoleAdmin, "/v1/customers?format=csv&status=active", "Accept-Encoding", "gzip")
	same(t, whole, sharded, RoleAdmin, "/v1/customers?group="+fixtureGroup+"&limit=5&sort=-clv")
	same(t, whole, sharded, RoleAnalyst, "/v1/customers?group="+fixtureGroup+"&format=csv")

	for i, c := range whole.customers {
		if i%37 != 0 {
			continue
		}
		for _, role := range []Role{RoleAgent, RoleAnalyst, RoleAdmin} {
			same(t, whole, sharded, role, "/v1/customers/"+url.PathEscape(c.SubscriberID))
		}
	}

	rng := rand.New(rand.NewPCG(uint64(n), 17))
	for i := range 40 {
		perm := rng.Perm(len(insight.Dimensions))
		var dims []string
		for _, j := range perm[:rng.IntN(insight.MaxDims+1)] {
			dims = append(dims, insight.Dimensions[j].Name)
		}
		q := url.Values{}
		if len(dims) > 0 {
			q.Set("dims", strings.Join(dims, ","))
		}
		if i%3 > 0 {
			var ms []string
			for _, j := range rng.Perm(len(insight.Measures))[:1+rng.IntN(len(insight.Measures))] {
				ms = append(ms, insight.Measures[j].Name)
			}
			q.Set("measures", strings.Join(ms, ","))
		}
		target := "/v1/cube?" + q.Encode()
		if fc := filterCases[rng.IntN(len(filterCases))]; fc.query != "" && !strings.Contains(fc.query, "sort=") {
			target += "&" + fc.query
		}
		if i%4 == 0 {
			target += "&format=csv"
		}
		same(t, whole, sharded, RoleAnalyst, target)
	}
	same(t, whole, sharded, RoleAdmin, "/v1/cube?dims=region,plan&group="+fixtureGroup)
	for _, q := range []string{"", "?status=active", "?group=" + fixtureGroup, "?region=North&churn_min=0.4"} {
		same(t, whole, sharded, RoleAnalyst, "/v1/value/tiers"+q)
	}

	same(t, whole, sharded, RoleAnalyst, "/v1/lists")
	for _, l := range whole.meta.Lists {
		for _, extra := range []string{"", "&group=" + fixtureGroup} {
			for _, role := range []Role{RoleAdmin, RoleAnalyst} {
				cursor, pages := "", 0
				for {
					q := "limit=3" + extra
					if cursor != "" {
						q += "&cursor=" + url.QueryEscape(cursor)
					}
					p := decodePage(t, same(t, whole, sharded, role, "/v1/lists/"+l.Name+"?"+q).Body)
					pages++
					if p.NextCursor == nil {
						break
					}
					cursor = *p.NextCursor
					if pages > fixtureSize {
						t.Fatal("paging does not end")
					}
				}
				same(t, whole, sharded, role, "/v1/lists/"+l.Name+"?format=csv"+extra)
			}
		}
	}

	// A campaign created through the front freezes the list's members as
	// one instance would; its contacts read the same through both.
	viaFront := sharded.post(t, RoleAnalyst, "/v1/campaigns", createBody)
	viaWhole := whole.post(t, RoleAnalyst, "/v1/campaigns", createBody)
	if viaFront.StatusCode != http.StatusCreated || viaWhole.StatusCode != http.StatusCreated {
		t.Fatalf("create campaign: front %d %s, whole %d", viaFront.StatusCode, head1(viaFront.Body), viaWhole.StatusCode)
	}
	var a, b campaignInfo
	if err := json.Unmarshal([]byte(viaFront.Body), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(viaWhole.Body), &b); err != nil {
		t.Fatal(err)
	}
	m := whole.s.cfg.Campaigns.(*memCampaigns)
	ca, cb := m.contacts[a.ID], m.contacts[b.ID]
	if len(ca) != len(cb) || len(ca) == 0 {
		t.Fatalf("campaign contacts: front %d, whole %d", len(ca), len(cb))
	}
	for i := range ca {
		x, y := ca[i], cb[i]
		x.Arm, y.Arm = "", "" // drawn from each campaign's own id
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("contact %d: front %+v, whole %+v", i, x, y)
		}
	}
	for _, role := range []Role{RoleAnalyst, RoleAdmin} {
		for _, q := range []string{"?arm=all&limit=7", "?arm=all&format=csv", "?arm=control"} {
			same(t, whole, sharded, role, "/v1/campaigns/"+a.ID+"/contacts"+q)
		}
	}
	// A campaign from a saved group: its members' best, merged from the
	// shards, are the contacts one instance freezes.
	groupBody := strings.Replace(strings.Replace(createBody, `"list":"value-at-risk"`, `"group":"`+fixtureGroup+`"`, 1), `"size":50`, `"size":30`, 1)
	gFront := sharded.post(t, RoleAnalyst, "/v1/campaigns", groupBody)
	gWhole := whole.post(t, RoleAnalyst, "/v1/campaigns", groupBody)
	if gFront.StatusCode != http.StatusCreated || gWhole.StatusCode != http.StatusCreated {
		t.Fatalf("create group campaign: front %d %s, whole %d %s", gFront.StatusCode, head1(gFront.Body), gWhole.StatusCode, head1(gWhole.Body))
	}
	var ga, gb campaignInfo
	if err := json.Unmarshal([]byte(gFront.Body), &ga); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(gWhole.Body), &gb); err != nil {
		t.Fatal(err)
	}
	ga0, gb0 := m.contacts[ga.ID], m.contacts[gb.ID]
	if len(ga0) != 30 || len(gb0) != 30 || ga.SourceKind != "group" {
		t.Fatalf("group campaign contacts: front %d, whole %d (source %s)", len(ga0), len(gb0), ga.SourceKind)
	}
	for i := range ga0 {
		x, y := ga0[i], gb0[i]
		x.Arm, y.Arm = "", ""
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("group contact %d: front %+v, whole %+v", i, x, y)
		}
	}
	nope := strings.Replace(groupBody, fixtureGroup, "nosuchgroup", 1)
	if a, b := sharded.post(t, RoleAnalyst, "/v1/campaigns", nope), whole.post(t, RoleAnalyst, "/v1/campaigns", nope); a.StatusCode != b.StatusCode || a.Body != b.Body {
		t.Errorf("campaign from a missing group: front %d %s, whole %d %s", a.StatusCode, head1(a.Body), b.StatusCode, head1(b.Body))
	}
	same(t, whole, sharded, RoleAnalyst, "/v1/groups")
	same(t, whole, sharded, RoleAnalyst, "/v1/groups/"+fixtureGroup)
	same(t, whole, sharded, "", "/healthz")
	same(t, whole, sharded, RoleAdmin, "/v1/segments")

	// Errors: the shards' problems, as one instance states them.
	for _, target := range []string{
		"/v1/customers/nobody",
		"/v1/customers?limit=7&cursor=garbage",
		"/v1/customers?segment=99",
		"/v1/customers?limit=0",
		"/v1/cube?dims=region,plan,segment,gender,lifecycle",
		"/v1/cube?dims=nothing",
		"/v1/cube?dims=region&group=nosuchgroup",
		"/v1/lists/nosuchlist",
		"/v1/lists/" + whole.meta.Lists[0].Name + "?cursor=garbage",
		"/v1/value/tiers?churn_min=2",
	} {
		same(t, whole, sharded, RoleAdmin, target)
	}
	same(t, whole, sharded, RoleAgent, "/v1/cube?dims=region") // 403 before any shard is asked
	same(t, whole, sharded, "", "/v1/customers?status=active") // 401
	// A front is no shard: it does not answer the shard protocol.
	if got := sharded.get(t, RoleAdmin, shardCustomers+"?status=active"); got.StatusCode != http.StatusNotFound {
		t.Errorf("the shard protocol on a front: %d, want 404", got.StatusCode)
	}
}

// TestShardRoutesFollowTheMatrix: a shard protocol route answers exactly
// the roles its public route does (no key: 401; a denied role: 403).
func TestShardRoutesFollowTheMatrix(t *testing.T) {
	f := newFixture(t, nil)
	targets := map[string]string{
		shardCustomers:  shardCustomers + "?status=active",
		shardCube:       shardCube + "?dims=region",
		shardTiers:      shardTiers,
		shardLists:      shardLists,
		shardList:       shardPrefix + "/lists/" + f.meta.Lists[0].Name,
		shardCount:      shardCount + "?status=active",
		shardNames:      shardNames + "?ids=" + f.customers[0].SubscriberID + "," + f.customers[1].SubscriberID,
		shardCandidates: shardCandidates + "?group=" + fixtureGroup + "&size=5",
	}
	for _, rt := range shardRoutes() {
		target, ok := targets[rt.pattern]
		if !ok {
			t.Fatalf("no target for %s", rt.pattern)
		}
		perm := permission(rt.op)
		for _, role := range Roles {
			got := f.get(t, role, target)
			want := http.StatusOK
			if perm.Of(role) == Denied {
				want = http.StatusForbidden
			}
			if got.StatusCode != want {
				t.Errorf("%s as %s: %d, want %d (%s)", target, role, got.StatusCode, want, head1(got.Body))
			}
		}
		if got := f.get(t, "", target); got.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without a key: %d, want 401", target, got.StatusCode)
		}
	}
	// Masking follows the caller's access: an analyst's hits and names
	// are masked, an admin's clear.
	for _, target := range []string{shardCustomers + "?limit=3", targets[shardNames]} {
		body := f.get(t, RoleAnalyst, target).Body
		for _, c := range f.customers {
			if strings.Contains(body, `"`+c.MSISDN+`"`) || strings.Contains(body, `"`+c.Name+`"`) {
				t.Fatalf("analyst's %s shows a name or MSISDN in clear: %s", target, head1(body))
			}
		}
	}
	if body := f.get(t, RoleAdmin, targets[shardNames]).Body; !strings.Contains(body, `"`+f.customers[0].MSISDN+`"`) {
		t.Errorf("admin's names are not clear: %s", head1(body))
	}
}

func head1(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
