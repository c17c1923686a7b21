package lake

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/bits"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
)

// The partWriter hands pqarrow the dictionary-encoded columns as Arrow
// dictionary arrays, one dictionary per column and file, built here
// with a Go map: pqarrow then writes their indices as they are. Given plain
// string columns, arrow-go's encoder looks each value up in its own memo
// table, boxing it into an interface on the way (3.7 s of 42.5 s, 9%, in
// the 9.5M-row ingest's profile, and 1.4 s more for its int32 table).
//
// dictColumns are the columns of sc that the writer properties dictionary
// encode and that this encoding covers (strings and 32/64-bit integer
// kinds); their type in the file schema becomes dictionary<int32, type>.
func dictColumns(sc *arrow.Schema, wp *parquet.WriterProperties) (cols []int, fileSchema *arrow.Schema) {
	fields := sc.Fields()
	for i, f := range fields {
		if !wp.DictionaryEnabledFor(f.Name) || dictKind(f.Type) == 0 {
			continue
		}
		cols = append(cols, i)
		fields[i].Type = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: f.Type}
	}
	md := sc.Metadata()
	return cols, arrow.NewSchema(fields, &md)
}

// dictKind is 's' for string columns, 'i' for integer kinds stored as
// 32 bits, 'l' for those stored as 64 bits, 0 for the rest.
func dictKind(t arrow.DataType) byte {
	switch t.ID() {
	case arrow.STRING:
		return 's'
	case arrow.INT32, arrow.DATE32:
		return 'i'
	case arrow.INT64, arrow.TIMESTAMP:
		return 'l'
	}
	return 0
}

// columnDict is the dictionary of one column of a file.
type columnDict struct {
	svals []string
	ivals []int64
	// index finds the entry of a value (of svals or ivals).
	index dictIndex
	// used lists the entries the last batch's values refer to; seen[j]
	// tells whether entry j is in used.
	used []int32
	seen []bool
}

func (d *columnDict) len() int { return len(d.svals) + len(d.ivals) }

// indices maps the values of col (of the column's plain type) to their
// dictionary entries, adding new ones, and notes the entries it refers to
// in used (one pass over the values, not a second over the indices);
// nulls keep col's validity.
func (d *columnDict) indices(col arrow.Array) arrow.Array {
	n := col.Len()
	idx := make([]int32, n)
	for _, j := range d.used {
		d.seen[j] = false
	}
	d.used = d.used[:0]
	switch a := col.(type) {
	case *array.String:
		nulls := a.NullN() > 0
		// A long value is hashed whole (see strHash): a run of one is
		// looked up once. Short ones are cheaper to look up than to compare.
		last, lastIdx := "", int32(-1)
		for i := range n {
			if nulls && a.IsNull(i) {
				continue
			}
			s := a.Value(i)
			if len(s) <= shortStr {
				j := d.str(s)
				if !d.seen[j] {
					d.seen[j] = true
					d.used = append(d.used, j)
				}
				idx[i] = j
				continue
			}
			if lastIdx < 0 || s != last {
				last, lastIdx = s, d.str(s)
				if !d.seen[lastIdx] {
					d.seen[lastIdx] = true
					d.used = append(d.used, lastIdx)
				}
			}
			idx[i] = lastIdx
		}
	default:
		value := intValues(col)
		nulls := col.NullN() > 0
		last, lastIdx := int64(0), int32(-1)
		for i := range n {
			if nulls && col.IsNull(i) {
				continue
			}
			v := value(i)
			if lastIdx < 0 || v != last {
				last, lastIdx = v, d.int(v)
				if !d.seen[lastIdx] {
					d.seen[lastIdx] = true
					d.used = append(d.used, lastIdx)
				}
			}
			idx[i] = lastIdx
		}
	}
	var validity *memory.Buffer
	if nulls := col.NullN(); nulls > 0 {
		bits := make([]byte, bitutil.BytesForBits(int64(n)))
		bitutil.CopyBitmap(col.NullBitmapBytes(), col.Data().Offset(), n, bits, 0)
		validity = memory.NewBufferBytes(bits)
	}
	data := array.NewData(arrow.PrimitiveTypes.Int32, n,
		[]*memory.Buffer{validity, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(idx))}, nil, col.NullN(), 0)
	defer data.Release()
	return array.MakeFromData(data)
}

