package lake_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-lambda-go/events"

	"github.com/telcolake/telcolake/lake"
)

// fullExpiry is the most aggressive policy: every snapshot but the newest
// expires, orphans after a day (nothing of these tests is that old).
var fullExpiry = lake.MaintainConfig{SnapshotAge: 0, KeepSnapshots: 1, OrphanAge: 24 * time.Hour, TargetFileBytes: 128 << 20}

func (tl *testLake) maintainer(cfg lake.MaintainConfig) *lake.Maintainer {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	m := lake.NewMaintainer(cfg, tl.cat, log)
	m.AWS = tl.aws
	return m
}

func (tl *testLake) maintain(cfg lake.MaintainConfig) lake.MaintainReport {
	tl.t.Helper()
	rep, err := tl.maintainer(cfg).Run(context.Background())
	if err != nil {
		tl.t.Fatalf("maintenance: %v", err)
	}
	return rep
}

func tableReport(t *testing.T, rep lake.MaintainReport, def lake.TableDef) lake.TableMaintenance {
	t.Helper()
	for _, tm := range rep.Tables {
		if tm.Table == lake.Namespace+"."+def.Name {
			return tm
		}
	}
	t.Fatalf("report has no row for %s: %+v", def.Name, rep)
	return lake.TableMaintenance{}
}

// rows counts a table's rows through its first column.
func (tl *testLake) rows(def lake.TableDef) int64 {
	tl.t.Helper()
	at, err := lake.ReadTable(context.Background(), tl.cat, def, def.Schema.Fields()[0].Name)
	if err != nil {
		tl.t.Fatal(err)
	}
	defer at.Release()
	return at.NumRows()
}

// everySnapshotReadable scans each snapshot still in the table in full: a
// data file or manifest deleted under a live snapshot fails the scan.
func (tl *testLake) everySnapshotReadable(def lake.TableDef) {
	tl.t.Helper()
	ctx := lake.WithAWS(context.Background(), tl.aws)
	tbl, err := tl.cat.LoadTable(ctx, def.Ident())
	if err != nil {
		tl.t.Fatal(err)
	}
	for _, s := range tbl.Metadata().Snapshots() {
		at, err := tbl.Scan(table.WithSnapshotID(s.SnapshotID)).ToArrowTable(ctx)
		if err != nil {
			tl.t.Errorf("%s snapshot %d unreadable after maintenance: %v", def.Name, s.SnapshotID, err)
			continue
		}
		at.Release()
	}
}

