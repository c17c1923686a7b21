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
	"time"

	"github.com/apache/iceberg-go/table"
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

// The batch's recheck on the reloaded table sends back to be parsed again
// exactly the files whose kept records another commit added meanwhile, or
// whose consulted data files are gone, and no other; the same whether the
// files' kept keys are their day sets or frozen runs (in memory or spilled).
func TestRecheckBatchRedoesOnlyTheFilesHit(t *testing.T) {
	ctx := context.Background()
	cfg, cat, store := newInternalLake(t)
	in := NewIngester(cfg, cat, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	const header = "call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n"
	row := func(id, day string) string {
		return id + ",S00001,491700000001,4930123,offnet,2026-10-" + day + "T10:00:07Z,60,voice,out,false,false,CELL1,North,0,0.10\n"
	}
	ingest := func(key, body string) {
		if res, err := in.Ingest(ctx, putObject(t, store, key, []byte(header+body))); err != nil || res.Status != StatusCommitted {
			t.Fatalf("ingest %s: %s %v", key, res.Status, err)
		}
	}
	load := func() *table.Table {
		tbl, err := cat.LoadTable(ctx, CDRTable.Ident())
		if err != nil {
			t.Fatal(err)
		}
		return tbl
	}
	ingest("exports/cdr/2026/10/01/a.csv", row("A1", "01")+row("A2", "02"))
	parsed := load() // the table the batch's files were parsed against
	day1 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400
	shared, cache := newDayKeys(), newKeyCache(1<<20, 1<<20)
	member := func(day int64, ids ...string) *prepared {
		r := newRecordSet(ctx, CDRFormat, parsed, "", false, cache)
		r.shared = shared
		for _, id := range ids {
			if dup, err := r.duplicate(day, id); err != nil || dup {
				t.Fatalf("duplicate(%d, %s) = %v, %v", day, id, dup, err)
			}
		}
		return &prepared{recs: r}
	}
	build := func() []*prepared {
		ps := []*prepared{member(day1, "X1", "X2"), member(day1, "Y1"), member(day1+1, "Z1"), member(day1, "W1")}
		ps[3].recs.consulted[day1] = map[string]bool{"gone.parquet": true} // consulted a file no longer live
		return ps
	}
	smallBatchKeys(t, 2) // the first file's run in memory, the others spilled
	spill := newKeySpill()
	defer spill.close()
	modes := map[string][]*prepared{"day sets": build(), "frozen": build()}
	for _, p := range modes["frozen"] {
		fk, err := spill.freeze(p.recs)
		if err != nil {
			t.Fatal(err)
		}
		p.keys = fk
	}
	if modes["frozen"][0].keys.mem == nil || modes["frozen"][1].keys.mem != nil {
		t.Fatalf("frozen runs: want the first in memory, the others spilled")
	}
	ingest("exports/cdr/2026/10/01/b.csv", row("Y1", "01")+row("B2", "02")) // another ingest commits Y1
	ingest("exports/cdr/2026/10/02/c.csv", row("C1", "02"))                 // and records no file keeps

	cases := []struct {
		name string
		tbl  *table.Table
		idx  []int
		want map[int]bool
	}{
		{"nothing committed since", parsed, []int{0, 1, 2}, map[int]bool{}},
		{"a kept record committed by another", load(), []int{0, 1, 2}, map[int]bool{1: true}},
		{"the file hit not in the batch", load(), []int{0, 2}, map[int]bool{}},
		{"a consulted file gone", parsed, []int{0, 3}, map[int]bool{3: true}},
		{"no files", load(), nil, map[int]bool{}},
	}
	for mode, ps := range modes {
		for _, c := range cases {
			t.Run(mode+"/"+c.name, func(t *testing.T) {
				got, err := recheckBatch(ctx, c.tbl, ps, c.idx)
				if err != nil {
					t.Fatal(err)
				}
				for i := range ps {
					if got[i] != c.want[i] {
						t.Errorf("recheckBatch(%v): file %d redo = %v, want %v", c.idx, i, got[i], c.want[i])
					}
				}
			})
		}
	}
}

func TestBatchWorkers(t *testing.T) {
	obj := func(key string, size int64) Object { return Object{Key: key, Size: size} }
	cases := []struct {
		name string
		set  int
		objs []Object
		want int
	}{
		{"all small", 0, []Object{obj("a.csv", 90_000), obj("b.csv", 1<<20)}, smallBatchWorkers},
		{"one large", 0, []Object{obj("a.csv", 90_000), obj("b.csv", 1<<20+1)}, DefaultBatchWorkers},
		{"gzip counted decompressed", 0, []Object{obj("a.csv.gz", 200_000)}, DefaultBatchWorkers},
		{"small gzip", 0, []Object{obj("a.csv.GZ", 100_000)}, smallBatchWorkers},
		{"size unknown", 0, []Object{obj("a.csv", 0)}, DefaultBatchWorkers},
		{"set by the caller", 3, []Object{obj("a.csv", 10)}, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := &Ingester{BatchWorkers: c.set}
			idx := make([]int, len(c.objs))
			for i := range idx {
				idx[i] = i
			}
			if got := in.batchWorkers(c.objs, idx); got != c.want {
				t.Errorf("batchWorkers(%v) = %d, want %d", c.objs, got, c.want)
			}
		})
	}
}

