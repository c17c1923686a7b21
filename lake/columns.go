package lake

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// columnRows is a rowParser that builds its batches in columns of its own
// (plain Go slices, made into Arrow arrays once a batch is complete)
// rather than through array.RecordBuilder, whose per-value appends, growth
// by reallocation and zeroing took most of the CDR parser's appendTo (7.9
// of 42.5 s in the 9.5M-row profile).
type columnRows interface {
	rowParser
	// newBatch starts a batch of schema sc with room for about n rows.
	// With recycle, the batch's buffers come from, and go back to when
	// its record is released, pools of the parser's (see bufPool).
	newBatch(sc *arrow.Schema, n int, recycle bool) rowBatch
}

// rowBatch is a batch being built by a columnRows parser.
type rowBatch interface {
	// add appends the row the parser parsed last.
	add()
	// record returns the rows added, as a record of the batch's schema.
	record() arrow.RecordBatch
}

// bufPool keeps the buffers of one column of the batches whose records were
// released, for the next batches: a new partition's batch gets buffers
// already grown to a batch's size, rather than new ones grown by doubling
// (the reservation in Batches leaves most partitions a row's room), each
// growth allocated, zeroed and copied. It is the memory.Allocator of the
// buffers it lends: the record's last Release frees them into the pool, so
// a buffer is reused only once nothing holds it. Only a consumer that
// releases every reference it keeps may be given such batches: the
// partWriter (lake's dictionaries copy their values, pqarrow copies the
// plain columns it encodes and their statistics' min and max).
type bufPool struct {
	mu   sync.Mutex
	free [][]byte
}

// poolKeep bounds the buffers a pool keeps: about the batches being built
// at once. Input sorted by time has a day's partitions open together, two
// days' at a day's turn (up to 2 × SubscriberBuckets), and each takes a
// buffer; with 4 kept, half the 9.5M-row benchmark's 1,154 batches started
// from an empty buffer and grew by doubling (1.7 s of its 17.6 s CPU).
const poolKeep = 2 * SubscriberBuckets

// poisonFreed, for tests, overwrites each buffer freed into a pool, so a
// reader of it after its release (or a reuse while still held) reads junk;
// poolReuses counts the buffers lent again.
var (
	poisonFreed bool
	poolReuses  atomic.Int64
)

func (p *bufPool) Allocate(size int) []byte { return make([]byte, size) }

func (p *bufPool) Reallocate(size int, b []byte) []byte {
	nb := make([]byte, size)
	copy(nb, b)
	return nb
}

// Free takes back a buffer lent by get (with its capacity).
func (p *bufPool) Free(b []byte) {
	b = b[:cap(b)]
	if poisonFreed {
		for i := range b {
			b[i] = 0xa5
		}
	}
	p.mu.Lock()
	if len(p.free) < poolKeep {
		p.free = append(p.free, b)
	}
	p.mu.Unlock()
}

// get returns an empty buffer of the pool with room for n bytes, or the
// largest one (nil when the pool is empty).
func (p *bufPool) get(n int) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	best := -1
	for i := len(p.free) - 1; i >= 0; i-- {
		if c := cap(p.free[i]); c >= n {
			best = i
			break
		} else if best < 0 || c > cap(p.free[best]) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	b := p.free[best]
	p.free[best] = p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	poolReuses.Add(1)
	return b[:0]
}

// buffer wraps b (of a batch) as an Arrow buffer; with a pool, the
// buffer's release frees b into it.
func buffer(b []byte, p *bufPool) *memory.Buffer {
	if p == nil {
		return memory.NewBufferBytes(b)
	}
	return memory.NewBufferWithAllocator(b, p)
}

// fixedPool gets an empty slice of fixed-width values T with room for n,
// from p when it has one, and bytesOf turns it back into its bytes with
// the capacity kept (for Free).
func fixedPool[T int32 | int64 | decimal128.Num](p *bufPool, n int) []T {
	if p != nil {
		if b := p.get(n * int(unsafe.Sizeof(*new(T)))); b != nil {
			return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), cap(b)/int(unsafe.Sizeof(*new(T))))[:0]
		}
	}
	return make([]T, 0, n)
}

func bytesOf[T int32 | int64 | decimal128.Num](s []T) []byte {
	size := int(unsafe.Sizeof(*new(T)))
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), cap(s)*size)[:len(s)*size]
}

func bytesPool(p *bufPool, n int) []byte {
	if p != nil {
		if b := p.get(n); b != nil {
			return b
		}
	}
	return make([]byte, 0, n)
}

// strCol is a string column being built: values back to back, Arrow
// offsets, and validity bits when the column is nullable.
type strCol struct {
	data  []byte
	offs  []int32
	valid bitCol
	nulls int
	pools *strPools // nil: not recycled
}

