package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/telcolake/telcolake/lake"
)

// partIngestMem measures the peak memory of one ingest batch of daily CDR
// files (the shape that peaked at about 2 GB in make scale at 100k
// subscribers): -ingestmem-files files of -ingestmem-rows rows, one day
// each, ingested by one IngestBatch in a child process, whose peak RSS
// (wait4) is set against the ingest function's MemorySize.
const partIngestMem = "ingestmem"

// ingestMemMode is the hidden first argument of the child that ingests.
const ingestMemMode = "-ingestmem-child"

type ingestMemReport struct {
	Files, RowsPerFile int
	CSVBytes           int64
	Rows               int64
	Wall, CPU          time.Duration
	MaxRSSMiB          float64
	SharedBatchMiB     int
	Workers            int
	GoMemLimit         string // the child's GOMEMLIMIT, if set
	Date               time.Time
	Commit, Load       string
}

// ingestMemAnswer is what the child prints.
type ingestMemAnswer struct {
	Rows   int64 `json:"rows"`
	Failed int   `json:"failed"`
}

// writeMemCSV writes one day of CDR rows from many subscribers, hours and
// cells to path, streamed (this process's memory counts in nothing, but
// a bench holding 1 GB of CSV is a poor neighbour), and returns its size.
func writeMemCSV(path string, day, rows int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	b := bufio.NewWriterSize(f, 1<<20)
	n, _ := b.WriteString("call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n")
	size := int64(n)
	for r := range rows {
		sub := (day*7919 + r*104729) % 100000
		n, _ := fmt.Fprintf(b, "M%02d-%07d,S%07d,4917%08d,4930%06d,offnet,2026-10-%02dT%02d:%02d:%02dZ,%d,voice,out,false,false,CELL%04d,North,0,0.%04d\n",
			day, r, sub, sub, (day+r*31)%999983, day, (r/3600)%24, (r/60)%60, r%60, 1+r%900, r%2000, r%10000)
		size += int64(n)
	}
	if err := b.Flush(); err != nil {
		return 0, err
	}
	return size, f.Close()
}

func ingestMemEnv(dir string) map[string]string {
	return map[string]string{
		lake.EnvWarehouse: "file://" + filepath.Join(dir, "warehouse"), lake.EnvCatalog: "sqlite://" + filepath.Join(dir, "catalog.db"),
		lake.EnvLandingBucket: "landing", lake.EnvPseudonymKey: "bench-pseudonym-key-0123456789", lake.EnvRegion: "us-east-1",
	}
}

