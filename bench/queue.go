package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/localstack"
)

// partQueue measures many small files through the local stack: the
// landing bucket's notifications, the ingest queue, its event source
// mapping and the real ingest function, as in AWS.
const partQueue = "queue"

// queueFunction is the ingest function's name in the local stack.
const queueFunction = "ingest"

// Many-small-files target of issue 13.
const queueFilesTarget = 100.0 // files/s

// queueCPUWindow is how many files the first and last CPU figures cover.
// Files are answered a batch at a time while another batch is halfway,
// so a window's figure is within about half a batch of files of it.
const queueCPUWindow = 1000

// queueReport is what the queue part measured.
type queueReport struct {
	Files, RowsPerFile int
	BatchSize, Window  string
	Concurrency        int // batches in the function at once
	LoadStart          string
	UploadSeconds      float64 // first upload to last upload done
	Batches            int64   // invocations of the event source mapping
	FunctionSeconds    float64 // those invocations' durations, added up
	Seconds            float64 // first upload to last file committed
	Rows               int64   // rows committed
	Failed             int     // files not committed
	CDRCommits         int     // snapshots crm.cdr gained
	LogCommits         int     // snapshots crm.ingest_log gained
	P50, P99, Max      float64 // seconds from upload to committed
	// Swept: files whose upload's webhook call never reached the stack
	// (versitygw posts each event once, with a 3 s timeout and no retry),
	// announced later by the stack's sweep of the landing bucket; SweptP50
	// and SweptMax are their upload → committed times.
	Swept              int
	SweptP50, SweptMax float64
	// CPU time used while the files went through: the function processes
	// (children of this one named bootstrap), the other children (the local
	// S3 server), and this process (the local queue, the Lambda runtime
	// API and the uploads).
	FunctionCPU, S3CPU, StackCPU float64 // seconds
	// The function's CPU per file over the first and the last
	// queueCPUWindow files committed (runs of 3 windows or more), taken
	// when those deliveries arrive: whether a file costs more late in the
	// day than early.
	EarlyCPU, LateCPU float64 // milliseconds per file
	Date              time.Time
	Commit            string
	Metadata          *queueMetadata // one maintenance run after the files
	MetadataErr       string         // why that run failed, if it did
}

func (r *queueReport) filesPerSec() float64 { return float64(r.Files-r.Failed) / r.Seconds }
func (r *queueReport) rowsPerSec() float64  { return float64(r.Rows) / r.Seconds }

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// The part's files follow an operator's mediation: each of queueSwitches
// switches drops one file every 15 minutes, in time order, so 10,000 files
// are about a day (files of one batch meet one or two days' partitions).
const queueSwitches = 100

// queueStart is the start of file i's 15 minutes.
func queueStart(i int) time.Time {
	return time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i/queueSwitches) * 15 * time.Minute)
}

// queueKey is the landing key of file i.
func queueKey(i int) string {
	return fmt.Sprintf("exports/cdr/%s/switch%03d-%06d.csv", queueStart(i).Format("2006/01/02"), i%queueSwitches, i)
}

// queueCSV is file i of the part: rows CDRs of one switch's 15 minutes.
func queueCSV(i, rows int) []byte {
	return laketest.SlotCSV(fmt.Sprintf("Q%06d", i), i, queueStart(i), rows)
}

