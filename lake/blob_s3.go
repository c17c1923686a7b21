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
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// S3Bucket is the Bucket driver of one S3 bucket.
type S3Bucket struct {
	Client *s3.Client
	Name   string
}

func (b S3Bucket) uri(key string) string { return "s3://" + b.Name + "/" + key }

// Get streams key, or a range of it, with one GetObject.
func (b S3Bucket) Get(ctx context.Context, key string, o GetOptions) (io.ReadCloser, ObjectAttrs, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(b.Name), Key: aws.String(key)}
	if o.IfMatch != "" {
		in.IfMatch = aws.String(quoteETag(o.IfMatch))
	}
	switch {
	case o.Length > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", o.Offset, o.Offset+o.Length-1))
	case o.Offset > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", o.Offset))
	}
	out, err := b.Client.GetObject(ctx, in)
	if err != nil {
		if isPreconditionFailed(err) {
			return nil, ObjectAttrs{}, ErrObjectChanged
		}
		return nil, ObjectAttrs{}, b.mapErr("get", key, err)
	}
	a := ObjectAttrs{Key: key, ETag: strings.Trim(aws.ToString(out.ETag), `"`), Size: aws.ToInt64(out.ContentLength),
		LastModified: aws.ToTime(out.LastModified)}
	if o.IfMatch != "" && a.ETag != "" && a.ETag != strings.Trim(o.IfMatch, `"`) {
		out.Body.Close() // a server that ignores If-Match
		return nil, ObjectAttrs{}, ErrObjectChanged
	}
	return out.Body, a, nil
}

// Put writes key with one PutObject (atomic in S3); IfAbsent sends
// If-None-Match: *.
func (b S3Bucket) Put(ctx context.Context, key string, body []byte, o PutOptions) error {
	in := &s3.PutObjectInput{Bucket: aws.String(b.Name), Key: aws.String(key), Body: bytes.NewReader(body)}
	if o.ContentType != "" {
		in.ContentType = aws.String(o.ContentType)
	}
	if o.IfAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	if _, err := b.Client.PutObject(ctx, in); err != nil {
		var ae smithy.APIError
		if o.IfAbsent && (isPreconditionFailed(err) || errors.As(err, &ae) && ae.ErrorCode() == "ConditionalRequestConflict") {
			return fmt.Errorf("put %s: %w", b.uri(key), ErrExists)
		}
		return fmt.Errorf("put %s: %w", b.uri(key), err)
	}
	return nil
}

// List returns one ListObjectsV2 page.
func (b S3Bucket) List(ctx context.Context, prefix, after string, max int) ([]ObjectAttrs, bool, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(b.Name), Prefix: aws.String(prefix), MaxKeys: aws.Int32(int32(max))}
	if after != "" {
		in.StartAfter = aws.String(after)
	}
	out, err := b.Client.ListObjectsV2(ctx, in)
	if err != nil {
		return nil, false, fmt.Errorf("list %s: %w", b.uri(prefix), err)
	}
	page := make([]ObjectAttrs, 0, len(out.Contents))
	for _, o := range out.Contents {
		page = append(page, ObjectAttrs{Key: aws.ToString(o.Key), ETag: strings.Trim(aws.ToString(o.ETag), `"`),
			Size: aws.ToInt64(o.Size), LastModified: aws.ToTime(o.LastModified)})
	}
	return page, aws.ToBool(out.IsTruncated), nil
}

// Delete removes key (S3 answers a missing key with success).
func (b S3Bucket) Delete(ctx context.Context, key string) error {
	if _, err := b.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.Name), Key: aws.String(key)}); err != nil {
		return b.mapErr("delete", key, err)
	}
	return nil
}

// Head returns key's attributes with one HeadObject.
func (b S3Bucket) Head(ctx context.Context, key string) (ObjectAttrs, error) {
	out, err := b.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.Name), Key: aws.String(key)})
	if err != nil {
		return ObjectAttrs{}, b.mapErr("head", key, err)
	}
	return ObjectAttrs{Key: key, ETag: strings.Trim(aws.ToString(out.ETag), `"`), Size: aws.ToInt64(out.ContentLength),
		LastModified: aws.ToTime(out.LastModified)}, nil
}

// mapErr is the one mapping of S3 errors: a missing key matches
// ErrNotFound (and ErrGone), a forbidden or archived one ErrGone; anything
// else stays an error a retry may fix.
func (b S3Bucket) mapErr(op, key string, err error) error {
	err = fmt.Errorf("%s %s: %w", op, b.uri(key), err)
	switch reason, ok := goneReason(err); {
	case ok && reason == "deleted":
		return &GoneError{Reason: reason, Err: fmt.Errorf("%w: %w", ErrNotFound, err)}
	case ok:
		return &GoneError{Reason: reason, Err: err}
	}
	return err
}

func isPreconditionFailed(err error) bool {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed"
}
