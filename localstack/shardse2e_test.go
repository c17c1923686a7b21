package localstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/groups"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/churn/liblinear"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/scoring"
	"github.com/telcolake/telcolake/models/serving"
	"github.com/telcolake/telcolake/models/training"
	"github.com/telcolake/telcolake/synth"
)

// e2eShards is the shard count of TestStackShardedScoreEndToEnd.
const e2eShards = 3

// TestStackShardedScoreEndToEnd runs the whole sharded serving path in the
// local stack, every step a real function binary: a small seeded lake
// (ingested and trained in the test, in the stack's S3 warehouse and
// catalog), the DailyScore state machine through the score function
// (ServingShards 0,1,2: the commit writes the run in three shards to the
// lake bucket), then the public API through the HTTP gateway: the api
// function as a front invoking the three shard functions, each of which
// cold-starts from its own shard's files after the key is checked. Count,
// pages followed across cursors, look-ups, cubes, a saved group and a
// campaign from it equal an unsharded api over the same run. A second
// score run is then picked up by the front and every shard, each loading
// it once (the old one dropped first) and never loading an unchanged run
// again, and the answers follow it.
func TestStackShardedScoreEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the score and api functions")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	secret, adminSecret := "e2e-analyst-key", "e2e-admin-key"
	hash := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	params := map[string]string{"CatalogURI": "sqlite://" + filepath.Join(dir, "catalog.db"), "PseudonymKey": "stack-test-pseudonym-key",
		"ServingShards": "0,1,2", "ServingCheckEvery": "1ms",
		"ApiKeys": "bi:analyst:" + hash(secret) + ",ops:admin:" + hash(adminSecret)}
	tpl, err := LoadTemplateWith(filepath.Join("..", "infra", "template.yaml"), params)
	if err != nil {
		t.Fatal(err)
	}
	var run []string
	var fns []FunctionDef
	var scoreDef FunctionDef
	for _, f := range tpl.Functions {
		if f.Package == "api" || f.Package == "score" {
			run = append(run, f.Name)
			fns = append(fns, f)
		}
		if f.Package == "score" {
			scoreDef = f
		}
	}
	if len(run) != 2+e2eShards {
		t.Fatalf("ServingShards 0,1,2: functions %v, want score, api and %d shards", run, e2eShards)
	}
	began := time.Now()
	step := func(what string) { t.Logf("%s: %.1f s", what, time.Since(began).Seconds()); began = time.Now() }
	bins := testBinaries(ctx, t, fns)
	step("build the score and api functions")
	st, logs := startStackOf(ctx, t, dir, params, bins, run)

	// The lake, as the score function sees it: its own environment.
	env, err := st.functionEnv(scoreDef)
	if err != nil {
		t.Fatal(err)
	}
	conn := e2eLake(ctx, t, env)
	step("start the stack, ingest and train")

	// Nothing is loaded before a key is checked: an anonymous request and
	// a bad key are refused with no snapshot read (no score run yet either).
	get := func(key, target string) (int, string) {
		t.Helper()
		return e2eDo(ctx, t, http.MethodGet, st.HTTPURL+target, key, "")
	}
	for _, key := range []string{"", "not-a-key"} {
		if code, _ := get(key, "/v1/customers?limit=1"); code != http.StatusUnauthorized {
			t.Errorf("key %q before any run: %d, want 401", key, code)
		}
	}

	run1 := e2eScore(ctx, t, st)
	step("score (DailyScore)")
	if n := strings.Count(logs.String(), "api: snapshot loaded"); n != 0 {
		t.Errorf("%d snapshot loads before any admitted request, want none", n)
	}
	if code, _ := get("", "/v1/customers?limit=1"); code != http.StatusUnauthorized {
		t.Errorf("anonymous request after the run: %d, want 401", code)
	}
	if n := strings.Count(logs.String(), "api: snapshot loaded"); n != 0 {
		t.Errorf("an anonymous request loaded %d snapshots, want none", n)
	}

	whole := e2eWhole(ctx, t, conn, params["ApiKeys"])
	compare := func(key, target string) string {
		t.Helper()
		code, body := get(key, target)
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.Header.Set("X-API-Key", key)
		whole.ServeHTTP(w, r)
		if code != w.Code || body != w.Body.String() {
			t.Errorf("%s through the sharded stack:\n got %d %.400s\nwant %d %.400s", target, code, body, w.Code, w.Body.String())
		}
		return body
	}
	first := compare(secret, "/v1/customers?status=active&sort=-value_at_risk&limit=1")
	if !strings.Contains(first, `"run":"`+run1+`"`) {
		t.Fatalf("first answer %.300s, want run %s", first, run1)
	}
	// Each shard function loaded its own shard of the run once, the front
	// only the run's metadata.
	checkLoads(t, logs.String(), run1, 1)
	step("first request (cold start of the front and the shards)")

	// Pages followed across cursors, in both sort directions.
	for _, q := range []string{"status=active&sort=-clv&limit=40", "sort=churn_probability&limit=55", "region=North,South&churn_min=0.01&limit=15"} {
		target, pages := "/v1/customers?"+q, 0
		for target != "" && pages < 50 {
			body := compare(secret, target)
			pages++
			var p struct {
				Count      int     `json:"count"`
				NextCursor *string `json:"next_cursor"`
			}
			if err := json.Unmarshal([]byte(body), &p); err != nil {
				t.Fatalf("%s: %v", target, err)
			}
			target = ""
			if p.NextCursor != nil {
				target = "/v1/customers?" + q + "&cursor=" + url.QueryEscape(*p.NextCursor)
			}
		}
		if pages < 2 {
			t.Errorf("%s: %d page(s), want several followed by cursor", q, pages)
		}
	}
	ids := e2eIDs(t, compare(adminSecret, "/v1/customers?sort=-clv&limit=200"))
	for _, i := range []int{0, len(ids) / 3, len(ids) / 2, len(ids) - 1} {
		compare(secret, "/v1/customers/"+ids[i])
		compare(adminSecret, "/v1/customers/"+ids[i])
	}
	for _, target := range []string{
		"/v1/customers/S99999999",
		"/v1/customers?region=North&format=csv",
		"/v1/cube?dims=region,plan&measures=count,churn_rate,clv_sum",
		"/v1/cube?dims=segment,value_tier&measures=count,value_at_risk_sum&status=active&churn_min=0.2",
		"/v1/lists/churn-risk?limit=12",
		"/v1/segments",
	} {
		compare(secret, target)
	}

	// A saved group (kept in crm.groups) and a campaign from it: the
	// shards' best candidates merged by the front are the contacts one
	// instance freezes.
	code, body := e2eDo(ctx, t, http.MethodPost, st.HTTPURL+"/v1/groups", secret,
		`{"name":"Active North","shared":true,"conditions":"region=North&status=active"}`)
	if code != http.StatusCreated {
		t.Fatalf("create group through the front: %d %s", code, body)
	}
	var g struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(body), &g); err != nil || g.ID == "" {
		t.Fatalf("group answer %s: %v", body, err)
	}
	compare(secret, "/v1/groups/"+g.ID)
	compare(secret, "/v1/customers?group="+g.ID+"&sort=-clv&limit=20")
	compare(secret, "/v1/cube?dims=plan&group="+g.ID)
	campaignBody := `{"name":"North save","offer":"discount-10","channel":"outbound_call","cost_per_contact":2.5,"size":25,"control_share":0.2,"group":"` + g.ID + `"}`
	viaFront := e2eCampaign(ctx, t, func(body string) (int, string) {
		return e2eDo(ctx, t, http.MethodPost, st.HTTPURL+"/v1/campaigns", secret, body)
	}, campaignBody, func(target string) string { _, b := get(secret, target); return b })
	viaWhole := e2eCampaign(ctx, t, func(body string) (int, string) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/v1/campaigns", strings.NewReader(body))
		r.Header.Set("X-API-Key", secret)
		r.Header.Set("Content-Type", "application/json")
		whole.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}, campaignBody, func(target string) string { _, b := get(secret, target); return b })
	if len(viaFront) != 25 || !slices.Equal(viaFront, viaWhole) {
		t.Errorf("group campaign contacts: front %v\nwhole %v", viaFront, viaWhole)
	}
	checkLoads(t, logs.String(), run1, 1) // every request above read latest.json, none loaded the run again

	// A second run: the front sees it at its next request, the shards with
	// it; each drops the old shard and loads the new one once.
	step("the compared requests")
	run2 := e2eScore(ctx, t, st)
	step("second score run")
	if run2 == run1 {
		t.Fatalf("the second score run has the first's id %s", run1)
	}
	whole = e2eWhole(ctx, t, conn, params["ApiKeys"])
	if body := compare(secret, "/v1/customers?status=active&sort=-clv&limit=10"); !strings.Contains(body, `"run":"`+run2+`"`) {
		t.Errorf("after the second run: %.300s, want run %s", body, run2)
	}
	compare(secret, "/v1/cube?dims=region,plan&measures=count,churn_rate,clv_sum")
	compare(secret, "/v1/customers/"+ids[len(ids)/2])
	compare(secret, "/v1/customers?group="+g.ID+"&limit=15")
	checkLoads(t, logs.String(), run2, 1)
	if n := strings.Count(logs.String(), "api: new run, dropping the loaded snapshot"); n != 1+e2eShards {
		t.Errorf("%d instances dropped their snapshot before loading the new run, want the front and %d shards", n, e2eShards)
	}
	if total := strings.Count(logs.String(), "api: snapshot loaded"); total != 2*(1+e2eShards) {
		t.Errorf("%d snapshot loads in all, want one per instance per run (%d)", total, 2*(1+e2eShards))
	}
}

