package lake

import (
	"context"
	"errors"
	"io"
	"time"
)

// Object storage: every object telcolake reads or writes outside the
// Iceberg tables' own IO (landing exports and reject reports, model
// artifacts, serving snapshots, the console's revocations) goes through a
// Bucket. Drivers: S3 (S3Bucket, the SDK v2), a local directory
// (DirBucket) and memory (MemBucket); one conformance suite
// (lake/blobtest) runs on each. Blobs roots a Bucket at a prefix; S3Store
// and DirStore address buckets by name for ingest.

// ErrNotFound means a blob does not exist: errors.Is(err, ErrNotFound)
// holds for every driver's missing key.
var ErrNotFound = errors.New("lake: not found")

// ErrExists is a conditional create (PutOptions.IfAbsent) of a key that
// exists.
var ErrExists = errors.New("lake: object exists")

// ObjectAttrs describes one object.
type ObjectAttrs struct {
	Key          string
	ETag         string // without quotes
	Size         int64
	LastModified time.Time
}

// Listed is one object of a listing.
type Listed = ObjectAttrs

// GetOptions shape a Get.
type GetOptions struct {
	// Offset is the first byte read.
	Offset int64
	// Length is the number of bytes read from Offset (fewer at the end of
	// the object); 0 or less reads to the end.
	Length int64
	// IfMatch, when set, is the ETag the object must have, else the Get
	// fails with ErrObjectChanged.
	IfMatch string
}

// PutOptions shape a Put.
type PutOptions struct {
	// IfAbsent creates the object only if the key does not exist
	// (ErrExists otherwise); of concurrent creates exactly one wins.
	IfAbsent bool
	// ContentType is recorded where the driver keeps it (S3).
	ContentType string
}

// Bucket is one bucket of objects, the interface every object access goes
// through. Keys are slash-separated, without a leading slash.
type Bucket interface {
	// Get streams key (a byte range of it, see GetOptions) and its
	// attributes; a missing key matches ErrNotFound.
	Get(ctx context.Context, key string, o GetOptions) (io.ReadCloser, ObjectAttrs, error)
	// Put writes key whole: a reader sees the old object or the new one,
	// never part of one.
	Put(ctx context.Context, key string, body []byte, o PutOptions) error
	// List returns up to max objects whose key starts with prefix and
	// sorts after after (the last key of the previous page, "" to start),
	// in key order; more says whether another page follows.
	List(ctx context.Context, prefix, after string, max int) (page []ObjectAttrs, more bool, err error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Head returns key's attributes; a missing key matches ErrNotFound.
	Head(ctx context.Context, key string) (ObjectAttrs, error)
}

// listPage is the page size ListAll asks for.
const listPage = 1000

// ListAll calls fn for every object of b under prefix, in key order, a
// page at a time (memory stays bounded by the page).
func ListAll(ctx context.Context, b Bucket, prefix string, fn func(ObjectAttrs) error) error {
	after := ""
	for {
		page, more, err := b.List(ctx, prefix, after, listPage)
		if err != nil {
			return err
		}
		for _, o := range page {
			if err := fn(o); err != nil {
				return err
			}
		}
		if !more || len(page) == 0 {
			return nil
		}
		after = page[len(page)-1].Key
	}
}

// ReadAll reads key of b whole; a missing key matches ErrNotFound.
func ReadAll(ctx context.Context, b Bucket, key string) ([]byte, error) {
	rc, _, err := b.Get(ctx, key, GetOptions{})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	body, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	return body, nil
}
