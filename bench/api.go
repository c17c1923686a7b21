package main

// The api part: the serving API over a generated snapshot of scored
// customers. Its cold start is measured in fresh child processes (api_cold.go)
// loading from local files and from S3 on the embedded local stack; its
// latencies in this process (the API is a library: api.New over
// serving.Load) and over HTTP; DuckDB runs in this process too, through
// duckdb-go, on a Parquet file of the same rows.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lambdahttp"
	"github.com/telcolake/telcolake/models/serving"
)

// Targets of the api part, in-process over the snapshot.
const (
	targetLookupP50     = time.Millisecond
	targetFilterP50     = 5 * time.Millisecond
	targetCold          = time.Second
	targetRSSMB         = 300
	targetColdLookupP50 = 20 * time.Millisecond
)

// apiFilter is one filtered query in its three forms: the API's query
// string, an independent Go predicate, and the SQL DuckDB runs.
type apiFilter struct {
	Query   string                         // GET /v1/customers?<Query>&limit=50
	match   func(c *serving.Customer) bool // the same conditions, for the count check
	Where   string                         // SQL condition ("" for none)
	OrderBy string                         // SQL sort column, descending
}

var apiFilters = []apiFilter{
	{Query: "region=north&churn_min=0.2", Where: "region = 'north' AND churn_probability >= 0.2", OrderBy: "churn_probability",
		match: func(c *serving.Customer) bool { return c.Region == "north" && c.Probability >= 0.2 }},
	{Query: "segment=2,3&value_min=30&sort=-value_at_risk", Where: "segment_id IN (2, 3) AND monthly_value >= 30", OrderBy: "value_at_risk",
		match: func(c *serving.Customer) bool { return (c.SegmentID == 2 || c.SegmentID == 3) && c.MonthlyValue >= 30 }},
	{Query: "plan=flex-20&tenure_max=6&status=active", Where: "plan = 'flex-20' AND tenure_months <= 6 AND status = 'active'", OrderBy: "churn_probability",
		match: func(c *serving.Customer) bool {
			return c.Plan == "flex-20" && c.TenureMonths <= 6 && c.Status == "active"
		}},
	{Query: "arrears_min=1&months_in_arrears_min=2", Where: "arrears >= 1 AND months_in_arrears >= 2", OrderBy: "churn_probability",
		match: func(c *serving.Customer) bool { return c.Arrears >= 1 && c.MonthsInArrears >= 2 }},
	{Query: "roaming_min=5&lifecycle=loyal", Where: "roaming_calls >= 5 AND lifecycle = 'loyal'", OrderBy: "churn_probability",
		match: func(c *serving.Customer) bool { return c.RoamingCalls >= 5 && c.Lifecycle == "loyal" }},
	{Query: "age_band=18-24&data_min=8000", Where: "age_band = '18-24' AND data_mb >= 8000", OrderBy: "churn_probability",
		match: func(c *serving.Customer) bool { return c.AgeBand == "18-24" && c.DataMB >= 8000 }},
	{Query: "churn_min=0.5", Where: "churn_probability >= 0.5", OrderBy: "churn_probability",
		match: func(c *serving.Customer) bool { return c.Probability >= 0.5 }},
	{Query: "sort=-clv", Where: "", OrderBy: "clv",
		match: func(c *serving.Customer) bool { return true }},
	// Six conditions with OR lists and a negation (search on every attribute).
	{Query: "region=north,south,central&not.plan=flex-20&occupation=clerk,teacher,retired&income_band=C,D&churn_min=0.02&tenure_max=36",
		Where: "region IN ('north', 'south', 'central') AND plan <> 'flex-20' AND occupation IN ('clerk', 'teacher', 'retired') " +
			"AND income_band IN ('C', 'D') AND churn_probability >= 0.02 AND tenure_months <= 36", OrderBy: "churn_probability",
		match: func(c *serving.Customer) bool {
			return (c.Region == "north" || c.Region == "south" || c.Region == "central") && c.Plan != "flex-20" &&
				(c.Occupation == "clerk" || c.Occupation == "teacher" || c.Occupation == "retired") &&
				(c.IncomeBand == "C" || c.IncomeBand == "D") && c.Probability >= 0.02 && c.TenureMonths <= 36
		}},
}

