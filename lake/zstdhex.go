package lake

import (
	"encoding/binary"
	"math/bits"
)

// A column of lowercase hex digits (crm.cdr's other_party_hash, 32 of a
// keyed hash a value) is what no match shortens: zstd's best is its
// literals coder, whose Huffman code for 16 symbols of even frequency
// gives each digit 4 bits. Its fastest level still looks for matches and
// counts the symbols of every block to build that code (BenchmarkHexFrame:
// 1.7-2.1 ns a byte on a 1 MiB page of random digits, where hexFrame takes
// 0.7 and its frame comes out 0.06% smaller; the 9.5M-row ingest's column
// is 204 MB of digits). hexFrame writes the same zstd frame without
// either: the code of 16 digits at weight 1 is fixed (canonical codes in
// symbol order: a digit's code is its value), so the literals' streams
// are the digits packed in nibbles, eight at a time, in the stream's
// backward order. The frame is standard zstd
// (RFC 8878): compressed blocks of Huffman-coded literals and no
// sequences, raw blocks for the bytes before the digits (a
// DELTA_LENGTH_BYTE_ARRAY page's lengths) and the last few.

// hexCodec selects hexFrame for a column (see codecLevel).
const hexCodec pageCodec = 1

// hexLevel is the compression level that asks pageZstd for hexFrame,
// falling back to level (the table's) for a page that is not digits:
// parquet.WithCompressionLevelFor of a column the table's zstdHexPrefix
// property names.
func hexLevel(level int) int { return codecLevel(hexCodec, level) }

// zstdHexPrefix names a column of lowercase hex digits in a table's
// properties (telcolake's own, read by the ingest's writer).
const zstdHexPrefix = "telcolake.write.parquet.zstd-hex-literals.column."

const (
	zstdMagic    = 0xFD2FB528
	zstdMaxBlock = 128 << 10
	// hexMinBlock is the fewest digits a compressed block codes: fewer go
	// in a raw block (the 4-stream literals need a few, and the code's
	// table costs 58 bytes a block).
	hexMinBlock = 1 << 10
	// hexMaxPrefix is the most bytes before the digits hexFrame accepts
	// (a page's lengths are some 40 bytes per 1,000 values).
	hexMaxPrefix = 64 << 10
	// hexTree is the Huffman tree description: weights given directly
	// (header 127 + their count) for symbols 0 to 'e', each 1 for a digit
	// and 0 else, two a byte, first in the high nibble; 'f' is the last
	// symbol, its weight (1) implied.
	hexTreeLen = 1 + ('f'+1)/2
)

var hexTree = func() (t [hexTreeLen]byte) {
	t[0] = 127 + 'f'
	for s := 0; s < 'f'; s++ {
		if (s >= '0' && s <= '9') || (s >= 'a' && s <= 'e') {
			t[1+s/2] |= 1 << (4 * (1 - s%2))
		}
	}
	return t
}()

// hexWord maps 8 lowercase hex digits (a little-endian word) to their
// values, a byte each; wrong is 0 when all 8 are digits (a mask a caller
// can gather over many words without a branch).
func hexWord(v uint64) (n, wrong uint64) {
	const ones = 0x0101010101010101
	n = v&(0x0f*ones) + (v>>6)&ones*9 // '0'-'9' → 0-9, 'a'-'f' → 10-15
	ge10 := (n + 0x76*ones) >> 7 & ones
	// ^ binds as | does: the comparison's parentheses are needed.
	return n, v&(0x80*ones) | n&(0x10*ones) | ((n + 0x30*ones + ge10*0x27) ^ v)
}

// hexDigit is hexWord of one byte.
func hexDigit(c byte) (byte, bool) {
	n, wrong := hexWord(0x3030303030303030&^0xff | uint64(c))
	return byte(n), wrong == 0
}

// hexStart is where src's digits start: the first offset from which 8
// bytes are digits (bytes after it that are not make hexFrame decline),
// or -1 when none is found by hexMaxPrefix.
func hexStart(src []byte) int {
	for i := 0; i+8 <= len(src) && i <= hexMaxPrefix; i++ {
		if _, wrong := hexWord(binary.LittleEndian.Uint64(src[i:])); wrong == 0 {
			return i
		}
	}
	return -1
}

