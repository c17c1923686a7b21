package serving_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/telcolake/telcolake/models/serving"
)

// TestAssembledEqualsEncode: a snapshot assembled from pieces (each
// piece's detail encoded alone, the columns from stripped rows) is byte
// for byte Encode's for the same customers, however they are split.
func TestAssembledEqualsEncode(t *testing.T) {
	cs := sample(700)
	meta := &serving.Meta{Run: "run-1", Customers: len(cs)}
	want, err := serving.Encode(meta, cs)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 3, 8} {
		// Pieces by ShardOf: each keeps id order, rows interleave.
		var rowsOf [][]int
		var pieces []*serving.DetailPiece
		for k, part := range serving.Split(cs, n) {
			p, err := serving.EncodeDetail(part)
			if err != nil {
				t.Fatal(err)
			}
			pieces = append(pieces, p)
			var rows []int
			for i := range cs {
				if serving.ShardOf(cs[i].SubscriberID, n) == k {
					rows = append(rows, i)
				}
			}
			rowsOf = append(rowsOf, rows)
		}
		lens := make([]uint32, len(cs))
		for k, rows := range rowsOf {
			for j, r := range rows {
				lens[r] = pieces[k].Lens[j]
			}
		}
		asm := serving.NewDetailAssembly(lens)
		for k := range pieces {
			if err := asm.Place(pieces[k], rowsOf[k]); err != nil {
				t.Fatal(err)
			}
		}
		stripped := make([]serving.Customer, len(cs))
		copy(stripped, cs)
		for i := range stripped {
			serving.StripDetail(&stripped[i])
		}
		got, err := serving.EncodeAssembled(meta, stripped, asm)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct {
			name      string
			got, want []byte
		}{{"columns", got.Columns, want.Columns}, {"detail", got.Detail, want.Detail}, {"meta", got.Meta, want.Meta}} {
			if !bytes.Equal(f.got, f.want) {
				t.Errorf("%d pieces: %s.bin differs from Encode's (%d bytes, want %d)", n, f.name, len(f.got), len(f.want))
			}
		}
	}
}

// TestDetailAssemblyRefusesMismatch: a piece placed on rows laid out for
// other lengths, or on too few rows, is an error, not a corrupt file.
func TestDetailAssemblyRefusesMismatch(t *testing.T) {
	cs := sample(4)
	p, err := serving.EncodeDetail(cs)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		lens []uint32
		rows []int
	}{
		{"too few rows", p.Lens, []int{0, 1, 2}},
		{"other lengths", []uint32{p.Lens[1], p.Lens[0] + 1, p.Lens[2], p.Lens[3]}, []int{0, 1, 2, 3}},
		{"row out of range", p.Lens, []int{0, 1, 2, 4}},
	} {
		a := serving.NewDetailAssembly(tc.lens)
		if err := a.Place(p, tc.rows); err == nil {
			t.Errorf("%s: Place accepted it", tc.name)
		} else if tc.name != "too few rows" && !errors.Is(err, serving.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", tc.name, err)
		}
	}
}

// TestAssembledShardsEqualSharded: a run assembled from pieces and split
// into n shards is, shard by shard, byte for byte what WriteSharded
// encodes from the full rows (Split, then Encode each part).
func TestAssembledShardsEqualSharded(t *testing.T) {
	cs := sample(500)
	meta := &serving.Meta{Run: "run-2", Customers: len(cs)}
	p, err := serving.EncodeDetail(cs)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]int, len(cs))
	for i := range rows {
		rows[i] = i
	}
	stripped := make([]serving.Customer, len(cs))
	copy(stripped, cs)
	for i := range stripped {
		serving.StripDetail(&stripped[i])
	}
	for _, n := range []int{1, 2, 5} {
		asm := serving.NewDetailAssembly(p.Lens)
		if err := asm.Place(p, rows); err != nil {
			t.Fatal(err)
		}
		got, err := serving.EncodeAssembledShards(meta, stripped, asm, n)
		if err != nil {
			t.Fatal(err)
		}
		parts := [][]serving.Customer{cs}
		if n > 1 {
			parts = serving.Split(cs, n)
		}
		if len(got) != len(parts) {
			t.Fatalf("%d shards: got %d files, want %d", n, len(got), len(parts))
		}
		total := 0
		for k, part := range parts {
			total += len(part)
			want, err := serving.Encode(meta, part)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []struct {
				name      string
				got, want []byte
			}{{"columns", got[k].Columns, want.Columns}, {"detail", got[k].Detail, want.Detail}, {"meta", got[k].Meta, want.Meta}} {
				if !bytes.Equal(f.got, f.want) {
					t.Errorf("%d shards, shard %d: %s differs from WriteSharded's (%d bytes, want %d)", n, k, f.name, len(f.got), len(f.want))
				}
			}
		}
		if total != len(cs) {
			t.Fatalf("%d shards hold %d customers, want %d", n, total, len(cs))
		}
	}
	if _, err := serving.EncodeAssembledShards(meta, stripped, serving.NewDetailAssembly(p.Lens), 0); err == nil {
		t.Error("0 shards accepted")
	}
}

