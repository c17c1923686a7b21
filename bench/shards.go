package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/localstack"
	"github.com/telcolake/telcolake/models/serving"
)

// partShards measures sharded serving (issue 17, point 2) through the
// function layout: -shard-customers generated customers split by
// subscriber hash into -shards shards, each generated directly with the
// serving writer (genShard: the pipeline does not produce 10M scored
// customers on this machine in a bench's time) and kept encoded under
// -shards-data, so a later run reuses them; the run uploaded shard by
// shard to the local stack's S3 (serving.PutShard, PointShards) and
// served by the template's layout with ServingShards 0..n-1: the api
// function as the front behind the HTTP gateway, invoking the n api shard
// functions through the local Lambda invoke, each its own process
// (lambda.Start under the local Runtime API) loading only its shard from
// S3. Timed through the gateway: the cold start (the first admitted
// request: the front reads the run's metadata, every shard function loads
// its shard), count + first page, the six-condition search, a cube,
// look-ups; then a second run (new metadata over the same shard files)
// and the reload it causes; the memory of every shard process.
const partShards = "shards"

// shardCase is one timed request of the shards part.
type shardCase struct {
	Name, Path, Query string
}

var shardCases = []shardCase{
	{"count + first page, 2 conditions", "/v1/customers", "region=north&churn_min=0.2&limit=50"},
	{"count + first page, 6 conditions", "/v1/customers", apiFilters[len(apiFilters)-1].Query + "&limit=50"},
	{"cube, 3 dims and a filter", "/v1/cube", "dims=region,plan,segment&measures=" + cubeMeasures + "&" + cubeFilterQuery},
}

// shardLoad is one snapshot load an instance logged.
type shardLoad struct {
	Shard   int // -1: the front
	Run     string
	Seconds float64
}

// shardsReport is the shards part's measurements.
type shardsReport struct {
	Customers, Shards, Reps, Lookups int
	Reused                           bool // the encoded shards came from -shards-data
	GenTime, UploadTime              time.Duration
	DataBytes                        int64 // columns.bin + detail.bin of every shard
	ColdFirst                        time.Duration
	ColdLoads                        []shardLoad // the first run's loads
	Results                          []latency
	Matches                          []int // the first filter's and the cube's independent counts
	Lookup                           latency
	Reload                           time.Duration // the first request after the second run
	ReloadLoads                      []shardLoad
	LoadsAfter                       int // loads logged after the reload's requests, beyond the two runs'
	ColdRSSMiB, RSSMiB, PeakMiB      []float64
	ColdPeakMiB, CasesPeakMiB        []float64 // VmHWM after the cold start, and before the second run
	Rows                             []int
	ColumnsBytes                     []int64
	LoadAvgStart, LoadAvgEnd         string
	Date                             time.Time
	Commit                           string
}

// shardInfo is what -shards-data keeps beside the encoded shards: what the
// checks and the look-ups need without decoding them again.
type shardInfo struct {
	Customers, Shards int
	Rows              []int
	Matches           []int
	IDs               []string
	Meta              json.RawMessage // the whole run's
	GenSeconds        float64
}

