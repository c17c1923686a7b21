package serving_test

import (
	"bytes"
	"errors"
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
