package lake

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// RowError is one rejected line of an export, or a range of consecutive
// lines rejected for the same reason, as written to the reject report.
type RowError struct {
	Line int64 `json:"line"`
	// LastLine is set when the entry is a range: lines Line to LastLine.
	LastLine int64  `json:"last_line,omitempty"`
	Column   string `json:"column,omitempty"`
	// Value is the rejected value (masked for personal columns).
	Value  string `json:"value,omitempty"`
	Reason string `json:"reason"`
}

// Lines is how many lines the entry stands for.
func (e RowError) Lines() int64 {
	if e.LastLine > e.Line {
		return e.LastLine - e.Line + 1
	}
	return 1
}

// FileError means the file as a whole cannot be ingested (unreadable,
// empty, wrong header, out of time); nothing of it is committed.
type FileError struct {
	Reason string
	Err    error
	// Status is the file's final status: StatusRejected when empty.
	Status string
}

func (e *FileError) Error() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}

func (e *FileError) Unwrap() error { return e.Err }

func (e *FileError) status() string {
	if e.Status == "" {
		return StatusRejected
	}
	return e.Status
}

// ParseStats is what parsing one file found. Every physical line is
// counted once: Lines = 1 (the header) + BlankLines + RowsOK +
// RowsDuplicate + RowsRejected (lines before the header, blank or not, count as blank or rejected).
type ParseStats struct {
	// Lines counts the physical lines of the file, the header included.
	Lines      int64
	BlankLines int64
	RowsOK     int64
	// RowsDuplicate counts good rows whose natural key was already in the
	// file or the table: not added, not rejected.
	RowsDuplicate int64
	// RowsRejected counts rejected data lines, those left unread after an
	// early quarantine included.
	RowsRejected int64
	// Unread counts the lines not validated after the file was certain to be
	// quarantined (part of RowsRejected).
	Unread int64
	// Errors lists rejected lines and line ranges, at most
	// Limits.ReportEntriesPerReason per column and reason.
	Errors []RowError
	// Warnings are file-level remarks that rejected nothing (ignored columns).
	Warnings []string
	// FileErr is set when the file as a whole could not be read.
	FileErr *FileError
	// byReason counts every rejected line by column and reason.
	byReason map[[2]string]*reasonCount
}

type reasonCount struct {
	lines   int64
	entries int
	last    int // index in Errors of the reason's last entry, -1 if not listed
}

// Parser reads one export file, validating each line, and yields Arrow
// batches of the good rows. It never holds more than a few batches of rows
// and one line of input in memory.
type Parser struct {
	Format    *Format
	BatchRows int
	Mem       memory.Allocator
	Limits    Limits
	ctx       fileContext
	Stats     ParseStats
	// inputBound is the most bytes the input can hold (0: unknown); with it
	// the parser stops as soon as the file is certain to be quarantined.
	inputBound int64
	// threshold is the quarantine threshold; early quarantine needs
	// inputBound too.
	threshold float64
	// deadline, when set, ends parsing with status failed once now() passes it.
	deadline time.Time
	margin   time.Duration
	now      func() time.Time
	// records, when set, sees the natural key of every good row.
	records recordFilter
	// recycle lets a columnar format's batches lend their buffers (see
	// bufPool): set only when the consumer of the batches releases every
	// reference it holds to them once it is done (writePartFiles).
	recycle bool
}

// recordFilter tells a good row whose record is already kept (in this file
// or the table) from a new one, which it then counts as kept.
type recordFilter interface {
	duplicate(day int64, id string) (bool, error)
	// keptIn tells that the record kept last went into partition part.
	keptIn(part int64)
}

// newParser returns a parser for one file of format f.
func newParser(f *Format, fc fileContext) *Parser {
	return &Parser{Format: f, BatchRows: 16 * 1024, Mem: memory.DefaultAllocator, Limits: DefaultLimits, ctx: fc, now: time.Now}
}

