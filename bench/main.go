// Command bench measures telcolake's CSV ingest against DuckDB's CSV→Parquet
// conversion of the same file and writes the result to BENCHMARKS.md.
//
// It builds the telcolake binary, generates synthetic CDR exports with
// 'telcolake gen', concatenates them into one large CSV, and then, for each
// run, times 'telcolake ingest' and a DuckDB COPY … TO parquet of that file.
// Both run as child processes so that wall time and peak RSS are measured
// the same way (wait4 rusage). One extra profiled ingest gives a pprof top.
//
// Usage, from the bench directory:
//
//	go run . [-subs 100000] [-months 3] [-runs 3] [-work DIR] [-out ../BENCHMARKS.md] [-keep]
//
// The DuckDB side re-executes this binary in a hidden mode
// (bench -duckdb-convert IN.csv OUT.parquet); it is not meant to be used by hand.
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
	"syscall"
)

// convertMode is the hidden first argument that makes this binary act as the
// DuckDB child process.
const convertMode = "-duckdb-convert"

// options are the command-line flags of a benchmark run.
type options struct {
	subs   int
	months int
	runs   int
	work   string
	out    string
	keep   bool
}

func main() {
	log.SetFlags(log.Ltime)
	log.SetPrefix("bench: ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == convertMode {
		if err := runConvert(ctx, os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench", convertMode+":", err)
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
	fs.IntVar(&o.subs, "subs", 100000, "number of synthetic `subscribers`")
	fs.IntVar(&o.months, "months", 3, "`months` of CDR history")
	fs.IntVar(&o.runs, "runs", 3, "timed `runs` per tool; the table reports the median")
	fs.StringVar(&o.work, "work", "", "work `dir`ectory (default: a new temporary directory)")
	fs.StringVar(&o.out, "out", "../BENCHMARKS.md", "`path` of the markdown report to write")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary work directory and the run outputs")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.subs < 1:
		return o, fmt.Errorf("-subs must be at least 1, got %d", o.subs)
	case o.months < 1:
		return o, fmt.Errorf("-months must be at least 1, got %d", o.months)
	case o.runs < 1:
		return o, fmt.Errorf("-runs must be at least 1, got %d", o.runs)
	}
	return o, nil
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
	if err := writeReport(o.out, rep); err != nil {
		return err
	}
	printSummary(stdout, rep)
	log.Printf("wrote %s", o.out)
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