// TestLedgerSurvivesFullExpiry: 1,000 files ingested (most in batches, as
// the queue delivers them, a few one by one), every snapshot expired by
// maintenance (data tables and crm.ingest_log), then every file delivered
// again, in batches of another make-up and one by one: nothing is doubled,
// every redelivery is a duplicate, and the log does not get a second row
// per file.
func TestLedgerSurvivesFullExpiry(t *testing.T) {
	tl := newTestLake(t, false)
	ctx := context.Background()
	const files, rowsPerFile, alone, batch = 1000, 3, 10, 330
	var objs []lake.Object
	var single []events.S3EventRecord
	parts := map[string]bool{}
	for i := 0; i < files; i++ {
		key := fmt.Sprintf("exports/cdr/2026/10/%02d/sw%04d.csv", 1+i%4, i)
		body := cdrDays(fmt.Sprintf("F%04d-", i), rowsPerFile, 1+i%4)
		cdrParts(parts, body)
		if rec := tl.put(key, body); i < alone {
			single = append(single, rec)
		} else {
			objs = append(objs, objectOf(rec))
		}
	}
	// A quarantined file and an unroutable one: their verdicts live in
	// crm.ingest_log only.
	single = append(single, tl.put("exports/cdr/2026/10/01/broken.csv", cdrCSV("Q-", 10, func(i int) string { return "not,a,row" })),
		tl.put("exports/unknown/x.csv", []byte("a,b\n1,2\n")))
	want := map[string]string{}
	for _, r := range single {
		res := tl.mustIngest(r)
		want[res.Source] = res.Status
	}
	if want["s3://"+landingBucket+"/exports/cdr/2026/10/01/broken.csv"] != lake.StatusQuarantined {
		t.Fatalf("broken file: %v, want quarantined", want)
	}
	for i := 0; i < len(objs); i += batch {
		for _, o := range tl.in.IngestBatch(ctx, objs[i:min(len(objs), i+batch)]) {
			if o.Err != nil || o.Status != lake.StatusCommitted {
				t.Fatalf("batch: %s: %s, %v; want committed", o.Source, o.Status, o.Err)
			}
		}
	}
	cdrRows, logRows := tl.rows(lake.CDRTable), tl.rows(lake.IngestLogTable)
	if cdrRows != files*rowsPerFile || logRows != files+2 {
		t.Fatalf("before maintenance: %d CDR rows, %d log rows; want %d and %d", cdrRows, logRows, files*rowsPerFile, files+2)
	}

	rep := tl.maintain(fullExpiry)
	cdr, lg := tableReport(t, rep, lake.CDRTable), tableReport(t, rep, lake.IngestLogTable)
	t.Logf("crm.cdr: %+v", cdr)
	t.Logf("crm.ingest_log: %+v", lg)
	commits := int64(alone + (len(objs)+batch-1)/batch)
	for _, tm := range []lake.TableMaintenance{cdr, lg} {
		if tm.SnapshotsAfter != 1 || tm.SnapshotsBefore < commits || tm.SnapshotsExpired < tm.SnapshotsBefore-1 {
			t.Errorf("%s: snapshots %d → %d, %d expired; want at least %d, all but the newest expired", tm.Table, tm.SnapshotsBefore, tm.SnapshotsAfter, tm.SnapshotsExpired, commits)
		}
		if tm.ManifestsAfter != 1 || tm.ManifestsBefore < commits {
			t.Errorf("%s: manifests %d → %d, want at least %d → 1", tm.Table, tm.ManifestsBefore, tm.ManifestsAfter, commits)
		}
		if tm.DataFilesAfter*2 > tm.DataFilesBefore || tm.FilesCompacted == 0 {
			t.Errorf("%s: data files %d → %d (%d compacted), want at least 2× fewer", tm.Table, tm.DataFilesBefore, tm.DataFilesAfter, tm.FilesCompacted)
		}
		if tm.MetadataBytesAfter*3 > tm.MetadataBytesBefore {
			t.Errorf("%s: metadata %d → %d bytes, want at least 3× smaller", tm.Table, tm.MetadataBytesBefore, tm.MetadataBytesAfter)
		}
		if tm.ExpiredFilesRemoved == 0 {
			t.Errorf("%s: no file of the expired snapshots removed", tm.Table)
		}
	}
	if cdr.DataFilesAfter != int64(len(parts)) {
		t.Errorf("crm.cdr has %d data files after compaction, want %d (one per day and subscriber bucket)", cdr.DataFilesAfter, len(parts))
	}
	if lg.LedgerRepaired != files+2 {
		t.Errorf("ingest_log: %d ledger objects written before expiry, want %d (one per file)", lg.LedgerRepaired, files+2)
	}
	if got := tl.rows(lake.MaintenanceLogTable); got != int64(len(lake.Tables())) {
		t.Errorf("crm.maintenance_log has %d rows, want one per table (%d)", got, len(lake.Tables()))
	}
	tl.everySnapshotReadable(lake.CDRTable)
	tl.everySnapshotReadable(lake.IngestLogTable)

	// Again: the batches cut differently (each mixes files of two earlier
	// batches), then a sample of them and the single files one by one.
	for i := 0; i < len(objs); i += 2 * batch {
		for _, o := range tl.in.IngestBatch(ctx, objs[i:min(len(objs), i+2*batch)]) {
			if o.Err != nil || o.Status != lake.StatusDuplicate {
				t.Errorf("redelivered %s in a batch after full expiry: %s, %v; want duplicate", o.Source, o.Status, o.Err)
			}
		}
	}
	for i := 0; i < len(objs); i += 97 {
		if res, err := tl.in.Ingest(ctx, objs[i]); err != nil || res.Status != lake.StatusDuplicate {
			t.Errorf("redelivered %s alone after full expiry: %s, %v; want duplicate", res.Source, res.Status, err)
		}
	}
	for _, r := range single {
		if res := tl.mustIngest(r); res.Status != lake.StatusDuplicate {
			t.Errorf("redelivered %s after full expiry: %s (was %s), want duplicate", res.Source, res.Status, want[res.Source])
		}
	}
	if got := tl.rows(lake.CDRTable); got != cdrRows {
		t.Errorf("crm.cdr has %d rows after the redelivery, want %d", got, cdrRows)
	}
	if got := tl.rows(lake.IngestLogTable); got != logRows {
		t.Errorf("crm.ingest_log has %d rows after the redelivery, want %d (no file logged twice)", got, logRows)
	}
	// A second run has nothing left to do but stays correct.
	rep = tl.maintain(fullExpiry)
	if c := tableReport(t, rep, lake.CDRTable); c.FilesCompacted != 0 || c.DataFilesAfter != c.DataFilesBefore {
		t.Errorf("second run on crm.cdr: %+v, want nothing compacted", c)
	}
	if got := tl.rows(lake.CDRTable); got != cdrRows {
		t.Errorf("crm.cdr has %d rows after a second run, want %d", got, cdrRows)
	}
}

