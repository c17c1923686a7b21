package lake_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/telcolake/telcolake/lake"
)

// glueLake is a lake whose catalog is AWS Glue (the fake above) and whose
// warehouse and landing bucket are an in-process S3, wired by lake.Open from
// the environment as the functions are: AWS_ENDPOINT_URL points every client
// at the S3 fake, AWS_ENDPOINT_URL_GLUE the Glue client at the Glue fake.
type glueLake struct {
	cfg  lake.Config
	glue *fakeGlue
	s3   *s3.Client
}

func newGlueLake(t *testing.T) *glueLake {
	t.Helper()
	s3srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(s3srv.Close)
	fg := newFakeGlue()
	gsrv := httptest.NewServer(fg)
	t.Cleanup(gsrv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_ENDPOINT_URL", s3srv.URL)
	t.Setenv("AWS_ENDPOINT_URL_GLUE", gsrv.URL)
	env := map[string]string{
		lake.EnvWarehouse:     "s3://" + lakeBucket + "/warehouse",
		lake.EnvCatalog:       "glue",
		lake.EnvLandingBucket: landingBucket,
		lake.EnvPseudonymKey:  "test-pseudonym-key-0123456789",
		lake.EnvRegion:        "us-east-1",
		lake.EnvEndpointURL:   s3srv.URL,
	}
	cfg, err := lake.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	awsCfg, err := lake.LoadAWSConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s3c := lake.NewS3Client(awsCfg, cfg)
	for _, b := range []string{landingBucket, lakeBucket} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("create bucket %s: %v", b, err)
		}
	}
	return &glueLake{cfg: cfg, glue: fg, s3: s3c}
}