// latency summarises timed requests.
type latency struct {
	N        int
	P50, P99 time.Duration
}

func summarizeLatency(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return latency{N: len(s), P50: q(0.50), P99: q(0.99)}
}

// apiSide is the latencies of one way of answering (telcolake in-process,
// over HTTP, DuckDB on the file or in memory).
type apiSide struct {
	Lookup     latency
	Filters    []latency // per apiFilters entry
	AllFilters latency   // every filter request together
}

// apiReport is the api part's measurements.
type apiReport struct {
	Customers      int
	Matches        []int                 // per filter: the independent count (= API = DuckDB)
	ParquetBytes   int64                 // the Parquet file DuckDB reads
	ColumnsBytes   int64                 // columns.bin
	Layout         []serving.ColumnBytes // columns.bin's sections (Snapshot.Layout)
	DetailBytes    int64                 // detail.bin
	ColdFile       *coldResult           // a fresh process loading from local files
	ColdS3         *coldResult           // … from S3 on the embedded local stack
	S3WriteTime    time.Duration
	ReadTime       time.Duration // serving.Load, in this process
	NewTime        time.Duration // api.New
	HeapBeforeMiB  float64
	HeapAfterMiB   float64 // HeapInuse after GC with the server loaded
	RSSBeforeMiB   float64
	RSSAfterMiB    float64
	GenTime        time.Duration
	WriteTime      time.Duration
	DuckLoadTime   time.Duration // CREATE TABLE AS of the file
	InProcess      apiSide
	HTTP           apiSide
	DuckParquet    apiSide
	DuckMemory     apiSide
	Lookups        int
	Reps           int
	DuckLookups    int
	DuckReps       int
	DuckDBVersion  string
	DuckDBThreads  int
	HTTPServedWith string
}

const benchSecret = "bench-admin-secret-0123456789"

