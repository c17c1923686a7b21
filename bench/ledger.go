package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
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

// The first ledgerQueueFiles files of the history are ingested
// ledgerQueueBatch at a time (the ingest queue's batch size), the rest
// -ledger-batch at a time.
const (
	ledgerQueueBatch = 100
	ledgerQueueFiles = 10_000
	// ledgerTail is how many files before each measurement come at the
	// queue's batch size: more than the snapshots maintenance keeps.
	ledgerTail = 2_000
)

type ledgerPoint struct {
	History       int
	P50, P99, Max float64 // ms per redelivered file
	CPU           float64 // ms of process CPU per redelivered file (mean)
	// CPUP99 and WaitP99 are the p99 of each decision's process CPU and of
	// its threads' time runnable but not running (waiting for a core), ms.
	CPUP99, WaitP99 float64
	Snapshots       int     // crm.cdr snapshots in its metadata when measured
	MetadataBytes   int64   // crm.cdr's metadata file before maintenance (every batch kept)
	LogMetaBytes    int64   // crm.ingest_log's, likewise
	BuildSeconds    float64 // ingesting the files since the previous point
	First           float64 // ms of the first redelivery after maintenance (the tables' new metadata parsed)
	Metadata        *queueMetadata
}

type ledgerReport struct {
	Points []ledgerPoint
	// Batch is the files per IngestBatch past the first QueueFiles, which
	// come QueueBatch at a time.
	Batch, QueueBatch, QueueFiles int
	Date                          time.Time
	Commit                        string
	Load                          string
}

// ledgerFilesPerDay is how many files of the history fall on one day:
// the operator (one file every 15 minutes from each of ~100
// switches), so a batch touches one day as the queue's would.
const ledgerFilesPerDay = 10_000

func ledgerDay(i int) int { return 1 + (i/ledgerFilesPerDay)%28 }

func ledgerKey(i int) string {
	return fmt.Sprintf("exports/cdr/2026/10/%02d/hist-%07d.csv", ledgerDay(i), i)
}