// usedValues are the values of the entries the last batch referred to,
// as an array of the physical type of a column of type t (see values).
func (d *columnDict) usedValues(t arrow.DataType) arrow.Array {
	switch dictKind(t) {
	case 's':
		b := array.NewStringBuilder(memory.DefaultAllocator)
		defer b.Release()
		for _, j := range d.used {
			b.Append(d.svals[j])
		}
		return b.NewArray()
	case 'i':
		v := make([]int32, len(d.used))
		for i, j := range d.used {
			v[i] = int32(d.ivals[j])
		}
		return fixedArray(arrow.PrimitiveTypes.Int32, len(v), arrow.Int32Traits.CastToBytes(v))
	default:
		v := make([]int64, len(d.used))
		for i, j := range d.used {
			v[i] = d.ivals[j]
		}
		return fixedArray(arrow.PrimitiveTypes.Int64, len(v), arrow.Int64Traits.CastToBytes(v))
	}
}

// str is the entry of s, added when new; the dictionary keeps a copy
// (s is in the batch's buffer, which is released).
func (d *columnDict) str(s string) int32 {
	t := &d.index
	if t.slots == nil {
		t.init(minDictSlots)
	}
	h := strHash(s)
	mask := uint64(len(t.slots) - 1)
	for i := h >> t.shift; ; i = (i + 1) & mask {
		j := t.slots[i]
		if j == 0 {
			break
		}
		if v := d.svals[j-1]; v == s {
			return j - 1
		}
	}
	d.svals = append(d.svals, strings.Clone(s))
	d.seen = append(d.seen, false)
	return t.add(h, len(d.svals), func(j int) uint64 { return strHash(d.svals[j]) })
}

// int is the entry of v, added when new.
func (d *columnDict) int(v int64) int32 {
	t := &d.index
	if t.slots == nil {
		t.init(minDictSlots)
	}
	h := intHash(v)
	mask := uint64(len(t.slots) - 1)
	for i := h >> t.shift; ; i = (i + 1) & mask {
		j := t.slots[i]
		if j == 0 {
			break
		}
		if d.ivals[j-1] == v {
			return j - 1
		}
	}
	d.ivals = append(d.ivals, v)
	d.seen = append(d.seen, false)
	return t.add(h, len(d.ivals), func(j int) uint64 { return intHash(d.ivals[j]) })
}

// dictIndex is a columnDict's look-up index: an open-addressing table of
// entry numbers + 1 (0: an empty slot), probed linearly from the top bits
// of a value's hash, at most half full. It replaced a linear search of
// the first 16 entries and a Go map past them: a dictionary column's
// values were 8.5 to 21 ns a row to look up (call_type's three values
// 12, region's nine 21, cell_id's 577 through the map 17), 8.5 to 13
// through this index; the 9.5M-row file's dictionary look-ups 1.1 -> 0.8 s.
type dictIndex struct {
	slots []int32
	shift uint // 64 - log2(len(slots))
}

// minDictSlots is a new index's size: most dictionary columns hold a
// handful of values.
const minDictSlots = 64

func (t *dictIndex) init(n int) {
	t.slots = make([]int32, n)
	t.shift = uint(64 - bits.TrailingZeros(uint(n)))
}

// add indexes entry n-1, of hash h (the dictionary now has n entries),
// doubling the table past half full (re-hashing entry j as hash(j)), and
// returns the entry.
func (t *dictIndex) add(h uint64, n int, hash func(j int) uint64) int32 {
	if 2*n > len(t.slots) {
		t.init(2 * len(t.slots))
		for j := range n {
			t.put(hash(j), int32(j))
		}
		return int32(n - 1)
	}
	t.put(h, int32(n-1))
	return int32(n - 1)
}

