package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// poller is Lambda's SQS event source mapping: it long-polls a queue,
// gathers up to batchSize messages within the batching window, invokes
// the function with them as one SQS event, and deletes the messages that
// succeeded. With ReportBatchItemFailures the function's answer names the
// failed messages (an answer that cannot be read, or names an unknown
// message, fails the whole batch, as Lambda does); without it any error
// fails the batch. Failed messages stay in the queue and come back after
// retryDelay (locally, instead of the queue's visibility timeout, which
// in the template is 30 minutes), until the queue's redrive moves them to
// its dead-letter queue. Like Lambda's pollers it works on up to
// concurrency batches at once, each in its own execution environment
// (run once per environment).
type poller struct {
	sqs         *SQS
	queue       string // name
	queueURL    string
	function    string
	batchSize   int
	window      time.Duration
	report      bool
	retryDelay  time.Duration
	concurrency int // environments (batches at once); ScalingConfig.MaximumConcurrency
	invoke      invokeFunc
	onDone      func(Delivery)
	log         func(format string, a ...any)

	gatherOnce sync.Once
	ready      chan gathered // batches, to the first free environment
	gatherDone chan struct{} // closed when the gatherer has stopped

	batches, messages atomic.Int64 // invocations made, messages handed over
	busy              atomic.Int64 // nanoseconds spent in the function's invocations
	spansMu           sync.Mutex
	spans             []BatchSpan // the first maxSpans batches
}

// maxSpans bounds the batches a mapping keeps the times of.
const maxSpans = 32

// BatchSpan is one batch of an event source mapping: when its first
// message was received (its window began), when the function got it and
// when the function answered. Invoked minus Received is the batching
// window, or the wait for a full batch, plus any wait for a free
// execution environment.
type BatchSpan struct {
	Messages                int
	Received, Invoked, Done time.Time
}

// QueueStats counts what a function's event source mappings delivered.
type QueueStats struct {
	Function, Queue   string
	Batches, Messages int64
	BatchSize         int
	Window            time.Duration
	// Concurrency is how many batches the mapping works on at once.
	Concurrency int
	// Busy is the time the mapping's invocations took, added up.
	Busy time.Duration
	// Spans are the first batches' times, in the order they finished.
	Spans []BatchSpan
}

// QueueStats reports every event source mapping's batches and messages so far.
func (s *Stack) QueueStats() []QueueStats {
	var out []QueueStats
	for _, p := range s.pollers {
		p.spansMu.Lock()
		spans := slices.Clone(p.spans)
		p.spansMu.Unlock()
		out = append(out, QueueStats{Function: p.function, Queue: p.queue, Batches: p.batches.Load(), Messages: p.messages.Load(),
			BatchSize: p.batchSize, Window: p.window, Concurrency: max(p.concurrency, 1), Busy: time.Duration(p.busy.Load()), Spans: spans})
	}
	return out
}

// maxSQSPayload bounds a batch's bodies, under Lambda's 6 MB invocation payload.
const maxSQSPayload = 5 << 20

// invokeFunc invokes a function in one execution environment.
type invokeFunc func(ctx context.Context, fn string, payload []byte) ([]byte, error)

// run polls and delivers batches until ctx ends, invoking the function
// with invoke (one execution environment); the mapping runs it once per
// environment, all with the same ctx. As Lambda's pollers do, one gatherer
// (started by the first run) fills the next batch while the environments
// work on the ones before: a batch whose window ends while every
// environment is busy goes to the first one free, instead of its window
// starting only then. (Each environment gathering its own next batch after
// its invocation made the demo's last 30 of 230 files wait a whole 5 s
// window after the first two batches of 100.) One batch at most waits for
// an environment; its messages are in flight meanwhile.
func (p *poller) run(ctx context.Context, invoke invokeFunc) {
	p.gatherOnce.Do(func() {
		p.ready = make(chan gathered)
		p.gatherDone = make(chan struct{})
		go func() {
			defer close(p.gatherDone)
			for ctx.Err() == nil {
				msgs, first := p.gather(ctx)
				if len(msgs) == 0 {
					continue
				}
				select {
				case p.ready <- gathered{msgs, first}:
				case <-ctx.Done(): // shutting down: the messages come back in the next stack
				}
			}
		}()
	})
	defer func() { <-p.gatherDone }()
	for {
		select {
		case b := <-p.ready:
			p.deliver(ctx, invoke, b.msgs, b.first)
		case <-ctx.Done():
			return
		}
	}
}

