package localstack

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/blobtest"
)

// TestS3BucketConformance runs the blob conformance suite on lake's S3
// driver against the embedded S3 (versitygw), the S3 make demo uses.
func TestS3BucketConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded S3")
	}
	ctx := context.Background()
	names := make([]string, 12)
	for i := range names {
		names[i] = fmt.Sprintf("conformance-%d", i)
	}
	srv, err := StartS3(ctx, S3Config{Root: filepath.Join(t.TempDir(), "s3"), Addr: freeAddr(t), Buckets: names}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c := srv.Client()
	next := 0
	blobtest.Run(t, func(t *testing.T) lake.Bucket {
		if next == len(names) {
			t.Fatal("more subtests than buckets")
		}
		next++
		return lake.S3Bucket{Client: c, Name: names[next-1]}
	})
}