// open connects as one function instance does.
func (gl *glueLake) open(t *testing.T) (*lake.Conn, context.Context, *lake.Ingester) {
	t.Helper()
	conn, ctx, err := lake.Open(context.Background(), gl.cfg)
	if err != nil {
		t.Fatalf("lake.Open with a Glue catalog: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	in := lake.NewIngester(gl.cfg, conn.Catalog, lake.S3Store{Client: conn.S3}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	in.AWS = &conn.AWS
	return conn, ctx, in
}

// put uploads an export to the landing bucket.
func (gl *glueLake) put(t *testing.T, key string, body []byte) lake.Object {
	t.Helper()
	out, err := gl.s3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(landingBucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return lake.Object{Bucket: landingBucket, Key: key, ETag: strings.Trim(aws.ToString(out.ETag), `"`), Size: int64(len(body))}
}

func ingestCommitted(t *testing.T, ctx context.Context, in *lake.Ingester, obj lake.Object) lake.Result {
	t.Helper()
	res, err := in.Ingest(ctx, obj)
	if err != nil {
		t.Fatalf("ingest %s: %v", obj.Key, err)
	}
	if res.Status != lake.StatusCommitted {
		t.Fatalf("ingest %s: status %s (%s), want committed", obj.Key, res.Status, res.Message)
	}
	return res
}

// callIDs reads crm.cdr's call ids back through the catalog.
func callIDs(t *testing.T, ctx context.Context, cat lake.TableLoader) map[string]int {
	t.Helper()
	at, err := lake.ReadTable(ctx, cat, lake.CDRTable, "call_id")
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	ids := map[string]int{}
	for _, ch := range at.Column(0).Data().Chunks() {
		col := ch.(*array.String)
		for i := 0; i < col.Len(); i++ {
			ids[col.Value(i)]++
		}
	}
	return ids
}

func wantCallIDs(t *testing.T, got map[string]int, prefixes map[string]int) {
	t.Helper()
	n := 0
	for p, rows := range prefixes {
		n += rows
		for i := 0; i < rows; i++ {
			if id := fmt.Sprintf("%s%07d", p, i); got[id] != 1 {
				t.Errorf("crm.cdr has call %s %d times, want once", id, got[id])
			}
		}
	}
	if len(got) != n {
		t.Errorf("crm.cdr has %d distinct calls, want %d", len(got), n)
	}
}

// TestGlueCatalog runs the lake on the Glue catalog code path: lake.Open
// creates the database and every table through Glue, the real Ingester
// commits an export, a second connection (another function instance) reads
// the rows back, and every table is an Iceberg table in Glue's sense.
func TestGlueCatalog(t *testing.T) {
	gl := newGlueLake(t)
	conn, ctx, in := gl.open(t)

	if got := gl.glue.count("CreateDatabase"); got != 1 {
		t.Errorf("CreateDatabase calls = %d, want 1", got)
	}
	for _, d := range lake.Tables() {
		tbl := gl.glue.table(lake.Namespace, d.Name)
		params := obj(tbl["Parameters"])
		if tbl["TableType"] != "EXTERNAL_TABLE" || params["table_type"] != "ICEBERG" {
			t.Errorf("Glue table %s.%s: TableType %v, table_type %v; want EXTERNAL_TABLE, ICEBERG", lake.Namespace, d.Name, tbl["TableType"], params["table_type"])
		}
		if loc := str(params["metadata_location"]); !strings.HasPrefix(loc, gl.cfg.Warehouse+"/"+lake.Namespace+"/"+d.Name+"/metadata/") {
			t.Errorf("Glue table %s: metadata_location %q is not under the table's warehouse location", d.Name, loc)
		}
	}

	before := str(gl.glue.table(lake.Namespace, lake.CDRTable.Name)["VersionId"])
	res := ingestCommitted(t, ctx, in, gl.put(t, "exports/cdr/2026/10/01/cdr-a.csv", cdrCSV("A", 300, nil)))
	if res.RowsOK != 300 {
		t.Errorf("rows ok = %d, want 300", res.RowsOK)
	}
	after := gl.glue.table(lake.Namespace, lake.CDRTable.Name)
	if str(after["VersionId"]) == before {
		t.Errorf("crm.cdr's Glue VersionId stayed %s after a commit", before)
	}
	if prev := str(obj(after["Parameters"])["previous_metadata_location"]); prev == "" {
		t.Error("crm.cdr has no previous_metadata_location after a commit")
	}

	// A second instance opening the same lake finds the tables (no create)
	// and reads what the first committed.
	creates := gl.glue.count("CreateTable")
	conn2, ctx2, _ := gl.open(t)
	if gl.glue.count("CreateTable") != creates {
		t.Errorf("a second lake.Open created %d tables again", gl.glue.count("CreateTable")-creates)
	}
	wantCallIDs(t, callIDs(t, ctx2, conn2.Catalog), map[string]int{"A": 300})

	// A reader (lake.Connect, as the api opens the lake) creates nothing,
	// not even the database, and reads the same rows.
	dbs := gl.glue.count("CreateDatabase")
	reader, rctx, err := lake.Connect(context.Background(), gl.cfg)
	if err != nil {
		t.Fatalf("lake.Connect: %v", err)
	}
	defer reader.Close()
	wantCallIDs(t, callIDs(t, rctx, reader.Catalog), map[string]int{"A": 300})
	if d, c := gl.glue.count("CreateDatabase")-dbs, gl.glue.count("CreateTable")-creates; d != 0 || c != 0 {
		t.Errorf("lake.Connect made %d CreateDatabase and %d CreateTable calls, want none", d, c)
	}

	// The same version delivered again is a duplicate: the ledger in the
	// snapshot summaries works through Glue as through SQL.
	again, err := in.Ingest(ctx, gl.put(t, "exports/cdr/2026/10/01/cdr-a.csv", cdrCSV("A", 300, nil)))
	if err != nil || again.Status != lake.StatusDuplicate {
		t.Errorf("redelivery = %v, %v; want duplicate", again.Status, err)
	}
	wantCallIDs(t, callIDs(t, ctx, conn.Catalog), map[string]int{"A": 300})
}

// TestGlueLostRace: another writer commits to crm.cdr between this
// writer's load and its UpdateTable, so Glue refuses the stale VersionId
// (ConcurrentModificationException). The lake's retry reloads, re-checks
// and commits; both files' rows are in the table once.
func TestGlueLostRace(t *testing.T) {
	gl := newGlueLake(t)
	conn, ctx, in := gl.open(t)
	_, ctxB, inB := gl.open(t) // the other function instance
	objB := gl.put(t, "exports/cdr/2026/10/02/cdr-b.csv", cdrCSV("B", 200, nil))

	var raced atomic.Bool
	gl.glue.onUpdate(func(database, table string) {
		if database == lake.Namespace && table == lake.CDRTable.Name && raced.CompareAndSwap(false, true) {
			ingestCommitted(t, ctxB, inB, objB) // its own UpdateTable passes: raced is set
		}
	})
	res := ingestCommitted(t, ctx, in, gl.put(t, "exports/cdr/2026/10/01/cdr-a.csv", cdrCSV("A", 300, nil)))
	gl.glue.onUpdate(nil)

	if gl.glue.count("conflicts") == 0 {
		t.Fatal("no UpdateTable was refused for a stale VersionId: the race did not happen")
	}
	if res.RowsOK != 300 {
		t.Errorf("rows ok = %d, want 300", res.RowsOK)
	}
	wantCallIDs(t, callIDs(t, ctx, conn.Catalog), map[string]int{"A": 300, "B": 200})
}