// built holds the function binaries the package's tests have built, by
// package, in one directory for the whole test binary (removed by
// TestMain): each test links only the packages no earlier test built.
var built struct {
	mu   sync.Mutex
	dir  string
	bins map[string]string
}

// testBinaries builds (once per test binary) the packages of fns.
func testBinaries(ctx context.Context, t *testing.T, fns []FunctionDef) map[string]string {
	t.Helper()
	built.mu.Lock()
	defer built.mu.Unlock()
	if built.dir == "" {
		dir, err := os.MkdirTemp("", "localstack-test-bins-")
		if err != nil {
			t.Fatal(err)
		}
		built.dir, built.bins = dir, map[string]string{}
	}
	var need []FunctionDef
	for _, f := range fns {
		if _, ok := built.bins[f.Package]; !ok {
			need = append(need, f)
		}
	}
	if len(need) > 0 {
		bins, err := Build(ctx, "..", built.dir, &Template{Functions: need})
		if err != nil {
			t.Fatal(err)
		}
		maps.Copy(built.bins, bins)
	}
	return maps.Clone(built.bins)
}

// removeTestBinaries removes what testBinaries built.
func removeTestBinaries() {
	built.mu.Lock()
	defer built.mu.Unlock()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// e2eLake ingests a small synthetic lake (250 subscribers, six months)
// into the warehouse and catalog env names and trains its models, as the
// monthly run would: what the score function needs.
func e2eLake(ctx context.Context, t *testing.T, env []string) *lake.Conn {
	t.Helper()
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	vars[lake.EnvRegion] = Region // the runner's, as Lambda sets it
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(k, vars[k])
	}
	cfg, err := lake.FromEnv(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	conn, ctx, err := lake.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	root := t.TempDir()
	man, err := synth.Generate(ctx, synth.Config{Subscribers: 250, Months: 6, Seed: 17,
		Start: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), CDRFileSpan: "month"}, synth.DirSink(filepath.Join(root, cfg.LandingBucket)))
	if err != nil {
		t.Fatal(err)
	}
	in := lake.NewIngester(cfg, conn.Catalog, lake.DirStore{Root: root}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var objs []lake.Object
	for _, key := range man.Deliveries {
		fi, err := os.Stat(filepath.Join(root, cfg.LandingBucket, filepath.FromSlash(key)))
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, lake.Object{Bucket: cfg.LandingBucket, Key: key, ETag: lake.LocalETag(fi), Size: fi.Size()})
	}
	for i, o := range in.IngestBatch(ctx, objs) { // one commit per table, as a queue batch does
		if o.Err != nil || o.Status != lake.StatusCommitted {
			t.Fatalf("ingest %s: %v %+v", objs[i].Key, o.Err, o.Result)
		}
	}
	t.Logf("ingested %d files in one batch", len(objs))
	tr := &training.Runner{Tables: conn.Catalog, Registry: &registry.Registry{Store: conn.Models()}, Logistic: liblinear.Fit}
	if _, err := tr.Run(ctx, training.Options{Seed: 1}); err != nil {
		t.Fatalf("train: %v", err)
	}
	return conn
}

