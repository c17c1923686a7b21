package localstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// subscription routes object-created events of a bucket, filtered by key,
// to a function.
type subscription struct {
	function string
	queue    string // instead of a function: the queue's name
	bucket   string
	prefix   string
	suffix   string
}

// Delivery is the outcome of delivering one event to a function.
type Delivery struct {
	Function string
	Key      string
	Response []byte
	Err      error
	Attempts int
}

// notifier turns the S3 server's bucket events (versitygw's webhook) into
// the S3 event JSON Lambda delivers, and invokes the subscribed functions
// asynchronously, at least once: a failed invocation is retried as the
// function's EventInvokeConfig says (twice by default), and an event that
// fails for good goes to its on-failure destination, as Lambda does.
type notifier struct {
	subs    []subscription
	invoke  func(ctx context.Context, fn string, payload []byte) ([]byte, error)
	onDone  func(Delivery)
	log     io.Writer
	backoff time.Duration
	// async is each function's EventInvokeConfig (defaultAsync if absent).
	async map[string]AsyncConfig
	// deadLetter, when set, receives an event that failed for good.
	deadLetter func(fn string, payload []byte, d Delivery, condition string)
	// enqueue sends an event to a queue subscription's queue.
	enqueue func(queue string, payload []byte) error

	ctx     context.Context
	mu      sync.Mutex
	pending int
	idle    chan struct{}   // closed while pending == 0
	seen    map[string]bool // bucket/key@etag already delivered
	// announced is when a webhook call last announced each bucket/key: a
	// file modified before then needs no look from the sweep.
	announced map[string]time.Time
	epoch     uint64 // start of this stack, UnixNano: the sequencers' high part
	maxSeq    uint64 // highest versitygw event counter seen
	// inbox holds the events the webhook took and the worker has not sent
	// yet; working is whether the worker runs (it stops when the inbox is
	// empty).
	inbox   []queuedEvent
	working bool
}

// queuedEvent is one event for one subscription, ready to send.
type queuedEvent struct {
	sub     subscription
	key     string
	payload []byte
}

func newNotifier(ctx context.Context, subs []subscription, invoke func(context.Context, string, []byte) ([]byte, error), log io.Writer) *notifier {
	n := &notifier{subs: subs, invoke: invoke, log: log, ctx: ctx, idle: make(chan struct{}), backoff: time.Second,
		seen: map[string]bool{}, announced: map[string]time.Time{}, epoch: uint64(time.Now().UnixNano())}
	close(n.idle)
	return n
}

// versityEvent is the part of versitygw's event JSON the notifier reads.
type versityEvent struct {
	Records []struct {
		EventName string `json:"eventName"`
		EventTime string `json:"eventTime"`
		AwsRegion string `json:"awsRegion"`
		S3        struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key       string  `json:"key"`
				Size      int64   `json:"size"`
				ETag      *string `json:"eTag"`
				VersionID *string `json:"versionId"`
				Sequencer string  `json:"sequencer"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
}

// ServeHTTP receives one webhook call. It answers as soon as the call's
// events are read and queued: versitygw posts each event once and gives up
// after 3 s, so the sending (a queue's lock, an invocation) happens on the
// notifier's worker, never while versitygw waits.
func (n *notifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev versityEvent
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&ev); err != nil {
		http.Error(w, "bad event: "+err.Error(), http.StatusBadRequest)
		return
	}
	var queued []queuedEvent
	for _, rec := range ev.Records {
		name := strings.TrimPrefix(rec.EventName, "s3:")
		if !strings.HasPrefix(name, "ObjectCreated:") {
			continue // test events, deletions
		}
		key := rec.S3.Object.Key
		etag := ""
		if rec.S3.Object.ETag != nil {
			etag = strings.Trim(*rec.S3.Object.ETag, `"`)
		}
		// Every PUT is an event, the same bytes again too; the sweeper
		// only needs to know this version was announced.
		n.firstSight(rec.S3.Bucket.Name, key, etag)
		n.announce(rec.S3.Bucket.Name, key)
		for _, s := range n.subs {
			if s.bucket != rec.S3.Bucket.Name || !strings.HasPrefix(key, s.prefix) || !strings.HasSuffix(key, s.suffix) {
				continue
			}
			var out events.S3EventRecord
			out.EventVersion = "2.1"
			out.EventSource = "aws:s3"
			out.AWSRegion = rec.AwsRegion
			out.EventTime, _ = time.Parse(time.RFC3339, rec.EventTime)
			if out.EventTime.IsZero() {
				out.EventTime = time.Now().UTC()
			}
			out.EventName = name
			out.S3.SchemaVersion = "1.0"
			out.S3.ConfigurationID = s.target() + "-" + s.prefix
			out.S3.Bucket.Name = s.bucket
			out.S3.Bucket.Arn = "arn:aws:s3:::" + s.bucket
			out.S3.Object.Key = strings.ReplaceAll(url.QueryEscape(key), "%2F", "/") // as S3 sends keys: form-encoded, slashes kept
			out.S3.Object.Size = rec.S3.Object.Size
			if rec.S3.Object.ETag != nil {
				out.S3.Object.ETag = strings.Trim(*rec.S3.Object.ETag, `"`)
			}
			if rec.S3.Object.VersionID != nil {
				out.S3.Object.VersionID = *rec.S3.Object.VersionID
			}
			out.S3.Object.Sequencer = n.sequencer(rec.S3.Object.Sequencer)
			payload, _ := json.Marshal(events.S3Event{Records: []events.S3EventRecord{out}})
			queued = append(queued, queuedEvent{sub: s, key: key, payload: payload})
		}
	}
	n.queue(queued)
	w.WriteHeader(http.StatusOK)
}

