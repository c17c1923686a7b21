package serving_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/telcolake/telcolake/models/serving"
)

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

// TestMergeFromEqualsMerge: the merge of pieces read from a store a
// window at a time (MergeFrom) is Merge's byte for byte, whatever the
// window (smaller than one record, a few records, the whole piece), reads
// each piece's detail in more ranged reads as the window shrinks, and
// refuses a piece whose detail is corrupt or shorter than it says.
func TestMergeFromEqualsMerge(t *testing.T) {
	ctx := context.Background()
	cs := sample(600)
	meta := &serving.Meta{Run: "run-4", Customers: len(cs)}
	fix := func(c *serving.Customer) error {
		c.ValueTier = serving.Tiers[len(c.SubscriberID)%len(serving.Tiers)]
		return nil
	}
	split := serving.Split(cs, 5)
	encode := func() []*serving.Files {
		var fs []*serving.Files
		for _, part := range split {
			fs = append(fs, mustEncode(t, part))
		}
		return append(fs, mustEncode(t, nil))
	}
	want, err := serving.Merge(meta, encode(), fix)
	if err != nil {
		t.Fatal(err)
	}
	st := serving.NewMemStore()
	var pieces []serving.Piece
	for k, f := range encode() {
		pc := serving.Piece{Columns: fmt.Sprintf("p%d/columns", k), Detail: fmt.Sprintf("p%d/detail", k),
			ColumnsBytes: int64(len(f.Columns)), DetailBytes: int64(len(f.Detail))}
		if err := st.Put(ctx, pc.Columns, f.Columns); err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx, pc.Detail, f.Detail); err != nil {
			t.Fatal(err)
		}
		pieces = append(pieces, pc)
	}
	lastReads := -1
	for _, window := range []int{serving.MergeWindow, 4000, 1} {
		t.Run(fmt.Sprintf("window=%d", window), func(t *testing.T) {
			defer serving.SetMergeWindow(window)()
			before := st.Reads()
			got, err := serving.MergeFrom(ctx, meta, st, pieces, fix)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Columns, want.Columns) || !bytes.Equal(got.Detail, want.Detail) || !bytes.Equal(got.Meta, want.Meta) {
				t.Errorf("MergeFrom's files differ from Merge's (columns %d/%d, detail %d/%d bytes)",
					len(got.Columns), len(want.Columns), len(got.Detail), len(want.Detail))
			}
			reads := st.Reads() - before
			if reads <= lastReads {
				t.Errorf("window %d: %d reads, want more than the larger window's %d", window, reads, lastReads)
			}
			lastReads = reads
		})
	}
	if lastReads < len(cs) {
		t.Errorf("a 1-byte window read %d times for %d records, want one read per record at least", lastReads, len(cs))
	}

	bad := bytes.Clone(st.Bytes(pieces[1].Detail))
	bad[len(bad)-10] ^= 1
	corrupt := slices.Clone(pieces)
	corrupt[1].Detail = "bad/detail"
	if err := st.Put(ctx, corrupt[1].Detail, bad); err != nil {
		t.Fatal(err)
	}
	if _, err := serving.MergeFrom(ctx, meta, st, corrupt, fix); !errors.Is(err, serving.ErrCorrupt) {
		t.Errorf("MergeFrom of a corrupt detail record: %v, want ErrCorrupt", err)
	}
	short := slices.Clone(pieces)
	short[2].DetailBytes += 100
	if _, err := serving.MergeFrom(ctx, meta, st, short, fix); err == nil {
		t.Error("MergeFrom accepted a detail.bin shorter than its piece says")
	}
}