// e2eScore runs the DailyScore state machine (plan, the buckets, the
// commit, each an invocation of the score function) and returns its run.
func e2eScore(ctx context.Context, t *testing.T, st *Stack) string {
	t.Helper()
	out, err := st.StartExecution(ctx, "DailyScore", []byte(`{}`))
	if err != nil {
		t.Fatalf("DailyScore: %v", err)
	}
	var res scoring.Result
	if err := json.Unmarshal(out, &res); err != nil || res.Run == "" || res.Scored == 0 {
		t.Fatalf("DailyScore answered %s (%v)", out, err)
	}
	return res.Run
}

// e2eWhole is one unsharded api over the newest run: the shards' customers
// read back and written again as one snapshot, with the lake's groups and
// campaigns.
func e2eWhole(ctx context.Context, t *testing.T, conn *lake.Conn, apiKeys string) *api.Server {
	t.Helper()
	src := conn.Serving()
	p, err := serving.Latest(ctx, src, serving.IsNotFound)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Shards) != e2eShards {
		t.Fatalf("run %s is written in %d shards, want %d", p.Run, len(p.Shards), e2eShards)
	}
	var all []serving.Customer
	for k := range e2eShards {
		snap, err := serving.OpenShard(ctx, src, p, k, e2eShards, serving.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cs, err := snap.AllCustomers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, cs...)
	}
	slices.SortFunc(all, func(a, b serving.Customer) int { return strings.Compare(a.SubscriberID, b.SubscriberID) })
	meta, err := serving.ReadMeta(ctx, src, p)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Customers != len(all) {
		t.Fatalf("run %s: meta says %d customers, the shards hold %d", p.Run, meta.Customers, len(all))
	}
	mem := serving.NewMemStore()
	if _, err := serving.Write(ctx, mem, meta, all); err != nil {
		t.Fatal(err)
	}
	snap, err := serving.Load(ctx, mem, serving.IsNotFound, serving.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := api.ParseKeys(apiKeys)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(snap, nil, api.Config{Keys: keys, Groups: groups.LakeStore{Tables: conn.Catalog}, Campaigns: campaign.LakeStore{Tables: conn.Catalog}})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// e2eDo sends one request with key (none when empty).
func e2eDo(ctx context.Context, t *testing.T, method, target, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// e2eCampaign creates a campaign with post and returns its contacts
// (read with get, the front's answer) as rank:id, the arm left out: it is
// drawn from each campaign's own id.
func e2eCampaign(ctx context.Context, t *testing.T, post func(string) (int, string), body string, get func(string) string) []string {
	t.Helper()
	code, resp := post(body)
	if code != http.StatusCreated {
		t.Fatalf("create campaign: %d %s", code, resp)
	}
	var c struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(resp), &c); err != nil || c.ID == "" {
		t.Fatalf("campaign answer %s: %v", resp, err)
	}
	var page struct {
		Items []struct {
			Rank         int    `json:"rank"`
			SubscriberID string `json:"subscriber_id"`
		} `json:"items"`
	}
	b := get("/v1/campaigns/" + c.ID + "/contacts?arm=all&limit=100")
	if err := json.Unmarshal([]byte(b), &page); err != nil {
		t.Fatalf("contacts of %s: %v: %.300s", c.ID, err, b)
	}
	var out []string
	for _, it := range page.Items {
		out = append(out, strconv.Itoa(it.Rank)+":"+it.SubscriberID)
	}
	return out
}

// e2eIDs are the subscriber ids of a customers page.
func e2eIDs(t *testing.T, body string) []string {
	t.Helper()
	var p struct {
		Items []struct {
			SubscriberID string `json:"subscriber_id"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil || len(p.Items) < 4 {
		t.Fatalf("customers page %.300s: %v", body, err)
	}
	var ids []string
	for _, it := range p.Items {
		ids = append(ids, it.SubscriberID)
	}
	return ids
}

// loadLine matches the log line of one snapshot load ("api: snapshot
// loaded", JSON) with its run and, on a shard, its shard number.
var loadLine = regexp.MustCompile(`"message":"api: snapshot loaded"[^\n]*`)

// checkLoads checks that run was loaded exactly want times by the front
// and by each shard function, each shard its own shard of e2eShards.
func checkLoads(t *testing.T, logs, run string, want int) {
	t.Helper()
	front, shard := 0, make([]int, e2eShards)
	for _, line := range loadLine.FindAllString(logs, -1) {
		if !strings.Contains(line, `"run":"`+run+`"`) {
			continue
		}
		if strings.Contains(line, `"front":true`) {
			front++
			continue
		}
		for k := range e2eShards {
			if strings.Contains(line, `"shard":`+strconv.Itoa(k)+`,"shards":`+strconv.Itoa(e2eShards)) {
				shard[k]++
			}
		}
	}
	if front != want {
		t.Errorf("run %s: the front loaded its metadata %d times, want %d", run, front, want)
	}
	for k, n := range shard {
		if n != want {
			t.Errorf("run %s: shard function %d loaded its shard %d times, want %d", run, k, n, want)
		}
	}
}