// queue hands events to the worker, which sends them in order; it starts
// the worker when none runs.
func (n *notifier) queue(evs []queuedEvent) {
	if len(evs) == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.inbox = append(n.inbox, evs...)
	n.busy(len(evs))
	if !n.working {
		n.working = true
		go n.worker()
	}
}

// worker sends the queued events until the inbox is empty.
func (n *notifier) worker() {
	for {
		n.mu.Lock()
		evs := n.inbox
		n.inbox = nil
		if len(evs) == 0 {
			n.working = false
			n.mu.Unlock()
			return
		}
		n.mu.Unlock()
		for _, e := range evs {
			if n.ctx.Err() == nil {
				n.send(e.sub, e.key, e.payload)
			}
			n.mu.Lock()
			n.busy(-1)
			n.mu.Unlock()
		}
	}
}

// busy counts d more (or fewer) events under way. n.mu is held.
func (n *notifier) busy(d int) {
	if n.pending == 0 && d > 0 {
		n.idle = make(chan struct{})
	}
	n.pending += d
	if n.pending == 0 {
		close(n.idle)
	}
}

// announce records that a webhook call announced bucket/key now.
func (n *notifier) announce(bucket, key string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.announced[bucket+"/"+key] = time.Now()
}

// target names where a subscription sends events.
func (s subscription) target() string {
	if s.queue != "" {
		return s.queue
	}
	return s.function
}

// send delivers an event to a subscription: to its queue (as S3 does,
// once; the queue's consumer retries), or to its function asynchronously.
func (n *notifier) send(s subscription, key string, payload []byte) {
	if s.queue == "" {
		n.deliver(s.function, key, payload)
		return
	}
	if n.enqueue == nil {
		fmt.Fprintf(n.log, "[notify] %s: no queue service for %s: the event is dropped\n", key, s.queue)
		return
	}
	if err := n.enqueue(s.queue, payload); err != nil {
		fmt.Fprintf(n.log, "[notify] %s: send to %s: %v: the event is dropped\n", key, s.queue, err)
	}
}

func (n *notifier) deliver(fn, key string, payload []byte) {
	n.mu.Lock()
	n.busy(1)
	n.mu.Unlock()
	go func() {
		d := Delivery{Function: fn, Key: key}
		async, ok := n.async[fn]
		if !ok {
			async = defaultAsync
		}
		first, condition := time.Now(), "RetriesExhausted"
		for d.Attempts <= async.Retries {
			if d.Attempts > 0 && time.Since(first) > async.MaxAge {
				condition = "EventAgeExceeded"
				break
			}
			d.Attempts++
			d.Response, d.Err = n.invoke(n.ctx, fn, payload)
			if d.Err == nil || n.ctx.Err() != nil {
				break
			}
			fmt.Fprintf(n.log, "[notify] %s for %s failed (attempt %d of %d): %v\n", fn, key, d.Attempts, async.Retries+1, d.Err)
			if d.Attempts > async.Retries {
				break
			}
			select {
			case <-time.After(n.backoff * time.Duration(d.Attempts)):
			case <-n.ctx.Done():
			}
		}
		if d.Err != nil && n.ctx.Err() == nil && n.deadLetter != nil {
			n.deadLetter(fn, payload, d, condition)
		}
		if n.onDone != nil {
			n.onDone(d)
		}
		n.mu.Lock()
		n.busy(-1)
		n.mu.Unlock()
	}()
}

// firstSight records an object version and reports whether it is new.
func (n *notifier) firstSight(bucket, key, etag string) bool {
	id := bucket + "/" + key + "@" + etag
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.seen[id] {
		return false
	}
	n.seen[id] = true
	return true
}

// changeLister tells the sweep which objects changed since a time (the
// embedded S3's files: S3Server.Changed).
type changeLister interface {
	Changed(bucket, prefix string, since time.Time) ([]ObjectFile, error)
}

// objectHeader reads an object's current ETag, as the S3 client does.
type objectHeader interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// Sweep periods: a sweep runs every sweepInterval, or nine times as long
// as the last one took when that is longer (so it takes at most a tenth of
// the time), but never less often than every sweepMaxPeriod; an object's
// lost event is delivered at most grace + the period after its upload.
const (
	sweepInterval  = 2 * time.Second
	sweepMaxPeriod = 10 * time.Second
	// sweepSlack widens each sweep's window back in time: file times come
	// from the kernel's coarse clock, a little behind time.Now.
	sweepSlack = time.Second
)

