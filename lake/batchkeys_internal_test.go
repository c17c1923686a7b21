package lake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"
)

// smallBatchKeys sets batchKeysInMemory for one test.
func smallBatchKeys(t *testing.T, n int) {
	t.Helper()
	old := batchKeysInMemory
	batchKeysInMemory = n
	t.Cleanup(func() { batchKeysInMemory = old })
}

// heldKeys counts the record keys a prepared file holds in memory: its
// duplicate check's day sets and its frozen run.
func heldKeys(p *prepared) int {
	n := 0
	if p.recs != nil {
		for _, ks := range p.recs.kept {
			n += ks.Len()
		}
	}
	if p.keys != nil {
		n += len(p.keys.mem)
	}
	return n
}

// dailyCSV is one day of CDR rows, one source's ids.
func dailyCSV(day, rows int) []byte {
	var b bytes.Buffer
	b.WriteString("call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n")
	for r := range rows {
		fmt.Fprintf(&b, "D%02d-%06d,S%05d,4917%08d,4930%06d,offnet,2026-10-%02dT%02d:%02d:%02dZ,%d,voice,out,false,false,CELL1,North,0,0.%04d\n",
			day, r, r%500, r%500, r%900, day, (r/3600)%24, (r/60)%60, r%60, 1+r%600, r%10000)
	}
	return b.Bytes()
}

// What a batch holds of its files' record keys until the commit does not
// grow with its files: each parsed file's keys are frozen, and past the
// batch's bound they wait on local disk. Before, every file of a batch
// held its duplicate check's day sets (about 12 bytes a key) until the
// commit: 30 daily files of 1M rows, some 360 MB, and the claim built one
// more set of all of them. Through the whole batch every row is committed
// once, the claim reading back only files that share a day.
func TestBatchHoldsBoundedKeys(t *testing.T) {
	ctx := context.Background()
	const files, rows, bound = 6, 3000, 4000
	smallBatchKeys(t, bound)
	cfg, cat, store := newInternalLake(t)
	var objs []Object
	for d := 1; d <= files; d++ {
		objs = append(objs, putObject(t, store, fmt.Sprintf("exports/cdr/2026/10/%02d/switch.csv", d), dailyCSV(d, rows)))
	}
	// One more file of day 1 that repeats 100 of its records: it shares
	// a day with the first file, so the claim reads both runs back.
	again := dailyCSV(1, 100)
	objs = append(objs, putObject(t, store, "exports/cdr/2026/10/01/again.csv", again))

	in := NewIngester(cfg, cat, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	in.keys = newDefaultKeyCache()
	in.SharedFileBytes = -1 // every file writes its own data files, as a large one does
	idx := make([]int, len(objs))
	for i := range idx {
		idx[i] = i
	}
	spill := newKeySpill()
	preps, err := in.prepareAll(ctx, &pace{}, spill, objs, idx)
	if err != nil {
		t.Fatal(err)
	}
	held, frozen := 0, 0
	for _, p := range preps {
		if p.step != stepCommit {
			t.Fatalf("%s: step %d, err %v; want it ready to commit", p.res.Source, p.step, p.err)
		}
		held += heldKeys(p)
		if p.keys != nil {
			frozen += p.keys.n
		}
	}
	if held > bound || spill.peak > bound {
		t.Errorf("the batch holds %d record keys in memory (peak %d), above its bound of %d", held, spill.peak, bound)
	}
	if want := files*rows + 100; frozen != want {
		t.Errorf("the frozen runs have %d keys, want %d", frozen, want)
	}
	keep, err := claimBatch(preps)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, true, true, true, true, true, false}; !slices.Equal(keep, want) {
		t.Errorf("claimBatch = %v, want %v (the repeat of day 1 left to the single-file path)", keep, want)
	}
	for _, p := range preps {
		in.discard(ctx, p)
	}
	spill.close()
	if spill.held != 0 {
		t.Errorf("%d keys still charged to the batch after every file was released", spill.held)
	}

	for i, o := range in.IngestBatch(ctx, objs) {
		wantOK, wantDup := int64(rows), int64(0)
		if i == files {
			wantOK, wantDup = 0, 100
		}
		if o.Err != nil || o.Status != StatusCommitted || o.RowsOK != wantOK || o.RowsDuplicate != wantDup {
			t.Errorf("%s: status %s, rows %d, duplicates %d, err %v; want committed, %d, %d", o.Source, o.Status, o.RowsOK, o.RowsDuplicate, o.Err, wantOK, wantDup)
		}
	}
}

// claimBatch decides as the set of the kept files' keys filled in batch
// order did (TestFilterMatchesBruteForce's way): a file is left to the
// single-file path when it keeps a record an earlier kept file keeps.
// Runs in memory and spilled, files sharing days or not, chains of
// overlaps, and random overlaps.
func TestClaimBatchMatchesSequentialSet(t *testing.T) {
	type file struct {
		day  int64
		keys []recordKey // keys are distinct per day
	}
	span := func(day int64, from, to int) file {
		f := file{day: day}
		for k := from; k < to; k++ {
			f.keys = append(f.keys, recordKey((day+1)<<32|int64(k)))
		}
		return f
	}
	random := func(seed uint64) []file {
		rng := rand.New(rand.NewPCG(seed, 1))
		var fs []file
		for range 12 {
			day := int64(rng.IntN(3))
			from := rng.IntN(400)
			fs = append(fs, span(day, from, from+1+rng.IntN(60)))
		}
		return fs
	}
	cases := []struct {
		name  string
		files []file
	}{
		{"disjoint days", []file{span(1, 0, 100), span(2, 0, 100), span(3, 0, 100)}},
		{"one day, no overlap", []file{span(1, 0, 100), span(1, 100, 200)}},
		{"one day, overlap", []file{span(1, 0, 100), span(1, 50, 150), span(1, 200, 300)}},
		{"a chain: the middle one loses, the last is kept", []file{span(1, 0, 100), span(1, 90, 200), span(1, 190, 300)}},
		{"three on one record", []file{span(1, 0, 10), span(1, 9, 20), span(1, 5, 6)}},
		{"same day overlap, others elsewhere", []file{span(2, 0, 10), span(1, 0, 100), span(3, 5, 6), span(1, 99, 120)}},
		{"empty file", []file{span(1, 0, 0), span(1, 0, 10)}},
		{"random 1", random(1)}, {"random 2", random(2)}, {"random 3", random(3)}, {"random 4", random(4)},
	}
	for _, c := range cases {
		want := make([]bool, len(c.files))
		taken := map[recordKey]bool{}
		for i, f := range c.files {
			want[i] = !slices.ContainsFunc(f.keys, func(k recordKey) bool { return taken[k] })
			if want[i] {
				for _, k := range f.keys {
					taken[k] = true
				}
			}
		}
		for _, inMemory := range []int{1 << 20, 0, 150} {
			t.Run(fmt.Sprintf("%s/in memory %d", c.name, inMemory), func(t *testing.T) {
				smallBatchKeys(t, inMemory)
				spill := newKeySpill()
				defer spill.close()
				ps := make([]*prepared, len(c.files))
				for i, f := range c.files {
					r := &recordSet{kept: map[int64]*daySet{f.day: {}}}
					for _, k := range f.keys {
						r.kept[f.day].Add(k)
					}
					fk, err := spill.freeze(r)
					if err != nil {
						t.Fatal(err)
					}
					ps[i] = &prepared{recs: r, keys: fk}
				}
				got, err := claimBatch(ps)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("claimBatch = %v, want %v", got, want)
				}
			})
		}
	}
}
