package lake

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// The export formats are line-oriented: one record per physical line, ended
// by LF or CRLF, and no format allows a line break inside a quoted value.
// Reading line by line (rather than with encoding/csv, whose quoted fields
// may run across lines) means a broken quote costs only its own line, every
// physical line is accounted for by its number, and an over-long line is
// skipped without being buffered.

// lineReader returns the physical lines of an input one by one.
type lineReader struct {
	br  *bufio.Reader
	max int
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

func newLineReader(r io.Reader, maxLine int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, maxLine+2), max: maxLine}
}

// next returns the next line without its LF or CRLF. The slice is valid
// until the next call. A line longer than the limit is read to its end
// without being kept: long is true and line holds at most its first
// headKeep bytes. At the end of the input err is io.EOF; a read error is
// returned as is.
func (lr *lineReader) next() (line []byte, long bool, err error) {
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

// skipRest reads the rest of the input without keeping it and returns how
// many lines it held. stop is called between chunks; when it returns true
// the count ends early with stopped set.
func (lr *lineReader) skipRest(stop func() bool) (lines int64, stopped bool, err error) {
	last := byte('\n')
	for {
		if stop() {
			return lines, true, nil
		}
		b, err := lr.br.Peek(lr.br.Size())
		if len(b) > 0 {
			lines += int64(bytes.Count(b, []byte{'\n'}))
			last = b[len(b)-1]
			lr.consumed += int64(len(b))
			if _, derr := lr.br.Discard(len(b)); derr != nil {
				return lines, false, derr
			}
		}
		if err == io.EOF {
			if last != '\n' {
				lines++ // a last line without a terminator
			}
			lr.line += lines
			return lines, false, nil
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return lines, false, err
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
