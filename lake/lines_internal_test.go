package lake

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// split's fast path for lines without quotes cuts them as the quoted
// path does: same fields, same "more" at every limit, empty fields at
// either end included.
func TestSplitUnquotedMatchesQuoted(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte("ab,,x1 ")
	var fast, slow fieldSplitter
	for n := range 20_000 {
		line := make([]byte, rng.IntN(24))
		for i := range line {
			line[i] = alphabet[rng.IntN(len(alphabet))]
		}
		limit := 1 + rng.IntN(8)
		f, fm, fr := fast.split(line, limit)
		sl, sm, sr := slow.splitQuoted(line, limit)
		if fm != sm || fr != sr || !slices.Equal(f, sl) {
			t.Fatalf("line %d: split(%q, %d) = %q, %v, %q; splitQuoted = %q, %v, %q", n, line, limit, f, fm, fr, sl, sm, sr)
		}
	}
}

// splitPlain, the one-pass split of the usual line, gives split's fields
// and more for every line without a NUL, a CR or a quote, tells a line
// with a byte at or above 0x80, and gives up on every other line; so do
// both its ways, eight bytes at a time and (where the CPU has AVX2) 32,
// for lines shorter and longer than a block, alone in their buffer or
// followed in it by bytes (commas, quotes, high bytes) that are not the
// line's.
func TestSplitPlainMatchesSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	alphabet := []byte("ab,,,x1 -,\xfc\t!#\x01\"\r\x00")
	var fast, slow fieldSplitter
	ways := append([]splitWay{{"splitPlain", fast.splitPlain, 0}}, splitWays(&fast)...)
	for n := range 60_000 {
		size := rng.IntN(40)
		if n%2 == 1 {
			size = rng.IntN(200)
		}
		buf := make([]byte, size+rng.IntN(3)*rng.IntN(40))
		for i := range buf {
			// mostly plain bytes, so most lines take the fast path
			if rng.IntN(20) == 0 || i >= size {
				buf[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				buf[i] = alphabet[rng.IntN(9)]
			}
		}
		line := buf[:size]
		limit := 1 + rng.IntN(12)
		if n%3 == 0 {
			limit = 1 + rng.IntN(40)
		}
		special := bytes.ContainsAny(line, "\x00\r\"")
		high := slices.ContainsFunc(line, func(c byte) bool { return c >= 0x80 })
		sl, sm, sr := slow.split(line, limit)
		for _, w := range ways {
			if size < w.min {
				continue
			}
			fm, kind := w.split(line, limit)
			if special != (kind == plainNot) {
				t.Fatalf("line %d: %s(%q) kind %d, want plainNot %v", n, w.name, line, kind, special)
			}
			if special {
				continue
			}
			if high != (kind == plainUTF8) {
				t.Fatalf("line %d: %s(%q) kind %d, want plainUTF8 %v", n, w.name, line, kind, high)
			}
			f := recordFields(fast.line, fast.offs)
			if fm != sm || sr != "" || !slices.Equal(f, sl) {
				t.Fatalf("line %d: %s(%q, %d) = %q, %v; split = %q, %v, %q", n, w.name, line, limit, f, fm, sl, sm, sr)
			}
		}
	}
}

// splitWay is one of splitPlain's ways, for lines of at least min bytes.
type splitWay struct {
	name  string
	split func(line []byte, limit int) (bool, int)
	min   int
}

// splitWays are the ways s can split a plain line on this CPU.
func splitWays(s *fieldSplitter) []splitWay {
	ways := []splitWay{{"splitWords", s.splitWords, 0}}
	if haveAVX2 {
		ways = append(ways, splitWay{"splitWide", s.splitWide, 32})
	}
	return ways
}

// recordFields are the fields of a record's line and offsets, as get
// gives them.
func recordFields(line string, offs []int32) []string {
	idx := make([]int, len(offs))
	for i := range idx {
		idx[i] = i
	}
	r := record{line: line, offs: offs, idx: idx}
	var f []string
	for c := range idx {
		f = append(f, r.get(c))
	}
	return f
}

// pack gives a record the fields split found, whatever their bytes.
func TestSplitterPack(t *testing.T) {
	for _, fields := range [][]string{{""}, {"a"}, {"", ""}, {"a,b", "", "c\"d", ",,"}, {"x", "yy", "zzz"}} {
		var s fieldSplitter
		s.pack(fields)
		if got := recordFields(s.line, s.offs); !slices.Equal(got, fields) {
			t.Errorf("pack(%q): the record's fields are %q", fields, got)
		}
	}
}

// oldLineReader is the lineReader of before the chunks, on bufio: the
// reference TestLineReaderMatchesBufio compares with.
type oldLineReader struct {
	br       *bufio.Reader
	max      int
	line     int64
	consumed int64
	head     []byte
}

func (lr *oldLineReader) next() (line []byte, long bool, err error) {
	b, err := lr.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		lr.head = append(lr.head[:0], b[:min(len(b), headKeep)]...)
		lr.consumed += int64(len(b))
		for errors.Is(err, bufio.ErrBufferFull) {
			b, err = lr.br.ReadSlice('\n')
			lr.consumed += int64(len(b))
		}
		if err != nil && err != io.EOF {
			return nil, false, err
		}
		lr.line++
		return lr.head, true, nil
	}
	if err != nil && (err != io.EOF || len(b) == 0) {
		return nil, false, err
	}
	lr.consumed += int64(len(b))
	lr.line++
	b = bytes.TrimSuffix(b, []byte{'\n'})
	b = bytes.TrimSuffix(b, []byte{'\r'})
	if len(b) > lr.max {
		return b[:min(len(b), headKeep)], true, nil
	}
	return b, false, nil
}

