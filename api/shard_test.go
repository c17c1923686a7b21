package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/models/serving"
)

// shardedFixture serves the fixture's snapshot split into n shards (each
// written and opened as its own snapshot, as n api instances would).
func shardedFixture(t *testing.T, n int) (*fixture, *fixture) {
	t.Helper()
	whole := newFixture(t, nil)
	meta, cs := genSnapshot(7, fixtureSize, true)
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
	cfg := Config{Keys: testKeys(), Audit: slog.New(slog.NewJSONHandler(io.Discard, nil)), MaxPageSize: 100}
	s, err := NewSharded(snaps, sampleSources(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return whole, &fixture{s: s, meta: meta, customers: whole.customers, audit: &syncBuffer{}}
}

// TestShardedEqualsUnsharded pages through every filter case on both
// layouts: every page (count, items, next cursor) is the same answer,
// byte for byte, and the sharded cursors lead through the same pages.
func TestShardedEqualsUnsharded(t *testing.T) {
	for _, n := range []int{2, 5} {
		whole, sharded := shardedFixture(t, n)
		for _, fc := range filterCases {
			for _, role := range []Role{RoleAdmin, RoleAnalyst} {
				t.Run(fc.query+"/"+string(role), func(t *testing.T) {
					cursor, pages := "", 0
					for {
						q := strings.TrimPrefix(fc.query+"&limit=7", "&")
						if cursor != "" {
							q += "&cursor=" + url.QueryEscape(cursor)
						}
						want := whole.get(t, role, "/v1/customers?"+q)
						got := sharded.get(t, role, "/v1/customers?"+q)
						if got.StatusCode != want.StatusCode || got.Body != want.Body {
							t.Fatalf("%d shards, page %d of %q:\n got %d %s\nwant %d %s", n, pages, fc.query,
								got.StatusCode, head1(got.Body), want.StatusCode, head1(want.Body))
						}
						p := decodePage(t, got.Body)
						pages++
						if p.NextCursor == nil {
							break
						}
						cursor = *p.NextCursor
						if pages > fixtureSize {
							t.Fatal("paging does not end")
						}
					}
				})
			}
		}
		for i, c := range whole.customers {
			if i%37 != 0 {
				continue
			}
			for _, role := range []Role{RoleAgent, RoleAdmin} {
				path := "/v1/customers/" + url.PathEscape(c.SubscriberID)
				if got, want := sharded.get(t, role, path), whole.get(t, role, path); got.Body != want.Body {
					t.Errorf("%s as %s: sharded %s, unsharded %s", path, role, head1(got.Body), head1(want.Body))
				}
			}
		}
		if got, want := sharded.get(t, RoleAdmin, "/v1/customers/nobody"), whole.get(t, RoleAdmin, "/v1/customers/nobody"); got.StatusCode != http.StatusNotFound || got.Body != want.Body {
			t.Errorf("unknown id: sharded %d %s, want %s", got.StatusCode, got.Body, want.Body)
		}
		if got := sharded.get(t, RoleAdmin, "/v1/customers?limit=7&cursor=garbage"); got.StatusCode != http.StatusBadRequest || !strings.Contains(got.Body, "cursor") {
			t.Errorf("bad cursor: %d %s, want a 400 naming cursor", got.StatusCode, got.Body)
		}
		sharded.allow5xx = true
		if got := sharded.get(t, RoleAdmin, "/v1/cube?dims=region"); got.StatusCode != http.StatusNotImplemented {
			t.Errorf("cube on shards: %d, want 501 (not sharded yet)", got.StatusCode)
		}
	}
}

func head1(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