func (b *bench) measureQueue(ctx context.Context) (*queueReport, error) {
	o := b.opts
	dir := filepath.Join(b.work, "queue")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	tpl, err := localstack.LoadTemplate(filepath.Join(b.root, "infra", "template.yaml"))
	if err != nil {
		return nil, err
	}
	// Only the ingest function takes part: build and start only it.
	var fns []localstack.FunctionDef
	for _, f := range tpl.Functions {
		if f.Name == queueFunction {
			fns = append(fns, f)
		}
	}
	log.Printf("queue: building the ingest function")
	bins, err := localstack.Build(ctx, b.root, dir, &localstack.Template{Functions: fns})
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	s3Addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	type done struct {
		d  localstack.Delivery
		at time.Time
	}
	deliveries := make(chan done, o.queueFiles+16)
	catalog := "sqlite://" + filepath.Join(dir, "catalog.db")
	var logs io.Writer = io.Discard
	if o.keep {
		f, err := os.Create(filepath.Join(b.work, "queue-stack.log"))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		logs = f
	}
	swept := &sweepWatch{w: logs, keys: map[string]bool{}}
	logs = swept
	st, err := localstack.Start(ctx, localstack.Config{
		Dir: dir, Repo: b.root, S3Addr: s3Addr, HTTPAddr: "127.0.0.1:0", LambdaAddr: "127.0.0.1:0",
		Params: map[string]string{"CatalogURI": catalog, "PseudonymKey": "bench-pseudonym-key-0123456789",
			"IngestBatchSize": strconv.Itoa(o.queueBatch), "IngestBatchWindow": strconv.Itoa(o.queueWindow),
			"IngestQueueConcurrency": strconv.Itoa(o.queueConcurrency)},
		Binaries: bins, Log: logs, Functions: []string{queueFunction},
		OnDelivery: func(d localstack.Delivery) { deliveries <- done{d, time.Now()} },
	})
	if err != nil {
		return nil, fmt.Errorf("queue: start the local stack: %w", err)
	}
	defer st.Close()
	landing := st.Buckets["LandingBucket"]
	c := st.S3.Client()

	// Warm up: one file, so the function's cold start and the tables'
	// creation are not in the figures.
	warm := "exports/cdr/2026/09/30/warm.csv"
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(landing), Key: aws.String(warm), Body: bytes.NewReader(laketest.SlotCSV("W", 0, time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC), 10))}); err != nil {
		return nil, err
	}
	select {
	case <-deliveries:
	case <-time.After(5 * time.Minute):
		return nil, errors.New("queue: the warm-up file was not ingested within 5 minutes")
	}
	cdr0, log0, err := snapshotCounts(ctx, st, catalog)
	if err != nil {
		return nil, err
	}

	log.Printf("queue: uploading %s CDR files of %s rows (batch size %d, window %d s, %d batches at once)", thousands(int64(o.queueFiles)),
		thousands(int64(o.queueRows)), o.queueBatch, o.queueWindow, o.queueConcurrency)
	loadStart := loadAverage()
	stats0 := ingestQueueStats(st)
	fnCPU0, s3CPU0 := childrenCPU()
	selfCPU0 := selfCPU()
	var mu sync.Mutex
	uploaded := make(map[string]time.Time, o.queueFiles)
	work := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				key := queueKey(i)
				if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(landing), Key: aws.String(key), Body: bytes.NewReader(queueCSV(i, o.queueRows))}); err != nil {
					errs <- fmt.Errorf("queue: upload %s: %w", key, err)
					return
				}
				mu.Lock()
				uploaded[key] = time.Now()
				mu.Unlock()
			}
		}()
	}
	t0 := time.Now()
	go func() {
		defer close(work)
		for i := 0; i < o.queueFiles; i++ {
			select {
			case work <- i:
			case <-ctx.Done():
				return
			}
		}
	}()

	rep := &queueReport{Files: o.queueFiles, RowsPerFile: o.queueRows, BatchSize: strconv.Itoa(o.queueBatch), Window: strconv.Itoa(o.queueWindow),
		Concurrency: o.queueConcurrency}
	var lat, sweptLat []float64
	var last time.Time
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	timeout := time.After(2 * time.Hour)
	window := o.queueFiles >= 3*queueCPUWindow
	var lateFrom float64
	for got := 0; got < o.queueFiles; {
		select {
		case d := <-deliveries:
			got++
			last = d.at
			if window && (got == queueCPUWindow || got == o.queueFiles-queueCPUWindow || got == o.queueFiles) {
				fn, _ := childrenCPU()
				switch got {
				case queueCPUWindow:
					rep.EarlyCPU = 1e3 * (fn - fnCPU0) / queueCPUWindow
				case o.queueFiles - queueCPUWindow:
					lateFrom = fn
				default:
					rep.LateCPU = 1e3 * (fn - lateFrom) / queueCPUWindow
				}
			}
			var res lake.EventResult
			if d.d.Err != nil || json.Unmarshal(d.d.Response, &res) != nil || len(res.Files) != 1 || res.Files[0].Status != lake.StatusCommitted {
				rep.Failed++
				continue
			}
			rep.Rows += res.Files[0].RowsOK
			mu.Lock()
			up, ok := uploaded[d.d.Key]
			mu.Unlock()
			if !ok { // the delivery came before PutObject returned
				up = d.at
			}
			lat = append(lat, d.at.Sub(up).Seconds())
			if swept.has(d.d.Key) {
				sweptLat = append(sweptLat, d.at.Sub(up).Seconds())
			}
		case err := <-errs:
			return nil, err
		case <-tick.C:
			log.Printf("queue: %d/%d files committed, %.0f s", got, o.queueFiles, time.Since(t0).Seconds())
		case <-timeout:
			return nil, errors.New("queue: not all files were ingested within 2 hours")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	wg.Wait()
	rep.Seconds = last.Sub(t0).Seconds()
	rep.LoadStart = loadStart
	for _, at := range uploaded {
		rep.UploadSeconds = max(rep.UploadSeconds, at.Sub(t0).Seconds())
	}
	stats1 := ingestQueueStats(st)
	rep.Batches, rep.FunctionSeconds = stats1.Batches-stats0.Batches, (stats1.Busy - stats0.Busy).Seconds()
	fnCPU1, s3CPU1 := childrenCPU()
	rep.FunctionCPU, rep.S3CPU, rep.StackCPU = fnCPU1-fnCPU0, s3CPU1-s3CPU0, selfCPU()-selfCPU0
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		rep.P50, rep.P99, rep.Max = lat[n/2], lat[min(n-1, n*99/100)], lat[n-1]
	}
	slices.Sort(sweptLat)
	if n := len(sweptLat); n > 0 {
		rep.Swept, rep.SweptP50, rep.SweptMax = n, sweptLat[n/2], sweptLat[n-1]
	}
	cdr1, log1, err := snapshotCounts(ctx, st, catalog)
	if err != nil {
		return nil, err
	}
	rep.CDRCommits, rep.LogCommits = cdr1-cdr0, log1-log0
	rep.Date, rep.Commit = time.Now().UTC(), gitCommit(ctx, b.root)
	// The files' figures are kept when the maintenance run fails: the
	// section says it failed, and how.
	if rep.Metadata, err = measureQueueMetadata(ctx, st, catalog); err != nil {
		log.Printf("queue: %v", err)
		rep.MetadataErr = firstLine(err.Error())
	}
	return rep, nil
}

