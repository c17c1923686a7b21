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
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/serving"
)

// partShards measures sharded serving (issue 17, point 2): -shard-customers
// generated customers split by subscriber hash into -shards shards, each
// generated directly with the serving writer (genShard: the pipeline does
// not produce 10M scored customers on this machine in a bench's time) and
// written as its own snapshot; one api instance per shard in its own
// process (this binary in serveShardMode: serving.Load from local files,
// api.New, HTTP on a local port), and a front (api.NewFront with
// api.RemoteShard per instance) in this process fanning every request out
// over HTTP and merging. Timed through the front's handler: count + first
// page, the six-condition search, a cube, look-ups; the memory of every
// shard process.
const partShards = "shards"

// serveShardMode runs one shard's api instance (a child of the bench).
const serveShardMode = "-serve-shard"

// shardCase is one timed request of the shards part.
type shardCase struct {
	Name, Path, Query string
}

var shardCases = []shardCase{
	{"count + first page, 2 conditions", "/v1/customers", "region=north&churn_min=0.2&limit=50"},
	{"count + first page, 6 conditions", "/v1/customers", apiFilters[len(apiFilters)-1].Query + "&limit=50"},
	{"cube, 3 dims and a filter", "/v1/cube", "dims=region,plan,segment&measures=" + cubeMeasures + "&" + cubeFilterQuery},
}

// shardProc is one shard's process.
type shardProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
	rows  int
}

// shardsReport is the shards part's measurements.
type shardsReport struct {
	Customers, Shards, Reps, Lookups int
	GenTime, WriteTime               time.Duration
	Results                          []latency
	Matches                          []int // the first filter's and the cube's independent counts
	Lookup                           latency
	RSSMiB, PeakMiB                  []float64
	Rows                             []int
	LoadAvgStart, LoadAvgEnd         string
	Date                             time.Time
	Commit                           string
}

func (b *bench) measureShards(ctx context.Context) (*shardsReport, error) {
	o := b.opts
	rep := &shardsReport{Customers: o.shardCustomers, Shards: o.shards, Reps: o.apiReps, Lookups: 2000, LoadAvgStart: loadAvg()}
	dir := filepath.Join(b.work, "shards")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	var meta0 *serving.Meta
	matchFilter, matchCube := 0, 0
	var ids []string
	rng := rand.New(rand.NewPCG(3, 4))
	for k := range o.shards {
		t := time.Now()
		meta, cs := genShard(o.shardCustomers, o.shards, k, 20261201)
		rep.GenTime += time.Since(t)
		for i := range cs {
			c := &cs[i]
			if c.Region == "north" && c.Probability >= 0.2 {
				matchFilter++
			}
			if c.Status == "active" && c.Probability >= 0.3 {
				matchCube++
			}
			if rng.IntN(o.shardCustomers/rep.Lookups+1) == 0 {
				ids = append(ids, c.SubscriberID)
			}
		}
		st, err := storeFor("file://"+filepath.Join(dir, strconv.Itoa(k), "warehouse"), "")
		if err != nil {
			return nil, err
		}
		t = time.Now()
		if _, err := serving.Write(ctx, st, meta, cs); err != nil {
			return nil, err
		}
		rep.WriteTime += time.Since(t)
		rep.Rows = append(rep.Rows, len(cs))
		if k == 0 {
			meta0 = meta
		}
		log.Printf("shards: shard %d of %d: %s customers", k, o.shards, thousands(int64(len(cs))))
		cs = nil
		runtime.GC()
		debug.FreeOSMemory()
	}
	rep.Matches = []int{matchFilter, matchCube}

	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var procs []*shardProc
	defer func() {
		for _, p := range procs {
			p.stdin.Close()
			p.cmd.Wait()
		}
	}()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var shards []api.Shard
	for k := range o.shards {
		cmd := exec.CommandContext(ctx, self, serveShardMode, "file://"+filepath.Join(dir, strconv.Itoa(k), "warehouse"))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		p := &shardProc{cmd: cmd, stdin: stdin}
		procs = append(procs, p)
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("shard %d: no address: %w", k, err)
		}
		p.addr = strings.TrimSpace(line)
		sh, err := api.RemoteShard("http://"+p.addr, client)
		if err != nil {
			return nil, err
		}
		shards = append(shards, sh)
	}
	front, err := api.NewFront(meta0, shards, nil, api.Config{Keys: []api.Key{{Name: "bench", Role: api.RoleAdmin, Hash: api.HashKey(benchSecret)}}})
	if err != nil {
		return nil, err
	}
	get := func(path, q string) (int, []byte) {
		r := httptest.NewRequestWithContext(ctx, http.MethodGet, path+"?"+q, nil)
		r.Header.Set("X-API-Key", benchSecret)
		w := httptest.NewRecorder()
		front.ServeHTTP(w, r)
		return w.Code, w.Body.Bytes()
	}
	log.Printf("shards: %d instances up; %d requests per case through the front", o.shards, o.apiReps)
	for ci, c := range shardCases {
		ds := make([]time.Duration, 0, o.apiReps)
		for i := range o.apiReps {
			t := time.Now()
			code, body := get(c.Path, c.Query)
			d := time.Since(t)
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
	ds := make([]time.Duration, 0, len(ids))
	for _, id := range ids {
		t := time.Now()
		code, body := get("/v1/customers/"+id, "")
		ds = append(ds, time.Since(t))
		if code != http.StatusOK {
			return nil, fmt.Errorf("GET /v1/customers/%s: %d: %s", id, code, tail(string(body), 200))
		}
	}
	rep.Lookup, rep.Lookups = summarizeLatency(ds), len(ids)
	for _, p := range procs {
		status := fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)
		rss, _ := procField(status, "VmRSS")
		hwm, _ := procField(status, "VmHWM")
		rep.RSSMiB = append(rep.RSSMiB, kibField(rss))
		rep.PeakMiB = append(rep.PeakMiB, kibField(hwm))
	}
	rep.LoadAvgEnd = loadAvg()
	rep.Date, rep.Commit = time.Now().UTC(), gitCommit(ctx, b.root)
	return rep, nil
}

