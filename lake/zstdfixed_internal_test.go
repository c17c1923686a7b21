package lake

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/compress"
)

// plainPage is a PLAIN page of byte arrays: each value's 4-byte length,
// then the value.
func plainPage(vals []string) []byte {
	var b []byte
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

// numbers are n values of prefix and then digits random digits.
func numbers(rng *rand.Rand, n int, prefix string, digits int) []string {
	vals := make([]string, n)
	for i := range vals {
		b := []byte(prefix)
		for range digits {
			b = append(b, byte('0'+rng.IntN(10)))
		}
		vals[i] = string(b)
	}
	return vals
}

// fixedFrame's frames decode (by klauspost/compress, and by the reference
// zstd when the machine has it) to the page they code, whatever the
// stride (tails and shared bytes of lengths with and without extra bits),
// the shared prefix (none, some, the whole value), and the number of
// records (one block, many, a last block of one); a page of values of
// more than one length, of too few or too long values, or cut inside a
// record, it declines. So for pages of fixed-width values: the window of
// bytes they share is found wherever it is (and shrinks for a value
// that breaks it, first or last), and a page with fewer than 3 such
// bytes is declined.
func TestFixedFrameDecodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	same := func(n int, v string) []string { return strings.Split(strings.Repeat(v+",", n-1)+v, ",") }
	mixedLen := numbers(rng, 5000, "4917", 8)
	mixedLen[4321] = "4917123"
	late := numbers(rng, 5000, "4917", 8)
	late[4999] = "X" + late[4999][1:] // the prefix ends at the last record
	le64 := func(n int, v func(i int) uint64) []byte {
		var b []byte
		for i := range n {
			b = binary.LittleEndian.AppendUint64(b, v(i))
		}
		return b
	}
	be := func(n, width int, v func(i int) uint64) []byte {
		var b []byte
		for i := range n {
			b = append(b, binary.BigEndian.AppendUint64(nil, v(i))[8-width:]...)
		}
		return b
	}
	small := func(i int) uint64 { // data_kb: mostly 0, else up to 2^20
		if rng.IntN(3) > 0 {
			return 0
		}
		return uint64(rng.IntN(1 << 20))
	}
	breakAt := func(b []byte, at int, c byte) []byte { b[at] ^= c; return b }
	cases := []struct {
		name string
		page []byte
		ok   bool
		// shared is the bytes every record has the same (the length
		// included), at offset at; stride 0 is a page of byte arrays.
		shared, at, stride int
	}{
		{"msisdn", plainPage(numbers(rng, 13000, "4917", 8)), true, 8, 0, 0},
		{"subscriber ids", plainPage(numbers(rng, 13000, "S00", 5)), true, 7, 0, 0},
		{"no prefix", plainPage(numbers(rng, 3000, "", 9)), true, 4, 0, 0},
		{"prefix broken by the last", plainPage(late), true, 4, 0, 0},
		{"one value", plainPage(same(1000, "S0012345")), true, 11, 0, 0},
		{"one-byte values", plainPage(same(100, "x")), true, 4, 0, 0},
		{"tails with extra bits", plainPage(numbers(rng, 2000, "ab", 60)), true, 6, 0, 0},
		{"shared bytes with extra bits", plainPage(numbers(rng, 2000, strings.Repeat("p", 100), 5)), true, 104, 0, 0},
		{"longest", plainPage(numbers(rng, 700, "", fixedMaxStride-4)), true, 4, 0, 0},
		{"a full block", plainPage(numbers(rng, zstdMaxBlock/16, "4917", 8)), true, 8, 0, 0},
		{"a block and one", plainPage(numbers(rng, zstdMaxBlock/16+1, "4917", 8)), true, 8, 0, 0},
		{"1 MiB", plainPage(numbers(rng, 1<<16, "4917", 8)), true, 8, 0, 0},
		{"fewest", plainPage(numbers(rng, fixedMinRecords, "4917", 8)), true, 8, 0, 0},
		{"too few", plainPage(numbers(rng, fixedMinRecords-1, "4917", 8)), false, 0, 0, 0},
		{"too long", plainPage(numbers(rng, 700, "", fixedMaxStride-3)), false, 0, 0, 0},
		{"lengths differ", plainPage(mixedLen), false, 0, 0, 0},
		{"empty values", plainPage(same(1000, "")), false, 0, 0, 0},
		{"cut in a record", plainPage(numbers(rng, 1000, "4917", 8))[:16*1000-3], false, 0, 0, 0},
		{"not a page", bytes.Repeat([]byte{0xff}, 4096), false, 0, 0, 0},
		{"short", []byte{1, 0, 0, 0, 'a'}, false, 0, 0, 0},
		{"int64s", le64(13000, small), true, 5, 3, 8},
		{"int64s, the last one large", breakAt(le64(13000, small), 13000*8-1, 1), true, 4, 3, 8},
		{"int64s, the first one large", breakAt(le64(13000, small), 6, 1), true, 3, 3, 8},
		{"decimals of 6 bytes", be(13000, 6, small), true, 3, 0, 6},
		{"int32s", le64(5000, func(i int) uint64 { return uint64(i%100) | uint64(i%100)<<32 }), true, 3, 1, 4},
		{"a window inside", le64(4000, func(i int) uint64 { return uint64(rng.IntN(256)) | 0x1234567800<<8 | uint64(rng.IntN(256))<<56 }), true, 6, 1, 8},
		{"all one value", le64(1000, func(int) uint64 { return 42 }), true, 7, 0, 8},
		{"a block and one of int64s", le64(zstdMaxBlock/8+1, small), true, 5, 3, 8},
		{"1 MiB of int64s", le64(1<<17, small), true, 5, 3, 8},
		{"random int64s", le64(5000, func(int) uint64 { return rng.Uint64() }), false, 0, 0, 8},
		{"two bytes shared", le64(5000, func(int) uint64 { return rng.Uint64() >> 16 }), false, 0, 0, 8},
		{"cut in a value", le64(5000, small)[:5000*8-1], false, 0, 0, 8},
		{"too few values", le64(fixedMinRecords-1, small), false, 0, 0, 8},
		{"fewest values", le64(fixedMinRecords, small), true, 5, 3, 8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ok {
				var at, shared int
				if tc.stride == 0 {
					_, shared, _ = fixedShape(tc.page)
				} else {
					at, shared, _ = rawShape(tc.page, tc.stride)
				}
				if shared != tc.shared || at != tc.at {
					t.Errorf("%d shared bytes at %d, want %d at %d", shared, at, tc.shared, tc.at)
				}
			}
			frame := framed(t, "fixedFrame", func(dst []byte) ([]byte, bool) { return fixedFrame(dst, tc.page, tc.stride) }, tc.ok)
			if frame != nil {
				decodes(t, frame, tc.page)
				// Every page here codes to well under its size (all raw
				// blocks would decode too).
				if len(frame) > len(tc.page)*3/4 {
					t.Errorf("frame of %d bytes for a page of %d", len(frame), len(tc.page))
				}
			}
		})
	}
}

