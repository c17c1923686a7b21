package lake

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
)

// A crm.cdr created before other_area existed gets the column, and its
// rows written before read other_area as null (the area unknown).
func TestCDRWithoutOtherAreaStillReads(t *testing.T) {
	ctx := context.Background()
	cfg, cat := testCatalog(t)
	if err := cat.CreateNamespace(ctx, []string{Namespace}, nil); err != nil {
		t.Fatal(err)
	}
	fields := CDRTable.Schema.Fields()
	if fields[len(fields)-1].Name != "other_area" {
		t.Fatalf("last CDR column %s, want other_area", fields[len(fields)-1].Name)
	}
	oldSchema := iceberg.NewSchema(0, fields[:len(fields)-1]...)
	old := TableDef{Name: CDRTable.Name, Schema: oldSchema, Spec: partitionBy(oldSchema, "start_time", "start_day", iceberg.DayTransform{})}
	spec := old.Spec
	tbl, err := cat.CreateTable(ctx, old.Ident(), oldSchema, catalog.WithPartitionSpec(&spec),
		catalog.WithLocation(cfg.Warehouse+"/"+Namespace+"/"+old.Name))
	if err != nil {
		t.Fatal(err)
	}
	rb, err := NewRowBuilder(old, 1)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 7, 6, 9, 0, 0, 0, time.UTC)
	for _, s := range []struct{ name, v string }{{"call_id", "C1"}, {"subscriber_id", "S1"}, {"msisdn", "491700000001"},
		{"other_network", "onnet"}, {"call_type", "voice"}, {"direction", "out"}, {"source_file", "s3://landing/old.csv"}} {
		rb.String(s.name, s.v)
	}
	rb.Null("other_party_hash")
	rb.Null("cell_id")
	rb.String("region", "North")
	rb.Time("start_time", start)
	rb.Int32("duration_s", 60)
	rb.Bool("roaming", false)
	rb.Bool("international", false)
	rb.Int64("data_kb", 0)
	rb.Money("charge", 1000)
	rb.Time("ingested_at", start)
	rec := rb.Record()
	rb.Release()
	at := array.NewTableFromRecords(rec.Schema(), []arrow.RecordBatch{rec})
	defer at.Release()
	defer rec.Release()
	tx := tbl.NewTransaction()
	if err := tx.AppendTable(ctx, at, 1, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	if err := EnsureTables(ctx, cat, cfg.Warehouse); err != nil {
		t.Fatal(err)
	}
	read, err := ReadTable(ctx, cat, CDRTable, "call_id", "other_area")
	if err != nil {
		t.Fatal(err)
	}
	defer read.Release()
	if read.NumRows() != 1 || read.NumCols() != 2 {
		t.Fatalf("read %d rows, %d columns; want 1, 2", read.NumRows(), read.NumCols())
	}
	col := read.Column(1).Data().Chunk(0)
	if read.Schema().Field(1).Name != "other_area" || !col.IsNull(0) {
		t.Errorf("other_area of a row written before the column: %v, want null", col)
	}
}