// openReader wraps r in a gzip reader when the key says .gz, bounded by the
// limits' size and ratio.
func openReader(r io.Reader, key string, lim Limits) (io.Reader, error) {
	if !strings.HasSuffix(strings.ToLower(key), ".gz") {
		return r, nil
	}
	cr := &countingReader{r: r}
	zr, err := gzip.NewReader(bufio.NewReaderSize(cr, 1<<20))
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FileError{Reason: "file is empty (0 bytes)"}
		}
		return nil, &FileError{Reason: "file has a .gz suffix but is not gzip data", Err: err}
	}
	return &inflateGuard{r: zr, compressed: cr, lim: lim}, nil
}

// PartBatch is a batch of good rows that all fall in one partition.
type PartBatch struct {
	Rec  arrow.RecordBatch
	Part int64
}

// maxBufferedBatches bounds the rows the parser holds across partitions:
// BatchRows times this. Past it, the fullest partition is emitted early.
const maxBufferedBatches = 4

// Batches parses r (already decompressed) and yields batches of good rows,
// each within one partition of the table. Rows of a partition are buffered
// until BatchRows of them are ready, so input sorted (or nearly sorted) by
// time gives one batch sequence per partition, and memory stays bounded
// whatever the order. When iteration ends, p.Stats holds the counts and
// errors; a file-level problem is yielded as an error and also kept in
// p.Stats.FileErr.
func (p *Parser) Batches(r io.Reader) iter.Seq2[PartBatch, error] {
	return func(yield func(PartBatch, error) bool) {
		lim := p.Limits.orDefault()
		st := &p.Stats
		fail := func(fe *FileError) {
			st.FileErr = fe
			yield(PartBatch{}, fe)
		}
		lr := newLineReader(r, lim.MaxLineBytes)
		defer func() { st.Lines = lr.line }()
		readFail := func(err error) {
			var fe *FileError
			if errors.As(err, &fe) {
				fail(fe)
				return
			}
			fail(readError(err, lr.line))
		}
		var split fieldSplitter
		// The header: the first line that is not blank.
		var header []string
		for {
			line, long, err := lr.next()
			if err == io.EOF {
				if lr.line == 0 {
					fail(&FileError{Reason: "file is empty: no header row"})
				} else {
					fail(&FileError{Reason: "file is empty: no header row, only blank lines"})
				}
				return
			}
			if err != nil {
				readFail(err)
				return
			}
			if len(line) == 0 && !long {
				st.BlankLines++
				continue
			}
			if msg := fileShape(line); msg != "" {
				fail(&FileError{Reason: msg})
				return
			}
			if long {
				fail(&FileError{Reason: fmt.Sprintf("the header (line %d) is longer than %d KiB, the longest line allowed: the file is not a %s export, or has no line breaks",
					lr.line, lim.MaxLineBytes>>10, p.Format.Table.Name)})
				return
			}
			fields, more, reason := split.split(line, lim.MaxHeaderColumns)
			switch {
			case reason != "":
				fail(&FileError{Reason: fmt.Sprintf("the header (line %d) is not valid CSV: %s", lr.line, reason)})
				return
			case more:
				fail(&FileError{Reason: fmt.Sprintf("the header (line %d) has more than %d columns, the most allowed", lr.line, lim.MaxHeaderColumns)})
				return
			}
			header = slices.Clone(fields)
			if fe := p.checkHeader(header, line); fe != nil {
				fail(fe)
				return
			}
			break
		}
		idx, fe := p.mapHeader(header)
		if fe != nil {
			fail(fe)
			return
		}
		sc, err := p.Format.ArrowSchema()
		if err != nil {
			fail(&FileError{Reason: "internal error", Err: err})
			return
		}
		parts := map[int64]*partBuilder{}
		// near holds the builders of the partitions a row went to last, by
		// the low bits of their keys (a day's buckets of crm.cdr, one slot
		// each): a map look-up a row was 0.18 s of the 9.5M-row file's 6.2 s
		// of parsing.
		var near [16]struct {
			part int64
			pb   *partBuilder
		}
		defer func() {
			for _, pb := range parts {
				if pb.rb != nil {
					pb.rb.Release()
				}
			}
		}()
		rows := p.Format.newRows(p.ctx)
		cols, columnar := rows.(columnRows)
		buffered := 0
		// A new partition's builder is sized like the batch emitted last
		// (rows, and bytes per row of each string column), so the columns
		// are not grown by doubling and copying as rows come. The open
		// builders reserve at most as many rows as the parser may buffer
		// (input spread over many partitions reserves little).
		lastRows, lastBytes, reserved := 0, make([]int, len(sc.Fields())), 0
		newBuilder := func() *partBuilder {
			n := min(lastRows, maxBufferedBatches*p.BatchRows-reserved)
			if columnar {
				pb := &partBuilder{cb: cols.newBatch(sc, max(n, 0), p.recycle)}
				if n > 0 {
					pb.reserved = n
					reserved += n
				}
				return pb
			}
			pb := &partBuilder{rb: array.NewRecordBuilder(p.Mem, sc)}
			if n <= 0 {
				return pb
			}
			pb.rb.Reserve(n)
			for i, b := range lastBytes {
				if sb, ok := pb.rb.Field(i).(*array.StringBuilder); ok && b > 0 {
					sb.ReserveData(int(int64(b) * int64(n) / int64(lastRows)))
				}
			}
			pb.reserved = n
			reserved += n
			return pb
		}
		emit := func(part int64) bool {
			pb := parts[part]
			buffered -= pb.rows
			reserved -= pb.reserved
			delete(parts, part)
			if s := &near[uint64(part)%uint64(len(near))]; s.pb == pb {
				s.pb = nil
			}
			lastRows = pb.rows
			var rec arrow.RecordBatch
			if pb.cb != nil {
				rec = pb.cb.record()
				return yield(PartBatch{Rec: rec, Part: part}, nil)
			}
			rec = pb.rb.NewRecordBatch()
			pb.rb.Release()
			for i, col := range rec.Columns() {
				if a, ok := col.(*array.String); ok {
					lastBytes[i] = len(a.ValueBytes())
				}
			}
			return yield(PartBatch{Rec: rec, Part: part}, nil)
		}
		nHeader := len(header)
		rec := &record{idx: idx}
		outOfTime := func() bool { return !p.deadline.IsZero() && !p.now().Before(p.deadline) }
		failed := func(line int64) *FileError {
			return &FileError{Status: StatusFailed, Reason: fmt.Sprintf(
				"out of time at line %d: less than %s was left before the function's deadline; nothing committed; deliver the file again, or split it into smaller files",
				line, p.margin)}
		}
		for n := 0; ; n++ {
			if n%1024 == 0 {
				if outOfTime() {
					fail(failed(lr.line))
					return
				}
				if p.certainlyQuarantined(lr.consumed, nHeader) {
					from := lr.line + 1
					unread, stopped, err := lr.skipRest(outOfTime)
					if stopped {
						fail(failed(lr.line))
						return
					}
					if err != nil {
						readFail(err)
						return
					}
					if unread > 0 {
						st.Unread = unread
						p.rejectRange(from, from+unread-1, "", fmt.Sprintf(
							"not validated: more than %.1f%% of the file's lines were certain to be rejected, so the file is quarantined", 100*p.threshold))
					}
					break
				}
			}
			line, long, err := lr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				readFail(err)
				return
			}
			at := lr.line
			switch {
			case long:
				p.reject(RowError{Line: at, Reason: fmt.Sprintf("line is longer than %d KiB, the longest allowed", lim.MaxLineBytes>>10)})
				continue
			case len(line) == 0:
				st.BlankLines++
				continue
			}
			// One pass finds the fields of the usual line; a line with a
			// NUL, a CR or a quote is checked in full, reasons in order.
			var more bool
			var kind int
			more, kind = split.splitPlain(line, nHeader)
			if kind == plainNot {
				switch {
				case bytes.IndexByte(line, 0) >= 0:
					p.reject(RowError{Line: at, Reason: reasonNUL})
					continue
				case bytes.IndexByte(line, '\r') >= 0:
					p.reject(RowError{Line: at, Reason: reasonCR})
					continue
				}
				fields, m, reason := split.split(line, nHeader)
				if reason != "" {
					p.reject(RowError{Line: at, Reason: reason})
					continue
				}
				split.pack(fields)
				more, kind = m, plainUTF8
			}
			rec.line, rec.room, rec.offs = split.line, split.room, split.offs
			switch {
			case more:
				p.reject(RowError{Line: at, Reason: fmt.Sprintf("row has more fields than the header's %d", nHeader)})
				continue
			case len(rec.offs) != nHeader:
				p.reject(RowError{Line: at, Reason: fmt.Sprintf("row has %d fields, the header has %d", len(rec.offs), nHeader)})
				continue
			}
			// The report keeps a value: a copy, not the line reader's chunk.
			if kind == plainUTF8 && !utf8.Valid(line) {
				if c := firstInvalidUTF8(rec); c >= 0 {
					name := p.Format.Columns[c].Name
					p.reject(RowError{Line: at, Column: name, Value: strings.Clone(reportValue(name, rec.get(c))), Reason: errNotUTF8.Error()})
					continue
				}
			}
			part, col, err := rows.parse(rec)
			if err != nil {
				name := p.Format.Columns[col].Name
				p.reject(RowError{Line: at, Column: name, Value: strings.Clone(reportValue(name, rec.get(col))), Reason: err.Error()})
				continue
			}
			if p.records != nil {
				dup, err := p.records.duplicate(rows.key())
				if err != nil {
					yield(PartBatch{}, err)
					return
				}
				if dup {
					st.RowsDuplicate++
					continue
				}
				p.records.keptIn(part)
			}
			slot := &near[uint64(part)%uint64(len(near))]
			pb := slot.pb
			if pb == nil || slot.part != part {
				if pb = parts[part]; pb == nil {
					pb = newBuilder()
					parts[part] = pb
				}
				slot.part, slot.pb = part, pb
			}
			if pb.cb != nil {
				pb.cb.add()
			} else {
				rows.appendTo(pb.rb)
			}
			pb.rows++
			pb.last = st.RowsOK
			buffered++
			st.RowsOK++
			if pb.rows == p.BatchRows {
				if !emit(part) {
					return
				}
			} else if buffered >= maxBufferedBatches*p.BatchRows {
				if !emit(victim(parts, st.RowsOK, p.BatchRows)) {
					return
				}
			}
		}
		if st.Unread > 0 {
			return // the file is quarantined: no batch is needed
		}
		// The rest, oldest partition first.
		keys := make([]int64, 0, len(parts))
		for k := range parts {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !emit(k) {
				return
			}
		}
	}
}

