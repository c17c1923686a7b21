// Command featurebuild is the telcolake side of the feature benchmark: a
// child process of the bench program, so that its wall time and peak RSS
// are measured on their own. It opens the lake from the environment the way
// 'telcolake train' does (lake.FromEnv, lake.Open) and either builds
// feature months or lists a table's data files.
//
// Usage:
//
//	featurebuild build [-cpuprofile FILE]   build every month with bills; print []features.MonthResult as JSON
//	featurebuild files TABLE ...            print the data files of each table's current snapshot as JSON
//	featurebuild bucket -bucket N [-cpuprofile FILE] [-heapprofile FILE] [-digest]
//	                                        build one subscriber bucket of every month with bills (BuildBucket, as
//	                                        the features function's bucket task), print the features.BucketResult
//	                                        (and with -digest each month's rows' digest) as JSON, remove the files
//
// It is built and run by the bench program; it is not meant to be used by
// hand.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/telcolake/telcolake/bench/proc"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/features"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "featurebuild:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("want a command: build or files")
	}
	switch args[0] {
	case "build":
		return runBuild(ctx, args[1:], stdout, stderr)
	case "files":
		return runFiles(ctx, args[1:], stdout)
	case "bucket":
		return runBucket(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// runBuild builds every month that has bills, as a training run with
// -rebuild would, and prints the month results.
func runBuild(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) to this `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := proc.CPUProfile(*cpuProfile)
		if err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer func() { err = errors.Join(err, stop()) }()
	}
	conn, ctx, months, err := openWithMonths(ctx)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	defer conn.Close()
	b := &features.Builder{Tables: conn.Catalog}
	res, err := b.Build(ctx, months)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(res)
}

// tables are the tables runFiles knows by name.
var tables = map[string]lake.TableDef{
	"cdr":         lake.CDRTable,
	"bills":       lake.BillsTable,
	"subscribers": lake.SubscribersTable,
	"features":    lake.FeaturesTable,
}

// runFiles prints, per named table, the local paths of the data files of
// its current snapshot. A table with delete files is an error: its data
// files alone would not be its rows.
func runFiles(ctx context.Context, names []string, stdout io.Writer) error {
	if len(names) == 0 {
		return errors.New("files: want table names")
	}
	conn, ctx, err := open(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	out := map[string][]string{}
	for _, name := range names {
		def, ok := tables[name]
		if !ok {
			return fmt.Errorf("files: unknown table %q", name)
		}
		tbl, err := conn.Catalog.LoadTable(ctx, def.Ident())
		if err != nil {
			return fmt.Errorf("files: load %s: %w", name, err)
		}
		out[name] = []string{}
		if tbl.CurrentSnapshot() == nil {
			continue
		}
		tasks, err := tbl.Scan().PlanFiles(ctx)
		if err != nil {
			return fmt.Errorf("files: plan %s: %w", name, err)
		}
		for _, t := range tasks {
			if len(t.DeleteFiles)+len(t.EqualityDeleteFiles)+len(t.DeletionVectorFiles) > 0 {
				return fmt.Errorf("files: %s: %s has delete files", name, t.File.FilePath())
			}
			p, ok := strings.CutPrefix(t.File.FilePath(), "file://")
			if !ok {
				return fmt.Errorf("files: %s: %s is not a local file", name, t.File.FilePath())
			}
			out[name] = append(out[name], p)
		}
	}
	return json.NewEncoder(stdout).Encode(out)
}

// open opens the lake described by the environment.
// openWithMonths opens the lake and lists its bill months (the months a
// feature build builds), refusing a lake without any.
func openWithMonths(ctx context.Context) (*lake.Conn, context.Context, []time.Time, error) {
	conn, ctx, err := open(ctx)
	if err != nil {
		return nil, ctx, nil, err
	}
	months, err := features.BillMonths(ctx, conn.Catalog)
	if err == nil && len(months) == 0 {
		err = errors.New("no bill months in the lake")
	}
	if err != nil {
		conn.Close()
		return nil, ctx, nil, err
	}
	return conn, ctx, months, nil
}

func open(ctx context.Context) (*lake.Conn, context.Context, error) {
	cfg, err := lake.FromEnv(os.LookupEnv)
	if err != nil {
		return nil, ctx, err
	}
	return lake.Open(ctx, cfg)
}
