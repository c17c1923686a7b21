// Package laketest gives tests of the packages above lake a real lake on
// local disk: a file:// warehouse, a SQLite catalog and an Ingester reading
// export files from a directory, as `telcolake ingest` wires them.
package laketest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
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

// MonthOnlyFeatures recreates crm.features, empty, as lakes created before
// its subscriber bucket field have it: partitioned by month alone (same
// schema, location and properties), for tests of an existing lake.
func (l *Lake) MonthOnlyFeatures(t testing.TB) {
	t.Helper()
	l.withoutBucket(t, lake.FeaturesTable, "month", "month_month", iceberg.MonthTransform{})
}

// RunOnlyScores recreates crm.scores, empty, as lakes created before its
// subscriber bucket field have it: partitioned by run alone (same schema,
// location and properties), for tests of an existing lake.
func (l *Lake) RunOnlyScores(t testing.TB) {
	t.Helper()
	l.withoutBucket(t, lake.ScoresTable, "run", "run", iceberg.IdentityTransform{})
}

// withoutBucket recreates table def, empty, partitioned by the one field
// name (transform tr of column col) alone, as before its bucket field.
func (l *Lake) withoutBucket(t testing.TB, def lake.TableDef, col, name string, tr iceberg.Transform) {
	t.Helper()
	ctx := context.Background()
	tbl, err := l.Cat.LoadTable(ctx, def.Ident())
	if err != nil {
		t.Fatalf("laketest: %v", err)
	}
	src, ok := def.Schema.FindFieldByName(col)
	if !ok {
		t.Fatalf("laketest: crm.%s has no %s column", def.Name, col)
	}
	fieldID := 1000
	spec, err := iceberg.NewPartitionSpecOpts(iceberg.AddPartitionFieldBySourceID(src.ID, name, tr, def.Schema, &fieldID))
	if err != nil {
		t.Fatalf("laketest: %s-only spec of crm.%s: %v", col, def.Name, err)
	}
	if err := l.Cat.DropTable(ctx, def.Ident()); err != nil {
		t.Fatalf("laketest: drop crm.%s: %v", def.Name, err)
	}
	if _, err := l.Cat.CreateTable(ctx, def.Ident(), def.Schema, catalog.WithPartitionSpec(&spec),
		catalog.WithLocation(tbl.Location()), catalog.WithProperties(tbl.Properties())); err != nil {
		t.Fatalf("laketest: create %s-only crm.%s: %v", col, def.Name, err)
	}
	if err := lake.EnsureTables(ctx, l.Cat, l.Cfg.Warehouse); err != nil { // an existing lake's start
		t.Fatalf("laketest: tables: %v", err)
	}
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

// SlotCSV is a CDR export of rows calls starting in the 15 minutes from
// start, as one switch's file of a mediation: call ids prefix-<row>, the
// subscribers spread by seed. The queue bench and the day-growth speed
// test drop the same files.
func SlotCSV(prefix string, seed int, start time.Time, rows int) []byte {
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