// measureAPI is the api part.
func (b *bench) measureAPI(ctx context.Context) (*apiReport, error) {
	o := b.opts
	rep := &apiReport{Customers: o.apiCustomers, Lookups: o.apiLookups, Reps: o.apiReps, DuckLookups: o.apiDuckLookups, DuckReps: o.apiDuckReps}
	dir := filepath.Join(b.work, "api")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	warehouse := "file://" + filepath.Join(dir, "files", "warehouse")
	st, err := storeFor(warehouse, "")
	if err != nil {
		return nil, err
	}

	// Generate, count independently, write; then drop the rows so the cold
	// start starts from a clean heap.
	log.Printf("api: generating %s scored customers", thousands(int64(o.apiCustomers)))
	t := time.Now()
	meta, customers := genCustomers(o.apiCustomers, 20260901)
	rep.GenTime = time.Since(t)
	rep.Matches = make([]int, len(apiFilters))
	for i := range customers {
		for j, f := range apiFilters {
			if f.match(&customers[i]) {
				rep.Matches[j]++
			}
		}
	}
	t = time.Now()
	ptr, err := serving.Write(ctx, st, meta, customers)
	if err != nil {
		return nil, err
	}
	rep.WriteTime = time.Since(t)
	rep.ColumnsBytes, rep.DetailBytes = ptr.ColumnsBytes, ptr.DetailBytes
	log.Printf("api: wrote columns.bin %.1f MB, detail.bin %.1f MB in %s", float64(ptr.ColumnsBytes)/1e6, float64(ptr.DetailBytes)/1e6,
		rep.WriteTime.Round(time.Millisecond))
	parquetPath := filepath.Join(dir, "customers.parquet")
	if rep.ParquetBytes, err = writeParquet(parquetPath, customers); err != nil {
		return nil, err
	}

	// The same snapshot in S3 on the embedded local stack (versitygw).
	s3srv, err := startBenchS3(ctx, filepath.Join(dir, "s3"))
	if err != nil {
		return nil, err
	}
	closeS3 := sync.OnceValue(s3srv.Close) // S3Server.Close waits for the exit once only
	defer closeS3()
	s3Store, err := storeFor("s3://lake/warehouse", s3srv.Endpoint())
	if err != nil {
		return nil, err
	}
	t = time.Now()
	if _, err := serving.Write(ctx, s3Store, meta, customers); err != nil {
		return nil, fmt.Errorf("write snapshot to the local S3: %w", err)
	}
	rep.S3WriteTime = time.Since(t)
	customers, meta = nil, nil
	runtime.GC()
	debug.FreeOSMemory()

	// Cold starts in fresh processes.
	const coldLookups = 1000
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	cold := filepath.Join(dir, "apicold")
	if err := goBuild(ctx, filepath.Join(root, "bench"), cold, "./apicold"); err != nil {
		return nil, err
	}
	log.Printf("api: cold start from local files (%d fresh processes)", coldRuns)
	if rep.ColdFile, err = medianCold(ctx, cold, warehouse, "", o.apiCustomers, coldLookups); err != nil {
		return nil, err
	}
	log.Printf("api: cold start from S3 on the local stack (%d fresh processes)", coldRuns)
	if rep.ColdS3, err = medianCold(ctx, cold, "s3://lake/warehouse", s3srv.Endpoint(), o.apiCustomers, coldLookups); err != nil {
		return nil, err
	}
	closeS3()
	for _, c := range []*coldResult{rep.ColdFile, rep.ColdS3} {
		log.Printf("api: cold start %s (load %s, New %s; CPU %s, every run %s, wall %s, load average %s), RSS %.0f MiB (peak %.0f), first look-up p50 %s, again %s",
			(c.Load + c.New).Round(time.Millisecond), c.Load.Round(time.Millisecond), c.New.Round(time.Millisecond),
			c.CPU.Round(time.Millisecond), durations(c.AllCPU), durations(c.All), c.Load1,
			c.RSSMiB, c.PeakRSSMiB, ms(c.First.P50), ms(c.Again.P50))
	}

	// This process, for the latencies: load from the local files.
	rep.HeapBeforeMiB, rep.RSSBeforeMiB = memNow()
	t = time.Now()
	snap, err := serving.Load(ctx, st, func(err error) bool { return errors.Is(err, lake.ErrNotFound) }, serving.Options{})
	if err != nil {
		return nil, err
	}
	rep.ReadTime = time.Since(t)
	rep.Layout = snap.Layout()
	for _, l := range rep.Layout {
		log.Printf("api: columns.bin %-24s %-8s %12d bytes, %6.2f per customer", l.Name, l.Kind, l.Bytes, float64(l.Bytes)/float64(max(1, snap.Len())))
	}
	t = time.Now()
	srv, err := api.New(snap, nil, api.Config{Keys: []api.Key{{Name: "bench", Role: api.RoleAdmin, Hash: api.HashKey(benchSecret)}}})
	if err != nil {
		return nil, err
	}
	rep.NewTime = time.Since(t)
	runtime.GC()
	rep.HeapAfterMiB, rep.RSSAfterMiB = memNow()

	// In-process through the api function's adapter (lambdahttp.Handler).
	fn := lambdahttp.Handler(srv)
	inproc := func(path, rawQuery string) (int, []byte, error) {
		resp, _ := fn(ctx, apiEvent(path, rawQuery, map[string]string{"x-api-key": benchSecret}))
		return resp.StatusCode, []byte(resp.Body), nil
	}
	log.Printf("api: in-process requests")
	if rep.InProcess, err = runAPISide(o.apiCustomers, o.apiLookups, o.apiReps, rep.Matches, inproc); err != nil {
		return nil, fmt.Errorf("in-process: %w", err)
	}
	runtime.KeepAlive(srv)

	// Over HTTP on 127.0.0.1.
	log.Printf("api: HTTP requests")
	rep.HTTPServedWith = "a plain net/http server in the bench (the local gateway of localstack/gateway.go is unexported and " +
		"invokes functions as processes), turning each request into an API Gateway v2 event with lambdahttp.Event as that gateway does, " +
		"then calling lambdahttp.Handler(Server); client: net/http with keep-alive, one connection, requests in sequence"
	hs, base, err := serveHTTP(srv)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
	overHTTP := func(path, rawQuery string) (int, []byte, error) {
		u := base + path
		if rawQuery != "" {
			u += "?" + rawQuery
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("X-API-Key", benchSecret)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, body, err
	}
	rep.HTTP, err = runAPISide(o.apiCustomers, o.apiLookups, o.apiReps, rep.Matches, overHTTP)
	hs.Close()
	if err != nil {
		return nil, fmt.Errorf("HTTP: %w", err)
	}

	// DuckDB on the file and in memory.
	if err := b.measureAPIDuck(ctx, rep, parquetPath); err != nil {
		return nil, err
	}
	return rep, nil
}

// memNow returns HeapInuse and the process RSS in MiB.
func memNow() (heap, rss float64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap = float64(ms.HeapInuse) / (1 << 20)
	if v, err := procField("/proc/self/status", "VmRSS"); err == nil {
		if kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64); err == nil {
			rss = kibToMiB(kib)
		}
	}
	return heap, rss
}

