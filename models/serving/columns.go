package serving

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"strconv"
	"unsafe"
)

// columns.bin holds, for every customer in subscriber id order, what the
// filters, counts and sorts read, as fixed-width little-endian arrays that
// the reader uses in place (no per-row decoding): 2 bytes per category, 4
// per number (int32 counts, fixed point and cents):
//
//	[0:8)    magic "TLCOLS01"
//	[8:12)   directory length D (uint32)
//	[12:12+D) directory (JSON): rows, and per column name, kind, offset,
//	         length and (Dict) the dictionary
//	…        column arrays, each starting at a multiple of 8
//	[-8:-4)  CRC-32C of every byte before it
//	[-4:)    magic "TLCE"
//
// Besides the contract's Columns it holds the subscriber ids (uint32 end
// offsets into one byte array) and the detail index (the end offset of
// each customer's record in detail.bin: uint32 while detail.bin is under
// 4 GiB, uint64 past that).

const (
	colsMagic    = "TLCOLS01"
	colsEndMagic = "TLCE"
	colsFooter   = 8
	idsEnds      = "subscriber_id.ends"  // uint32, one per row
	idsBytes     = "subscriber_id.bytes" // the ids concatenated
	detailEnds   = "detail.ends"         // uint32 or uint64, one per row
	kindU32      = "uint32"
	kindU64      = "uint64"
	kindBytes    = "bytes"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// directory is columns.bin's table of contents.
type directory struct {
	Rows    int        `json:"rows"`
	Columns []dirEntry `json:"columns"`
}

type dirEntry struct {
	Name   string   `json:"name"`
	Kind   string   `json:"kind"`
	Offset int64    `json:"offset"`
	Length int64    `json:"length"`
	Dict   []string `json:"dict,omitempty"`
}

// encodeColumns builds columns.bin for customers (sorted by id, checked by
// the caller) and the detail record ends.
func encodeColumns(customers []Customer, ends []uint64) ([]byte, error) {
	b := newColumnsBuilder(len(customers))
	for r := range customers {
		if err := b.add(&customers[r], ends[r]); err != nil {
			return nil, err
		}
	}
	return b.finish()
}

// colPart is one section of columns.bin being built.
type colPart struct {
	e    dirEntry
	data []byte
}

// columnsBuilder builds columns.bin one row at a time, in row order, for a
// number of rows fixed up front: encodeColumns over a slice, and a merge
// of pieces (Merge) that never holds every row.
type columnsBuilder struct {
	n, r   int
	parts  []colPart           // per Columns entry
	codes  []map[string]uint16 // per Columns entry (Dict)
	idEnd  []byte
	idData []byte
	ends   []uint64
}

func newColumnsBuilder(n int) *columnsBuilder {
	b := &columnsBuilder{n: n, idEnd: make([]byte, 4*n), ends: make([]uint64, n)}
	for _, col := range Columns {
		b.parts = append(b.parts, colPart{e: dirEntry{Name: col.Name, Kind: col.Kind.String()}, data: make([]byte, n*col.Kind.width())})
		var m map[string]uint16
		if col.Kind == Dict {
			m = map[string]uint16{}
		}
		b.codes = append(b.codes, m)
	}
	return b
}

// add encodes the next row: c, whose detail record ends at detailEnd.
func (b *columnsBuilder) add(c *Customer, detailEnd uint64) error {
	if b.r >= b.n {
		return fmt.Errorf("columns laid out for %d rows, row %d added", b.n, b.r)
	}
	r := b.r
	for j, col := range Columns {
		p := &b.parts[j]
		switch col.Kind {
		case Dict:
			v := col.text(c)
			code, ok := b.codes[j][v]
			if !ok {
				if len(b.codes[j]) > math.MaxUint16 {
					return fmt.Errorf("column %s has more than %d distinct values", col.Name, math.MaxUint16+1)
				}
				code = uint16(len(b.codes[j]))
				b.codes[j][v] = code
				p.e.Dict = append(p.e.Dict, v)
			}
			binary.LittleEndian.PutUint16(p.data[2*r:], code)
		case Int32:
			binary.LittleEndian.PutUint32(p.data[4*r:], uint32(col.int(c)))
		case Fixed, Cents:
			v := col.num(c)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("customer %s: %s is %v", c.SubscriberID, col.Name, v)
			}
			u, ok := col.units(v)
			if !ok {
				return fmt.Errorf("customer %s: %s %v is out of the range a snapshot holds (±%v)",
					c.SubscriberID, col.Name, v, col.fromUnits(math.MaxInt32))
			}
			binary.LittleEndian.PutUint32(p.data[4*r:], uint32(u))
		}
	}
	b.idData = append(b.idData, c.SubscriberID...)
	if len(b.idData) > math.MaxUint32 {
		return errors.New("subscriber ids longer than 4 GiB in total")
	}
	binary.LittleEndian.PutUint32(b.idEnd[4*r:], uint32(len(b.idData)))
	b.ends[r] = detailEnd
	b.r++
	return nil
}