// A batch's commit does not read again the ledger objects of sources its
// look-up found in no ledger while every snapshot since is still there,
// and still finds a source another worker committed since: in the
// summaries while its snapshot is kept, in the ledger object once
// maintenance expired it (the chain back to the look-up's table is broken
// then, so the objects are read again).
func TestLookupVersionsSinceBase(t *testing.T) {
	ctx := context.Background()
	cfg, cat, store := newInternalLake(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	in := NewIngester(cfg, cat, store, log)
	const header = "call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n"
	obj := func(name string) Object {
		body := header + name + ",S00001,491700000001,4930123,offnet,2026-10-01T10:00:07Z,60,voice,out,false,false,CELL1,North,0,0.10\n"
		return putObject(t, store, "exports/cdr/2026/10/01/"+name+".csv", []byte(body))
	}
	batch := func(objs ...Object) {
		for _, o := range in.IngestBatch(ctx, objs) {
			if o.Err != nil || o.Status != StatusCommitted {
				t.Fatalf("%s: %s %v", o.Source, o.Status, o.Err)
			}
		}
	}
	load := func() *table.Table {
		tbl, err := cat.LoadTable(ctx, CDRTable.Ident())
		if err != nil {
			t.Fatal(err)
		}
		return tbl
	}
	lookup := func(tbl *table.Table, base *ledgerBase, src string) (found, unchanged bool) {
		got, err := lookupVersions(ctx, tbl, map[string]bool{src: true}, base)
		if err != nil {
			t.Fatal(err)
		}
		unchanged, err = base.unchangedFor(ctx, tbl, wanted{src: sourceHash(src)})
		if err != nil {
			t.Fatal(err)
		}
		return got[src].found, unchanged
	}
	batch(obj("F1"), obj("F2"))

	kept, expired, never := obj("K1"), obj("E1"), obj("N1")
	bases := map[string]*ledgerBase{}
	for _, o := range []Object{kept, expired, never} {
		bases[o.Source()] = &ledgerBase{tbl: load(), absent: map[string]bool{o.Source(): true}}
	}
	batch(kept, obj("K2"))
	batch(expired, obj("E2"))
	batch(obj("L1"), obj("L2"))
	cases := []struct {
		name          string
		src           string
		maintain      bool
		found, intact bool
	}{
		{"never committed", never.Source(), false, false, true},
		{"committed since, snapshot kept", kept.Source(), false, true, true},
		{"committed since, snapshot expired", expired.Source(), true, true, false},
		{"never committed, snapshots expired since", never.Source(), true, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.maintain {
				m := NewMaintainer(MaintainConfig{KeepSnapshots: 1, OrphanAge: 24 * time.Hour, TargetFileBytes: 128 << 20}, cat, log)
				if _, err := m.Run(ctx); err != nil {
					t.Fatal(err)
				}
			}
			found, intact := lookup(load(), bases[c.src], c.src)
			if found != c.found || intact != c.intact {
				t.Errorf("lookupVersions since the look-up: found %v, chain intact %v; want %v, %v", found, intact, c.found, c.intact)
			}
		})
	}
}
