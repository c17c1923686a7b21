package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/telcolake/telcolake/lake"
)

// runIngest ingests local export files through the same Ingester the
// ingest function uses: the directory plays the landing bucket, reports go
// to its reports/ folder, tables to TELCOLAKE_WAREHOUSE via TELCOLAKE_CATALOG.
func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dir := fl.String("landing", ".", "directory that plays the landing bucket; keys are paths relative to it")
	jsonOut := fl.Bool("json", false, "print one JSON result per file instead of a table")
	cpuProfile := fl.String("cpuprofile", "", "write a CPU profile (pprof) to this file")
	memLimit := fl.Int("memory-limit", defaultIngestMemoryMiB, "Go's soft memory limit in `MiB` (0: none); without the flag, GOMEMLIMIT wins when set")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: telcolake ingest [-landing DIR] [-json] [KEY ...]\n\nWithout keys, ingests every file under DIR/exports/ in key order.\nConfiguration comes from the environment (TELCOLAKE_WAREHOUSE, TELCOLAKE_CATALOG, ...; see README).")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return err
	}
	cfg, err := lake.FromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	if err := setMemoryLimit(fl, *memLimit); err != nil {
		return err
	}
	stop, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	root, err := filepath.Abs(*dir)
	if err != nil {
		return fmt.Errorf("-landing: %w", err)
	}
	keys := fl.Args()
	if len(keys) == 0 {
		if keys, err = exportKeys(root); err != nil {
			return err
		}
	}
	conn, ctx, err := lake.Open(ctx, cfg) // catalog (SQL or Glue) and every table
	if err != nil {
		return err
	}
	defer conn.Close()
	cat := conn.Catalog
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store := lake.DirStore{Root: filepath.Dir(root)}
	in := lake.NewIngester(cfg, cat, store, log)
	bucket := filepath.Base(root)
	enc := json.NewEncoder(stdout)
	failed := 0
	for _, key := range keys {
		key = filepath.ToSlash(strings.TrimPrefix(key, "./"))
		fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(key)))
		if err != nil {
			return fmt.Errorf("ingest %s: %w", key, err)
		}
		res, err := in.Ingest(ctx, lake.Object{Bucket: bucket, Key: key, ETag: lake.LocalETag(fi), Size: fi.Size()})
		if err != nil {
			fmt.Fprintln(stderr, "telcolake:", err)
			failed++
			continue
		}
		if *jsonOut {
			enc.Encode(res)
			continue
		}
		fmt.Fprintf(stdout, "%-11s %9d rows %6d rejected %6d duplicate %6d ms  %s\n", res.Status, res.RowsOK, res.RowsRejected, res.RowsDuplicate, res.DurationMS, key)
		if res.Message != "" {
			fmt.Fprintf(stdout, "            %s\n", res.Message)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files failed", failed, len(keys))
	}
	return nil
}

// exportKeys lists the files under root/exports in key order.
func exportKeys(root string) ([]string, error) {
	var keys []string
	err := filepath.WalkDir(filepath.Join(root, "exports"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			keys = append(keys, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list exports under %s: %w", root, err)
	}
	sort.Strings(keys)
	return keys, nil
}

// defaultIngestMemoryMiB is the soft memory limit of 'telcolake ingest', as
// the ingest function has one (the template's GOMEMLIMIT): with Go's
// default pacing alone the heap grows to twice what is live before a
// collection, and the 9.5M-row benchmark file (some 200 MB live: the
// file's duplicate-check keys, batches, writers) peaked at 505 MiB RSS;
// under this limit at 465 MiB (the rest of the RSS is the binary's pages
// and memory the runtime has not returned yet), with no CPU to see.
const defaultIngestMemoryMiB = 400

// setMemoryLimit applies -memory-limit: the flag when given, else
// GOMEMLIMIT when set (the runtime read it), else the default. It runs
// before the Ingester is made, which sizes its key cache by the limit.
func setMemoryLimit(fl *flag.FlagSet, mib int) error {
	given := false
	fl.Visit(func(f *flag.Flag) { given = given || f.Name == "memory-limit" })
	if !given && os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	switch {
	case mib < 0:
		return fmt.Errorf("-memory-limit %d: want MiB, 0 or more", mib)
	case mib == 0:
		debug.SetMemoryLimit(math.MaxInt64)
	default:
		debug.SetMemoryLimit(int64(mib) << 20)
	}
	return nil
}
