// Package blobtest is the conformance suite every lake.Bucket driver
// passes (S3, directory, memory): whole and ranged reads, ETag checks,
// missing keys, paged listing, deletes, and concurrent writes of one key.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/telcolake/telcolake/lake"
)

// Run runs the suite on buckets from open, which returns an empty bucket
// for each subtest.
func Run(t *testing.T, open func(t *testing.T) lake.Bucket) {
	tests := []struct {
		name string
		fn   func(*testing.T, lake.Bucket)
	}{
		{"PutGetHead", testPutGetHead},
		{"Range", testRange},
		{"IfMatch", testIfMatch},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"ListPrefix", testListPrefix},
		{"ListPages", testListPages},
		{"ConcurrentPut", testConcurrentPut},
		{"ConcurrentCreate", testConcurrentCreate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// body is n bytes of a pattern that differs by seed.
func body(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

func get(t *testing.T, b lake.Bucket, key string, o lake.GetOptions) []byte {
	t.Helper()
	rc, _, err := b.Get(context.Background(), key, o)
	if err != nil {
		t.Fatalf("Get(%s, %+v): %v", key, o, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%s, %+v): read: %v", key, o, err)
	}
	return got
}

func put(t *testing.T, b lake.Bucket, key string, body []byte) {
	t.Helper()
	if err := b.Put(context.Background(), key, body, lake.PutOptions{}); err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
}

func testPutGetHead(t *testing.T, b lake.Bucket) {
	ctx := context.Background()
	want := body(3000, 1)
	put(t, b, "runs/r1/meta.json", want)
	if got := get(t, b, "runs/r1/meta.json", lake.GetOptions{}); !bytes.Equal(got, want) {
		t.Fatalf("Get returned %d other bytes, want the %d put", len(got), len(want))
	}
	a, err := b.Head(ctx, "runs/r1/meta.json")
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if a.Key != "runs/r1/meta.json" || a.Size != 3000 || a.ETag == "" || a.LastModified.IsZero() {
		t.Errorf("Head = %+v, want key runs/r1/meta.json, size 3000, an ETag and a time", a)
	}
	rc, ga, err := b.Get(ctx, "runs/r1/meta.json", lake.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if ga.ETag != a.ETag {
		t.Errorf("Get's ETag %q, Head's %q", ga.ETag, a.ETag)
	}
	// Overwrite: the new body, whole, and a new ETag.
	put(t, b, "runs/r1/meta.json", []byte("short"))
	if got := get(t, b, "runs/r1/meta.json", lake.GetOptions{}); string(got) != "short" {
		t.Errorf("after overwrite Get = %q, want %q", got, "short")
	}
	if a2, err := b.Head(ctx, "runs/r1/meta.json"); err != nil || a2.Size != 5 || a2.ETag == a.ETag {
		t.Errorf("after overwrite Head = %+v, %v; want size 5 and an ETag other than %q", a2, err, a.ETag)
	}
	put(t, b, "empty", nil)
	if got := get(t, b, "empty", lake.GetOptions{}); len(got) != 0 {
		t.Errorf("empty object read as %d bytes", len(got))
	}
}

func testRange(t *testing.T, b lake.Bucket) {
	whole := body(10000, 2)
	put(t, b, "runs/r/detail.bin", whole)
	tests := []struct {
		off, n   int64
		from, to int
	}{
		{0, 8, 0, 8},
		{1234, 5000, 1234, 6234},
		{9999, 1, 9999, 10000},
		{0, 10000, 0, 10000},
		{5000, 0, 5000, 10000},   // to the end
		{9990, 100, 9990, 10000}, // cut at the end
	}
	for _, tc := range tests {
		got := get(t, b, "runs/r/detail.bin", lake.GetOptions{Offset: tc.off, Length: tc.n})
		if !bytes.Equal(got, whole[tc.from:tc.to]) {
			t.Errorf("Get(offset %d, length %d) = %d bytes, want bytes [%d, %d)", tc.off, tc.n, len(got), tc.from, tc.to)
		}
	}
}

func testIfMatch(t *testing.T, b lake.Bucket) {
	ctx := context.Background()
	put(t, b, "exports/cdr/a.csv", []byte("v1"))
	a, err := b.Head(ctx, "exports/cdr/a.csv")
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, b, "exports/cdr/a.csv", lake.GetOptions{IfMatch: a.ETag}); string(got) != "v1" {
		t.Errorf("Get with its own ETag = %q", got)
	}
	if _, _, err := b.Get(ctx, "exports/cdr/a.csv", lake.GetOptions{IfMatch: "0123456789abcdef0123456789abcdef"}); !errors.Is(err, lake.ErrObjectChanged) {
		t.Errorf("Get with another ETag: %v, want ErrObjectChanged", err)
	}
}

func testMissing(t *testing.T, b lake.Bucket) {
	ctx := context.Background()
	put(t, b, "a/present", []byte("x"))
	if _, _, err := b.Get(ctx, "a/absent", lake.GetOptions{}); !errors.Is(err, lake.ErrNotFound) || !errors.Is(err, lake.ErrGone) {
		t.Errorf("Get(missing): %v, want ErrNotFound and ErrGone", err)
	}
	if _, _, err := b.Get(ctx, "a/absent", lake.GetOptions{Offset: 10, Length: 5}); !errors.Is(err, lake.ErrNotFound) {
		t.Errorf("ranged Get(missing): %v, want ErrNotFound", err)
	}
	if _, err := b.Head(ctx, "a/absent"); !errors.Is(err, lake.ErrNotFound) {
		t.Errorf("Head(missing): %v, want ErrNotFound", err)
	}
	if _, _, err := b.Get(ctx, "a", lake.GetOptions{}); !errors.Is(err, lake.ErrNotFound) {
		t.Errorf("Get of a prefix: %v, want ErrNotFound", err)
	}
	if err := b.Delete(ctx, "a/absent"); err != nil {
		t.Errorf("Delete(missing): %v, want nil", err)
	}
}

func testDelete(t *testing.T, b lake.Bucket) {
	ctx := context.Background()
	put(t, b, "console/revoked/s1", []byte("1"))
	put(t, b, "console/revoked/s2", []byte("2"))
	if err := b.Delete(ctx, "console/revoked/s1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Head(ctx, "console/revoked/s1"); !errors.Is(err, lake.ErrNotFound) {
		t.Errorf("Head after Delete: %v, want ErrNotFound", err)
	}
	if got := keys(t, b, "console/"); got != "console/revoked/s2" {
		t.Errorf("listed after Delete: %s", got)
	}
}

// keys lists every key under prefix with lake.ListAll, space-separated.
func keys(t *testing.T, b lake.Bucket, prefix string) string {
	t.Helper()
	var ks []string
	err := lake.ListAll(context.Background(), b, prefix, func(a lake.ObjectAttrs) error {
		ks = append(ks, a.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("ListAll(%s): %v", prefix, err)
	}
	return strings.Join(ks, " ")
}

func testListPrefix(t *testing.T, b lake.Bucket) {
	for _, k := range []string{"exports/cdr/2026/10/01/a.csv", "exports/cdr/b.csv", "exports/bills/c.csv", "exportsx/d.csv",
		"reports/e.json", "exports/a.b/x", "exports/a/b"} {
		put(t, b, k, []byte("body of "+k))
	}
	want := "exports/a.b/x exports/a/b exports/bills/c.csv exports/cdr/2026/10/01/a.csv exports/cdr/b.csv"
	if got := keys(t, b, "exports/"); got != want {
		t.Errorf("List(exports/) = %s, want %s", got, want)
	}
	if got := keys(t, b, "exports/cdr/b"); got != "exports/cdr/b.csv" {
		t.Errorf("List(exports/cdr/b) = %s, want a key prefix to match part of a name", got)
	}
	if got := keys(t, b, "nothing/"); got != "" {
		t.Errorf("List(nothing/) = %s, want none", got)
	}
	page, _, err := b.List(context.Background(), "exports/bills/", "", 10)
	if err != nil || len(page) != 1 || page[0].Size != int64(len("body of exports/bills/c.csv")) || page[0].ETag == "" {
		t.Errorf("List(exports/bills/) = %+v, %v; want one entry with its size and ETag", page, err)
	}
}

func testListPages(t *testing.T, b lake.Bucket) {
	ctx := context.Background()
	var want []string
	for i := range 25 {
		k := fmt.Sprintf("models/churn/v%02d/model.json", i)
		put(t, b, k, []byte{byte(i)})
		want = append(want, k)
	}
	put(t, b, "models/other", nil)
	var got []string
	after, pages := "", 0
	for {
		page, more, err := b.List(ctx, "models/churn/", after, 10)
		if err != nil {
			t.Fatalf("List page %d: %v", pages, err)
		}
		pages++
		if len(page) > 10 {
			t.Fatalf("page %d has %d entries, asked for 10", pages, len(page))
		}
		for _, a := range page {
			got = append(got, a.Key)
		}
		if !more || pages > 10 {
			break
		}
		after = page[len(page)-1].Key
	}
	if pages != 3 {
		t.Errorf("25 keys listed 10 at a time took %d pages, want 3", pages)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("paged listing = %v, want %v", got, want)
	}
	if got := keys(t, b, "models/churn/"); got != strings.Join(want, " ") {
		t.Errorf("ListAll = %s", got)
	}
}

// testConcurrentPut: writers of one key and readers of it at once; every
// read sees one writer's body whole, and the last state is one of them.
func testConcurrentPut(t *testing.T, b lake.Bucket) {
	ctx := context.Background()
	const writers = 6
	bodies := make([][]byte, writers)
	for i := range bodies {
		bodies[i] = body(256<<10, byte(i+1))
	}
	whole := func(got []byte) bool {
		for _, w := range bodies {
			if bytes.Equal(got, w) {
				return true
			}
		}
		return false
	}
	put(t, b, "serving/latest.json", bodies[0])
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	for i := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := b.Put(ctx, "serving/latest.json", bodies[i], lake.PutOptions{}); err != nil {
				errs <- fmt.Errorf("writer %d: %w", i, err)
			}
		}()
		go func() {
			defer wg.Done()
			rc, _, err := b.Get(ctx, "serving/latest.json", lake.GetOptions{})
			if err != nil {
				errs <- fmt.Errorf("reader %d: %w", i, err)
				return
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err == nil && !whole(got) {
				err = fmt.Errorf("read %d bytes that are no writer's whole body", len(got))
			}
			if err != nil {
				errs <- fmt.Errorf("reader %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := get(t, b, "serving/latest.json", lake.GetOptions{}); !whole(got) {
		t.Errorf("after concurrent puts the object is %d bytes of no writer's body", len(got))
	}
}

// testConcurrentCreate: of concurrent conditional creates exactly one
// wins, the others get ErrExists, and the object is the winner's.
func testConcurrentCreate(t *testing.T, b lake.Bucket) {
	ctx := context.Background()
	const writers = 6
	results := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = b.Put(ctx, "locks/run", body(4096, byte(i+1)), lake.PutOptions{IfAbsent: true})
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range results {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("creates %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, lake.ErrExists):
			t.Errorf("create %d: %v, want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no conditional create succeeded")
	}
	if got := get(t, b, "locks/run", lake.GetOptions{}); !bytes.Equal(got, body(4096, byte(winner+1))) {
		t.Errorf("object is not the winning create's body")
	}
	if err := b.Put(ctx, "locks/run", []byte("again"), lake.PutOptions{IfAbsent: true}); !errors.Is(err, lake.ErrExists) {
		t.Errorf("create of an existing key: %v, want ErrExists", err)
	}
}
