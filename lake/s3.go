package lake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/apache/iceberg-go/utils"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// LoadAWSConfig loads the SDK configuration once per process: the default
// credential chain, cfg.Region and one shared HTTP client, so connections
// are reused by every S3 client built from it.
func LoadAWSConfig(ctx context.Context, cfg Config) (aws.Config, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.Region),
		awsconfig.WithHTTPClient(awshttp.NewBuildableClient()))
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	return awsCfg, nil
}

// NewS3Client returns an S3 client for awsCfg, with cfg.EndpointURL
// (path-style) when set.
func NewS3Client(awsCfg aws.Config, cfg Config) *s3.Client {
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.EndpointURL != "" {
			o.BaseEndpoint = aws.String(cfg.EndpointURL)
			o.UsePathStyle = true
		}
	})
}

// WithAWS makes the Iceberg table IO under ctx use awsCfg (and its shared
// HTTP client) instead of loading a configuration and a connection pool for
// every table it opens.
func WithAWS(ctx context.Context, awsCfg *aws.Config) context.Context {
	if awsCfg == nil {
		return ctx
	}
	return utils.WithAwsConfig(ctx, awsCfg)
}

// ErrGone is matched by an ObjectStore's Get error when the object cannot be
// read and retrying will not change that: it was deleted (NoSuchKey), the
// reader may not read it (AccessDenied) or it is archived
// (InvalidObjectState). Ingest records such a file as StatusGone.
var ErrGone = errors.New("lake: object gone or unreadable")

// GoneError says why an object is gone; errors.Is(err, ErrGone) holds.
type GoneError struct {
	Reason string // deleted, access denied, archived
	Err    error  // the storage error
}

func (e *GoneError) Error() string        { return "lake: object " + e.Reason + ": " + e.Err.Error() }
func (e *GoneError) Unwrap() error        { return e.Err }
func (e *GoneError) Is(target error) bool { return target == ErrGone }

// goneReason maps the S3 errors after which reading an object again cannot
// help, once for every caller; ok is false for anything else.
func goneReason(err error) (reason string, ok bool) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchVersion":
			return "deleted", true
		case "AccessDenied", "Forbidden":
			return "access denied", true
		case "InvalidObjectState":
			return "archived", true
		}
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotFound:
			return "deleted", true
		case http.StatusForbidden:
			return "access denied", true
		}
	}
	return "", false
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
		if reason, ok := goneReason(err); ok {
			return nil, &GoneError{Reason: reason, Err: fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)}
		}
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	if etag != "" && out.ETag != nil && strings.Trim(*out.ETag, `"`) != strings.Trim(etag, `"`) {
		out.Body.Close() // a server that ignores If-Match
		return nil, ErrObjectChanged
	}
	return out.Body, nil
}

// Listed is one object of a listing.
type Listed struct {
	Key          string
	ETag         string
	Size         int64
	LastModified time.Time
}

// List calls fn for every object under prefix, in key order, a page at a
// time (memory stays bounded by the page).
func (s S3Store) List(ctx context.Context, bucket, prefix string, fn func(Listed) error) error {
	p := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			err := fn(Listed{Key: aws.ToString(o.Key), ETag: strings.Trim(aws.ToString(o.ETag), `"`),
				Size: aws.ToInt64(o.Size), LastModified: aws.ToTime(o.LastModified)})
			if err != nil {
				return err
			}
		}
	}
	return nil
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