func (t *dictIndex) put(h uint64, j int32) {
	mask := uint64(len(t.slots) - 1)
	i := h >> t.shift
	for t.slots[i] != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = j + 1
}

// hashMul is 2⁶⁴ over the golden ratio: multiplied by it, a word's high
// bits depend on all of its bits (Fibonacci hashing).
const hashMul = 0x9E3779B97F4A7C15

// shortStr is the longest value strHash reads every byte of from its
// first and last eight.
const shortStr = 16

// longSeed seeds the hash of values longer than shortStr.
var longSeed = maphash.MakeSeed()

// strHash hashes s: up to shortStr bytes from its length and its first and
// last eight bytes (at most), which then cover all of it; a dictionary
// value is mostly that short (a cell id, an enum's letters). A longer one
// is hashed whole with maphash: from its ends only, values that share
// them (hashes of one prefix and suffix, ids padded the same) had one
// hash and probed in one run, quadratic in their number.
func strHash(s string) uint64 {
	var w uint64
	n := len(s)
	p := unsafe.Pointer(unsafe.StringData(s))
	switch {
	case n > shortStr:
		return maphash.String(longSeed, s)
	case n >= 8:
		a := binary.LittleEndian.Uint64(unsafe.Slice((*byte)(p), 8))
		b := binary.LittleEndian.Uint64(unsafe.Slice((*byte)(unsafe.Add(p, n-8)), 8))
		w = a ^ bits.RotateLeft64(b, 29)
	case n >= 4:
		a := binary.LittleEndian.Uint32(unsafe.Slice((*byte)(p), 4))
		b := binary.LittleEndian.Uint32(unsafe.Slice((*byte)(unsafe.Add(p, n-4)), 4))
		w = uint64(a) | uint64(b)<<32
	case n > 0:
		w = uint64(s[0]) | uint64(s[n>>1])<<8 | uint64(s[n-1])<<16
	}
	return (w ^ uint64(n)<<56) * hashMul
}

func intHash(v int64) uint64 { return uint64(v) * hashMul }

// intValues reads an integer-kind column as int64.
func intValues(col arrow.Array) func(int) int64 {
	switch a := col.(type) {
	case *array.Int32:
		return func(i int) int64 { return int64(a.Value(i)) }
	case *array.Date32:
		return func(i int) int64 { return int64(a.Value(i)) }
	case *array.Int64:
		return a.Value
	case *array.Timestamp:
		return func(i int) int64 { return int64(a.Value(i)) }
	}
	panic(fmt.Sprintf("lake: no dictionary for %s", col.DataType()))
}

// values is the dictionary as an array of the physical type of a column
// of type t: strings, or the integers Parquet stores (int32 for dates and
// 32-bit kinds, int64 for timestamps and 64-bit kinds), as the Parquet
// writer's dictionary encoders take them.
func (d *columnDict) values(t arrow.DataType) arrow.Array {
	switch dictKind(t) {
	case 's':
		b := array.NewStringBuilder(memory.DefaultAllocator)
		defer b.Release()
		b.AppendValues(d.svals, nil)
		return b.NewArray()
	case 'i':
		v := make([]int32, len(d.ivals))
		for i, x := range d.ivals {
			v[i] = int32(x)
		}
		return fixedArray(arrow.PrimitiveTypes.Int32, len(v), arrow.Int32Traits.CastToBytes(v))
	default:
		return fixedArray(arrow.PrimitiveTypes.Int64, len(d.ivals), arrow.Int64Traits.CastToBytes(d.ivals))
	}
}

func fixedArray(t arrow.DataType, n int, b []byte) arrow.Array {
	data := array.NewData(t, n, []*memory.Buffer{nil, memory.NewBufferBytes(b)}, nil, 0, 0)
	defer data.Release()
	return array.MakeFromData(data)
}