// apiEvent is the API Gateway v2 event of GET path?rawQuery, built as the
// local gateway builds it (lambdahttp.Event).
func apiEvent(path, rawQuery string, hdr map[string]string) events.APIGatewayV2HTTPRequest {
	u := path
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	r, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		panic(err) // the bench's own paths
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	r.RemoteAddr = "127.0.0.1:0"
	ev, err := lambdahttp.Event(r, "ANY /{proxy+}", nil, 6<<20)
	if err != nil {
		panic(err)
	}
	return ev
}

// serveHTTP serves srv on 127.0.0.1 the way localstack's gateway does:
// request → API Gateway v2 event → the api function's adapter → response,
// with lambdahttp's two conversions.
func serveHTTP(srv *api.Server) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	fn := lambdahttp.Handler(srv)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := lambdahttp.Event(r, "ANY /{proxy+}", nil, 6<<20)
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		resp, _ := fn(r.Context(), ev)
		lambdahttp.Write(w, resp)
	})
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	return hs, "http://" + ln.Addr().String(), nil
}

// runAPISide times look-ups of random ids and the filters through call,
// checking every answer's status and each filter's count.
func runAPISide(n, lookups, reps int, want []int, call func(path, rawQuery string) (int, []byte, error)) (apiSide, error) {
	var side apiSide
	rng := rand.New(rand.NewPCG(1, 2))
	ds := make([]time.Duration, 0, lookups)
	for range lookups {
		id := subscriberID(1 + rng.IntN(n))
		t := time.Now()
		code, body, err := call("/v1/customers/"+id, "")
		d := time.Since(t)
		if err != nil {
			return side, err
		}
		if code != http.StatusOK {
			return side, fmt.Errorf("GET /v1/customers/%s: status %d: %s", id, code, tail(string(body), 300))
		}
		ds = append(ds, d)
	}
	side.Lookup = summarizeLatency(ds)
	var all []time.Duration
	for j, f := range apiFilters {
		q := f.Query + "&limit=50"
		ds := make([]time.Duration, 0, reps)
		for r := range reps {
			t := time.Now()
			code, body, err := call("/v1/customers", q)
			d := time.Since(t)
			if err != nil {
				return side, err
			}
			if code != http.StatusOK {
				return side, fmt.Errorf("GET /v1/customers?%s: status %d: %s", q, code, tail(string(body), 300))
			}
			if r == 0 {
				var pg struct {
					Count int               `json:"count"`
					Items []json.RawMessage `json:"items"`
				}
				if err := json.Unmarshal(body, &pg); err != nil {
					return side, fmt.Errorf("GET /v1/customers?%s: %w", q, err)
				}
				if pg.Count != want[j] || len(pg.Items) != min(50, want[j]) {
					return side, fmt.Errorf("COUNT MISMATCH: GET /v1/customers?%s: count %d, %d items; independent count %d",
						q, pg.Count, len(pg.Items), want[j])
				}
			}
			ds = append(ds, d)
		}
		side.Filters = append(side.Filters, summarizeLatency(ds))
		all = append(all, ds...)
	}
	side.AllFilters = summarizeLatency(all)
	return side, nil
}

