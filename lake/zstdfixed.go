package lake

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/klauspost/compress/huff0"
)

// A PLAIN page of a string column whose values all have one length
// (crm.cdr's msisdn, 12 digits; subscriber_id, 8 characters) is a row
// of records of one stride: a 4-byte length, then the value. Within a
// data file (a day of a subscriber bucket) the values rarely repeat, so
// all zstd's fastest level finds is each record's first bytes again in
// the record before it — the length and the prefix the values share —
// and it pays for the search at every position: 4.8 to 5.9 ns a byte on
// these columns, against 1.85 for the digits of other_party_hash.
//
// fixedFrame writes that match without searching for it. The first
// block codes the first record as literals and a match of the shared
// bytes m at the distance of one stride; every later sequence is the
// previous record's tail as literals and a match of m bytes at the
// repeated offset. All sequences of a block are then alike, so their
// codes are given once (RLE mode) and they take no bits; the tails are
// Huffman coded (huff0, zstd's own literals coder). The frame is standard
// zstd (RFC 8878) and any decoder reads it.
//
// A PLAIN page of fixed-width values (data_kb's int64s, charge's 6-byte
// decimals) is records of one stride too, without lengths: the match is
// then the window of bytes every value has the same (a small integer's
// high bytes), wherever it is in the value (rawShape).

// fixedCodec selects fixedFrame for a column of byte arrays, and
// strideCodecs+n for one of values of n bytes (see codecLevel).
const (
	fixedCodec   pageCodec = 2
	strideCodecs pageCodec = 16
	lastCodec              = strideCodecs + fixedMaxStride
)

// fixedCodecOf is the codec of fixedFrame for column col of sc: its
// values' width in a Parquet page, from their type (a decimal's as
// pqarrow writes it), or the byte arrays' codec; false when sc has no
// such column or it is of another type (the tables share their
// properties, so a column a property names may be another table's).
func fixedCodecOf(sc *arrow.Schema, col string) (pageCodec, bool) {
	fs, ok := sc.FieldsByName(col)
	if !ok {
		return 0, false
	}
	switch t := fs[0].Type.(type) {
	case *arrow.StringType, *arrow.BinaryType:
		return fixedCodec, true
	case *arrow.Int32Type, *arrow.Date32Type:
		return strideCodecs + 4, true
	case *arrow.Int64Type, *arrow.TimestampType:
		return strideCodecs + 8, true
	case *arrow.Decimal128Type:
		return strideCodecs + pageCodec(pqarrow.DecimalSize(t.Precision)), true
	}
	return 0, false
}

// zstdFixedPrefix names, in a table's properties, a column whose values
// have one length (strings of one width, mostly) or share some of their
// bytes (fixed-width values), read by the ingest's writer: its pages go
// through fixedFrame, and a page not of that shape falls back to the
// table's level.
const zstdFixedPrefix = "telcolake.write.parquet.zstd-fixed-width.column."

const (
	// fixedMinRecords is the fewest records fixedFrame codes: below it
	// zstd's search costs little.
	fixedMinRecords = 64
	// fixedMaxStride is the longest record (length bytes included)
	// fixedFrame codes: a longer value is text a search may shorten.
	fixedMaxStride = 256
)

// fixedScratch is fixedFrame's reused memory.
type fixedScratch struct {
	lits []byte
	huff huff0.Scratch
}

var fixedScratches = sync.Pool{New: func() any { return new(fixedScratch) }}

// fixedShape is the stride of src's records and the number of bytes
// they all start with, or false when src is not a page of at least
// fixedMinRecords values of one length. The shared bytes include the
// length's 4 and stop one short of the stride (a sequence needs a
// literal for its offset to be the repeated one).
func fixedShape(src []byte) (stride, shared int, ok bool) {
	if len(src) < 12 {
		return 0, 0, false
	}
	l := binary.LittleEndian.Uint32(src)
	if l == 0 || l > fixedMaxStride-4 {
		return 0, 0, false
	}
	stride = int(l) + 4
	if len(src)%stride != 0 || len(src)/stride < fixedMinRecords {
		return 0, 0, false
	}
	// p is how many bytes of the values all records share so far; ref
	// the first value's first 8 (bytes of the next record when it is
	// shorter, which p never reaches).
	p := int(l)
	ref := binary.LittleEndian.Uint64(src[4:])
	for o := stride; o < len(src); o += stride {
		if binary.LittleEndian.Uint32(src[o:]) != l {
			return 0, 0, false
		}
		if p == 0 {
			continue
		}
		if p <= 8 && o+12 <= len(src) {
			if x := (binary.LittleEndian.Uint64(src[o+4:]) ^ ref) & (^uint64(0) >> (64 - 8*p)); x != 0 {
				p = bits.TrailingZeros64(x) / 8
			}
			continue
		}
		v, r := src[o+4:o+4+p], src[4:4+p]
		for i := range v {
			if v[i] != r[i] {
				p = i
				break
			}
		}
	}
	return stride, min(4+p, stride-1), true
}

