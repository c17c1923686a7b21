package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

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

// withRunAWS gives the table IO under ctx one SDK configuration, and so
// one HTTP connection pool, for a whole run (a maintenance run, an ingest,
// a batch): awsCfg, else the one ctx carries, else one loaded for this
// run. Without one, iceberg-go builds a new S3 client and transport for
// every Table.FS call, each keeping its connection open (90 s on the
// client; an S3 server may keep it longer), so a maintenance run over
// 10,000 ledger objects opened thousands of connections and the local S3
// answered 503 to everyone once its connection limit was reached.
func withRunAWS(ctx context.Context, awsCfg *aws.Config) context.Context {
	if awsCfg != nil {
		return WithAWS(ctx, awsCfg)
	}
	if utils.GetAwsConfig(ctx) != nil {
		return ctx
	}
	loaded, err := LoadAWSConfig(ctx, Config{})
	if err != nil {
		// As without one: each IO loads the same configuration itself and
		// reports the error if it needs S3.
		return ctx
	}
	return WithAWS(ctx, &loaded)
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

// S3Store is the ObjectStore of the landing bucket: an S3Bucket per
// bucket name.
type S3Store struct {
	Client *s3.Client
}

func (s S3Store) bucket(name string) S3Bucket { return S3Bucket{Client: s.Client, Name: name} }

// Get streams an object, asking S3 to refuse if its ETag changed.
func (s S3Store) Get(ctx context.Context, bucket, key, etag string) (io.ReadCloser, error) {
	rc, _, err := s.bucket(bucket).Get(ctx, key, GetOptions{IfMatch: etag})
	return rc, err
}

// List calls fn for every object under prefix, in key order, a page at a
// time (memory stays bounded by the page).
func (s S3Store) List(ctx context.Context, bucket, prefix string, fn func(Listed) error) error {
	return ListAll(ctx, s.bucket(bucket), prefix, fn)
}

// Put writes a small object (a report).
func (s S3Store) Put(ctx context.Context, bucket, key string, body []byte) error {
	return s.bucket(bucket).Put(ctx, key, body, PutOptions{ContentType: "application/json"})
}

func quoteETag(e string) string {
	if strings.HasPrefix(e, `"`) {
		return e
	}
	return `"` + e + `"`
}
