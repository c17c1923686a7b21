package lake_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/telcolake/telcolake/lake"
)

const cdrHeader = "call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n"

// cdrCSV returns a CDR export of n good rows; bad(i) may replace row i.
func cdrCSV(prefix string, n int, bad func(i int) string) []byte {
	var b bytes.Buffer
	b.WriteString(cdrHeader)
	for i := 0; i < n; i++ {
		if bad != nil {
			if row := bad(i); row != "" {
				b.WriteString(row + "\n")
				continue
			}
		}
		fmt.Fprintf(&b, "%s%07d,S%07d,4917%08d,4930%06d,offnet,2026-10-%02dT%02d:%02d:07Z,%d,voice,out,false,false,CELL%03d,North,0,0.%04d\n",
			prefix, i, i%500, i%500, i%9973, 1+i%28, i%24, i%60, 1+i%3600, i%100, i%10000)
	}
	return b.Bytes()
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestIngestMalformedFiles(t *testing.T) {
	tl := newTestLake(t, false)
	badRow := func(at int, row string) func(int) string {
		return func(i int) string {
			if i == at {
				return row
			}
			return ""
		}
	}
	good := cdrCSV("G", 200, nil)
	tests := []struct {
		name       string
		key        string
		body       []byte
		wantStatus string
		wantRows   int64
		wantReject int64
		// wantReason must appear in the report's message or first error.
		wantReason string
		wantLine   int64
		wantColumn string
	}{
		{"truncated gzip", "exports/cdr/t/truncated.csv.gz", gz(t, good)[:len(gz(t, good))/2],
			lake.StatusRejected, 0, 0, "truncated or corrupt", 0, ""},
		{"gzip suffix on plain text", "exports/cdr/t/notgzip.csv.gz", good,
			lake.StatusRejected, 0, 0, "not gzip", 0, ""},
		{"wrong header (a bills file in the cdr folder)", "exports/cdr/t/wrongheader.csv",
			[]byte("subscriber_id,bill_month,plan,amount_due,amount_paid,arrears,discount,payment_method,credit_limit\nS1,2026-10,P,1.00,1.00,0.00,,cash,\n"),
			lake.StatusRejected, 0, 0, "lacks required column(s) call_id", 0, ""},
		{"missing column", "exports/cdr/t/nocharge.csv",
			[]byte(strings.Replace(string(cdrCSV("M", 10, nil)), ",charge\n", "\n", 1)),
			lake.StatusRejected, 0, 0, "lacks required column(s) charge", 0, ""},
		{"bad timestamp", "exports/cdr/t/badtime.csv",
			cdrCSV("B", 100, badRow(41, "B9,S1,491700000001,4930123,offnet,2026-13-45T99:00:00Z,10,voice,out,false,false,C1,North,0,0.1")),
			lake.StatusCommitted, 99, 1, "must be a timestamp", 43, "start_time"},
		{"negative duration", "exports/cdr/t/negdur.csv",
			cdrCSV("N", 100, badRow(0, "N9,S1,491700000001,4930123,offnet,2026-10-01T10:00:00Z,-30,voice,out,false,false,C1,North,0,0.1")),
			lake.StatusCommitted, 99, 1, "between 0 and 86400", 2, "duration_s"},
		{"non-UTF-8 bytes", "exports/cdr/t/latin1.csv",
			cdrCSV("U", 100, badRow(9, "U9,S1,491700000001,4930123,offnet,2026-10-01T10:00:00Z,30,voice,out,false,false,C1,M\xfcnchen,0,0.1")),
			lake.StatusCommitted, 99, 1, "not valid UTF-8", 11, "region"},
		{"row with too few fields", "exports/cdr/t/short.csv",
			cdrCSV("F", 100, badRow(5, "F9,S1,491700000001")),
			lake.StatusCommitted, 99, 1, "row has 3 fields, the header has 15", 7, ""},
		{"0-byte file", "exports/cdr/t/zero.csv", []byte{},
			lake.StatusRejected, 0, 0, "file is empty", 0, ""},
		{"0-byte gzip file", "exports/cdr/t/zero.csv.gz", []byte{},
			lake.StatusRejected, 0, 0, "file is empty", 0, ""},
		{"empty file (blank line)", "exports/cdr/t/blank.csv", []byte("\n"),
			lake.StatusRejected, 0, 0, "file is empty", 0, ""},
		{"header only", "exports/cdr/t/headeronly.csv", []byte(cdrHeader),
			lake.StatusRejected, 0, 0, "header but no data rows", 0, ""},
		{"unknown prefix", "exports/unknown/x.csv", good,
			lake.StatusRejected, 0, 0, "matches no export format", 0, ""},
		{"above the reject threshold", "exports/cdr/t/mostlybad.csv",
			cdrCSV("Q", 100, func(i int) string {
				if i%10 == 0 {
					return "Q9,S1,491700000001,4930123,offnet,2026-10-01T10:00:00Z,30,telepathy,out,false,false,C1,North,0,0.1"
				}
				return ""
			}),
			lake.StatusQuarantined, 90, 10, "above the 5.0% threshold", 2, "call_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tl.count(lake.CDRTable)
			res := tl.mustIngest(tl.put(tc.key, tc.body))
			if res.Status != tc.wantStatus || res.RowsOK != tc.wantRows || res.RowsRejected != tc.wantReject {
				t.Errorf("status, rows, rejected = %s, %d, %d; want %s, %d, %d (%s)",
					res.Status, res.RowsOK, res.RowsRejected, tc.wantStatus, tc.wantRows, tc.wantReject, res.Message)
			}
			committed := int64(0)
			if tc.wantStatus == lake.StatusCommitted {
				committed = tc.wantRows
			}
			if got := tl.count(lake.CDRTable) - before; got != committed {
				t.Errorf("table grew by %d rows, want %d", got, committed)
			}
			rep := tl.report(tc.key)
			text := rep.Message
			if len(rep.Errors) > 0 {
				text += " | " + rep.Errors[0].Reason
			}
			if !strings.Contains(text, tc.wantReason) {
				t.Errorf("report says %q, want it to mention %q", text, tc.wantReason)
			}
			if tc.wantLine > 0 {
				if len(rep.Errors) == 0 {
					t.Fatalf("report lists no rows")
				}
				if e := rep.Errors[0]; e.Line != tc.wantLine || e.Column != tc.wantColumn {
					t.Errorf("first error at line %d column %q, want line %d column %q", e.Line, e.Column, tc.wantLine, tc.wantColumn)
				}
				if int64(len(rep.Errors)) != rep.RowsRejected {
					t.Errorf("report lists %d rows, counts %d", len(rep.Errors), rep.RowsRejected)
				}
			}
			if got := tl.get(landingBucket, tc.key); !bytes.Equal(got, tc.body) {
				t.Errorf("original object changed: %d bytes, was %d", len(got), len(tc.body))
			}
			// A quarantined or rejected file delivered again stays a no-op.
			if again := tl.mustIngest(tl.eventFor(tc.key, tc.body)); again.Status != lake.StatusDuplicate {
				t.Errorf("second delivery: status %s, want duplicate", again.Status)
			}
		})
	}
}

