package lake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/iceberg-go"
)

// TestHashSetMatchesAMap adds keys (0 and 1 among them, which the set
// stores alike, and many repeats) through several resizes and checks every
// answer, and the keys in order, against a map: keys spread evenly (hashes)
// and unevenly (all at the first or the last homes, clustered: the weak
// hashes of tests), which the table's tail must make room for. With
// addNew, runs of new keys (and some repeats: a hash shared by another
// key) wait and are placed by the next call, few by insertion and many by
// a merge, a look-up between runs now and then.
func TestHashSetMatchesAMap(t *testing.T) {
	for _, via := range []string{"Add", "addNew"} {
		t.Run(via, func(t *testing.T) { testHashSetMatchesAMap(t, via == "addNew") })
	}
}

func testHashSetMatchesAMap(t *testing.T, addNew bool) {
	gens := []struct {
		name  string
		sizes []int
		gen   func(rng *rand.Rand, n int) uint64
	}{
		{"even", []int{0, 1, 100, minSlots, 5 * minSlots, 8 * minSlots, 50 * minSlots, 200_000},
			func(rng *rand.Rand, _ int) uint64 { return rng.Uint64() }},
		{"first homes", []int{100, 3000},
			func(rng *rand.Rand, n int) uint64 { return uint64(1 + rng.IntN(3*n+1)) }},
		{"last homes", []int{100, 3000},
			func(rng *rand.Rand, n int) uint64 { return math.MaxUint64 - uint64(rng.IntN(3*n+1)) }},
		{"clustered", []int{100, 3000},
			func(rng *rand.Rand, _ int) uint64 { return uint64(rng.IntN(50)) << uint(rng.IntN(64)) }},
	}
	for _, g := range gens {
		for _, n := range g.sizes {
			t.Run(fmt.Sprint(g.name, "/", n), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(n), 7))
				var s hashSet
				want := map[uint64]bool{}
				pool := make([]uint64, 0, n/2+2)
				pool = append(pool, 0, 1)
				for i := 0; i < n; i++ {
					var k uint64
					if i%3 == 0 && len(pool) > 0 {
						k = pool[rng.IntN(len(pool))] // a repeat, or 0/1
					} else {
						k = g.gen(rng, n)
						pool = append(pool, k)
					}
					if k == 0 {
						k = 1 // the set does not tell 0 from 1
					}
					if addNew && i%1000 < 700 { // a run: repeats mostly left out
						if !want[k] || rng.IntN(4) == 0 {
							s.addNew(k)
							want[k] = true
						}
						if rng.IntN(2000) == 0 && !s.Has(k) {
							t.Fatalf("Has(%#x) = false after addNew", k)
						}
						continue
					}
					if got := s.Add(k); got == want[k] {
						t.Fatalf("Add(%#x) = %v after %d keys, want %v", k, got, i, !want[k])
					}
					want[k] = true
				}
				if s.Len() != len(want) {
					t.Errorf("Len = %d, want %d", s.Len(), len(want))
				}
				for k := range want {
					if !s.Has(k) {
						t.Fatalf("Has(%#x) = false for a key added", k)
					}
				}
				for range 10_000 {
					k := g.gen(rng, n)
					if rng.IntN(2) == 0 {
						k = rng.Uint64()
					}
					if k == 0 {
						continue
					}
					if s.Has(k) != want[k] {
						t.Fatalf("Has(%#x) = %v, want %v", k, s.Has(k), want[k])
					}
				}
				sorted := s.sorted()
				if !slices.IsSorted(sorted) || len(sorted) != len(want) {
					t.Fatalf("sorted() holds %d keys (in order: %v), want the %d keys in order", len(sorted), slices.IsSorted(sorted), len(want))
				}
				for _, k := range sorted {
					if !want[k] {
						t.Fatalf("sorted() holds %#x, never added", k)
					}
				}
			})
		}
	}
}

// weakHash installs a key hash under which many keys collide and restores
// a strong one after the test; it returns the weak generation.
func weakHash(t *testing.T, weak func(day int64, id string) uint64) *keyHash {
	t.Helper()
	old := currentKeyHash.Load()
	h := &keyHash{gen: old.gen + 1, seed: old.seed, weak: weak}
	currentKeyHash.Store(h)
	t.Cleanup(func() { rotateKeyHash(currentKeyHash.Load()) })
	return h
}

