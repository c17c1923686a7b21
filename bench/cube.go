package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/bench/proc"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lambdahttp"
	"github.com/telcolake/telcolake/models/serving"
)

// partCube measures GET /v1/cube (insight.Compute through the api
// handler) over -api-customers generated customers with 1, 2 and 3
// dimensions and a filter, in the same run as DuckDB in memory over the
// same rows (a table loaded from their Parquet file) running GROUP BY CUBE
// with the same measures: the acceptance figures of issue 15.
const partCube = "cube"

// Targets of the cube (issue 15).
const (
	cubeTargetP50   = 10 * time.Millisecond // 3 dimensions and a filter
	cubeTargetRatio = 5.0                   // DuckDB p50 / telcolake p50
)

// cubeFilter is the condition of every timed cube, in both forms.
const (
	cubeFilterQuery = "status=active&churn_min=0.3"
	cubeFilterWhere = "status = 'active' AND churn_probability >= 0.3"
	cubeMeasures    = "count,churn_rate,monthly_value_sum,value_at_risk_sum"
	cubeSelect      = "count(*), avg(churn_probability), sum(monthly_value), sum(value_at_risk)"
)

// cubeCase is one timed cube.
type cubeCase struct {
	Dims    []string // API dims
	Columns []string // the same as SQL columns
	Filter  bool
}

var cubeCases = []cubeCase{
	{Dims: []string{"region"}, Columns: []string{"region"}, Filter: true},
	{Dims: []string{"region", "plan"}, Columns: []string{"region", "plan"}, Filter: true},
	{Dims: []string{"region", "plan", "segment"}, Columns: []string{"region", "plan", "segment_id"}, Filter: true},
	{Dims: []string{"region", "plan", "segment"}, Columns: []string{"region", "plan", "segment_id"}},
}

func (c cubeCase) query() string {
	q := "dims=" + strings.Join(c.Dims, ",") + "&measures=" + cubeMeasures
	if c.Filter {
		q += "&" + cubeFilterQuery
	}
	return q
}

func (c cubeCase) sql() string {
	cols := strings.Join(c.Columns, ", ")
	q := "SELECT " + cols + ", GROUPING(" + cols + "), " + cubeSelect + " FROM customers"
	if c.Filter {
		q += " WHERE " + cubeFilterWhere
	}
	return q + " GROUP BY CUBE (" + cols + ")"
}

// cubeResult is one case's figures.
type cubeResult struct {
	Case      cubeCase
	Matches   int // customers the filter selects, counted independently
	Cells     int // cells of the answer (= DuckDB's rows)
	Telcolake latency
	DuckDB    latency
	// Mean CPU time of the whole process per request (user + system,
	// every thread: DuckDB's workers, Go's GC), less sensitive than wall
	// time to other work on a shared machine.
	TelcolakeCPU, DuckDBCPU time.Duration
}

// cpuTime is the process's user + system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cubeReport is the cube part's measurements.
type cubeReport struct {
	Customers     int
	Reps          int
	DuckReps      int
	GenTime       time.Duration
	DuckLoadTime  time.Duration
	DuckDBVersion string
	DuckDBThreads int
	LoadAvgStart  string
	LoadAvgEnd    string
	Results       []cubeResult
	Date          time.Time
	Commit        string
}

// loadAvg is the machine's load average (proc.LoadAvg).
func loadAvg() string { return proc.LoadAvg() }

