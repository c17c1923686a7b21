package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// DirStore is an ObjectStore over a local directory, bucket = subdirectory:
// for ingesting files by hand and for benchmarks.
type DirStore struct {
	Root string
}

// Get opens root/bucket/key; etag must match LocalETag of the file.
func (d DirStore) Get(ctx context.Context, bucket, key, etag string) (io.ReadCloser, error) {
	p := filepath.Join(d.Root, bucket, filepath.FromSlash(key))
	f, err := os.Open(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &GoneError{Reason: "deleted", Err: err}
	case errors.Is(err, fs.ErrPermission):
		return nil, &GoneError{Reason: "access denied", Err: err}
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	if etag != "" {
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if LocalETag(fi) != etag {
			f.Close()
			return nil, ErrObjectChanged
		}
	}
	return f, nil
}

// Put writes root/bucket/key, creating directories.
func (d DirStore) Put(ctx context.Context, bucket, key string, body []byte) error {
	p := filepath.Join(d.Root, bucket, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, body, 0o644)
}

// LocalETag stands in for an S3 ETag on a local file: size and modification time.
func LocalETag(fi os.FileInfo) string {
	return "local-" + strconv.FormatInt(fi.Size(), 10) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 36)
}
