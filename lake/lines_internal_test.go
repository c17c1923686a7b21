package lake

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// split's fast path for lines without quotes cuts them as the quoted
// path does: same fields, same "more" at every limit, empty fields at
// either end included.
func TestSplitUnquotedMatchesQuoted(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte("ab,,x1 ")
	var fast, slow fieldSplitter
	for n := range 20_000 {
		line := make([]byte, rng.IntN(24))
		for i := range line {
			line[i] = alphabet[rng.IntN(len(alphabet))]
		}
		limit := 1 + rng.IntN(8)
		f, fm, fr := fast.split(line, limit)
		sl, sm, sr := slow.splitQuoted(line, limit)
		if fm != sm || fr != sr || !slices.Equal(f, sl) {
			t.Fatalf("line %d: split(%q, %d) = %q, %v, %q; splitQuoted = %q, %v, %q", n, line, limit, f, fm, fr, sl, sm, sr)
		}
	}
}