// measureCube is the cube part.
func (b *bench) measureCube(ctx context.Context) (*cubeReport, error) {
	o := b.opts
	rep := &cubeReport{Customers: o.apiCustomers, Reps: o.apiReps, DuckReps: o.apiDuckReps, LoadAvgStart: loadAvg()}
	dir := filepath.Join(b.work, "cube")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	log.Printf("cube: generating %s scored customers", thousands(int64(o.apiCustomers)))
	t := time.Now()
	meta, customers := genCustomers(o.apiCustomers, 20260901)
	rep.GenTime = time.Since(t)
	for _, c := range cubeCases {
		n := 0
		for i := range customers {
			if !c.Filter || (customers[i].Status == "active" && customers[i].Probability >= 0.3) {
				n++
			}
		}
		rep.Results = append(rep.Results, cubeResult{Case: c, Matches: n})
	}
	st, err := storeFor("file://"+filepath.Join(dir, "warehouse"), "")
	if err != nil {
		return nil, err
	}
	if _, err := serving.Write(ctx, st, meta, customers); err != nil {
		return nil, err
	}
	parquetPath := filepath.Join(dir, "customers.parquet")
	if _, err := writeParquet(parquetPath, customers); err != nil {
		return nil, err
	}
	customers, meta = nil, nil
	runtime.GC()
	snap, err := serving.Load(ctx, st, func(err error) bool { return errors.Is(err, lake.ErrNotFound) }, serving.Options{})
	if err != nil {
		return nil, err
	}
	srv, err := api.New(snap, nil, api.Config{Keys: []api.Key{{Name: "bench", Role: api.RoleAdmin, Hash: api.HashKey(benchSecret)}}})
	if err != nil {
		return nil, err
	}
	fn := lambdahttp.Handler(srv)
	log.Printf("cube: telcolake in-process, %d requests per case", o.apiReps)
	if o.cubeProfile != "" {
		if err := profileCube(ctx, o.cubeProfile, fn, o.apiReps); err != nil {
			return nil, err
		}
	}
	for i := range rep.Results {
		r := &rep.Results[i]
		q := r.Case.query()
		ds := make([]time.Duration, 0, o.apiReps)
		cpu0 := cpuTime()
		for k := range o.apiReps {
			t := time.Now()
			resp, _ := fn(ctx, apiEvent("/v1/cube", q, map[string]string{"x-api-key": benchSecret}))
			d := time.Since(t)
			if resp.StatusCode != 200 {
				return nil, fmt.Errorf("GET /v1/cube?%s: status %d: %s", q, resp.StatusCode, tail(resp.Body, 300))
			}
			if k == 0 {
				var c struct {
					Customers int               `json:"customers"`
					Cells     []json.RawMessage `json:"cells"`
				}
				if err := json.Unmarshal([]byte(resp.Body), &c); err != nil {
					return nil, fmt.Errorf("GET /v1/cube?%s: %w", q, err)
				}
				if c.Customers != r.Matches {
					return nil, fmt.Errorf("COUNT MISMATCH: GET /v1/cube?%s: %d customers, independent count %d", q, c.Customers, r.Matches)
				}
				r.Cells = len(c.Cells)
			}
			ds = append(ds, d)
		}
		r.TelcolakeCPU = (cpuTime() - cpu0) / time.Duration(o.apiReps)
		r.Telcolake = summarizeLatency(ds)
		log.Printf("cube: %s: %d cells, p50 %s", q, r.Cells, ms(r.Telcolake.P50))
	}
	runtime.KeepAlive(srv)

	db, err := openDuckDB()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := db.QueryRowContext(ctx, "SELECT version(), current_setting('threads')::INTEGER").Scan(&rep.DuckDBVersion, &rep.DuckDBThreads); err != nil {
		return nil, err
	}
	t = time.Now()
	if _, err := db.ExecContext(ctx, "CREATE TABLE customers AS SELECT * FROM read_parquet("+sqlString(parquetPath)+")"); err != nil {
		return nil, fmt.Errorf("duckdb load: %w", err)
	}
	rep.DuckLoadTime = time.Since(t)
	log.Printf("cube: DuckDB in memory (loaded in %s), %d queries per case", rep.DuckLoadTime.Round(time.Millisecond), o.apiDuckReps)
	for i := range rep.Results {
		r := &rep.Results[i]
		q := r.Case.sql()
		ds := make([]time.Duration, 0, o.apiDuckReps)
		cpu0 := cpuTime()
		for range o.apiDuckReps {
			t := time.Now()
			rows, err := db.QueryContext(ctx, q)
			if err != nil {
				return nil, fmt.Errorf("duckdb %s: %w", q, err)
			}
			n, err := drain(rows)
			d := time.Since(t)
			if err != nil {
				return nil, fmt.Errorf("duckdb %s: %w", q, err)
			}
			if n != r.Cells {
				return nil, fmt.Errorf("CELL MISMATCH: DuckDB %s: %d rows, the API %d cells", q, n, r.Cells)
			}
			ds = append(ds, d)
		}
		r.DuckDBCPU = (cpuTime() - cpu0) / time.Duration(o.apiDuckReps)
		r.DuckDB = summarizeLatency(ds)
		log.Printf("cube: DuckDB %s: p50 %s", q, ms(r.DuckDB.P50))
	}
	rep.LoadAvgEnd = loadAvg()
	rep.Date, rep.Commit = time.Now().UTC(), gitCommit(ctx, b.root)
	return rep, nil
}

