// Package laketest gives tests of the packages above lake a real lake on
// local disk: a file:// warehouse, a SQLite catalog and an Ingester reading
// export files from a directory, as `telcolake ingest` wires them.
package laketest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	sqlcat "github.com/apache/iceberg-go/catalog/sql"

	"github.com/telcolake/telcolake/lake"
)

// Landing is the bucket name export files are ingested from.
const Landing = "landing"

// Lake is a lake in a test's temporary directory.
type Lake struct {
	Cfg  lake.Config
	Cat  *sqlcat.Catalog
	Root string // DirStore root: Root/landing/<key> are the exports
	In   *lake.Ingester
}

// New creates the tables in an empty lake under t.TempDir().
func New(t testing.TB) *Lake {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{
		lake.EnvWarehouse:     "file://" + filepath.Join(dir, "warehouse"),
		lake.EnvCatalog:       "sqlite://" + filepath.Join(dir, "catalog.db"),
		lake.EnvLandingBucket: Landing,
		"AWS_REGION":          "us-east-1",
		lake.EnvPseudonymKey:  "laketest-pseudonym-key",
	}
	cfg, err := lake.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("laketest: config: %v", err)
	}
	ctx := context.Background()
	cat, err := lake.OpenCatalog(ctx, cfg)
	if err != nil {
		t.Fatalf("laketest: catalog: %v", err)
	}
	t.Cleanup(func() { cat.Close() })
	if err := lake.EnsureTables(ctx, cat, cfg.Warehouse); err != nil {
		t.Fatalf("laketest: tables: %v", err)
	}
	root := filepath.Join(dir, "store")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &Lake{Cfg: cfg, Cat: cat, Root: root, In: lake.NewIngester(cfg, cat, lake.DirStore{Root: root}, log)}
}

// Ingest writes body to landing/key and ingests it; the file must commit.
func (l *Lake) Ingest(t testing.TB, key, body string) lake.Result {
	t.Helper()
	p := filepath.Join(l.Root, Landing, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.In.Ingest(context.Background(), lake.Object{Bucket: Landing, Key: key, ETag: lake.LocalETag(fi), Size: fi.Size()})
	if err != nil {
		t.Fatalf("laketest: ingest %s: %v", key, err)
	}
	if res.Status != lake.StatusCommitted && res.Status != lake.StatusReplaced {
		t.Fatalf("laketest: ingest %s: status %s: %s (report %s)", key, res.Status, res.Message, res.ReportKey)
	}
	return res
}