// certainlyQuarantined tells whether the lines rejected so far exceed the
// threshold even if every byte left formed good rows (each at least nHeader
// bytes: the commas and the line end).
func (p *Parser) certainlyQuarantined(consumed int64, nHeader int) bool {
	st := &p.Stats
	if p.inputBound <= 0 || st.RowsRejected == 0 {
		return false
	}
	left := max(p.inputBound-consumed, 0) / int64(max(nHeader, 1))
	return float64(st.RowsRejected) > p.threshold*float64(st.RowsOK+st.RowsDuplicate+st.RowsRejected+left)
}

// firstInvalidUTF8 returns the first format column whose value is not valid
// UTF-8, or -1 (the bad bytes are in an ignored column).
func firstInvalidUTF8(rec *record) int {
	for c, i := range rec.idx {
		if i >= 0 && !utf8.ValidString(rec.get(c)) {
			return c
		}
	}
	return -1
}

type partBuilder struct {
	// rb builds the batch, or cb for a columnRows parser.
	rb   *array.RecordBuilder
	cb   rowBatch
	rows int
	// reserved is the rows the builder was sized for.
	reserved int
	// last numbers the good row added last (ParseStats.RowsOK then).
	last int64
}

// victim is the partition to emit when the buffer is full: the one that
// got a row least recently if that was at least BatchRows good rows ago
// (with input sorted by time, a partition of a day that has ended, whose
// rows are all there), else the fullest (the first by key among equals).
// Fullest alone left each day's smaller partitions buffered while the next
// days filled up, and emitted them much later, each in a data file of its
// own: 1,136 files for the 736 partitions of the 9.5M-row benchmark file.
// Stalest alone, with rows that cycle through many days, emitted the
// partitions in the order of that cycle, a different day each time, so
// each batch went to a file of its own (27,817 files for 1M rows over 28
// days); fullest emits a day's partitions one after the other.
func victim(parts map[int64]*partBuilder, now int64, batchRows int) int64 {
	stale, at := int64(0), int64(-1)
	full, n := int64(0), -1
	for k, pb := range parts {
		if at < 0 || pb.last < at || (pb.last == at && k < stale) {
			stale, at = k, pb.last
		}
		if pb.rows > n || (pb.rows == n && k < full) {
			full, n = k, pb.rows
		}
	}
	if now-at >= int64(batchRows) {
		return stale
	}
	return full
}

