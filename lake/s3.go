package lake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// NewS3Client returns an S3 client for cfg: the SDK's default credential
// chain, cfg.Region, and cfg.EndpointURL (path-style) when set.
func NewS3Client(ctx context.Context, cfg Config) (*s3.Client, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.Region))
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.EndpointURL != "" {
			o.BaseEndpoint = aws.String(cfg.EndpointURL)
			o.UsePathStyle = true
		}
	}), nil
}

// S3Store is the ObjectStore of the landing bucket.
type S3Store struct {
	Client *s3.Client
}

// Get streams an object, asking S3 to refuse if its ETag changed.
func (s S3Store) Get(ctx context.Context, bucket, key, etag string) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if etag != "" {
		in.IfMatch = aws.String(quoteETag(etag))
	}
	out, err := s.Client.GetObject(ctx, in)
	if err != nil {
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed {
			return nil, ErrObjectChanged
		}
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed" {
			return nil, ErrObjectChanged
		}
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	if etag != "" && out.ETag != nil && strings.Trim(*out.ETag, `"`) != strings.Trim(etag, `"`) {
		out.Body.Close() // a server that ignores If-Match
		return nil, ErrObjectChanged
	}
	return out.Body, nil
}

// Put writes a small object (a report).
func (s S3Store) Put(ctx context.Context, bucket, key string, body []byte) error {
	_, err := s.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType: aws.String("application/json"),
	})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

func quoteETag(e string) string {
	if strings.HasPrefix(e, `"`) {
		return e
	}
	return `"` + e + `"`
}
