package lake

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// EventResult is the ingest function's answer to one S3 event.
type EventResult struct {
	Files []Result `json:"files"`
}

// HandleS3Event ingests every object-created record of an S3 event from
// the landing bucket. It fails (so Lambda delivers the event again) only if
// a file failed in a way a retry can fix; files already done are then
// recognised as duplicates.
func (in *Ingester) HandleS3Event(ctx context.Context, landingBucket string, ev events.S3Event) (EventResult, error) {
	var out EventResult
	var errs []error
	for _, rec := range ev.Records {
		if !strings.HasPrefix(rec.EventName, "ObjectCreated:") && !strings.HasPrefix(rec.EventName, "s3:ObjectCreated:") {
			in.Log.InfoContext(ctx, "event ignored", "event", rec.EventName, "key", rec.S3.Object.URLDecodedKey)
			continue
		}
		obj := Object{
			Bucket: rec.S3.Bucket.Name,
			Key:    rec.S3.Object.URLDecodedKey,
			ETag:   strings.Trim(rec.S3.Object.ETag, `"`),
			Size:   rec.S3.Object.Size,

			Sequencer: rec.S3.Object.Sequencer,
		}
		if obj.Key == "" { // an event built in Go rather than decoded from JSON
			k, err := url.QueryUnescape(rec.S3.Object.Key)
			if err != nil {
				errs = append(errs, fmt.Errorf("event key %q is not URL-encoded: %w", rec.S3.Object.Key, err))
				continue
			}
			obj.Key = k
		}
		if obj.Bucket != landingBucket {
			errs = append(errs, fmt.Errorf("event for bucket %q, but the landing bucket is %q: check the notification configuration", obj.Bucket, landingBucket))
			continue
		}
		if strings.HasSuffix(obj.Key, "/") {
			continue // a folder marker
		}
		res, err := in.Ingest(ctx, obj)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out.Files = append(out.Files, res)
	}
	return out, errors.Join(errs...)
}
