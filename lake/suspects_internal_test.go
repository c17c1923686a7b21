package lake

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
)

// smallSuspectLimit sets maxSuspects for one test.
func smallSuspectLimit(t *testing.T, n int) {
	t.Helper()
	old := maxSuspects
	maxSuspects = n
	t.Cleanup(func() { maxSuspects = old })
}

// Past maxSuspects the suspects go to the spill and are still verified by
// their exact keys: a collision among the later ones is found (the file is
// parsed again, nothing dropped), and true duplicates beyond the limit are
// confirmed without a new hash. Single files and files of a batch alike.
func TestSuspectsBeyondTheLimitAreVerified(t *testing.T) {
	ctx := context.Background()
	const header = "call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n"
	row := func(id string, day int) string {
		return fmt.Sprintf("%s,S00001,491700000001,4930123,offnet,2026-10-%02dT10:00:00Z,10,voice,out,false,false,C1,North,0,0.1\n", id, day)
	}
	// Under the weak hash ids of one day collide when they share their
	// first character and length.
	byPrefix := func(day int64, id string) uint64 { return uint64(day)<<32 ^ uint64(len(id))<<8 ^ uint64(id[0]) }
	// repeats: 12 distinct keys over three days, each twice: 12 suspects,
	// confirmed exactly.
	var repeats strings.Builder
	for i := range 12 {
		id := fmt.Sprintf("%c%d", 'A'+i, i%10)
		repeats.WriteString(row(id, 1+i%3))
		repeats.WriteString(row(id, 1+i%3))
	}
	cases := []struct {
		name       string
		earlier    string
		body       string
		limit      int
		wantOK     int64
		wantDup    int64
		wantRotate bool
	}{
		{"true duplicates past the limit: all confirmed", "", repeats.String(), 4, 12, 12, false},
		{"limit of one: a chunk per suspect", "", repeats.String(), 1, 12, 12, false},
		// Z1 after Z2: not after every id of its day, so looked up (an
		// id after them all is new without a look-up).
		{"a collision within the file after the limit: parsed again", "",
			repeats.String() + row("Z2", 5) + row("Z1", 5), 4, 14, 12, true},
		{"a collision in a chunk spilled: parsed again", "",
			row("Z2", 5) + row("Z1", 5) + repeats.String(), 4, 14, 12, true},
		{"a collision with the table after the limit: parsed again",
			row("Y1", 6) + row("W1", 7),
			repeats.String() + row("W1", 7) + row("Y2", 6), 4, 13, 13, true},
	}
	for _, tc := range cases {
		for _, batch := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/batch=%v", tc.name, batch), func(t *testing.T) {
				smallSuspectLimit(t, tc.limit)
				cfg, cat, store := newInternalLake(t)
				in := NewIngester(cfg, cat, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
				var before int64
				if tc.earlier != "" {
					res, err := in.Ingest(ctx, putObject(t, store, "exports/cdr/2026/10/earlier.csv", []byte(header+tc.earlier)))
					if err != nil || res.Status != StatusCommitted {
						t.Fatalf("earlier file: %+v, %v", res, err)
					}
					before = res.RowsOK
				}
				weak := weakHash(t, byPrefix)
				obj := putObject(t, store, "exports/cdr/2026/10/f.csv", []byte(header+tc.body))
				var res Result
				if batch {
					out := in.IngestBatch(ctx, []Object{obj})
					if out[0].Err != nil {
						t.Fatal(out[0].Err)
					}
					res = out[0].Result
				} else {
					var err error
					if res, err = in.Ingest(ctx, obj); err != nil {
						t.Fatal(err)
					}
				}
				if res.Status != StatusCommitted || res.RowsOK != tc.wantOK || res.RowsDuplicate != tc.wantDup {
					t.Errorf("Ingest = %s, %d rows, %d duplicates; want committed, %d rows, %d duplicates",
						res.Status, res.RowsOK, res.RowsDuplicate, tc.wantOK, tc.wantDup)
				}
				if rotated := currentKeyHash.Load() != weak; rotated != tc.wantRotate {
					t.Errorf("hash replaced = %v, want %v", rotated, tc.wantRotate)
				}
				if n := countRows(t, cat); n != before+tc.wantOK {
					t.Errorf("crm.cdr holds %d rows, want %d", n, before+tc.wantOK)
				}
			})
		}
	}
}

// The spill gives back every key of every chunk as written.
func TestSuspectSpillRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	sp, err := newSuspectSpill()
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	var want []map[exactKey]bool
	for c := range 5 {
		set := map[exactKey]bool{}
		for range rng.IntN(2000) {
			id := fmt.Sprintf("CDR-%08d", rng.IntN(1e6))
			if rng.IntN(10) == 0 {
				id = id[:rng.IntN(len(id)+1)] // shorter, and empty ids
			}
			set[exactKey{day: int64(rng.IntN(40)) - 20, id: id}] = true
		}
		if c == 2 {
			clear(set) // an empty chunk
		}
		if err := sp.write(set); err != nil {
			t.Fatal(err)
		}
		want = append(want, set)
	}
	for i, w := range want {
		got, err := sp.read(i)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(w) {
			t.Fatalf("chunk %d: %d keys, want %d", i, len(got), len(w))
		}
		for k := range w {
			if found, ok := got[k]; !ok || found {
				t.Fatalf("chunk %d: key %+v read back as %v, %v", i, k, found, ok)
			}
		}
	}
}
