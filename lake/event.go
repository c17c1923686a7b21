package lake

import (
	"bytes"
	"context"
	"encoding/json"
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
		obj, ok, err := in.objectOf(ctx, landingBucket, rec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			continue
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

// objectOf is the object an S3 event record announces; ok is false for a
// record that asks for nothing (not a creation, a folder marker).
func (in *Ingester) objectOf(ctx context.Context, landingBucket string, rec events.S3EventRecord) (Object, bool, error) {
	if !strings.HasPrefix(rec.EventName, "ObjectCreated:") && !strings.HasPrefix(rec.EventName, "s3:ObjectCreated:") {
		in.Log.InfoContext(ctx, "event ignored", "event", rec.EventName, "key", rec.S3.Object.URLDecodedKey)
		return Object{}, false, nil
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
			return obj, false, fmt.Errorf("event key %q is not URL-encoded: %w", rec.S3.Object.Key, err)
		}
		obj.Key = k
	}
	if obj.Bucket != landingBucket {
		return obj, false, fmt.Errorf("event for bucket %q, but the landing bucket is %q: check the notification configuration", obj.Bucket, landingBucket)
	}
	if strings.HasSuffix(obj.Key, "/") {
		return obj, false, nil // a folder marker
	}
	return obj, true, nil
}

// QueueResult is the ingest function's answer to a batch of SQS
// messages: the messages to deliver again (what Lambda's event source
// mapping reads, with ReportBatchItemFailures) and, for people and the
// local stack, the result of every file ingested.
type QueueResult struct {
	events.SQSEventResponse
	Files []Result `json:"files"`
}

// HandleSQSEvent ingests the S3 notifications in a batch of SQS messages
// in one IngestBatch and reports exactly the messages to deliver again:
// those with a file that failed in a way a retry can fix (storage or
// catalog errors, conflicts past the retry budget, out of time), and
// those that are no S3 notification for the landing bucket (after the
// queue's maxReceiveCount they go to the dead-letter queue, where an
// operator sees them). A rejected or quarantined file is a final verdict
// with its report and log row, not a failure: delivering it again changes
// nothing. S3's test event is acknowledged.
func (in *Ingester) HandleSQSEvent(ctx context.Context, landingBucket string, ev events.SQSEvent) (QueueResult, error) {
	var objs []Object
	var owner []int // the message of each object
	failed := make([]bool, len(ev.Records))
	for i, m := range ev.Records {
		var body struct {
			events.S3Event
			Event string `json:"Event"`
		}
		if err := json.Unmarshal([]byte(m.Body), &body); err != nil {
			in.Log.WarnContext(ctx, "message is not an S3 notification: left for the dead-letter queue", "message_id", m.MessageId, "error", err)
			failed[i] = true
			continue
		}
		if body.Event == "s3:TestEvent" {
			continue
		}
		if len(body.Records) == 0 {
			in.Log.WarnContext(ctx, "message holds no S3 event records: left for the dead-letter queue", "message_id", m.MessageId)
			failed[i] = true
			continue
		}
		for _, rec := range body.Records {
			obj, ok, err := in.objectOf(ctx, landingBucket, rec)
			if err != nil {
				in.Log.WarnContext(ctx, "event not ingested", "message_id", m.MessageId, "error", err)
				failed[i] = true
				continue
			}
			if ok {
				objs = append(objs, obj)
				owner = append(owner, i)
			}
		}
	}
	resp := QueueResult{SQSEventResponse: events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}, Files: []Result{}}
	for k, o := range in.IngestBatch(ctx, objs) {
		if o.Err == nil {
			resp.Files = append(resp.Files, o.Result)
		}
		switch {
		case o.Err != nil:
			in.Log.WarnContext(ctx, "file not ingested: the message is delivered again", "message_id", ev.Records[owner[k]].MessageId,
				"source", o.Source, "error", o.Err)
			failed[owner[k]] = true
		case o.Status == StatusFailed:
			failed[owner[k]] = true
		}
	}
	for i, f := range failed {
		if f {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: ev.Records[i].MessageId})
		}
	}
	return resp, nil
}

// HandleEvent answers what the ingest function receives: a batch of SQS
// messages (the queue's event source mapping) with an
// events.SQSEventResponse, or an S3 event (a direct notification, or an
// invocation by hand) with an EventResult.
func (in *Ingester) HandleEvent(ctx context.Context, landingBucket string, raw json.RawMessage) (any, error) {
	var probe struct {
		Records []struct {
			EventSource string `json:"eventSource"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("ingest: event is not JSON: %w", err)
	}
	if len(probe.Records) > 0 && probe.Records[0].EventSource == "aws:sqs" {
		var ev events.SQSEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("ingest: SQS event: %w", err)
		}
		return in.HandleSQSEvent(ctx, landingBucket, ev)
	}
	var ev events.S3Event
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&ev); err != nil {
		return nil, fmt.Errorf("ingest: S3 event: %w", err)
	}
	return in.HandleS3Event(ctx, landingBucket, ev)
}