// A row is dropped as a duplicate only when its exact key is found again:
// under a hash where different keys collide, the collisions are found by
// the verification, the hash is replaced and the file parsed again, and
// every distinct record is kept, the true duplicates still dropped.
func TestHashCollisionFallsBackToExactKeys(t *testing.T) {
	ctx := context.Background()
	const header = "call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n"
	row := func(id string, day int) string {
		return fmt.Sprintf("%s,S00001,491700000001,4930123,offnet,2026-10-%02dT10:00:00Z,10,voice,out,false,false,C1,North,0,0.1\n", id, day)
	}
	// Ids differing only in their last character collide under the weak
	// hash, which keeps the day and drops that character.
	byPrefix := func(day int64, id string) uint64 { return uint64(day)<<32 ^ uint64(len(id)) ^ uint64(id[0]) }
	cases := []struct {
		name       string
		earlier    string // a file ingested first (under the strong hash), or ""
		body       string
		wantOK     int64
		wantDup    int64
		wantRotate bool
	}{
		{"true duplicates only: confirmed without parsing again", "",
			row("A1", 1) + row("A1", 1) + row("B22", 1) + row("B22", 1) + row("A1", 2), 3, 2, false},
		{"collisions within the file, ids out of order: parsed again, nothing dropped", "",
			row("A3", 1) + row("A2", 1) + row("A1", 1) + row("A3", 1), 3, 1, true},
		// An id after every id kept of its day is new without a look-up.
		{"collisions within the file, ids ascending: kept without a look-up, nothing dropped", "",
			row("A1", 1) + row("A2", 1) + row("A3", 1) + row("A1", 1) + row("A2", 1), 3, 2, false},
		{"collision with a row of the table: parsed again, nothing dropped",
			row("X1", 3), row("X2", 3) + row("X1", 3) + row("Y1", 3), 2, 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, cat, store := newInternalLake(t)
			in := NewIngester(cfg, cat, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if tc.earlier != "" {
				res, err := in.Ingest(ctx, putObject(t, store, "exports/cdr/2026/10/earlier.csv", []byte(header+tc.earlier)))
				if err != nil || res.Status != StatusCommitted {
					t.Fatalf("earlier file: %+v, %v", res, err)
				}
			}
			weak := weakHash(t, byPrefix)
			res, err := in.Ingest(ctx, putObject(t, store, "exports/cdr/2026/10/f.csv", []byte(header+tc.body)))
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != StatusCommitted || res.RowsOK != tc.wantOK || res.RowsDuplicate != tc.wantDup {
				t.Errorf("Ingest = %s, %d rows, %d duplicates; want committed, %d rows, %d duplicates",
					res.Status, res.RowsOK, res.RowsDuplicate, tc.wantOK, tc.wantDup)
			}
			if rotated := currentKeyHash.Load() != weak; rotated != tc.wantRotate {
				t.Errorf("hash replaced = %v, want %v", rotated, tc.wantRotate)
			}
		})
	}
}

// The same holds for files of a batch, whose rows are buffered for shared
// data files: a collision sends the file to the single-file path, which
// parses it again.
func TestHashCollisionInABatch(t *testing.T) {
	ctx := context.Background()
	cfg, cat, store := newInternalLake(t)
	in := NewIngester(cfg, cat, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var objs []Object
	var want int64
	for f := range 3 {
		var b bytes.Buffer
		b.WriteString("call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n")
		for i := range 20 {
			fmt.Fprintf(&b, "F%d-%02d,S00001,491700000001,4930123,offnet,2026-10-01T10:%02d:00Z,10,voice,out,false,false,C1,North,0,0.1\n", f, i, i)
			want++
		}
		objs = append(objs, putObject(t, store, fmt.Sprintf("exports/cdr/2026/10/b%d.csv", f), b.Bytes()))
	}
	weakHash(t, func(day int64, id string) uint64 { return uint64(day) }) // every key of a day collides
	var got int64
	for _, o := range in.IngestBatch(ctx, objs) {
		if o.Err != nil {
			t.Fatalf("%s: %v", o.Result.Source, o.Err)
		}
		if o.Result.RowsDuplicate != 0 {
			t.Errorf("%s: %d duplicates, want 0", o.Result.Source, o.Result.RowsDuplicate)
		}
		got += o.Result.RowsOK
	}
	if got != want {
		t.Errorf("rows committed = %d, want %d", got, want)
	}
	if n := countRows(t, cat); n != want {
		t.Errorf("crm.cdr holds %d rows, want %d", n, want)
	}
}

// countRows counts the rows of crm.cdr.
func countRows(t *testing.T, tables TableLoader) int64 {
	t.Helper()
	at, err := ReadTable(context.Background(), tables, CDRTable, "call_id")
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	return at.NumRows()
}

// fakeFiles are data files by path, with the keys each holds.
func fakeFiles(t *testing.T, keys map[string][]recordKey, paths ...string) []iceberg.DataFile {
	t.Helper()
	var out []iceberg.DataFile
	for _, p := range paths {
		b, err := iceberg.NewDataFileBuilder(*iceberg.UnpartitionedSpec, iceberg.EntryContentData, p, iceberg.ParquetFile, nil, nil, nil, int64(len(keys[p])), 100)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Build())
	}
	return out
}