func (b *bench) measureIngestMem(ctx context.Context) (*ingestMemReport, error) {
	o := b.opts
	dir := filepath.Join(b.work, "ingestmem")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	rep := &ingestMemReport{Files: o.ingestMemFiles, RowsPerFile: o.ingestMemRows, SharedBatchMiB: lake.DefaultSharedBatchBytes >> 20,
		Workers: lake.DefaultBatchWorkers, GoMemLimit: os.Getenv("GOMEMLIMIT")}
	if o.ingestMemSharedMiB > 0 {
		rep.SharedBatchMiB = o.ingestMemSharedMiB
	}
	if o.ingestMemWorkers > 0 {
		rep.Workers = o.ingestMemWorkers
	}
	for d := 1; d <= o.ingestMemFiles; d++ {
		p := filepath.Join(dir, "landing", "landing", "exports", "cdr", "2026", "10", fmt.Sprintf("%02d", 1+(d-1)%31), fmt.Sprintf("switch-%03d.csv", d))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		n, err := writeMemCSV(p, 1+(d-1)%31, o.ingestMemRows)
		if err != nil {
			return nil, err
		}
		rep.CSVBytes += n
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	log.Printf("ingestmem: one batch of %d files of %d rows (%.0f MB of CSV) in a child process", o.ingestMemFiles, o.ingestMemRows, float64(rep.CSVBytes)/1e6)
	res, out, err := runChild(exec.CommandContext(ctx, self, ingestMemMode, dir, strconv.Itoa(o.ingestMemSharedMiB), strconv.Itoa(o.ingestMemWorkers), o.ingestMemHeapProfile))
	if err != nil {
		return nil, fmt.Errorf("ingestmem: %w", err)
	}
	var a ingestMemAnswer
	if err := json.Unmarshal(out, &a); err != nil || a.Failed > 0 {
		return nil, fmt.Errorf("ingestmem: child answered %q (%v)", out, err)
	}
	rep.Rows, rep.Wall, rep.CPU, rep.MaxRSSMiB = a.Rows, res.Wall, res.CPU, float64(res.MaxRSSKiB)/1024
	rep.Date, rep.Commit = time.Now().UTC(), gitCommit(ctx, b.root)
	rep.Load = "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		rep.Load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return rep, nil
}

// runIngestMem is the child: one IngestBatch of every file under dir's
// landing bucket, into a lake in dir; it prints an ingestMemAnswer. With a
// HEAP-PROFILE path it writes the heap profile of the largest heap seen.
func runIngestMem(ctx context.Context, args []string) error {
	if len(args) != 4 {
		return errors.New("usage: bench " + ingestMemMode + " DIR SHARED-MIB WORKERS HEAP-PROFILE")
	}
	if args[3] != "" {
		stop := profileHeapPeak(args[3])
		defer stop()
	}
	dir := args[0]
	sharedMiB, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	workers, err := strconv.Atoi(args[2])
	if err != nil {
		return err
	}
	env := ingestMemEnv(dir)
	cfg, err := lake.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return err
	}
	conn, ctx, err := lake.Open(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open the lake: %w", err)
	}
	defer conn.Close()
	store := lake.DirStore{Root: filepath.Join(dir, "landing")}
	var objs []lake.Object
	err = store.List(ctx, "landing", "exports/", func(l lake.Listed) error {
		objs = append(objs, lake.Object{Bucket: "landing", Key: l.Key, ETag: l.ETag, Size: l.Size})
		return nil
	})
	if err != nil {
		return err
	}
	in := lake.NewIngester(cfg, conn.Catalog, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	in.SharedBatchBytes, in.BatchWorkers = int64(sharedMiB)<<20, workers
	var a ingestMemAnswer
	for _, out := range in.IngestBatch(ctx, objs) {
		if out.Err != nil || out.Status != lake.StatusCommitted {
			a.Failed++
			fmt.Fprintf(os.Stderr, "%s: %s %v\n", out.Source, out.Status, out.Err)
		}
		a.Rows += out.RowsOK
	}
	return json.NewEncoder(os.Stdout).Encode(a)
}

// profileHeapPeak writes a heap profile to path whenever the heap in use
// grows a twentieth past the largest one profiled (sampled every 100 ms),
// until stop: the profile left is of the last GC before the peak. Each
// new high of the process's RSS goes to path.rss with the runtime's
// memory figures at that moment.
func profileHeapPeak(path string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		trace, err := os.Create(path + ".rss")
		if err != nil {
			log.Printf("ingestmem: heap profile: %v", err)
			return
		}
		defer trace.Close()
		var profiled, maxRSS uint64
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if rss := vmRSS(); rss > maxRSS {
				maxRSS = rss
				fmt.Fprintf(trace, "%s rss %d MiB: heap in use %d, idle %d, released %d, sys %d, stacks %d, gc sys %d, other %d MiB; %d GCs\n",
					time.Now().UTC().Format("15:04:05.0"), rss>>20, ms.HeapInuse>>20, ms.HeapIdle>>20, ms.HeapReleased>>20, ms.Sys>>20, ms.StackSys>>20, ms.GCSys>>20, ms.OtherSys>>20, ms.NumGC)
			}
			if ms.HeapInuse < profiled+profiled/20 {
				continue
			}
			profiled = ms.HeapInuse
			f, err := os.Create(path)
			if err != nil {
				log.Printf("ingestmem: heap profile: %v", err)
				return
			}
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				log.Printf("ingestmem: heap profile: %v", err)
			}
			f.Close()
			log.Printf("ingestmem: heap profile at %d MiB in use", profiled>>20)
		}
	}()
	return func() { close(done); <-finished }
}

// vmRSS is the process's resident set in bytes (0 if unknown).
func vmRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

const (
	ingestMemBegin = "<!-- ingestmem:begin -->"
	ingestMemEnd   = "<!-- ingestmem:end -->"
)

func ingestMemSection(r *ingestMemReport, m machine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n## Memory of one ingest batch\n\n", ingestMemBegin)
	fmt.Fprintf(&b, "Measured %s at commit `%s` on %d CPUs (%s), load average %s at the end, by `make bench BENCH_FLAGS='-parts=%s -ingestmem-files %d -ingestmem-rows %d'`: "+
		"%d daily CDR files of %s rows (%.0f MB of CSV) ingested by one `Ingester.IngestBatch` in a child process (file warehouse, SQLite catalog), "+
		"its peak RSS from wait4, %d files read at once. The batch holds at most %d MiB of Arrow rows for shared data files; GOMEMLIMIT %s. The ingest function has `MemorySize: 1024`.\n\n",
		r.Date.Format("2006-01-02 15:04 UTC"), r.Commit, m.CPUs, m.CPUModel, r.Load, partIngestMem, r.Files, r.RowsPerFile,
		r.Files, thousands(int64(r.RowsPerFile)), float64(r.CSVBytes)/1e6, r.Workers, r.SharedBatchMiB, cmp.Or(r.GoMemLimit, "unset"))
	b.WriteString("| files | rows committed | wall | CPU | peak RSS |\n|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| %d | %s | %.1f s | %.1f s | %.0f MiB |\n", r.Files, thousands(r.Rows), r.Wall.Seconds(), r.CPU.Seconds(), r.MaxRSSMiB)
	b.WriteString(ingestMemEnd + "\n")
	return b.String()
}
