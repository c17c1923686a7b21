package lake

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// sharedMembers parses files small CDR files of rows rows each (15
// minutes of one switch, over days and every bucket) into buffered
// members, as a batch holds them before writeShared.
func sharedMembers(t testing.TB, files, rows int) []*prepared {
	t.Helper()
	var members []*prepared
	for f := range files {
		var b bytes.Buffer
		b.WriteString(cdrAreaHeader)
		for i := range rows {
			cell, region, area := fmt.Sprintf("CELL%d", (f+i)%40), "North", "South"
			if i%7 == 0 {
				cell, region, area = "", "", ""
			}
			fmt.Fprintf(&b, "F%03d-%05d,S%05d,4917%08d,4930%06d,offnet,2026-10-%02dT%02d:%02d:%02dZ,%d,voice,out,false,false,%s,%s,%d,0.%04d,%s\n",
				f, i, (f*rows+i)%700, i%700, i%900, 1+f%3, f%24, (i/60)%60, i%60, 1+i%600, cell, region, i%3*1000, i%10000, area)
		}
		p := newParser(CDRFormat, fileContext{source: fmt.Sprintf("s3://landing/exports/cdr/f%03d.csv", f), ingestedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMicro(),
			now: time.Now(), pseudonym: []byte("test-pseudonym-key-0123456789")})
		m := &prepared{}
		for pb, err := range p.Batches(bytes.NewReader(b.Bytes())) {
			if err != nil {
				t.Fatal(err)
			}
			m.bufs = append(m.bufs, pb)
		}
		if p.Stats.RowsOK != int64(rows) {
			t.Fatalf("parsed %d rows, want %d (%+v)", p.Stats.RowsOK, rows, p.Stats.Errors)
		}
		members = append(members, m)
	}
	return members
}

// writeSharedByWriteRecords is writeShared as it was, through iceberg-go's
// table.WriteRecords, one partition at a time: the reference.
func writeSharedByWriteRecords(ctx context.Context, tbl *table.Table, sc *arrow.Schema, members []*prepared) ([]sharedFile, error) {
	byPart := map[int64][]arrow.RecordBatch{}
	for _, p := range members {
		for _, b := range p.bufs {
			byPart[b.Part] = append(byPart[b.Part], b.Rec)
		}
	}
	var out []sharedFile
	for _, part := range slices.Sorted(maps.Keys(byPart)) {
		seq := func(yield func(arrow.RecordBatch, error) bool) {
			for _, g := range groupRecords(byPart[part]) {
				rec, err := concatGroup(sc, g)
				if err != nil {
					yield(nil, err)
					return
				}
				if !yield(rec, nil) {
					return
				}
			}
		}
		for df, err := range table.WriteRecords(ctx, tbl, sc, seq, table.WithMaxWriteWorkers(1), table.WithParquetRowGroupLimit(rowGroupRows)) {
			if err != nil {
				return out, err
			}
			out = append(out, sharedFile{df: df, part: part})
		}
	}
	return out, nil
}

