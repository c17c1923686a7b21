package lake

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// RowError is one rejected row of an export, as written to the reject report.
type RowError struct {
	Line   int64  `json:"line"`
	Column string `json:"column,omitempty"`
	Value  string `json:"value,omitempty"`
	Reason string `json:"reason"`
}

// FileError means the file as a whole cannot be ingested (unreadable,
// empty, wrong header); nothing of it is committed.
type FileError struct {
	Reason string
	Err    error
}

func (e *FileError) Error() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}

func (e *FileError) Unwrap() error { return e.Err }

// maxReportedErrors bounds the rows listed one by one in a report; rows
// beyond it are still counted, by column and reason.
const maxReportedErrors = 100_000

// ParseStats is what parsing one file found.
type ParseStats struct {
	RowsOK       int64
	RowsRejected int64
	// RowsDuplicate counts good rows whose natural key was already in the
	// file or the table: not added, not rejected.
	RowsDuplicate int64
	// Errors lists rejected rows, at most maxReportedErrors of them.
	Errors []RowError
	// Warnings are file-level remarks that rejected nothing (ignored columns).
	Warnings []string
	// FileErr is set when the file as a whole could not be read.
	FileErr *FileError
	// byReason counts every rejected row by column and reason.
	byReason map[[2]string]int64
}

// Parser reads one export file, validating each row, and yields Arrow batches
// of the good rows. It never holds more than one batch of rows in memory.
type Parser struct {
	Format    *Format
	BatchRows int
	Mem       memory.Allocator
	ctx       fileContext
	Stats     ParseStats
	// records, when set, sees the natural key of every good row.
	records recordFilter
}

// recordFilter tells a good row whose record is already kept (in this file
// or the table) from a new one, which it then counts as kept.
type recordFilter interface {
	duplicate(day int64, id string) (bool, error)
}

// newParser returns a parser for one file of format f.
func newParser(f *Format, fc fileContext) *Parser {
	return &Parser{Format: f, BatchRows: 16 * 1024, Mem: memory.DefaultAllocator, ctx: fc}
}

// openReader wraps r in a gzip reader when the key says .gz.
func openReader(r io.Reader, key string) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	if !strings.HasSuffix(strings.ToLower(key), ".gz") {
		return br, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FileError{Reason: "file is empty (0 bytes)"}
		}
		return nil, &FileError{Reason: "file has a .gz suffix but is not gzip data", Err: err}
	}
	return zr, nil
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
		fail := func(fe *FileError) {
			p.Stats.FileErr = fe
			yield(PartBatch{}, fe)
		}
		cr := csv.NewReader(r)
		cr.FieldsPerRecord = -1
		cr.ReuseRecord = true
		header, err := cr.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				fail(&FileError{Reason: "file is empty: no header row"})
			} else {
				fail(readError(err, 1))
			}
			return
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
		defer func() {
			for _, pb := range parts {
				pb.rb.Release()
			}
		}()
		buffered := 0
		emit := func(part int64) bool {
			pb := parts[part]
			buffered -= pb.rows
			delete(parts, part)
			rec := pb.rb.NewRecordBatch()
			pb.rb.Release()
			return yield(PartBatch{Rec: rec, Part: part}, nil)
		}
		rows := p.Format.newRows(p.ctx)
		nHeader := len(header)
		var rec []string
		get := func(c int) string {
			i := idx[c]
			if i < 0 {
				return ""
			}
			return rec[i]
		}
		lastLine := int64(1)
		for {
			rec, err = cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				var pe *csv.ParseError
				if errors.As(err, &pe) && pe.Err != nil && isCSVSyntax(pe.Err) {
					p.reject(RowError{Line: int64(pe.StartLine), Reason: "malformed CSV: " + pe.Err.Error()})
					continue
				}
				fail(readError(err, lastLine))
				return
			}
			line, _ := cr.FieldPos(0)
			lastLine = int64(line)
			if len(rec) != nHeader {
				if len(rec) == 1 && rec[0] == "" {
					continue // blank line
				}
				p.reject(RowError{Line: lastLine, Reason: fmt.Sprintf("row has %d fields, the header has %d", len(rec), nHeader)})
				continue
			}
			part, col, err := rows.parse(get)
			if err != nil {
				name := p.Format.Columns[col].Name
				p.reject(RowError{Line: lastLine, Column: name, Value: reportValue(get(col)), Reason: err.Error()})
				continue
			}
			if p.records != nil {
				dup, err := p.records.duplicate(rows.key())
				if err != nil {
					yield(PartBatch{}, err)
					return
				}
				if dup {
					p.Stats.RowsDuplicate++
					continue
				}
			}
			pb := parts[part]
			if pb == nil {
				pb = &partBuilder{rb: array.NewRecordBuilder(p.Mem, sc)}
				parts[part] = pb
			}
			rows.appendTo(pb.rb)
			pb.rows++
			buffered++
			p.Stats.RowsOK++
			if pb.rows == p.BatchRows {
				if !emit(part) {
					return
				}
			} else if buffered >= maxBufferedBatches*p.BatchRows {
				if !emit(fullest(parts)) {
					return
				}
			}
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

