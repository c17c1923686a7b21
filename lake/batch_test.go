package lake_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/aws/aws-lambda-go/events"

	"github.com/telcolake/telcolake/lake"
)

// sqsMessage wraps S3 event records as the body of an SQS message, as an
// S3 notification to a queue does.
func sqsMessage(t *testing.T, id string, recs ...events.S3EventRecord) events.SQSMessage {
	t.Helper()
	body, err := json.Marshal(events.S3Event{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	return events.SQSMessage{MessageId: id, EventSource: "aws:sqs", Body: string(body)}
}

// invokeSQS delivers messages as one SQS event JSON through HandleEvent,
// as the ingest function receives them, and returns the failed message ids.
func (tl *testLake) invokeSQS(msgs ...events.SQSMessage) []string {
	tl.t.Helper()
	payload, err := json.Marshal(events.SQSEvent{Records: msgs})
	if err != nil {
		tl.t.Fatal(err)
	}
	out, err := tl.in.HandleEvent(context.Background(), landingBucket, payload)
	if err != nil {
		tl.t.Fatalf("SQS event: %v", err)
	}
	resp, ok := out.(lake.QueueResult)
	if !ok {
		tl.t.Fatalf("SQS event answered with %T, want lake.QueueResult", out)
	}
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// snapshots is the number of snapshots of a table.
func (tl *testLake) snapshots(def lake.TableDef) int {
	tl.t.Helper()
	tbl, err := tl.cat.LoadTable(context.Background(), def.Ident())
	if err != nil {
		tl.t.Fatal(err)
	}
	return len(tbl.Metadata().Snapshots())
}

// rowsBySource counts a table's rows by source_file.
func (tl *testLake) rowsBySource(def lake.TableDef) map[string]int64 {
	tl.t.Helper()
	at, err := lake.ReadTable(context.Background(), tl.cat, def, "source_file")
	if err != nil {
		tl.t.Fatal(err)
	}
	defer at.Release()
	out := map[string]int64{}
	for _, chunk := range at.Column(0).Data().Chunks() {
		col, ok := chunk.(*array.String)
		if !ok {
			tl.t.Fatalf("source_file is a %T", chunk)
		}
		for i := 0; i < col.Len(); i++ {
			out[col.Value(i)]++
		}
	}
	return out
}

// objectOf is the lake.Object of an event record.
func objectOf(rec events.S3EventRecord) lake.Object {
	return lake.Object{Bucket: rec.S3.Bucket.Name, Key: strings.ReplaceAll(rec.S3.Object.Key, "%2F", "/"), ETag: rec.S3.Object.ETag, Size: rec.S3.Object.Size}
}

func TestBatchCommitsOneSnapshotPerTable(t *testing.T) {
	tl := newTestLake(t, false)
	var objs []lake.Object
	var want int64
	for i := range 6 {
		objs = append(objs, objectOf(tl.put(fmt.Sprintf("exports/cdr/2026/10/b%d.csv", i), cdrCSV(fmt.Sprintf("B%d-", i), 100+i, nil))))
		want += int64(100 + i)
	}
	quarantined := objectOf(tl.put("exports/cdr/2026/10/bad.csv", cdrCSV("Q", 100, func(i int) string {
		if i%5 == 0 {
			return "Q9,S1,491700000001,4930123,offnet,2026-10-01T10:00:00Z,30,telepathy,out,false,false,C1,North,0,0.1"
		}
		return ""
	})))
	unknown := objectOf(tl.put("exports/unknown/x.csv", cdrCSV("U", 10, nil)))
	objs = append(objs, quarantined, objs[2], unknown) // objs[2] delivered twice in the batch
	cdrBefore, logBefore := tl.snapshots(lake.CDRTable), tl.snapshots(lake.IngestLogTable)

	outs := tl.in.IngestBatch(context.Background(), objs)
	wantStatus := []string{lake.StatusCommitted, lake.StatusCommitted, lake.StatusCommitted, lake.StatusCommitted, lake.StatusCommitted,
		lake.StatusCommitted, lake.StatusQuarantined, lake.StatusDuplicate, lake.StatusRejected}
	var snap int64
	for i, o := range outs {
		if o.Err != nil || o.Status != wantStatus[i] {
			t.Errorf("file %d (%s): status %s, err %v; want %s", i, objs[i].Key, o.Status, o.Err, wantStatus[i])
		}
		if i < 6 {
			if snap == 0 {
				snap = o.SnapshotID
			}
			if o.SnapshotID != snap || o.RowsOK != int64(100+i) {
				t.Errorf("file %d: snapshot %d, rows %d; want snapshot %d, rows %d", i, o.SnapshotID, o.RowsOK, snap, 100+i)
			}
			if o.Lines != 1+o.BlankLines+o.RowsOK+o.RowsDuplicate+o.RowsRejected {
				t.Errorf("file %d: %d lines, not all accounted for: %+v", i, o.Lines, o.Result)
			}
		}
	}
	if got := tl.snapshots(lake.CDRTable) - cdrBefore; got != 1 {
		t.Errorf("crm.cdr gained %d snapshots for 6 files, want 1", got)
	}
	if got := tl.snapshots(lake.IngestLogTable) - logBefore; got != 1 {
		t.Errorf("crm.ingest_log gained %d snapshots for the batch, want 1", got)
	}
	if n := tl.count(lake.CDRTable); n != want {
		t.Errorf("crm.cdr has %d rows, want %d", n, want)
	}
	if n := tl.count(lake.IngestLogTable); n != 8 {
		t.Errorf("crm.ingest_log has %d rows, want 8 (one per distinct file)", n)
	}
	// Per file: its good rows are in the table, all of them, in the batch's snapshot.
	bySource := tl.rowsBySource(lake.CDRTable)
	for i, o := range outs[:6] {
		if bySource[o.Source] != o.RowsOK {
			t.Errorf("file %d: %d rows in crm.cdr, want its %d", i, bySource[o.Source], o.RowsOK)
		}
	}
	if n := bySource[outs[6].Source]; n != 0 {
		t.Errorf("the quarantined file has %d rows in crm.cdr, want none", n)
	}
	if r := tl.report(quarantined.Key); r.Status != lake.StatusQuarantined {
		t.Errorf("report of the quarantined file: status %s", r.Status)
	}

	// Every file delivered again, in another order and split in two
	// batches: nothing changes, and no commit is made.
	for _, part := range [][]lake.Object{{objs[5], objs[0], objs[6]}, {objs[1], objs[2], objs[3], objs[4], objs[8], objs[0]}} {
		for _, o := range tl.in.IngestBatch(context.Background(), part) {
			if o.Err != nil || o.Status != lake.StatusDuplicate {
				t.Errorf("redelivery of %s: status %s, err %v; want duplicate", o.Source, o.Status, o.Err)
			}
		}
	}
	if n := tl.count(lake.CDRTable); n != want {
		t.Errorf("after redelivery crm.cdr has %d rows, want %d", n, want)
	}
	if got := tl.snapshots(lake.CDRTable) - cdrBefore; got != 1 {
		t.Errorf("after redelivery crm.cdr gained %d snapshots, want 1", got)
	}
	if n := tl.count(lake.IngestLogTable); n != 8 {
		t.Errorf("after redelivery crm.ingest_log has %d rows, want 8", n)
	}

	// The ledger is in the batch snapshot's summary and in the ledger
	// objects: after every snapshot but the last is expired, a redelivery is
	// still a duplicate.
	extra := objectOf(tl.put("exports/cdr/2026/10/late.csv", cdrCSV("L", 40, nil)))
	tl.in.IngestBatch(context.Background(), []lake.Object{extra})
	tl.expire(lake.CDRTable)
	for _, o := range tl.in.IngestBatch(context.Background(), objs[:6]) {
		if o.Err != nil || o.Status != lake.StatusDuplicate {
			t.Errorf("redelivery after expiry of %s: status %s, err %v; want duplicate", o.Source, o.Status, o.Err)
		}
	}
	if n := tl.count(lake.CDRTable); n != want+40 {
		t.Errorf("after expiry and redelivery crm.cdr has %d rows, want %d", n, want+40)
	}
}

func TestBatchRecordsAndVersionsInOneBatch(t *testing.T) {
	tl := newTestLake(t, false)
	// Two files sharing 300 records, and two versions of one key.
	a := objectOf(tl.put("exports/cdr/2026/10/01/a.csv", cdrRange(0, 1000)))
	b := objectOf(tl.put("exports/cdr/2026/10/01/b.csv", cdrRange(700, 1500)))
	v1 := objectOf(tl.put("exports/cdr/2026/10/02/v.csv", cdrRange(2000, 2100)))
	v2body := cdrRange(3000, 3050)
	v2 := objectOf(tl.eventFor("exports/cdr/2026/10/02/v.csv", v2body))
	tl.put("exports/cdr/2026/10/02/v.csv", v2body) // the key holds v2 now
	v1.Sequencer, v2.Sequencer = "0A", "0B"

	outs := tl.in.IngestBatch(context.Background(), []lake.Object{a, b, v1, v2})
	type want struct {
		status  string
		ok, dup int64
	}
	wants := []want{
		{lake.StatusCommitted, 1000, 0},
		{lake.StatusCommitted, 500, 300},
		{lake.StatusSuperseded, 0, 0}, // overwritten before it was read
		{lake.StatusCommitted, 50, 0},
	}
	for i, o := range outs {
		if o.Err != nil || o.Status != wants[i].status || o.RowsOK != wants[i].ok || o.RowsDuplicate != wants[i].dup {
			t.Errorf("file %d: status %s, ok %d, dup %d, err %v; want %+v", i, o.Status, o.RowsOK, o.RowsDuplicate, o.Err, wants[i])
		}
	}
	if n := tl.count(lake.CDRTable); n != 1550 {
		t.Errorf("crm.cdr has %d rows, want 1550", n)
	}
}

// flakyStore fails reads of one key with a transient error.
type flakyStore struct {
	lake.ObjectStore
	key string
	on  bool
}

func (f *flakyStore) Get(ctx context.Context, bucket, key, etag string) (io.ReadCloser, error) {
	if f.on && key == f.key {
		return nil, errors.New("injected: storage unavailable")
	}
	return f.ObjectStore.Get(ctx, bucket, key, etag)
}

func TestSQSBatchReportsExactlyTheFailedMessages(t *testing.T) {
	tl := newTestLake(t, false)
	flaky := &flakyStore{ObjectStore: tl.in.Store, key: "exports/cdr/2026/10/flaky.csv", on: true}
	tl.in.Store = flaky
	var msgs []events.SQSMessage
	for i := range 4 {
		rec := tl.put(fmt.Sprintf("exports/cdr/2026/10/m%d.csv", i), cdrCSV(fmt.Sprintf("M%d-", i), 50, nil))
		msgs = append(msgs, sqsMessage(t, fmt.Sprintf("msg-%d", i), rec))
	}
	msgs = append(msgs,
		sqsMessage(t, "msg-flaky", tl.put(flaky.key, cdrCSV("F", 50, nil))),
		events.SQSMessage{MessageId: "msg-test", EventSource: "aws:sqs", Body: `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-12-01T10:00:00.000Z","Bucket":"landing"}`},
		events.SQSMessage{MessageId: "msg-garbage", EventSource: "aws:sqs", Body: `not json`},
	)
	other := tl.put("exports/cdr/2026/10/other.csv", cdrCSV("O", 5, nil))
	other.S3.Bucket.Name = "not-the-landing-bucket"
	msgs = append(msgs, sqsMessage(t, "msg-wrong-bucket", other))

	tests := []struct {
		name       string
		flaky      bool
		wantFailed []string
		wantRows   int64
	}{
		{"storage fails for one file", true, []string{"msg-flaky", "msg-garbage", "msg-wrong-bucket"}, 200},
		{"redelivered, still failing", true, []string{"msg-flaky", "msg-garbage", "msg-wrong-bucket"}, 200},
		{"redelivered, storage back", false, []string{"msg-garbage", "msg-wrong-bucket"}, 250},
		{"redelivered again", false, []string{"msg-garbage", "msg-wrong-bucket"}, 250},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			flaky.on = tc.flaky
			got := tl.invokeSQS(msgs...)
			if strings.Join(got, ",") != strings.Join(tc.wantFailed, ",") {
				t.Errorf("BatchItemFailures = %v, want %v", got, tc.wantFailed)
			}
			if n := tl.count(lake.CDRTable); n != tc.wantRows {
				t.Errorf("crm.cdr has %d rows, want %d", n, tc.wantRows)
			}
		})
	}
	if n := tl.count(lake.IngestLogTable); n != 5 {
		t.Errorf("crm.ingest_log has %d rows, want 5", n)
	}
}

// TestBatchesRaceExactlyOnce: two ingest functions take overlapping
// batches at once (a redelivery racing the first delivery): their commits
// conflict and retry, and every file is committed exactly once.
func TestBatchesRaceExactlyOnce(t *testing.T) {
	tl := newTestLake(t, false)
	var objs []lake.Object
	var want int64
	for i := range 12 {
		objs = append(objs, objectOf(tl.put(fmt.Sprintf("exports/cdr/2026/10/r%02d.csv", i), cdrCSV(fmt.Sprintf("R%02d-", i), 60+i, nil))))
		want += int64(60 + i)
	}
	ins := []*lake.Ingester{tl.in, tl.newIngester(tl.openCatalog())}
	parts := [][]lake.Object{objs[:8], objs[4:]}
	outs := make([][]lake.Outcome, 2)
	var wg sync.WaitGroup
	for k := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[k] = ins[k].IngestBatch(context.Background(), parts[k])
		}()
	}
	wg.Wait()
	committed := map[string]int{}
	for k := range 2 {
		for _, o := range outs[k] {
			switch {
			case o.Err != nil:
				t.Errorf("%s: %v", o.Source, o.Err)
			case o.Status == lake.StatusCommitted:
				committed[o.Source]++
			case o.Status != lake.StatusDuplicate:
				t.Errorf("%s: status %s", o.Source, o.Status)
			}
		}
	}
	for _, o := range objs {
		if committed[o.Source()] != 1 {
			t.Errorf("%s committed %d times, want once", o.Source(), committed[o.Source()])
		}
	}
	if n := tl.count(lake.CDRTable); n != want {
		t.Errorf("crm.cdr has %d rows, want %d", n, want)
	}
	if n := tl.count(lake.IngestLogTable); n != 12 {
		t.Errorf("crm.ingest_log has %d rows, want 12", n)
	}
}
