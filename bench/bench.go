package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Fixed settings of the ingest child process, as the brief of the benchmark
// asks; the warehouse and catalog are set per run.
// benchPseudonymKey is the key the ingest children hash numbers under, and
// DuckDB's same job (jobQuery) too.
const benchPseudonymKey = "bench-key-0123456789"

var ingestEnv = []string{
	"TELCOLAKE_LANDING_BUCKET=landing",
	"AWS_REGION=us-east-1",
	"TELCOLAKE_PSEUDONYM_KEY=" + benchPseudonymKey,
	"TELCOLAKE_REJECT_THRESHOLD=0.05",
}

// cdrKey is the landing key of the one big CDR file, relative to WORK/landing.
const cdrKey = "exports/cdr/2026/all/cdr-all.csv"

// bench holds the state of one benchmark: its options, work directory and
// the paths it builds up.
type bench struct {
	opts         options
	work         string
	root         string // repository root (holds cmd/telcolake)
	telcolake    string // built binary
	featurebuild string // built binary of the features child
	csv          string // the concatenated CDR file
}

// report is everything the markdown report and the summary are made from.
// A part that was not run has a nil section.
type report struct {
	Date          time.Time
	Opts          options
	Machine       machine
	Commit        string
	DuckDBVersion string
	DuckDBThreads int
	Ingest        *ingestReport
	FeatureData   *featureData // the data set of the features and train parts
	Features      *featureReport
	Train         *trainReport
	API           *apiReport
	// Load is the load average when the measurement began.
	Load string
}

// ingestReport is the ingest part's measurements.
type ingestReport struct {
	Data      dataset
	Telcolake []runResult
	DuckDB    []runResult
	// DuckDBJob are DuckDB's runs of the same job (jobQuery): the number
	// hashed, the rows partitioned as crm.cdr's.
	DuckDBJob []runResult
	PprofTop  string // pprof -top by flat time
	PprofCum  string // pprof -top -cum
	// Load and LoadEnd are the load average when the part began and ended.
	Load, LoadEnd string
}

// runResult is one measured child process.
type runResult struct {
	Wall      time.Duration
	CPU       time.Duration // user + system time of the child
	MaxRSSKiB int64
	OutBytes  int64 // bytes written: Iceberg table dir or parquet file
}

// ingestResult is the subset of the JSON line 'telcolake ingest -json'
// prints per file that the benchmark checks.
type ingestResult struct {
	Source       string `json:"source"`
	Status       string `json:"status"`
	RowsOK       int64  `json:"rows_ok"`
	RowsRejected int64  `json:"rows_rejected"`
	DurationMS   int64  `json:"duration_ms"`
	Message      string `json:"message"`
}