// finish lays out the file once every row is added.
func (b *columnsBuilder) finish() ([]byte, error) {
	if b.r != b.n {
		return nil, fmt.Errorf("columns laid out for %d rows, %d added", b.n, b.r)
	}
	n := b.n
	parts := b.parts
	for j := range parts {
		if Columns[j].Kind == Dict && parts[j].e.Dict == nil {
			parts[j].e.Dict = []string{}
		}
	}
	idEnd, idData, ends := b.idEnd, b.idData, b.ends
	detKind, detEnd := kindU32, make([]byte, 4*n)
	if n > 0 && ends[n-1] > math.MaxUint32 {
		detKind, detEnd = kindU64, make([]byte, 8*n)
	}
	for r, e := range ends {
		if detKind == kindU32 {
			binary.LittleEndian.PutUint32(detEnd[4*r:], uint32(e))
		} else {
			binary.LittleEndian.PutUint64(detEnd[8*r:], e)
		}
	}
	parts = append(parts,
		colPart{e: dirEntry{Name: idsEnds, Kind: kindU32}, data: idEnd},
		colPart{e: dirEntry{Name: detailEnds, Kind: detKind}, data: detEnd},
		colPart{e: dirEntry{Name: idsBytes, Kind: kindBytes}, data: idData})

	// The directory's length fixes the data's offsets, which are in the
	// directory: lay out with a guess of its size, grow until it fits.
	dir := directory{Rows: n}
	for room := 4096; ; room *= 2 {
		off := align8(int64(12 + room))
		dir.Columns = dir.Columns[:0]
		for _, p := range parts {
			p.e.Offset, p.e.Length = off, int64(len(p.data))
			dir.Columns = append(dir.Columns, p.e)
			off = align8(off + int64(len(p.data)))
		}
		db, err := json.Marshal(dir)
		if err != nil {
			return nil, fmt.Errorf("encode directory: %w", err)
		}
		if len(db) > room {
			continue
		}
		out := make([]byte, off+colsFooter)
		copy(out, colsMagic)
		binary.LittleEndian.PutUint32(out[8:], uint32(len(db)))
		copy(out[12:], db)
		for i, p := range parts {
			copy(out[dir.Columns[i].Offset:], p.data)
		}
		binary.LittleEndian.PutUint32(out[off:], crc32.Checksum(out[:off], castagnoli))
		copy(out[off+4:], colsEndMagic)
		return out, nil
	}
}

func align8(v int64) int64 { return (v + 7) &^ 7 }

// alignedBuffer returns n bytes whose start is 8-byte aligned (backed by
// []uint64), so that typed views of columns at multiples of 8 are aligned.
func alignedBuffer(n int64) []byte {
	if n == 0 {
		return []byte{}
	}
	w := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n)
}

// littleEndian reports whether this machine stores integers little-endian
// (amd64 and arm64 do), so the file's arrays can be used in place.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// DictColumn is a Dict column in memory: codes per row into Values, and
// the number of rows per code.
type DictColumn struct {
	Codes  []uint16
	Values []string
	Counts []int
}

// columns is a validated columns.bin, its arrays viewed in place.
type columns struct {
	n      int
	buf    []byte // keeps the arrays alive
	dicts  map[string]*DictColumn
	ints   map[string][]int32
	fixed  map[string][]int32
	cents  map[string][]int32
	idEnds []uint32
	idData []byte
	det32  []uint32 // detail record ends: one of the two is set
	det64  []uint64
	views  []view // per Columns entry, in order
	layout []ColumnBytes
}