// measureAPIDuck times DuckDB on the Parquet file and on a table loaded
// from it.
func (b *bench) measureAPIDuck(ctx context.Context, rep *apiReport, parquetPath string) error {
	db, err := openDuckDB()
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := db.QueryRowContext(ctx, "SELECT version(), current_setting('threads')::INTEGER").Scan(&rep.DuckDBVersion, &rep.DuckDBThreads); err != nil {
		return err
	}
	file := "read_parquet(" + sqlString(parquetPath) + ")"
	log.Printf("api: DuckDB on the Parquet file")
	if rep.DuckParquet, err = duckSide(ctx, db, file, rep); err != nil {
		return fmt.Errorf("duckdb parquet: %w", err)
	}
	t := time.Now()
	if _, err := db.ExecContext(ctx, "CREATE TABLE customers AS SELECT * FROM "+file); err != nil {
		return fmt.Errorf("duckdb load: %w", err)
	}
	rep.DuckLoadTime = time.Since(t)
	log.Printf("api: DuckDB in memory (loaded in %s)", rep.DuckLoadTime.Round(time.Millisecond))
	if rep.DuckMemory, err = duckSide(ctx, db, "customers", rep); err != nil {
		return fmt.Errorf("duckdb memory: %w", err)
	}
	return nil
}

func duckSide(ctx context.Context, db *sql.DB, from string, rep *apiReport) (apiSide, error) {
	var side apiSide
	look, err := db.PrepareContext(ctx, "SELECT * FROM "+from+" WHERE subscriber_id = ?")
	if err != nil {
		return side, err
	}
	defer look.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	ds := make([]time.Duration, 0, rep.DuckLookups)
	for range rep.DuckLookups {
		id := subscriberID(1 + rng.IntN(rep.Customers))
		t := time.Now()
		rows, err := look.QueryContext(ctx, id)
		if err != nil {
			return side, err
		}
		n, err := drain(rows)
		d := time.Since(t)
		if err != nil {
			return side, err
		}
		if n != 1 {
			return side, fmt.Errorf("look-up %s: %d rows", id, n)
		}
		ds = append(ds, d)
	}
	side.Lookup = summarizeLatency(ds)
	var all []time.Duration
	for j, f := range apiFilters {
		where := ""
		if f.Where != "" {
			where = " WHERE " + f.Where
		}
		countQ := "SELECT count(*) FROM " + from + where
		pageQ := "SELECT * EXCLUDE (history) FROM " + from + where + " ORDER BY " + f.OrderBy + " DESC, subscriber_id LIMIT 50"
		ds := make([]time.Duration, 0, rep.DuckReps)
		for range rep.DuckReps {
			t := time.Now()
			var cnt int
			if err := db.QueryRowContext(ctx, countQ).Scan(&cnt); err != nil {
				return side, err
			}
			rows, err := db.QueryContext(ctx, pageQ)
			if err != nil {
				return side, err
			}
			n, err := drain(rows)
			d := time.Since(t)
			if err != nil {
				return side, err
			}
			if cnt != rep.Matches[j] || n != min(50, cnt) {
				return side, fmt.Errorf("COUNT MISMATCH: DuckDB %s: count %d, %d rows; independent count %d", f.Where, cnt, n, rep.Matches[j])
			}
			ds = append(ds, d)
		}
		side.Filters = append(side.Filters, summarizeLatency(ds))
		all = append(all, ds...)
	}
	side.AllFilters = summarizeLatency(all)
	return side, nil
}

// drain scans every row into Go values and returns the row count.
func drain(rows *sql.Rows) (int, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}