// kibField is a /proc status value such as "123456 kB" in MiB.
func kibField(v string) float64 {
	n, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
	return n / 1024
}

// serveShard is a shard's api instance: it loads the snapshot at
// warehouse, serves it on a local port, prints the address and serves
// until its stdin closes.
func serveShard(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: -serve-shard <warehouse URL>")
	}
	st, err := storeFor(args[0], "")
	if err != nil {
		return err
	}
	snap, err := serving.Load(ctx, st, func(err error) bool { return errors.Is(err, lake.ErrNotFound) }, serving.Options{})
	if err != nil {
		return err
	}
	srv, err := api.New(snap, nil, api.Config{Keys: []api.Key{{Name: "bench", Role: api.RoleAdmin, Hash: api.HashKey(benchSecret)}}})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		ln.Close()
	}()
	err = http.Serve(ln, srv)
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

const (
	shardsBegin = "<!-- bench:shards:begin -->"
	shardsEnd   = "<!-- bench:shards:end -->"
)

func shardsSection(r *shardsReport, m machine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n## Sharded serving: %s customers across %d api instances\n\n", shardsBegin, thousands(int64(r.Customers)), r.Shards)
	fmt.Fprintf(&b, "Measured %s at commit `%s` on %d CPUs (%s), %.1f GiB, load average %s at the start and %s at the end, by "+
		"`make bench BENCH_FLAGS='-parts=shards -shards %d -shard-customers %d'`. The customers (the api part's generator, each seeded "+
		"by its id) were generated shard by shard directly with the serving writer (%.1f s generating, %.1f s writing): producing %s "+
		"scored customers through ingest, features and scoring does not fit this machine in a bench run. Each shard is its own "+
		"snapshot in local files and its own process (this binary as an api instance: `serving.Load`, `api.New`, HTTP on a local "+
		"port); the front is `api.NewFront` over `api.RemoteShard`s in the bench process, timed through its handler: the key check, "+
		"the fan-out to every shard in parallel over HTTP (the shard protocol), the merge and the JSON. %d requests per case, "+
		"%s look-ups of random ids (each to its id's shard alone). Checks: the merged counts equal the counts computed independently "+
		"over the generated rows (the run fails otherwise); that sharded answers equal unsharded ones byte for byte is "+
		"`TestShardedEqualsUnsharded` (api), in process and over HTTP.\n\n",
		r.Date.Format("2006-01-02 15:04 UTC"), r.Commit, m.CPUs, m.CPUModel, float64(m.MemKiB)/(1<<20), r.LoadAvgStart, r.LoadAvgEnd,
		r.Shards, r.Customers, r.GenTime.Seconds(), r.WriteTime.Seconds(), thousands(int64(r.Customers)), r.Reps, thousands(int64(r.Lookups)))
	b.WriteString("| request | p50 | p99 |\n|---|---:|---:|\n")
	for i, c := range shardCases {
		fmt.Fprintf(&b, "| %s: `GET %s?%s` | %s | %s |\n", c.Name, c.Path, c.Query, ms(r.Results[i].P50), ms(r.Results[i].P99))
	}
	fmt.Fprintf(&b, "| look-up `GET /v1/customers/{id}` | %s | %s |\n", ms(r.Lookup.P50), ms(r.Lookup.P99))
	b.WriteString("\n| shard | customers | RSS after the runs | peak RSS |\n|---:|---:|---:|---:|\n")
	for k := range r.Rows {
		fmt.Fprintf(&b, "| %d | %s | %.0f MiB | %.0f MiB |\n", k, thousands(int64(r.Rows[k])), r.RSSMiB[k], r.PeakMiB[k])
	}
	fmt.Fprintf(&b, "\nThe machine is shared (see the load average): %d processes (the shards and the front) compete for its %d CPUs "+
		"with the other work, so a fan-out's latency is that of the slowest of its busy processes; on Lambda each shard has its "+
		"own CPU.\n", r.Shards+1, m.CPUs)
	b.WriteString(shardsEnd + "\n")
	return b.String()
}