// sweepWatch passes the local stack's log on to w and notes the keys the
// stack's sweep announced because no webhook call came for them.
type sweepWatch struct {
	w    io.Writer
	mu   sync.Mutex
	keys map[string]bool
}

const sweptSuffix = ": no webhook call came; delivering from the sweep"

func (s *sweepWatch) Write(p []byte) (int, error) {
	for line := range strings.Lines(string(p)) {
		if key, ok := strings.CutSuffix(strings.TrimRight(line, "\n"), sweptSuffix); ok {
			s.mu.Lock()
			s.keys[strings.TrimPrefix(key, "[notify] ")] = true
			s.mu.Unlock()
		}
	}
	return s.w.Write(p)
}

func (s *sweepWatch) has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[key]
}

// firstLine is s up to its first line break, at most 400 bytes.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

// selfCPU is the user and system CPU seconds this process used so far.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// childrenCPU is the CPU seconds the running children of this process
// used so far, from /proc (0 elsewhere): the function processes (named
// bootstrap, or ingest as the local stack builds it) and the others.
func childrenCPU() (functions, others float64) {
	self := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var fn, other int64
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime(14) stime(15): after the comm's ")".
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 || f[1] != self {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		// A packaged function runs as bootstrap; the local stack's host
		// build names each binary for its package (.localdata/bin/host/ingest).
		if comm := b[bytes.IndexByte(b, '(')+1 : i]; string(comm) == "bootstrap" || string(comm) == "ingest" {
			fn += u + s
		} else {
			other += u + s
		}
	}
	return float64(fn) / 100, float64(other) / 100 // USER_HZ
}

// ingestQueueStats is what the ingest queue's event source mapping did so far.
func ingestQueueStats(st *localstack.Stack) localstack.QueueStats {
	var out localstack.QueueStats
	for _, q := range st.QueueStats() {
		if q.Function == "ingest" {
			out.Batches += q.Batches
			out.Busy += q.Busy
		}
	}
	return out
}

// snapshotCounts is the number of snapshots of crm.cdr and crm.ingest_log.
func snapshotCounts(ctx context.Context, st *localstack.Stack, catalog string) (cdr, logs int, err error) {
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": localstack.LocalAccessKey, "AWS_SECRET_ACCESS_KEY": localstack.LocalSecretKey} {
		os.Setenv(k, v)
	}
	cat, err := lake.OpenCatalog(ctx, lake.Config{Warehouse: "s3://" + st.Buckets["LakeBucket"] + "/warehouse", Catalog: catalog,
		Region: localstack.Region, EndpointURL: st.S3.Endpoint()})
	if err != nil {
		return 0, 0, err
	}
	defer cat.Close()
	count := func(def lake.TableDef) (int, error) {
		t, err := cat.LoadTable(ctx, def.Ident())
		if err != nil {
			return 0, err
		}
		return len(t.Metadata().Snapshots()), nil
	}
	if cdr, err = count(lake.CDRTable); err != nil {
		return 0, 0, err
	}
	logs, err = count(lake.IngestLogTable)
	return cdr, logs, err
}

const (
	queueBegin = "<!-- queue:begin -->"
	queueEnd   = "<!-- queue:end -->"
)

