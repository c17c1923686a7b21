package lake

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/bits"
	"strings"
	"unsafe"
)

// The export formats are line-oriented: one record per physical line, ended
// by LF or CRLF, and no format allows a line break inside a quoted value.
// Reading line by line (rather than with encoding/csv, whose quoted fields
// may run across lines) means a broken quote costs only its own line, every
// physical line is accounted for by its number, and an over-long line is
// skipped without being buffered.

// lineReader returns the physical lines of an input one by one.
//
// A line it returns, and any string made of it with unsafe.String, is valid
// until the next call to next or skipRest: it is a slice of the reader's
// chunk, without a copy or an allocation per line. The reader keeps two
// chunks and reads into the one whose lines were all returned before that
// call, so the input is read into memory that stays mapped (a fresh 1 MiB
// chunk per MiB of input cost a page fault per 4 KiB in the read: ~2 s of
// system time for a 1.2 GB file). A value kept past its row (a report
// entry, a map key) must be cloned.
type lineReader struct {
	r   io.Reader
	max int
	// chunk holds the input from byte consumed on; chunk[pos:end] is not
	// returned yet.
	chunk    []byte
	pos, end int
	// spare is the chunk before chunk, whose lines were all returned
	// before the current call: the next chunk to read into.
	spare []byte
	// scratch is a chunk reused for bytes skipped (see drop); inScratch
	// tells that chunk is scratch.
	scratch   []byte
	inScratch bool
	// rerr is the error the last read returned (io.EOF at the end).
	rerr error
	// line is the number (from 1) of the line last returned.
	line int64
	// consumed counts the bytes of the lines returned so far, terminators
	// included.
	consumed int64
	// head keeps the start of the last over-long line (up to headKeep bytes)
	// for the file-shape checks of a header.
	head []byte
}

// headKeep is how much of an over-long line is kept for file-shape checks.
const headKeep = 4096

// chunkBytes is the size of lineReader's chunks: a 1 MiB read holds
// thousands of lines, and a new chunk copies only the line that was cut.
// Tests make it small, so that chunks are reused many times a file.
var chunkBytes = 1 << 20

func newLineReader(r io.Reader, maxLine int) *lineReader {
	return &lineReader{r: r, max: maxLine}
}