// strPools are the pools of a string column's buffers.
type strPools struct{ data, offs, valid bufPool }

func newStrCol(n, bytesPerRow int, p *strPools) strCol {
	if p == nil {
		return strCol{data: make([]byte, 0, n*bytesPerRow), offs: append(make([]int32, 0, n+1), 0)}
	}
	return strCol{data: bytesPool(&p.data, n*bytesPerRow), offs: append(fixedPool[int32](&p.offs, n+1), 0),
		valid: bitCol{bits: bytesPool(&p.valid, (n+7)/8)}, pools: p}
}

func (c *strCol) add(s string) {
	c.data = append(c.data, s...)
	c.offs = append(c.offs, int32(len(c.data)))
}

// addOpt appends s, or a null for "" (the column is nullable).
func (c *strCol) addOpt(s string) {
	if s == "" {
		c.offs = append(c.offs, int32(len(c.data)))
		c.valid.add(false)
		c.nulls++
		return
	}
	c.add(s)
	c.valid.add(true)
}

// fieldCopy is the most bytes addIn copies at once.
const fieldCopy = 32

// addIn appends s, a field of line (or any string; line may run past the
// row, see record.room): when line holds fieldCopy bytes from s's start
// and the data has room for them, as one copy of that many (the bytes
// past s are overwritten by the next value or left past the data's end),
// not a call to memmove per field (0.4 s of the 9.5M-row ingest's profile
// for nine fields a row).
func (c *strCol) addIn(s, line string) {
	n := len(c.data)
	if len(s) <= fieldCopy && cap(c.data)-n >= fieldCopy && len(line) >= fieldCopy {
		// s's offset in line; a string elsewhere gives one outside it.
		off := uintptr(unsafe.Pointer(unsafe.StringData(s))) - uintptr(unsafe.Pointer(unsafe.StringData(line)))
		if off <= uintptr(len(line)-fieldCopy) {
			src := unsafe.Pointer(&unsafe.Slice(unsafe.StringData(line), len(line))[off : off+fieldCopy][0])
			dst := unsafe.Pointer(&c.data[n : n+fieldCopy][0])
			// Four words loaded, then stored: an array assignment of
			// fieldCopy bytes calls memmove.
			w0, w1 := *(*uint64)(src), *(*uint64)(unsafe.Add(src, 8))
			w2, w3 := *(*uint64)(unsafe.Add(src, 16)), *(*uint64)(unsafe.Add(src, 24))
			*(*uint64)(dst), *(*uint64)(unsafe.Add(dst, 8)) = w0, w1
			*(*uint64)(unsafe.Add(dst, 16)), *(*uint64)(unsafe.Add(dst, 24)) = w2, w3
			c.data = c.data[:n+len(s)]
			c.offs = append(c.offs, int32(n+len(s)))
			return
		}
	}
	c.add(s)
}

// addOptIn is addOpt of a field of line (see addIn).
func (c *strCol) addOptIn(s, line string) {
	if s == "" {
		c.addOpt(s)
		return
	}
	c.addIn(s, line)
	c.valid.add(true)
}

func (c *strCol) addOptBytes(b []byte) {
	c.data = append(c.data, b...)
	c.offs = append(c.offs, int32(len(c.data)))
	c.valid.add(true)
}

func (c *strCol) array(n int) arrow.Array {
	if len(c.data) > 1<<31-1 {
		panic("lake: string column past 2 GiB") // batches are far smaller
	}
	var dataP, offsP, validP *bufPool
	if c.pools != nil {
		dataP, offsP, validP = &c.pools.data, &c.pools.offs, &c.pools.valid
	}
	var valid *memory.Buffer
	if c.nulls > 0 {
		valid = buffer(c.valid.bits, validP)
		defer valid.Release()
	} else if validP != nil && c.valid.bits != nil {
		validP.Free(c.valid.bits) // no nulls: no validity buffer
	}
	offs, vals := buffer(bytesOf(c.offs), offsP), buffer(c.data, dataP)
	defer offs.Release()
	defer vals.Release()
	return makeArray(arrow.BinaryTypes.String, n, []*memory.Buffer{valid, offs, vals}, c.nulls)
}

// makeArray makes an array of type t of n values (nulls of them null)
// from bufs; the array holds its own references to them, the caller
// releases its own.
func makeArray(t arrow.DataType, n int, bufs []*memory.Buffer, nulls int) arrow.Array {
	data := array.NewData(t, n, bufs, nil, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data)
}

// bitCol is a column of bits (validity or booleans).
type bitCol struct {
	bits []byte
	n    int
}

