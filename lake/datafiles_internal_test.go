package lake

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// cdrAreaHeader is the CDR export's header with every column, other_area
// included, for the tests that build CDR files line by line.
const cdrAreaHeader = "call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge,other_area\n"

// partWriter's data files are those iceberg-go's writer gives the same
// rows: same partition values, row and value counts, null counts, lower
// and upper bounds (column sizes differ with the pages). The rows span two
// days, all eight buckets and nulls in the optional columns, and one
// partition's rows come in two batches apart (one file either way).
func TestPartWriterMatchesWriteRecords(t *testing.T) {
	ctx := context.Background()
	_, cat, _ := newInternalLake(t)
	tbl, err := cat.LoadTable(ctx, CDRTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString(cdrAreaHeader)
	for i := range 3000 {
		cell, region, area := fmt.Sprintf("CELL%d", i%40), "North", "South"
		if i%7 == 0 {
			cell, region, area = "", "", ""
		}
		fmt.Fprintf(&b, "W%05d,S%05d,4917%08d,4930%06d,offnet,2026-10-%02dT%02d:%02d:%02dZ,%d,voice,out,false,false,%s,%s,%d,0.%04d,%s\n",
			i, i%500, i%500, i%900, 1+i/1500, (i/60)%24, i%60, i%60, 1+i%600, cell, region, i%3*1000, i%10000, area)
	}
	p := newParser(CDRFormat, fileContext{source: "s3://landing/exports/cdr/w.csv", ingestedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMicro(),
		now: time.Now(), pseudonym: []byte("test-pseudonym-key-0123456789")})
	p.BatchRows = 100 // several batches per partition
	var batches []PartBatch
	for pb, err := range p.Batches(bytes.NewReader(b.Bytes())) {
		if err != nil {
			t.Fatal(err)
		}
		batches = append(batches, pb)
	}
	if p.Stats.RowsOK != 3000 {
		t.Fatalf("parsed %d rows, want 3000 (%+v)", p.Stats.RowsOK, p.Stats.Errors)
	}
	sc, err := CDRFormat.ArrowSchema()
	if err != nil {
		t.Fatal(err)
	}
	var want []iceberg.DataFile
	for df, err := range table.WriteRecords(ctx, tbl, sc, func(yield func(arrow.RecordBatch, error) bool) {
		for _, pb := range batches {
			pb.Rec.Retain()
			if !yield(pb.Rec, nil) {
				return
			}
		}
	}) {
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, df)
	}
	pw, err := newPartWriter(ctx, tbl, sc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pw.writeStream(ctx, func(yield func(PartBatch, error) bool) {
		for _, pb := range batches {
			if !yield(pb, nil) {
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	byPart := func(files []iceberg.DataFile) map[string]iceberg.DataFile {
		m := map[string]iceberg.DataFile{}
		for _, f := range files {
			k := fmt.Sprint(f.Partition())
			if _, dup := m[k]; dup {
				t.Fatalf("two files of partition %s", k)
			}
			m[k] = f
		}
		return m
	}
	w, g := byPart(want), byPart(got)
	if len(w) != 16 || !slices.Equal(slices.Sorted(maps.Keys(w)), slices.Sorted(maps.Keys(g))) {
		t.Fatalf("partitions: got %v, want %v (16)", slices.Sorted(maps.Keys(g)), slices.Sorted(maps.Keys(w)))
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
		if !strings.HasPrefix(gf.FilePath(), tbl.Location()+"/data/start_day=") {
			t.Errorf("file %s is not under the table's partition directories", gf.FilePath())
		}
	}
	// The files read back through a scan hold every row once.
	tx := tbl.NewTransaction()
	if err := tx.AddDataFiles(ctx, got, nil); err != nil {
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
	if len(ids) != 3000 {
		t.Fatalf("scan read %d distinct call ids, want 3000", len(ids))
	}
	for id, n := range ids {
		if n != 1 {
			t.Fatalf("call id %s read %d times", id, n)
		}
	}
}

// rowsOnly hides a parser's columnRows side: its batches go through
// array.RecordBuilder (appendTo).
type rowsOnly struct{ rowParser }

// cdrBatch builds the same records as cdrRows.appendTo through
// array.RecordBuilder: nulls, constants and every type of column.
func TestCDRColumnsMatchRecordBuilder(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(cdrAreaHeader)
	for i := range 2500 {
		other, cell, region, area, typ, dur := fmt.Sprintf("4930%06d", i%900), fmt.Sprintf("CELL%d", i%40), "North", "South", "voice", 1+i%600
		switch i % 7 {
		case 0:
			cell, region, area = "", "", ""
		case 3:
			other, typ = "", "data"
		case 5:
			typ, dur = "sms", 0
		}
		fmt.Fprintf(&b, "X%05d,S%05d,4917%08d,%s,offnet,2026-10-%02dT%02d:%02d:%02dZ,%d,%s,in,%t,false,%s,%s,%d,%d.%04d,%s\n",
			i, i%500, i%500, other, 1+i/1000, (i/60)%24, i%60, i%60, dur, typ, i%3 == 0, cell, region, i%3*1000, i%7, i%10000, area)
	}
	parse := func(f *Format) []PartBatch {
		p := newParser(f, fileContext{source: "s3://landing/exports/cdr/x.csv", ingestedAt: 1_700_000_000_000_000,
			now: time.Now(), pseudonym: []byte("test-pseudonym-key-0123456789")})
		p.BatchRows = 300
		var out []PartBatch
		for pb, err := range p.Batches(bytes.NewReader(b.Bytes())) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, pb)
		}
		if p.Stats.RowsOK != 2500 {
			t.Fatalf("parsed %d rows, want 2500 (%+v)", p.Stats.RowsOK, p.Stats.Errors)
		}
		return out
	}
	old := *CDRFormat
	old.newRows = func(fc fileContext) rowParser { return rowsOnly{CDRFormat.newRows(fc)} }
	got, want := parse(CDRFormat), parse(&old)
	if len(got) != len(want) {
		t.Fatalf("%d batches, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Part != want[i].Part || !array.RecordEqual(got[i].Rec, want[i].Rec) {
			t.Fatalf("batch %d (partition %d, want %d) differs:\n got %v\nwant %v", i, got[i].Part, want[i].Part, got[i].Rec, want[i].Rec)
		}
		got[i].Rec.Release()
		want[i].Rec.Release()
	}
}

// A dictionary column's statistics in each row group are those of the
// values in that row group, not of the file's dictionary so far (which a
// row group's dictionary page holds whole): here every batch brings new
// cells, so each starts a row group whose dictionary holds the earlier
// ones too.
//
// When the first batch brings every cell and the later ones reuse them,
// the batches share one row group (its dictionary given to the encoder
// once), and the statistics sum theirs. A dictionary past the table's
// dictionary page limit stays one (arrow-go checks the limit only for
// values it encodes itself, as it did for pqarrow's dictionary arrays):
// the values read back are the rows' in every case.
func TestPartWriterRowGroupStatistics(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props iceberg.Properties
		cell  func(i int) string
	}{
		{"new cells in every batch", nil, func(i int) string { return fmt.Sprintf("CELL%03d", 500-i/50) }},
		{"batches sharing a row group", nil, func(i int) string { return fmt.Sprintf("CELL%05d", i%200) }},
		{"dictionary past its page limit", iceberg.Properties{"write.parquet.dict-size-bytes": "600"},
			func(i int) string { return fmt.Sprintf("CELL%05d", i%200) }},
	} {
		t.Run(tc.name, func(t *testing.T) { testRowGroupStatistics(t, tc.props, tc.cell) })
	}
}

func testRowGroupStatistics(t *testing.T, props iceberg.Properties, cellOf func(int) string) {
	ctx := context.Background()
	_, cat, _ := newInternalLake(t)
	tbl, err := cat.LoadTable(ctx, CDRTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	if props != nil {
		tx := tbl.NewTransaction()
		if err := tx.SetProperties(props); err != nil {
			t.Fatal(err)
		}
		if tbl, err = tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	b.WriteString(cdrAreaHeader)
	wantCell := map[string]string{}
	for i := range 2000 {
		cell := cellOf(i)
		if i%9 == 0 && i >= 200 {
			cell = ""
		}
		wantCell[fmt.Sprintf("R%05d", i)] = cell
		fmt.Fprintf(&b, "R%05d,S00001,491700000001,4930%06d,offnet,2026-10-01T%02d:%02d:%02dZ,%d,voice,out,false,false,%s,North,0,0.0100,\n",
			i, i%900, (i/120)%24, (i/2)%60, i%60, 1+i%20, cell)
	}
	p := newParser(CDRFormat, fileContext{source: "s3://landing/exports/cdr/r.csv", ingestedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMicro(),
		now: time.Now(), pseudonym: []byte("test-pseudonym-key-0123456789")})
	p.BatchRows = 200
	sc, err := CDRFormat.ArrowSchema()
	if err != nil {
		t.Fatal(err)
	}
	pw, err := newPartWriter(ctx, tbl, sc)
	if err != nil {
		t.Fatal(err)
	}
	files, err := pw.writeStream(ctx, func(yield func(PartBatch, error) bool) {
		for pb, err := range p.Batches(bytes.NewReader(b.Bytes())) {
			if !yield(pb, err) {
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("%d files, want 1 (one subscriber, one day)", len(files))
	}
	path := strings.TrimPrefix(files[0].FilePath(), "file://")
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fr, err := pqarrow.NewFileReader(r, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	cols := map[string]int{}
	for i := range r.MetaData().Schema.NumColumns() {
		cols[r.MetaData().Schema.Column(i).Name()] = i
	}
	// The cells read back are the rows'.
	all := make([]int, r.NumRowGroups())
	for i := range all {
		all[i] = i
	}
	tab, err := fr.ReadRowGroups(ctx, []int{cols["call_id"], cols["cell_id"]}, all)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	ids, cells := tab.Column(0).Data(), tab.Column(1).Data()
	for ci, chunk := range ids.Chunks() {
		cc := cells.Chunks()[ci]
		for i := range chunk.Len() {
			id, cell := chunk.ValueStr(i), ""
			if !cc.IsNull(i) {
				cell = cc.ValueStr(i)
			}
			if w, ok := wantCell[id]; !ok || w != cell {
				t.Fatalf("row %s: cell %q, want %q", id, cell, w)
			}
			got++
		}
	}
	tab.Release()
	if got != len(wantCell) {
		t.Fatalf("%d rows read back, want %d", got, len(wantCell))
	}
	groups := 0
	for rg := range r.NumRowGroups() {
		cc, err := r.MetaData().RowGroup(rg).ColumnChunk(cols["cell_id"])
		if err != nil {
			t.Fatal(err)
		}
		if !cc.HasDictionaryPage() {
			t.Errorf("row group %d: cell_id without a dictionary", rg)
		}
		for _, st := range cc.EncodingStats() { // a dictionary page is PLAIN too
			if st.Encoding == parquet.Encodings.Plain && fmt.Sprint(st.PageType) != "DICTIONARY_PAGE" {
				t.Errorf("row group %d: cell_id has a data page of plain values", rg)
			}
		}
		groups++
	}
	if newCells := cellOf(0) != cellOf(200); newCells && groups < 5 {
		t.Errorf("%d row groups, want one per batch of new cells (10)", groups)
	} else if !newCells && groups != 1 {
		t.Errorf("%d row groups, want 1: the batches after the first bring no new cell", groups)
	}
	for rg := range r.NumRowGroups() {
		for _, name := range []string{"cell_id", "duration_s", "region"} {
			c := cols[name]
			cc, err := r.MetaData().RowGroup(rg).ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			st, err := cc.Statistics()
			if err != nil || st == nil || !st.HasMinMax() {
				t.Fatalf("row group %d %s: no statistics (%v)", rg, name, err)
			}
			tab, err := fr.ReadRowGroups(ctx, []int{c}, []int{rg})
			if err != nil {
				t.Fatal(err)
			}
			var lo, hi string
			var nulls int64
			for _, chunk := range tab.Column(0).Data().Chunks() {
				for i := range chunk.Len() {
					if chunk.IsNull(i) {
						nulls++
						continue
					}
					v := chunk.ValueStr(i)
					if name == "duration_s" {
						v = fmt.Sprintf("%08s", v) // compare numbers as fixed-width text
					}
					if lo == "" || v < lo {
						lo = v
					}
					if v > hi {
						hi = v
					}
				}
			}
			tab.Release()
			var gotLo, gotHi string
			switch s := st.(type) {
			case *metadata.ByteArrayStatistics:
				gotLo, gotHi = string(s.Min()), string(s.Max())
			case *metadata.Int32Statistics:
				gotLo, gotHi = fmt.Sprintf("%08d", s.Min()), fmt.Sprintf("%08d", s.Max())
			default:
				t.Fatalf("%s: statistics %T", name, st)
			}
			if gotLo != lo || gotHi != hi || st.NullCount() != nulls {
				t.Errorf("row group %d %s: statistics min %q max %q nulls %d; values min %q max %q nulls %d", rg, name, gotLo, gotHi, st.NullCount(), lo, hi, nulls)
			}
		}
	}
}
