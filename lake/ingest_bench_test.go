package lake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// cdrBenchFile is a CDR export of n rows over days days, time-sorted, with
// the generator's shapes of values.
func cdrBenchFile(n, days int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.WriteString(cdrAreaHeader)
	start := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	step := time.Duration(days) * 24 * time.Hour / time.Duration(n)
	regions := []string{"Capital", "East", "Coast", "North", "South"}
	for i := range n {
		ts := start.Add(time.Duration(i) * step).Format(time.RFC3339)
		sub := rng.IntN(100000)
		switch rng.IntN(3) {
		case 0:
			fmt.Fprintf(&b, "C%016d,S%07d,4917%08d,,,%s,%d,data,out,false,false,CELL%04d,%s,%d,%d.%04d,\n",
				i, sub, sub, ts, rng.IntN(3600), rng.IntN(500), regions[rng.IntN(5)], rng.IntN(100000), rng.IntN(2), rng.IntN(10000))
		case 1:
			fmt.Fprintf(&b, "C%016d,S%07d,4917%08d,4917%08d,onnet,%s,%d,voice,in,false,false,CELL%04d,%s,0,0.%04d,%s\n",
				i, sub, sub, rng.IntN(100000), ts, rng.IntN(3600), rng.IntN(500), regions[rng.IntN(5)], rng.IntN(10000), regions[rng.IntN(5)])
		default:
			fmt.Fprintf(&b, "C%016d,S%07d,4917%08d,4930%07d,offnet,%s,0,sms,out,false,false,CELL%04d,%s,0,0.%04d,\n",
				i, sub, sub, rng.IntN(1000000), ts, rng.IntN(500), regions[rng.IntN(5)], rng.IntN(10000))
		}
	}
	return b.Bytes()
}

// BenchmarkParseCDR is the parser alone (no duplicate check, no writer):
// CPU per row of turning CSV lines into Arrow batches.
func BenchmarkParseCDR(b *testing.B) {
	const rows = 200_000
	body := cdrBenchFile(rows, 10)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	cpu0 := processCPU(b)
	for range b.N {
		p := newParser(CDRFormat, fileContext{source: "s3://landing/bench.csv", now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), pseudonym: []byte("bench-key-0123456789")})
		for pb, err := range p.Batches(bytes.NewReader(body)) {
			if err != nil {
				b.Fatal(err)
			}
			pb.Rec.Release()
		}
		if p.Stats.RowsOK != rows {
			b.Fatalf("%d rows ok, want %d (%+v)", p.Stats.RowsOK, rows, p.Stats.Errors)
		}
	}
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N*rows), "cpu-ns/row")
}

// BenchmarkIngestCDR is one file through the whole ingest (parse, duplicate
// check, Parquet writing, commit) into a new lake each time.
func BenchmarkIngestCDR(b *testing.B) {
	const rows = 200_000
	body := cdrBenchFile(rows, 10)
	b.SetBytes(int64(len(body)))
	var cpu time.Duration
	for i := range b.N {
		b.StopTimer()
		cfg, cat, store := newBenchLake(b)
		in := NewIngester(cfg, cat, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
		key := fmt.Sprintf("exports/cdr/2026/08/bench-%d.csv", i)
		if err := store.Put(context.Background(), "landing", key, body); err != nil {
			b.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(store.Root, "landing", filepath.FromSlash(key)))
		if err != nil {
			b.Fatal(err)
		}
		obj := Object{Bucket: "landing", Key: key, ETag: LocalETag(fi), Size: fi.Size()}
		b.StartTimer()
		cpu0 := processCPU(b)
		res, err := in.Ingest(context.Background(), obj)
		cpu += processCPU(b) - cpu0
		if err != nil || res.Status != StatusCommitted || res.RowsOK != rows {
			b.Fatalf("%+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*rows), "cpu-ns/row")
}

// newBenchLake is newInternalLake for a benchmark.
func newBenchLake(b *testing.B) (Config, TableLoader, DirStore) {
	dir := b.TempDir()
	cfg := Config{Catalog: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "warehouse"),
		PseudonymKey: []byte("bench-pseudonym-key-0123456789"), RejectThreshold: 0.05}
	cat, err := OpenCatalog(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cat.Close() })
	if err := EnsureTables(context.Background(), cat, cfg.Warehouse); err != nil {
		b.Fatal(err)
	}
	return cfg, cat, DirStore{Root: filepath.Join(dir, "landing")}
}

// processCPU is the user and system CPU time of the process so far: on a
// shared machine a fairer measure than wall time.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
