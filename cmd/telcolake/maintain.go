package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/telcolake/telcolake/lake"
)

// runMaintain runs one table maintenance run against the lake in the
// environment, as the maintain function does; flags override the
// TELCOLAKE_MAINTAIN_* settings.
func runMaintain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	mcfg, err := lake.MaintainConfigFromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("maintain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&mcfg.SnapshotAge, "snapshot-age", mcfg.SnapshotAge, "keep snapshots younger than this (the time-travel window)")
	fs.IntVar(&mcfg.KeepSnapshots, "keep", mcfg.KeepSnapshots, "keep at least this many newest snapshots per table (≥ 1)")
	fs.DurationVar(&mcfg.OrphanAge, "orphan-age", mcfg.OrphanAge, "delete unreferenced files older than this (≥ 1h)")
	targetMB := fs.Int64("target-mb", mcfg.TargetFileBytes>>20, "compact data files to this size in MiB")
	only := fs.String("tables", "", "comma-separated table names (e.g. cdr,ingest_log); default every crm.* table")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: telcolake maintain [flags]\n\nMaintains every crm.* table: deletes orphan files, compacts small data files,\nmerges manifests, expires snapshots beyond the retention, and appends what it did to\ncrm.maintenance_log. Configuration comes from the environment (TELCOLAKE_WAREHOUSE,\nTELCOLAKE_CATALOG, TELCOLAKE_MAINTAIN_*, ...; see README).\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("maintain: %w", err)
	}
	mcfg.TargetFileBytes = *targetMB << 20
	if err := mcfg.Validate(); err != nil {
		return fmt.Errorf("maintain: %w", err)
	}
	conn, ctx, err := lake.OpenEnv(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	m := lake.NewMaintainer(mcfg, conn.Catalog, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	m.AWS = &conn.AWS
	if *only != "" {
		byName := map[string]lake.TableDef{}
		for _, d := range lake.Tables() {
			byName[d.Name] = d
		}
		for _, n := range strings.Split(*only, ",") {
			d, ok := byName[strings.TrimPrefix(strings.TrimSpace(n), lake.Namespace+".")]
			if !ok {
				return fmt.Errorf("maintain: -tables: no table %q in %s", n, lake.Namespace)
			}
			m.Defs = append(m.Defs, d)
		}
	}
	rep, runErr := m.Run(ctx)
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
		return runErr
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\tdata files\tdata MB\tmanifests\tsnapshots\tmetadata KB\torphans\tfiles removed\t")
	for _, t := range rep.Tables {
		fmt.Fprintf(tw, "%s\t%d → %d\t%.1f → %.1f\t%d → %d\t%d → %d\t%d → %d\t%d\t%d\t\n", t.Table,
			t.DataFilesBefore, t.DataFilesAfter, float64(t.DataBytesBefore)/(1<<20), float64(t.DataBytesAfter)/(1<<20),
			t.ManifestsBefore, t.ManifestsAfter, t.SnapshotsBefore, t.SnapshotsAfter,
			t.MetadataBytesBefore>>10, t.MetadataBytesAfter>>10, t.OrphansRemoved, t.ExpiredFilesRemoved)
	}
	tw.Flush()
	fmt.Fprintln(stdout, "maintenance:", rep.Summary())
	return runErr
}
