package lake

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// A file's dictionary maps every value to one entry, the same one in every
// batch of the file, before and after its index grows (past half of
// minDictSlots, and again), for values of every length the hash reads
// differently (empty, 1-3, 4-7, 8 and more bytes) and values that share
// their first and last bytes.
func TestColumnDictIndices(t *testing.T) {
	strs := func(n, distinct int, nullEvery int) []*string {
		v := make([]*string, n)
		for i := range v {
			if nullEvery > 0 && i%nullEvery == 0 {
				continue
			}
			k := (i * 7) % distinct
			var s string
			switch k % 4 {
			case 0:
				s = strings.Repeat("x", k%11) // "" included
			case 1:
				s = fmt.Sprintf("v%03d", k)
			case 2:
				s = fmt.Sprintf("CELL%04d", k) // 8 bytes: first and last the same word
			default:
				s = fmt.Sprintf("ab%sz%dyz", strings.Repeat("m", k%17), k) // shared start and end
			}
			v[i] = &s
		}
		return v
	}
	for _, tc := range []struct {
		name               string
		batches, distinct  int
		nullEvery, perRows int
	}{
		{"one value", 3, 1, 0, 100},
		{"small", 3, minDictSlots/2 - 1, 0, 100},
		{"exactly half", 2, minDictSlots / 2, 5, 100},
		{"grows in the first batch", 3, minDictSlots/2 + 1, 0, 100},
		{"grows across batches", 4, 500, 3, 300},
		{"grows many times", 2, 5000, 7, 6000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d columnDict
			entry := map[string]int32{}
			for b := range tc.batches {
				vals := strs(tc.perRows, min(tc.distinct, (b+1)*tc.distinct/tc.batches+1), tc.nullEvery)
				sb := array.NewStringBuilder(memory.DefaultAllocator)
				for _, v := range vals {
					if v == nil {
						sb.AppendNull()
					} else {
						sb.Append(*v)
					}
				}
				col := sb.NewStringArray()
				sb.Release()
				idx := d.indices(col).(*array.Int32)
				if idx.NullN() != col.NullN() {
					t.Fatalf("batch %d: %d nulls in the indices, %d in the column", b, idx.NullN(), col.NullN())
				}
				for i, v := range vals {
					if v == nil {
						if !idx.IsNull(i) {
							t.Fatalf("batch %d row %d: null became entry %d", b, i, idx.Value(i))
						}
						continue
					}
					j := idx.Value(i)
					if int(j) >= len(d.svals) || d.svals[j] != *v {
						t.Fatalf("batch %d row %d: %q got entry %d of %d", b, i, *v, j, len(d.svals))
					}
					if e, ok := entry[*v]; ok && e != j {
						t.Fatalf("batch %d row %d: %q is entry %d, was %d", b, i, *v, j, e)
					}
					entry[*v] = j
				}
				col.Release()
				idx.Release()
			}
			if len(d.svals) != len(entry) {
				t.Errorf("%d entries for %d distinct values", len(d.svals), len(entry))
			}
		})
	}
}

func TestColumnDictIntIndices(t *testing.T) {
	var d columnDict
	entry := map[int64]int32{}
	for b, distinct := range []int{1, 5, minDictSlots / 2, 40, 400, 3000} {
		v := make([]int64, 4000)
		for i := range v {
			v[i] = int64((i * 13) % distinct)
			switch v[i] % 5 {
			case 1:
				v[i] = -v[i]
			case 2:
				v[i] <<= 40 // low bits equal
			case 3:
				v[i] = math.MinInt64 + v[i]
			}
			if b%2 == 1 && i%10 < 7 {
				v[i] = 86400 // runs of one value
			}
		}
		col := fixedArray(arrow.FixedWidthTypes.Timestamp_us, len(v), arrow.Int64Traits.CastToBytes(v))
		idx := d.indices(col).(*array.Int32)
		for i, x := range v {
			j := idx.Value(i)
			if int(j) >= len(d.ivals) || d.ivals[j] != x {
				t.Fatalf("batch %d row %d: %d got entry %d of %d", b, i, x, j, len(d.ivals))
			}
			if e, ok := entry[x]; ok && e != j {
				t.Fatalf("batch %d row %d: %d is entry %d, was %d", b, i, x, j, e)
			}
			entry[x] = j
		}
		col.Release()
		idx.Release()
	}
	if len(d.ivals) != len(entry) {
		t.Errorf("%d entries for %d distinct values", len(d.ivals), len(entry))
	}
}

// The index spreads values that share their first and last eight bytes
// (hashes with one prefix and suffix, padded ids): each is found within a
// few probes of its hash's slot. Hashed from their ends alone, 4,000 such
// values fell into one run of 4,000 slots.
func TestDictIndexSpreads(t *testing.T) {
	for _, tc := range []struct {
		name string
		val  func(i int) string
	}{
		{"long, shared ends", func(i int) string { return fmt.Sprintf("SUBSCRIB-%07d-ENDOFIDS", i) }},
		{"long hex, shared ends", func(i int) string { return fmt.Sprintf("0000000000%032x0000000000", i*2654435761) }},
		{"sixteen bytes", func(i int) string { return fmt.Sprintf("CELL%012d", i) }},
		{"short", func(i int) string { return fmt.Sprintf("c%d", i) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 4000
			var d columnDict
			for i := range n {
				if j := d.str(tc.val(i)); int(j) != i {
					t.Fatalf("value %d got entry %d", i, j)
				}
			}
			slots := d.index.slots
			mask := uint64(len(slots) - 1)
			total, worst := 0, 0
			for i := range n {
				home := strHash(tc.val(i)) >> d.index.shift
				probes := 1
				for k := home; slots[k] != int32(i)+1; k = (k + 1) & mask {
					probes++
				}
				total += probes
				worst = max(worst, probes)
			}
			// Linear probing at most half full: about 1.5 probes on average.
			if mean := float64(total) / n; mean > 4 || worst > 80 {
				t.Errorf("%d values: %.1f probes a value on average, %d at worst", n, mean, worst)
			}
		})
	}
}