// measure runs the selected parts of the benchmark and returns the numbers.
func (b *bench) measure(ctx context.Context) (*report, error) {
	rep := &report{Date: time.Now().UTC(), Opts: b.opts, Load: loadAverage()}
	var err error
	if rep.Machine, err = readMachine(); err != nil {
		return nil, err
	}
	if b.opts.has(partIngest) || b.opts.has(partFeatures) || b.opts.has(partTrain) {
		if err := b.build(ctx); err != nil {
			return nil, err
		}
	} else if b.root, err = repoRoot(); err != nil {
		return nil, err
	}
	rep.Commit = gitCommit(ctx, b.root)
	if rep.DuckDBVersion, rep.DuckDBThreads, err = duckdbInfo(ctx); err != nil {
		return nil, err
	}
	if b.opts.has(partIngest) {
		if rep.Ingest, err = b.measureIngest(ctx); err != nil {
			return nil, err
		}
	}
	if b.opts.has(partFeatures) || b.opts.has(partTrain) {
		if rep.FeatureData, err = b.prepareFeatureData(ctx); err != nil {
			return nil, err
		}
	}
	if b.opts.has(partFeatures) {
		if rep.Features, err = b.measureFeatures(ctx, rep.FeatureData); err != nil {
			return nil, err
		}
	}
	if b.opts.has(partTrain) {
		if rep.Train, err = b.measureTrain(ctx, rep.FeatureData); err != nil {
			return nil, err
		}
	}
	if b.opts.has(partAPI) {
		if rep.API, err = b.measureAPI(ctx); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// measureIngest is the ingest part: telcolake ingest against DuckDB's CSV
// to Parquet conversion of the same big CSV, then one profiled ingest.
func (b *bench) measureIngest(ctx context.Context) (*ingestReport, error) {
	rep := &ingestReport{Load: loadAverage()}
	defer func() { rep.LoadEnd = loadAverage() }()
	var err error
	if rep.Data, err = b.prepareData(ctx); err != nil {
		return nil, err
	}
	for i := 1; i <= b.opts.runs; i++ {
		tl, err := b.ingestRun(ctx, fmt.Sprintf("run%d", i), rep.Data.Rows, "")
		if err != nil {
			return nil, fmt.Errorf("telcolake run %d: %w", i, err)
		}
		log.Printf("run %d telcolake: %s", i, tl)
		rep.Telcolake = append(rep.Telcolake, tl)
		dk, err := b.duckdbRun(ctx, i, rep.Data.Rows)
		if err != nil {
			return nil, fmt.Errorf("duckdb run %d: %w", i, err)
		}
		log.Printf("run %d duckdb:    %s", i, dk)
		rep.DuckDB = append(rep.DuckDB, dk)
		dj, err := b.duckdbJobRun(ctx, i, rep.Data.Rows)
		if err != nil {
			return nil, fmt.Errorf("duckdb job run %d: %w", i, err)
		}
		log.Printf("run %d duckdb job: %s", i, dj)
		rep.DuckDBJob = append(rep.DuckDBJob, dj)
	}
	if rep.PprofTop, rep.PprofCum, err = b.profile(ctx, rep.Data.Rows); err != nil {
		return nil, err
	}
	if err := b.dropUnlessKept(filepath.Dir(b.csv)); err != nil {
		return nil, err
	}
	return rep, nil
}

// String formats a run for the progress log.
func (r runResult) String() string {
	return fmt.Sprintf("%.2f s (CPU %.2f s), peak RSS %.0f MiB, output %.1f MB",
		r.Wall.Seconds(), r.CPU.Seconds(), kibToMiB(r.MaxRSSKiB), float64(r.OutBytes)/1e6)
}

// build compiles the telcolake command, and the featurebuild child when
// the features part runs, into the work directory.
func (b *bench) build(ctx context.Context) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	b.root = root
	b.telcolake = filepath.Join(b.work, "telcolake")
	log.Printf("building %s", b.telcolake)
	if err := goBuild(ctx, root, b.telcolake, "./cmd/telcolake"); err != nil {
		return err
	}
	if !b.opts.has(partFeatures) {
		return nil
	}
	b.featurebuild = filepath.Join(b.work, "featurebuild")
	log.Printf("building %s", b.featurebuild)
	return goBuild(ctx, filepath.Join(root, "bench"), b.featurebuild, "./featurebuild")
}

// goBuild runs 'go build -o out pkg' in dir.
func goBuild(ctx context.Context, dir, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return nil
}

// repoRoot finds the telcolake repository: the parent of the bench module,
// which 'go run .' runs in.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	root := filepath.Dir(wd)
	if _, err := os.Stat(filepath.Join(root, "cmd", "telcolake")); err != nil {
		return "", fmt.Errorf("find repository root: run bench from the bench/ directory: %w", err)
	}
	return root, nil
}

// gitCommit describes the checked-out commit, or "unknown".
func gitCommit(ctx context.Context, root string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "describe", "--always", "--dirty").Output()
	if err != nil {
		return "unknown"
	}
	return string(bytes.TrimSpace(out))
}

