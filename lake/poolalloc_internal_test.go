package lake

import "testing"

// The Parquet writer's pool allocator hands out zeroed bytes whatever a
// reused buffer held, grows in place with zeros, keeps only buffers of its
// size classes within its budget, and leaves other sizes to Go's heap.
func TestPoolAllocator(t *testing.T) {
	junk := func(b []byte) {
		b = b[:cap(b)]
		for i := range b {
			b[i] = 0xa5
		}
	}
	// other is the first byte of b that is not v, or -1.
	other := func(b []byte, v byte) int {
		for i, c := range b {
			if c != v {
				return i
			}
		}
		return -1
	}
	zero := func(t *testing.T, what string, b []byte) {
		t.Helper()
		if i := other(b, 0); i >= 0 {
			t.Fatalf("%s: byte %d of %d is not zero", what, i, len(b))
		}
	}
	for _, tc := range []struct {
		name         string
		size, resize int
		pooled       bool // a freed buffer of size is kept and lent again
	}{
		{"below the smallest class", 100, 200, false},
		{"half a class", 3000, 4096, true},
		{"a class exactly", 1 << 16, 1 << 16, true},
		{"grows within the class", 5000, 8000, true},
		{"grows past the class", 5000, 9000, true},
		{"largest class", 4 << 20, 4 << 20, true},
		{"past the largest class", 4<<20 + 1, 4<<20 + 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &poolAllocator{budget: 16 << 20}
			b := a.Allocate(tc.size)
			if len(b) != tc.size {
				t.Fatalf("Allocate(%d): %d bytes", tc.size, len(b))
			}
			zero(t, "new", b)
			junk(b)
			a.Free(b)
			if (a.pooled > 0) != tc.pooled {
				t.Fatalf("after Free, %d bytes pooled; want pooled %v", a.pooled, tc.pooled)
			}
			c := a.Allocate(tc.size)
			if tc.pooled && &c[0] != &b[0] {
				t.Fatalf("a buffer of the class was free, but Allocate made a new one")
			}
			zero(t, "reused", c)
			c = c[:tc.size/2] // a writer's slice of it, then grown again
			junk(c[:tc.size/2])
			c = a.Reallocate(tc.resize, c)
			if len(c) != tc.resize {
				t.Fatalf("Reallocate(%d): %d bytes", tc.resize, len(c))
			}
			if i := other(c[:tc.size/2], 0xa5); i >= 0 {
				t.Fatalf("Reallocate lost byte %d of the buffer's contents", i)
			}
			zero(t, "grown", c[tc.size/2:])
		})
	}
	t.Run("budget", func(t *testing.T) {
		a := &poolAllocator{budget: 3 * 4096}
		var bs [][]byte
		for range 5 {
			bs = append(bs, a.Allocate(4096))
		}
		for _, b := range bs {
			a.Free(b)
		}
		if a.pooled != 3*4096 || len(a.free[0]) != 3 {
			t.Fatalf("%d bytes in %d buffers pooled, want the budget's 3", a.pooled, len(a.free[0]))
		}
	})
}
