package lake

import (
	"fmt"
	"io"
)

// Limits bound what one export file may make the ingest function hold or
// do, so that no input, however shaped, takes more memory than the
// function has or more time than the files around it need.
type Limits struct {
	// MaxLineBytes is the longest accepted line, terminator excluded. A
	// longer data line is rejected and skipped without being buffered; a
	// longer header rejects the file.
	MaxLineBytes int
	// MaxHeaderColumns is the most columns a header may have.
	MaxHeaderColumns int
	// MaxDecompressedBytes bounds what a .gz file may expand to.
	MaxDecompressedBytes int64
	// MaxGzipRatio bounds decompressed bytes per compressed byte read so far
	// (checked while streaming, past the first MiB): a gzip bomb stops early.
	MaxGzipRatio int64
	// ReportEntriesPerReason is how many entries (lines or line ranges) the
	// report lists per column and reason; every line is still counted.
	ReportEntriesPerReason int
	// ReportEntries bounds the entries listed in one report.
	ReportEntries int
}

// DefaultLimits are the limits documented in README ("What ingestion
// guarantees").
var DefaultLimits = Limits{
	MaxLineBytes:           64 << 10,
	MaxHeaderColumns:       256,
	MaxDecompressedBytes:   16 << 30,
	MaxGzipRatio:           200,
	ReportEntriesPerReason: 1000,
	ReportEntries:          10_000,
}

// ratioFloor is how many decompressed bytes are always allowed before the
// gzip ratio is checked (a tiny file may legitimately compress very well).
const ratioFloor = 1 << 20

// orDefault fills zero fields from DefaultLimits.
func (l Limits) orDefault() Limits {
	d := DefaultLimits
	if l.MaxLineBytes > 0 {
		d.MaxLineBytes = l.MaxLineBytes
	}
	if l.MaxHeaderColumns > 0 {
		d.MaxHeaderColumns = l.MaxHeaderColumns
	}
	if l.MaxDecompressedBytes > 0 {
		d.MaxDecompressedBytes = l.MaxDecompressedBytes
	}
	if l.MaxGzipRatio > 0 {
		d.MaxGzipRatio = l.MaxGzipRatio
	}
	if l.ReportEntriesPerReason > 0 {
		d.ReportEntriesPerReason = l.ReportEntriesPerReason
	}
	if l.ReportEntries > 0 {
		d.ReportEntries = l.ReportEntries
	}
	return d
}

// inputBound is the most bytes the parser can read from an object of size
// bytes (0: unknown), given whether it is gzip and the limits; 0 means no
// bound is known.
func (l Limits) inputBound(size int64, gzipped bool) int64 {
	if size <= 0 {
		return 0
	}
	if !gzipped {
		return size
	}
	return min(l.MaxDecompressedBytes, max(l.MaxGzipRatio*size, ratioFloor))
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// inflateGuard stops a decompressing reader that expands beyond the limits:
// in total, or relative to the compressed bytes read so far.
type inflateGuard struct {
	r          io.Reader
	compressed *countingReader
	n          int64
	lim        Limits
}

func (g *inflateGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	g.n += int64(n)
	switch {
	case g.n > g.lim.MaxDecompressedBytes:
		return n, &FileError{Reason: fmt.Sprintf("file decompresses to more than %d GiB, the limit for one export: split it into smaller files",
			g.lim.MaxDecompressedBytes>>30)}
	case g.n > ratioFloor && g.n > g.lim.MaxGzipRatio*g.compressed.n:
		return n, &FileError{Reason: fmt.Sprintf("file decompresses to more than %d times its compressed size (a CSV export compresses about 5 to 20 times): it is not a plain export, or a compression bomb",
			g.lim.MaxGzipRatio)}
	}
	return n, err
}
