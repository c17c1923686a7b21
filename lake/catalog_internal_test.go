package lake

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
)

// A table created before a column was added to its schema file gets the
// column, with the field id the file fixes.
func TestEnsureTablesAddsNewColumns(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := Config{Catalog: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "warehouse")}
	cat, err := OpenCatalog(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
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
