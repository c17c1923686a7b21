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

	"github.com/apache/iceberg-go"
)

// Batches that lend their buffers to a pool (Parser.recycle) write, through
// the real writer (writePartFiles: lanes, dictionaries, pqarrow), the same
// files as batches that do not: same rows and values read back, same
// counts and column statistics. Each buffer freed into the pool is
// overwritten first (poisonFreed), so a writer still reading a batch
// after releasing it, or a buffer lent again while held, writes junk and
// fails the comparison.
func TestRecycledBatchesWriteTheSameFiles(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(cdrAreaHeader)
	for i := range 12_000 {
		other, cell, region, area, typ, dur := fmt.Sprintf("4930%06d", i%900), fmt.Sprintf("CELL%d", i%40), "North", "South", "voice", 1+i%600
		switch i % 7 {
		case 0:
			cell, region, area = "", "", ""
		case 3:
			other, typ = "", "data"
		case 5:
			typ, dur = "sms", 0
		}
		// Values of every length, so reused buffers hold longer and
		// shorter ones than before.
		region += strings.Repeat("x", i%13)
		fmt.Fprintf(&b, "R%05d%s,S%05d,4917%08d,%s,offnet,2026-10-%02dT%02d:%02d:%02dZ,%d,%s,in,%t,%t,%s,%s,%d,%d.%04d,%s\n",
			i, strings.Repeat("z", i%5), i%700, i%500, other, 1+i/4000, (i/60)%24, i%60, i%60, dur, typ, i%3 == 0, i%14 == 0, cell, region, i%3*1000, i%7, i%10000, area)
	}
	batches := 0
	write := func(recycle bool) (map[string]iceberg.DataFile, []string) {
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
		p := newParser(CDRFormat, fileContext{source: "s3://landing/exports/cdr/r.csv", ingestedAt: 1_700_000_000_000_000,
			now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), pseudonym: []byte("test-pseudonym-key-0123456789")})
		p.BatchRows = 150 // many batches per partition, some emitted early
		p.recycle = recycle
		batches = 0
		files, err := writePartFiles(ctx, tbl, sc, func(yield func(PartBatch, error) bool) {
			for pb, err := range p.Batches(bytes.NewReader(b.Bytes())) {
				batches++
				if !yield(pb, err) {
					return
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if p.Stats.RowsOK != 12_000 {
			t.Fatalf("parsed %d rows, want 12000 (first rejects %+v)", p.Stats.RowsOK, p.Stats.Errors[:min(3, len(p.Stats.Errors))])
		}
		byPart := map[string]iceberg.DataFile{}
		for _, f := range files {
			k := fmt.Sprint(f.Partition())
			if _, dup := byPart[k]; dup {
				t.Fatalf("two files of partition %s", k)
			}
			byPart[k] = f
		}
		tx := tbl.NewTransaction()
		if err := tx.AddDataFiles(ctx, files, nil); err != nil {
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
		var rows []string
		for rec, err := range recs {
			if err != nil {
				t.Fatal(err)
			}
			for i := range int(rec.NumRows()) {
				var row []string
				for _, col := range rec.Columns() {
					row = append(row, col.ValueStr(i))
				}
				rows = append(rows, strings.Join(row, "|"))
			}
			rec.Release()
		}
		slices.Sort(rows)
		return byPart, rows
	}
	wantFiles, wantRows := write(false)
	poisonFreed = true
	t.Cleanup(func() { poisonFreed = false })
	reused := poolReuses.Load()
	gotFiles, gotRows := write(true)
	// A batch has 31 buffers from pools; those of the batches in flight
	// at once are new.
	if n := poolReuses.Load() - reused; n < 20*int64(batches) {
		t.Fatalf("%d buffers lent again for %d batches, want at least %d", n, batches, 20*batches)
	}
	if len(gotRows) != 12_000 || !slices.Equal(gotRows, wantRows) {
		for i := range min(len(gotRows), len(wantRows)) {
			if gotRows[i] != wantRows[i] {
				t.Fatalf("%d rows read back, want %d; first difference:\n got %s\nwant %s", len(gotRows), len(wantRows), gotRows[i], wantRows[i])
			}
		}
		t.Fatalf("%d rows read back, want %d", len(gotRows), len(wantRows))
	}
	if !slices.Equal(slices.Sorted(maps.Keys(gotFiles)), slices.Sorted(maps.Keys(wantFiles))) || len(gotFiles) != 24 {
		t.Fatalf("partitions %v, want %v (24)", slices.Sorted(maps.Keys(gotFiles)), slices.Sorted(maps.Keys(wantFiles)))
	}
	for k, wf := range wantFiles {
		gf := gotFiles[k]
		if gf.Count() != wf.Count() || !maps.Equal(gf.ValueCounts(), wf.ValueCounts()) || !maps.Equal(gf.NullValueCounts(), wf.NullValueCounts()) {
			t.Errorf("partition %s: %d rows, value counts %v, nulls %v; want %d, %v, %v", k, gf.Count(), gf.ValueCounts(), gf.NullValueCounts(),
				wf.Count(), wf.ValueCounts(), wf.NullValueCounts())
		}
		if !maps.EqualFunc(gf.LowerBoundValues(), wf.LowerBoundValues(), bytes.Equal) || !maps.EqualFunc(gf.UpperBoundValues(), wf.UpperBoundValues(), bytes.Equal) {
			t.Errorf("partition %s: bounds differ:\n got %v %v\nwant %v %v", k, gf.LowerBoundValues(), gf.UpperBoundValues(), wf.LowerBoundValues(), wf.UpperBoundValues())
		}
		if !maps.Equal(gf.ColumnSizes(), wf.ColumnSizes()) {
			t.Errorf("partition %s: column sizes %v, want %v", k, gf.ColumnSizes(), wf.ColumnSizes())
		}
	}
}

// addIn and addOptIn append what add and addOpt do, whether the field lies
// in the line with fieldCopy bytes after its start (one fixed copy), too
// near the line's end, outside it, or is longer than one copy, and
// whatever room the column's data has left.
func TestStrColAddInMatchesAdd(t *testing.T) {
	line := "C2026080100000001,S0014602,491777177797,,,2026-08-01T00:00:06Z,148,data,out,CELL0332,Capital"
	long := strings.Repeat("x", fieldCopy+5)
	elsewhere := strings.Clone(line[:17])
	cases := []struct {
		name   string
		fields []string
	}{
		{"fields with room after them", []string{line[:17], line[18:26], line[27:39], line[40:40]}},
		{"fields near the line's end", []string{line[len(line)-7:], line[len(line)-fieldCopy:], line[len(line)-fieldCopy-1 : len(line)-2]}},
		{"strings outside the line", []string{elsewhere, "onnet", long, ""}},
		{"a field longer than one copy", []string{line[:fieldCopy+3], line[1 : fieldCopy+1]}},
	}
	for _, tc := range cases {
		for _, room := range []int{0, 1, fieldCopy - 1, fieldCopy, 4 * fieldCopy} {
			for _, opt := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/room=%d/opt=%v", tc.name, room, opt), func(t *testing.T) {
					got := strCol{data: make([]byte, 0, room), offs: []int32{0}}
					want := strCol{data: make([]byte, 0, room), offs: []int32{0}}
					for _, f := range tc.fields {
						if opt {
							got.addOptIn(f, line)
							want.addOpt(f)
						} else {
							got.addIn(f, line)
							want.add(f)
						}
					}
					if !bytes.Equal(got.data, want.data) || !slices.Equal(got.offs, want.offs) || got.nulls != want.nulls ||
						!bytes.Equal(got.valid.bits, want.valid.bits) || got.valid.n != want.valid.n {
						t.Errorf("addIn: data %q offs %v nulls %d valid %v/%d; add: %q %v %d %v/%d",
							got.data, got.offs, got.nulls, got.valid.bits, got.valid.n, want.data, want.offs, want.nulls, want.valid.bits, want.valid.n)
					}
				})
			}
		}
	}
}
