package localstack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// s3Body is an S3 notification of one object, as a message body.
func s3Body(bucket, key, etag string) string {
	var rec events.S3EventRecord
	rec.EventSource, rec.EventName = "aws:s3", "ObjectCreated:Put"
	rec.S3.Bucket.Name, rec.S3.Object.Key, rec.S3.Object.ETag = bucket, key, etag
	b, _ := json.Marshal(events.S3Event{Records: []events.S3EventRecord{rec}})
	return string(b)
}

// TestPollerSettlesBatches: the event source mapping hands the function
// batches, deletes what succeeded, brings back exactly the messages the
// function names in batchItemFailures, and after maxReceiveCount the queue
// moves the one that keeps failing to the dead-letter queue.
func TestPollerSettlesBatches(t *testing.T) {
	q := NewSQS("http://local")
	if _, err := q.CreateQueue("dlq", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := q.CreateQueue("in", map[string]string{"RedrivePolicy": fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":3}`, QueueARN("dlq"))}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var batches []int
	done := make(chan Delivery, 64)
	dead := make(chan string, 4)
	q.onDeadLetter = func(from, to, body string, receives int) { dead <- body }
	p := &poller{sqs: q, queue: "in", queueURL: "in", function: "ingest", batchSize: 50, window: 200 * time.Millisecond, report: true,
		retryDelay: time.Millisecond, onDone: func(d Delivery) { done <- d }, log: t.Logf,
		invoke: func(ctx context.Context, fn string, payload []byte) ([]byte, error) {
			var ev events.SQSEvent
			if err := json.Unmarshal(payload, &ev); err != nil {
				return nil, err
			}
			mu.Lock()
			batches = append(batches, len(ev.Records))
			mu.Unlock()
			var out struct {
				BatchItemFailures []events.SQSBatchItemFailure `json:"batchItemFailures"`
				Files             []map[string]string          `json:"files"`
			}
			for _, m := range ev.Records {
				if strings.Contains(m.Body, "poison") {
					out.BatchItemFailures = append(out.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
					continue
				}
				var s3 events.S3Event
				json.Unmarshal([]byte(m.Body), &s3)
				r := s3.Records[0].S3
				out.Files = append(out.Files, map[string]string{"source": "s3://" + r.Bucket.Name + "/" + r.Object.Key, "etag": r.Object.ETag, "status": "committed"})
			}
			return json.Marshal(out)
		}}
	for i := range 20 {
		q.Send("in", s3Body("landing", fmt.Sprintf("exports/cdr/f%02d.csv", i), fmt.Sprint(i)), 0)
	}
	q.Send("in", s3Body("landing", "exports/cdr/poison.csv", "p"), 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.run(ctx, p.invoke)
	got := map[string]Delivery{}
	for len(got) < 21 {
		select {
		case d := <-done:
			got[d.Key] = d
		case body := <-dead:
			if !strings.Contains(body, "poison") {
				t.Errorf("dead-lettered %s", body)
			}
			got["dead"] = Delivery{}
		case <-time.After(time.Minute):
			t.Fatalf("deliveries so far: %d", len(got))
		}
	}
	for i := range 20 {
		d, ok := got[fmt.Sprintf("exports/cdr/f%02d.csv", i)]
		if !ok || !strings.Contains(string(d.Response), `"etag":"`+fmt.Sprint(i)+`"`) || d.Attempts != 1 {
			t.Errorf("file %d: delivery %+v (%s)", i, d, d.Response)
		}
	}
	if _, ok := got["exports/cdr/poison.csv"]; ok {
		t.Error("the failing message was reported done")
	}
	if n := q.Depth("in"); n != 0 {
		t.Errorf("%d messages left in the queue", n)
	}
	if n := q.Depth("dlq"); n != 1 {
		t.Errorf("%d messages in the dead-letter queue, want 1", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if batches[0] != 21 {
		t.Errorf("first batch had %d messages, want all 21 (batch size 50, queue filled before polling)", batches[0])
	}
	if len(batches) != 3 { // all; the poison alone; again; then it is moved
		t.Errorf("batches %v, want 3 (the poison message is received 3 times)", batches)
	}
}

// TestPollerWorksOnBatchesAtOnce: a mapping with concurrency 2 has two
// batches in the function at the same time (one environment each), and
// every message is still delivered once and deleted.
func TestPollerWorksOnBatchesAtOnce(t *testing.T) {
	q := NewSQS("http://local")
	if _, err := q.CreateQueue("in", nil); err != nil {
		t.Fatal(err)
	}
	const files = 40
	for i := range files {
		q.Send("in", s3Body("landing", fmt.Sprintf("exports/cdr/f%02d.csv", i), fmt.Sprint(i)), 0)
	}
	both := make(chan struct{}) // closed when two invocations are in at once
	var mu sync.Mutex
	in, most, closed := 0, 0, false
	invoke := func(ctx context.Context, fn string, payload []byte) ([]byte, error) {
		mu.Lock()
		in++
		most = max(most, in)
		if in == 2 && most == 2 && !closed {
			close(both)
			closed = true
		}
		mu.Unlock()
		defer func() { mu.Lock(); in--; mu.Unlock() }()
		select {
		case <-both: // the other batch is in the function too
		case <-time.After(30 * time.Second): // a second environment never came
		}
		return []byte(`{"batchItemFailures":[]}`), nil
	}
	done := make(chan Delivery, files)
	p := &poller{sqs: q, queue: "in", queueURL: "in", function: "ingest", batchSize: 10, report: true, concurrency: 2,
		retryDelay: time.Millisecond, onDone: func(d Delivery) { done <- d }, log: t.Logf}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range p.concurrency {
		go p.run(ctx, invoke)
	}
	got := map[string]bool{}
	for len(got) < files {
		select {
		case d := <-done:
			if got[d.Key] {
				t.Errorf("%s delivered twice", d.Key)
			}
			got[d.Key] = true
		case <-time.After(2 * time.Minute):
			t.Fatalf("deliveries so far: %d of %d", len(got), files)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if most != 2 {
		t.Errorf("at most %d batches in the function at once, want 2", most)
	}
	if n := q.Depth("in"); n != 0 {
		t.Errorf("%d messages left in the queue", n)
	}
}

// TestPollerGathersWhileTheFunctionWorks: the next batch is gathered while
// the function has the one before, as Lambda's pollers do, so a batch whose
// window ends while every environment is busy is ready when one frees up
// (its window does not start only after the invocation). A full batch is
// handed over without its window; the rest of the queue, under a batch,
// after the window.
func TestPollerGathersWhileTheFunctionWorks(t *testing.T) {
	q := NewSQS("http://local")
	if _, err := q.CreateQueue("in", nil); err != nil {
		t.Fatal(err)
	}
	const files = 15
	for i := range files {
		q.Send("in", s3Body("landing", fmt.Sprintf("exports/cdr/f%02d.csv", i), fmt.Sprint(i)), 0)
	}
	// inFlight is the queue's count of received, undeleted messages.
	inFlight := func() string {
		a, err := q.getAttributes("in", []string{"All"})
		if err != nil {
			t.Error(err)
			return ""
		}
		return a.(map[string]map[string]string)["Attributes"]["ApproximateNumberOfMessagesNotVisible"]
	}
	var mu sync.Mutex
	var batches []int
	gatheredDuring := false // all messages in flight while the first batch was in the function
	invoke := func(ctx context.Context, fn string, payload []byte) ([]byte, error) {
		var ev events.SQSEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		mu.Lock()
		batches = append(batches, len(ev.Records))
		first := len(batches) == 1
		mu.Unlock()
		if first {
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			giveUp := time.After(10 * time.Second)
		wait:
			for {
				select {
				case <-tick.C:
					if inFlight() == fmt.Sprint(files) {
						mu.Lock()
						gatheredDuring = true
						mu.Unlock()
						break wait
					}
				case <-giveUp:
					break wait
				}
			}
		}
		return []byte(`{"batchItemFailures":[]}`), nil
	}
	done := make(chan Delivery, files)
	p := &poller{sqs: q, queue: "in", queueURL: "in", function: "ingest", batchSize: 10, window: 300 * time.Millisecond, report: true,
		concurrency: 1, retryDelay: time.Millisecond, onDone: func(d Delivery) { done <- d }, log: t.Logf}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.run(ctx, invoke)
	got := map[string]bool{}
	for len(got) < files {
		select {
		case d := <-done:
			if got[d.Key] {
				t.Errorf("%s delivered twice", d.Key)
			}
			got[d.Key] = true
		case <-time.After(time.Minute):
			t.Fatalf("deliveries so far: %d of %d", len(got), files)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !gatheredDuring {
		t.Errorf("the rest of the queue was not received while the function had the first batch (%s messages in flight, want %d)", inFlight(), files)
	}
	if fmt.Sprint(batches) != "[10 5]" {
		t.Errorf("batches %v, want [10 5]", batches)
	}
	if n := q.Depth("in"); n != 0 {
		t.Errorf("%d messages left in the queue", n)
	}
	p.spansMu.Lock()
	defer p.spansMu.Unlock()
	if len(p.spans) != 2 || p.spans[0].Messages != 10 || p.spans[1].Messages != 5 {
		t.Fatalf("spans %+v, want batches of 10 and 5", p.spans)
	}
	if a, b := p.spans[0], p.spans[1]; !b.Received.Before(a.Done) || b.Invoked.Before(a.Done) || b.Invoked.Before(b.Received) {
		t.Errorf("second batch received %v, invoked %v; the first done %v: want it received before the first was done, invoked after",
			b.Received, b.Invoked, a.Done)
	}
}
