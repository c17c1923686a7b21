package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/telcolake/telcolake/lake"
)

// partLedger measures the exactly-once decision against a long history:
// files are ingested in batches (one-row CDR files, so the history is cheap
// to build), maintenance runs as its schedule would, and at each history
// size a sample of files already ingested is delivered again; each
// delivery's time is the ledger's decision (duplicate) for that file.
const partLedger = "ledger"

// ledgerSample is how many redeliveries are timed at each history size.
const ledgerSample = 300

type ledgerPoint struct {
	History       int
	P50, P99, Max float64 // ms per redelivered file
	CPU           float64 // ms of process CPU per redelivered file (mean)
	Snapshots     int     // crm.cdr snapshots in its metadata when measured
	MetadataBytes int64   // crm.cdr's metadata file before maintenance (every batch kept)
	LogMetaBytes  int64   // crm.ingest_log's, likewise
	BuildSeconds  float64 // ingesting the files since the previous point
}

type ledgerReport struct {
	Points []ledgerPoint
	Batch  int
	Date   time.Time
	Commit string
	Load   string
}

func ledgerKey(i int) string {
	return fmt.Sprintf("exports/cdr/2026/10/%02d/hist-%07d.csv", 1+i%28, i)
}

func (b *bench) measureLedger(ctx context.Context) (*ledgerReport, error) {
	sizes := b.opts.ledgerHistory
	dir := filepath.Join(b.work, "ledger")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "landing")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	env := map[string]string{
		lake.EnvWarehouse: "file://" + filepath.Join(dir, "warehouse"), lake.EnvCatalog: "sqlite://" + filepath.Join(dir, "catalog.db"),
		lake.EnvLandingBucket: "landing", lake.EnvPseudonymKey: "bench-pseudonym-key-0123456789", lake.EnvRegion: "us-east-1",
	}
	cfg, err := lake.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return nil, err
	}
	conn, ctx, err := lake.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("ledger: open the lake: %w", err)
	}
	defer conn.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	in := lake.NewIngester(cfg, conn.Catalog, lake.DirStore{Root: root}, quiet)
	policy := lake.DefaultMaintainConfig
	policy.SnapshotAge = 0 // keep the newest 10: the history lives in the ledger objects
	maint := lake.NewMaintainer(policy, conn.Catalog, quiet)
	maint.Defs = []lake.TableDef{lake.CDRTable, lake.IngestLogTable}

	object := func(i int) (lake.Object, error) {
		key := ledgerKey(i)
		p := filepath.Join(root, "landing", filepath.FromSlash(key))
		fi, err := os.Stat(p)
		if err != nil {
			return lake.Object{}, err
		}
		return lake.Object{Bucket: "landing", Key: key, ETag: lake.LocalETag(fi), Size: fi.Size()}, nil
	}
	write := func(i int) error {
		p := filepath.Join(root, "landing", filepath.FromSlash(ledgerKey(i)))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, queueCSV(i, 1), 0o644)
	}

	const batch = 1000
	rep := &ledgerReport{Batch: batch}
	done := 0
	for _, n := range sizes {
		t0 := time.Now()
		for done < n {
			end := min(n, done+batch)
			objs := make([]lake.Object, 0, end-done)
			for i := done; i < end; i++ {
				if err := write(i); err != nil {
					return nil, err
				}
				o, err := object(i)
				if err != nil {
					return nil, err
				}
				objs = append(objs, o)
			}
			for _, out := range in.IngestBatch(ctx, objs) {
				if out.Err != nil || out.Status != lake.StatusCommitted {
					return nil, fmt.Errorf("ledger: %s: status %s: %v", out.Source, out.Status, out.Err)
				}
			}
			done = end
			if done%10000 == 0 {
				log.Printf("ledger: %s files of history", thousands(int64(done)))
			}
		}
		var metaBytes [2]int64
		for i, def := range []lake.TableDef{lake.CDRTable, lake.IngestLogTable} {
			t, err := conn.Catalog.LoadTable(ctx, def.Ident())
			if err != nil {
				return nil, err
			}
			fi, err := os.Stat(strings.TrimPrefix(t.MetadataLocation(), "file://"))
			if err != nil {
				return nil, fmt.Errorf("ledger: metadata of %s: %w", def.Name, err)
			}
			metaBytes[i] = fi.Size()
		}
		if _, err := maint.Run(ctx); err != nil {
			return nil, fmt.Errorf("ledger: maintenance at %d files: %w", n, err)
		}
		build := time.Since(t0).Seconds()
		tbl, err := conn.Catalog.LoadTable(ctx, lake.CDRTable.Ident())
		if err != nil {
			return nil, err
		}
		var ms []float64
		cpu0 := processCPU()
		step := max(1, n/ledgerSample)
		for i := step / 2; i < n && len(ms) < ledgerSample; i += step {
			o, err := object(i)
			if err != nil {
				return nil, err
			}
			t := time.Now()
			res, err := in.Ingest(ctx, o)
			if err != nil {
				return nil, fmt.Errorf("ledger: redelivery of %s: %w", o.Key, err)
			}
			ms = append(ms, float64(time.Since(t).Microseconds())/1e3)
			if res.Status != lake.StatusDuplicate {
				return nil, fmt.Errorf("ledger: redelivery of %s at %d files of history: status %s, want duplicate", o.Key, n, res.Status)
			}
		}
		cpu := (processCPU() - cpu0).Seconds() * 1e3 / float64(len(ms))
		slices.Sort(ms)
		pt := ledgerPoint{History: n, CPU: cpu, P50: ms[len(ms)/2], P99: ms[min(len(ms)-1, len(ms)*99/100)], Max: ms[len(ms)-1],
			Snapshots: len(tbl.Metadata().Snapshots()), BuildSeconds: build, MetadataBytes: metaBytes[0], LogMetaBytes: metaBytes[1]}
		log.Printf("ledger: %s files of history: decision p50 %.2f ms, p99 %.2f ms (%d snapshots)", thousands(int64(n)), pt.P50, pt.P99, pt.Snapshots)
		rep.Points = append(rep.Points, pt)
	}
	rep.Date, rep.Commit = time.Now().UTC(), gitCommit(ctx, b.root)
	rep.Load = "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		rep.Load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return rep, nil
}