// choppyReader returns its input in reads of random sizes, some empty,
// and then err.
type choppyReader struct {
	b   []byte
	rng *rand.Rand
	err error
}

func (r *choppyReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, r.err
	}
	n := min(len(p), len(r.b), r.rng.IntN(300))
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

// The chunked lineReader returns the lines, long flags, counts and errors
// the bufio one did, whatever the read sizes, line lengths around the
// limit, CRLF and a last line without a terminator; and it reads into no
// more than two chunks and the scratch one, however long the input.
func TestLineReaderMatchesBufio(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for n := range 400 {
		max := 14 + rng.IntN(60) // bufio buffers at least 16 bytes: max+2
		var in []byte
		for range rng.IntN(40) {
			ln := rng.IntN(max + 5)
			if rng.IntN(50) == 0 {
				ln = chunkBytes + rng.IntN(3*max) // across a chunk
			}
			for range ln {
				in = append(in, "ab\r,"[rng.IntN(4)])
			}
			switch rng.IntN(4) {
			case 0:
				in = append(in, '\r', '\n')
			default:
				in = append(in, '\n')
			}
		}
		if rng.IntN(2) == 0 && len(in) > 0 {
			in = in[:len(in)-1-rng.IntN(min(len(in), 3))] // an unterminated last line
		}
		readErr := io.EOF
		if rng.IntN(8) == 0 {
			readErr = errors.New("disk on fire")
		}
		lr := newLineReader(&choppyReader{b: in, rng: rng, err: readErr}, max)
		old := &oldLineReader{br: bufio.NewReaderSize(&choppyReader{b: in, rng: rng, err: readErr}, max+2), max: max}
		chunks := map[*byte]bool{}
		for i := 0; ; i++ {
			l, long, err := lr.next()
			ol, olong, oerr := old.next()
			if !bytes.Equal(l, ol) || long != olong || !errors.Is(err, oerr) || lr.line != old.line || lr.consumed != old.consumed {
				t.Fatalf("input %d (max %d) line %d: next = %q (%d), %v, %v (line %d, consumed %d); bufio gives %q (%d), %v, %v (line %d, consumed %d)", n, max,
					i, l, len(l), long, err, lr.line, lr.consumed, ol, len(ol), olong, oerr, old.line, old.consumed)
			}
			if err != nil {
				break
			}
			if len(lr.chunk) > 0 {
				chunks[unsafe.SliceData(lr.chunk)] = true
			}
		}
		if len(chunks) > 3 {
			t.Fatalf("input %d (%d bytes): lines read into %d chunks, want at most 3 (two and the scratch one)", n, len(in), len(chunks))
		}
	}
}

// skipRest counts the lines left, as many as next would have returned.
func TestLineReaderSkipRest(t *testing.T) {
	for _, tc := range []struct {
		in   string
		read int // lines read before skipping
	}{
		{"a\nb\nc\n", 1}, {"a\nb\nc", 1}, {"a\nb\nc", 0}, {"a\n", 1}, {"", 0}, {"a\r\nb\r\n\n\nc", 2},
		{strings.Repeat("x,y\n", 100_000) + "z", 3},
	} {
		lr := newLineReader(strings.NewReader(tc.in), 64)
		for range tc.read {
			if _, _, err := lr.next(); err != nil {
				t.Fatalf("next: %v", err)
			}
		}
		got, stopped, err := lr.skipRest(func() bool { return false })
		all := newLineReader(strings.NewReader(tc.in), 64)
		want := int64(0)
		for {
			if _, _, err := all.next(); err != nil {
				break
			}
			want++
		}
		want -= int64(tc.read)
		if got != want || stopped || err != nil || lr.line != all.line || lr.consumed != int64(len(tc.in)) {
			t.Errorf("skipRest after %d lines of %.20q = %d, %v, %v (line %d, consumed %d); want %d lines (line %d, consumed %d)",
				tc.read, tc.in, got, stopped, err, lr.line, lr.consumed, want, all.line, len(tc.in))
		}
	}
}

// stuckReader returns nothing, and no error, forever.
type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

// A reader that makes no progress ends the lines with io.ErrNoProgress, as
// bufio's did, rather than spinning.
func TestLineReaderNoProgress(t *testing.T) {
	lr := newLineReader(io.MultiReader(strings.NewReader("a,b\nc"), stuckReader{}), 64)
	var lines []string
	var err error
	for {
		var l []byte
		if l, _, err = lr.next(); err != nil {
			break
		}
		lines = append(lines, string(l))
	}
	if !errors.Is(err, io.ErrNoProgress) || !slices.Equal(lines, []string{"a,b"}) {
		t.Errorf("lines %q, error %v; want [a,b] and %v", lines, err, io.ErrNoProgress)
	}
}

// BenchmarkSplitPlain splits a line of the generator's CDR export both
// ways.
func BenchmarkSplitPlain(b *testing.B) {
	line := []byte("C2026080100000001,S0014602,491777177797,4915112345678,offnet,2026-08-01T00:00:06Z,148,voice,out,false,false,CELL0332,Capital,0,0.2081,North\nC2026")
	line = line[:bytes.IndexByte(line, '\n')]
	var s fieldSplitter
	for _, w := range splitWays(&s) {
		b.Run(w.name, func(b *testing.B) {
			for range b.N {
				if _, kind := w.split(line, 16); kind != plainASCII {
					b.Fatal("not a plain line")
				}
			}
		})
	}
}