// TestMergeEqualsEncode: a run merged from pieces (each Encode of some of
// its customers, split any way), with fix applied to every row, is byte for
// byte Encode's for the fixed rows; fix sees the rows in id order; an id in
// two pieces is refused.
func TestMergeEqualsEncode(t *testing.T) {
	cs := sample(600)
	meta := &serving.Meta{Run: "run-3", Customers: len(cs)}
	fix := func(c *serving.Customer) {
		c.ValueTier = serving.Tiers[len(c.SubscriberID)%len(serving.Tiers)]
		if c.SubscriberID[len(c.SubscriberID)-1] == '7' {
			c.ValueTier = serving.TierTop1
		}
	}
	fixed := make([]serving.Customer, len(cs))
	copy(fixed, cs)
	for i := range fixed {
		fix(&fixed[i])
	}
	want, err := serving.Encode(meta, fixed)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 7} {
		var pieces []*serving.Files
		for _, part := range serving.Split(cs, n) {
			f, err := serving.Encode(&serving.Meta{Run: "piece"}, part)
			if err != nil {
				t.Fatal(err)
			}
			pieces = append(pieces, f)
		}
		pieces = append(pieces, mustEncode(t, nil)) // an empty piece
		var seen []string
		got, err := serving.Merge(meta, pieces, func(c *serving.Customer) error {
			seen = append(seen, c.SubscriberID)
			fix(c)
			return nil
		})
		if err != nil {
			t.Fatalf("%d pieces: %v", n, err)
		}
		for _, f := range []struct {
			name      string
			got, want []byte
		}{{"columns", got.Columns, want.Columns}, {"detail", got.Detail, want.Detail}, {"meta", got.Meta, want.Meta}} {
			if !bytes.Equal(f.got, f.want) {
				t.Errorf("%d pieces: %s differs from Encode's (%d bytes, want %d)", n, f.name, len(f.got), len(f.want))
			}
		}
		if len(seen) != len(cs) || seen[0] != cs[0].SubscriberID || seen[len(seen)-1] != cs[len(cs)-1].SubscriberID {
			t.Errorf("%d pieces: fix saw %d rows, want %d in id order", n, len(seen), len(cs))
		}
	}
	twice := []*serving.Files{mustEncode(t, cs[:10]), mustEncode(t, cs[5:12])}
	if _, err := serving.Merge(meta, twice, nil); err == nil {
		t.Error("Merge accepted a customer in two pieces")
	}
	bad := mustEncode(t, cs[:3])
	bad.Columns = bytes.Clone(bad.Columns)
	bad.Columns[len(bad.Columns)/2] ^= 1
	if _, err := serving.Merge(meta, []*serving.Files{bad}, nil); !errors.Is(err, serving.ErrCorrupt) {
		t.Errorf("Merge of a corrupt piece: %v, want ErrCorrupt", err)
	}
}

func mustEncode(t *testing.T, cs []serving.Customer) *serving.Files {
	t.Helper()
	f, err := serving.Encode(&serving.Meta{Run: "piece"}, cs)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