// rawShape is, for a page of PLAIN values of stride bytes each (a
// fixed-width type's), the window of bytes [at, at+shared) in which every
// value is the same (a little-endian integer's high bytes, a big-endian
// decimal's), its longest, or false when no such window of 3 bytes (a
// match's least) or fewer than fixedMinRecords values are found.
func rawShape(src []byte, stride int) (at, shared int, ok bool) {
	// The first record's words are read whole below: fixedMinRecords
	// records hold them.
	if stride < 4 || stride > fixedMaxStride || len(src)%stride != 0 || len(src)/stride < fixedMinRecords {
		return 0, 0, false
	}
	// The bits in which a record differs from the first, gathered 8
	// bytes at a time (the last of a record's words reads into the next
	// record, whose bytes there are ignored).
	var diff [fixedMaxStride/8 + 1]uint64
	words := (stride + 7) / 8
	var ref [fixedMaxStride/8 + 1]uint64
	for w := range words {
		ref[w] = binary.LittleEndian.Uint64(src[8*w:])
	}
	o := stride
	for ; o+8*words <= len(src); o += stride {
		for w := range words {
			diff[w] |= binary.LittleEndian.Uint64(src[o+8*w:]) ^ ref[w]
		}
	}
	var last [fixedMaxStride + 8]byte
	for ; o < len(src); o += stride {
		copy(last[:], src[o:o+stride])
		for w := range words {
			diff[w] |= binary.LittleEndian.Uint64(last[8*w:]) ^ ref[w]
		}
	}
	d := func(j int) byte { return byte(diff[j/8] >> (8 * (j % 8))) }
	run := 0
	for j := range stride {
		if d(j) != 0 {
			run = 0
			continue
		}
		if run++; run > shared {
			at, shared = j+1-run, run
		}
	}
	shared = min(shared, stride-1)
	return at, shared, shared >= 3
}

// fixedFrame appends src to dst as a zstd frame of fixedShape's
// sequences (stride 0: a page of byte arrays, each after its length), or
// of rawShape's for a page of fixed-width values of stride bytes, or
// returns false (dst unchanged) when src is not that shape.
func fixedFrame(dst, src []byte, stride int) ([]byte, bool) {
	var at, m int
	ok := false
	if stride == 0 {
		stride, m, ok = fixedShape(src)
	} else {
		at, m, ok = rawShape(src, stride)
	}
	if !ok {
		return dst, false
	}
	s := fixedScratches.Get().(*fixedScratch)
	defer fixedScratches.Put(s)
	s.huff.Reuse = huff0.ReusePolicyNone
	n := len(src) / stride
	t := stride - m // the literals between two matches

	dst = binary.LittleEndian.AppendUint32(dst, zstdMagic)
	dst = append(dst, 2<<6|1<<5) // a 4-byte content size, single segment
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(src)))

	// Sequence j (from 1) matches record j's shared bytes with record
	// j-1's, after the literals since record j-1's. The first, in a
	// block of its own, takes all the bytes before it as literals and
	// sets the offset (a new one, a stride) that later sequences repeat.
	dst = fixedBlock(dst, s, src[:stride+at], nil, 1, stride+at, m, stride+3, false)

	// The bytes after the last record's shared bytes end the last block
	// as its last literals.
	end := func(j int) int { return j*stride + at + m } // after sequence j's match
	per := (zstdMaxBlock - (stride - at - m)) / stride
	for i := 2; i < n; {
		c := min(per, n-i)
		last := i+c == n
		lits := gatherLits(s.lits[:0], src, end(i-1), c, stride, t)
		content := src[end(i-1):end(i+c-1)]
		if last {
			lits = append(lits, src[end(n-1):]...)
			content = src[end(i-1):]
		}
		s.lits = lits
		dst = fixedBlock(dst, s, lits, content, c, t, m, 1, last)
		i += c
	}
	return dst, true
}

