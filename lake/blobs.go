package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Blobs stores files next to the warehouse, such as model artifacts and
// serving snapshots: s3://bucket/<name>/… beside s3://bucket/warehouse, or
// the same under a file:// warehouse's parent directory. It is a Bucket
// rooted at a prefix.
type Blobs struct {
	bucket Bucket
	prefix string // key prefix inside bucket, "" or ending in "/"
	root   string // URI of the prefix without trailing slash, e.g. s3://lake/models
}

// NewBlobs roots bucket at prefix; uri names the root in URIs (e.g.
// s3://lake/models) and may be empty.
func NewBlobs(bucket Bucket, prefix, uri string) *Blobs {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	if uri == "" {
		uri = "blob:" + strings.TrimSuffix(prefix, "/")
	}
	return &Blobs{bucket: bucket, prefix: prefix, root: strings.TrimRight(uri, "/")}
}

// OpenBlobs returns the store rooted at <warehouse's parent>/<name>. client
// is needed for an s3:// warehouse only.
func OpenBlobs(cfg Config, client *s3.Client, name string) (*Blobs, error) {
	u, err := url.Parse(cfg.Warehouse)
	if err != nil {
		return nil, fmt.Errorf("blobs: warehouse %q: %w", cfg.Warehouse, err)
	}
	u.Path = path.Join(path.Dir(strings.TrimRight(u.Path, "/")), name)
	uri := strings.TrimRight(u.String(), "/")
	switch u.Scheme {
	case "s3":
		if client == nil {
			return nil, errors.New("blobs: an s3:// warehouse needs an S3 client")
		}
		return NewBlobs(S3Bucket{Client: client, Name: u.Host}, u.Path, uri), nil
	case "file":
		return NewBlobs(DirBucket{Root: u.Path}, "", uri), nil
	}
	return nil, fmt.Errorf("blobs: warehouse %q is neither s3:// nor file://", cfg.Warehouse)
}

// URI is the full location of key.
func (b *Blobs) URI(key string) string { return b.root + "/" + strings.TrimLeft(key, "/") }

func (b *Blobs) key(key string) string { return b.prefix + strings.TrimLeft(key, "/") }

// Put writes key (whole, replacing any earlier version; readers never see
// half of it).
func (b *Blobs) Put(ctx context.Context, key string, body []byte) error {
	if err := b.bucket.Put(ctx, b.key(key), body, PutOptions{}); err != nil {
		return fmt.Errorf("blobs: %w", err)
	}
	return nil
}

// Create writes key only if it does not exist yet (ErrExists otherwise).
func (b *Blobs) Create(ctx context.Context, key string, body []byte) error {
	if err := b.bucket.Put(ctx, b.key(key), body, PutOptions{IfAbsent: true}); err != nil {
		return fmt.Errorf("blobs: %w", err)
	}
	return nil
}

// Get reads key; a missing key is ErrNotFound.
func (b *Blobs) Get(ctx context.Context, key string) ([]byte, error) {
	body, err := ReadAll(ctx, b.bucket, b.key(key))
	if err != nil {
		return nil, fmt.Errorf("blobs: read %s: %w", b.URI(key), err)
	}
	return body, nil
}

// ReadAt fills p with key's bytes from off on (one ranged GET on S3, a
// pread on a file); a missing key is ErrNotFound, a range past the end an
// error.
func (b *Blobs) ReadAt(ctx context.Context, key string, p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	rc, _, err := b.bucket.Get(ctx, b.key(key), GetOptions{Offset: off, Length: int64(len(p))})
	if err != nil {
		return fmt.Errorf("blobs: read %s at %d: %w", b.URI(key), off, err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, p); err != nil {
		return fmt.Errorf("blobs: read %s [%d, +%d): %w", b.URI(key), off, len(p), err)
	}
	return nil
}

// Head returns key's attributes (Key relative to the store).
func (b *Blobs) Head(ctx context.Context, key string) (ObjectAttrs, error) {
	a, err := b.bucket.Head(ctx, b.key(key))
	if err != nil {
		return a, fmt.Errorf("blobs: %w", err)
	}
	a.Key = strings.TrimPrefix(a.Key, b.prefix)
	return a, nil
}

// Delete removes key; a missing key is not an error.
func (b *Blobs) Delete(ctx context.Context, key string) error {
	if err := b.bucket.Delete(ctx, b.key(key)); err != nil {
		return fmt.Errorf("blobs: %w", err)
	}
	return nil
}

// List calls fn for every key under prefix (relative to the store), in
// key order, a page at a time.
func (b *Blobs) List(ctx context.Context, prefix string, fn func(ObjectAttrs) error) error {
	return ListAll(ctx, b.bucket, b.key(prefix), func(a ObjectAttrs) error {
		a.Key = strings.TrimPrefix(a.Key, b.prefix)
		return fn(a)
	})
}