// hexFrame appends src to dst as a zstd frame whose blocks code the hex
// digits src ends with as Huffman literals, or returns false (dst
// unchanged) when more than hexMaxPrefix bytes precede them, fewer than
// hexMinBlock follow, or a byte after them is not a digit.
func hexFrame(dst, src []byte) ([]byte, bool) {
	p := hexStart(src)
	if p < 0 || len(src)-p < hexMinBlock {
		return dst, false
	}
	orig := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, zstdMagic)
	dst = append(dst, 2<<6|1<<5) // a 4-byte content size, single segment
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(src)))
	for off := 0; off < p; off += zstdMaxBlock {
		dst = rawBlock(dst, src[off:min(off+zstdMaxBlock, p)], false)
	}
	digits := src[p:]
	for len(digits) > 0 {
		n := min(len(digits), zstdMaxBlock) &^ 7
		if n < hexMinBlock {
			for _, c := range digits {
				if _, ok := hexDigit(c); !ok {
					return dst[:orig], false
				}
			}
			dst = rawBlock(dst, digits, true)
			break
		}
		var ok bool
		if dst, ok = hexBlock(dst, digits[:n], n == len(digits)); !ok {
			return dst[:orig], false
		}
		digits = digits[n:]
	}
	return dst, true
}

func blockHeader(dst []byte, last bool, kind, size int) []byte {
	h := uint32(size)<<3 | uint32(kind)<<1
	if last {
		h |= 1
	}
	return append(dst, byte(h), byte(h>>8), byte(h>>16))
}

func rawBlock(dst, b []byte, last bool) []byte {
	return append(blockHeader(dst, last, 0, len(b)), b...)
}

// hexBlock appends a compressed block of the digits d (a multiple of 8 of
// them, at most zstdMaxBlock) as 4 Huffman streams of a quarter each, or
// returns false when d holds a byte that is not a digit.
func hexBlock(dst, d []byte, last bool) ([]byte, bool) {
	seg := len(d) / 4 // a multiple of 2: each stream ends on a whole byte
	streams := 4 * (seg/2 + 1)
	litSize := hexTreeLen + 6 + streams
	dst = blockHeader(dst, last, 2, 5+litSize+1)
	// Literals header: compressed, 4 streams, 18-bit sizes.
	h := uint64(2) | 3<<2 | uint64(len(d))<<4 | uint64(litSize)<<22
	dst = append(dst, byte(h), byte(h>>8), byte(h>>16), byte(h>>24), byte(h>>32))
	dst = append(dst, hexTree[:]...)
	for range 3 {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(seg/2+1))
	}
	for s := range 4 {
		var ok bool
		if dst, ok = hexStream(dst, d[s*seg:(s+1)*seg]); !ok {
			return dst, false
		}
	}
	return append(dst, 0), true // no sequences
}

// hexStream appends the Huffman stream of the digits lit (a multiple of
// 2 of them), or returns false when lit holds a byte that is not one. The
// stream is read backward from its last byte's padding bit, so the first
// digit's code is in the high bits of the byte before it, the last
// digit's in the low nibble of the stream's first.
func hexStream(dst, lit []byte) ([]byte, bool) {
	m := len(lit) / 2
	at := len(dst)
	dst = append(dst, make([]byte, m+1)...)
	out := dst[at : at+m]
	i := 0
	wrong := uint64(0) // gathered over the words, checked once
	for ; i+8 <= len(lit); i += 8 {
		n, w := hexWord(binary.LittleEndian.Uint64(lit[i:]))
		wrong |= w
		// Pairs of digits (first in the high nibble) into 4 bytes, the
		// first pair lowest; the stream holds them last pair first.
		y := (n&0x000f000f000f000f)<<4 | (n>>8)&0x000f000f000f000f
		y = (y | y>>8) & 0x0000ffff0000ffff
		y = (y | y>>16) & 0xffffffff
		binary.LittleEndian.PutUint32(out[m-i/2-4:], bits.ReverseBytes32(uint32(y)))
	}
	bad := wrong != 0
	for ; i < len(lit); i += 2 {
		hi, ok1 := hexDigit(lit[i])
		lo, ok2 := hexDigit(lit[i+1])
		bad = bad || !ok1 || !ok2
		out[m-1-i/2] = hi&0xf<<4 | lo&0xf
	}
	dst[at+m] = 1 // the padding bit
	return dst, !bad
}