// gathered is a batch and when its first message was received.
type gathered struct {
	msgs  []Received
	first time.Time
}

// gather waits for a first message, then fills the batch until it is full,
// the window has passed or the payload would grow too large; first is
// when the first message came.
func (p *poller) gather(ctx context.Context) (msgs []Received, first time.Time) {
	size := 0
	var end time.Time
	for len(msgs) < p.batchSize && size < maxSQSPayload {
		wait := 20 * time.Second
		if len(msgs) > 0 {
			wait = time.Until(end)
			if wait < 0 {
				wait = 0
			}
		}
		got, err := p.sqs.Receive(ctx, p.queueURL, min(10, p.batchSize-len(msgs)), nil, wait.Truncate(time.Millisecond))
		if err != nil {
			if ctx.Err() == nil {
				p.log("[queue] receive from %s: %v", p.queue, err)
			}
			return msgs, first
		}
		if len(msgs) == 0 && len(got) > 0 {
			first = time.Now()
			end = first.Add(p.window)
		}
		for _, m := range got {
			size += len(m.Body)
		}
		msgs = append(msgs, got...)
		if len(got) == 0 && len(msgs) > 0 {
			return msgs, first // the window is over
		}
		if len(msgs) > 0 && !time.Now().Before(end) && len(got) < 10 {
			return msgs, first
		}
	}
	return msgs, first
}

// deliver invokes the function with one batch and settles its messages.
func (p *poller) deliver(ctx context.Context, invoke invokeFunc, msgs []Received, first time.Time) {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	byID := map[string]Received{}
	for i, m := range msgs {
		byID[m.MessageID] = m
		ev.Records[i] = events.SQSMessage{MessageId: m.MessageID, ReceiptHandle: m.ReceiptHandle, Body: m.Body, Md5OfBody: m.md5,
			Attributes: m.Attributes, EventSource: "aws:sqs", EventSourceARN: QueueARN(p.queue), AWSRegion: Region}
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		p.log("[queue] encode batch: %v", err)
		return
	}
	p.batches.Add(1)
	p.messages.Add(int64(len(msgs)))
	began := time.Now()
	out, err := invoke(ctx, p.function, payload)
	ended := time.Now()
	p.busy.Add(int64(ended.Sub(began)))
	p.spansMu.Lock()
	if len(p.spans) < maxSpans {
		p.spans = append(p.spans, BatchSpan{Messages: len(msgs), Received: first, Invoked: began, Done: ended})
	}
	p.spansMu.Unlock()
	if ctx.Err() != nil {
		return // shutting down: the messages come back in the next stack
	}
	failed := map[string]string{} // message id → why
	var answer struct {
		BatchItemFailures []events.SQSBatchItemFailure `json:"batchItemFailures"`
		Files             []json.RawMessage            `json:"files"`
	}
	switch {
	case err != nil:
		for id := range byID {
			failed[id] = err.Error()
		}
	case p.report:
		if jerr := json.Unmarshal(out, &answer); jerr != nil && len(out) > 0 && string(out) != "null" {
			for id := range byID {
				failed[id] = "the function's answer is not an SQS batch response: " + jerr.Error()
			}
			break
		}
		for _, f := range answer.BatchItemFailures {
			if _, ok := byID[f.ItemIdentifier]; !ok {
				for id := range byID {
					failed[id] = fmt.Sprintf("the function reported a failure of message %q, which is not in the batch", f.ItemIdentifier)
				}
				break
			}
			failed[f.ItemIdentifier] = "reported in batchItemFailures"
		}
	}
	results := fileResults(answer.Files)
	for _, m := range msgs {
		keys := messageKeys(m.Body)
		receives, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
		if why, bad := failed[m.MessageID]; bad {
			names := make([]string, len(keys))
			for i, k := range keys {
				names[i] = k.key
			}
			p.log("[queue] %s for %s failed (receive %d): %s", p.function, strings.Join(names, ","), receives, why)
			if err := p.sqs.ChangeVisibility(p.queueURL, m.ReceiptHandle, p.retryDelay); err != nil {
				p.log("[queue] %s: %v", p.queue, err)
			}
			continue
		}
		if err := p.sqs.Delete(p.queueURL, m.ReceiptHandle); err != nil {
			p.log("[queue] delete from %s: %v", p.queue, err)
		}
		if p.onDone == nil {
			continue
		}
		for _, k := range keys { // each message its own file's result, in order
			d := Delivery{Function: p.function, Key: k.key, Attempts: receives}
			files := []json.RawMessage{}
			if rs := results[k.source+"@"+k.etag]; len(rs) > 0 {
				files, results[k.source+"@"+k.etag] = rs[:1], rs[1:]
			}
			d.Response, _ = json.Marshal(map[string][]json.RawMessage{"files": files})
			p.onDone(d)
		}
	}
}