// shardsData generates and encodes the shards one at a time, giving each
// to put, and keeps them under dir (k/columns.bin, k/detail.bin and
// info.json) when dir is set; when dir already holds shards of this size,
// it gives those to put instead of generating.
func (b *bench) shardsData(dir string, rep *shardsReport, put func(k int, cols, det []byte) error) (*shardInfo, error) {
	o := b.opts
	var info shardInfo
	if dir == "" {
		// nothing kept
	} else if raw, err := os.ReadFile(filepath.Join(dir, "info.json")); err == nil {
		if err := json.Unmarshal(raw, &info); err != nil {
			return nil, fmt.Errorf("shards: %s: %w", dir, err)
		}
		if info.Customers == o.shardCustomers && info.Shards == o.shards {
			log.Printf("shards: reusing the %d encoded shards in %s", o.shards, dir)
			rep.Reused, rep.GenTime = true, time.Duration(info.GenSeconds*float64(time.Second))
			for k := range o.shards {
				sd := filepath.Join(dir, strconv.Itoa(k))
				cols, err := os.ReadFile(filepath.Join(sd, "columns.bin"))
				if err != nil {
					return nil, err
				}
				det, err := os.ReadFile(filepath.Join(sd, "detail.bin"))
				if err != nil {
					return nil, err
				}
				if err := put(k, cols, det); err != nil {
					return nil, err
				}
				cols, det = nil, nil
				runtime.GC()
				debug.FreeOSMemory()
			}
			return &info, nil
		}
	}
	if dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
	}
	info = shardInfo{Customers: o.shardCustomers, Shards: o.shards}
	var whole *serving.Meta
	matchFilter, matchCube := 0, 0
	rng := rand.New(rand.NewPCG(3, 4))
	lookups := 2000
	for k := range o.shards {
		t := time.Now()
		meta, cs := genShard(o.shardCustomers, o.shards, k, 20261201)
		for i := range cs {
			c := &cs[i]
			if c.Region == "north" && c.Probability >= 0.2 {
				matchFilter++
			}
			if c.Status == "active" && c.Probability >= 0.3 {
				matchCube++
			}
			if rng.IntN(o.shardCustomers/lookups+1) == 0 {
				info.IDs = append(info.IDs, c.SubscriberID)
			}
		}
		f, err := serving.Encode(meta, cs)
		if err != nil {
			return nil, err
		}
		rep.GenTime += time.Since(t)
		if dir != "" {
			sd := filepath.Join(dir, strconv.Itoa(k))
			if err := os.MkdirAll(sd, 0o755); err != nil {
				return nil, err
			}
			for name, body := range map[string][]byte{"columns.bin": f.Columns, "detail.bin": f.Detail} {
				if err := os.WriteFile(filepath.Join(sd, name), body, 0o644); err != nil {
					return nil, err
				}
			}
		}
		if err := put(k, f.Columns, f.Detail); err != nil {
			return nil, err
		}
		info.Rows = append(info.Rows, len(cs))
		if whole == nil {
			whole = meta
		} else { // the run's segments count every shard's customers
			for i := range whole.Segments {
				whole.Segments[i].Customers += meta.Segments[i].Customers
			}
		}
		log.Printf("shards: shard %d of %d: %s customers", k, o.shards, thousands(int64(len(cs))))
		cs, f = nil, nil
		runtime.GC()
		debug.FreeOSMemory()
	}
	whole.Customers = o.shardCustomers
	for i := range whole.Segments {
		whole.Segments[i].Share = float64(whole.Segments[i].Customers) / float64(o.shardCustomers)
	}
	var err error
	if info.Meta, err = json.Marshal(whole); err != nil {
		return nil, err
	}
	info.Matches, info.GenSeconds = []int{matchFilter, matchCube}, rep.GenTime.Seconds()
	if dir == "" {
		return &info, nil
	}
	raw, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	return &info, os.WriteFile(filepath.Join(dir, "info.json"), raw, 0o644)
}