// A day's index is extended by the files new to the day only (the cost of
// a batch does not grow with the files the day had), answers like a plain
// set of all the live files' keys, and starts again when a file it holds is
// no longer live or the hash changed.
func TestDayIndexReadsOnlyNewFiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	keys := map[string][]recordKey{}
	var paths []string
	for i := range 40 {
		p := fmt.Sprintf("f%02d", i)
		paths = append(paths, p)
		for range 1 + rng.IntN(300) {
			keys[p] = append(keys[p], rng.Uint64()|1)
		}
	}
	var reads []string
	keysOf := func(df iceberg.DataFile) ([]recordKey, error) {
		reads = append(reads, df.FilePath())
		return keys[df.FilePath()], nil
	}
	c := newDefaultKeyCache()
	key := dayIndexKey{"t", 1}
	check := func(idx *dayIndex, live []string) {
		t.Helper()
		want := map[recordKey]bool{}
		for _, p := range live {
			for _, k := range keys[p] {
				want[k] = true
			}
		}
		for k := range want {
			if !idx.has(k) {
				t.Fatalf("index of %d files lacks a key", len(live))
			}
		}
		for range 1000 {
			if k := rng.Uint64() | 1; idx.has(k) != want[k] {
				t.Fatalf("has(%#x) = %v, want %v", k, idx.has(k), want[k])
			}
		}
		if len(idx.segs) > 8 {
			t.Errorf("%d runs for %d files, want O(log n)", len(idx.segs), len(live))
		}
	}
	// Files arrive one batch of 1 to 3 at a time.
	for n := 0; n < len(paths); {
		n = min(n+1+rng.IntN(3), len(paths))
		before := len(reads)
		idx, err := c.dayIndex(key, 1, fakeFiles(t, keys, paths[:n]...), keysOf)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(reads) - before; n > 3 && got > 3 {
			t.Fatalf("with %d live files the index read %d files, want only the new ones", n, got)
		}
		check(idx, paths[:n])
	}
	// A file compacted away: the index starts again from the live files.
	live := append(slices.Clone(paths[1:20]), "merged")
	keys["merged"] = slices.Concat(keys[paths[0]], keys[paths[20]])
	before := len(reads)
	idx, err := c.dayIndex(key, 1, fakeFiles(t, keys, live...), keysOf)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(reads) - before; got != len(live) {
		t.Errorf("after a compaction the index read %d files, want all %d live ones", got, len(live))
	}
	check(idx, live)
	// Another hash generation: read again.
	before = len(reads)
	if _, err := c.dayIndex(key, 2, fakeFiles(t, keys, live...), keysOf); err != nil {
		t.Fatal(err)
	}
	if got := len(reads) - before; got != len(live) {
		t.Errorf("under a new hash the index read %d files, want %d", got, len(live))
	}
}