const (
	ledgerBegin = "<!-- ledger:begin -->"
	ledgerEnd   = "<!-- ledger:end -->"
)

func ledgerSection(r *ledgerReport, m machine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n## Exactly-once decision against a long history\n\n", ledgerBegin)
	var sizes []string
	for _, p := range r.Points {
		sizes = append(sizes, fmt.Sprint(p.History))
	}
	fmt.Fprintf(&b, "Measured %s at commit `%s` on %d CPUs (%s), load average %s at the end, by `make bench BENCH_FLAGS='-parts=ledger -ledger-history %s'`: "+
		"one-row CDR files ingested in-process (`Ingester.IngestBatch`, %s files a batch, file warehouse, SQLite catalog); at each history size "+
		"maintenance runs once (snapshots past the newest 10 expire, small files compacted), then %d files spread over the history are "+
		"delivered again one by one (`Ingester.Ingest`), each answered `duplicate`: its time is the ledger's decision (the snapshot summaries "+
		"still held, then the file's ledger object, and the ingest log's).\n\n",
		r.Date.Format("2006-01-02 15:04 UTC"), r.Commit, m.CPUs, m.CPUModel, r.Load, strings.Join(sizes, ","), thousands(int64(r.Batch)), ledgerSample)
	b.WriteString("| files of history | decision p50 | p99 | max | CPU per decision | crm.cdr snapshots kept | metadata before maintenance: crm.cdr, crm.ingest_log | building that history |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range r.Points {
		fmt.Fprintf(&b, "| %s | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %d | %.0f KB, %.0f KB | %.1f s |\n", thousands(int64(p.History)), p.P50, p.P99, p.Max, p.CPU, p.Snapshots,
			float64(p.MetadataBytes)/1e3, float64(p.LogMetaBytes)/1e3, p.BuildSeconds)
	}
	b.WriteString("\nWall times include waiting for a core at that load; CPU per decision is the process's user+system time over the sample, divided by its size.\n")
	b.WriteString(ledgerEnd + "\n")
	return b.String()
}

// processCPU is the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
