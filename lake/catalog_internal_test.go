package lake

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
)

// A table created before a column was added to its schema file gets the
// column, with the field id the file fixes.
func TestEnsureTablesAddsNewColumns(t *testing.T) {
	ctx := context.Background()
	cfg, cat := testCatalog(t)
	if err := cat.CreateNamespace(ctx, []string{Namespace}, nil); err != nil {
		t.Fatal(err)
	}
	fields := IngestLogTable.Schema.Fields()
	old := iceberg.NewSchema(0, fields[:len(fields)-1]...) // before rows_duplicate
	if _, err := cat.CreateTable(ctx, IngestLogTable.Ident(), old,
		catalog.WithLocation(cfg.Warehouse+"/"+Namespace+"/"+IngestLogTable.Name)); err != nil {
		t.Fatal(err)
	}
	for range 2 { // and a second run changes nothing
		if err := EnsureTables(ctx, cat, cfg.Warehouse); err != nil {
			t.Fatal(err)
		}
		tbl, err := cat.LoadTable(ctx, IngestLogTable.Ident())
		if err != nil {
			t.Fatal(err)
		}
		f, ok := tbl.Schema().FindFieldByName("rows_duplicate")
		if !ok || f.ID != 13 || f.Required {
			t.Errorf("ingest_log column rows_duplicate = %+v, %v; want optional field 13", f, ok)
		}
		if n := len(tbl.Schema().Fields()); n != len(fields) {
			t.Errorf("ingest_log has %d columns, want %d", n, len(fields))
		}
	}
}

// A crm.model_runs written before the uplift's auuc columns existed
// gets them at open, and its old rows read them as null beside what they
// held (an uplift row's AUUC in auc), which the api turns into auuc.
func TestModelRunsGainAUUCColumns(t *testing.T) {
	ctx := context.Background()
	cfg, cat := testCatalog(t)
	if err := cat.CreateNamespace(ctx, []string{Namespace}, nil); err != nil {
		t.Fatal(err)
	}
	fields := ModelRunsTable.Schema.Fields()
	oldDef := ModelRunsTable
	oldDef.Schema = iceberg.NewSchema(0, fields[:21]...) // before auuc
	if _, err := cat.CreateTable(ctx, oldDef.Ident(), oldDef.Schema,
		catalog.WithLocation(cfg.Warehouse+"/"+Namespace+"/"+oldDef.Name)); err != nil {
		t.Fatal(err)
	}
	rb, err := NewRowBuilder(oldDef, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Release()
	for _, f := range oldDef.Schema.Fields() {
		switch f.Name {
		case "kind":
			rb.String(f.Name, "uplift")
		case "version", "algorithm", "artifact", "decision":
			rb.String(f.Name, "x")
		case "trained_at":
			rb.Time(f.Name, time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC))
		case "train_rows":
			rb.Int64(f.Name, 10)
		case "promoted":
			rb.Bool(f.Name, false)
		case "auc":
			rb.Float(f.Name, 0.0109)
		default:
			rb.Null(f.Name)
		}
	}
	rec := rb.Record()
	defer rec.Release()
	if _, err := ReplaceRows(ctx, cat, oldDef, nil, []arrow.RecordBatch{rec}, nil); err != nil {
		t.Fatal(err)
	}
	if err := EnsureTables(ctx, cat, cfg.Warehouse); err != nil {
		t.Fatal(err)
	}
	n := 0
	for b, err := range Scan(ctx, cat, ModelRunsTable, Select("kind", "auc", "auuc", "auuc_risk")) {
		if err != nil {
			t.Fatal(err)
		}
		kind, auc, auuc, risk := b.String("kind"), b.Float("auc"), b.Float("auuc"), b.Float("auuc_risk")
		if err := b.Err(); err != nil {
			t.Fatal(err)
		}
		for i := range b.Len() {
			n++
			if kind.Value(i) != "uplift" || auc.Value(i) != 0.0109 || !auuc.IsNull(i) || !risk.IsNull(i) {
				t.Errorf("old row: kind %s auc %v, auuc null %v, risk null %v", kind.Value(i), auc.Value(i), auuc.IsNull(i), risk.IsNull(i))
			}
		}
	}
	if n != 1 {
		t.Errorf("%d rows, want 1", n)
	}
}

// testCatalog opens a SQLite catalog and a file warehouse in t's temporary
// directory, closed when the test ends.
func testCatalog(t *testing.T) (Config, *sqlcat.Catalog) {
	t.Helper()
	dir := t.TempDir()
	cfg := Config{Catalog: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "warehouse")}
	cat, err := OpenCatalog(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	return cfg, cat
}
