package lake

import (
	"fmt"
	"strings"

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
	strs  map[string]int32
	ints  map[int64]int32
	svals []string
	ivals []int64
	// used lists the entries the last batch's values refer to; seen[j]
	// tells whether entry j is in used.
	used []int32
	seen []bool
}

func (d *columnDict) len() int { return len(d.svals) + len(d.ivals) }

// smallDict is the most entries a dictionary is searched linearly before
// its map: most dictionary columns hold a handful of values (call_type,
// direction, other_network, region, source_file), whose map look-ups were
// 1.1 s of the 9.5M-row ingest's 26.5 s CPU. A parsed enum value is one of
// the format's constant strings, so the comparison is mostly a length
// and a pointer.
const smallDict = 16

// indices maps the values of col (of the column's plain type) to their
// dictionary entries, adding new ones; nulls keep col's validity.
func (d *columnDict) indices(col arrow.Array) arrow.Array {
	n := col.Len()
	idx := make([]int32, n)
	for _, j := range d.used {
		d.seen[j] = false
	}
	d.used = d.used[:0]
	defer d.markUsed(idx, col)
	switch a := col.(type) {
	case *array.String:
		nulls := a.NullN() > 0
		for i := range n {
			if nulls && a.IsNull(i) {
				continue
			}
			idx[i] = d.str(a.Value(i))
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

// markUsed notes the entries idx refers to (nulls of col aside).
func (d *columnDict) markUsed(idx []int32, col arrow.Array) {
	if n := d.len(); len(d.seen) < n {
		d.seen = append(d.seen, make([]bool, n-len(d.seen))...)
	}
	nulls := col.NullN() > 0
	for i, j := range idx {
		if (nulls && col.IsNull(i)) || d.seen[j] {
			continue
		}
		d.seen[j] = true
		d.used = append(d.used, j)
	}
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
func (d *columnDict) str(s string) int32 { return entry(&d.strs, &d.svals, s, strings.Clone) }

// int is the entry of v, added when new.
func (d *columnDict) int(v int64) int32 {
	return entry(&d.ints, &d.ivals, v, func(v int64) int64 { return v })
}

// entry is the entry of v in the dictionary of values vals and look-up
// index m, added (as keep(v)) when new. Up to smallDict values are found
// by a linear search, and m is built past them.
func entry[K comparable](m *map[K]int32, vals *[]K, v K, keep func(K) K) int32 {
	if *m == nil {
		for j, x := range *vals {
			if x == v {
				return int32(j)
			}
		}
		if len(*vals) < smallDict {
			*vals = append(*vals, keep(v))
			return int32(len(*vals) - 1)
		}
		*m = make(map[K]int32, 2*smallDict)
		for j, x := range *vals {
			(*m)[x] = int32(j)
		}
	}
	j, ok := (*m)[v]
	if !ok {
		j = int32(len(*vals))
		v = keep(v)
		(*m)[v] = j
		*vals = append(*vals, v)
	}
	return j
}

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