// The codec levels keep the table's level apart from the codec, and a
// level of zstd's own stays one.
func TestSplitLevel(t *testing.T) {
	for _, tc := range []struct {
		level int
		codec pageCodec
		base  int
	}{
		{1, 0, 1},
		{-1, 0, -1},
		{22, 0, 22},
		{-1 << 31, 0, -1 << 31},
		{hexLevel(1), hexCodec, 1},
		{hexLevel(compress.DefaultCompressionLevel), hexCodec, compress.DefaultCompressionLevel},
		{codecLevel(fixedCodec, 3), fixedCodec, 3},
		{codecLevel(fixedCodec, -7), fixedCodec, -7},
		{codecLevel(strideCodecs+8, 1), strideCodecs + 8, 1},
		{codecLevel(lastCodec, -1), lastCodec, -1},
		{codecLevel(lastCodec+1, 1), 0, codecLevel(lastCodec+1, 1)},
	} {
		if c, base := splitLevel(tc.level); c != tc.codec || base != tc.base {
			t.Errorf("splitLevel(%d) = %d, %d; want %d, %d", tc.level, c, base, tc.codec, tc.base)
		}
	}
}

// BenchmarkFixedFrame compares fixedFrame with zstd's fastest level (the
// tables' other columns) on pages like a crm.cdr data file's msisdn and
// subscriber_id (13,000 values): time a byte, and the frame's size.
func BenchmarkFixedFrame(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	codec, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		b.Fatal(err)
	}
	for _, pg := range []struct {
		name string
		page []byte
	}{
		{"msisdn", plainPage(numbers(rng, 13000, "4917", 8))},
		{"subscriber_id", plainPage(numbers(rng, 13000, "S00", 5))},
	} {
		for _, lv := range []struct {
			name  string
			level int
		}{{"zstd-level-1", 1}, {"fixedFrame", codecLevel(fixedCodec, 1)}} {
			b.Run(fmt.Sprintf("%s/%s", pg.name, lv.name), func(b *testing.B) {
				b.SetBytes(int64(len(pg.page)))
				var out []byte
				for range b.N {
					out = codec.EncodeLevel(out[:0], pg.page, lv.level)
				}
				b.ReportMetric(float64(len(out)), "B/frame")
			})
		}
	}
}

// A column's fixed-width codec follows its type: byte arrays after their
// lengths, integers, dates and timestamps of their width, decimals of the
// width pqarrow gives them; other types and unknown columns have none.
func TestFixedCodecOf(t *testing.T) {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String},
		{Name: "i", Type: arrow.PrimitiveTypes.Int32},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32},
		{Name: "l", Type: arrow.PrimitiveTypes.Int64},
		{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_us},
		{Name: "money", Type: &arrow.Decimal128Type{Precision: 14, Scale: 4}},
		{Name: "wide", Type: &arrow.Decimal128Type{Precision: 38, Scale: 2}},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
	for _, tc := range []struct {
		col  string
		want pageCodec
	}{
		{"s", fixedCodec}, {"i", strideCodecs + 4}, {"d", strideCodecs + 4}, {"l", strideCodecs + 8},
		{"ts", strideCodecs + 8}, {"money", strideCodecs + 6}, {"wide", strideCodecs + 16},
		{"b", 0}, {"missing", 0},
	} {
		got, ok := fixedCodecOf(sc, tc.col)
		if got != tc.want || ok != (tc.want != 0) {
			t.Errorf("fixedCodecOf(%s) = %d, %v; want %d", tc.col, got, ok, tc.want)
		}
	}
}
