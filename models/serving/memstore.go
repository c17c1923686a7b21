package serving

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrMemNotFound is MemStore's answer for a missing key.
var ErrMemNotFound = errors.New("serving: no such key in memory store")

// MemStore is a Store and Source in memory, for tests and tools. It counts
// reads, so tests can assert what a request read.
type MemStore struct {
	mu    sync.Mutex
	files map[string][]byte
	reads int
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{files: map[string][]byte{}} }

// Put stores a copy of body under key.
func (m *MemStore) Put(_ context.Context, key string, body []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[key] = append([]byte(nil), body...)
	return nil
}

// Get returns key's bytes (ErrMemNotFound when missing).
func (m *MemStore) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	b, ok := m.files[key]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrMemNotFound, key)
	}
	return append([]byte(nil), b...), nil
}

// ReadAt fills p from key's bytes at off.
func (m *MemStore) ReadAt(_ context.Context, key string, p []byte, off int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	b, ok := m.files[key]
	if !ok {
		return fmt.Errorf("%w: %s", ErrMemNotFound, key)
	}
	if off < 0 || off+int64(len(p)) > int64(len(b)) {
		return fmt.Errorf("serving: read %s [%d, +%d) past its %d bytes", key, off, len(p), len(b))
	}
	copy(p, b[off:])
	return nil
}

// Reads is the number of Get and ReadAt calls so far.
func (m *MemStore) Reads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads
}

// Bytes returns key's stored bytes (nil when missing) without counting a
// read; tests use it to corrupt a file in place.
func (m *MemStore) Bytes(key string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.files[key]
}

// IsNotFound reports whether err is MemStore's missing key.
func IsNotFound(err error) bool { return errors.Is(err, ErrMemNotFound) }