// sweep makes delivery at-least-once like S3's: versitygw posts each
// event to the webhook once, with a 3 s timeout and no retry, so an event
// can be lost on a loaded machine. Each sweep looks at the objects of the
// subscribed prefixes modified since the last sweep's window (changeLister:
// a walk of the backend's files, not a listing of every object's
// metadata) and older than grace (longer than the webhook's timeout, so no
// late webhook call follows), and delivers an event for each version that
// no webhook call announced. A lost event for a second PUT of identical
// bytes is not recovered: ingest would ignore it anyway. Objects modified
// before the sweeper starts count as announced, so start it before
// anything is uploaded.
func (n *notifier) sweep(ctx context.Context, c changeLister, h objectHeader, grace time.Duration) (loop func()) {
	since := time.Now()
	return func() {
		wait := sweepInterval
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			began := time.Now()
			cutoff := began.Add(-grace)
			n.sweepOnce(ctx, c, h, since.Add(-sweepSlack), cutoff)
			since = cutoff
			wait = sweepWait(time.Since(began))
		}
	}
}

// sweepWait is the pause after a sweep that took took: sweepInterval, or
// nine times took if longer, at most sweepMaxPeriod.
func sweepWait(took time.Duration) time.Duration {
	return min(max(sweepInterval, 9*took), sweepMaxPeriod)
}

// sweepOnce delivers an event for each object of the subscriptions
// modified from since to cutoff whose version no webhook call announced.
func (n *notifier) sweepOnce(ctx context.Context, c changeLister, h objectHeader, since, cutoff time.Time) {
	for _, sub := range n.subs {
		objs, err := c.Changed(sub.bucket, sub.prefix, since)
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(n.log, "[notify] sweep of %s/%s: %v\n", sub.bucket, sub.prefix, err)
			}
			continue
		}
		for _, o := range objs {
			if !strings.HasSuffix(o.Key, sub.suffix) || o.Modified.After(cutoff) || n.announcedAfter(sub.bucket, o.Key, o.Modified) {
				continue
			}
			head, err := h.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(sub.bucket), Key: aws.String(o.Key)})
			if err != nil {
				if ctx.Err() == nil {
					fmt.Fprintf(n.log, "[notify] sweep: head %s/%s: %v\n", sub.bucket, o.Key, err)
				}
				continue // deleted since, or unreadable: the next sweep's window has moved on
			}
			etag := strings.Trim(aws.ToString(head.ETag), `"`)
			if !n.firstSight(sub.bucket, o.Key, etag) {
				continue
			}
			fmt.Fprintf(n.log, "[notify] %s: no webhook call came; delivering from the sweep\n", o.Key)
			n.send(sub, o.Key, s3EventPayload(sub, o.Key, etag, aws.ToInt64(head.ContentLength), n.sequencer("")))
		}
	}
}

// announcedAfter reports whether a webhook call announced bucket/key after
// t (versitygw posts an event once the object is written).
func (n *notifier) announcedAfter(bucket, key string, t time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	at, ok := n.announced[bucket+"/"+key]
	return ok && !at.Before(t)
}

// s3EventPayload is the S3 event Lambda gets for a new object.
func s3EventPayload(sub subscription, key, etag string, size int64, sequencer string) []byte {
	var out events.S3EventRecord
	out.EventVersion = "2.1"
	out.EventSource = "aws:s3"
	out.AWSRegion = Region
	out.EventTime = time.Now().UTC()
	out.EventName = "ObjectCreated:Put"
	out.S3.SchemaVersion = "1.0"
	out.S3.ConfigurationID = sub.target() + "-" + sub.prefix
	out.S3.Bucket.Name = sub.bucket
	out.S3.Bucket.Arn = "arn:aws:s3:::" + sub.bucket
	out.S3.Object.Key = strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
	out.S3.Object.Size = size
	out.S3.Object.ETag = etag
	out.S3.Object.Sequencer = sequencer
	payload, _ := json.Marshal(events.S3Event{Records: []events.S3EventRecord{out}})
	return payload
}

// sequencer is the S3 sequencer of an event, ordering the versions of a
// key as S3's does (ingest compares them right-padded, as AWS documents).
// versitygw's own is an unpadded per-process counter ("9" < "A" < "10"
// only numerically; it restarts at 1 with the stack), so the notifier
// issues fixed-width ones that keep rising across restarts: the stack's
// start time, then versitygw's counter (event creation order), then 0. An
// event from the sweep, which announces a key's current version, gets the
// highest counter seen and 1: above every version announced before it.
func (n *notifier) sequencer(versity string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c, err := strconv.ParseUint(versity, 16, 64); err == nil {
		n.maxSeq = max(n.maxSeq, c)
		return fmt.Sprintf("%016X%016X0", n.epoch, c)
	}
	return fmt.Sprintf("%016X%016X1", n.epoch, n.maxSeq)
}

// waitIdle returns once no delivery is under way.
func (n *notifier) waitIdle(ctx context.Context) error {
	n.mu.Lock()
	idle := n.idle
	n.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