// TestMaintenanceRacesIngest: maintenance with full expiry runs again and
// again while files are ingested: every file's rows are in the table
// exactly once afterwards, every log row too, and every snapshot left is
// readable (no file a live snapshot references was deleted).
func TestMaintenanceRacesIngest(t *testing.T) {
	tl := newTestLake(t, false)
	const files, rowsPerFile = 40, 4
	var recs []events.S3EventRecord
	for i := 0; i < files; i++ {
		key := fmt.Sprintf("exports/cdr/2026/10/%02d/race%03d.csv", 1+i%3, i)
		recs = append(recs, tl.put(key, cdrDays(fmt.Sprintf("R%03d-", i), rowsPerFile, 1+i%3)))
	}
	// Seed some history so the first runs have something to compact.
	for _, r := range recs[:10] {
		tl.mustIngest(r)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	ingestErrs := make(chan error, files)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for _, r := range recs[10:] {
			// A failed delivery is delivered again, as Lambda does.
			var err error
			for attempt := 0; attempt < 5; attempt++ {
				var out lake.EventResult
				if out, err = tl.invoke(r); err == nil {
					if len(out.Files) != 1 || (out.Files[0].Status != lake.StatusCommitted && out.Files[0].Status != lake.StatusDuplicate) {
						err = fmt.Errorf("%s: %+v", r.S3.Object.Key, out.Files)
					}
					break
				}
			}
			if err != nil {
				ingestErrs <- err
			}
		}
	}()
	runs, conflicts := 0, int64(0)
	var maintErrs []error
	for {
		select {
		case <-done:
		default:
			// The two tables the ingest loop commits to, so that many
			// runs overlap it.
			m := tl.maintainer(fullExpiry)
			m.Defs = []lake.TableDef{lake.CDRTable, lake.IngestLogTable}
			rep, err := m.Run(context.Background())
			if err != nil {
				maintErrs = append(maintErrs, err)
			}
			conflicts += rep.Totals().Conflicts
			runs++
			continue
		}
		break
	}
	wg.Wait()
	close(ingestErrs)
	for err := range ingestErrs {
		t.Errorf("ingest while maintenance ran: %v", err)
	}
	for _, err := range maintErrs {
		if !errors.Is(err, lake.ErrConflict) {
			t.Errorf("maintenance while ingest ran: %v", err)
		}
	}
	t.Logf("%d maintenance runs raced %d ingests: %d maintenance commits lost a race and were staged again, %d runs gave up on conflicts",
		runs, files-10, conflicts, len(maintErrs))
	if conflicts == 0 {
		t.Error("no maintenance commit met a concurrent ingest commit: the test raced nothing")
	}
	// Once more at rest, then everything is checked.
	tl.maintain(fullExpiry)
	if got := tl.rows(lake.CDRTable); got != files*rowsPerFile {
		t.Errorf("crm.cdr has %d rows, want %d", got, files*rowsPerFile)
	}
	if got := tl.rows(lake.IngestLogTable); got != files {
		t.Errorf("crm.ingest_log has %d rows, want %d", got, files)
	}
	for _, def := range lake.Tables() {
		tl.everySnapshotReadable(def)
	}
	for _, r := range recs {
		if res := tl.mustIngest(r); res.Status != lake.StatusDuplicate {
			t.Errorf("redelivered %s: %s, want duplicate", res.Source, res.Status)
		}
	}
	if got := tl.rows(lake.CDRTable); got != files*rowsPerFile {
		t.Errorf("crm.cdr has %d rows after the redelivery, want %d", got, files*rowsPerFile)
	}
}