// fill reads more input after chunk[pos:end]: into the chunk's free room
// (no line returned holds those bytes), or when it has none into the spare
// chunk, which holds the unread bytes first (the full chunk becomes the
// spare: the line returned last is in it, and fill runs in the call after).
// It reports whether it read anything.
func (lr *lineReader) fill() bool {
	if lr.rerr != nil {
		return false
	}
	if lr.end == len(lr.chunk) {
		rest := lr.end - lr.pos // less than max+2: a longer line is skipped
		c := lr.takeSpare()
		copy(c, lr.chunk[lr.pos:lr.end])
		lr.spare, lr.chunk, lr.pos, lr.end = lr.chunk, c, 0, rest
	}
	for range 100 { // as bufio, a reader that returns nothing 100 times is stuck
		n, err := lr.r.Read(lr.chunk[lr.end:])
		lr.end += n
		if err != nil {
			lr.rerr = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	lr.rerr = io.ErrNoProgress
	return false
}

// next returns the next line without its LF or CRLF. The slice is never
// written again (see lineReader). A line longer than the limit is read to
// its end without being kept: long is true and line holds at most its
// first headKeep bytes. At the end of the input err is io.EOF; a read
// error is returned as is.
func (lr *lineReader) next() (line []byte, long bool, err error) {
	from := lr.pos // where the search for the line's end resumes
	for {
		if i := bytes.IndexByte(lr.chunk[from:lr.end], '\n'); i >= 0 {
			end := from + i
			b := lr.chunk[lr.pos:end]
			lr.consumed += int64(end + 1 - lr.pos)
			lr.pos = end + 1
			lr.line++
			if len(b) >= lr.max+2 {
				// As skipLong keeps it (before the chunks, a line
				// this long did not fit the reader's buffer).
				lr.head = append(lr.head[:0], b[:min(lr.max+2, headKeep)]...)
				return lr.head, true, nil
			}
			if n := len(b); n > 0 && b[n-1] == '\r' {
				b = b[:n-1]
			}
			if len(b) > lr.max {
				return b[:min(len(b), headKeep)], true, nil
			}
			return b, false, nil
		}
		if lr.end-lr.pos >= lr.max+2 {
			return lr.skipLong()
		}
		searched := lr.end - lr.pos // fill may move the unread bytes
		if !lr.fill() {
			if lr.rerr != io.EOF {
				return nil, false, lr.rerr
			}
			if lr.pos == lr.end {
				return nil, false, io.EOF
			}
			// The last line, without a terminator.
			b := lr.chunk[lr.pos:lr.end]
			lr.consumed += int64(len(b))
			lr.pos = lr.end
			lr.line++
			if n := len(b); b[n-1] == '\r' {
				b = b[:n-1]
			}
			if len(b) > lr.max {
				return b[:min(len(b), headKeep)], true, nil
			}
			return b, false, nil
		}
		from = lr.pos + searched
	}
}

// skipLong reads the rest of a line of more than max+1 bytes before its
// terminator, keeping its start in head.
func (lr *lineReader) skipLong() (line []byte, long bool, err error) {
	lr.head = append(lr.head[:0], lr.chunk[lr.pos:lr.pos+min(lr.max+2, headKeep)]...)
	for {
		if i := bytes.IndexByte(lr.chunk[lr.pos:lr.end], '\n'); i >= 0 {
			lr.consumed += int64(i + 1)
			lr.pos += i + 1
			lr.leaveScratch()
			break
		}
		lr.drop()
		if !lr.fill() {
			if lr.rerr != io.EOF {
				return nil, false, lr.rerr
			}
			lr.leaveScratch()
			break
		}
	}
	lr.line++
	return lr.head, true, nil
}

// drop counts the unread bytes as read without returning them; when the
// chunk is then full, reading goes on in the scratch chunk, reused, so a
// long line or a skipped rest costs no allocation.
func (lr *lineReader) drop() {
	lr.consumed += int64(lr.end - lr.pos)
	lr.pos = lr.end
	if lr.end == len(lr.chunk) {
		if lr.scratch == nil {
			lr.scratch = make([]byte, lr.chunkSize())
		}
		if !lr.inScratch {
			lr.spare = lr.chunk
		}
		lr.chunk, lr.pos, lr.end, lr.inScratch = lr.scratch, 0, 0, true
	}
}

// leaveScratch moves the unread bytes of the scratch chunk, the lines
// after a skipped one, to a chunk of their own: no line is made of the
// scratch chunk, which the next skip overwrites.
func (lr *lineReader) leaveScratch() {
	if !lr.inScratch {
		return
	}
	c := lr.takeSpare()
	n := copy(c, lr.chunk[lr.pos:lr.end])
	lr.chunk, lr.pos, lr.end, lr.inScratch = c, 0, n, false
}

// takeSpare returns the spare chunk, or a new one.
func (lr *lineReader) takeSpare() []byte {
	if c := lr.spare; c != nil {
		lr.spare = nil
		return c
	}
	return make([]byte, lr.chunkSize())
}

func (lr *lineReader) chunkSize() int { return max(chunkBytes, 2*(lr.max+2)) }

// skipRest reads the rest of the input without keeping it and returns how
// many lines it held. stop is called between chunks; when it returns true
// the count ends early with stopped set.
func (lr *lineReader) skipRest(stop func() bool) (lines int64, stopped bool, err error) {
	last := byte('\n')
	for {
		if stop() {
			return lines, true, nil
		}
		if b := lr.chunk[lr.pos:lr.end]; len(b) > 0 {
			lines += int64(bytes.Count(b, []byte{'\n'}))
			last = b[len(b)-1]
		}
		lr.drop()
		if !lr.fill() {
			if lr.rerr != io.EOF {
				return lines, false, lr.rerr
			}
			if last != '\n' {
				lines++ // a last line without a terminator
			}
			lr.line += lines
			return lines, false, nil
		}
	}
}

// Reasons a line is rejected before its values are looked at.
const (
	reasonUnclosedQuote = "malformed CSV: a quoted value is not closed on its line (values may not contain line breaks)"
	reasonBareQuote     = "malformed CSV: a quote character inside an unquoted value (quote the whole value and double the quote)"
	reasonAfterQuote    = "malformed CSV: text after a closing quote (a quote inside a quoted value must be doubled)"
	reasonNUL           = "line contains a NUL byte (binary data or a UTF-16/32 encoding)"
	reasonCR            = "line contains a carriage return (CR) that does not end it"
)

// fieldSplitter splits one line into fields, RFC 4180 quoting within the
// line. Its buffers are reused from line to line.
type fieldSplitter struct {
	buf    []byte
	ends   []int
	fields []string
	// line and offs are the fields splitPlain (or pack) found: field i
	// is line[offs[i-1]+1 : offs[i]] (from 0 for the first), the offsets
	// of the line's cuts, as a record holds them.
	line string
	offs []int32
	// room is line and the bytes after it in its buffer (to its
	// capacity): readable, never part of the row (see strCol.addIn).
	room string
}

// split returns the fields of line, at most limit of them: more is reported
// by more (the fields are then incomplete). A syntax error returns its
// reason. The fields share one string allocation per line and stay valid
// after the next call.
func (s *fieldSplitter) split(line []byte, limit int) (fields []string, more bool, reason string) {
	if bytes.IndexByte(line, '"') >= 0 {
		return s.splitQuoted(line, limit)
	}
	// No quote on the line (nearly every line): the fields are the line
	// cut at its commas, one string for them all, one scan per field.
	all := string(line)
	s.fields = s.fields[:0]
	for start := 0; ; {
		if len(s.fields) == limit {
			return s.fields, true, ""
		}
		j := strings.IndexByte(all[start:], ',')
		if j < 0 {
			s.fields = append(s.fields, all[start:])
			return s.fields, false, ""
		}
		s.fields = append(s.fields, all[start:start+j])
		start += j + 1
	}
}

// Kinds of line splitPlain finds.
const (
	// plainASCII: fields found, every byte below 0x80.
	plainASCII = iota
	// plainUTF8: fields found, some byte at or above 0x80 (the line may
	// not be valid UTF-8).
	plainUTF8
	// plainNot: the line has a NUL, a CR or a quote: no fields; the
	// caller checks it in full.
	plainNot
)

// Masks of the byte lanes of a uint64.
const (
	lanesLow7 = 0x7f7f7f7f7f7f7f7f
	lanesHigh = 0x8080808080808080
	lanesOne  = 0x0101010101010101
)

// zeroLanes has the high bit of each byte of v that is zero, and no other
// bit (exact, unlike the borrow trick, which also flags a 0x01 after a
// zero byte).
func zeroLanes(v uint64) uint64 { return ^(((v & lanesLow7) + lanesLow7) | v | lanesLow7) }

// splitPlain is split for the usual line, in one pass over its bytes, eight
// at a time: it cuts the line at its commas into s.line and s.offs (see
// fieldSplitter) and, when the line has a NUL, a CR or a quote (which the
// caller checks in full, in the order of the reasons), gives up with
// plainNot. s.line is the line itself, without a copy: the line must not
// be written again while the fields are used (a lineReader's lines are
// not, until its next call). Found this way, the fields and more are those
// split gives; the offsets are int32 (a line is at most MaxLineBytes), not
// strings, so cutting a field stores no pointer. limit is at least 1.
func (s *fieldSplitter) splitPlain(line []byte, limit int) (more bool, kind int) {
	if haveAVX2 && len(line) >= 32 {
		return s.splitWide(line, limit)
	}
	return s.splitWords(line, limit)
}

// splitWords is splitPlain eight bytes at a time.
func (s *fieldSplitter) splitWords(line []byte, limit int) (more bool, kind int) {
	f := s.begin(line, limit)
	var high uint64
	n, i := 0, 0
	for ; i+8 <= len(line) && n < limit; i += 8 {
		v := binary.LittleEndian.Uint64(line[i:])
		high |= v
		if special(v) {
			return false, plainNot
		}
		for c := zeroLanes(v ^ (',' * lanesOne)); c != 0; c &= c - 1 {
			f[n] = int32(i + bits.TrailingZeros64(c)>>3)
			n++
		}
	}
	for ; i < len(line) && n < limit; i++ {
		switch c := line[i]; c {
		case ',':
			f[n] = int32(i)
			n++
		case 0, '\r', '"':
			return false, plainNot
		default:
			high |= uint64(c)
		}
	}
	if n >= limit {
		// limit fields cut: there is more; the rest is only checked.
		more, n = true, limit
		for ; i+8 <= len(line); i += 8 {
			v := binary.LittleEndian.Uint64(line[i:])
			high |= v
			if special(v) {
				return false, plainNot
			}
		}
		for ; i < len(line); i++ {
			switch c := line[i]; c {
			case 0, '\r', '"':
				return false, plainNot
			default:
				high |= uint64(c)
			}
		}
	} else {
		f[n] = int32(len(line))
		n++
	}
	s.offs = f[:n]
	if high&lanesHigh != 0 {
		return more, plainUTF8
	}
	return more, plainASCII
}

// begin makes line the splitter's (s.line, s.room) and returns the
// slice for its cuts: room for limit fields and the seven more a word's
// commas may cut past them before the count is checked.
func (s *fieldSplitter) begin(line []byte, limit int) []int32 {
	s.line = unsafe.String(unsafe.SliceData(line), len(line))
	s.room = unsafe.String(unsafe.SliceData(line), cap(line))
	if cap(s.offs) < limit+8 {
		s.offs = make([]int32, limit+8)
	}
	return s.offs[:limit+8]
}

// splitWide is splitPlain 32 bytes at a time, with AVX2 (lineCutsAVX2),
// for a line of at least 32 bytes. The last block, when the line ends
// inside it, is read from the line's buffer past its end (masked off) if
// the buffer holds it, else byte by byte. In the 9.5M-row ingest's
// profile the split took 0.48 s this way, 0.9 to 1.1 s eight bytes at a
// time (whose loop over a word's commas mispredicts on real lines:
// BenchmarkSplitPlain's one line, 47 against 60 ns, hides that).
func (s *fieldSplitter) splitWide(line []byte, limit int) (more bool, kind int) {
	f := s.begin(line, limit)
	blocks, tail := len(line)/32, ^uint32(0)
	if r := len(line) % 32; r != 0 && cap(line)-len(line) >= 32-r {
		blocks, tail = blocks+1, 1<<r-1
	}
	n, special, high := lineCutsAVX2(unsafe.SliceData(line), blocks, tail, &f[0], limit)
	if special != 0 {
		return false, plainNot
	}
	i := min(blocks*32, len(line)) // the bytes after the blocks, if any
	for ; i < len(line); i++ {
		switch c := line[i]; c {
		case ',':
			if n < limit {
				f[n] = int32(i)
				n++
			}
		case 0, '\r', '"':
			return false, plainNot
		default:
			high |= uint32(c & 0x80)
		}
	}
	if n >= limit {
		more = true
	} else {
		f[n] = int32(len(line))
		n++
	}
	s.offs = f[:n]
	if high != 0 {
		return more, plainUTF8
	}
	return more, plainASCII
}

// pack puts fields (of split) into s.line and s.offs, as splitPlain
// would have cut them: one string, a byte between fields.
func (s *fieldSplitter) pack(fields []string) {
	s.buf, s.offs = s.buf[:0], s.offs[:0]
	for i, f := range fields {
		if i > 0 {
			s.buf = append(s.buf, ',')
		}
		s.buf = append(s.buf, f...)
		s.offs = append(s.offs, int32(len(s.buf)))
	}
	s.line = string(s.buf)
	s.room = s.line
}

// special tells whether the word v has a NUL, a CR or a quote. All three
// are below '#': one subtraction finds the words with no byte below it
// (nearly all; exact, as the lowest byte below it borrows from nothing),
// and only the others are checked byte value by byte value.
func special(v uint64) bool {
	if (v-'#'*lanesOne)&^v&lanesHigh == 0 {
		return false
	}
	return zeroLanes(v)|zeroLanes(v^('\r'*lanesOne))|zeroLanes(v^('"'*lanesOne)) != 0
}

// splitQuoted is split for a line with a quote character.
func (s *fieldSplitter) splitQuoted(line []byte, limit int) (fields []string, more bool, reason string) {
	s.buf, s.ends = s.buf[:0], s.ends[:0]
	i := 0
	for {
		if len(s.ends) == limit {
			more = true
			break
		}
		if i < len(line) && line[i] == '"' {
			i++
			for {
				j := bytes.IndexByte(line[i:], '"')
				if j < 0 {
					return nil, false, reasonUnclosedQuote
				}
				s.buf = append(s.buf, line[i:i+j]...)
				i += j + 1
				if i < len(line) && line[i] == '"' {
					s.buf = append(s.buf, '"')
					i++
					continue
				}
				break
			}
			if i < len(line) && line[i] != ',' {
				return nil, false, reasonAfterQuote
			}
		} else {
			end := len(line)
			if j := bytes.IndexByte(line[i:], ','); j >= 0 {
				end = i + j
			}
			f := line[i:end]
			if bytes.IndexByte(f, '"') >= 0 {
				return nil, false, reasonBareQuote
			}
			s.buf = append(s.buf, f...)
			i = end
		}
		s.ends = append(s.ends, len(s.buf))
		if i >= len(line) {
			break
		}
		i++ // the comma
	}
	all := string(s.buf)
	s.fields = s.fields[:0]
	start := 0
	for _, e := range s.ends {
		s.fields = append(s.fields, all[start:e])
		start = e
	}
	return s.fields, more, ""
}
