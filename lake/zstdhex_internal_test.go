package lake

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// hexWord tells every byte value in every lane of a word: a digit
// ('0'-'9', 'a'-'f') gives its value, anything else (uppercase, 'g',
// ':', '`', bytes past 0x7f) fails the word.
func TestHexWord(t *testing.T) {
	for lane := range 8 {
		for b := range 256 {
			v := uint64(0x3030303030303030)&^(0xff<<(8*lane)) | uint64(b)<<(8*lane)
			n, wrong := hexWord(v)
			ok := wrong == 0
			want, err := hex.DecodeString("0" + string(rune(b)))
			isDigit := err == nil && (b < 'A' || b > 'F')
			if ok != isDigit {
				t.Fatalf("lane %d byte %#x: ok = %v, want %v", lane, b, ok, isDigit)
			}
			if ok && byte(n>>(8*lane)) != want[0] {
				t.Fatalf("lane %d byte %q: value %d, want %d", lane, rune(b), byte(n>>(8*lane)), want[0])
			}
		}
	}
}

// hexFrame's frames decode (by klauspost/compress, and by the reference
// zstd when the machine has it) to the page they code, whatever the
// digits' count (a multiple of 8 or not, a block or many, a last block
// too short to code) and the bytes before them; the digits take half a
// byte each. Too many bytes before the digits, or too few digits, and it
// declines.
func TestHexFrameDecodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	digits := func(n int) []byte {
		raw := make([]byte, (n+1)/2)
		for i := range raw {
			raw[i] = byte(rng.Uint32())
		}
		return []byte(hex.EncodeToString(raw))[:n]
	}
	prefix := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32()) | 0x80 // never a digit
		}
		return b
	}
	// bad > 0 puts a byte that is not a digit at digit bad-1: in a
	// word, among a block's last digits, in a raw last block.
	cases := []struct {
		prefix, digits, bad int
		ok                  bool
	}{
		{40, 3 * hexMinBlock, 1000, false},
		{40, 3*hexMinBlock + 6, 3*hexMinBlock + 2, false},
		{40, zstdMaxBlock + 100, zstdMaxBlock + 50, false},
		{40, 2 * zstdMaxBlock, zstdMaxBlock + 1, false},
		{0, hexMinBlock, 0, true},
		{0, hexMinBlock + 5, 0, true},
		{1, 4096, 0, true},
		{40, zstdMaxBlock, 0, true},
		{40, zstdMaxBlock + hexMinBlock - 1, 0, true}, // the last block raw
		{1300, zstdMaxBlock + 3*hexMinBlock + 6, 0, true},
		{200, 1<<20 + 13, 0, true},
		{hexMaxPrefix, 5000, 0, true},
		{zstdMaxBlock + 7, 5000, 0, false},
		{hexMaxPrefix + 1, 5000, 0, false},
		{10, hexMinBlock - 1, 0, false},
		{0, 0, 0, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("prefix=%d/digits=%d/bad=%d", tc.prefix, tc.digits, tc.bad), func(t *testing.T) {
			src := append(prefix(tc.prefix), digits(tc.digits)...)
			if tc.bad > 0 {
				// Bytes near the digits' in value or bits, each declined.
				for _, c := range []byte("Ggw:/`@A \x00\x7f\xb0") {
					src[tc.prefix+tc.bad-1] = c
					if _, ok := hexFrame(nil, src); ok {
						t.Fatalf("hexFrame took a page with %q among its digits", c)
					}
				}
			}
			frame := framed(t, "hexFrame", func(dst []byte) ([]byte, bool) { return hexFrame(dst, src) }, tc.ok)
			if frame == nil {
				return
			}
			decodes(t, frame, src)
			// A last block too short to code is raw: up to hexMinBlock/2 more.
			if max := tc.prefix + tc.digits/2 + hexMinBlock/2 + 100*(tc.digits/zstdMaxBlock+2); len(frame) > max {
				t.Errorf("frame of %d bytes for %d digits after %d bytes, want at most %d", len(frame), tc.digits, tc.prefix, max)
			}
		})
	}
}