// profileCube writes a CPU profile of reps requests of each cube case
// with a filter (untimed, before the timed requests) to path.
func profileCube(ctx context.Context, path string, fn func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error), reps int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	for _, c := range cubeCases {
		if !c.Filter {
			continue
		}
		for range reps {
			if resp, _ := fn(ctx, apiEvent("/v1/cube", c.query(), map[string]string{"x-api-key": benchSecret})); resp.StatusCode != 200 {
				return fmt.Errorf("GET /v1/cube?%s: status %d", c.query(), resp.StatusCode)
			}
		}
	}
	log.Printf("cube: CPU profile of the filtered requests in %s", path)
	return nil
}

const (
	cubeBegin = "<!-- bench:cube:begin -->"
	cubeEnd   = "<!-- bench:cube:end -->"
)

func cubeSection(r *cubeReport, m machine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n## Cube over customers (`GET /v1/cube`) against DuckDB's `GROUP BY CUBE`\n\n", cubeBegin)
	fmt.Fprintf(&b, "Measured %s at commit `%s` on %d CPUs (%s), %.1f GiB, load average %s at the start and %s at the end, by "+
		"`make bench BENCH_FLAGS=-parts=cube`: %s generated scored customers (the api part's generator, %.1f s), written as a serving "+
		"snapshot and as Parquet. telcolake: `GET /v1/cube?dims=…&measures=%s` through `lambdahttp.Handler(api.Server)` in this process "+
		"(key check, validation, the filter pass, `insight.Compute`, JSON), %d requests per case. DuckDB %s (%d threads, in this process "+
		"through duckdb-go) on a table loaded from the Parquet file (`CREATE TABLE AS`, %.1f s): `SELECT <dims>, GROUPING(<dims>), %s "+
		"FROM customers [WHERE %s] GROUP BY CUBE (<dims>)`, every row scanned into Go values, %d queries per case. Checks: the API's "+
		"`customers` equals the count computed independently over the generated rows, and DuckDB returns as many rows as the API cells "+
		"(the run fails otherwise). Filter: `%s`.\n\n",
		r.Date.Format("2006-01-02 15:04 UTC"), r.Commit, m.CPUs, m.CPUModel, float64(m.MemKiB)/(1<<20), r.LoadAvgStart, r.LoadAvgEnd,
		thousands(int64(r.Customers)), r.GenTime.Seconds(), cubeMeasures, r.Reps, r.DuckDBVersion, r.DuckDBThreads, r.DuckLoadTime.Seconds(),
		cubeSelect, cubeFilterWhere, r.DuckReps, cubeFilterQuery)
	b.WriteString("| dims | filter | customers | cells | telcolake p50 / p99 | DuckDB in memory p50 / p99 | DuckDB p50 / telcolake p50 | CPU per request telcolake / DuckDB |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range r.Results {
		filter := "none"
		if x.Case.Filter {
			filter = "yes"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %d | %s / %s | %s / %s | %.1f× | %s / %s |\n", strings.Join(x.Case.Dims, ","), filter,
			thousands(int64(x.Matches)), x.Cells, ms(x.Telcolake.P50), ms(x.Telcolake.P99), ms(x.DuckDB.P50), ms(x.DuckDB.P99),
			float64(x.DuckDB.P50)/float64(x.Telcolake.P50), ms(x.TelcolakeCPU), ms(x.DuckDBCPU))
	}
	three := r.Results[2]
	met := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	b.WriteString("\n| target | measured | met |\n|---|---:|---|\n")
	fmt.Fprintf(&b, "| p50 ≤ %s, 3 dims and a filter | %s | %s |\n", ms(cubeTargetP50), ms(three.Telcolake.P50), met(three.Telcolake.P50 <= cubeTargetP50))
	worst := 0.0
	for i, x := range r.Results {
		ratio := float64(x.DuckDB.P50) / float64(x.Telcolake.P50)
		if i == 0 || ratio < worst {
			worst = ratio
		}
	}
	fmt.Fprintf(&b, "| ≥ %.0f× faster than DuckDB's `GROUP BY CUBE` (p50, every case) | worst %.1f× | %s |\n", cubeTargetRatio, worst, met(worst >= cubeTargetRatio))
	b.WriteString("\nThe machine is shared: a load average above its CPU count means other work competed during the run, and every wall " +
		"time above is longer than on an idle machine. The CPU column is the process's user + system time over each case's " +
		"requests divided by their number (all threads: DuckDB's workers and Go's garbage collector included): the work a request " +
		"costs, which competition for the CPUs inflates far less than it does wall time.\n")
	b.WriteString(cubeEnd + "\n")
	return b.String()
}