func (b *bench) measureShards(ctx context.Context) (*shardsReport, error) {
	o := b.opts
	rep := &shardsReport{Customers: o.shardCustomers, Shards: o.shards, Reps: o.apiReps, LoadAvgStart: loadAvg()}
	if o.shards < 2 {
		return nil, errors.New("shards: the function layout needs -shards 2 or more")
	}
	dir := filepath.Join(b.work, "shards")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	nums := make([]string, o.shards)
	for k := range nums {
		nums[k] = strconv.Itoa(k)
	}
	params := map[string]string{"CatalogURI": "sqlite://" + filepath.Join(dir, "catalog.db"), "PseudonymKey": "bench-pseudonym-key-0123456789",
		"ServingShards": strings.Join(nums, ","), "ServingCheckEvery": "1s", "ApiKeys": "bench:admin:" + api.HashKey(benchSecret)}
	tpl, err := localstack.LoadTemplateWith(filepath.Join(b.root, "infra", "template.yaml"), params)
	if err != nil {
		return nil, err
	}
	var names []string
	var fns []localstack.FunctionDef
	for _, f := range tpl.Functions {
		if f.Package == "api" {
			names, fns = append(names, f.Name), append(fns, f)
		}
	}
	log.Printf("shards: building the api function")
	bins, err := localstack.Build(ctx, b.root, dir, &localstack.Template{Functions: fns})
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	logs := &loadLog{}
	s3Addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	st, err := localstack.Start(ctx, localstack.Config{Dir: dir, Repo: b.root, S3Addr: s3Addr, HTTPAddr: "127.0.0.1:0", LambdaAddr: "127.0.0.1:0",
		Params: params, Binaries: bins, Log: logs, Functions: names})
	if err != nil {
		return nil, fmt.Errorf("shards: start the local stack: %w", err)
	}
	defer st.Close()

	// The first run, shard by shard into the lake bucket's serving/.
	store, err := storeFor("s3://"+st.Buckets["LakeBucket"]+"/warehouse", st.S3.Endpoint())
	if err != nil {
		return nil, err
	}
	var files []serving.ShardFiles
	const run1, run2 = "bench-shards-1", "bench-shards-2"
	info, err := b.shardsData(o.shardsData, rep, func(k int, cols, det []byte) error {
		t := time.Now()
		f, err := serving.PutShard(ctx, store, run1, o.shards, k, cols, det)
		rep.UploadTime += time.Since(t)
		files = append(files, f)
		rep.ColumnsBytes = append(rep.ColumnsBytes, f.ColumnsBytes)
		rep.DataBytes += f.ColumnsBytes + f.DetailBytes
		return err
	})
	if err != nil {
		return nil, err
	}
	rep.Rows, rep.Matches = info.Rows, info.Matches
	t := time.Now()
	if _, err := serving.PointShards(ctx, store, run1, withRun(info.Meta, run1), files); err != nil {
		return nil, err
	}
	rep.UploadTime += time.Since(t)
	log.Printf("shards: run uploaded to the local S3 in %.1f s (%.0f MiB)", rep.UploadTime.Seconds(), float64(rep.DataBytes)/(1<<20))

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	get := func(path, q, key string) (int, []byte, time.Duration) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, st.HTTPURL+path+"?"+q, nil)
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		t := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, []byte(err.Error()), time.Since(t)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body, time.Since(t)
	}
	// The key is checked before anything loads.
	if code, body, _ := get("/v1/customers", "limit=1", ""); code != http.StatusUnauthorized || logs.count() != 0 {
		return nil, fmt.Errorf("shards: an anonymous request: %d %s, %d loads; want 401 and none", code, tail(string(body), 200), logs.count())
	}
	code, body, d := get("/v1/customers", "limit=1", benchSecret)
	if code != http.StatusOK {
		return nil, fmt.Errorf("shards: first request: %d %s", code, tail(string(body), 300))
	}
	rep.ColdFirst, rep.ColdLoads = d, logs.loads(run1)
	if len(rep.ColdLoads) != o.shards+1 {
		return nil, fmt.Errorf("shards: the first request caused %d loads, want the front's and %d shards'", len(rep.ColdLoads), o.shards)
	}
	rep.ColdRSSMiB = shardRSS(bins["api"], o.shards, "VmRSS")
	rep.ColdPeakMiB = shardRSS(bins["api"], o.shards, "VmHWM")
	log.Printf("shards: cold start through the gateway %.2f s; %d requests per case", d.Seconds(), o.apiReps)

	for ci, c := range shardCases {
		ds := make([]time.Duration, 0, o.apiReps)
		for i := range o.apiReps {
			code, body, d := get(c.Path, c.Query, benchSecret)
			if code != http.StatusOK {
				return nil, fmt.Errorf("GET %s?%s: status %d: %s", c.Path, c.Query, code, tail(string(body), 300))
			}
			if i == 0 && ci != 1 {
				var v struct {
					Count     int `json:"count"`
					Customers int `json:"customers"`
				}
				if err := json.Unmarshal(body, &v); err != nil {
					return nil, err
				}
				got, want := max(v.Count, v.Customers), rep.Matches[ci/2] // case 0: the filter, case 2: the cube
				if got != want {
					return nil, fmt.Errorf("COUNT MISMATCH: GET %s?%s: %d, independent count %d", c.Path, c.Query, got, want)
				}
			}
			ds = append(ds, d)
		}
		rep.Results = append(rep.Results, summarizeLatency(ds))
		log.Printf("shards: %s: p50 %s", c.Name, ms(rep.Results[ci].P50))
	}
	ds := make([]time.Duration, 0, len(info.IDs))
	for _, id := range info.IDs {
		code, body, d := get("/v1/customers/"+id, "", benchSecret)
		if code != http.StatusOK {
			return nil, fmt.Errorf("GET /v1/customers/%s: %d: %s", id, code, tail(string(body), 200))
		}
		ds = append(ds, d)
	}
	rep.Lookup, rep.Lookups = summarizeLatency(ds), len(info.IDs)

	rep.CasesPeakMiB = shardRSS(bins["api"], o.shards, "VmHWM")
	// A second run over the same shard files: every instance sees it
	// within ServingCheckEvery, drops its snapshot and loads the new one.
	if _, err := serving.PointShards(ctx, store, run2, withRun(info.Meta, run2), files); err != nil {
		return nil, err
	}
	time.Sleep(1100 * time.Millisecond) // past ServingCheckEvery: the next request looks at latest.json
	code, body, d = get(shardCases[0].Path, shardCases[0].Query, benchSecret)
	if code != http.StatusOK || !strings.Contains(string(body), `"run":"`+run2+`"`) {
		return nil, fmt.Errorf("shards: after the second run: %d %s", code, tail(string(body), 300))
	}
	rep.Reload, rep.ReloadLoads = d, logs.loads(run2)
	before := logs.count()
	for range 20 {
		if code, body, _ := get(shardCases[2].Path, shardCases[2].Query, benchSecret); code != http.StatusOK {
			return nil, fmt.Errorf("shards: after the reload: %d %s", code, tail(string(body), 300))
		}
	}
	time.Sleep(1100 * time.Millisecond)
	for range 5 {
		get(shardCases[2].Path, shardCases[2].Query, benchSecret)
	}
	rep.LoadsAfter = logs.count() - before
	rep.RSSMiB = shardRSS(bins["api"], o.shards, "VmRSS")
	rep.PeakMiB = shardRSS(bins["api"], o.shards, "VmHWM")
	rep.LoadAvgEnd = loadAvg()
	rep.Date, rep.Commit = time.Now().UTC(), gitCommit(ctx, b.root)
	return rep, nil
}

