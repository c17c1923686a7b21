package lake_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/blobtest"
)

// The blob conformance suite on every driver; the S3 driver also runs it
// against the embedded stack's S3 (localstack's TestS3BucketConformance).
func TestMemBucketConformance(t *testing.T) {
	blobtest.Run(t, func(*testing.T) lake.Bucket { return lake.NewMemBucket() })
}

func TestDirBucketConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) lake.Bucket { return lake.DirBucket{Root: t.TempDir()} })
}

func TestS3BucketConformance(t *testing.T) {
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	c := s3.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")},
		func(o *s3.Options) {
			o.BaseEndpoint = aws.String(srv.URL)
			o.UsePathStyle = true
		})
	var n atomic.Int32
	blobtest.Run(t, func(t *testing.T) lake.Bucket {
		name := fmt.Sprintf("conformance-%d", n.Add(1))
		if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
		return lake.S3Bucket{Client: c, Name: name}
	})
}
