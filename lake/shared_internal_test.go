package lake

import (
	"context"
	"testing"
	"time"
)

// writeShared leaves the members' buffered rows as it found them: a batch
// whose commit is retried writes them again (a conflict with another
// ingester). It used to release the rows once more than it took, so a
// partition of one buffered batch was freed by the first write and the
// retry panicked in iceberg-go's fanout writer (index out of range on a
// released record), a rare failure of the lake tests under load.
func TestWriteSharedKeepsMemberRows(t *testing.T) {
	ctx := context.Background()
	cfg, cat := testCatalog(t)
	if err := EnsureTables(ctx, cat, cfg.Warehouse); err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.LoadTable(ctx, CDRTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := CDRTable.ArrowSchema()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 7, 6, 9, 0, 0, 0, time.UTC)
	batch := func(id string, rows int) PartBatch {
		rb, err := NewRowBuilder(CDRTable, rows)
		if err != nil {
			t.Fatal(err)
		}
		defer rb.Release()
		for range rows {
			for _, s := range []struct{ name, v string }{{"call_id", id}, {"subscriber_id", "S1"}, {"msisdn", "491700000001"},
				{"other_network", "onnet"}, {"call_type", "voice"}, {"direction", "out"}, {"source_file", "s3://landing/x.csv"},
				{"region", "North"}, {"other_area", "030"}} {
				rb.String(s.name, s.v)
			}
			rb.Null("other_party_hash")
			rb.Null("cell_id")
			rb.Time("start_time", start)
			rb.Int32("duration_s", 60)
			rb.Bool("roaming", false)
			rb.Bool("international", false)
			rb.Int64("data_kb", 0)
			rb.Money("charge", 1000)
			rb.Time("ingested_at", start)
		}
		return PartBatch{Rec: rb.Record(), Part: 1}
	}
	// One member with a lone batch in its partition (passed through as is),
	// another whose two batches are concatenated.
	a := &prepared{bufs: []PartBatch{batch("A", 3)}}
	b := &prepared{bufs: []PartBatch{batch("B", 2), batch("C", 4)}}
	b.bufs[0].Part, b.bufs[1].Part = 2, 2
	members := []*prepared{a, b}
	defer func() {
		for _, m := range members {
			releaseAll(m.bufs)
		}
	}()
	for attempt := range 3 {
		files, err := writeShared(ctx, tbl, sc, members)
		if err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		rows := int64(0)
		for _, f := range files {
			rows += f.df.Count()
		}
		if rows != 9 {
			t.Fatalf("attempt %d: wrote %d rows, want 9", attempt, rows)
		}
		for _, m := range members {
			for _, pb := range m.bufs {
				if got := len(pb.Rec.Columns()); got != sc.NumFields() {
					t.Fatalf("attempt %d: a member's buffered batch has %d columns after the write, want %d (released)", attempt, got, sc.NumFields())
				}
			}
		}
	}
}