func readError(err error, line int64) *FileError {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader):
		return &FileError{Reason: fmt.Sprintf("compressed data is truncated or corrupt after line %d", line), Err: err}
	default:
		return &FileError{Reason: fmt.Sprintf("reading the file failed after line %d", line), Err: err}
	}
}

// reject counts one rejected line and lists it unless its reason's list is
// full. A line right after the reason's last listed entry, both without a
// value, extends that entry into a range.
func (p *Parser) reject(e RowError) { p.rejectRange(e.Line, e.Line, e.Column, e.Reason, e.Value) }

func (p *Parser) rejectRange(from, to int64, column, reason string, value ...string) {
	st := &p.Stats
	lim := p.Limits.orDefault()
	n := to - from + 1
	st.RowsRejected += n
	if st.byReason == nil {
		st.byReason = map[[2]string]*reasonCount{}
	}
	key := [2]string{column, reason}
	rc := st.byReason[key]
	if rc == nil {
		rc = &reasonCount{last: -1}
		st.byReason[key] = rc
	}
	rc.lines += n
	v := ""
	if len(value) > 0 {
		v = value[0]
	}
	if rc.last >= 0 && v == "" {
		if last := &st.Errors[rc.last]; last.Value == "" && max(last.LastLine, last.Line)+1 == from {
			last.LastLine = to
			return
		}
	}
	if rc.entries >= lim.ReportEntriesPerReason || len(st.Errors) >= lim.ReportEntries {
		rc.last = -1
		return
	}
	e := RowError{Line: from, Column: column, Value: v, Reason: reason}
	if to > from {
		e.LastLine = to
	}
	st.Errors = append(st.Errors, e)
	rc.entries++
	rc.last = len(st.Errors) - 1
}

