package lake

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// DirStore is an ObjectStore over a local directory, bucket = subdirectory
// (a DirBucket each): for ingesting files by hand and for benchmarks.
type DirStore struct {
	Root string
}

func (d DirStore) bucket(name string) DirBucket { return DirBucket{Root: filepath.Join(d.Root, name)} }

// Get opens root/bucket/key; etag must match LocalETag of the file.
func (d DirStore) Get(ctx context.Context, bucket, key, etag string) (io.ReadCloser, error) {
	rc, _, err := d.bucket(bucket).Get(ctx, key, GetOptions{IfMatch: etag})
	return rc, err
}

// Put writes root/bucket/key, creating directories; no reader (and no
// process killed mid-write) sees half an object, as S3's PUT never shows.
func (d DirStore) Put(ctx context.Context, bucket, key string, body []byte) error {
	return d.bucket(bucket).Put(ctx, key, body, PutOptions{})
}

// LocalETag stands in for an S3 ETag on a local file: size and modification time.
func LocalETag(fi os.FileInfo) string {
	return "local-" + strconv.FormatInt(fi.Size(), 10) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 36)
}

// List calls fn for every file under root/bucket/prefix (prefix as in S3:
// a string the key starts with), in key order, with LocalETag as its ETag.
func (d DirStore) List(ctx context.Context, bucket, prefix string, fn func(Listed) error) error {
	return ListAll(ctx, d.bucket(bucket), prefix, fn)
}
