package lake_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	sqlcat "github.com/apache/iceberg-go/catalog/sql"

	"github.com/telcolake/telcolake/lake"
)

const (
	landingBucket = "landing"
	lakeBucket    = "lake"
)

// testLake is an in-process S3 (gofakes3), a catalog and an Ingester wired
// as the ingest function wires them.
type testLake struct {
	t       *testing.T
	cfg     lake.Config
	s3      *s3.Client
	aws     *aws.Config
	cat     *sqlcat.Catalog
	in      *lake.Ingester
	handler lambda.Handler
}

// newTestLake starts the stack. The catalog is PostgreSQL when
// TELCOLAKE_TEST_POSTGRES holds a URL of an empty scratch database and
// usePG is set, SQLite in a temp dir otherwise.
func newTestLake(t *testing.T, usePG bool) *testLake {
	t.Helper()
	return newTestLakeWith(t, usePG, nil)
}

// newTestLakeWith is newTestLake with the S3 server's handler wrapped by
// wrap (when not nil), e.g. to count requests.
func newTestLakeWith(t *testing.T, usePG bool, wrap func(http.Handler) http.Handler) *testLake {
	t.Helper()
	var h http.Handler = gofakes3.New(s3mem.New()).Server()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	// The SDK's default chain reads these; the iceberg S3 IO uses the same chain.
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))

	catalog := "sqlite://" + filepath.Join(t.TempDir(), "catalog.db")
	if pg := os.Getenv("TELCOLAKE_TEST_POSTGRES"); usePG && pg != "" {
		catalog = scratchDatabase(t, pg)
	}
	env := map[string]string{
		lake.EnvWarehouse:     "s3://" + lakeBucket + "/warehouse",
		lake.EnvCatalog:       catalog,
		lake.EnvLandingBucket: landingBucket,
		lake.EnvPseudonymKey:  "test-pseudonym-key-0123456789",
		lake.EnvRegion:        "us-east-1",
		lake.EnvEndpointURL:   srv.URL,
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
	tl := &testLake{t: t, cfg: cfg, s3: s3c, aws: &awsCfg}
	tl.cat = tl.openCatalog()
	if err := lake.EnsureTables(ctx, tl.cat, cfg.Warehouse); err != nil {
		t.Fatal(err)
	}
	tl.in = tl.newIngester(tl.cat)
	tl.handler = lambda.NewHandler(func(ctx context.Context, ev events.S3Event) (lake.EventResult, error) {
		return tl.in.HandleS3Event(ctx, landingBucket, ev)
	})
	return tl
}

// scratchDatabase creates a database of its own for the test on the
// server of pgURL (each test has its own S3, so catalogs must not be
// shared) and returns its URL.
func scratchDatabase(t *testing.T, pgURL string) string {
	t.Helper()
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatalf("TELCOLAKE_TEST_POSTGRES: %v", err)
	}
	db, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sum := sha256.Sum256([]byte(t.Name()))
	name := fmt.Sprintf("lake_%d_%s", os.Getpid(), hex.EncodeToString(sum[:6]))
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create scratch database: %v", err)
	}
	t.Cleanup(func() {
		if db, err := sql.Open("pgx", pgURL); err == nil {
			db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			db.Close()
		}
	})
	u.Path = "/" + name
	return u.String()
}

func (tl *testLake) openCatalog() *sqlcat.Catalog {
	tl.t.Helper()
	cat, err := lake.OpenCatalog(context.Background(), tl.cfg)
	if err != nil {
		tl.t.Fatal(err)
	}
	tl.t.Cleanup(func() { cat.Close() })
	return cat
}

func (tl *testLake) newIngester(cat *sqlcat.Catalog) *lake.Ingester {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	in := lake.NewIngester(tl.cfg, cat, lake.S3Store{Client: tl.s3}, log)
	in.AWS = tl.aws
	return in
}

// put uploads an export and returns the S3 event record for it.
func (tl *testLake) put(key string, body []byte) events.S3EventRecord {
	tl.t.Helper()
	out, err := tl.s3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(landingBucket), Key: aws.String(key), Body: bytes.NewReader(body),
	})
	if err != nil {
		tl.t.Fatalf("put %s: %v", key, err)
	}
	var rec events.S3EventRecord
	rec.EventSource = "aws:s3"
	rec.EventName = "ObjectCreated:Put"
	rec.AWSRegion = "us-east-1"
	rec.S3.Bucket.Name = landingBucket
	rec.S3.Object.Key = url.QueryEscape(key)
	rec.S3.Object.Size = int64(len(body))
	rec.S3.Object.ETag = strings.Trim(aws.ToString(out.ETag), `"`)
	return rec
}

// invoke delivers records as one S3 event JSON through the Lambda handler.
func (tl *testLake) invoke(recs ...events.S3EventRecord) (lake.EventResult, error) {
	tl.t.Helper()
	payload, err := json.Marshal(events.S3Event{Records: recs})
	if err != nil {
		tl.t.Fatal(err)
	}
	out, err := tl.handler.Invoke(context.Background(), payload)
	var res lake.EventResult
	if len(out) > 0 {
		if jerr := json.Unmarshal(out, &res); jerr != nil {
			tl.t.Fatalf("decode handler output %s: %v", out, jerr)
		}
	}
	return res, err
}

// mustIngest delivers one record and returns the file's result.
func (tl *testLake) mustIngest(rec events.S3EventRecord) lake.Result {
	tl.t.Helper()
	res, err := tl.invoke(rec)
	if err != nil {
		tl.t.Fatalf("ingest %s: %v", rec.S3.Object.Key, err)
	}
	if len(res.Files) != 1 {
		tl.t.Fatalf("ingest %s: %d results, want 1", rec.S3.Object.Key, len(res.Files))
	}
	return res.Files[0]
}

// putLake writes an object of the lake bucket.
func (tl *testLake) putLake(key string, body []byte) {
	tl.t.Helper()
	if _, err := tl.s3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(lakeBucket), Key: aws.String(key), Body: bytes.NewReader(body),
	}); err != nil {
		tl.t.Fatalf("put %s: %v", key, err)
	}
}

func (tl *testLake) get(bucket, key string) []byte {
	tl.t.Helper()
	out, err := tl.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		tl.t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		tl.t.Fatal(err)
	}
	return b
}

func (tl *testLake) report(key string) lake.Report {
	tl.t.Helper()
	var r lake.Report
	if err := json.Unmarshal(tl.get(landingBucket, lake.ReportKey(key)), &r); err != nil {
		tl.t.Fatalf("decode report of %s: %v", key, err)
	}
	return r
}

// count returns the number of rows of a table.
func (tl *testLake) count(def lake.TableDef) int64 {
	tl.t.Helper()
	at, err := lake.ReadTable(context.Background(), tl.cat, def, "source_file")
	if def.Name == lake.IngestLogTable.Name {
		at, err = lake.ReadTable(context.Background(), tl.cat, def, "source")
	}
	if err != nil {
		tl.t.Fatal(err)
	}
	defer at.Release()
	return at.NumRows()
}

// objects lists the keys under prefix.
func (tl *testLake) objects(bucket, prefix string) []string {
	tl.t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(tl.s3, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			tl.t.Fatalf("list %s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}
