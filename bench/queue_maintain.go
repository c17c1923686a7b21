package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"time"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/localstack"
)

// queueMetadata is what one maintenance run did to the tables the queue
// part filled, and how long a scan of crm.cdr took before and after.
type queueMetadata struct {
	Tables                          []lake.TableMaintenance
	ScanBefore, ScanAfter           float64 // seconds
	ScanRows                        int64
	ScanFilesBefore, ScanFilesAfter int64
	MaintainSeconds                 float64
}

// queueMaintenancePolicy is the policy of the metadata measurement: every
// snapshot past the newest 10 expires (no time-travel window), small
// files are compacted to 128 MiB, orphans older than an hour go.
var queueMaintenancePolicy = lake.MaintainConfig{SnapshotAge: 0, KeepSnapshots: 10, OrphanAge: time.Hour, TargetFileBytes: 128 << 20}

// measureQueueMetadata scans crm.cdr, runs maintenance once on crm.cdr
// and crm.ingest_log, and scans again.
func measureQueueMetadata(ctx context.Context, st *localstack.Stack, catalog string) (*queueMetadata, error) {
	cfg := lake.Config{Warehouse: "s3://" + st.Buckets["LakeBucket"] + "/warehouse", Catalog: catalog,
		Region: localstack.Region, EndpointURL: st.S3.Endpoint()}
	// One SDK configuration for the scans and the run, as the maintain
	// function has (lake.Open): one connection pool for the table IO.
	awsCfg, err := lake.LoadAWSConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ctx = lake.WithAWS(ctx, &awsCfg)
	cat, err := lake.OpenCatalog(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer cat.Close()
	m := lake.NewMaintainer(queueMaintenancePolicy, cat, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.AWS = &awsCfg
	m.Defs = []lake.TableDef{lake.CDRTable, lake.IngestLogTable}
	return measureMetadata(ctx, "queue", cat, m)
}

// measureMetadata scans crm.cdr, runs maintenance m once, and scans
// again: what the run did to each table and the scan's time before and
// after (rows must match).
func measureMetadata(ctx context.Context, part string, tables lake.TableLoader, m *lake.Maintainer) (*queueMetadata, error) {
	scan := func() (float64, int64, int64, error) {
		var cost lake.ScanCost
		var rows int64
		t0 := time.Now()
		for b, err := range lake.Scan(ctx, tables, lake.CDRTable, lake.Select("call_id", "duration_s"), lake.CountInto(&cost)) {
			if err != nil {
				return 0, 0, 0, fmt.Errorf("scan crm.cdr: %w", err)
			}
			rows += int64(b.Len())
		}
		return time.Since(t0).Seconds(), rows, cost.DataFiles, nil
	}
	md := &queueMetadata{}
	var err error
	if md.ScanBefore, md.ScanRows, md.ScanFilesBefore, err = scan(); err != nil {
		return nil, err
	}
	log.Printf("%s: crm.cdr scanned in %.2f s (%d rows, %d data files); running maintenance", part, md.ScanBefore, md.ScanRows, md.ScanFilesBefore)
	t0 := time.Now()
	rep, err := m.Run(ctx)
	md.MaintainSeconds = time.Since(t0).Seconds()
	if err != nil {
		return nil, fmt.Errorf("%s: maintenance: %w", part, err)
	}
	md.Tables = rep.Tables
	var after int64
	if md.ScanAfter, after, md.ScanFilesAfter, err = scan(); err != nil {
		return nil, err
	}
	if after != md.ScanRows {
		return nil, fmt.Errorf("%s: crm.cdr has %d rows after maintenance, %d before", part, after, md.ScanRows)
	}
	return md, nil
}

// metadataSection renders the maintenance measurement as markdown.
func metadataSection(md *queueMetadata, files int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n### Metadata after %s files and one maintenance run\n\n", thousands(int64(files)))
	fmt.Fprintf(&b, "One `lake.Maintainer` run (%.1f s) on crm.cdr and crm.ingest_log right after the files above, policy: keep the newest %d snapshots (no time-travel window), compact files under 75%% of %d MiB, orphans older than %s.\n\n",
		md.MaintainSeconds, queueMaintenancePolicy.KeepSnapshots, queueMaintenancePolicy.TargetFileBytes>>20, queueMaintenancePolicy.OrphanAge)
	b.WriteString("| table | metadata file KB | manifests | data files | mean data file KB | snapshots |\n|---|---:|---:|---:|---:|---:|\n")
	mean := func(bytes, n int64) float64 {
		if n == 0 {
			return 0
		}
		return float64(bytes) / float64(n) / 1024
	}
	for _, t := range md.Tables {
		fmt.Fprintf(&b, "| %s | %.0f → %.0f | %d → %d | %d → %d | %.0f → %.0f | %d → %d |\n", t.Table,
			float64(t.MetadataBytesBefore)/1024, float64(t.MetadataBytesAfter)/1024, t.ManifestsBefore, t.ManifestsAfter,
			t.DataFilesBefore, t.DataFilesAfter, mean(t.DataBytesBefore, t.DataFilesBefore), mean(t.DataBytesAfter, t.DataFilesAfter),
			t.SnapshotsBefore, t.SnapshotsAfter)
	}
	fmt.Fprintf(&b, "\ncrm.cdr scan (`lake.Scan` of call_id and duration_s, %s rows, through the local S3): **%.2f s before** (%d data files), **%.2f s after** compaction (%d data files).\n",
		thousands(md.ScanRows), md.ScanBefore, md.ScanFilesBefore, md.ScanAfter, md.ScanFilesAfter)
	return b.String()
}