// fileShape names what a file is when its first line shows it is not
// UTF-8 CSV text with LF or CRLF line ends, or "" when it may be. The
// message never quotes the file's bytes.
func fileShape(first []byte) string {
	switch {
	case bytes.HasPrefix(first, []byte("PK\x03\x04")):
		return "file is a ZIP archive (an Excel .xlsx workbook is one), not CSV text: export the data as UTF-8 CSV"
	case bytes.HasPrefix(first, []byte{0xd0, 0xcf, 0x11, 0xe0}):
		return "file is an old Excel .xls workbook (or another OLE document), not CSV text: export the data as UTF-8 CSV"
	case bytes.HasPrefix(first, []byte{0x1f, 0x8b}):
		return "file is gzip-compressed but its name does not end in .gz: name it .csv.gz, or upload it uncompressed"
	case bytes.HasPrefix(first, []byte("%PDF")):
		return "file is a PDF document, not CSV text: export the data as UTF-8 CSV"
	case bytes.HasPrefix(first, []byte{0, 0, 0xfe, 0xff}), bytes.HasPrefix(first, []byte{0xff, 0xfe, 0, 0}):
		return "file is UTF-32 text (it starts with a UTF-32 byte-order mark): exports must be UTF-8"
	case bytes.HasPrefix(first, []byte{0xfe, 0xff}), bytes.HasPrefix(first, []byte{0xff, 0xfe}):
		return "file is UTF-16 text (it starts with a UTF-16 byte-order mark): exports must be UTF-8"
	}
	if nul := bytes.Count(first, []byte{0}); nul > 0 {
		switch {
		case nul*4 >= len(first)*3-4:
			return "file looks like UTF-32 text without a byte-order mark (three bytes in four are NUL): exports must be UTF-8"
		case nul*2 >= len(first)-2:
			return "file looks like UTF-16 text without a byte-order mark (every other byte is NUL): exports must be UTF-8"
		default:
			return "the first line contains NUL bytes: the file is binary data, not CSV text"
		}
	}
	if bytes.IndexByte(first, '\r') >= 0 {
		return "lines end with a bare CR (classic Mac or mainframe style): exports must end lines with LF or CRLF"
	}
	return ""
}