// TestOrphansOlderThanSafetyAge: a file under the table location that no
// snapshot references is deleted once older than the safety age, and only
// then; referenced files stay.
func TestOrphansOlderThanSafetyAge(t *testing.T) {
	tl := newTestLake(t, false)
	tl.mustIngest(tl.put("exports/cdr/2026/10/05/a.csv", cdrDays("O-", 20, 5)))
	orphan := "warehouse/crm/cdr/data/dead-attempt.parquet"
	tl.putLake(orphan, []byte("half a parquet file"))
	young := fullExpiry // a day: the orphan was written just now
	if tm := tableReport(t, tl.maintain(young), lake.CDRTable); tm.OrphansRemoved != 0 {
		t.Errorf("orphan younger than the safety age: %d removed, want 0", tm.OrphansRemoved)
	}
	if !contains(tl.objects(lakeBucket, "warehouse/crm/cdr/data/"), orphan) {
		t.Fatal("the young orphan was deleted")
	}
	old := fullExpiry
	old.OrphanAge = time.Nanosecond
	tm := tableReport(t, tl.maintain(old), lake.CDRTable)
	if tm.OrphansRemoved != 1 || tm.OrphanBytes != int64(len("half a parquet file")) {
		t.Errorf("orphan older than the safety age: %d removed (%d bytes), want 1 (%d bytes)", tm.OrphansRemoved, tm.OrphanBytes, len("half a parquet file"))
	}
	if contains(tl.objects(lakeBucket, "warehouse/crm/cdr/data/"), orphan) {
		t.Error("the old orphan is still there")
	}
	tl.everySnapshotReadable(lake.CDRTable)
	if got := tl.rows(lake.CDRTable); got != 20 {
		t.Errorf("crm.cdr has %d rows, want 20", got)
	}
}

