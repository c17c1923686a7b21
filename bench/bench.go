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
var ingestEnv = []string{
	"TELCOLAKE_LANDING_BUCKET=landing",
	"AWS_REGION=us-east-1",
	"TELCOLAKE_PSEUDONYM_KEY=bench-key-0123456789",
	"TELCOLAKE_REJECT_THRESHOLD=0.05",
}

// cdrKey is the landing key of the one big CDR file, relative to WORK/landing.
const cdrKey = "exports/cdr/2026/all/cdr-all.csv"

// bench holds the state of one benchmark: its options, work directory and
// the paths it builds up.
type bench struct {
	opts      options
	work      string
	root      string // repository root (holds cmd/telcolake)
	telcolake string // built binary
	csv       string // the concatenated CDR file
}

// report is everything the markdown report and the summary are made from.
type report struct {
	Date          time.Time
	Opts          options
	Machine       machine
	Commit        string
	Data          dataset
	DuckDBVersion string
	DuckDBThreads int
	Telcolake     []runResult
	DuckDB        []runResult
	PprofTop      string // pprof -top by flat time
	PprofCum      string // pprof -top -cum
}

// runResult is one measured child process.
type runResult struct {
	Wall      time.Duration
	MaxRSSKiB int64
	OutBytes  int64 // bytes written: Iceberg table dir or parquet file
}

// ingestResult is the subset of the JSON line 'telcolake ingest -json'
// prints per file that the benchmark checks.
type ingestResult struct {
	Status       string `json:"status"`
	RowsOK       int64  `json:"rows_ok"`
	RowsRejected int64  `json:"rows_rejected"`
	DurationMS   int64  `json:"duration_ms"`
	Message      string `json:"message"`
}

// measure runs every step of the benchmark and returns the numbers.
func (b *bench) measure(ctx context.Context) (*report, error) {
	rep := &report{Date: time.Now().UTC(), Opts: b.opts}
	var err error
	if rep.Machine, err = readMachine(); err != nil {
		return nil, err
	}
	if err := b.build(ctx); err != nil {
		return nil, err
	}
	rep.Commit = gitCommit(ctx, b.root)
	if rep.Data, err = b.prepareData(ctx); err != nil {
		return nil, err
	}
	if rep.DuckDBVersion, rep.DuckDBThreads, err = duckdbInfo(ctx); err != nil {
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
	}
	if rep.PprofTop, rep.PprofCum, err = b.profile(ctx, rep.Data.Rows); err != nil {
		return nil, err
	}
	return rep, nil
}

// String formats a run for the progress log.
func (r runResult) String() string {
	return fmt.Sprintf("%.2f s, peak RSS %.0f MiB, output %.1f MB",
		r.Wall.Seconds(), kibToMiB(r.MaxRSSKiB), float64(r.OutBytes)/1e6)
}

// build compiles the telcolake command into the work directory.
func (b *bench) build(ctx context.Context) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	b.root = root
	b.telcolake = filepath.Join(b.work, "telcolake")
	log.Printf("building %s", b.telcolake)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", b.telcolake, "./cmd/telcolake")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/telcolake: %w\n%s", err, out)
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
	if err := resetDirs(dir, filepath.Join(b.work, "landing", "reports")); err != nil {
		return runResult{}, err
	}
	wh := filepath.Join(dir, "warehouse")
	if err := os.MkdirAll(wh, 0o755); err != nil {
		return runResult{}, fmt.Errorf("create warehouse: %w", err)
	}
	args := []string{"ingest", "-json", "-landing", filepath.Join(b.work, "landing")}
	if cpuprofile != "" {
		args = append(args, "-cpuprofile", cpuprofile)
	}
	cmd := exec.CommandContext(ctx, b.telcolake, append(args, cdrKey)...)
	cmd.Env = append(os.Environ(), ingestEnv...)
	cmd.Env = append(cmd.Env,
		"TELCOLAKE_WAREHOUSE=file://"+wh,
		"TELCOLAKE_CATALOG=sqlite://"+filepath.Join(dir, "catalog.db"))
	res, out, err := runChild(cmd)
	if err != nil {
		return res, err
	}
	if err := checkIngest(out, rows); err != nil {
		return res, err
	}
	if res.OutBytes, err = dirSize(filepath.Join(wh, "crm", "cdr")); err != nil {
		return res, err
	}
	return res, b.dropUnlessKept(dir)
}

// checkIngest verifies that the ingest printed exactly one committed result
// holding every row.
func checkIngest(out []byte, rows int64) error {
	var results []ingestResult
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var r ingestResult
		if err := dec.Decode(&r); err != nil {
			return fmt.Errorf("parse ingest output %q: %w", out, err)
		}
		results = append(results, r)
	}
	if len(results) != 1 {
		return fmt.Errorf("ingest printed %d results, want 1: %s", len(results), out)
	}
	r := results[0]
	if r.Status != "committed" || r.RowsOK != rows || r.RowsRejected != 0 {
		return fmt.Errorf("ingest result: status %q, rows_ok %d, rows_rejected %d, want committed, %d, 0 (%s)",
			r.Status, r.RowsOK, r.RowsRejected, rows, r.Message)
	}
	return nil
}

// duckdbRun converts the big CSV to zstd parquet in a child process and
// verifies the row count of the result.
func (b *bench) duckdbRun(ctx context.Context, i int, rows int64) (runResult, error) {
	self, err := os.Executable()
	if err != nil {
		return runResult{}, fmt.Errorf("find own binary: %w", err)
	}
	out := filepath.Join(b.work, fmt.Sprintf("duckdb-run%d.parquet", i))
	if err := os.Remove(out); err != nil && !os.IsNotExist(err) {
		return runResult{}, fmt.Errorf("remove old parquet: %w", err)
	}
	res, _, err := runChild(exec.CommandContext(ctx, self, convertMode, b.csv, out))
	if err != nil {
		return res, err
	}
	n, err := parquetRows(ctx, out)
	if err != nil {
		return res, err
	}
	if n != rows {
		return res, fmt.Errorf("%s holds %d rows, want %d", out, n, rows)
	}
	fi, err := os.Stat(out)
	if err != nil {
		return res, fmt.Errorf("stat parquet: %w", err)
	}
	res.OutBytes = fi.Size()
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
