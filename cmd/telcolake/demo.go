package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/synth"
)

// runDemo implements 'telcolake demo': synthetic exports for a few thousand
// subscribers are dropped into a local landing folder the way source
// systems deliver them (late files, a duplicate, a malformed file),
// ingested into a local Iceberg lake, and summarised.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("demo", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dir := fl.String("dir", ".localdata/demo", "`directory` for the landing folder, the warehouse and the catalog; emptied first")
	subs := fl.Int("subs", 3000, "`subscribers` to generate")
	months := fl.Int("months", 3, "`months` of history")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("demo: %w", err)
	}
	root, err := filepath.Abs(*dir)
	if err != nil {
		return fmt.Errorf("demo: -dir: %w", err)
	}
	if err := os.RemoveAll(root); err != nil {
		return fmt.Errorf("demo: clean %s: %w", root, err)
	}
	landing := filepath.Join(root, "landing")
	cfg, err := demoConfig(root)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	say := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }

	say("telcolake demo: a telecom CRM lake on this machine (no AWS, no Docker)")
	say("")
	t0 := time.Now()
	say("1/3 generating exports for %d subscribers over %d months ...", *subs, *months)
	man, err := synth.Generate(ctx, synth.Config{Subscribers: *subs, Months: *months, Seed: 1, Gzip: true, Mess: true}, synth.DirSink(landing))
	if err != nil {
		return fmt.Errorf("demo: generate: %w", err)
	}
	broken := "exports/cdr/2026/11/01/cdr-20261101-resent.csv"
	if err := plantBrokenExport(landing, broken); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	deliveries := append(append([]string{}, man.Deliveries...), broken)
	var planted int
	for _, f := range man.Files {
		planted += f.BadRows
	}
	say("    %d files (%d malformed rows planted, one file delivered twice, late files, one broken file) in %.1fs",
		len(man.Files)+1, planted, time.Since(t0).Seconds())

	t1 := time.Now()
	say("2/3 ingesting %d deliveries into Iceberg tables ...", len(deliveries))
	cat, err := lake.OpenCatalog(ctx, cfg)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer cat.Close()
	if err := lake.EnsureTables(ctx, cat, cfg.Warehouse); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	in := lake.NewIngester(cfg, cat, lake.DirStore{Root: root}, log)
	var results []lake.Result
	failed := 0
	for i, key := range deliveries {
		fi, err := os.Stat(filepath.Join(landing, filepath.FromSlash(key)))
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		res, err := in.Ingest(ctx, lake.Object{Bucket: "landing", Key: key, ETag: lake.LocalETag(fi), Size: fi.Size()})
		if err != nil {
			fmt.Fprintln(stderr, "telcolake:", err)
			failed++
			continue
		}
		results = append(results, res)
		if (i+1)%20 == 0 || i+1 == len(deliveries) {
			say("    %3d/%d files, %.0fs", i+1, len(deliveries), time.Since(t1).Seconds())
		}
	}

	say("3/3 summary")
	byStatus := map[string]int{}
	for _, r := range results {
		byStatus[r.Status]++
	}
	say("")
	say("Files: %d committed, %d duplicate deliveries skipped, %d quarantined, %d rejected, %d failed",
		byStatus[lake.StatusCommitted]+byStatus[lake.StatusReplaced], byStatus[lake.StatusDuplicate],
		byStatus[lake.StatusQuarantined], byStatus[lake.StatusRejected], failed)
	say("")
	say("Rows per table:")
	for _, def := range []lake.TableDef{lake.CDRTable, lake.BillsTable, lake.SubscribersTable, lake.IngestLogTable} {
		at, err := lake.ReadTable(ctx, cat, def, def.Schema.Fields()[0].Name)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		say("  %-16s %10d", lake.Namespace+"."+def.Name, at.NumRows())
		at.Release()
	}
	say("")
	say("Rejected rows and files (full reports in %s):", filepath.Join(landing, "reports"))
	printRejects(stdout, landing, results)
	say("")
	say("Where the data lives:")
	say("  landing folder  %s", landing)
	say("  warehouse       %s", strings.TrimPrefix(cfg.Warehouse, "file://"))
	say("  catalog         %s", strings.TrimPrefix(cfg.Catalog, "sqlite://"))
	say("Run it again with 'make demo' (it starts from a clean %s each time).", *dir)
	say("Done in %.0fs.", time.Since(t0).Seconds())
	if failed > 0 {
		return fmt.Errorf("demo: %d files failed to ingest", failed)
	}
	return nil
}

// demoConfig is the lake configuration of the demo; environment variables
// of the same names override it.
func demoConfig(root string) (lake.Config, error) {
	defaults := map[string]string{
		lake.EnvWarehouse:     "file://" + filepath.Join(root, "warehouse"),
		lake.EnvCatalog:       "sqlite://" + filepath.Join(root, "catalog.db"),
		lake.EnvLandingBucket: "landing",
		lake.EnvPseudonymKey:  "demo-only-pseudonym-key-not-secret",
		lake.EnvRegion:        "us-east-1",
	}
	return lake.FromEnv(func(k string) (string, bool) {
		if v, ok := os.LookupEnv(k); ok && k != lake.EnvWarehouse && k != lake.EnvCatalog {
			return v, true
		}
		v, ok := defaults[k]
		return v, ok
	})
}

// plantBrokenExport writes a CDR file whose header a misconfigured
// mediation system mangled.
func plantBrokenExport(landing, key string) error {
	p := filepath.Join(landing, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	body := "CALLID;SUBSCRIBER;MSISDN;START;DURATION\nC1;S0000001;491700000001;2026-11-01 10:00:00;60\n"
	return os.WriteFile(p, []byte(body), 0o644)
}

// printRejects sums the rejected rows of all reports by reason and lists
// the files that were refused whole.
func printRejects(w io.Writer, landing string, results []lake.Result) {
	sort.Slice(results, func(i, j int) bool { return results[i].Source < results[j].Source })
	reasons := map[string]int64{}
	files, rows := 0, int64(0)
	var whole []lake.Result
	for _, r := range results {
		if r.Status == lake.StatusRejected || r.Status == lake.StatusQuarantined {
			whole = append(whole, r)
		}
		if r.ReportKey == "" || r.RowsRejected == 0 {
			continue
		}
		files++
		rows += r.RowsRejected
		raw, err := os.ReadFile(filepath.Join(landing, filepath.FromSlash(r.ReportKey)))
		if err != nil {
			continue
		}
		var rep lake.Report
		if json.NewDecoder(bytes.NewReader(raw)).Decode(&rep) != nil {
			continue
		}
		for _, rc := range rep.ByReason {
			col := rc.Column
			if col == "" {
				col = "(row)"
			}
			reasons[col+": "+rc.Reason] += rc.Rows
		}
	}
	fmt.Fprintf(w, "  %d rows rejected in %d files (the files' other rows were committed):\n", rows, files)
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return reasons[keys[i]] > reasons[keys[j]] })
	for _, k := range keys {
		fmt.Fprintf(w, "    %6d  %s\n", reasons[k], k)
	}
	for _, r := range whole {
		fmt.Fprintf(w, "  %s: %s\n    %s\n", r.Status, strings.TrimPrefix(r.Source, "s3://landing/"), r.Message)
	}
}
