// Command bench measures telcolake against DuckDB on the same data and
// writes the result to BENCHMARKS.md. It has these parts:
//
//   - ingest: generates synthetic CDR exports with 'telcolake gen',
//     concatenates them into one large CSV, and for each run times
//     'telcolake ingest' and a DuckDB COPY … TO parquet of that file.
//   - features: generates a second data set (CDR, bills and register
//     snapshots of -feature-months months), ingests it with 'telcolake
//     ingest', and for each run times features.Builder.Build of every month
//     (the featurebuild child) and DuckDB running the equivalent GROUP BY
//     and joins on the same Parquet data files; then checks that the two
//     results agree row by row.
//   - train: times 'telcolake train' (training.Runner.Run) on that lake and
//     quotes the churn model's validation AUC.
//   - api: generates -api-customers scored customers, writes them as a
//     serving snapshot, and measures the API's cold start and memory, then
//     look-ups and filtered pages in-process (lambdahttp.Handler over api.Server) and over HTTP
//     on 127.0.0.1, against DuckDB on the same Parquet file and on a table
//     loaded from it. It writes its own section of the report between
//     markers; run alone it leaves the other sections as they are.
//   - cube: GET /v1/cube (insight.Compute through the handler) with 1, 2
//     and 3 dimensions and a filter over -api-customers generated
//     customers, against DuckDB's GROUP BY CUBE on a table loaded from the
//     same rows' Parquet file; its own section of the report.
//   - queue: uploads -queue-files CDR files of -queue-rows rows to the
//     local stack, whose ingest queue hands them to the real ingest
//     function in batches; files/s, rows/s, commits made and the time from
//     upload to committed, then one maintenance run: metadata, manifests,
//     data files before and after, crm.cdr's scan time before and after.
//   - ledger: builds -ledger-history files of history in-process and times
//     the exactly-once decision of redelivered files at each size.
//   - ingestmem: one ingest batch of -ingestmem-files daily CDR files of
//     -ingestmem-rows rows in a child process: its peak RSS against the
//     ingest function's MemorySize.
//   - console: runs web's TestConsoleSpeed over -api-customers generated
//     customers (the live count's round trip over HTTP, the search and 360°
//     pages in headless chromium) and writes its own section the same way.
//
// Every measured tool runs as a child process so that wall time and peak
// RSS are measured the same way (wait4 rusage). One extra profiled run of
// the ingest and of the feature build gives a pprof top of each.
//
// Usage, from the bench directory:
//
//	go run . [-parts ingest,features,train,api,cube,console,queue,shards] [-subs 100000] [-months 3] [-runs 3]
//	         [-feature-months 4] [-feature-start 2025-06] [-work DIR] [-out ../BENCHMARKS.md] [-keep]
//
// The DuckDB side re-executes this binary in hidden modes
// (bench -duckdb-convert IN.csv OUT.parquet, bench -duckdb-features SPEC.json);
// they are not meant to be used by hand.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/telcolake/telcolake/localstack"
)

// Hidden first arguments that make this binary act as a DuckDB child
// process: the CSV conversion of the ingest part, the feature query of the
// features part.
const (
	convertMode  = "-duckdb-convert"
	jobMode      = "-duckdb-convert-job"
	featuresMode = "-duckdb-features"
)

// Benchmark parts, in the order they run.
const (
	partIngest   = "ingest"
	partFeatures = "features"
	partTrain    = "train"
	partAPI      = "api"
)

var allParts = []string{partIngest, partFeatures, partTrain, partAPI, partCube, partConsole, partQueue, partShards, partLedger, partIngestMem}

// options are the command-line flags of a benchmark run.
type options struct {
	parts         []string
	subs          int
	months        int
	runs          int
	featureMonths int
	featureStart  time.Time
	work          string
	out           string
	keep          bool

	apiCustomers   int
	apiLookups     int
	apiReps        int
	apiDuckLookups int
	apiDuckReps    int
	cubeProfile    string

	queueFiles, queueRows, queueBatch, queueWindow int
	queueConcurrency                               int

	shards, shardCustomers int
	shardsData             string
	ledgerHistory          []int
	ledgerProfile          string
	ledgerBatch            int

	ingestMemFiles, ingestMemRows        int
	ingestMemSharedMiB, ingestMemWorkers int
	ingestMemHeapProfile                 string
}

// has reports whether part is selected.
// defaultParts are the parts run without -parts: every one but shards
// (10M customers across 8 processes), which runs only when named.
func defaultParts() []string {
	return slices.DeleteFunc(slices.Clone(allParts), func(p string) bool { return p == partShards })
}

