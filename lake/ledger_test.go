package lake_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-lambda-go/events"

	"github.com/telcolake/telcolake/lake"
)

// summary returns the snapshot summary of a commit of def.
func (tl *testLake) summary(def lake.TableDef, snapshotID int64) iceberg.Properties {
	tl.t.Helper()
	tbl, err := tl.cat.LoadTable(context.Background(), def.Ident())
	if err != nil {
		tl.t.Fatal(err)
	}
	s := tbl.SnapshotByID(snapshotID)
	if s == nil || s.Summary == nil {
		tl.t.Fatalf("%s has no snapshot %d", def.Name, snapshotID)
	}
	return s.Summary.Properties
}

func summaryInt(t *testing.T, p iceberg.Properties, key string) int {
	t.Helper()
	n, err := strconv.Atoi(p[key])
	if err != nil {
		t.Fatalf("summary %s = %q: %v", key, p[key], err)
	}
	return n
}

// cdrDays returns a CDR export of n rows over the given days of October.
func cdrDays(prefix string, n int, days ...int) []byte {
	var b bytes.Buffer
	b.WriteString(cdrHeader)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%s%05d,S%05d,4917%08d,4930%06d,offnet,2026-10-%02dT10:%02d:07Z,%d,voice,out,false,false,CELL1,North,0,0.%04d\n",
			prefix, i, i%50, i%50, i, days[i%len(days)], i%60, 1+i%600, i)
	}
	return b.Bytes()
}

// cdrParts adds the crm.cdr partitions (day, subscriber bucket) of the
// rows of CSV bodies to parts and returns how many there are.
func cdrParts(parts map[string]bool, bodies ...[]byte) int {
	for _, body := range bodies {
		for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n")[1:] {
			f := strings.Split(line, ",")
			parts[f[5][:10]+"/"+strconv.Itoa(lake.SubscriberBucket(f[1]))] = true
		}
	}
	return len(parts)
}

func TestReplaceRemovesOnlyThatSourcesFiles(t *testing.T) {
	tl := newTestLake(t, false)
	const sources, rows = 50, 20
	// One batch commit of the 50 sources (cheaper than 50 commits), each
	// writing data files of its own, as a file ingested alone does.
	tl.in.SharedFileBytes = -1
	added := map[string]int{}
	var objs []lake.Object
	for s := 0; s < sources; s++ {
		key := fmt.Sprintf("exports/cdr/2026/10/src-%02d.csv", s)
		body := cdrDays(fmt.Sprintf("C%02d-", s), rows, 1+s%20, 2+s%20)
		objs = append(objs, objectOf(tl.put(key, body)))
		added[key] = cdrParts(map[string]bool{}, body)
	}
	files := 0
	for s, o := range tl.in.IngestBatch(context.Background(), objs) {
		if o.Err != nil || o.Status != lake.StatusCommitted {
			t.Fatalf("source %d: %+v", s, o)
		}
		files += added[objs[s].Key]
	}
	if got := tl.liveFiles(lake.CDRTable); got != files {
		t.Fatalf("crm.cdr has %d data files for %d sources, want %d (each source's own)", got, sources, files)
	}
	key := "exports/cdr/2026/10/src-07.csv"
	v2 := cdrDays("V2-", 30, 3, 4, 5)
	res := tl.mustIngest(tl.put(key, v2))
	if res.Status != lake.StatusReplaced || res.RowsOK != 30 {
		t.Fatalf("new version: %+v, want replaced with 30 rows", res)
	}
	sum := tl.summary(lake.CDRTable, res.SnapshotID)
	if got, want := summaryInt(t, sum, "deleted-data-files"), added[key]; got != want {
		t.Errorf("replace snapshot deleted %d data files, want the %d of the earlier version only", got, want)
	}
	if got, want := summaryInt(t, sum, "added-data-files"), cdrParts(map[string]bool{}, v2); got != want {
		t.Errorf("replace snapshot added %d data files, want %d (one per day and subscriber bucket of the new version)", got, want)
	}
	if got := summaryInt(t, sum, "deleted-records"); got != rows {
		t.Errorf("replace snapshot deleted %d records, want %d", got, rows)
	}
	if n := tl.count(lake.CDRTable); n != (sources-1)*rows+30 {
		t.Errorf("crm.cdr has %d rows, want %d", n, (sources-1)*rows+30)
	}
}