// ingestRun ingests the big CSV into a fresh warehouse and catalog under
// WORK/name, checks the result and returns the child's measurements. A
// non-empty cpuprofile is passed on to -cpuprofile.
func (b *bench) ingestRun(ctx context.Context, name string, rows int64, cpuprofile string) (runResult, error) {
	dir := filepath.Join(b.work, name)
	landing := filepath.Join(b.work, "landing")
	if err := resetDirs(dir, filepath.Join(landing, "reports")); err != nil {
		return runResult{}, err
	}
	res, err := b.ingest(ctx, landing, lakeDir(dir), map[string]int64{cdrKey: rows}, []string{cdrKey}, cpuprofile)
	if err != nil {
		return res, err
	}
	return res, b.dropUnlessKept(dir)
}

// lakeDirs are the warehouse directory and the catalog database of one lake.
type lakeDirs struct{ warehouse, catalog string }

// lakeDir lays a lake out under dir.
func lakeDir(dir string) lakeDirs {
	return lakeDirs{warehouse: filepath.Join(dir, "warehouse"), catalog: filepath.Join(dir, "catalog.db")}
}

// env is the environment of a telcolake child working on the lake.
func (l lakeDirs) env() []string {
	env := append(os.Environ(), ingestEnv...)
	return append(env, "TELCOLAKE_WAREHOUSE=file://"+l.warehouse, "TELCOLAKE_CATALOG=sqlite://"+l.catalog)
}

// ingest runs 'telcolake ingest' of keys (relative to landing, in that
// order) into the lake, checks that every key was committed whole (want
// maps key → rows), and returns the child's measurements; OutBytes is the
// size of the crm.cdr table directory.
func (b *bench) ingest(ctx context.Context, landing string, l lakeDirs, want map[string]int64, keys []string, cpuprofile string) (runResult, error) {
	if err := os.MkdirAll(l.warehouse, 0o755); err != nil {
		return runResult{}, fmt.Errorf("create warehouse: %w", err)
	}
	args := []string{"ingest", "-json", "-landing", landing}
	if cpuprofile != "" {
		args = append(args, "-cpuprofile", cpuprofile)
	}
	cmd := exec.CommandContext(ctx, b.telcolake, append(args, keys...)...)
	cmd.Env = l.env()
	res, out, err := runChild(cmd)
	if err != nil {
		return res, err
	}
	if err := checkIngest(out, want); err != nil {
		return res, err
	}
	if res.OutBytes, err = dirSize(filepath.Join(l.warehouse, "crm", "cdr")); err != nil {
		return res, err
	}
	return res, nil
}

// checkIngest verifies that the ingest printed exactly one committed result
// per wanted key, holding every row.
func checkIngest(out []byte, want map[string]int64) error {
	got := map[string]ingestResult{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var r ingestResult
		if err := dec.Decode(&r); err != nil {
			return fmt.Errorf("parse ingest output %q: %w", tail(string(out), 4000), err)
		}
		key, ok := wantedKey(r.Source, want)
		if !ok {
			return fmt.Errorf("ingest printed a result for %s, which was not asked for", r.Source)
		}
		if _, dup := got[key]; dup {
			return fmt.Errorf("ingest printed two results for %s", key)
		}
		got[key] = r
	}
	for key, rows := range want {
		r, ok := got[key]
		if !ok {
			return fmt.Errorf("ingest printed no result for %s: %s", key, tail(string(out), 4000))
		}
		if r.Status != "committed" || r.RowsOK != rows || r.RowsRejected != 0 {
			return fmt.Errorf("ingest %s: status %q, rows_ok %d, rows_rejected %d, want committed, %d, 0 (%s)",
				key, r.Status, r.RowsOK, r.RowsRejected, rows, r.Message)
		}
	}
	return nil
}

