package lake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
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
	deferred := make([]bool, len(ev.Records))
	deferrals := make([]int, len(ev.Records))
	for i, m := range ev.Records {
		var body struct {
			events.S3Event
			Event     string `json:"Event"`
			Deferrals int    `json:"telcolakeDeferrals"`
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
		deferrals[i] = body.Deferrals
	}
	// The files deferred most often go first.
	order := make([]int, len(objs))
	for k := range order {
		order[k] = k
	}
	sort.SliceStable(order, func(a, b int) bool { return deferrals[owner[order[a]]] > deferrals[owner[order[b]]] })
	sorted, sortedOwner := make([]Object, len(objs)), make([]int, len(objs))
	for k, j := range order {
		sorted[k], sortedOwner[k] = objs[j], owner[j]
	}
	objs, owner = sorted, sortedOwner
	resp := QueueResult{SQSEventResponse: events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}, Files: []Result{}}
	for k, o := range in.IngestBatch(ctx, objs) {
		if o.Err == nil {
			resp.Files = append(resp.Files, o.Result)
		}
		var de *DeferredError
		switch {
		case errors.As(o.Err, &de):
			deferred[owner[k]] = true
		case o.Err != nil:
			in.Log.WarnContext(ctx, "file not ingested: the message is delivered again", "message_id", ev.Records[owner[k]].MessageId,
				"source", o.Source, "error", o.Err)
			failed[owner[k]] = true
		case o.Status == StatusFailed:
			failed[owner[k]] = true
		}
	}
	// A message with a file not started goes to the queue again, with its
	// receive count new, unless it is failed anyway (then the queue
	// delivers it again as it is).
	for i, d := range deferred {
		if !d || failed[i] {
			continue
		}
		m := ev.Records[i]
		if err := in.requeue(ctx, m.Body, deferrals[i]); err != nil {
			in.Log.WarnContext(ctx, "file not started: the message is delivered again after its visibility timeout",
				"message_id", m.MessageId, "deferrals", deferrals[i], "error", err)
			failed[i] = true
			continue
		}
		in.Log.InfoContext(ctx, "file not started, too little time left in this invocation: its notification is sent to the queue again",
			"message_id", m.MessageId, "deferrals", deferrals[i]+1)
	}
	for i, f := range failed {
		if f {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: ev.Records[i].MessageId})
		}
	}
	return resp, nil
}

// requeue sends body to the queue again with one deferral more; an error
// when there is no Requeuer or the body was deferred MaxDeferrals times.
func (in *Ingester) requeue(ctx context.Context, body string, deferrals int) error {
	if in.Requeue == nil {
		return errors.New("no queue to send it to (TELCOLAKE_INGEST_QUEUE_URL is not set)")
	}
	if deferrals >= MaxDeferrals {
		return fmt.Errorf("deferred %d times already", deferrals)
	}
	b, err := deferredBody(body, deferrals)
	if err != nil {
		return err
	}
	return in.Requeue.Requeue(ctx, b)
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