func queueSection(r *queueReport, m machine) string {
	host := fmt.Sprintf("%d CPUs (%s), %.1f GiB, load average %s at the start and %s at the end (1, 5, 15 min; the machine is shared)",
		m.CPUs, m.CPUModel, float64(m.MemKiB)/(1<<20), r.LoadStart, loadAverage())
	verdict := "met"
	if r.filesPerSec() < queueFilesTarget {
		verdict = "**missed**"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n## Many small files through the ingest queue\n\n", queueBegin)
	fmt.Fprintf(&b, "Measured %s at commit `%s` on %s by `make bench BENCH_FLAGS='-parts=queue -queue-files %d'`: "+
		"%s CDR files of %s rows (each one switch's 15 minutes: %d switches, in time order, as a mediation drops them) uploaded with the AWS SDK (8 at a time) to the local stack's S3; each upload's notification goes to "+
		"the ingest queue (the local SQS), whose event source mapping (batch size %s, window %s s, up to %d batches at once, "+
		"each in its own execution environment) invokes the real ingest "+
		"binary through the Lambda Runtime API. Committed = the file's message deleted after the function answered. "+
		"One warm-up file before the clock starts.\n\n",
		r.Date.Format("2006-01-02 15:04 UTC"), r.Commit, host, r.Files, thousands(int64(r.Files)), thousands(int64(r.RowsPerFile)), queueSwitches, r.BatchSize, r.Window, r.Concurrency)
	b.WriteString("| what | value | target |\n|---|---:|---|\n")
	fmt.Fprintf(&b, "| files committed | %s of %s | |\n", thousands(int64(r.Files-r.Failed)), thousands(int64(r.Files)))
	fmt.Fprintf(&b, "| wall time, first upload to last commit | %.1f s | |\n", r.Seconds)
	fmt.Fprintf(&b, "| files/s | %.1f | ≥ %.0f: %s |\n", r.filesPerSec(), queueFilesTarget, verdict)
	fmt.Fprintf(&b, "| rows/s | %s | |\n", thousands(int64(r.rowsPerSec())))
	fmt.Fprintf(&b, "| commits: crm.cdr / crm.ingest_log snapshots | %d / %d (%.1f files per data commit) | |\n",
		r.CDRCommits, r.LogCommits, float64(r.Files-r.Failed)/float64(max(r.CDRCommits, 1)))
	fmt.Fprintf(&b, "| upload → committed, p50 / p99 / max | %.2f / %.2f / %.2f s | |\n", r.P50, r.P99, r.Max)
	fmt.Fprintf(&b, "| files whose S3 event was lost and came from the local stack's sweep; their upload → committed p50 / max | %d; %.2f / %.2f s | |\n",
		r.Swept, r.SweptP50, r.SweptMax)
	fmt.Fprintf(&b, "| uploads done after | %.1f s | |\n", r.UploadSeconds)
	fmt.Fprintf(&b, "| batches (mean files per batch) | %d (%.1f) | |\n", r.Batches, float64(r.Files)/float64(max(r.Batches, 1)))
	fmt.Fprintf(&b, "| time in the function, all batches added up (mean per batch; per file) | %.1f s (%.2f s; %.1f ms) | |\n",
		r.FunctionSeconds, r.FunctionSeconds/float64(max(r.Batches, 1)), 1e3*r.FunctionSeconds/float64(max(r.Files, 1)))
	if r.FunctionCPU > 0 {
		n := float64(max(r.Files, 1))
		perFile := (r.FunctionCPU + r.S3CPU + r.StackCPU) / n
		fmt.Fprintf(&b, "| CPU: ingest function / local S3 server / queue, runtime API and uploads (per file) | %.1f s / %.1f s / %.1f s (%.1f / %.1f / %.1f ms) | |\n",
			r.FunctionCPU, r.S3CPU, r.StackCPU, 1e3*r.FunctionCPU/n, 1e3*r.S3CPU/n, 1e3*r.StackCPU/n)
		if r.LateCPU > 0 {
			fmt.Fprintf(&b, "| ingest function CPU per file, first / last %s files committed | %.1f / %.1f ms | flat |\n",
				thousands(queueCPUWindow), r.EarlyCPU, r.LateCPU)
		}
		fmt.Fprintf(&b, "| files/s the CPU time allows on %d idle CPUs (CPUs ÷ CPU per file; a bound, not a measurement) | %.0f | |\n",
			m.CPUs, float64(m.CPUs)/perFile)
	}
	if r.MetadataErr != "" {
		fmt.Fprintf(&b, "\n### Metadata after %s files and one maintenance run\n\nThe maintenance run after the files **failed**: `%s`\n",
			thousands(int64(r.Files)), strings.ReplaceAll(r.MetadataErr, "`", "'"))
	}
	if r.Metadata != nil {
		b.WriteString(metadataSection(r.Metadata, r.Files))
	}
	b.WriteString(queueEnd + "\n")
	return b.String()
}