// eventFor builds the event of an object already uploaded.
func (tl *testLake) eventFor(key string, body []byte) events.S3EventRecord {
	tl.t.Helper()
	rec := tl.put(key+".tmp-probe", body) // same bytes, same ETag
	rec.S3.Object.Key = strings.TrimSuffix(rec.S3.Object.Key, ".tmp-probe")
	return rec
}

func TestIngestRedeliveryIsANoOp(t *testing.T) {
	tl := newTestLake(t, false)
	key := "exports/cdr/2026/10/01/cdr-20261001.csv.gz"
	rec := tl.put(key, gz(t, cdrCSV("R", 1000, nil)))
	first := tl.mustIngest(rec)
	if first.Status != lake.StatusCommitted || first.RowsOK != 1000 {
		t.Fatalf("first delivery: %+v", first)
	}
	for i := 0; i < 2; i++ {
		if res := tl.mustIngest(rec); res.Status != lake.StatusDuplicate || res.SnapshotID != first.SnapshotID {
			t.Errorf("delivery %d: status %s snapshot %d, want duplicate of snapshot %d", i+2, res.Status, res.SnapshotID, first.SnapshotID)
		}
	}
	// The same record twice in one event, too.
	if _, err := tl.invoke(rec, rec); err != nil {
		t.Fatal(err)
	}
	if n := tl.count(lake.CDRTable); n != 1000 {
		t.Errorf("crm.cdr has %d rows after 5 deliveries, want 1000", n)
	}
	if n := tl.count(lake.IngestLogTable); n != 1 {
		t.Errorf("crm.ingest_log has %d rows, want 1", n)
	}
}