// compact rewrites the rows of the given sources into one new data file, as
// a maintenance compaction would: their original files are no longer live.
func (tl *testLake) compact(def lake.TableDef, sources ...string) {
	tl.t.Helper()
	ctx := context.Background()
	tbl, err := tl.cat.LoadTable(ctx, def.Ident())
	if err != nil {
		tl.t.Fatal(err)
	}
	var filter iceberg.BooleanExpression = iceberg.AlwaysFalse{}
	for _, s := range sources {
		filter = iceberg.NewOr(filter, iceberg.EqualTo(iceberg.Reference("source_file"), s))
	}
	at, err := tbl.Scan(table.WithRowFilter(filter)).ToArrowTable(ctx)
	if err != nil {
		tl.t.Fatal(err)
	}
	defer at.Release()
	tx := tbl.NewTransaction()
	if err := tx.Delete(ctx, filter, nil); err != nil {
		tl.t.Fatal(err)
	}
	if err := tx.AppendTable(ctx, at, 1<<20, nil); err != nil {
		tl.t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		tl.t.Fatal(err)
	}
}

func TestReplaceAfterCompactionFallsBackToRowDelete(t *testing.T) {
	tl := newTestLake(t, false)
	a, b := "exports/cdr/2026/10/a.csv", "exports/cdr/2026/10/b.csv"
	tl.mustIngest(tl.put(a, cdrDays("A-", 40, 1)))
	tl.mustIngest(tl.put(b, cdrDays("B-", 25, 1)))
	tl.compact(lake.CDRTable, "s3://"+landingBucket+"/"+a, "s3://"+landingBucket+"/"+b)
	if n := tl.count(lake.CDRTable); n != 65 {
		t.Fatalf("after compaction crm.cdr has %d rows, want 65", n)
	}
	res := tl.mustIngest(tl.put(a, cdrDays("A2-", 10, 1)))
	if res.Status != lake.StatusReplaced || res.RowsOK != 10 {
		t.Fatalf("new version of a: %+v", res)
	}
	at, err := lake.ReadTable(context.Background(), tl.cat, lake.CDRTable, "source_file")
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	bySource := map[string]int{}
	for _, ch := range at.Column(0).Data().Chunks() {
		for i := 0; i < ch.Len(); i++ {
			bySource[ch.ValueStr(i)]++
		}
	}
	if bySource["s3://landing/"+a] != 10 || bySource["s3://landing/"+b] != 25 || len(bySource) != 2 {
		t.Errorf("rows by source %v, want a: 10 (the new version), b: 25", bySource)
	}
}

// heldStore serves one object version from memory (what a Lambda that
// started reading before the object was overwritten still streams) and
// runs meanwhile before returning it: the racing ingest of another version.
type heldStore struct {
	lake.ObjectStore
	etag      string
	body      []byte
	meanwhile func()
}

func (h *heldStore) Get(ctx context.Context, bucket, key, etag string) (io.ReadCloser, error) {
	if etag != h.etag {
		return h.ObjectStore.Get(ctx, bucket, key, etag)
	}
	h.meanwhile()
	return io.NopCloser(bytes.NewReader(h.body)), nil
}

