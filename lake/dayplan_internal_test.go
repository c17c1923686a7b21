package lake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// A day's live files kept up to date from the appends since (dayPlans)
// are the files a full plan of the day finds, after every batch and
// after a replacement (an overwrite) and a compaction, which plan in
// full again; and the incremental path is taken between appends.
func TestDayPlansMatchFullPlan(t *testing.T) {
	ctx := context.Background()
	cfg, cat, store := newInternalLake(t)
	in := NewIngester(cfg, cat, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	day0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	days := []int64{day0.Unix() / 86400, day0.Unix()/86400 + 1}
	slot := func(n, sw int) Object {
		start := day0.Add(time.Duration(n) * 6 * time.Hour) // four slots a day: two days
		key := fmt.Sprintf("exports/cdr/%s/switch%03d-%03d.csv", start.Format("2006/01/02"), sw, n)
		return putObject(t, store, key, slotCSV(fmt.Sprintf("P%03d-%03d", n, sw), n*10+sw, start, 20))
	}
	check := func(when string, wantIncremental bool) {
		t.Helper()
		tbl, err := cat.LoadTable(ctx, CDRTable.Ident())
		if err != nil {
			t.Fatal(err)
		}
		r := newRecordSet(ctx, CDRFormat, tbl, "", false, nil)
		for _, day := range days {
			key := dayPlanKey{table: tbl.Metadata().TableUUID().String(), day: day}
			before, had := dayPlans.get(key)
			got, err := r.liveFiles(ctx, tbl, day)
			if err != nil {
				t.Fatal(err)
			}
			want, err := r.planDay(ctx, tbl, day)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := paths(got), paths(want); !slices.Equal(g, w) {
				t.Errorf("%s, day %d: liveFiles has %d files %v, a full plan %d %v", when, day, len(g), g, len(w), w)
			}
			if len(want) == 0 {
				t.Errorf("%s, day %d: no live files: the test checks nothing", when, day)
			}
			if _, ok, _ := dayPlans.since(ctx, tbl, key, mustDayField(t, tbl)); !ok {
				t.Errorf("%s, day %d: the plan kept is not at the current snapshot", when, day)
			}
			if wantIncremental && (!had || before.snapshot == tbl.CurrentSnapshot().SnapshotID) {
				t.Errorf("%s, day %d: no earlier plan to catch up from (had %v)", when, day, had)
			}
		}
	}
	n := 0
	for b := range 4 {
		var objs []Object
		for sw := range 5 {
			objs = append(objs, slot(n%8, sw))
			n++
		}
		for _, o := range in.IngestBatch(ctx, objs) {
			if o.Err != nil || o.Status != StatusCommitted {
				t.Fatalf("batch %d: %s: %s %v", b, o.Source, o.Status, o.Err)
			}
		}
		check(fmt.Sprintf("after batch %d", b), b > 0)
	}
	// A new version of a file: an overwrite, then an append on top.
	v2 := putObject(t, store, "exports/cdr/2026/10/01/switch000-000.csv", slotCSV("V2", 1, day0, 15))
	if res, err := in.Ingest(ctx, v2); err != nil || res.Status != StatusReplaced {
		t.Fatalf("v2: %+v %v, want replaced", res, err)
	}
	check("after a replacement", false)
	m := NewMaintainer(MaintainConfig{KeepSnapshots: 1, OrphanAge: time.Hour, TargetFileBytes: 128 << 20, MinInputFiles: 2}, cat, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	check("after maintenance", false)
	for _, o := range in.IngestBatch(ctx, []Object{slot(2, 7), slot(5, 7)}) {
		if o.Err != nil || o.Status != StatusCommitted {
			t.Fatalf("after maintenance: %s: %s %v", o.Source, o.Status, o.Err)
		}
	}
	check("after a batch past maintenance", true)
}

func mustDayField(t *testing.T, tbl *table.Table) int {
	t.Helper()
	f, ok := dayPartition(tbl, "start_time")
	if !ok {
		t.Fatal("crm.cdr has no partition by day of start_time")
	}
	return f
}

func paths(files []iceberg.DataFile) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.FilePath()
	}
	slices.Sort(out)
	return out
}

// slotCSV is laketest.SlotCSV (which this package's internal tests cannot
// import): rows calls of one switch's 15 minutes from start.
func slotCSV(prefix string, seed int, start time.Time, rows int) []byte {
	var b bytes.Buffer
	b.WriteString("call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n")
	for r := 0; r < rows; r++ {
		sub := (seed*7919 + r*104729) % 200000
		at := start.Add(time.Duration(r*900/rows) * time.Second)
		fmt.Fprintf(&b, "%s-%05d,S%07d,4917%08d,4930%06d,offnet,%s,%d,voice,out,false,false,CELL%03d,North,0,0.%04d\n",
			prefix, r, sub, sub, (seed+r)%999983, at.Format(time.RFC3339), 1+r%900, seed%500, r%10000)
	}
	return b.Bytes()
}

// dayPlans holds at most dayPlanEntries days and dayPlanFiles files, and
// keeps no day larger than that.
func TestDayPlansBounded(t *testing.T) {
	c := &dayPlanCache{m: map[dayPlanKey]dayPlan{}}
	files := func(n int) []iceberg.DataFile { return make([]iceberg.DataFile, n) }
	for i := range 3 * dayPlanEntries {
		for snap := range 3 {
			c.put(dayPlanKey{table: "t", day: int64(i)}, dayPlan{snapshot: int64(snap), files: files(300 + snap)})
			held := 0
			for _, p := range c.m {
				held += len(p.files)
			}
			if len(c.m) > dayPlanEntries || held > dayPlanFiles || held != c.n {
				t.Fatalf("day %d, snapshot %d: %d days, %d files held (counted %d), want at most %d and %d", i, snap, len(c.m), held, c.n, dayPlanEntries, dayPlanFiles)
			}
		}
	}
	c.put(dayPlanKey{table: "t", day: -1}, dayPlan{snapshot: 1, files: files(dayPlanFiles + 1)})
	if _, ok := c.get(dayPlanKey{table: "t", day: -1}); ok || c.n != 0 {
		t.Errorf("a day of %d files was kept (%d files counted)", dayPlanFiles+1, c.n)
	}
}