// framed runs a page coder (code appends a frame to dst or declines)
// with a dst that holds bytes already: it must say ok as want, append
// to dst, and append nothing when it declines. It returns the frame, nil
// when the coder declined.
func framed(t *testing.T, name string, code func(dst []byte) ([]byte, bool), want bool) []byte {
	t.Helper()
	head := []byte("kept")
	out, ok := code(head)
	if ok != want {
		t.Fatalf("%s ok = %v, want %v", name, ok, want)
	}
	if !bytes.HasPrefix(out, head) {
		t.Fatalf("%s did not append to dst", name)
	}
	if !ok {
		if len(out) != len(head) {
			t.Errorf("%s declined but appended %d bytes", name, len(out)-len(head))
		}
		return nil
	}
	return out[len(head):]
}

// zstdDecoder is klauspost/compress's, shared by the tests.
var zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
	dec, err := zstd.NewReader(nil)
	if err != nil {
		panic(err)
	}
	return dec
})

// decodes checks that klauspost/compress, and the reference zstd when the
// machine has it, decode frame to page.
func decodes(t *testing.T, frame, page []byte) {
	t.Helper()
	if got, err := zstdDecoder().DecodeAll(frame, nil); err != nil || !bytes.Equal(got, page) {
		t.Fatalf("klauspost decodes %d bytes (err %v), want the %d of the page", len(got), err, len(page))
	}
	if zstdCLI, err := exec.LookPath("zstd"); err == nil {
		cmd := exec.Command(zstdCLI, "-d", "-c", "-q")
		cmd.Stdin = bytes.NewReader(frame)
		got, err := cmd.Output()
		if err != nil || !bytes.Equal(got, page) {
			t.Fatalf("zstd -d gives %d bytes (err %v), want the %d of the page", len(got), err, len(page))
		}
	}
}

// A page of hexLevel goes through hexFrame; one that is not digits falls
// back to the table's level, and both decode.
func TestPageZstdHexLevel(t *testing.T) {
	codec, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	hexPage := []byte(hex.EncodeToString(bytes.Repeat([]byte{0x5a, 0x3c, 0x01, 0xfe}, 5000)))
	var mixed []byte
	for i := range 5000 {
		mixed = binary.LittleEndian.AppendUint32(mixed, uint32(i))
		mixed = append(mixed, "0123456789abcdef"...)
	}
	for _, tc := range []struct {
		name  string
		page  []byte
		level int
		frame bool
	}{
		{"hex page", hexPage, hexLevel(1), true},
		{"hex page, default level", hexPage, hexLevel(compress.DefaultCompressionLevel), true},
		{"page not hex", mixed, hexLevel(1), false},
		{"hex page at level 1", hexPage, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := codec.EncodeLevel(nil, tc.page, tc.level)
			want, _ := hexFrame(nil, tc.page)
			if got := bytes.Equal(out, want); got != tc.frame {
				t.Errorf("written by hexFrame = %v, want %v", got, tc.frame)
			}
			got, err := codec.(compress.ErrorCodec).DecodeWithError(nil, out)
			if err != nil || !bytes.Equal(got, tc.page) {
				t.Fatalf("decodes to %d bytes (err %v), want the page's %d", len(got), err, len(tc.page))
			}
		})
	}
}

// BenchmarkHexFrame compares hexFrame with zstd's fastest level (the
// tables' other columns) on a page of 1 MiB of random digits after 40
// bytes of lengths: time a byte, and the frame's size (B/frame).
func BenchmarkHexFrame(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	raw := make([]byte, 1<<19)
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	page := append(bytes.Repeat([]byte{0}, 40), hex.EncodeToString(raw)...)
	codec, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		b.Fatal(err)
	}
	for _, lv := range []struct {
		name  string
		level int
	}{{"zstd-level-1", 1}, {"hexFrame", hexLevel(1)}} {
		b.Run(lv.name, func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			var out []byte
			for range b.N {
				out = codec.EncodeLevel(out[:0], page, lv.level)
			}
			b.ReportMetric(float64(len(out)), "B/frame")
		})
	}
}