// gatherLits appends to lits the c runs of t bytes of src that start at
// from and each stride bytes after the one before: 16 bytes copied a run
// where src holds them and t is at most 16, not a memmove call.
func gatherLits(lits, src []byte, from, c, stride, t int) []byte {
	if t > 16 {
		for j := range c {
			lits = append(lits, src[from+j*stride:from+j*stride+t]...)
		}
		return lits
	}
	n := len(lits)
	lits = slices.Grow(lits, c*t+16)[:n+c*t]
	room := lits[:cap(lits)]
	j := 0
	for o := from; j < c && o+16 <= len(src); j, o = j+1, o+stride {
		w0, w1 := binary.LittleEndian.Uint64(src[o:]), binary.LittleEndian.Uint64(src[o+8:])
		binary.LittleEndian.PutUint64(room[n:], w0)
		binary.LittleEndian.PutUint64(room[n+8:], w1)
		n += t
	}
	for ; j < c; j++ {
		o := from + j*stride
		n += copy(lits[n:], src[o:o+t])
	}
	return lits
}

// fixedBlock appends a compressed block of c sequences, each of ll
// literals and a match of ml bytes at offset value of (RFC 8878's
// Offset_Value: 1 the repeated offset, 3 more than a new one), and the
// literals lits, Huffman coded when that is shorter; content, when not
// nil, is what the block decodes to, written as a raw block instead
// when that is shorter.
func fixedBlock(dst []byte, s *fixedScratch, lits, content []byte, c, ll, ml, of int, last bool) []byte {
	at := len(dst)
	dst = append(dst, 0, 0, 0) // the block header, below
	var out []byte
	var err error
	if len(lits) >= 32 {
		out, _, err = huff0.Compress4X(lits, &s.huff)
	}
	if len(lits) >= 32 && err == nil {
		// Compressed, 4 streams, 18-bit sizes.
		h := uint64(2) | 3<<2 | uint64(len(lits))<<4 | uint64(len(out))<<22
		dst = append(dst, byte(h), byte(h>>8), byte(h>>16), byte(h>>24), byte(h>>32))
		dst = append(dst, out...)
	} else {
		// Raw, 20-bit size.
		h := uint32(3<<2) | uint32(len(lits))<<4
		dst = append(dst, byte(h), byte(h>>8), byte(h>>16))
		dst = append(dst, lits...)
	}
	switch {
	case c < 128:
		dst = append(dst, byte(c))
	case c < 0x7f00:
		dst = append(dst, byte(c>>8)+128, byte(c))
	default:
		dst = append(dst, 0xff, byte(c-0x7f00), byte((c-0x7f00)>>8))
	}
	if c > 0 {
		llc, llb, lln := seqCode(ll, llBase[:])
		mlc, mlb, mln := seqCode(ml, mlBase[:])
		ofc := bits.Len(uint(of)) - 1
		ofb, ofn := uint64(of)-1<<ofc, ofc
		// RLE mode for all three codes, given in the order LL, OF, ML;
		// then the bitstream: per sequence, last first, its literal
		// length's extra bits, its match length's, its offset's.
		dst = append(dst, 1<<6|1<<4|1<<2, byte(llc), byte(ofc), byte(mlc))
		word := llb | mlb<<lln | ofb<<(lln+mln)
		dst = appendRepeatedBits(dst, word, lln+mln+ofn, c)
	}
	size := len(dst) - at - 3
	if content != nil && size >= len(content) {
		return rawBlock(dst[:at], content, last)
	}
	h := blockHeader(nil, last, 2, size)
	copy(dst[at:], h)
	return dst
}

// appendRepeatedBits appends a zstd bitstream holding the low n bits of
// word c times, then its end mark.
func appendRepeatedBits(dst []byte, word uint64, n, c int) []byte {
	var acc uint64
	var have int
	if n > 0 {
		for range c {
			acc |= word << have
			have += n
			for have >= 8 {
				dst = append(dst, byte(acc))
				acc >>= 8
				have -= 8
			}
		}
	}
	acc |= 1 << have
	for have += 1; have > 0; have -= 8 {
		dst = append(dst, byte(acc))
		acc >>= 8
	}
	return dst
}

// seqCode is the code of a literal or match length v (less than the
// table's last baseline) in a table of the codes' baselines, with its
// extra bits' value and count.
func seqCode(v int, base []uint32) (code int, extra uint64, n int) {
	code = len(base) - 2
	for code > 0 && base[code] > uint32(v) {
		code--
	}
	n = bits.Len32(base[code+1]-base[code]) - 1
	return code, uint64(uint32(v) - base[code]), n
}

// llBase and mlBase are the baselines of the literal and match length
// codes (RFC 8878, 3.1.1.3.2.1), and one past the last code's values: a
// code's extra bits count the values up to the next baseline.
var llBase = [36 + 1]uint32{
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024, 2048, 4096,
	8192, 16384, 32768, 65536, 131072,
}

var mlBase = [53 + 1]uint32{
	3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
	19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
	35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051,
	4099, 8195, 16387, 32771, 65539, 131075,
}
