package lake_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/telcolake/telcolake/lake"
)

// cdrRange is a CDR export of the calls with ids from..to-1, each on the
// day and at the time fixed by its id, so overlapping ranges carry the same
// records.
func cdrRange(from, to int) []byte {
	var b bytes.Buffer
	b.WriteString(cdrHeader)
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "CALL%06d,S%05d,4917%08d,4930%06d,offnet,2026-10-%02dT%02d:%02d:07Z,%d,voice,out,false,false,CELL1,North,0,0.%04d\n",
			i, i%50, i%50, i, 1+i%3, i%24, i%60, 1+i%600, i%10000)
	}
	return b.Bytes()
}

func TestRecordsOnce(t *testing.T) {
	const billsHeader = "subscriber_id,bill_month,plan,amount_due,amount_paid,arrears,discount,payment_method,credit_limit\n"
	const subsHeader = "export_date,subscriber_id,msisdn,gender,plan,activation_date,status,status_date,payment_method\n"
	bills := func(month string, from, to int) []byte {
		var b strings.Builder
		b.WriteString(billsHeader)
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "S%05d,%s,BASIC10,12.50,12.50,0.00,,cash,\n", i, month)
		}
		return []byte(b.String())
	}
	subs := func(date string, from, to int) []byte {
		var b strings.Builder
		b.WriteString(subsHeader)
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "%s,S%05d,4917%08d,U,BASIC10,2025-01-01,active,2025-01-01,cash\n", date, i, i)
		}
		return []byte(b.String())
	}
	type file struct {
		key           string
		body          []byte
		wantOK, wantD int64 // rows added, duplicates
	}
	tests := []struct {
		name  string
		def   lake.TableDef
		files []file
		want  int64
	}{
		{"five re-sends of one day under new names", lake.CDRTable, []file{
			{"exports/cdr/2026/10/01/a.csv", cdrRange(0, 1000), 1000, 0},
			{"exports/cdr/2026/10/01/a-resend1.csv", cdrRange(0, 1000), 0, 1000},
			{"exports/cdr/2026/10/01/a-resend2.csv", cdrRange(0, 1000), 0, 1000},
			{"exports/cdr/2026/10/01/a-resend3.csv", cdrRange(0, 1000), 0, 1000},
			{"exports/cdr/2026/10/01/a-resend4.csv", cdrRange(0, 1000), 0, 1000},
		}, 1000},
		{"overlapping exports", lake.CDRTable, []file{
			{"exports/cdr/2026/10/01/x.csv", cdrRange(0, 600), 600, 0},
			{"exports/cdr/2026/10/01/y.csv", cdrRange(400, 1000), 400, 200},
		}, 1000},
		{"the same record twice in one file", lake.CDRTable, []file{
			{"exports/cdr/2026/10/01/twice.csv", append(cdrRange(0, 300), cdrRange(100, 200)[len(cdrHeader):]...), 300, 100},
		}, 300},
		{"the same call id on another day is another record", lake.CDRTable, []file{
			{"exports/cdr/2026/10/01/d1.csv", []byte(cdrHeader + "C1,S1,491700000001,4930123,offnet,2026-10-01T10:00:00Z,10,voice,out,false,false,C1,North,0,0.1\n"), 1, 0},
			{"exports/cdr/2026/10/02/d2.csv", []byte(cdrHeader + "C1,S1,491700000001,4930123,offnet,2026-10-02T10:00:00Z,10,voice,out,false,false,C1,North,0,0.1\n"), 1, 0},
		}, 2},
		{"bills: subscriber × month", lake.BillsTable, []file{
			{"exports/bills/2026/10/bills-a.csv", bills("2026-10", 0, 200), 200, 0},
			{"exports/bills/2026/10/bills-a-again.csv", bills("2026-10", 100, 300), 100, 100},
			{"exports/bills/2026/11/bills-b.csv", bills("2026-11", 0, 200), 200, 0},
		}, 500},
		{"subscribers: subscriber × export date", lake.SubscribersTable, []file{
			{"exports/subscribers/2026/10/31/s.csv", subs("2026-10-31", 0, 200), 200, 0},
			{"exports/subscribers/2026/10/31/s-copy.csv", subs("2026-10-31", 0, 200), 0, 200},
			{"exports/subscribers/2026/11/30/s.csv", subs("2026-11-30", 0, 200), 200, 0},
		}, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl := newTestLake(t, false)
			for _, f := range tc.files {
				res := tl.mustIngest(tl.put(f.key, f.body))
				if res.Status != lake.StatusCommitted || res.RowsOK != f.wantOK || res.RowsDuplicate != f.wantD || res.RowsRejected != 0 {
					t.Errorf("%s: status %s, ok %d, duplicate %d, rejected %d; want committed, %d, %d, 0 (%s)",
						f.key, res.Status, res.RowsOK, res.RowsDuplicate, res.RowsRejected, f.wantOK, f.wantD, res.Message)
				}
			}
			if n := tl.count(tc.def); n != tc.want {
				t.Errorf("crm.%s has %d rows, want %d", tc.def.Name, n, tc.want)
			}
			// A redelivery of any of them changes nothing.
			for _, f := range tc.files {
				if res := tl.mustIngest(tl.eventFor(f.key, f.body)); res.Status != lake.StatusDuplicate {
					t.Errorf("redelivery of %s: status %s, want duplicate", f.key, res.Status)
				}
			}
			if n := tl.count(tc.def); n != tc.want {
				t.Errorf("after redeliveries crm.%s has %d rows, want %d", tc.def.Name, n, tc.want)
			}
			if n := tl.count(lake.IngestLogTable); n != int64(len(tc.files)) {
				t.Errorf("crm.ingest_log has %d rows, want %d", n, len(tc.files))
			}
		})
	}
}