// A day with more keys than the file-key cache holds is still extended
// file by file with the default cache (a day of 10,000 files of 1,000 rows
// is 10M keys: when the day indexes shared the files' 4M bound, every
// batch past file 4,200 rebuilt the day's index from every live file);
// a day past the day bound is not kept, so the memory stays bounded.
func TestDayIndexOutgrowsFileCache(t *testing.T) {
	const perFile = 400_000 // 15 files: 6M keys
	rng := rand.New(rand.NewPCG(5, 6))
	keys := map[string][]recordKey{}
	var paths []string
	for i := range 15 {
		p := fmt.Sprintf("f%02d", i)
		paths = append(paths, p)
		ks := make([]recordKey, perFile)
		for j := range ks {
			ks[j] = rng.Uint64() | 1
		}
		keys[p] = ks
	}
	reads := 0
	keysOf := func(df iceberg.DataFile) ([]recordKey, error) {
		reads++
		return keys[df.FilePath()], nil
	}
	cases := []struct {
		name      string
		cache     *keyCache
		wantReads int // per file added, once the index is past the day bound
	}{
		{"default cache", newDefaultKeyCache(), 1},
		{"day bound of 2 files", newKeyCache(perFile, 2*perFile), 0}, // 0: rebuilt, checked below
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := dayIndexKey{"t", 1}
			for n := 1; n <= len(paths); n++ {
				before := reads
				idx, err := tc.cache.dayIndex(key, 1, fakeFiles(t, keys, paths[:n]...), keysOf)
				if err != nil {
					t.Fatal(err)
				}
				if k := keys[paths[n-1]][perFile/2]; !idx.has(k) {
					t.Fatalf("index of %d files lacks a key of the last", n)
				}
				got := reads - before
				switch {
				case tc.wantReads > 0 && got != tc.wantReads:
					t.Fatalf("file %d of the day (%d keys, file cache %d): the index read %d files, want only the new one",
						n, n*perFile, tc.cache.maxKeys, got)
				case tc.wantReads == 0 && n > 3 && got != n:
					t.Fatalf("file %d past a day bound of 2 files read %d files, want all %d (the index is not kept)", n, got, n)
				}
				if tc.cache.dayN > tc.cache.maxDayN {
					t.Fatalf("day indexes hold %d keys, bound %d", tc.cache.dayN, tc.cache.maxDayN)
				}
			}
		})
	}
}

func TestDayIndexKeys(t *testing.T) {
	for _, tc := range []struct {
		limit int64
		want  int
	}{
		{math.MaxInt64, defaultDayIndexKeys},
		{700 << 20, 700 << 20 / dayIndexShare / 8},
		{64 << 20, minDayIndexKeys},
		{64 << 30, maxDayIndexKeys},
	} {
		if got := dayIndexKeys(tc.limit); got != tc.want {
			t.Errorf("dayIndexKeys(%d) = %d, want %d", tc.limit, got, tc.want)
		}
	}
}

// runHas and keyRun.has answer like a plain search for runs spread evenly (hashes) and
// unevenly (clustered, repeated keys, the weak hashes of tests).
func TestRunHasMatchesSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	runs := map[string]func(int) []recordKey{
		"even": func(n int) []recordKey {
			s := make([]recordKey, n)
			for i := range s {
				s[i] = rng.Uint64()
			}
			return s
		},
		"clustered": func(n int) []recordKey {
			s := make([]recordKey, n)
			for i := range s {
				s[i] = uint64(rng.IntN(50)) << uint(rng.IntN(64))
			}
			return s
		},
		"small values": func(n int) []recordKey {
			s := make([]recordKey, n)
			for i := range s {
				s[i] = uint64(1 + rng.IntN(3*n+1))
			}
			return s
		},
	}
	for name, gen := range runs {
		for _, n := range []int{0, 1, 2, 17, 100, 10_000} {
			s := gen(n)
			slices.Sort(s)
			probes := append(slices.Clone(s), 0, math.MaxUint64)
			for range 2000 {
				probes = append(probes, gen(1)[0], rng.Uint64())
			}
			kr := newKeyRun(s)
			for _, k := range probes {
				_, want := slices.BinarySearch(s, k)
				if got := runHas(s, k); got != want {
					t.Fatalf("%s run of %d: runHas(%#x) = %v, want %v", name, n, k, got, want)
				}
				if got := kr.has(k); got != want {
					t.Fatalf("%s run of %d: keyRun.has(%#x) = %v, want %v", name, n, k, got, want)
				}
			}
		}
	}
}