// checkHeader rejects a header row that shows the file is in another
// encoding or uses another separator. Messages name column positions, never
// the header's text (a file without a header starts with a customer's data).
func (p *Parser) checkHeader(header []string, line []byte) *FileError {
	if !utf8.Valid(line) {
		for i, h := range header {
			if !utf8.ValidString(h) {
				return &FileError{Reason: fmt.Sprintf("header column %d is not valid UTF-8: the file looks like Latin-1, Windows-1252, GBK or another legacy encoding; exports must be UTF-8", i+1)}
			}
		}
	}
	return nil
}

// separators a misconfigured export may use instead of commas.
var separators = []struct{ sep, name string }{{";", "semicolons (;)"}, {"\t", "tabs"}, {"|", "pipes (|)"}}

// mapHeader maps format columns to header positions (-1 when absent).
func (p *Parser) mapHeader(header []string) ([]int, *FileError) {
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	known := make(map[string]bool, len(p.Format.Columns))
	for _, col := range p.Format.Columns {
		known[col.Name] = true
	}
	pos := make(map[string]int, len(header))
	matched := 0
	var dupErr *FileError
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		if j, dup := pos[name]; dup {
			if dupErr == nil && known[name] {
				dupErr = &FileError{Reason: fmt.Sprintf("header names column %s twice (columns %d and %d)", name, j+1, i+1)}
			} else if dupErr == nil {
				dupErr = &FileError{Reason: fmt.Sprintf("header columns %d and %d have the same name", j+1, i+1)}
			}
			continue
		}
		pos[name] = i
		if known[name] {
			matched++
		}
	}
	if dupErr != nil && matched > 0 {
		return nil, dupErr
	}
	idx := make([]int, len(p.Format.Columns))
	var missing, required []string
	for c, col := range p.Format.Columns {
		if col.Required {
			required = append(required, col.Name)
		}
		i, ok := pos[col.Name]
		if !ok {
			idx[c] = -1
			if col.Required {
				missing = append(missing, col.Name)
			}
			continue
		}
		idx[c] = i
	}
	if len(missing) > 0 {
		joined := strings.Join(header, ",")
		for _, s := range separators {
			if n := strings.Count(joined, s.sep); n > 0 && n >= len(header) {
				return nil, &FileError{Reason: fmt.Sprintf("header is separated by %s, not commas: exports must be comma-separated", s.name)}
			}
		}
		if matched == 0 {
			return nil, &FileError{Reason: fmt.Sprintf("the first line names none of the columns of the %s format: the file has no header row (or one of another system); exports start with a header naming at least %s",
				p.Format.Table.Name, strings.Join(required, ","))}
		}
		return nil, &FileError{Reason: fmt.Sprintf("header lacks required column(s) %s of the %s format (it has %d columns, %d of them known)",
			strings.Join(missing, ", "), p.Format.Table.Name, len(header), matched)}
	}
	var unknown []string
	for i, h := range header {
		if name := strings.ToLower(strings.TrimSpace(h)); !known[name] {
			unknown = append(unknown, strconv.Itoa(i+1))
		}
	}
	if len(unknown) > 0 {
		p.Stats.Warnings = append(p.Stats.Warnings, fmt.Sprintf("header column(s) %s are not columns of the %s format: ignored",
			strings.Join(unknown, ", "), p.Format.Table.Name))
	}
	return idx, nil
}