func TestDuplicatesInResultReportAndLog(t *testing.T) {
	tl := newTestLake(t, false)
	tl.mustIngest(tl.put("exports/cdr/2026/10/01/first.csv", cdrRange(0, 100)))
	// 50 records already in the table, one bad row.
	key := "exports/cdr/2026/10/01/second.csv"
	body := append(cdrRange(50, 150), []byte("BAD1,S1,491700000001,4930123,offnet,2026-10-01T10:00:00Z,10,telepathy,out,false,false,C1,North,0,0.1\n")...)
	res := tl.mustIngest(tl.put(key, body))
	if res.RowsOK != 50 || res.RowsDuplicate != 50 || res.RowsRejected != 1 {
		t.Fatalf("result ok %d duplicate %d rejected %d, want 50, 50, 1", res.RowsOK, res.RowsDuplicate, res.RowsRejected)
	}
	if rep := tl.report(key); rep.RowsDuplicate != 50 || rep.RowsOK != 50 || rep.RowsRejected != 1 {
		t.Errorf("report ok %d duplicate %d rejected %d, want 50, 50, 1", rep.RowsOK, rep.RowsDuplicate, rep.RowsRejected)
	}
	at, err := lake.ReadTable(context.Background(), tl.cat, lake.IngestLogTable, "source", "rows_duplicate")
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	got := map[string]string{}
	for i := 0; i < int(at.NumRows()); i++ {
		got[at.Column(0).Data().Chunk(0).ValueStr(i)] = at.Column(1).Data().Chunk(0).ValueStr(i)
	}
	if got["s3://landing/"+key] != "50" {
		t.Errorf("ingest_log rows_duplicate by source %v, want 50 for %s", got, key)
	}
}

func TestNewVersionIsNotADuplicateOfItsOwnEarlierVersion(t *testing.T) {
	tl := newTestLake(t, false)
	key := "exports/cdr/2026/10/01/corrected.csv"
	tl.mustIngest(tl.put(key, cdrRange(0, 500)))
	res := tl.mustIngest(tl.put(key, cdrRange(0, 450))) // corrected: same calls, fewer
	if res.Status != lake.StatusReplaced || res.RowsOK != 450 || res.RowsDuplicate != 0 {
		t.Fatalf("new version: %+v, want replaced with 450 rows and no duplicates", res)
	}
	if n := tl.count(lake.CDRTable); n != 450 {
		t.Errorf("crm.cdr has %d rows, want 450", n)
	}
}

// Writers of overlapping files race: every record lands once, and every
// line is either added or counted as a duplicate.
func TestConcurrentOverlappingFiles(t *testing.T) {
	tl := newTestLake(t, true)
	t.Logf("catalog: %s", strings.SplitN(tl.cfg.Catalog, ":", 2)[0])
	const writers, step, width = 16, 100, 300
	recs := make([]events.S3EventRecord, writers)
	for i := range recs {
		recs[i] = tl.put(fmt.Sprintf("exports/cdr/2026/10/01/overlap-%02d.csv", i), cdrRange(i*step, i*step+width))
	}
	results := make([]lake.Result, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := tl.newIngester(tl.openCatalog())
			// As Lambda does, deliver again while the ingest asks for a retry.
			for attempt := 0; attempt < 5; attempt++ {
				var out lake.EventResult
				out, errs[i] = in.HandleS3Event(context.Background(), landingBucket, events.S3Event{Records: []events.S3EventRecord{recs[i]}})
				if errs[i] == nil {
					results[i] = out.Files[0]
					return
				}
			}
		}()
	}
	wg.Wait()
	var ok, dup int64
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
		if results[i].Status != lake.StatusCommitted {
			t.Errorf("writer %d: status %s", i, results[i].Status)
		}
		ok += results[i].RowsOK
		dup += results[i].RowsDuplicate
	}
	distinct := int64((writers-1)*step + width)
	if n := tl.count(lake.CDRTable); n != distinct {
		t.Errorf("crm.cdr has %d rows, want %d distinct calls", n, distinct)
	}
	if ok != distinct || ok+dup != writers*width {
		t.Errorf("results add %d rows and count %d duplicates; want %d and %d", ok, dup, distinct, writers*width-distinct)
	}
	if n := tl.count(lake.IngestLogTable); n != writers {
		t.Errorf("crm.ingest_log has %d rows, want %d", n, writers)
	}
}
