package lake

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// A file's dictionary maps every value to one entry, the same one in every
// batch of the file, whether it is searched linearly (up to smallDict
// entries) or through its map (past them, and across the switch).
func TestColumnDictIndices(t *testing.T) {
	strs := func(n, distinct int, nullEvery int) []*string {
		v := make([]*string, n)
		for i := range v {
			if nullEvery > 0 && i%nullEvery == 0 {
				continue
			}
			s := fmt.Sprintf("v%03d", (i*7)%distinct)
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
		{"small", 3, smallDict - 1, 0, 100},
		{"exactly small", 2, smallDict, 5, 100},
		{"past small in the first batch", 3, smallDict + 1, 0, 100},
		{"grows across batches", 4, 500, 3, 300},
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
	for b, distinct := range []int{1, 5, smallDict, 40, 400} {
		v := make([]int64, 1000)
		for i := range v {
			v[i] = int64((i * 13) % distinct)
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