// detEnd is where row r's detail record ends in detail.bin.
func (c *columns) detEnd(r int) uint64 {
	if c.det64 != nil {
		return c.det64[r]
	}
	return uint64(c.det32[r])
}

// ColumnBytes is one section of columns.bin and its size.
type ColumnBytes struct {
	Name  string
	Kind  string
	Bytes int64
}

// view is one contract column's data (the field of its kind is set).
type view struct {
	dict  *DictColumn
	ints  []int32
	units []int32 // Fixed and Cents
}

// ErrCorrupt means a snapshot file is not what Write stored.
var ErrCorrupt = errors.New("serving: snapshot file corrupt")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// openColumns validates buf (from alignedBuffer) as columns.bin: sizes,
// bounds, checksum, the contract's columns with their kinds, dictionary
// codes in range, ids valid and strictly ascending, numbers finite.
func openColumns(buf []byte, detailSize int64) (*columns, error) {
	if !littleEndian {
		return nil, errors.New("serving: columns.bin is read in place, which needs a little-endian machine")
	}
	size := int64(len(buf))
	if size < 12+colsFooter || string(buf[:8]) != colsMagic || string(buf[size-4:]) != colsEndMagic {
		return nil, corrupt("columns.bin: %d bytes, no header/footer (truncated or not a columns file)", size)
	}
	body := size - colsFooter
	if got, want := crc32.Checksum(buf[:body], castagnoli), binary.LittleEndian.Uint32(buf[body:]); got != want {
		return nil, corrupt("columns.bin: checksum %08x, want %08x", got, want)
	}
	dl := int64(binary.LittleEndian.Uint32(buf[8:]))
	if 12+dl > body {
		return nil, corrupt("columns.bin: directory of %d bytes past the end", dl)
	}
	var dir directory
	dec := json.NewDecoder(bytes.NewReader(buf[12 : 12+dl]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&dir); err != nil {
		return nil, corrupt("columns.bin: directory: %v", err)
	}
	if dir.Rows < 0 || int64(dir.Rows) > body || dir.Rows > math.MaxInt32 {
		return nil, corrupt("columns.bin: %d rows", dir.Rows)
	}
	n := dir.Rows
	c := &columns{n: n, buf: buf, dicts: map[string]*DictColumn{}, ints: map[string][]int32{},
		fixed: map[string][]int32{}, cents: map[string][]int32{}}
	entries := map[string]dirEntry{}
	for _, e := range dir.Columns {
		if _, dup := entries[e.Name]; dup {
			return nil, corrupt("columns.bin: column %s twice", e.Name)
		}
		if e.Offset < 12+dl || e.Offset%8 != 0 || e.Length < 0 || e.Offset+e.Length > body {
			return nil, corrupt("columns.bin: column %s at [%d, +%d) out of bounds or unaligned", e.Name, e.Offset, e.Length)
		}
		entries[e.Name] = e
	}
	section := func(name, kind string, width int64, count int) ([]byte, error) {
		e, ok := entries[name]
		if !ok {
			return nil, corrupt("columns.bin: column %s missing", name)
		}
		if e.Kind != kind {
			return nil, corrupt("columns.bin: column %s is %s, want %s", name, e.Kind, kind)
		}
		if width > 0 && e.Length != width*int64(count) {
			return nil, corrupt("columns.bin: column %s has %d bytes, want %d", name, e.Length, width*int64(count))
		}
		return buf[e.Offset : e.Offset+e.Length], nil
	}
	for _, col := range Columns {
		var b []byte
		var values []string
		if _, ok := entries[col.Name]; !ok && col.Optional {
			// Written before the column existed: zeros, "" for a category.
			b = alignedBuffer(int64(n * col.Kind.width()))
			if n > 0 {
				values = []string{""}
			}
		} else {
			var err error
			if b, err = section(col.Name, col.Kind.String(), int64(col.Kind.width()), n); err != nil {
				return nil, err
			}
			values = entries[col.Name].Dict
		}
		switch col.Kind {
		case Dict:
			d := &DictColumn{Codes: asSlice[uint16](b, n), Values: values}
			if len(d.Values) > math.MaxUint16+1 || !distinct(d.Values) {
				return nil, corrupt("columns.bin: dictionary of %s: %d values, or repeated", col.Name, len(d.Values))
			}
			if col.Name == "segment_id" {
				for _, v := range d.Values {
					if id, err := strconv.ParseInt(v, 10, 32); err != nil || strconv.Itoa(int(id)) != v {
						return nil, corrupt("columns.bin: segment id %q", v)
					}
				}
			}
			d.Counts = make([]int, len(d.Values))
			limit := uint16(len(d.Values) - 1)
			bad := len(d.Values) == 0 && n > 0
			for _, code := range d.Codes {
				bad = bad || code > limit
				if !bad {
					d.Counts[code]++
				}
			}
			if bad {
				return nil, corrupt("columns.bin: column %s has a code outside its dictionary of %d", col.Name, len(d.Values))
			}
			c.dicts[col.Name] = d
			c.views = append(c.views, view{dict: d})
		case Int32:
			c.ints[col.Name] = asSlice[int32](b, n)
			c.views = append(c.views, view{ints: c.ints[col.Name]})
		case Fixed:
			c.fixed[col.Name] = asSlice[int32](b, n)
			c.views = append(c.views, view{units: c.fixed[col.Name]})
		case Cents:
			c.cents[col.Name] = asSlice[int32](b, n)
			c.views = append(c.views, view{units: c.cents[col.Name]})
		}
	}
	b, err := section(idsEnds, kindU32, 4, n)
	if err != nil {
		return nil, err
	}
	c.idEnds = asSlice[uint32](b, n)
	if c.idData, err = section(idsBytes, kindBytes, 0, 0); err != nil {
		return nil, err
	}
	if e := entries[detailEnds]; e.Kind == kindU64 {
		if b, err = section(detailEnds, kindU64, 8, n); err != nil {
			return nil, err
		}
		c.det64 = asSlice[uint64](b, n)
	} else {
		if b, err = section(detailEnds, kindU32, 4, n); err != nil {
			return nil, err
		}
		c.det32 = asSlice[uint32](b, n)
	}
	var prevEnd uint32
	var prevDet uint64 = detailHeader
	for r := range n {
		end := c.idEnds[r]
		if end < prevEnd || int64(end) > int64(len(c.idData)) {
			return nil, corrupt("columns.bin: id %d ends at %d", r, end)
		}
		id := c.idData[prevEnd:end]
		if !ValidID(unsafe.String(unsafe.SliceData(id), len(id))) {
			return nil, corrupt("columns.bin: row %d: invalid subscriber id", r)
		}
		if r > 0 && bytes.Compare(c.idData[c.start(r-1):prevEnd], id) >= 0 {
			return nil, corrupt("columns.bin: ids not strictly ascending at row %d", r)
		}
		prevEnd = end
		d := c.detEnd(r)
		if d < prevDet+detailMinRecord || d > uint64(detailSize) {
			return nil, corrupt("columns.bin: detail record %d ends at %d (detail.bin has %d bytes)", r, d, detailSize)
		}
		prevDet = d
	}
	if n > 0 && int64(prevEnd) != int64(len(c.idData)) {
		return nil, corrupt("columns.bin: ids end at %d of %d bytes", prevEnd, len(c.idData))
	}
	for _, e := range dir.Columns {
		c.layout = append(c.layout, ColumnBytes{Name: e.Name, Kind: e.Kind, Bytes: e.Length})
	}
	return c, nil
}

func (c *columns) start(r int) uint32 {
	if r == 0 {
		return 0
	}
	return c.idEnds[r-1]
}

// id returns row r's subscriber id, a string over the file's bytes (no
// copy; the bytes are never modified).
func (c *columns) id(r int) string {
	b := c.idData[c.start(r):c.idEnds[r]]
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// asSlice views b (aligned, little-endian) as n values of T.
func asSlice[T uint16 | int32 | uint32 | uint64](b []byte, n int) []T {
	if n == 0 {
		return []T{}
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

func distinct(vs []string) bool {
	s := slices.Clone(vs)
	slices.Sort(s)
	return len(slices.Compact(s)) == len(vs)
}

// ValidID reports whether s is a valid subscriber id: 1-64 printable ASCII
// characters, no spaces.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