// wantedKey finds the key of want that source (s3://bucket/key) names.
func wantedKey(source string, want map[string]int64) (string, bool) {
	for key := range want {
		if strings.HasSuffix(source, "/"+key) {
			return key, true
		}
	}
	return "", false
}

// duckdbRun converts the big CSV to zstd parquet in a child process and
// verifies the row count of the result.
func (b *bench) duckdbRun(ctx context.Context, i int, rows int64) (runResult, error) {
	out := filepath.Join(b.work, fmt.Sprintf("duckdb-run%d.parquet", i))
	return b.duckdbChild(ctx, out, out, rows, convertMode, b.csv, out)
}

// duckdbJobRun runs jobQuery on the big CSV in a child process and
// verifies the row count of the files it wrote.
func (b *bench) duckdbJobRun(ctx context.Context, i int, rows int64) (runResult, error) {
	out := filepath.Join(b.work, fmt.Sprintf("duckdb-job%d", i))
	return b.duckdbChild(ctx, out, filepath.Join(out, "**", "*.parquet"), rows, jobMode, b.csv, out, benchPseudonymKey)
}

// duckdbChild runs this binary in DuckDB child mode with args, writing
// out (a file or a directory, removed first), checks that the Parquet
// files files (a path or a glob) hold rows rows, and returns the child's
// measurements with OutBytes the size of out.
func (b *bench) duckdbChild(ctx context.Context, out, files string, rows int64, mode string, args ...string) (runResult, error) {
	self, err := os.Executable()
	if err != nil {
		return runResult{}, fmt.Errorf("find own binary: %w", err)
	}
	if err := os.RemoveAll(out); err != nil {
		return runResult{}, fmt.Errorf("remove old output: %w", err)
	}
	res, _, err := runChild(exec.CommandContext(ctx, self, append([]string{mode}, args...)...))
	if err != nil {
		return res, err
	}
	n, err := parquetRows(ctx, files)
	if err != nil {
		return res, err
	}
	if n != rows {
		return res, fmt.Errorf("%s holds %d rows, want %d", out, n, rows)
	}
	if res.OutBytes, err = dirSize(out); err != nil {
		return res, err
	}
	return res, b.dropUnlessKept(out)
}

// profile runs one more ingest with a CPU profile and returns the top of
// 'go tool pprof -top', by flat and by cumulative time.
func (b *bench) profile(ctx context.Context, rows int64) (flat, cum string, err error) {
	prof := filepath.Join(b.work, "ingest.pprof")
	res, err := b.ingestRun(ctx, "profiled", rows, prof)
	if err != nil {
		return "", "", fmt.Errorf("profiled telcolake run: %w", err)
	}
	log.Printf("profiled run: %s", res)
	if flat, err = pprofTop(ctx, b.telcolake, prof); err != nil {
		return "", "", err
	}
	if cum, err = pprofTop(ctx, b.telcolake, prof, "-cum"); err != nil {
		return "", "", err
	}
	return flat, cum, nil
}

// pprofTop returns the output of 'go tool pprof -top -nodecount=25' with
// the extra flags.
func pprofTop(ctx context.Context, binary, prof string, flags ...string) (string, error) {
	args := append([]string{"tool", "pprof", "-top", "-nodecount=25"}, flags...)
	out, err := exec.CommandContext(ctx, "go", append(args, binary, prof)...).Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w", strings.Join(args, " "), exitDetail(err))
	}
	return string(bytes.TrimSpace(out)), nil
}

// dropUnlessKept removes a run's output unless -keep is set, so that a full
// benchmark does not fill the disk with copies of the table.
func (b *bench) dropUnlessKept(path string) error {
	if b.opts.keep {
		return nil
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("remove run output: %w", err)
	}
	return nil
}

// resetDirs removes the given directories if they exist.
func resetDirs(dirs ...string) error {
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("reset %s: %w", d, err)
		}
	}
	return nil
}

// dirSize adds up the sizes of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n += fi.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", dir, err)
	}
	return n, nil
}
