package lake

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
)

func TestKeysHold(t *testing.T) {
	entries := []batchEntry{{Source: "s3://l/a.csv"}, {Source: "s3://l/b.csv"}, {Source: "s3://l/c.csv"}, {Source: "s3://l/a.csv"}}
	keys := encodeKeys(entries)
	if len(keys) != (3*4*8+5)/6 { // three distinct sources, 4 bytes each, base64 without padding
		t.Errorf("encodeKeys of 3 distinct sources is %d characters, want %d", len(keys), (3*4*8+5)/6)
	}
	cases := []struct {
		name    string
		encoded string
		sources []string
		want    bool
	}{
		{"first", keys, []string{"s3://l/a.csv"}, true},
		{"last", keys, []string{"s3://l/c.csv"}, true},
		{"absent", keys, []string{"s3://l/d.csv"}, false},
		{"one of several", keys, []string{"s3://l/d.csv", "s3://l/b.csv"}, true},
		{"none of several", keys, []string{"s3://l/d.csv", "s3://l/e.csv"}, false},
		{"empty set", encodeKeys(nil), []string{"s3://l/a.csv"}, false},
		{"not base64: may hold anything", "%%%", []string{"s3://l/d.csv"}, true},
		{"not whole hashes: may hold anything", "AAA", []string{"s3://l/d.csv"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hs []uint32
			for _, s := range c.sources {
				hs = append(hs, sourceHash(s))
			}
			if got := keysHold(c.encoded, hs); got != c.want {
				t.Errorf("keysHold(%q, %v) = %v, want %v", c.encoded, c.sources, got, c.want)
			}
		})
	}
}

// A batch snapshot's summary names its side file and its sources' hashes,
// not the entries: a few bytes a file instead of about 150, while every
// decision stays the same. A side file gone (its snapshot just expired)
// leaves the look-up to the ledger objects.
func TestBatchSummaryIsCompact(t *testing.T) {
	ctx := context.Background()
	cfg, cat, store := newInternalLake(t)
	in := NewIngester(cfg, cat, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	const n = 40
	var objs []Object
	for i := range n {
		body := fmt.Sprintf("call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n"+
			"C%03d,S%05d,491700000001,4930123,offnet,2026-10-0%dT10:00:07Z,60,voice,out,false,false,CELL1,North,0,0.10\n", i, i, 1+i%3)
		objs = append(objs, putObject(t, store, fmt.Sprintf("exports/cdr/2026/10/compact-%03d-with-a-long-switch-name.csv", i), []byte(body)))
	}
	for _, o := range in.IngestBatch(ctx, objs) {
		if o.Err != nil || o.Status != StatusCommitted {
			t.Fatalf("%s: status %s, err %v", o.Source, o.Status, o.Err)
		}
	}
	for _, def := range []TableDef{CDRTable, IngestLogTable} {
		tbl, err := cat.LoadTable(ctx, def.Ident())
		if err != nil {
			t.Fatal(err)
		}
		p := tbl.CurrentSnapshot().Summary.Properties
		if p[propBatch] != "" || p[propSource] != "" {
			t.Fatalf("%s: the batch summary carries the entries (%d bytes under %s)", def.Name, len(p[propBatch]), propBatch)
		}
		ours := 0
		for k, v := range p {
			if strings.HasPrefix(k, "telcolake.") {
				ours += len(k) + len(v)
			}
		}
		if limit := 8*n + 120; ours > limit {
			t.Errorf("%s: the batch summary takes %d bytes for %d files, want at most %d", def.Name, ours, n, limit)
		}
		entries, err := readBatchFile(ctx, tbl, p[propBatchFile])
		if err != nil || len(entries) != n {
			t.Fatalf("%s: side file holds %d entries (%v), want %d", def.Name, len(entries), err, n)
		}
		for _, o := range objs {
			e, err := ledgerLookup(ctx, tbl, o.Source())
			if err != nil || !e.found || e.etag != o.ETag || e.snapshotID != tbl.CurrentSnapshot().SnapshotID {
				t.Fatalf("%s: ledgerLookup(%s) = %+v, %v; want the batch's entry", def.Name, o.Source(), e, err)
			}
		}
		if e, err := ledgerLookup(ctx, tbl, "s3://landing/exports/cdr/2026/10/never.csv"); err != nil || e.found {
			t.Errorf("%s: ledgerLookup of a source never ingested = %+v, %v; want not found", def.Name, e, err)
		}
	}

	// Every file again: each a duplicate, nothing committed.
	tbl, err := cat.LoadTable(ctx, CDRTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	snaps := len(tbl.Metadata().Snapshots())
	for _, o := range in.IngestBatch(ctx, objs) {
		if o.Err != nil || o.Status != StatusDuplicate {
			t.Fatalf("redelivery of %s: status %s, err %v; want duplicate", o.Source, o.Status, o.Err)
		}
	}

	// The side file gone, as maintenance deletes it once the snapshot
	// expires: the ledger objects written after the commit decide.
	side := strings.TrimPrefix(batchFilePath(tbl, tbl.CurrentSnapshot().Summary.Properties[propBatchFile]), "file://")
	if err := os.Remove(side); err != nil {
		t.Fatal(err)
	}
	batchFiles.Lock()
	batchFiles.entries, batchFiles.n = map[string][]batchEntry{}, 0
	batchFiles.Unlock()
	for _, o := range in.IngestBatch(ctx, objs[:5]) {
		if o.Err != nil || o.Status != StatusDuplicate {
			t.Fatalf("redelivery of %s without the side file: status %s, err %v; want duplicate", o.Source, o.Status, o.Err)
		}
	}
	if tbl, err = cat.LoadTable(ctx, CDRTable.Ident()); err != nil {
		t.Fatal(err)
	}
	if got := len(tbl.Metadata().Snapshots()); got != snaps {
		t.Errorf("crm.cdr has %d snapshots after the redeliveries, want %d (nothing committed)", got, snaps)
	}
}

// keysHold's partial decoding finds every hash of key sets of every
// length (each offset of a hash within base64's 3-byte groups) and no
// hash that is not there.
func TestKeysHoldEveryLength(t *testing.T) {
	for n := range 40 {
		var entries []batchEntry
		for i := range n {
			entries = append(entries, batchEntry{Source: fmt.Sprintf("s3://l/k-%d-%d.csv", n, i)})
		}
		keys := encodeKeys(entries)
		for _, e := range entries {
			if !keysHold(keys, []uint32{sourceHash(e.Source)}) {
				t.Fatalf("keysHold of %d keys misses %s", n, e.Source)
			}
		}
		absent := 0
		for i := range 200 {
			h := sourceHash(fmt.Sprintf("s3://l/absent-%d-%d.csv", n, i))
			if keysHold(keys, []uint32{h}) {
				absent++
			}
		}
		if absent > 0 {
			t.Errorf("keysHold of %d keys holds %d of 200 absent sources", n, absent)
		}
	}
}
