package serving

import (
	"fmt"
	"math"
	"testing"
)

// TestDetailEndsWidth: detail.bin's record ends are uint32 while it is
// under 4 GiB and uint64 past that, and both read back the same ends.
func TestDetailEndsWidth(t *testing.T) {
	for _, tt := range []struct {
		name  string
		first uint64 // the first record's end; the others follow 100 bytes apart
		kind  string
	}{
		{"small", detailHeader + 100, kindU32},
		{"at 4 GiB", math.MaxUint32 - 200, kindU32},
		{"past 4 GiB", math.MaxUint32 - 50, kindU64},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cs := make([]Customer, 3)
			ends := make([]uint64, len(cs))
			for i := range cs {
				cs[i].SubscriberID = fmt.Sprintf("S%d", i)
				ends[i] = tt.first + uint64(100*i)
			}
			b, err := encodeColumns(cs, ends)
			if err != nil {
				t.Fatal(err)
			}
			buf := alignedBuffer(int64(len(b)))
			copy(buf, b)
			c, err := openColumns(buf, int64(ends[len(ends)-1]))
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range c.layout {
				if l.Name == detailEnds && (l.Kind != tt.kind || l.Bytes != int64(len(cs))*map[string]int64{kindU32: 4, kindU64: 8}[tt.kind]) {
					t.Errorf("detail ends stored as %s in %d bytes, want %s", l.Kind, l.Bytes, tt.kind)
				}
			}
			for r, want := range ends {
				if got := c.detEnd(r); got != want {
					t.Errorf("detEnd(%d) = %d, want %d", r, got, want)
				}
			}
		})
	}
}
