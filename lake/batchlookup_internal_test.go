package lake

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
)

// The batch's one look-up of every source (lookupPriors) answers what the
// per-file look-ups (lookupVersion, logLookup) answer, case by case: a new
// file, one committed alone or in a batch, one whose ledger object is
// missing (to repair), one only the ledger object knows (its snapshot
// expired), one quarantined (log only) and one of no known format.
func TestLookupPriorsMatchesPerFile(t *testing.T) {
	ctx := context.Background()
	cfg, cat, store := newInternalLake(t)
	in := NewIngester(cfg, cat, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	const header = "call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n"
	cdr := func(id string, good bool) []byte {
		row := "%s,S00001,491700000001,4930123,offnet,2026-10-01T10:00:07Z,60,voice,out,false,false,CELL1,North,0,0.10\n"
		if !good {
			row = "%s,S00001,491700000001,4930123,offnet,2026-10-01T10:00:07Z,60,telepathy,out,false,false,CELL1,North,0,0.10\n"
		}
		return []byte(header + fmt.Sprintf(row, id))
	}
	put := func(key string, body []byte) Object { return putObject(t, store, key, body) }
	alone := put("exports/cdr/2026/10/01/alone.csv", cdr("A1", true))
	if _, err := in.Ingest(ctx, alone); err != nil {
		t.Fatal(err)
	}
	batch := []Object{put("exports/cdr/2026/10/01/b1.csv", cdr("B1", true)), put("exports/cdr/2026/10/01/b2.csv", cdr("B2", true)),
		put("exports/cdr/2026/10/01/repair.csv", cdr("R1", true)), put("exports/cdr/2026/10/01/bad.csv", cdr("Q1", false)),
		put("exports/unknown/x.csv", cdr("U1", true))}
	for _, o := range in.IngestBatch(ctx, batch) {
		if o.Err != nil {
			t.Fatalf("%s: %v", o.Source, o.Err)
		}
	}
	tbl, err := cat.LoadTable(ctx, CDRTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	logTbl, err := cat.LoadTable(ctx, IngestLogTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	repair := batch[2].Source()
	if err := os.Remove(strings.TrimPrefix(ledgerObjectPath(tbl, repair), "file://")); err != nil {
		t.Fatal(err)
	}
	expired := "s3://landing/exports/cdr/2026/09/30/expired.csv"
	if err := writeLedgerObject(ctx, tbl, expired, ledgerEntry{etag: "e1", status: StatusCommitted, snapshotID: 42, files: []string{"f.parquet"}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, source string
		known        bool // of a known format: looked up in crm.cdr too
		wantPrev     bool
		wantRepair   bool
		wantLogged   bool
	}{
		{"new", "s3://landing/exports/cdr/2026/10/01/new.csv", true, false, false, false},
		{"committed alone", alone.Source(), true, true, false, true},
		{"committed in a batch", batch[0].Source(), true, true, false, true},
		{"ledger object missing", repair, true, true, true, true},
		{"only the ledger object", expired, true, true, false, false},
		{"quarantined", batch[3].Source(), true, false, false, true},
		{"no known format", batch[4].Source(), false, false, false, true},
	}
	bySource := map[bool]map[string]bool{true: {}, false: {}}
	for _, c := range cases {
		bySource[c.known][c.source] = true
	}
	got := map[string]priorState{}
	for known, sources := range bySource {
		dataTbl := tbl
		if !known {
			dataTbl = nil
		}
		ps, err := lookupPriors(ctx, dataTbl, logTbl, sources)
		if err != nil {
			t.Fatal(err)
		}
		for s, p := range ps {
			got[s] = p
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := got[c.source]
			if g.prev.found != c.wantPrev || g.repair != c.wantRepair || g.logged.found != c.wantLogged {
				t.Errorf("lookupPriors(%s) = prev %v, repair %v, logged %v; want %v, %v, %v",
					c.name, g.prev.found, g.repair, g.logged.found, c.wantPrev, c.wantRepair, c.wantLogged)
			}
			logged, err := logLookup(ctx, logTbl, c.source)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g.logged, logged) {
				t.Errorf("logged = %+v, logLookup says %+v", g.logged, logged)
			}
			if !c.known {
				return
			}
			prev, rep, err := lookupVersion(ctx, tbl, c.source)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g.prev, prev) || g.repair != rep {
				t.Errorf("prev = %+v (repair %v), lookupVersion says %+v (repair %v)", g.prev, g.repair, prev, rep)
			}
		})
	}
}
