package lake_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/telcolake/telcolake/lake"
)

// liveFiles is the number of live data files of a table.
func (tl *testLake) liveFiles(def lake.TableDef) int {
	tl.t.Helper()
	tbl, err := tl.cat.LoadTable(context.Background(), def.Ident())
	if err != nil {
		tl.t.Fatal(err)
	}
	if tbl.CurrentSnapshot() == nil {
		return 0
	}
	tasks, err := tbl.Scan().PlanFiles(context.Background())
	if err != nil {
		tl.t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, task := range tasks {
		seen[task.File.FilePath()] = true
	}
	return len(seen)
}

// TestBatchWritesSharedDataFiles: the whole files of a batch share data
// files, one per partition, and each file's rows are committed once; a bad
// file is left out and reported, a file delivered twice in the batch or
// again in a later batch adds nothing.
func TestBatchWritesSharedDataFiles(t *testing.T) {
	tl := newTestLake(t, false)
	var objs []lake.Object
	var bodies [][]byte
	for i := range 10 {
		body := cdrDays(fmt.Sprintf("SH%02d-", i), 80, 1, 2) // every file: the same two days
		bodies = append(bodies, body)
		objs = append(objs, objectOf(tl.put(fmt.Sprintf("exports/cdr/2026/10/sh%02d.csv", i), body)))
	}
	bad := objectOf(tl.put("exports/cdr/2026/10/sh-bad.csv", cdrCSV("SB", 40, func(i int) string {
		if i%2 == 0 {
			return "SB9,S1,491700000001,4930123,offnet,2026-10-01T10:00:00Z,30,telepathy,out,false,false,C1,North,0,0.1"
		}
		return ""
	})))
	batch := append(append([]lake.Object{}, objs...), bad, objs[3])
	outs := tl.in.IngestBatch(context.Background(), batch)

	var snap int64
	for i, o := range outs[:10] {
		if o.Err != nil || o.Status != lake.StatusCommitted || o.RowsOK != 80 {
			t.Fatalf("file %d: status %s, rows %d, err %v; want committed with 80 rows", i, o.Status, o.RowsOK, o.Err)
		}
		if snap == 0 {
			snap = o.SnapshotID
		}
		if o.SnapshotID != snap {
			t.Errorf("file %d in snapshot %d, want the batch's %d", i, o.SnapshotID, snap)
		}
	}
	if o := outs[10]; o.Err != nil || o.Status != lake.StatusQuarantined || o.ReportKey == "" {
		t.Errorf("bad file: status %s, report %q, err %v; want quarantined with a report", o.Status, o.ReportKey, o.Err)
	}
	if r := tl.report(bad.Key); r.Status != lake.StatusQuarantined {
		t.Errorf("report of the bad file: status %s, want quarantined", r.Status)
	}
	if o := outs[11]; o.Err != nil || o.Status != lake.StatusDuplicate {
		t.Errorf("second delivery in the batch: status %s, err %v; want duplicate", o.Status, o.Err)
	}

	parts := cdrParts(map[string]bool{}, bodies...)
	if got := tl.liveFiles(lake.CDRTable); got != parts {
		t.Errorf("crm.cdr has %d data files for 10 files, want %d (one per day and subscriber bucket, shared)", got, parts)
	}
	sum := tl.summary(lake.CDRTable, snap)
	if got := summaryInt(t, sum, "added-data-files"); got != parts {
		t.Errorf("batch snapshot added %d data files, want %d", got, parts)
	}
	bySource := tl.rowsBySource(lake.CDRTable)
	for i, o := range outs[:10] {
		if bySource[o.Source] != 80 {
			t.Errorf("file %d has %d rows in crm.cdr, want 80", i, bySource[o.Source])
		}
	}
	if n := bySource[bad.Source()]; n != 0 {
		t.Errorf("the bad file has %d rows in crm.cdr, want none", n)
	}
	if n := tl.count(lake.CDRTable); n != 800 {
		t.Errorf("crm.cdr has %d rows, want 800", n)
	}

	// Across batches: the same files again with two new ones, one of them
	// repeating 30 records of a committed file; the shared files' keys
	// (from this process's cache) and the ledger catch both.
	newer := objectOf(tl.put("exports/cdr/2026/10/sh-new.csv", cdrDays("SN-", 50, 2)))
	overlap := objectOf(tl.put("exports/cdr/2026/10/sh-overlap.csv", append(cdrDays("SH05-", 30, 1, 2), cdrDays("SO-", 20, 1)[len(cdrHeader):]...)))
	again := tl.in.IngestBatch(context.Background(), append([]lake.Object{newer, overlap}, objs...))
	if o := again[0]; o.Err != nil || o.Status != lake.StatusCommitted || o.RowsOK != 50 {
		t.Errorf("new file: %+v, want committed with 50 rows", o)
	}
	if o := again[1]; o.Err != nil || o.Status != lake.StatusCommitted || o.RowsOK != 20 || o.RowsDuplicate != 30 {
		t.Errorf("overlapping file: status %s, ok %d, dup %d, err %v; want committed, 20 ok, 30 duplicate", o.Status, o.RowsOK, o.RowsDuplicate, o.Err)
	}
	for i, o := range again[2:] {
		if o.Err != nil || o.Status != lake.StatusDuplicate {
			t.Errorf("redelivery of file %d: status %s, err %v; want duplicate", i, o.Status, o.Err)
		}
	}
	if n := tl.count(lake.CDRTable); n != 870 {
		t.Errorf("after the second batch crm.cdr has %d rows, want 870", n)
	}
	if n := tl.count(lake.IngestLogTable); n != 13 {
		t.Errorf("crm.ingest_log has %d rows, want 13 (one per distinct file)", n)
	}
}

// TestSharedFilesNewVersion: a new version of a file whose rows live in
// shared data files replaces exactly its rows (the other files' rows stay),
// and the old version's late event is superseded, in a batch or alone.
func TestSharedFilesNewVersion(t *testing.T) {
	tl := newTestLake(t, false)
	var objs []lake.Object
	for i := range 6 {
		objs = append(objs, objectOf(tl.put(fmt.Sprintf("exports/cdr/2026/10/nv%d.csv", i), cdrDays(fmt.Sprintf("NV%d-", i), 60, 4, 5))))
	}
	for _, o := range tl.in.IngestBatch(context.Background(), objs) {
		if o.Err != nil || o.Status != lake.StatusCommitted {
			t.Fatalf("%s: status %s, err %v", o.Source, o.Status, o.Err)
		}
	}
	key := objs[2].Key
	v2body := cdrDays("NV2b-", 25, 5, 6)
	v2 := objectOf(tl.put(key, v2body))
	v2.Sequencer = "0B"
	outs := tl.in.IngestBatch(context.Background(), []lake.Object{v2, objs[4]})
	if o := outs[0]; o.Err != nil || o.Status != lake.StatusReplaced || o.RowsOK != 25 {
		t.Fatalf("new version in a batch: status %s, rows %d, err %v; want replaced with 25 rows", o.Status, o.RowsOK, o.Err)
	}
	if o := outs[1]; o.Err != nil || o.Status != lake.StatusDuplicate {
		t.Errorf("redelivery beside it: status %s, err %v; want duplicate", o.Status, o.Err)
	}
	bySource := tl.rowsBySource(lake.CDRTable)
	for i, o := range objs {
		want := int64(60)
		if i == 2 {
			want = 25
		}
		if bySource[o.Source()] != want {
			t.Errorf("file %d has %d rows, want %d", i, bySource[o.Source()], want)
		}
	}
	if n := tl.count(lake.CDRTable); n != 5*60+25 {
		t.Errorf("crm.cdr has %d rows, want %d", n, 5*60+25)
	}
	// The first version's event, late (its sequencer is older): superseded.
	old := objs[2]
	old.Sequencer = "0A"
	if o := tl.in.IngestBatch(context.Background(), []lake.Object{old})[0]; o.Err != nil || o.Status != lake.StatusSuperseded {
		t.Errorf("late first version: status %s, err %v; want superseded", o.Status, o.Err)
	}
	// A third version replaces the second, whose files are its own now.
	v3 := objectOf(tl.put(key, cdrDays("NV2c-", 10, 7)))
	v3.Sequencer = "0C"
	if o := tl.in.IngestBatch(context.Background(), []lake.Object{v3})[0]; o.Err != nil || o.Status != lake.StatusReplaced || o.RowsOK != 10 {
		t.Errorf("third version: status %s, rows %d, err %v; want replaced with 10 rows", o.Status, o.RowsOK, o.Err)
	}
	if n := tl.count(lake.CDRTable); n != 5*60+10 {
		t.Errorf("crm.cdr has %d rows, want %d", n, 5*60+10)
	}
	// A replaced file of the batch's other members is still replaced by
	// its own rows only.
	if o := tl.mustIngest(tl.put(objs[1].Key, cdrDays("NV1b-", 5, 4))); o.Status != lake.StatusReplaced {
		t.Errorf("replacing another shared file alone: status %s, want replaced", o.Status)
	}
	if n := tl.count(lake.CDRTable); n != 4*60+10+5 {
		t.Errorf("crm.cdr has %d rows, want %d", n, 4*60+10+5)
	}
}
