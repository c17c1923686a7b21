package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/telcolake/telcolake/lambdahttp"
	"github.com/telcolake/telcolake/models/serving"
)

// invokeHandler is h behind a Lambda Invoke API: the event in, the
// function's answer out, as the local stack's Invoke or AWS's.
func invokeHandler(h http.Handler) Invoker {
	fn := lambdahttp.Handler(h)
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		resp, err := fn(ctx, ev)
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	}
}

// liveLayout is the api functions of the sharded layout over one store: n
// shard Lives (each loading only its shard of the run WriteSharded wrote)
// and a front Live invoking them; audit collects every shard's audit lines.
type liveLayout struct {
	st     *serving.MemStore
	shards []*Live
	front  *Live
	audit  *syncBuffer
}

func newLiveLayout(t *testing.T, whole *fixture, n int, now func() time.Time) *liveLayout {
	t.Helper()
	meta, cs := genSnapshot(7, fixtureSize, true)
	st := serving.NewMemStore()
	if _, err := serving.WriteSharded(context.Background(), st, meta, cs, n); err != nil {
		t.Fatal(err)
	}
	l := &liveLayout{st: st, audit: &syncBuffer{}}
	cfg := Config{Keys: testKeys(), Audit: slog.New(slog.NewJSONHandler(l.audit, nil)), MaxPageSize: 100,
		Groups: whole.s.cfg.Groups, Campaigns: whole.s.cfg.Campaigns, Now: now}
	var front []Shard
	for k := range n {
		live, err := NewLive(LiveConfig{Store: st, NotFound: serving.IsNotFound, Sources: sampleSources(), Config: cfg, Shard: k, Shards: n, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		l.shards = append(l.shards, live)
		front = append(front, InvokeShard(invokeHandler(live)))
	}
	fcfg := cfg
	fcfg.Audit = slog.New(slog.NewJSONHandler(io.Discard, nil))
	var err error
	if l.front, err = NewLive(LiveConfig{Store: st, NotFound: serving.IsNotFound, Sources: sampleSources(), Config: fcfg, Front: front, Now: now}); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLiveShardLayout: the api functions of the sharded layout (a front
// Live invoking shard Lives, each of which loads only its own shard's
// files) answer exactly as one instance over the whole run.
func TestLiveShardLayout(t *testing.T) {
	whole := newFixture(t, nil)
	l := newLiveLayout(t, whole, 3, nil)
	sharded := &fixture{s: l.front.front, meta: whole.meta, customers: whole.customers, audit: &syncBuffer{}}
	for _, role := range []Role{RoleAdmin, RoleAnalyst} {
		cursor := ""
		for range 4 {
			q := "status=active&sort=-clv&limit=17"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			p := decodePage(t, same(t, whole, sharded, role, "/v1/customers?"+q).Body)
			if p.NextCursor == nil {
				break
			}
			cursor = *p.NextCursor
		}
		same(t, whole, sharded, role, "/v1/customers?region=North&format=csv")
		same(t, whole, sharded, role, "/v1/cube?dims=region,plan&measures=count,churn_rate,clv_sum")
		same(t, whole, sharded, role, "/v1/lists/"+whole.meta.Lists[0].Name+"?limit=5")
		same(t, whole, sharded, role, "/v1/customers?group="+fixtureGroup+"&limit=5")
	}
	for i, c := range whole.customers {
		if i%53 == 0 {
			same(t, whole, sharded, RoleAgent, "/v1/customers/"+url.PathEscape(c.SubscriberID))
		}
	}
	same(t, whole, sharded, "", "/healthz")
	for k, sh := range l.shards {
		if sh.Loads() != 1 {
			t.Errorf("shard %d loaded %d times, want 1", k, sh.Loads())
		}
	}
}

// TestLiveShardConsoleUser: a console user (WithUser) asking a sharded
// front gets what one instance gives them, masking by their role, and
// each shard's audit line names them; a user header a caller of a shard
// makes up, alters or replays late is refused.
func TestLiveShardConsoleUser(t *testing.T) {
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	whole := newFixture(t, func(c *Config) { c.Now = clock })
	l := newLiveLayout(t, whole, 2, clock)
	asUser := func(h http.Handler, role Role, target string) response {
		r := event("GET", target).WithContext(WithUser(context.Background(), "ana", role))
		return record(h, r)
	}
	for _, role := range []Role{RoleAgent, RoleAnalyst, RoleAdmin} {
		for _, target := range []string{
			"/v1/customers/" + url.PathEscape(whole.customers[5].SubscriberID),
			"/v1/customers?status=active&limit=9",
			"/v1/lists/" + whole.meta.Lists[0].Name + "?limit=4",
		} {
			want, got := asUser(whole.s, role, target), asUser(l.front, role, target)
			if got.StatusCode != want.StatusCode || got.Body != want.Body {
				t.Fatalf("%s as console %s:\n got %d %s\nwant %d %s", target, role, got.StatusCode, head1(got.Body), want.StatusCode, head1(want.Body))
			}
		}
	}
	if !strings.Contains(l.audit.String(), `"key":"user:ana"`) {
		t.Errorf("the shards' audit does not name the console user: %s", head1(l.audit.String()))
	}

	// A caller of a shard directly.
	shard := l.shards[0]
	target := "/v1/customers?status=active&limit=2"
	signed := l.front.front.signUser(Key{Name: "user:ana", Role: RoleAdmin})
	mac := signed[strings.LastIndexByte(signed, '.')+1:]
	forged := strings.Replace(signed, "."+string(RoleAdmin)+".", "."+string(RoleAnalyst)+".", 1)
	otherKey := (&Server{cfg: Config{ForwardKey: []byte("another deployment's key")}}).signUser(Key{Name: "user:ana", Role: RoleAdmin})
	for _, tc := range []struct {
		name, header string
		want         int
	}{
		{"signed by the front", signed, http.StatusOK},
		{"made up", "user:ana.admin.9999999999." + strings.Repeat("0", 64), http.StatusUnauthorized},
		{"role altered", forged, http.StatusUnauthorized},
		{"signed with another key", otherKey, http.StatusUnauthorized},
		{"no signature", strings.TrimSuffix(signed, mac), http.StatusUnauthorized},
	} {
		got := record(shard, event("GET", target, userHeader, tc.header))
		if got.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d (%s)", tc.name, got.StatusCode, tc.want, head1(got.Body))
		}
	}
	now = now.Add(forwardTTL + time.Second)
	if got := record(shard, event("GET", target, userHeader, signed)); got.StatusCode != http.StatusUnauthorized {
		t.Errorf("an expired user header: %d, want 401", got.StatusCode)
	}
}

// TestLiveShardRun: a shard asked for a run newer than its own looks for
// it at once; a run it cannot find is a 503, not another run's answer.
func TestLiveShardRun(t *testing.T) {
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	whole := newFixture(t, nil)
	l := newLiveLayout(t, whole, 2, func() time.Time { return now })
	shard := l.shards[1]
	key := []string{"X-API-Key", secretOf[RoleAdmin]}
	if got := record(shard, event("GET", "/v1/customers?limit=1", key...)); got.StatusCode != http.StatusOK {
		t.Fatalf("first request: %d %s", got.StatusCode, head1(got.Body))
	}
	meta, cs := genSnapshot(7, fixtureSize, true)
	meta.Run = "run-2"
	if _, err := serving.WriteSharded(context.Background(), l.st, meta, cs, 2); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		run  string
		want int
	}{{"run-2", http.StatusOK}, {"run-3", http.StatusServiceUnavailable}} {
		got := record(shard, event("GET", "/v1/customers?limit=1", append(key, runHeader, tc.run)...))
		if got.StatusCode != tc.want {
			t.Errorf("asked for %s: %d, want %d (%s)", tc.run, got.StatusCode, tc.want, head1(got.Body))
		}
	}
	if shard.Loads() != 2 {
		t.Errorf("shard loads %d, want 2 (run-2 at once, not after the interval)", shard.Loads())
	}
}

// TestShardLayoutFromEnv: the environment names one instance, a shard or
// a front, and a bad setting fails naming its variable.
func TestShardLayoutFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env            map[string]string
		shard, shards  int
		front          int
		wantErr        string
		wantNoSharding bool
	}{
		{env: map[string]string{}, wantNoSharding: true},
		{env: map[string]string{serving.EnvShards: "0"}, wantNoSharding: true},
		{env: map[string]string{serving.EnvShards: "0,1,2", serving.EnvShard: "2"}, shard: 2, shards: 3},
		{env: map[string]string{serving.EnvShards: "0,1,2", EnvShardFunction: "telcolake-api-shard-{shard}-dev"}, front: 3},
		{env: map[string]string{serving.EnvShards: "0,1,2"}, wantErr: EnvShardFunction},
		{env: map[string]string{serving.EnvShards: "0,2"}, wantErr: serving.EnvShards},
		{env: map[string]string{serving.EnvShards: "0,1", serving.EnvShard: "2"}, wantErr: serving.EnvShard},
		{env: map[string]string{serving.EnvShards: "0,1", serving.EnvShard: "x"}, wantErr: serving.EnvShard},
	} {
		var cfg LiveConfig
		err := shardLayout(&cfg, func(k string) string { return tc.env[k] }, nil)
		what := fmt.Sprint(tc.env)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: %v, want an error naming %s", what, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		if cfg.Shard != tc.shard || cfg.Shards != tc.shards || len(cfg.Front) != tc.front {
			t.Errorf("%s: shard %d of %d, front of %d; want %d of %d, %d", what, cfg.Shard, cfg.Shards, len(cfg.Front), tc.shard, tc.shards, tc.front)
		}
	}
}

// TestCheckEveryFromEnv: the interval a warm instance looks for a new run
// comes from EnvCheckEvery, and a bad one is an error naming it.
func TestCheckEveryFromEnv(t *testing.T) {
	for _, tc := range []struct {
		v       string
		want    time.Duration
		wantErr bool
	}{
		{"", 0, false},
		{"10s", 10 * time.Second, false},
		{" 1m ", time.Minute, false},
		{"1ms", time.Millisecond, false},
		{"0s", 0, true},
		{"-1m", 0, true},
		{"soon", 0, true},
	} {
		got, err := checkEvery(func(k string) string {
			if k == EnvCheckEvery {
				return tc.v
			}
			return ""
		})
		if tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), EnvCheckEvery) {
				t.Errorf("%q: %v, want an error naming %s", tc.v, err, EnvCheckEvery)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %v, %v; want %v", tc.v, got, err, tc.want)
		}
	}
}