func TestVersionsInSequencerOrder(t *testing.T) {
	const key = "exports/cdr/2026/10/09/cdr-20261009.csv"
	v1Body, v2Body := cdrDays("O-", 100, 9), cdrDays("N-", 70, 9)
	tests := []struct {
		name string
		// first is ingested by the held worker, which reads its version
		// while the other worker ingests the other version to the end.
		heldIsOld   bool
		wantHeld    string
		wantRacing  string
		wantRows    int64
		wantLogRows int64
	}{
		// The old version's reader is slow: the new version commits first,
		// then the old one must not replace it.
		{"old version held, new one commits first", true, lake.StatusSuperseded, lake.StatusCommitted, 70, 2},
		// The new version's reader is slow: the old one commits first, the
		// new one replaces it.
		{"new version held, old one commits first", false, lake.StatusReplaced, lake.StatusCommitted, 70, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl := newTestLake(t, false)
			v1 := tl.put(key, v1Body)
			v1.S3.Object.Sequencer = "0055AED6DCD90281E5"
			v2 := tl.put(key, v2Body) // the object is v2 now
			v2.S3.Object.Sequencer = "0055AED6DCD90281E6"
			held, racing, heldBody := v1, v2, v1Body
			if !tc.heldIsOld {
				held, racing, heldBody = v2, v1, v2Body
			}
			var racingRes lake.Result
			in := tl.newIngester(tl.cat)
			in.Store = &heldStore{ObjectStore: in.Store, etag: held.S3.Object.ETag, body: heldBody, meanwhile: func() {
				other := tl.newIngester(tl.cat)
				if racing.S3.Object.ETag == v1.S3.Object.ETag { // the old version is gone from S3: serve it from memory
					other.Store = &heldStore{ObjectStore: other.Store, etag: v1.S3.Object.ETag, body: v1Body, meanwhile: func() {}}
				}
				out, err := other.HandleS3Event(context.Background(), landingBucket, events.S3Event{Records: []events.S3EventRecord{racing}})
				if err != nil || len(out.Files) != 1 {
					t.Fatalf("racing ingest: %v %+v", err, out)
				}
				racingRes = out.Files[0]
			}}
			out, err := in.HandleS3Event(context.Background(), landingBucket, events.S3Event{Records: []events.S3EventRecord{held}})
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Files[0].Status; got != tc.wantHeld {
				t.Errorf("held version: status %s, want %s (%s)", got, tc.wantHeld, out.Files[0].Message)
			}
			if racingRes.Status != tc.wantRacing {
				t.Errorf("racing version: status %s, want %s", racingRes.Status, tc.wantRacing)
			}
			if n := tl.count(lake.CDRTable); n != tc.wantRows {
				t.Errorf("crm.cdr has %d rows, want the new version's %d", n, tc.wantRows)
			}
			if n := tl.count(lake.IngestLogTable); n != tc.wantLogRows {
				t.Errorf("crm.ingest_log has %d rows, want %d", n, tc.wantLogRows)
			}
			// Late redeliveries of either event change nothing.
			for _, rec := range []events.S3EventRecord{v1, v2} {
				if res := tl.mustIngest(rec); res.Status != lake.StatusDuplicate && res.Status != lake.StatusSuperseded {
					t.Errorf("redelivery of %s: status %s, want duplicate or superseded", rec.S3.Object.ETag, res.Status)
				}
			}
			if n := tl.count(lake.CDRTable); n != tc.wantRows {
				t.Errorf("after redeliveries crm.cdr has %d rows, want %d", n, tc.wantRows)
			}
		})
	}
}

func TestLateOldVersionEventIsSuperseded(t *testing.T) {
	tl := newTestLake(t, false)
	const key = "exports/cdr/2026/10/10/cdr-20261010.csv"
	v1 := tl.put(key, cdrDays("O-", 100, 10))
	v1.S3.Object.Sequencer = "0055AED6DCD90281E5"
	v2 := tl.put(key, cdrDays("N-", 70, 10))
	v2.S3.Object.Sequencer = "0055AED6DCD90281E600" // longer: compared right-padded
	if res := tl.mustIngest(v2); res.Status != lake.StatusCommitted {
		t.Fatalf("v2: %+v", res)
	}
	if res := tl.mustIngest(v1); res.Status != lake.StatusSuperseded {
		t.Errorf("late v1 event: status %s, want superseded", res.Status)
	}
	if n := tl.count(lake.CDRTable); n != 70 {
		t.Errorf("crm.cdr has %d rows, want 70", n)
	}
}

// expire drops every snapshot of def but the current one, as the
// maintenance job does with old history.
func (tl *testLake) expire(def lake.TableDef) {
	tl.t.Helper()
	ctx := context.Background()
	tbl, err := tl.cat.LoadTable(ctx, def.Ident())
	if err != nil {
		tl.t.Fatal(err)
	}
	tx := tbl.NewTransaction()
	if err := tx.ExpireSnapshots(table.WithRetainLast(1), table.WithOlderThan(0)); err != nil {
		tl.t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		tl.t.Fatal(err)
	}
}

