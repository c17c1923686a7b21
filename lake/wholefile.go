package lake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"

	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// wholeFileMax is the largest file a scan reads whole, by the one GET its
// open starts (wholeSmallFiles).
const wholeFileMax = 4 << 20

// wholeSmallFiles is tbl for reading, with its files of at most
// wholeFileMax bytes read whole when opened. iceberg-go's S3 IO starts a
// GET of the whole object on Open, then reads a Parquet file by ranged
// GETs (its footer, then each selected column chunk) and closes that first
// GET unread, so its connection is dropped: a data file of a few KB cost
// a new connection and 2 + (columns) requests. Read whole, it costs the
// one GET, whose body is read to its end (the connection is kept), and
// the Parquet reader's ReadAt calls are served from memory. Larger files
// are read as before. The table is rebuilt without its catalog: it is for
// scans only.
func wholeSmallFiles(tbl *table.Table) *table.Table {
	fsF := func(ctx context.Context) (iceio.IO, error) {
		fsys, err := tbl.FS(ctx)
		if err != nil {
			return nil, err
		}
		return wholeFileIO{IO: fsys, max: wholeFileMax}, nil
	}
	return table.New(tbl.Identifier(), tbl.Metadata(), tbl.MetadataLocation(), fsF, nil)
}

// wholeFileIO reads files of at most max bytes whole on Open.
type wholeFileIO struct {
	iceio.IO
	max int64
}

func (w wholeFileIO) Open(name string) (iceio.File, error) {
	f, err := w.IO.Open(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() > w.max {
		return f, nil // as before: the reader asks for what it needs
	}
	b := make([]byte, fi.Size())
	_, err = io.ReadFull(f, b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return &memFile{Reader: bytes.NewReader(b), info: fi}, nil
}

// memFile is a file read whole: reads, seeks and ReadAt from memory; its
// FileInfo is the one the file it was read from gave.
type memFile struct {
	*bytes.Reader
	info fs.FileInfo
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *memFile) Close() error               { return nil }
