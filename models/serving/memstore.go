package serving

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/telcolake/telcolake/lake"
)

// ErrMemNotFound is MemStore's answer for a missing key: the lake's
// ErrNotFound, as every blob driver's.
var ErrMemNotFound = lake.ErrNotFound

// MemStore is a Store and Source in memory (lake.Blobs over a
// lake.MemBucket), for tests and tools. It counts reads, so tests can
// assert what a request read.
type MemStore struct {
	bucket *lake.MemBucket
	blobs  *lake.Blobs
	reads  atomic.Int64
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	b := lake.NewMemBucket()
	return &MemStore{bucket: b, blobs: lake.NewBlobs(b, "", "mem:")}
}

// Put stores a copy of body under key.
func (m *MemStore) Put(ctx context.Context, key string, body []byte) error {
	return m.blobs.Put(ctx, key, body)
}

// Get returns key's bytes (ErrMemNotFound when missing).
func (m *MemStore) Get(ctx context.Context, key string) ([]byte, error) {
	m.reads.Add(1)
	return m.blobs.Get(ctx, key)
}

// ReadAt fills p from key's bytes at off (an error past the end).
func (m *MemStore) ReadAt(ctx context.Context, key string, p []byte, off int64) error {
	m.reads.Add(1)
	return m.blobs.ReadAt(ctx, key, p, off)
}

// Reads is the number of Get and ReadAt calls so far.
func (m *MemStore) Reads() int { return int(m.reads.Load()) }

// Bytes returns key's stored bytes (nil when missing) without counting a
// read; tests use it to corrupt a file in place.
func (m *MemStore) Bytes(key string) []byte { return m.bucket.Bytes(key) }

// IsNotFound reports whether err is a missing key.
func IsNotFound(err error) bool { return errors.Is(err, lake.ErrNotFound) }