// withRun is the run's encoded meta with its run id set to run.
func withRun(meta json.RawMessage, run string) []byte {
	var m serving.Meta
	if err := json.Unmarshal(meta, &m); err != nil {
		panic(err) // written by shardsData
	}
	m.Run = run
	b, _ := json.Marshal(&m)
	return b
}

// loadLog is the stack's log, kept only for its snapshot-load lines.
type loadLog struct {
	mu    sync.Mutex
	part  []byte
	lines []shardLoad
}

var loadRE = regexp.MustCompile(`"message":"api: snapshot loaded","run":"([^"]*)","customers":\d+,"seconds":([0-9.e+-]+)(?:,"front":true|,"shard":(\d+))?`)

func (l *loadLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := slices.Index(l.part, '\n')
		if i < 0 {
			break
		}
		if m := loadRE.FindSubmatch(l.part[:i]); m != nil {
			sec, _ := strconv.ParseFloat(string(m[2]), 64)
			k := -1
			if len(m[3]) > 0 {
				k, _ = strconv.Atoi(string(m[3]))
			}
			l.lines = append(l.lines, shardLoad{Shard: k, Run: string(m[1]), Seconds: sec})
		}
		l.part = l.part[i+1:]
	}
	return len(p), nil
}

func (l *loadLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// loads are the loads of run, the front first, then by shard.
func (l *loadLog) loads(run string) []shardLoad {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []shardLoad
	for _, x := range l.lines {
		if x.Run == run {
			out = append(out, x)
		}
	}
	slices.SortFunc(out, func(a, b shardLoad) int { return a.Shard - b.Shard })
	return out
}

// shardRSS is field (VmRSS, VmHWM) in MiB of each shard function's
// process: the processes running bin whose environment names their shard.
func shardRSS(bin string, n int, field string) []float64 {
	out := make([]float64, n)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err != nil || exe != bin {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(string(env), "\x00", "\n")))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), serving.EnvShard+"="); ok {
				if k, err := strconv.Atoi(v); err == nil && k >= 0 && k < n {
					rss, _ := procField(fmt.Sprintf("/proc/%d/status", pid), field)
					out[k] = max(out[k], kibField(rss))
				}
			}
		}
	}
	return out
}

// kibField is a /proc status value such as "123456 kB" in MiB.
func kibField(v string) float64 {
	n, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
	return n / 1024
}

const (
	shardsBegin = "<!-- bench:shards:begin -->"
	shardsEnd   = "<!-- bench:shards:end -->"
)