func TestIngestNewVersionReplacesRows(t *testing.T) {
	tl := newTestLake(t, false)
	key := "exports/cdr/2026/10/02/cdr-20261002.csv"
	other := tl.put("exports/cdr/2026/10/03/cdr-20261003.csv", cdrCSV("O", 50, nil))
	tl.mustIngest(other)
	v1 := tl.put(key, cdrCSV("A", 300, nil))
	if res := tl.mustIngest(v1); res.Status != lake.StatusCommitted {
		t.Fatalf("v1: %+v", res)
	}
	v2 := tl.put(key, cdrCSV("B", 120, nil)) // corrected export, same key
	if res := tl.mustIngest(v2); res.Status != lake.StatusReplaced || res.RowsOK != 120 {
		t.Fatalf("v2: %+v, want replaced with 120 rows", res)
	}
	if n := tl.count(lake.CDRTable); n != 50+120 {
		t.Errorf("crm.cdr has %d rows, want %d (other file + v2 only)", n, 50+120)
	}
	// v1's event arriving late must not bring v1 back: the object is v2 now.
	if res := tl.mustIngest(v1); res.Status != lake.StatusSuperseded {
		t.Errorf("late v1 event: status %s, want superseded", res.Status)
	}
	if n := tl.count(lake.CDRTable); n != 50+120 {
		t.Errorf("after late v1 event crm.cdr has %d rows, want %d", n, 50+120)
	}
}

func TestIngestConcurrentFiles(t *testing.T) {
	tl := newTestLake(t, true)
	t.Logf("catalog: %s", strings.SplitN(tl.cfg.Catalog, ":", 2)[0])
	const files, rows = 8, 2000
	recs := make([]events.S3EventRecord, files)
	for i := range recs {
		recs[i] = tl.put(fmt.Sprintf("exports/cdr/2026/10/%02d/cdr-part%d.csv", i+1, i), cdrCSV(fmt.Sprintf("P%d-", i), rows, nil))
	}
	var wg sync.WaitGroup
	errs := make([]error, files)
	for i := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each worker has its own catalog connection, as separate Lambdas do.
			in := tl.newIngester(tl.openCatalog())
			_, errs[i] = in.HandleS3Event(context.Background(), landingBucket, events.S3Event{Records: []events.S3EventRecord{recs[i]}})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("file %d: %v", i, err)
		}
	}
	if n := tl.count(lake.CDRTable); n != files*rows {
		t.Errorf("crm.cdr has %d rows, want %d", n, files*rows)
	}
	if n := tl.count(lake.IngestLogTable); n != files {
		t.Errorf("crm.ingest_log has %d rows, want %d", n, files)
	}
}

func TestIngestMillionRowsEveryTenthBad(t *testing.T) {
	if testing.Short() {
		t.Skip("1M rows")
	}
	tl := newTestLake(t, false)
	key := "exports/cdr/2026/10/15/cdr-big.csv.gz"
	body := gz(t, cdrCSV("M", 1_000_000, func(i int) string {
		if i%10 == 9 {
			return fmt.Sprintf("M%d,S1,491700000001,4930123,offnet,2026-10-01T10:00:00Z,30,voice,out,maybe,false,C1,North,0,0.1", i)
		}
		return ""
	}))
	res := tl.mustIngest(tl.put(key, body))
	if res.Status != lake.StatusQuarantined || res.RowsOK != 900_000 || res.RowsRejected != 100_000 {
		t.Fatalf("result %+v; want quarantined with 900000 ok and 100000 rejected", res)
	}
	if n := tl.count(lake.CDRTable); n != 0 {
		t.Errorf("crm.cdr has %d rows after a quarantined file, want 0", n)
	}
	if files := tl.objects(lakeBucket, "warehouse/crm/cdr/data/"); len(files) != 0 {
		t.Errorf("quarantined file left %d data files behind, e.g. %s", len(files), files[0])
	}
	rep := tl.report(key)
	// The first 1,000 per reason are listed; every one is counted.
	if len(rep.Errors) != 1000 || len(rep.ByReason) != 1 || rep.ByReason[0].Rows != 100_000 || rep.ByReason[0].Column != "roaming" {
		t.Errorf("report lists %d errors, by reason %+v; want 1000 listed of 100000 rows of column roaming", len(rep.Errors), rep.ByReason)
	}
	if e := rep.Errors[len(rep.Errors)-1]; e.Line != 10_001 {
		t.Errorf("last listed error at line %d, want 10001", e.Line)
	}
	if rep.Lines != 1_000_001 || rep.RowsOK+rep.RowsRejected != 1_000_000 {
		t.Errorf("report counts %d lines, %d ok, %d rejected; want 1000001 lines, 1000000 data lines", rep.Lines, rep.RowsOK, rep.RowsRejected)
	}
	if got := tl.get(landingBucket, key); !bytes.Equal(got, body) {
		t.Errorf("original object changed")
	}
}