// ledgerCSV is history file i: one CDR row on its day.
func ledgerCSV(i int) []byte {
	sub := (i * 7919) % 200000
	return fmt.Appendf(nil, "call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n"+
		"H%07d,S%07d,4917%08d,4930%06d,offnet,2026-10-%02dT%02d:%02d:%02dZ,%d,voice,out,false,false,CELL%03d,North,0,0.%04d\n",
		i, sub, sub, i%999983, ledgerDay(i), (i/400)%24, (i/7)%60, i%60, 1+i%900, i%500, i%10000)
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
		return os.WriteFile(p, ledgerCSV(i), 0o644)
	}

	rep := &ledgerReport{Batch: b.opts.ledgerBatch, QueueBatch: ledgerQueueBatch, QueueFiles: ledgerQueueFiles}
	done, maintained := 0, false
	ingest := func(end int) error {
		objs := make([]lake.Object, 0, end-done)
		for i := done; i < end; i++ {
			if err := write(i); err != nil {
				return err
			}
			o, err := object(i)
			if err != nil {
				return err
			}
			objs = append(objs, o)
		}
		for _, out := range in.IngestBatch(ctx, objs) {
			if out.Err != nil || out.Status != lake.StatusCommitted {
				return fmt.Errorf("ledger: %s: status %s: %v", out.Source, out.Status, out.Err)
			}
		}
		done = end
		if done%10000 == 0 {
			log.Printf("ledger: %s files of history", thousands(int64(done)))
		}
		return nil
	}
	for _, n := range sizes {
		t0 := time.Now()
		var stopBuild func()
		if b.opts.ledgerProfile != "" && n == sizes[len(sizes)-1] {
			if stopBuild, err = startProfile(b.opts.ledgerProfile + ".build"); err != nil {
				return nil, err
			}
		}
		for done < n {
			// The first files come as the queue delivers them (its batch
			// size, no maintenance in between: a busy day); past them, big
			// batches with maintenance after each, as its schedule would
			// run between them, so a long history is quick to build; the
			// last ledgerTail files before a measurement come at the
			// queue's size again, so the snapshots maintenance keeps are
			// the queue's at every size, as in a deployment.
			end := min(n, done+ledgerQueueBatch)
			if done >= ledgerQueueFiles && done < n-ledgerTail {
				end = min(n-ledgerTail, done+b.opts.ledgerBatch)
				if !maintained {
					if _, err := maint.Run(ctx); err != nil {
						return nil, fmt.Errorf("ledger: maintenance at %d files: %w", done, err)
					}
				}
			}
			if err := ingest(end); err != nil {
				return nil, err
			}
			maintained = false
		}
		if stopBuild != nil {
			stopBuild()
		}
		build := time.Since(t0).Seconds()
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
		md, err := measureMetadata(ctx, "ledger", conn.Catalog, maint)
		if err != nil {
			return nil, fmt.Errorf("ledger: at %d files: %w", n, err)
		}
		maintained = true
		tbl, err := conn.Catalog.LoadTable(ctx, lake.CDRTable.Ident())
		if err != nil {
			return nil, err
		}
		var ms, cpus, waits []float64
		if b.opts.ledgerProfile != "" && n == sizes[len(sizes)-1] {
			stop, err := startProfile(b.opts.ledgerProfile)
			if err != nil {
				return nil, err
			}
			defer stop()
		}
		cpu0 := processCPU()
		step := max(1, n/ledgerSample)
		for i := step / 2; i < n && len(ms) < ledgerSample; i += step {
			o, err := object(i)
			if err != nil {
				return nil, err
			}
			w0, c0 := runQueueWait(), processCPU()
			t := time.Now()
			res, err := in.Ingest(ctx, o)
			if err != nil {
				return nil, fmt.Errorf("ledger: redelivery of %s: %w", o.Key, err)
			}
			ms = append(ms, float64(time.Since(t).Microseconds())/1e3)
			cpus = append(cpus, (processCPU()-c0).Seconds()*1e3)
			waits = append(waits, (runQueueWait()-w0).Seconds()*1e3)
			if res.Status != lake.StatusDuplicate {
				return nil, fmt.Errorf("ledger: redelivery of %s at %d files of history: status %s, want duplicate", o.Key, n, res.Status)
			}
		}
		cpu := (processCPU() - cpu0).Seconds() * 1e3 / float64(len(ms))
		first := ms[0]
		p99 := func(v []float64) float64 { return v[min(len(v)-1, len(v)*99/100)] }
		slices.Sort(ms)
		slices.Sort(cpus)
		slices.Sort(waits)
		pt := ledgerPoint{History: n, CPU: cpu, P50: ms[len(ms)/2], P99: p99(ms), Max: ms[len(ms)-1], First: first, CPUP99: p99(cpus), WaitP99: p99(waits),
			Snapshots: len(tbl.Metadata().Snapshots()), BuildSeconds: build, MetadataBytes: metaBytes[0], LogMetaBytes: metaBytes[1], Metadata: md}
		log.Printf("ledger: %s files of history: decision p50 %.2f ms, p99 %.2f ms, CPU %.2f ms (%d snapshots)", thousands(int64(n)), pt.P50, pt.P99, pt.CPU, pt.Snapshots)
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
		"one-row CDR files ingested in-process through the real batch ledger (`Ingester.IngestBatch`, file warehouse, SQLite catalog): the first %s "+
		"%s a batch as the ingest queue delivers them, with no maintenance between, the rest %s a batch with one maintenance run after each, "+
		"except the last %s before each size, again %s a batch (so the snapshots kept are the queue's at every size). "+
		"At each history size maintenance runs once (snapshots past the newest 10 expire, small files compacted, manifests merged), then %d files "+
		"spread over the history are delivered again one by one (`Ingester.Ingest`), each answered `duplicate`: its time is the ledger's decision "+
		"(both tables' metadata pointers, the snapshot summaries still held, then the file's ledger object, and the ingest log's).\n\n",
		r.Date.Format("2006-01-02 15:04 UTC"), r.Commit, m.CPUs, m.CPUModel, r.Load, strings.Join(sizes, ","),
		thousands(int64(r.QueueFiles)), thousands(int64(r.QueueBatch)), thousands(int64(r.Batch)),
		thousands(ledgerTail), thousands(int64(r.QueueBatch)), ledgerSample)
	b.WriteString("| files of history | decision p50 | p99 | max | CPU per decision | CPU p99 | waiting for a core p99 | first decision after maintenance | crm.cdr snapshots kept | metadata before maintenance: crm.cdr, crm.ingest_log | building that history |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range r.Points {
		fmt.Fprintf(&b, "| %s | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %d | %.0f KB, %.0f KB | %.1f s |\n", thousands(int64(p.History)), p.P50, p.P99, p.Max, p.CPU, p.CPUP99, p.WaitP99, p.First, p.Snapshots,
			float64(p.MetadataBytes)/1e3, float64(p.LogMetaBytes)/1e3, p.BuildSeconds)
	}
	b.WriteString("\nWall times include waiting for a core at that load; CPU per decision is the process's user+system time over the sample, divided by its size; " +
		"CPU p99 is the 99th percentile of each decision's process CPU, waiting for a core p99 that of the time the process's threads were runnable but not running " +
		"during one decision (/proc/self/task/*/schedstat, summed over the threads, so it can exceed the wall time): a wall p99 far above the CPU p99 while the threads " +
		"wait that long for a core is the machine's load, not the ledger's work. " +
		"A table's metadata file is parsed once per version in a process (`lake` caches the parsed table by metadata location), so the first " +
		"decision after a commit or maintenance pays for parsing what the tables keep; the next ones read only the two metadata pointers.\n")
	b.WriteString("\n### Maintenance at each history size\n\nThe maintenance run before the decisions above, and a `lake.Scan` of crm.cdr (call_id, duration_s) before and after it:\n\n")
	b.WriteString("| files of history | table | metadata file KB | manifests | data files | mean data file KB | snapshots | run | crm.cdr scan |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
	mean := func(bytes, n int64) float64 {
		if n == 0 {
			return 0
		}
		return float64(bytes) / float64(n) / 1024
	}
	for _, p := range r.Points {
		md := p.Metadata
		if md == nil {
			continue
		}
		for i, t := range md.Tables {
			run, scan := "", ""
			if i == 0 {
				run = fmt.Sprintf("%.1f s", md.MaintainSeconds)
				scan = fmt.Sprintf("%.3f s (%d files) → %.3f s (%d files), %s rows", md.ScanBefore, md.ScanFilesBefore, md.ScanAfter, md.ScanFilesAfter, thousands(md.ScanRows))
			}
			fmt.Fprintf(&b, "| %s | %s | %.0f → %.0f | %d → %d | %d → %d | %.1f → %.1f | %d → %d | %s | %s |\n", thousands(int64(p.History)), t.Table,
				float64(t.MetadataBytesBefore)/1024, float64(t.MetadataBytesAfter)/1024, t.ManifestsBefore, t.ManifestsAfter,
				t.DataFilesBefore, t.DataFilesAfter, mean(t.DataBytesBefore, t.DataFilesBefore), mean(t.DataBytesAfter, t.DataFilesAfter),
				t.SnapshotsBefore, t.SnapshotsAfter, run, scan)
		}
	}
	b.WriteString(ledgerEnd + "\n")
	return b.String()
}

// startProfile starts a CPU profile written to path; stop ends it.
func startProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("ledger: cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("ledger: cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// runQueueWait is the time this process's threads have spent runnable
// but waiting for a core (the second field of each thread's schedstat);
// 0 where /proc does not say.
func runQueueWait() time.Duration {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/schedstat")
		if err != nil {
			continue // the thread ended
		}
		if f := strings.Fields(string(b)); len(f) > 1 {
			if v, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				sum += v
			}
		}
	}
	return time.Duration(sum)
}

// processCPU is the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