func ledgerObjectKey(source string) string {
	sum := sha256.Sum256([]byte(source))
	return "warehouse/_ledger/cdr/" + hex.EncodeToString(sum[:]) + ".json"
}

func TestLedgerOutlivesSnapshotExpiry(t *testing.T) {
	tl := newTestLake(t, false)
	key := "exports/cdr/2026/10/11/cdr-20261011.csv"
	source := "s3://" + landingBucket + "/" + key
	v1Body := cdrDays("E1-", 80, 11)
	v1Files := cdrParts(map[string]bool{}, v1Body) // one per subscriber bucket of the day
	v1 := tl.put(key, v1Body)
	v1.S3.Object.Sequencer = "0055AED6DCD90281E5"
	first := tl.mustIngest(v1)
	var obj struct {
		Source, ETag string
		Files        []string
	}
	if err := json.Unmarshal(tl.get(lakeBucket, ledgerObjectKey(source)), &obj); err != nil {
		t.Fatalf("ledger object: %v", err)
	}
	if obj.Source != source || obj.ETag != first.ETag || len(obj.Files) != v1Files {
		t.Errorf("ledger object %+v, want source %s, ETag %s and its %d data files", obj, source, first.ETag, v1Files)
	}
	// Other files commit, then maintenance expires the history: the
	// snapshot that carried v1's ledger entry is gone.
	tl.mustIngest(tl.put("exports/cdr/2026/10/12/other.csv", cdrDays("X-", 30, 12)))
	tl.expire(lake.CDRTable)
	if res := tl.mustIngest(v1); res.Status != lake.StatusDuplicate {
		t.Errorf("redelivered v1 after expiry: status %s, want duplicate", res.Status)
	}
	v2 := tl.put(key, cdrDays("E2-", 50, 11)) // other call ids: a second append would add them to v1's
	v2.S3.Object.Sequencer = "0055AED6DCD90281E6"
	res := tl.mustIngest(v2)
	if res.Status != lake.StatusReplaced {
		t.Fatalf("v2 after expiry: %+v, want replaced", res)
	}
	if got := summaryInt(t, tl.summary(lake.CDRTable, res.SnapshotID), "deleted-data-files"); got != v1Files {
		t.Errorf("replace after expiry deleted %d data files, want v1's %d", got, v1Files)
	}
	if n := tl.count(lake.CDRTable); n != 30+50 {
		t.Errorf("crm.cdr has %d rows, want %d", n, 30+50)
	}
}

func TestHalfWrittenLedgerObjectIsRebuilt(t *testing.T) {
	tl := newTestLake(t, false)
	key := "exports/cdr/2026/10/13/cdr-20261013.csv"
	source := "s3://" + landingBucket + "/" + key
	v1 := tl.put(key, cdrDays("H1-", 40, 13))
	tl.mustIngest(v1)
	tl.putLake(ledgerObjectKey(source), []byte(`{"source":"s3://landing/exports/cdr/2026/10/13/cdr-2`))
	if res := tl.mustIngest(v1); res.Status != lake.StatusDuplicate {
		t.Errorf("redelivery with a half-written ledger object: status %s, want duplicate", res.Status)
	}
	var obj struct{ Source, ETag string }
	if err := json.Unmarshal(tl.get(lakeBucket, ledgerObjectKey(source)), &obj); err != nil || obj.Source != source || obj.ETag != v1.S3.Object.ETag {
		t.Errorf("ledger object after the redelivery: %+v, %v; want it rebuilt from the snapshot summaries", obj, err)
	}
	if res := tl.mustIngest(tl.put(key, cdrDays("H2-", 20, 13))); res.Status != lake.StatusReplaced {
		t.Errorf("v2: status %s, want replaced", res.Status)
	}
	if n := tl.count(lake.CDRTable); n != 20 {
		t.Errorf("crm.cdr has %d rows, want 20", n)
	}
}
