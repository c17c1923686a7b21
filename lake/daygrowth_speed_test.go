package lake_test

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
)

// TestDayGrowthSpeed (opt-in: TELCOLAKE_DAY_SPEED=<files>) ingests that many
// CDR files of 1,000 rows, 100 switches' 15-minute files in time order as
// the queue bench drops them, through IngestBatch 100 at a time, and logs
// CPU per file every 10 batches; TELCOLAKE_DAY_PROFILE=<prefix> writes a
// CPU profile of the first and the last 10 batches.
func TestDayGrowthSpeed(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("TELCOLAKE_DAY_SPEED"))
	if n <= 0 {
		t.Skip("set TELCOLAKE_DAY_SPEED=<files> to measure")
	}
	prof := os.Getenv("TELCOLAKE_DAY_PROFILE")
	tl := newTestLake(t, false)
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	const per = 100
	batches := (n + per - 1) / per
	var c0 time.Duration
	for b := 0; b < batches; b++ {
		objs := make([]lake.Object, 0, per)
		for i := b * per; i < min(n, (b+1)*per); i++ {
			start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i/100) * 15 * time.Minute)
			key := fmt.Sprintf("exports/cdr/%s/switch%03d-%06d.csv", start.Format("2006/01/02"), i%100, i)
			objs = append(objs, objectOf(tl.put(key, laketest.SlotCSV(fmt.Sprintf("Q%06d", i), i, start, 1000))))
		}
		var f *os.File
		if prof != "" && (b == 0 || b == batches-10) {
			f, _ = os.Create(fmt.Sprintf("%s-%d.pprof", prof, b))
			pprof.StartCPUProfile(f)
		}
		if b%10 == 0 {
			c0 = cpu()
		}
		for _, o := range tl.in.IngestBatch(context.Background(), objs) {
			if o.Err != nil || o.Status != lake.StatusCommitted {
				t.Fatalf("%s: %s %v", o.Source, o.Status, o.Err)
			}
		}
		if b%10 == 9 {
			t.Logf("batches %d-%d: %.1f ms CPU per file", b-9, b, (cpu()-c0).Seconds()*1e3/float64(10*per))
		}
		if prof != "" && (b == 9 || b == batches-1) {
			pprof.StopCPUProfile()
			f.Close()
		}
	}
}