// objectKey names an object a notification announces.
type objectKey struct{ key, source, etag string }

// messageKeys reads the objects an S3 notification in a message body
// announces (none for anything else).
func messageKeys(body string) []objectKey {
	var ev events.S3Event
	if json.Unmarshal([]byte(body), &ev) != nil {
		return nil
	}
	var out []objectKey
	for _, r := range ev.Records {
		k, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			k = r.S3.Object.Key
		}
		out = append(out, objectKey{key: k, source: "s3://" + r.S3.Bucket.Name + "/" + k, etag: strings.Trim(r.S3.Object.ETag, `"`)})
	}
	return out
}

// fileResults indexes the function's per-file results by source@etag.
func fileResults(files []json.RawMessage) map[string][]json.RawMessage {
	out := map[string][]json.RawMessage{}
	for _, f := range files {
		var r struct{ Source, ETag string }
		if json.Unmarshal(f, &r) == nil {
			out[r.Source+"@"+r.ETag] = append(out[r.Source+"@"+r.ETag], f)
		}
	}
	return out
}

// queueDeadLetter records a message the queue moved to its dead-letter
// queue, under <Dir>/dlq/<dead-letter queue>/ (see DeadLetters), and tells
// OnDelivery that its files failed for good.
func (s *Stack) queueDeadLetter(from, to, body string, receives int) {
	logical := to
	for id, q := range s.Template.Queues {
		if s.queueNames[id] == to {
			logical = q.LogicalID
		}
	}
	now := time.Now().UTC()
	rec, _ := json.MarshalIndent(map[string]any{"queue": from, "deadLetterQueue": to, "receives": receives,
		"timestamp": now.Format(time.RFC3339Nano), "body": json.RawMessage(body)}, "", "  ")
	if !json.Valid([]byte(body)) {
		rec, _ = json.MarshalIndent(map[string]any{"queue": from, "deadLetterQueue": to, "receives": receives,
			"timestamp": now.Format(time.RFC3339Nano), "body": body}, "", "  ")
	}
	dir := filepath.Join(s.DeadLetterDir(), logical)
	name := filepath.Join(dir, now.Format("20060102T150405.000000000Z")+"-"+newRequestID()[:8]+".json")
	err := os.MkdirAll(dir, 0o755)
	if err == nil {
		err = os.WriteFile(name, rec, 0o644)
	}
	keys := messageKeys(body)
	if err != nil {
		fmt.Fprintf(s.cfg.Log, "[queue] a message of %s moved to %s; its local copy not written: %v\n", from, to, err)
	} else {
		fmt.Fprintf(s.cfg.Log, "[queue] a message of %s received %d times: moved to %s (%s)\n", from, receives, to, name)
	}
	if s.cfg.OnDelivery == nil {
		return
	}
	fn := ""
	for _, p := range s.pollers {
		if p.queue == from {
			fn = p.function
		}
	}
	for _, k := range keys {
		s.cfg.OnDelivery(Delivery{Function: fn, Key: k.key, Attempts: receives,
			Err: errors.New("received " + strconv.Itoa(receives) + " times without success: moved to the dead-letter queue " + to)})
	}
}