type partBuilder struct {
	rb   *array.RecordBuilder
	rows int
}

func fullest(parts map[int64]*partBuilder) int64 {
	best, n := int64(0), -1
	for k, pb := range parts {
		if pb.rows > n || (pb.rows == n && k < best) {
			best, n = k, pb.rows
		}
	}
	return best
}

// isCSVSyntax tells CSV syntax errors (a row to reject) from read errors.
func isCSVSyntax(err error) bool {
	return errors.Is(err, csv.ErrBareQuote) || errors.Is(err, csv.ErrQuote) || errors.Is(err, csv.ErrFieldCount)
}

func readError(err error, line int64) *FileError {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader):
		return &FileError{Reason: fmt.Sprintf("compressed data is truncated or corrupt after line %d", line), Err: err}
	default:
		return &FileError{Reason: fmt.Sprintf("reading the file failed after line %d", line), Err: err}
	}
}

func (p *Parser) reject(e RowError) {
	p.Stats.RowsRejected++
	if p.Stats.byReason == nil {
		p.Stats.byReason = map[[2]string]int64{}
	}
	p.Stats.byReason[[2]string{e.Column, e.Reason}]++
	if len(p.Stats.Errors) < maxReportedErrors {
		p.Stats.Errors = append(p.Stats.Errors, e)
	}
}

// mapHeader maps format columns to header positions (-1 when absent).
func (p *Parser) mapHeader(header []string) ([]int, *FileError) {
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	pos := make(map[string]int, len(header))
	for i, h := range header {
		if !utf8.ValidString(h) {
			return nil, &FileError{Reason: fmt.Sprintf("header column %d is not valid UTF-8", i+1)}
		}
		name := strings.ToLower(strings.TrimSpace(h))
		if _, dup := pos[name]; dup {
			return nil, &FileError{Reason: fmt.Sprintf("header names column %q twice", name)}
		}
		pos[name] = i
	}
	idx := make([]int, len(p.Format.Columns))
	var missing []string
	known := make(map[string]bool, len(p.Format.Columns))
	for c, col := range p.Format.Columns {
		known[col.Name] = true
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
	if len(missing) > 0 && len(header) == 1 {
		for _, sep := range []string{";", "\t", "|"} {
			if strings.Contains(header[0], sep) {
				return nil, &FileError{Reason: fmt.Sprintf("header is one column holding %q separators: exports must be comma-separated (header: %s)",
					sep, reportValue(header[0]))}
			}
		}
	}
	if len(missing) > 0 {
		return nil, &FileError{Reason: fmt.Sprintf("header lacks required column(s) %s of the %s format (header: %s)",
			strings.Join(missing, ", "), p.Format.Table.Name, reportValue(strings.Join(header, ",")))}
	}
	for _, h := range header {
		if name := strings.ToLower(strings.TrimSpace(h)); !known[name] {
			p.Stats.Warnings = append(p.Stats.Warnings, fmt.Sprintf("unknown column %q ignored", reportValue(h)))
		}
	}
	return idx, nil
}

// reportValue makes a value safe and short for a report.
func reportValue(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > 80 {
		s = s[:80]
		s = strings.ToValidUTF8(s, "") + "…"
	}
	return s
}