func contains(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

func TestMaintainConfigFromEnv(t *testing.T) {
	tests := []struct {
		env     map[string]string
		want    lake.MaintainConfig
		errVar  string
		comment string
	}{
		{env: nil, want: lake.DefaultMaintainConfig, comment: "defaults"},
		{env: map[string]string{lake.EnvMaintainSnapshotAge: "72h", lake.EnvMaintainKeepSnapshots: "3", lake.EnvMaintainOrphanAge: "48h", lake.EnvMaintainTargetFileMB: "64"},
			want: lake.MaintainConfig{SnapshotAge: 72 * time.Hour, KeepSnapshots: 3, OrphanAge: 48 * time.Hour, TargetFileBytes: 64 << 20}},
		{env: map[string]string{lake.EnvMaintainSnapshotAge: "three days"}, errVar: lake.EnvMaintainSnapshotAge},
		{env: map[string]string{lake.EnvMaintainKeepSnapshots: "0"}, errVar: lake.EnvMaintainKeepSnapshots},
		{env: map[string]string{lake.EnvMaintainOrphanAge: "10m"}, errVar: lake.EnvMaintainOrphanAge, comment: "younger than an ingest may run"},
		{env: map[string]string{lake.EnvMaintainTargetFileMB: "0"}, errVar: lake.EnvMaintainTargetFileMB},
	}
	for _, tt := range tests {
		got, err := lake.MaintainConfigFromEnv(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
		if tt.errVar != "" {
			var ce *lake.ConfigError
			if !errors.As(err, &ce) || ce.Var != tt.errVar || !strings.Contains(err.Error(), tt.errVar) {
				t.Errorf("MaintainConfigFromEnv(%v) = %v, want an error naming %s", tt.env, err, tt.errVar)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("MaintainConfigFromEnv(%v) = %+v, %v; want %+v (%s)", tt.env, got, err, tt.want, tt.comment)
		}
	}
}

// TestMaintainConfigValidate: the bounds a policy set by flags is held to are
// those of the environment (a policy read from the environment passes).
func TestMaintainConfigValidate(t *testing.T) {
	ok := lake.DefaultMaintainConfig
	tests := []struct {
		name   string
		change func(*lake.MaintainConfig)
		valid  bool
	}{
		{"defaults", func(*lake.MaintainConfig) {}, true},
		{"negative snapshot age", func(c *lake.MaintainConfig) { c.SnapshotAge = -time.Second }, false},
		{"keep none", func(c *lake.MaintainConfig) { c.KeepSnapshots = 0 }, false},
		{"orphans of an ingest in flight", func(c *lake.MaintainConfig) { c.OrphanAge = 10 * time.Minute }, false},
		{"orphan age at the bound", func(c *lake.MaintainConfig) { c.OrphanAge = time.Hour }, true},
		{"target under 1 MiB", func(c *lake.MaintainConfig) { c.TargetFileBytes = 1 << 19 }, false},
		{"target over 4096 MiB", func(c *lake.MaintainConfig) { c.TargetFileBytes = 4097 << 20 }, false},
	}
	for _, tt := range tests {
		c := ok
		tt.change(&c)
		if err := c.Validate(); (err == nil) != tt.valid {
			t.Errorf("%s: Validate(%+v) = %v, want valid %v", tt.name, c, err, tt.valid)
		}
	}
	env := map[string]string{lake.EnvMaintainSnapshotAge: "0s", lake.EnvMaintainKeepSnapshots: "1", lake.EnvMaintainOrphanAge: "1h", lake.EnvMaintainTargetFileMB: "4096"}
	c, err := lake.MaintainConfigFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil || c.Validate() != nil {
		t.Errorf("the environment's extreme policy %+v (%v) does not validate: %v", c, err, c.Validate())
	}
}

// TestMaintenanceRemovesKilledAttemptsBatchLedgers: a batch ledger (side
// file) written by an attempt killed before its commit is named by no
// snapshot; maintenance removes it once it is older than the orphan age,
// and never the side file of a live snapshot. The dead attempt's file
// never counted: ingested afterwards it commits, while the live batch's
// files are still duplicates.
func TestMaintenanceRemovesKilledAttemptsBatchLedgers(t *testing.T) {
	tl := newTestLake(t, false)
	ctx := context.Background()
	var objs []lake.Object
	for i := range 5 {
		objs = append(objs, objectOf(tl.put(fmt.Sprintf("exports/cdr/2026/10/02/live%d.csv", i), cdrDays(fmt.Sprintf("L%d-", i), 4, 2))))
	}
	for _, o := range tl.in.IngestBatch(ctx, objs) {
		if o.Err != nil || o.Status != lake.StatusCommitted {
			t.Fatalf("batch: %s: %s, %v", o.Source, o.Status, o.Err)
		}
	}
	const dir = "warehouse/_ledger/cdr/batches/"
	live := tl.objects(lakeBucket, dir)
	if len(live) != 1 {
		t.Fatalf("side files after one batch: %v, want one", live)
	}
	// The killed attempt: its side file names a file whose commit never came.
	killed := tl.put("exports/cdr/2026/10/02/killed.csv", cdrDays("K-", 4, 2))
	entry := fmt.Sprintf(`[{"source":"s3://%s/exports/cdr/2026/10/02/killed.csv","etag":%q,"status":"committed","rows":4,"files":["data/x.parquet"]}]`,
		landingBucket, killed.S3.Object.ETag)
	tl.putLake(dir+"0badc0de-0000-4000-8000-000000000000.json", []byte(entry))
	tl.putLake(dir+"0badc0de-0000-4000-8000-000000000001.json.tmp", []byte(entry[:20]))

	policy := lake.MaintainConfig{SnapshotAge: 120 * time.Hour, KeepSnapshots: 10, OrphanAge: time.Hour, TargetFileBytes: 128 << 20}
	for _, c := range []struct {
		name    string
		ahead   time.Duration
		removed int64
		left    int
	}{
		{"younger than the orphan age: kept", 0, 0, 3},
		{"older: the dead attempt's removed, the live one kept", 2 * time.Hour, 2, 1},
		{"again: nothing more", 4 * time.Hour, 0, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := tl.maintainer(policy)
			m.Defs = []lake.TableDef{lake.CDRTable}
			m.Now = func() time.Time { return time.Now().Add(c.ahead) }
			rep, err := m.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tm := tableReport(t, rep, lake.CDRTable); tm.LedgerOrphansRemoved != c.removed || tm.OrphansRemoved < c.removed {
				t.Errorf("removed %d batch ledgers (%d orphans), want %d", tm.LedgerOrphansRemoved, tm.OrphansRemoved, c.removed)
			}
			left := tl.objects(lakeBucket, dir)
			if len(left) != c.left || !slices.Contains(left, live[0]) {
				t.Errorf("side files left: %v, want %d with the live snapshot's %s", left, c.left, live[0])
			}
		})
	}
	tl.everySnapshotReadable(lake.CDRTable)
	for _, o := range objs {
		if res, err := tl.in.Ingest(ctx, o); err != nil || res.Status != lake.StatusDuplicate {
			t.Errorf("redelivered %s: %s, %v; want duplicate", o.Key, res.Status, err)
		}
	}
	if res := tl.mustIngest(killed); res.Status != lake.StatusCommitted {
		t.Errorf("the killed attempt's file: %s, want committed (its side file never counted)", res.Status)
	}
	if got := tl.rows(lake.CDRTable); got != 24 {
		t.Errorf("crm.cdr has %d rows, want 24 (six files of four)", got)
	}
}
