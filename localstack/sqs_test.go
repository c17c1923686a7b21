package localstack

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// fakeClock is a settable clock for the queue's visibility timeouts.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newTestSQS serves an SQS on a fake clock and returns the real SDK client for it.
func newTestSQS(t *testing.T) (*SQS, *sqs.Client, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	srv := httptest.NewUnstartedServer(nil)
	q := NewSQS("http://" + srv.Listener.Addr().String())
	q.now = clock.now
	srv.Config.Handler = q
	srv.Start()
	t.Cleanup(srv.Close)
	c := sqs.New(sqs.Options{Region: Region, BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.AnonymousCredentials{}})
	return q, c, clock
}

func TestSQSWithTheSDK(t *testing.T) {
	_, c, clock := newTestSQS(t)
	ctx := context.Background()
	dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("dlq")})
	if err != nil {
		t.Fatal(err)
	}
	main, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("main"), Attributes: map[string]string{
		"VisibilityTimeout": "60",
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":2}`, QueueARN("dlq")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("main")}); err != nil || aws.ToString(got.QueueUrl) != aws.ToString(main.QueueUrl) {
		t.Fatalf("GetQueueUrl = %v, %v; want %s", got, err, aws.ToString(main.QueueUrl))
	}
	_, err = c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("nope")})
	var missing *types.QueueDoesNotExist
	if !errors.As(err, &missing) {
		t.Errorf("GetQueueUrl of a missing queue: %v, want QueueDoesNotExist", err)
	}

	url := main.QueueUrl
	var entries []types.SendMessageBatchRequestEntry
	for i := range 3 {
		entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(fmt.Sprintf("body %d", i))})
	}
	sent, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: url, Entries: entries})
	if err != nil || len(sent.Successful) != 3 {
		t.Fatalf("SendMessageBatch: %v, %v", sent, err)
	}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String("body 3")}); err != nil {
		t.Fatal(err) // the SDK checks the MD5 of the body
	}
	depth := func(name string) (visible, inFlight string) {
		t.Helper()
		u := url
		if name == "dlq" {
			u = dlq.QueueUrl
		}
		a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: u,
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		return a.Attributes["ApproximateNumberOfMessages"], a.Attributes["ApproximateNumberOfMessagesNotVisible"]
	}
	receive := func(max int32) []types.Message {
		t.Helper()
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: max,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
		if err != nil {
			t.Fatal(err) // the SDK checks the MD5 of each body
		}
		return out.Messages
	}

	first := receive(10)
	if len(first) != 4 || aws.ToString(first[0].Body) != "body 0" || first[0].Attributes["ApproximateReceiveCount"] != "1" {
		t.Fatalf("first receive: %d messages (%v)", len(first), first)
	}
	if v, f := depth("main"); v != "0" || f != "4" {
		t.Errorf("after receiving: %s visible, %s in flight; want 0, 4", v, f)
	}
	if again := receive(10); len(again) != 0 {
		t.Errorf("received %d messages inside their visibility timeout", len(again))
	}
	// Delete two, put one back at once, let the visibility of the last expire.
	del, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: url, Entries: []types.DeleteMessageBatchRequestEntry{
		{Id: aws.String("a"), ReceiptHandle: first[0].ReceiptHandle}, {Id: aws.String("b"), ReceiptHandle: first[1].ReceiptHandle}}})
	if err != nil || len(del.Successful) != 2 {
		t.Fatalf("DeleteMessageBatch: %v, %v", del, err)
	}
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: url, ReceiptHandle: first[2].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	if got := receive(10); len(got) != 1 || aws.ToString(got[0].Body) != "body 2" || got[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after ChangeMessageVisibility 0: %v", got)
	}
	clock.add(61 * time.Second)
	// body 3 is visible again (second receive); body 2 too, but it has
	// been received twice: it moves to the dead-letter queue.
	got := receive(10)
	if len(got) != 1 || aws.ToString(got[0].Body) != "body 3" || got[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after the visibility timeout: %v", got)
	}
	if v, _ := depth("dlq"); v != "1" {
		t.Errorf("dead-letter queue holds %s visible messages, want 1", v)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: url, ReceiptHandle: got[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if v, f := depth("main"); v != "0" || f != "0" {
		t.Errorf("at the end the queue holds %s visible, %s in flight; want none", v, f)
	}
	dead, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: dlq.QueueUrl})
	if err != nil || len(dead.Messages) != 1 || aws.ToString(dead.Messages[0].Body) != "body 2" {
		t.Errorf("dead-letter queue: %v, %v", dead, err)
	}
}

func TestSQSLongPollWakesOnSend(t *testing.T) {
	q, c, _ := newTestSQS(t)
	ctx := context.Background()
	url, err := q.CreateQueue("poll", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []types.Message, 1)
	go func() {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 20})
		if err != nil {
			t.Error(err)
		}
		got <- out.Messages
	}()
	if _, _, err := q.Send(url, "hello", 0); err != nil {
		t.Fatal(err)
	}
	if m := <-got; len(m) != 1 || aws.ToString(m[0].Body) != "hello" {
		t.Errorf("long poll got %v, want the message sent while it waited", m)
	}
}

// TestSQSLongPollWakesOnVisibilityChange: a long poll that began while
// the only message was hidden for a minute gets it once
// ChangeMessageVisibility shortens that (the event source mapping's
// gatherer is in such a poll whenever a batch fails), not an empty answer
// at the end of its 20 s wait.
func TestSQSLongPollWakesOnVisibilityChange(t *testing.T) {
	q := NewSQS("http://local")
	url, err := q.CreateQueue("poll", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := q.Send(url, "hello", 0); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	minute := time.Minute
	first, err := q.Receive(ctx, url, 1, &minute, 0)
	if err != nil || len(first) != 1 {
		t.Fatalf("Receive = %v, %v", first, err)
	}
	got := make(chan []Received, 1)
	go func() {
		out, err := q.Receive(ctx, url, 1, nil, 20*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- out
	}()
	time.Sleep(50 * time.Millisecond) // the poll is waiting (if not, it finds the message at once)
	if err := q.ChangeVisibility(url, first[0].ReceiptHandle, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if len(m) != 1 || m[0].Body != "hello" {
			t.Errorf("long poll got %v, want the message made visible while it waited", m)
		}
	case <-time.After(10 * time.Second): // half the poll's wait
		t.Error("the long poll still waits: ChangeVisibility did not wake it")
		<-got
	}
}

func TestSQSRejectsBadInput(t *testing.T) {
	q, c, _ := newTestSQS(t)
	ctx := context.Background()
	url, _ := q.CreateQueue("bad", nil)
	tests := []struct {
		name string
		call func() error
	}{
		{"empty body", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("")})
			return err
		}},
		{"too many messages", func() error {
			_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 11})
			return err
		}},
		{"bad queue name", func() error {
			_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("a b")})
			return err
		}},
		{"bad redrive policy", func() error {
			_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("r"), Attributes: map[string]string{"RedrivePolicy": `{"maxReceiveCount":0}`}})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); err == nil {
				t.Errorf("%s: no error", tc.name)
			}
		})
	}
}