func (b *bitCol) add(v bool) {
	if b.n%8 == 0 {
		b.bits = append(b.bits, 0)
	}
	if v {
		b.bits[b.n/8] |= 1 << (b.n % 8)
	}
	b.n++
}

func (b *bitCol) array(n int, p *bufPool) arrow.Array {
	return fixedCol(arrow.FixedWidthTypes.Boolean, n, b.bits, p)
}

// fixedCol makes an array of type t from the bytes of n fixed-width values
// (lent by p, or nil).
func fixedCol(t arrow.DataType, n int, b []byte, p *bufPool) arrow.Array {
	buf := buffer(b, p)
	defer buf.Release()
	return makeArray(t, n, []*memory.Buffer{nil, buf}, 0)
}

// constCols are the columns of a file whose value is the same in every
// row (source_file, ingested_at), built once for the longest batch so far
// and shared by every batch: each batch's arrays are prefixes of them
// (exact lengths, so a batch's buffers count only its rows). Their bytes
// are never written again once built; a longer batch builds new ones.
type constCols struct {
	src      strCol
	ingested []int64
}

// source is a string column holding s in each of n rows.
func (c *constCols) source(s string, n int) arrow.Array {
	if len(c.src.offs) < n+1 {
		m := max(n, 2*(len(c.src.offs)-1))
		c.src = strCol{data: bytes.Repeat([]byte(s), m), offs: make([]int32, m+1)}
		for i := range c.src.offs {
			c.src.offs[i] = int32(i * len(s))
		}
	}
	p := strCol{data: c.src.data[:n*len(s)], offs: c.src.offs[:n+1]}
	return p.array(n) // no pools: the bytes are shared, never freed
}

// ingestedAt is an int64 column holding v in each of n rows, as bytes.
func (c *constCols) ingestedAt(v int64, n int) []byte {
	if len(c.ingested) < n {
		c.ingested = make([]int64, max(n, 2*len(c.ingested)))
		for i := range c.ingested {
			c.ingested[i] = v
		}
	}
	return arrow.Int64Traits.CastToBytes(c.ingested[:n])
}

// cdrBatch builds a crm.cdr batch from a cdrRows parser's rows.
type cdrBatch struct {
	r  *cdrRows
	sc *arrow.Schema
	n  int
	p  *cdrPools // nil: not recycled

	callID, sub, msisdn, other, network, callType, dir, cell, region, area strCol
	start, dataKB                                                          []int64
	dur                                                                    []int32
	roaming, intl                                                          bitCol
	charge                                                                 []decimal128.Num
	// Other parties are hashed in pairs (pseudonymizer.hash2), the last
	// odd one when the record is made: pendLen > 0 says that the number
	// in pendNum[:pendLen] waits, its hash's place at pendOff in other's
	// data.
	pendOff, pendLen int
	pendNum          [maxPaddedLen]byte
}

// cdrPools are the pools of cdrBatch's buffers, one per column.
type cdrPools struct {
	callID, sub, msisdn, other, network, callType, dir, cell, region, area strPools
	start, dataKB, dur, roaming, intl, charge                              bufPool
}

// cdrColumns are the columns of the batches cdrBatch builds, in order: the
// Arrow schema of crm.cdr as the format gives it.
var cdrColumns = []string{"call_id", "subscriber_id", "msisdn", "other_party_hash", "other_network", "start_time",
	"duration_s", "call_type", "direction", "roaming", "international", "cell_id", "region", "data_kb", "charge",
	"source_file", "ingested_at", "other_area"}

