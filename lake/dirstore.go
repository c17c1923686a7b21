package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
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

// Put writes root/bucket/key, creating directories. It writes a temporary
// file and renames it, so a reader (or a process killed mid-write) never
// leaves half an object, as S3's PUT never does.
func (d DirStore) Put(ctx context.Context, bucket, key string, body []byte) error {
	p := filepath.Join(d.Root, bucket, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("put %s: %w", p, err)
	}
	return nil
}

// LocalETag stands in for an S3 ETag on a local file: size and modification time.
func LocalETag(fi os.FileInfo) string {
	return "local-" + strconv.FormatInt(fi.Size(), 10) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 36)
}

// List calls fn for every file under root/bucket/prefix (prefix as in S3:
// a string the key starts with), in key order, with LocalETag as its ETag.
func (d DirStore) List(ctx context.Context, bucket, prefix string, fn func(Listed) error) error {
	root := filepath.Join(d.Root, bucket)
	dir := filepath.Join(root, filepath.FromSlash(path.Dir(prefix+"x")))
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || e.IsDir() {
			return err
		}
		if n := e.Name(); strings.HasPrefix(n, ".") && strings.HasSuffix(n, ".tmp") {
			return nil // a Put under way, or one a crash cut short
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		return fn(Listed{Key: key, ETag: LocalETag(fi), Size: fi.Size(), LastModified: fi.ModTime()})
	})
	if err != nil {
		return fmt.Errorf("list %s/%s: %w", root, prefix, err)
	}
	return nil
}