// writeShared's data files, now written by partWriter, are those
// table.WriteRecords gave the same members: one file per partition, the
// same partition values, row, value and null counts and bounds; and a
// scan of them reads every row once.
func TestWriteSharedMatchesWriteRecords(t *testing.T) {
	ctx := context.Background()
	_, cat, _ := newInternalLake(t)
	tbl, err := cat.LoadTable(ctx, CDRTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := CDRFormat.ArrowSchema()
	if err != nil {
		t.Fatal(err)
	}
	const files, rows = 30, 400
	members := sharedMembers(t, files, rows)
	defer func() {
		for _, m := range members {
			releaseAll(m.bufs)
		}
	}()
	want, err := writeSharedByWriteRecords(ctx, tbl, sc, members)
	if err != nil {
		t.Fatal(err)
	}
	got, err := writeShared(ctx, tbl, sc, members)
	if err != nil {
		t.Fatal(err)
	}
	byPart := func(files []sharedFile) map[string]iceberg.DataFile {
		m := map[string]iceberg.DataFile{}
		for _, f := range files {
			k := fmt.Sprint(f.df.Partition())
			if _, dup := m[k]; dup {
				t.Fatalf("two files of partition %s", k)
			}
			m[k] = f.df
		}
		return m
	}
	w, g := byPart(want), byPart(got)
	if len(w) != 3*SubscriberBuckets || !slices.Equal(slices.Sorted(maps.Keys(w)), slices.Sorted(maps.Keys(g))) {
		t.Fatalf("partitions: got %v, want %v (%d)", slices.Sorted(maps.Keys(g)), slices.Sorted(maps.Keys(w)), 3*SubscriberBuckets)
	}
	for k, wf := range w {
		gf := g[k]
		for pk, pv := range wf.Partition() {
			if gv := gf.Partition()[pk]; fmt.Sprintf("%T %v", gv, gv) != fmt.Sprintf("%T %v", pv, pv) {
				t.Errorf("partition %s field %d: got %T %v, want %T %v", k, pk, gv, gv, pv, pv)
			}
		}
		if gf.Count() != wf.Count() || gf.SpecID() != wf.SpecID() || gf.FileFormat() != wf.FileFormat() || gf.ContentType() != wf.ContentType() {
			t.Errorf("partition %s: got %d rows, spec %d, %s %v; want %d, %d, %s %v", k, gf.Count(), gf.SpecID(), gf.FileFormat(), gf.ContentType(),
				wf.Count(), wf.SpecID(), wf.FileFormat(), wf.ContentType())
		}
		if !maps.Equal(gf.ValueCounts(), wf.ValueCounts()) || !maps.Equal(gf.NullValueCounts(), wf.NullValueCounts()) {
			t.Errorf("partition %s: value counts %v nulls %v, want %v %v", k, gf.ValueCounts(), gf.NullValueCounts(), wf.ValueCounts(), wf.NullValueCounts())
		}
		if !maps.EqualFunc(gf.LowerBoundValues(), wf.LowerBoundValues(), bytes.Equal) || !maps.EqualFunc(gf.UpperBoundValues(), wf.UpperBoundValues(), bytes.Equal) {
			t.Errorf("partition %s: bounds differ:\n got %v %v\nwant %v %v", k, gf.LowerBoundValues(), gf.UpperBoundValues(), wf.LowerBoundValues(), wf.UpperBoundValues())
		}
		if !slices.Equal(slices.Sorted(maps.Keys(gf.ColumnSizes())), slices.Sorted(maps.Keys(wf.ColumnSizes()))) {
			t.Errorf("partition %s: column sizes for %v, want %v", k, gf.ColumnSizes(), wf.ColumnSizes())
		}
	}
	tx := tbl.NewTransaction()
	if err := tx.AddDataFiles(ctx, sharedDataFiles(got), nil); err != nil {
		t.Fatal(err)
	}
	committed, err := tx.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, recs, err := committed.Scan().ToArrowRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for rec, err := range recs {
		if err != nil {
			t.Fatal(err)
		}
		col := rec.Column(0)
		for i := range int(rec.NumRows()) {
			ids[col.ValueStr(i)]++
		}
		rec.Release()
	}
	if len(ids) != files*rows {
		t.Fatalf("scan read %d distinct call ids, want %d", len(ids), files*rows)
	}
	for id, n := range ids {
		if n != 1 {
			t.Fatalf("call id %s read %d times", id, n)
		}
	}
}

// BenchmarkWriteShared writes the shared files of a batch of 100 files of
// 1,000 rows (the queue's batches) with partWriter and, as before, with
// table.WriteRecords, in one run: go test -run '^$' -bench WriteShared ./lake/
func BenchmarkWriteShared(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	cfg := Config{Catalog: "sqlite://" + dir + "/catalog.db", Warehouse: "file://" + dir + "/warehouse"}
	cat, err := OpenCatalog(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer cat.Close()
	if err := EnsureTables(ctx, cat, cfg.Warehouse); err != nil {
		b.Fatal(err)
	}
	tbl, err := cat.LoadTable(ctx, CDRTable.Ident())
	if err != nil {
		b.Fatal(err)
	}
	sc, err := CDRFormat.ArrowSchema()
	if err != nil {
		b.Fatal(err)
	}
	members := sharedMembers(b, 100, 1000)
	for _, c := range []struct {
		name  string
		write func(context.Context, *table.Table, *arrow.Schema, []*prepared) ([]sharedFile, error)
	}{{"partWriter", writeShared}, {"WriteRecords", writeSharedByWriteRecords}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				files, err := c.write(ctx, tbl, sc, members)
				if err != nil {
					b.Fatal(err)
				}
				if err := removeFiles(ctx, tbl, sharedDataFiles(files)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