func (o options) has(part string) bool { return slices.Contains(o.parts, part) }

func main() {
	log.SetFlags(log.Ltime)
	log.SetPrefix("bench: ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	localstack.RunS3ChildIfRequested() // the embedded S3 of the api part runs as a child of this binary
	if len(os.Args) > 1 && os.Args[1] == ingestMemMode {
		if err := runIngestMem(ctx, os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench", ingestMemMode+":", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && (os.Args[1] == convertMode || os.Args[1] == jobMode || os.Args[1] == featuresMode) {
		child := runConvert
		switch os.Args[1] {
		case jobMode:
			child = runConvertJob
		case featuresMode:
			child = runFeatureQuery
		}
		if err := child(ctx, os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench", os.Args[1]+":", err)
			os.Exit(1)
		}
		return
	}
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, opts, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// parseFlags reads the benchmark flags.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	parts := fs.String("parts", strings.Join(defaultParts(), ","), "comma-separated `parts` to run: ingest, features, train, api, cube, console, queue, ledger, ingestmem, shards (shards only when named: 10M customers, ~20 min)")
	fs.IntVar(&o.subs, "subs", 100000, "number of synthetic `subscribers` (both data sets)")
	fs.IntVar(&o.months, "months", 3, "`months` of CDR history for the ingest part")
	fs.IntVar(&o.runs, "runs", 3, "timed `runs` per tool; the table reports the median")
	// Four months is the least a training run accepts with its default
	// two-month label horizon (train on T−3, validate on T−2), and at 100,000
	// subscribers it is about 12M CDR rows: the nearest to 10M that serves
	// both the features and the train part.
	fs.IntVar(&o.featureMonths, "feature-months", 4, "`months` of CDR, bills and register for the features and train parts")
	start := fs.String("feature-start", "2025-06", "first `month` (YYYY-MM) of the features data set; all its months must be past")
	fs.StringVar(&o.work, "work", "", "work `dir`ectory (default: a new temporary directory)")
	fs.StringVar(&o.out, "out", "../BENCHMARKS.md", "`path` of the markdown report to write")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary work directory and the run outputs")
	fs.IntVar(&o.apiCustomers, "api-customers", 1000000, "scored `customers` in the api part's snapshot")
	fs.IntVar(&o.apiLookups, "api-lookups", 20000, "timed look-ups by id, telcolake in-process and over HTTP (api part)")
	fs.IntVar(&o.apiReps, "api-reps", 200, "timed repetitions of each filter, telcolake (api part)")
	fs.IntVar(&o.apiDuckLookups, "api-duck-lookups", 2000, "timed look-ups by id, DuckDB (api part)")
	fs.IntVar(&o.apiDuckReps, "api-duck-reps", 50, "timed repetitions of each filter, DuckDB (api part)")
	fs.StringVar(&o.cubeProfile, "cube-cpuprofile", "", "write a CPU profile of the cube part's telcolake requests with a filter to `file`")
	fs.IntVar(&o.queueFiles, "queue-files", 10000, "CDR `files` uploaded through the ingest queue (queue part)")
	fs.IntVar(&o.queueRows, "queue-rows", 1000, "`rows` per file of the queue part")
	fs.IntVar(&o.queueBatch, "queue-batch", 100, "the ingest queue's batch `size` (template parameter IngestBatchSize)")
	fs.IntVar(&o.queueWindow, "queue-window", 5, "the ingest queue's batching window in `seconds` (IngestBatchWindow)")
	fs.IntVar(&o.queueConcurrency, "queue-concurrency", 2, "`batches` of the ingest queue in the function at once (IngestQueueConcurrency; 1 only locally)")
	fs.IntVar(&o.shards, "shards", 8, "`shards` (api instances) of the shards part")
	fs.IntVar(&o.shardCustomers, "shard-customers", 10_000_000, "scored `customers` across the shards of the shards part")
	fs.StringVar(&o.shardsData, "shards-data", "", "`dir`ectory keeping the shards part's encoded shards for later runs of the same size, which reuse them (default: none kept)")
	history := fs.String("ledger-history", "1000,10000", "comma-separated `sizes` of history (files) the ledger part measures at (the full run: 1000,10000,100000)")
	fs.IntVar(&o.ledgerBatch, "ledger-batch", 10000, "files per batch of the ledger part past its first 10,000 (which come 100 a batch, as the queue delivers them)")
	fs.StringVar(&o.ledgerProfile, "ledger-cpuprofile", "", "write a CPU profile of the ledger part's redeliveries at its largest history to `file`")
	fs.IntVar(&o.ingestMemFiles, "ingestmem-files", 30, "daily CDR `files` in the ingestmem part's one batch")
	fs.IntVar(&o.ingestMemRows, "ingestmem-rows", 100000, "`rows` per file of the ingestmem part")
	fs.IntVar(&o.ingestMemSharedMiB, "ingestmem-shared-mib", 0, "the batch's bound on buffered rows in `MiB` (0: lake's default)")
	fs.IntVar(&o.ingestMemWorkers, "ingestmem-workers", 0, "files read at once (0: lake's default)")
	fs.StringVar(&o.ingestMemHeapProfile, "ingestmem-heapprofile", "", "write the ingestmem child's heap profile at its largest heap to `file`")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, v := range strings.Split(*history, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || (len(o.ledgerHistory) > 0 && n <= o.ledgerHistory[len(o.ledgerHistory)-1]) {
			return o, fmt.Errorf("-ledger-history: want increasing counts ≥ 1, got %q", *history)
		}
		o.ledgerHistory = append(o.ledgerHistory, n)
	}
	var err error
	if o.parts, err = parseParts(*parts); err != nil {
		return o, err
	}
	if o.featureStart, err = time.Parse("2006-01", *start); err != nil {
		return o, fmt.Errorf("-feature-start must be YYYY-MM, got %q", *start)
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.subs < 1:
		return o, fmt.Errorf("-subs must be at least 1, got %d", o.subs)
	case o.months < 1:
		return o, fmt.Errorf("-months must be at least 1, got %d", o.months)
	case o.apiCustomers < 1 || o.apiLookups < 1 || o.apiReps < 1 || o.apiDuckLookups < 1 || o.apiDuckReps < 1:
		return o, fmt.Errorf("-api-customers, -api-lookups, -api-reps, -api-duck-lookups and -api-duck-reps must be at least 1")
	case o.queueFiles < 1 || o.queueRows < 1 || o.queueBatch < 1 || o.queueBatch > 10000 || o.queueWindow < 0 || o.queueWindow > 300 || o.queueConcurrency < 1:
		return o, fmt.Errorf("-queue-files and -queue-rows must be at least 1, -queue-batch 1 to 10000, -queue-window 0 to 300, -queue-concurrency at least 1")
	case o.shards < 2 || o.shards > 64 || o.shardCustomers < o.shards:
		return o, fmt.Errorf("-shards must be 2 to 64 and -shard-customers at least -shards")
	case o.ledgerBatch < 1:
		return o, fmt.Errorf("-ledger-batch must be at least 1, got %d", o.ledgerBatch)
	case o.runs < 1:
		return o, fmt.Errorf("-runs must be at least 1, got %d", o.runs)
	case o.featureMonths < 1:
		return o, fmt.Errorf("-feature-months must be at least 1, got %d", o.featureMonths)
	case !o.featureStart.AddDate(0, o.featureMonths, 0).Before(time.Now()):
		return o, fmt.Errorf("-feature-start %s with -feature-months %d reaches into the future",
			*start, o.featureMonths)
	}
	return o, nil
}

// parseParts reads the -parts list and returns the parts in run order.
func parseParts(s string) ([]string, error) {
	var want []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(allParts, p) {
			return nil, fmt.Errorf("-parts: unknown part %q (want %s)", p, strings.Join(allParts, ", "))
		}
		want = append(want, p)
	}
	var parts []string
	for _, p := range allParts {
		if slices.Contains(want, p) {
			parts = append(parts, p)
		}
	}
	return parts, nil
}

// run performs the whole benchmark and writes the report.
func run(ctx context.Context, o options, stdout io.Writer) (err error) {
	work, cleanup, err := workDir(o)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := cleanup(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	b := &bench{opts: o, work: work}
	rep, err := b.measure(ctx)
	if err != nil {
		return err
	}
	// A run of only the api part keeps the report's other sections; the
	// api section replaces its predecessor between markers.
	if o.has(partIngest) || o.has(partFeatures) || o.has(partTrain) {
		if err := writeReport(o.out, rep); err != nil {
			return err
		}
	}
	if rep.API != nil {
		if err := mergeMarked(o.out, apiBegin, apiEnd, apiSection(rep)); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	if o.has(partCube) {
		cr, err := b.measureCube(ctx)
		if err != nil {
			return err
		}
		if err := mergeMarked(o.out, cubeBegin, cubeEnd, cubeSection(cr, rep.Machine)); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		for _, x := range cr.Results {
			fmt.Fprintf(stdout, "\ncube dims=%s filter=%v: %d cells, telcolake p50 %s p99 %s, DuckDB p50 %s p99 %s",
				strings.Join(x.Case.Dims, ","), x.Case.Filter, x.Cells, ms(x.Telcolake.P50), ms(x.Telcolake.P99), ms(x.DuckDB.P50), ms(x.DuckDB.P99))
		}
		fmt.Fprintln(stdout)
	}
	if o.has(partConsole) {
		cr, err := b.measureConsole(ctx)
		if err != nil {
			return err
		}
		if err := mergeMarked(o.out, consoleBegin, consoleEnd, consoleSection(cr, rep.Machine)); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		fmt.Fprintf(stdout, "\nconsole over %s customers: live count p50 %.2f ms p99 %.2f ms\n", thousands(int64(cr.Customers)), cr.CountP50, cr.CountP99)
		for _, p := range cr.Pages {
			fmt.Fprintf(stdout, "  %s: visible p50 %.1f ms, max %.1f ms\n", p.Page, p.VisibleP50, p.VisibleMax)
		}
	}
	if o.has(partShards) {
		sr, err := b.measureShards(ctx)
		if err != nil {
			return err
		}
		if err := mergeMarked(o.out, shardsBegin, shardsEnd, shardsSection(sr, rep.Machine)); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		for i, c := range shardCases {
			fmt.Fprintf(stdout, "\nshards %s: p50 %s p99 %s", c.Name, ms(sr.Results[i].P50), ms(sr.Results[i].P99))
		}
		fmt.Fprintf(stdout, "\nshards look-up: p50 %s p99 %s\n", ms(sr.Lookup.P50), ms(sr.Lookup.P99))
	}
	if o.has(partQueue) {
		qr, err := b.measureQueue(ctx)
		if err != nil {
			return err
		}
		if err := mergeMarked(o.out, queueBegin, queueEnd, queueSection(qr, rep.Machine)); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		fmt.Fprintf(stdout, "\nqueue: %d files of %d rows in %.1f s: %.1f files/s, %.0f rows/s, %d+%d commits, upload→committed p50 %.2f s p99 %.2f s\n",
			qr.Files-qr.Failed, qr.RowsPerFile, qr.Seconds, qr.filesPerSec(), qr.rowsPerSec(), qr.CDRCommits, qr.LogCommits, qr.P50, qr.P99)
	}
	if o.has(partLedger) {
		lr, err := b.measureLedger(ctx)
		if err != nil {
			return err
		}
		if err := mergeMarked(o.out, ledgerBegin, ledgerEnd, ledgerSection(lr, rep.Machine)); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		for _, p := range lr.Points {
			fmt.Fprintf(stdout, "ledger: %d files of history: decision p50 %.2f ms p99 %.2f ms\n", p.History, p.P50, p.P99)
		}
	}
	if o.has(partIngestMem) {
		mr, err := b.measureIngestMem(ctx)
		if err != nil {
			return err
		}
		if err := mergeMarked(o.out, ingestMemBegin, ingestMemEnd, ingestMemSection(mr, rep.Machine)); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		fmt.Fprintf(stdout, "ingestmem: %d files of %d rows in one batch: %.1f s wall, %.1f s CPU, peak RSS %.0f MiB\n", mr.Files, mr.RowsPerFile, mr.Wall.Seconds(), mr.CPU.Seconds(), mr.MaxRSSMiB)
	}
	printSummary(stdout, rep)
	if rep.API != nil {
		printAPISummary(stdout, rep.API)
	}
	log.Printf("wrote %s", o.out)
	if rep.Features != nil && !rep.Features.Check.OK() {
		return fmt.Errorf("feature build and DuckDB disagree: %s", rep.Features.Check.Problem())
	}
	if rep.Features != nil && !rep.Features.SQL.OK() {
		return fmt.Errorf("models/features/features.sql and the feature build disagree: %v", rep.Features.SQL.Differ)
	}
	return nil
}

// workDir returns the work directory and a function that removes it when
// it was created here and -keep is not set.
func workDir(o options) (string, func() error, error) {
	if o.work != "" {
		if err := os.MkdirAll(o.work, 0o755); err != nil {
			return "", nil, fmt.Errorf("create work dir: %w", err)
		}
		return o.work, func() error { return nil }, nil
	}
	dir, err := os.MkdirTemp("", "telcolake-bench-")
	if err != nil {
		return "", nil, fmt.Errorf("create work dir: %w", err)
	}
	if o.keep {
		log.Printf("work dir %s (kept)", dir)
		return dir, func() error { return nil }, nil
	}
	return dir, func() error {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("remove work dir: %w", err)
		}
		return nil
	}, nil
}