// Rows of 28 days interleaved row by row overflow the parser's buffer and
// the clustered writer's single open partition: the writer needs several
// passes, and every row must still land exactly once.
func TestIngestInterleavedPartitions(t *testing.T) {
	if testing.Short() {
		t.Skip("600k rows")
	}
	tl := newTestLake(t, false)
	const n = 600_000
	res := tl.mustIngest(tl.put("exports/cdr/2026/10/mixed.csv.gz", gz(t, cdrCSV("I", n, nil))))
	if res.Status != lake.StatusCommitted || res.RowsOK != n {
		t.Fatalf("result %+v, want %d rows committed", res, n)
	}
	want := tableTotals(t, tl, lake.CDRTable, "charge", "duration_s")
	if want.rows != n {
		t.Errorf("crm.cdr has %d rows, want %d", want.rows, n)
	}
	var durations int64
	for i := 0; i < n; i++ {
		durations += int64(1 + i%3600)
	}
	if want.ints != durations {
		t.Errorf("sum of duration_s %d, want %d", want.ints, durations)
	}
	files := tl.objects(lakeBucket, "warehouse/crm/cdr/data/")
	t.Logf("%d data files for 28 day partitions", len(files))
}

// cancellingStore cancels the ingest's context once some bytes were read:
// a Lambda killed mid-file.
type cancellingStore struct {
	lake.ObjectStore
	after  int
	cancel context.CancelFunc
}

func (c cancellingStore) Get(ctx context.Context, bucket, key, etag string) (io.ReadCloser, error) {
	rc, err := c.ObjectStore.Get(ctx, bucket, key, etag)
	if err != nil {
		return nil, err
	}
	return &cancellingReader{ReadCloser: rc, left: c.after, cancel: c.cancel}, nil
}

type cancellingReader struct {
	io.ReadCloser
	left   int
	cancel context.CancelFunc
}

func (r *cancellingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if r.left -= n; r.left <= 0 {
		r.cancel()
	}
	return n, err
}

func TestIngestInterruptedLeavesNothing(t *testing.T) {
	tl := newTestLake(t, false)
	body := cdrCSV("K", 200_000, nil)
	rec := tl.put("exports/cdr/2026/10/20/cdr-20261020.csv", body)
	ctx, cancel := context.WithCancel(context.Background())
	in := tl.newIngester(tl.cat)
	in.Store = cancellingStore{ObjectStore: in.Store, after: len(body) / 2, cancel: cancel}
	_, err := in.HandleS3Event(ctx, landingBucket, events.S3Event{Records: []events.S3EventRecord{rec}})
	if err == nil {
		t.Fatal("an ingest cancelled halfway through the file reported success")
	}
	if n := tl.count(lake.CDRTable); n != 0 {
		t.Fatalf("crm.cdr has %d rows after an interrupted ingest, want 0", n)
	}
	if n := tl.count(lake.IngestLogTable); n != 0 {
		t.Errorf("crm.ingest_log has %d rows after an interrupted ingest, want 0", n)
	}
	// The files the attempt finished are removed; a file being written by
	// one of the two writer lanes at the moment of the interruption may be
	// left, unreferenced (as after any crash: an orphan for a sweep).
	if files := tl.objects(lakeBucket, "warehouse/crm/cdr/data/"); len(files) > 2 {
		t.Errorf("the interrupted attempt left %d data files, want at most the 2 in flight: %v", len(files), files)
	}
	// Lambda delivers the event again: now it lands, once.
	if res := tl.mustIngest(rec); res.Status != lake.StatusCommitted || res.RowsOK != 200_000 {
		t.Fatalf("redelivery after the interruption: %+v", res)
	}
	if n := tl.count(lake.CDRTable); n != 200_000 {
		t.Errorf("crm.cdr has %d rows, want 200000", n)
	}
}
