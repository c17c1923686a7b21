package lake_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/telcolake/telcolake/lake"
)

// TestBatchSpeed (opt-in: TELCOLAKE_BATCH_SPEED=<files>) ingests that many
// CDR files of TELCOLAKE_BATCH_ROWS rows (default 8,700, the demo's mean;
// each file one day) through IngestBatch in batches of 100 on the
// in-process S3, and logs wall time, CPU time and CPU per file and row;
// with -cpuprofile it shows where a batch's time goes.
func TestBatchSpeed(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("TELCOLAKE_BATCH_SPEED"))
	if n <= 0 {
		t.Skip("set TELCOLAKE_BATCH_SPEED=<files> to measure")
	}
	rows, _ := strconv.Atoi(os.Getenv("TELCOLAKE_BATCH_ROWS"))
	if rows <= 0 {
		rows = 8700
	}
	tl := newTestLake(t, false)
	objs := make([]lake.Object, n)
	for i := range objs {
		objs[i] = objectOf(tl.put(fmt.Sprintf("exports/cdr/2026/10/%02d/speed-%05d.csv", 1+i%28, i), cdrRange(i*rows, (i+1)*rows)))
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c0, t0 := cpu(), time.Now()
	for i := 0; i < n; i += 100 {
		for _, o := range tl.in.IngestBatch(context.Background(), objs[i:min(n, i+100)]) {
			if o.Err != nil || o.Status != lake.StatusCommitted {
				t.Fatalf("%s: %s %v", o.Source, o.Status, o.Err)
			}
		}
	}
	wall, used := time.Since(t0), cpu()-c0
	total := float64(n * rows)
	t.Logf("%d files of %d rows: wall %.1f s (%.0f rows/s), CPU %.1f s (%.1f ms per file, %.2f µs per row)",
		n, rows, wall.Seconds(), total/wall.Seconds(), used.Seconds(), used.Seconds()*1e3/float64(n), used.Seconds()*1e6/total)
}
