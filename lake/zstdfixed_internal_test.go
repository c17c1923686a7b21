package lake

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/zstd"
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
// record, it declines.
func TestFixedFrameDecodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	same := func(n int, v string) []string { return strings.Split(strings.Repeat(v+",", n-1)+v, ",") }
	mixedLen := numbers(rng, 5000, "4917", 8)
	mixedLen[4321] = "4917123"
	late := numbers(rng, 5000, "4917", 8)
	late[4999] = "X" + late[4999][1:] // the prefix ends at the last record
	cases := []struct {
		name string
		page []byte
		ok   bool
		// shared is the bytes every record starts with (length included).
		shared int
	}{
		{"msisdn", plainPage(numbers(rng, 13000, "4917", 8)), true, 8},
		{"subscriber ids", plainPage(numbers(rng, 13000, "S00", 5)), true, 7},
		{"no prefix", plainPage(numbers(rng, 3000, "", 9)), true, 4},
		{"prefix broken by the last", plainPage(late), true, 4},
		{"one value", plainPage(same(1000, "S0012345")), true, 11},
		{"one-byte values", plainPage(same(100, "x")), true, 4},
		{"tails with extra bits", plainPage(numbers(rng, 2000, "ab", 60)), true, 6},
		{"shared bytes with extra bits", plainPage(numbers(rng, 2000, strings.Repeat("p", 100), 5)), true, 104},
		{"longest", plainPage(numbers(rng, 700, "", fixedMaxStride-4)), true, 4},
		{"a full block", plainPage(numbers(rng, zstdMaxBlock/16, "4917", 8)), true, 8},
		{"a block and one", plainPage(numbers(rng, zstdMaxBlock/16+1, "4917", 8)), true, 8},
		{"1 MiB", plainPage(numbers(rng, 1<<16, "4917", 8)), true, 8},
		{"fewest", plainPage(numbers(rng, fixedMinRecords, "4917", 8)), true, 8},
		{"too few", plainPage(numbers(rng, fixedMinRecords-1, "4917", 8)), false, 0},
		{"too long", plainPage(numbers(rng, 700, "", fixedMaxStride-3)), false, 0},
		{"lengths differ", plainPage(mixedLen), false, 0},
		{"empty values", plainPage(same(1000, "")), false, 0},
		{"cut in a record", plainPage(numbers(rng, 1000, "4917", 8))[:16*1000-3], false, 0},
		{"not a page", bytes.Repeat([]byte{0xff}, 4096), false, 0},
		{"short", []byte{1, 0, 0, 0, 'a'}, false, 0},
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	zstdCLI, _ := exec.LookPath("zstd")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ok {
				if _, shared, _ := fixedShape(tc.page); shared != tc.shared {
					t.Errorf("shared bytes %d, want %d", shared, tc.shared)
				}
			}
			head := []byte("kept")
			out, ok := fixedFrame(head, tc.page)
			if ok != tc.ok {
				t.Fatalf("fixedFrame ok = %v, want %v", ok, tc.ok)
			}
			if !bytes.HasPrefix(out, head) {
				t.Fatalf("fixedFrame did not append to dst")
			}
			if !ok {
				if len(out) != len(head) {
					t.Errorf("fixedFrame declined but appended %d bytes", len(out)-len(head))
				}
				return
			}
			frame := out[len(head):]
			if got, err := dec.DecodeAll(frame, nil); err != nil || !bytes.Equal(got, tc.page) {
				t.Fatalf("klauspost decodes %d bytes (err %v), want the %d of the page", len(got), err, len(tc.page))
			}
			if zstdCLI != "" {
				cmd := exec.Command(zstdCLI, "-d", "-c", "-q")
				cmd.Stdin = bytes.NewReader(frame)
				got, err := cmd.Output()
				if err != nil || !bytes.Equal(got, tc.page) {
					t.Fatalf("zstd -d gives %d bytes (err %v), want the %d of the page", len(got), err, len(tc.page))
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
		{codecLevel(fixedCodec+1, 1), 0, codecLevel(fixedCodec+1, 1)},
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
