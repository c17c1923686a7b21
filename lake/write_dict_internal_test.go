package lake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
)

// crm.cdr's data files dictionary-encode only the columns that repeat
// within a file (a day of a subscriber bucket): ids, numbers, start times,
// data volumes and charges are nearly one value per row, where a
// dictionary costs the writer a hash insert per value and saves nothing
// after zstd. The rows here repeat those values too, so a dictionary the
// table's properties allowed would be kept.
func TestCDRDictionaryColumns(t *testing.T) {
	ctx := context.Background()
	cfg, cat, store := newInternalLake(t)
	var b bytes.Buffer
	b.WriteString("call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "D%05d,S%05d,4917%08d,4930%06d,offnet,2026-10-01T%02d:%02d:%02dZ,%d,voice,out,false,false,CELL%d,North,%d,0.%04d\n",
			i, i%300, i%300, i, 10, 0, i%5, 1+i%600, i%7, i%3*1000, i%4)
	}
	in := NewIngester(cfg, cat, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	res, err := in.Ingest(ctx, putObject(t, store, "exports/cdr/2026/10/dict.csv", b.Bytes()))
	if err != nil || res.Status != StatusCommitted {
		t.Fatalf("ingest: %+v, %v", res, err)
	}
	want := map[string]bool{ // column → dictionary page expected
		"call_id": false, "subscriber_id": false, "msisdn": false, "other_party_hash": false,
		"start_time": false, "data_kb": false, "charge": false,
		"other_network": true, "call_type": true, "direction": true, "cell_id": true, "region": true,
		"source_file": true, "ingested_at": true,
	}
	wantEncoding := map[string]parquet.Encoding{ // the table's encoding properties
		"call_id": parquet.Encodings.DeltaByteArray, "start_time": parquet.Encodings.DeltaBinaryPacked,
		"other_party_hash": parquet.Encodings.DeltaLengthByteArray,
	}
	root := strings.TrimPrefix(cfg.Warehouse, "file://")
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".parquet") || !strings.Contains(filepath.ToSlash(path), "/cdr/") {
			return err
		}
		files++
		r, err := file.OpenParquetFile(path, false)
		if err != nil {
			return err
		}
		defer r.Close()
		rg := r.MetaData().RowGroup(0)
		seen := 0
		for c := range rg.NumColumns() {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				return err
			}
			name := cc.PathInSchema().String()
			w, ok := want[name]
			if !ok {
				continue
			}
			seen++
			if got := cc.HasDictionaryPage(); got != w {
				t.Errorf("%s: column %s has a dictionary page = %v, want %v", filepath.Base(path), name, got, w)
			}
			if enc, ok := wantEncoding[name]; ok && !slices.Contains(cc.Encodings(), enc) {
				t.Errorf("%s: column %s is encoded %v, want %s (the table's %s%s)", filepath.Base(path), name, cc.Encodings(), enc, encodingPrefix, name)
			}
		}
		if seen != len(want) {
			t.Errorf("%s: %d of the %d columns checked found", filepath.Base(path), seen, len(want))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no crm.cdr data file written")
	}
}

// A table's encoding property the ingest writer cannot honour is an error
// naming the property, not a file written otherwise.
func TestWriterPropertiesEncodings(t *testing.T) {
	sc, err := CDRFormat.ArrowSchema()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		value, err string
	}{
		{"DELTA_BYTE_ARRAY", ""},
		{"PLAIN", ""},
		{"RLE_DICTIONARY", "not one the ingest writer supports"},
		{"delta", "not one the ingest writer supports"},
	} {
		props := maps.Clone(tableProperties)
		props[encodingPrefix+"msisdn"] = tc.value
		wp, err := writerProperties(props, sc)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.value, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), encodingPrefix+"msisdn")):
			t.Errorf("%s: error %v, want one naming the property and %q", tc.value, err, tc.err)
		case tc.err == "" && wp.EncodingFor("msisdn") != columnEncodings[tc.value]:
			t.Errorf("%s: msisdn encoded %s", tc.value, wp.EncodingFor("msisdn"))
		}
	}
}
