package lake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	sqlcat "github.com/apache/iceberg-go/catalog/sql"
)

// newInternalLake is a file warehouse with the SQLite catalog and a
// directory landing store, for tests inside the package.
func newInternalLake(t *testing.T) (Config, *sqlcat.Catalog, DirStore) {
	t.Helper()
	dir := t.TempDir()
	cfg := Config{Catalog: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "warehouse"),
		PseudonymKey: []byte("test-pseudonym-key-0123456789"), RejectThreshold: 0.05}
	cat, err := OpenCatalog(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	if err := EnsureTables(context.Background(), cat, cfg.Warehouse); err != nil {
		t.Fatal(err)
	}
	return cfg, cat, DirStore{Root: filepath.Join(dir, "landing")}
}

// putObject writes body to the landing store and returns its Object.
func putObject(t *testing.T, store DirStore, key string, body []byte) Object {
	t.Helper()
	if err := store.Put(context.Background(), "landing", key, body); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(store.Root, "landing", filepath.FromSlash(key)))
	if err != nil {
		t.Fatal(err)
	}
	return Object{Bucket: "landing", Key: key, ETag: LocalETag(fi), Size: fi.Size()}
}

// A batch's buffered rows are bounded by the memory they take, not by the
// bytes of their files: CDR rows take about three times their CSV bytes as
// Arrow columns, so a batch whose files are under SharedBatchBytes held
// several times that before. Past the bound a file writes its own data
// files, and every row is still committed once.
func TestSharedBufferBoundedByRowMemory(t *testing.T) {
	ctx := context.Background()
	cfg, cat, store := newInternalLake(t)
	const files, rows = 12, 400
	var objs []Object
	var input int64
	for f := range files {
		var b bytes.Buffer
		b.WriteString("call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n")
		for i := range rows {
			fmt.Fprintf(&b, "M%02d-%05d,S%05d,4917%08d,4930%06d,offnet,2026-10-%02dT10:%02d:07Z,%d,voice,out,false,false,CELL1,North,0,0.%04d\n",
				f, i, i%50, i%50, i, 1+i%2, i%60, 1+i%600, i)
		}
		o := putObject(t, store, fmt.Sprintf("exports/cdr/2026/10/mem-%02d.csv", f), b.Bytes())
		objs = append(objs, o)
		input += o.Size
	}

	cases := []struct {
		name  string
		bound int64
		// wantOwn: some files must write their own data files.
		wantOwn bool
	}{
		{"bound above the rows' memory", 1 << 30, false},
		{"bound above the input bytes, below the rows' memory", input + input/10, true},
		{"bound of a few files' rows", input / 3, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := NewIngester(cfg, cat, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
			in.SharedBatchBytes = tc.bound
			in.keys = newDefaultKeyCache()
			idx := make([]int, len(objs))
			for i := range idx {
				idx[i] = i
			}
			preps, err := in.prepareAll(ctx, &pace{}, newKeySpill(), objs, idx)
			if err != nil {
				t.Fatal(err)
			}
			var held, allRows int64
			buffered, own := 0, 0
			for _, p := range preps {
				if p.step != stepCommit {
					t.Fatalf("%s: step %d, err %v; want it ready to commit", p.res.Source, p.step, p.err)
				}
				allRows += p.st.RowsOK
				var mine int64
				for _, b := range p.bufs {
					mine += recordBytes(b.Rec)
				}
				if mine != p.charged {
					t.Errorf("%s holds %d bytes of rows, charged %d", p.res.Source, mine, p.charged)
				}
				held += mine
				switch {
				case p.buffered && len(p.bufs) > 0:
					buffered++
				case !p.buffered && len(p.files) > 0:
					own++
				default:
					t.Errorf("%s: buffered %v with %d batches and %d own files", p.res.Source, p.buffered, len(p.bufs), len(p.files))
				}
			}
			if held > tc.bound {
				t.Errorf("the batch holds %d bytes of rows, above its bound of %d (input %d bytes)", held, tc.bound, input)
			}
			if allRows != files*rows {
				t.Errorf("parsed %d rows, want %d", allRows, files*rows)
			}
			if buffered == 0 || (own > 0) != tc.wantOwn {
				t.Errorf("%d files buffered, %d with their own data files (held %d bytes, bound %d, input %d); want some buffered, own files %v",
					buffered, own, held, tc.bound, input, tc.wantOwn)
			}
			for _, p := range preps {
				in.discard(ctx, p)
			}
		})
	}

	// Through the whole batch: every row once, with the tightest bound.
	in := NewIngester(cfg, cat, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	in.SharedBatchBytes = input / 3
	for _, o := range in.IngestBatch(ctx, objs) {
		if o.Err != nil || o.Status != StatusCommitted || o.RowsOK != rows {
			t.Fatalf("%s: status %s, rows %d, err %v; want committed with %d rows", o.Source, o.Status, o.RowsOK, o.Err, rows)
		}
	}
	tbl, err := cat.LoadTable(ctx, CDRTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	if got := tbl.CurrentSnapshot().Summary.Properties["total-records"]; got != fmt.Sprint(files*rows) {
		t.Errorf("crm.cdr holds %s rows, want %d", got, files*rows)
	}
}
