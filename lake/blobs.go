package lake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// ErrNotFound means a blob does not exist.
var ErrNotFound = errors.New("lake: not found")

// Blobs stores files next to the warehouse, such as model artifacts and
// serving snapshots: s3://bucket/<name>/… beside s3://bucket/warehouse, or
// the same under a file:// warehouse's parent directory.
type Blobs struct {
	root string // URI prefix without trailing slash, e.g. s3://lake/models
	s3   *s3.Client
}

// OpenBlobs returns the store rooted at <warehouse's parent>/<name>. client
// is needed for an s3:// warehouse only.
func OpenBlobs(cfg Config, client *s3.Client, name string) (*Blobs, error) {
	u, err := url.Parse(cfg.Warehouse)
	if err != nil {
		return nil, fmt.Errorf("blobs: warehouse %q: %w", cfg.Warehouse, err)
	}
	u.Path = path.Join(path.Dir(strings.TrimRight(u.Path, "/")), name)
	b := &Blobs{root: strings.TrimRight(u.String(), "/"), s3: client}
	if u.Scheme == "s3" && client == nil {
		return nil, errors.New("blobs: an s3:// warehouse needs an S3 client")
	}
	return b, nil
}

// URI is the full location of key.
func (b *Blobs) URI(key string) string { return b.root + "/" + strings.TrimLeft(key, "/") }

func (b *Blobs) locate(key string) (scheme, bucket, objKey string, err error) {
	u, err := url.Parse(b.URI(key))
	if err != nil {
		return "", "", "", err
	}
	return u.Scheme, u.Host, strings.TrimLeft(u.Path, "/"), nil
}

// Put writes key (whole, replacing any earlier version).
func (b *Blobs) Put(ctx context.Context, key string, body []byte) error {
	scheme, bucket, k, err := b.locate(key)
	if err != nil {
		return err
	}
	if scheme == "file" {
		p := filepath.FromSlash("/" + k)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("blobs: %w", err)
		}
		// Write then rename: a reader never sees half a file.
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, body, 0o644); err != nil {
			return fmt.Errorf("blobs: %w", err)
		}
		return os.Rename(tmp, p)
	}
	_, err = b.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: bytes.NewReader(body)})
	if err != nil {
		return fmt.Errorf("blobs: put %s: %w", b.URI(key), err)
	}
	return nil
}

// Get reads key; a missing key is ErrNotFound.
func (b *Blobs) Get(ctx context.Context, key string) ([]byte, error) {
	scheme, bucket, k, err := b.locate(key)
	if err != nil {
		return nil, err
	}
	if scheme == "file" {
		body, err := os.ReadFile(filepath.FromSlash("/" + k))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, b.URI(key))
		}
		return body, err
	}
	out, err := b.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound") {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, b.URI(key))
		}
		return nil, fmt.Errorf("blobs: get %s: %w", b.URI(key), err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("blobs: read %s: %w", b.URI(key), err)
	}
	return body, nil
}

// ReadAt fills p with key's bytes from off on (one ranged GET on S3, a
// pread on a file); a missing key is ErrNotFound.
func (b *Blobs) ReadAt(ctx context.Context, key string, p []byte, off int64) error {
	scheme, bucket, k, err := b.locate(key)
	if err != nil {
		return err
	}
	if len(p) == 0 {
		return nil
	}
	if scheme == "file" {
		f, err := os.Open(filepath.FromSlash("/" + k))
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s", ErrNotFound, b.URI(key))
		}
		if err != nil {
			return fmt.Errorf("blobs: %w", err)
		}
		defer f.Close()
		if _, err := f.ReadAt(p, off); err != nil {
			return fmt.Errorf("blobs: read %s at %d: %w", b.URI(key), off, err)
		}
		return nil
	}
	rng := fmt.Sprintf("bytes=%d-%d", off, off+int64(len(p))-1)
	out, err := b.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Range: aws.String(rng)})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound") {
			return fmt.Errorf("%w: %s", ErrNotFound, b.URI(key))
		}
		return fmt.Errorf("blobs: get %s %s: %w", b.URI(key), rng, err)
	}
	defer out.Body.Close()
	if _, err := io.ReadFull(out.Body, p); err != nil {
		return fmt.Errorf("blobs: read %s %s: %w", b.URI(key), rng, err)
	}
	return nil
}

// Delete removes key; a missing key is not an error (S3's DeleteObject
// answers the same for both).
func (b *Blobs) Delete(ctx context.Context, key string) error {
	scheme, bucket, k, err := b.locate(key)
	if err != nil {
		return err
	}
	if scheme == "file" {
		if err := os.Remove(filepath.FromSlash("/" + k)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("blobs: %w", err)
		}
		return nil
	}
	if _, err := b.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
		return fmt.Errorf("blobs: delete %s: %w", b.URI(key), err)
	}
	return nil
}
