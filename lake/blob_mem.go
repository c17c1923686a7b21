package lake

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// MemBucket is the Bucket driver in memory, for tests and tools. The zero
// value is not usable; call NewMemBucket.
type MemBucket struct {
	mu      sync.Mutex
	objects map[string]memObject
	gets    int
}

type memObject struct {
	body []byte
	attr ObjectAttrs
}

// NewMemBucket returns an empty MemBucket.
func NewMemBucket() *MemBucket { return &MemBucket{objects: map[string]memObject{}} }

// Gets is the number of Get calls so far (tests assert what a request read).
func (m *MemBucket) Gets() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gets
}

// Bytes returns key's stored bytes themselves (nil when missing), not a
// copy: tests change them in place to corrupt an object.
func (m *MemBucket) Bytes(key string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.objects[key].body
}

// Get returns key's bytes, or a range of them.
func (m *MemBucket) Get(ctx context.Context, key string, o GetOptions) (io.ReadCloser, ObjectAttrs, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gets++
	obj, ok := m.objects[key]
	if !ok {
		return nil, ObjectAttrs{}, notFound("mem:"+key, nil)
	}
	if o.IfMatch != "" && o.IfMatch != obj.attr.ETag {
		return nil, ObjectAttrs{}, ErrObjectChanged
	}
	r, err := section(bytes.NewReader(obj.body), obj.attr.Size, o)
	if err != nil {
		return nil, ObjectAttrs{}, fmt.Errorf("get mem:%s: %w", key, err)
	}
	return io.NopCloser(r), obj.attr, nil // bodies are never modified in place
}

// Put stores a copy of body.
func (m *MemBucket) Put(ctx context.Context, key string, body []byte, o PutOptions) error {
	sum := md5.Sum(body)
	obj := memObject{body: bytes.Clone(body), attr: ObjectAttrs{Key: key, ETag: hex.EncodeToString(sum[:]),
		Size: int64(len(body)), LastModified: time.Now().UTC()}}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[key]; ok && o.IfAbsent {
		return fmt.Errorf("put mem:%s: %w", key, ErrExists)
	}
	m.objects[key] = obj
	return nil
}

// List returns one page of the keys under prefix.
func (m *MemBucket) List(ctx context.Context, prefix, after string, max int) ([]ObjectAttrs, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []ObjectAttrs
	for k, o := range m.objects {
		if strings.HasPrefix(k, prefix) && k > after {
			all = append(all, o.attr)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Key < all[j].Key })
	if max > 0 && len(all) > max {
		return all[:max], true, nil
	}
	return all, false, nil
}

// Delete removes key.
func (m *MemBucket) Delete(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

// Head returns key's attributes.
func (m *MemBucket) Head(ctx context.Context, key string) (ObjectAttrs, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	obj, ok := m.objects[key]
	if !ok {
		return ObjectAttrs{}, notFound("mem:"+key, nil)
	}
	return obj.attr, nil
}