func (r *cdrRows) newBatch(sc *arrow.Schema, n int, recycle bool) rowBatch {
	if got := sc.NumFields(); got != len(cdrColumns) {
		panic(fmt.Sprintf("lake: cdr batch schema has %d columns, want %d", got, len(cdrColumns)))
	}
	for i, name := range cdrColumns {
		if sc.Field(i).Name != name {
			panic(fmt.Sprintf("lake: cdr batch column %d is %s, want %s", i, sc.Field(i).Name, name))
		}
	}
	n = max(n, 1)
	var p *cdrPools
	if recycle {
		if r.pools == nil {
			r.pools = &cdrPools{}
		}
		p = r.pools
	}
	b := &cdrBatch{r: r, sc: sc, p: p}
	if p == nil {
		b.callID, b.sub, b.msisdn, b.other = newStrCol(n, 17, nil), newStrCol(n, 8, nil), newStrCol(n, 12, nil), newStrCol(n, 2*pseudoBytes, nil)
		b.network, b.callType, b.dir, b.cell = newStrCol(n, 6, nil), newStrCol(n, 5, nil), newStrCol(n, 3, nil), newStrCol(n, 8, nil)
		b.region, b.area = newStrCol(n, 7, nil), newStrCol(n, 4, nil)
		b.start, b.dataKB, b.dur = make([]int64, 0, n), make([]int64, 0, n), make([]int32, 0, n)
		b.charge = make([]decimal128.Num, 0, n)
		return b
	}
	b.callID, b.sub, b.msisdn, b.other = newStrCol(n, 17, &p.callID), newStrCol(n, 8, &p.sub), newStrCol(n, 12, &p.msisdn), newStrCol(n, 2*pseudoBytes, &p.other)
	b.network, b.callType, b.dir, b.cell = newStrCol(n, 6, &p.network), newStrCol(n, 5, &p.callType), newStrCol(n, 3, &p.dir), newStrCol(n, 8, &p.cell)
	b.region, b.area = newStrCol(n, 7, &p.region), newStrCol(n, 4, &p.area)
	b.start, b.dataKB, b.dur = fixedPool[int64](&p.start, n), fixedPool[int64](&p.dataKB, n), fixedPool[int32](&p.dur, n)
	b.roaming.bits, b.intl.bits = bytesPool(&p.roaming, (n+7)/8), bytesPool(&p.intl, (n+7)/8)
	b.charge = fixedPool[decimal128.Num](&p.charge, n)
	return b
}

func (b *cdrBatch) add() {
	r := b.r
	b.callID.addIn(r.callID, r.room)
	b.sub.addIn(r.sub, r.room)
	b.msisdn.addIn(r.msisdn, r.room)
	switch {
	case r.other == "":
		b.other.addOpt("")
	case len(r.other) > maxPaddedLen:
		b.other.addOptBytes(r.ps.hashBytes(r.other))
	case b.pendLen == 0:
		b.pendOff, b.pendLen = len(b.other.data), copy(b.pendNum[:], r.other)
		b.other.addOptBytes(hashSpace[:])
	default:
		off := len(b.other.data)
		b.other.addOptBytes(hashSpace[:])
		d := b.other.data
		r.ps.hash2(d[b.pendOff:b.pendOff+len(hashSpace)], d[off:], b.pendingNumber(), r.other)
		b.pendLen = 0
	}
	b.network.addIn(r.network, r.room)
	b.start = append(b.start, r.start)
	b.dur = append(b.dur, int32(r.dur))
	b.callType.addIn(r.callType, r.room)
	b.dir.addIn(r.dir, r.room)
	b.roaming.add(r.roaming)
	b.intl.add(r.intl)
	b.cell.addOptIn(r.cell, r.room)
	b.region.addOptIn(r.region, r.room)
	b.dataKB = append(b.dataKB, r.dataKB)
	b.charge = append(b.charge, money(r.charge))
	b.area.addOptIn(r.area, r.room)
	b.n++
}

// hashSpace holds the place of a hash in other's data until it is written.
var hashSpace [2 * pseudoBytes]byte

// pendingNumber is the number whose hash is pending, valid until the next
// row.
func (b *cdrBatch) pendingNumber() string {
	return unsafe.String(&b.pendNum[0], b.pendLen)
}

func (b *cdrBatch) record() arrow.RecordBatch {
	if b.pendLen > 0 {
		copy(b.other.data[b.pendOff:b.pendOff+len(hashSpace)], b.r.ps.hashBytes(b.pendingNumber()))
		b.pendLen = 0
	}
	n, f := b.n, b.sc.Field
	var start, dur, roaming, intl, dataKB, charge *bufPool
	if p := b.p; p != nil {
		start, dur, roaming, intl, dataKB, charge = &p.start, &p.dur, &p.roaming, &p.intl, &p.dataKB, &p.charge
	}
	cols := []arrow.Array{
		b.callID.array(n), b.sub.array(n), b.msisdn.array(n), b.other.array(n), b.network.array(n),
		fixedCol(f(5).Type, n, bytesOf(b.start), start),
		fixedCol(f(6).Type, n, bytesOf(b.dur), dur),
		b.callType.array(n), b.dir.array(n), b.roaming.array(n, roaming), b.intl.array(n, intl),
		b.cell.array(n), b.region.array(n),
		fixedCol(f(13).Type, n, bytesOf(b.dataKB), dataKB),
		fixedCol(f(14).Type, n, bytesOf(b.charge), charge),
		b.r.consts.source(b.r.fc.source, n),
		fixedCol(f(16).Type, n, b.r.consts.ingestedAt(b.r.fc.ingestedAt, n), nil),
		b.area.array(n),
	}
	rec := array.NewRecordBatch(b.sc, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return rec
}
