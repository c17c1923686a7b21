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
	"sort"
	"strings"
)

// notFound is every driver's missing key: it matches ErrNotFound and,
// for ingest, ErrGone (deleted).
func notFound(uri string, cause error) error {
	if cause == nil {
		return &GoneError{Reason: "deleted", Err: fmt.Errorf("%w: %s", ErrNotFound, uri)}
	}
	return &GoneError{Reason: "deleted", Err: fmt.Errorf("%w: %s: %w", ErrNotFound, uri, cause)}
}

// readCloser is a reader with the Close of what it reads.
type readCloser struct {
	io.Reader
	io.Closer
}

// DirBucket is the Bucket driver of a local directory: key k is the file
// Root/k. Put writes a temporary file and renames it (a conditional create
// hard-links it, which fails if the key exists), so no reader and no
// crash leaves half an object. ETags are LocalETag (size and modification
// time).
type DirBucket struct {
	Root string
}

func (d DirBucket) path(key string) (string, error) {
	if !filepath.IsLocal(filepath.FromSlash(key)) {
		return "", fmt.Errorf("lake: key %q leaves the bucket", key)
	}
	return filepath.Join(d.Root, filepath.FromSlash(key)), nil
}

// Get opens Root/key, or a range of it.
func (d DirBucket) Get(ctx context.Context, key string, o GetOptions) (io.ReadCloser, ObjectAttrs, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, ObjectAttrs{}, err
	}
	f, err := os.Open(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, ObjectAttrs{}, notFound(p, nil)
	case errors.Is(err, fs.ErrPermission):
		return nil, ObjectAttrs{}, &GoneError{Reason: "access denied", Err: err}
	case err != nil:
		return nil, ObjectAttrs{}, fmt.Errorf("open %s: %w", p, err)
	}
	fi, err := f.Stat()
	if err == nil && fi.IsDir() {
		err = notFound(p, nil)
	}
	if err != nil {
		f.Close()
		return nil, ObjectAttrs{}, err
	}
	a := ObjectAttrs{Key: key, ETag: LocalETag(fi), Size: fi.Size(), LastModified: fi.ModTime()}
	if o.IfMatch != "" && o.IfMatch != a.ETag {
		f.Close()
		return nil, ObjectAttrs{}, ErrObjectChanged
	}
	r, err := section(f, a.Size, o)
	if err != nil {
		f.Close()
		return nil, ObjectAttrs{}, fmt.Errorf("get %s: %w", p, err)
	}
	return readCloser{r, f}, a, nil
}

// section is the part of a size-byte object o asks for.
func section(r io.ReaderAt, size int64, o GetOptions) (io.Reader, error) {
	if o.Offset < 0 || o.Offset > 0 && o.Offset >= size {
		return nil, fmt.Errorf("range from byte %d of a %d-byte object", o.Offset, size)
	}
	n := size - o.Offset
	if o.Length > 0 && o.Length < n {
		n = o.Length
	}
	return io.NewSectionReader(r, o.Offset, n), nil
}

// Put writes Root/key, creating directories.
func (d DirBucket) Put(ctx context.Context, key string, body []byte, o PutOptions) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("put %s: %w", p, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*.tmp")
	if err != nil {
		return fmt.Errorf("put %s: %w", p, err)
	}
	defer os.Remove(tmp.Name()) // after a rename or a link, a no-op or the spare name
	_, err = tmp.Write(body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		if o.IfAbsent {
			if err = os.Link(tmp.Name(), p); errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("put %s: %w", p, ErrExists)
			}
		} else {
			err = os.Rename(tmp.Name(), p)
		}
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", p, err)
	}
	return nil
}

// List walks the directory of prefix and returns one page of the keys
// under it, sorted. It reads every name under that directory for each
// page: the driver is for local runs, tests and benchmarks.
func (d DirBucket) List(ctx context.Context, prefix, after string, max int) ([]ObjectAttrs, bool, error) {
	dir := filepath.Join(d.Root, filepath.FromSlash(path.Dir(prefix+"x")))
	var all []ObjectAttrs
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
		rel, err := filepath.Rel(d.Root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) || key <= after {
			return nil
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted while listed
		}
		if err != nil {
			return err
		}
		all = append(all, ObjectAttrs{Key: key, ETag: LocalETag(fi), Size: fi.Size(), LastModified: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("list %s/%s: %w", d.Root, prefix, err)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Key < all[j].Key })
	if max > 0 && len(all) > max {
		return all[:max], true, nil
	}
	return all, false, nil
}

// Delete removes Root/key.
func (d DirBucket) Delete(ctx context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", p, err)
	}
	return nil
}

// Head stats Root/key.
func (d DirBucket) Head(ctx context.Context, key string) (ObjectAttrs, error) {
	p, err := d.path(key)
	if err != nil {
		return ObjectAttrs{}, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || err == nil && fi.IsDir() {
		return ObjectAttrs{}, notFound(p, nil)
	}
	if err != nil {
		return ObjectAttrs{}, fmt.Errorf("head %s: %w", p, err)
	}
	return ObjectAttrs{Key: key, ETag: LocalETag(fi), Size: fi.Size(), LastModified: fi.ModTime()}, nil
}