func shardsSection(r *shardsReport, m machine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n## Sharded serving: %s customers across %d api shard functions\n\n", shardsBegin, thousands(int64(r.Customers)), r.Shards)
	gen := fmt.Sprintf("generated shard by shard directly with the serving writer (%.1f s generating and encoding)", r.GenTime.Seconds())
	if r.Reused {
		gen = fmt.Sprintf("reused from an earlier run's encoded shards (`-shards-data`; generating them took %.1f s then)", r.GenTime.Seconds())
	}
	fmt.Fprintf(&b, "Measured %s at commit `%s` on %d CPUs (%s), %.1f GiB, load average %s at the start and %s at the end, by "+
		"`make bench BENCH_FLAGS='-parts=shards -shards %d -shard-customers %d'`. The customers (the api part's generator, each seeded "+
		"by its id) were %s: producing %s scored customers through ingest, features and scoring does not fit this machine in a bench run. "+
		"The run (%.0f MiB of columns.bin and detail.bin) was uploaded shard by shard to the local stack's S3 in %.1f s "+
		"(`serving.PutShard`, `PointShards`), and served by the template's layout with `ServingShards` 0..%d: the api function as the "+
		"front behind the local HTTP gateway, invoking the %d api shard functions through the local Lambda invoke; every function is "+
		"the real api binary under `lambda.Start`, its own process, and each shard function reads only its shard's files from S3. "+
		"Every figure is timed at the client of the gateway: the API Gateway event, the front's key check, the fan-out of invocations "+
		"(the shard protocol as JSON payloads), the merge and the JSON. %d requests per case, %s look-ups of random ids (each invoking "+
		"its id's shard alone). Checks: the merged counts equal the counts computed independently over the generated rows (the run "+
		"fails otherwise); that sharded answers equal unsharded ones is `TestShardedEqualsUnsharded` (api) and, from a real score run "+
		"through the same layout, `TestStackShardedScoreEndToEnd` (localstack).\n\n",
		r.Date.Format("2006-01-02 15:04 UTC"), r.Commit, m.CPUs, m.CPUModel, float64(m.MemKiB)/(1<<20), r.LoadAvgStart, r.LoadAvgEnd,
		r.Shards, r.Customers, gen, thousands(int64(r.Customers)), float64(r.DataBytes)/(1<<20), r.UploadTime.Seconds(),
		r.Shards-1, r.Shards, r.Reps, thousands(int64(r.Lookups)))
	b.WriteString("| request through the gateway | p50 | p99 |\n|---|---:|---:|\n")
	fmt.Fprintf(&b, "| cold start: the first admitted request (every function starting, each shard loading from S3) | %s | |\n", ms(r.ColdFirst))
	for i, c := range shardCases {
		fmt.Fprintf(&b, "| %s: `GET %s?%s` | %s | %s |\n", c.Name, c.Path, c.Query, ms(r.Results[i].P50), ms(r.Results[i].P99))
	}
	fmt.Fprintf(&b, "| look-up `GET /v1/customers/{id}` | %s | %s |\n", ms(r.Lookup.P50), ms(r.Lookup.P99))
	fmt.Fprintf(&b, "| the first request after a new run (every instance reloading) | %s | |\n", ms(r.Reload))
	front := func(ls []shardLoad) string {
		for _, x := range ls {
			if x.Shard < 0 {
				return fmt.Sprintf("%.3f s", x.Seconds)
			}
		}
		return "—"
	}
	secs := func(ls []shardLoad, k int) string {
		for _, x := range ls {
			if x.Shard == k {
				return fmt.Sprintf("%.3f s", x.Seconds)
			}
		}
		return "—"
	}
	fmt.Fprintf(&b, "\nThe front's load (the run's meta.json only): %s cold, %s on the new run. The snapshot load of each shard "+
		"function (`api: snapshot loaded`, its own log: the pointer, meta.json, columns.bin in parallel ranges, validation; the "+
		"process start and the first invocation come before it):\n\n", front(r.ColdLoads), front(r.ReloadLoads))
	b.WriteString("| shard | customers | columns.bin | cold load from S3 | reload (new run) | RSS after the cold start (peak so far) | peak before the second run | RSS at the end | peak RSS |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for k := range r.Rows {
		fmt.Fprintf(&b, "| %d | %s | %.0f MiB | %s | %s | %.0f MiB (%.0f MiB) | %.0f MiB | %.0f MiB | %.0f MiB |\n", k, thousands(int64(r.Rows[k])),
			float64(r.ColumnsBytes[k])/(1<<20), secs(r.ColdLoads, k), secs(r.ReloadLoads, k), r.ColdRSSMiB[k], r.ColdPeakMiB[k],
			r.CasesPeakMiB[k], r.RSSMiB[k], r.PeakMiB[k])
	}
	fmt.Fprintf(&b, "\nAfter the reload, 25 more requests (one more look at latest.json past `ServingCheckEvery`) loaded %d more "+
		"snapshots: an instance that has the newest run does not read it again. The peak RSS is over the whole run, both "+
		"snapshots' loads included: a reload drops the old snapshot before reading the new one. The machine is shared (see the load "+
		"average): %d function processes and the gateway compete for its %d CPUs with the other work, so a fan-out's latency is that "+
		"of the slowest of its busy processes; on Lambda each shard has its own CPU.\n", r.LoadsAfter, r.Shards+1, m.CPUs)
	b.WriteString(shardsEnd + "\n")
	return b.String()
}
