package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// A batch of SQS messages is sized by count, not by bytes: a batch of 100
// notifications of million-row files needs far longer than the function's
// Timeout. Files then fail "out of time" part way, are delivered again
// after the queue's visibility timeout, and each delivery counts towards
// the queue's maxReceiveCount: under a backlog of large files, a good file
// late in batch after batch would be dead-lettered. So a batch does not
// start a file it cannot finish (DeferredError), and HandleSQSEvent sends
// a deferred file's notification to the queue again (Requeuer), which
// starts its receive count anew, and acknowledges the message it came in.
// The ledger makes a notification delivered twice harmless (a crash
// between the send and the acknowledgement delivers it twice).

// DeferredError is the outcome of a file of a batch that was not started:
// the invocation's time left would not do it at the pace of the batch's
// files so far. Nothing of it was read or written.
type DeferredError struct {
	Left, Need time.Duration
}

func (e *DeferredError) Error() string {
	return fmt.Sprintf("not started: %s left before the deadline margin, and at this batch's pace the file needs about %s; delivered again",
		e.Left.Round(time.Second), e.Need.Round(time.Second))
}

// Requeuer sends a notification to the ingest queue again.
type Requeuer interface {
	Requeue(ctx context.Context, body string) error
}

// MaxDeferrals is how often a notification is sent again for a file not
// started; after that a deferral is an ordinary failure (delivered again
// after the visibility timeout, counting towards maxReceiveCount).
const MaxDeferrals = 20

// deferralsKey is the key the count of deferrals adds to a notification's
// JSON body (S3 ignores nothing here: only telcolake reads its queue).
const deferralsKey = "telcolakeDeferrals"

// deferredBody is body with its count of deferrals one more.
func deferredBody(body string, n int) (string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return "", fmt.Errorf("notification is not a JSON object: %w", err)
	}
	m[deferralsKey] = json.RawMessage(fmt.Sprint(n + 1))
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// pace estimates a file's time from the files of a batch done so far: the
// slowest time per byte of the object as delivered (compressed for .gz).
type pace struct {
	mu      sync.Mutex
	perByte float64 // seconds
}

// observe records one file of size bytes that took d.
func (p *pace) observe(d time.Duration, size int64) {
	if size <= 0 || d <= 0 {
		return
	}
	r := d.Seconds() / float64(size)
	p.mu.Lock()
	p.perByte = max(p.perByte, r)
	p.mu.Unlock()
}

// need is the estimate for a file of size bytes, with a quarter more for
// the files' spread; false before any file was done or without a size.
func (p *pace) need(size int64) (time.Duration, bool) {
	p.mu.Lock()
	r := p.perByte
	p.mu.Unlock()
	if r == 0 || size <= 0 {
		return 0, false
	}
	return time.Duration(1.25 * r * float64(size) * float64(time.Second)), true
}

// deferral says whether to leave a file of size bytes for a later
// delivery: when the time before the deadline margin is gone, or less
// than the pace says the file needs. Without a deadline nothing is left.
func (in *Ingester) deferral(ctx context.Context, p *pace, size int64) *DeferredError {
	dl, ok := ctx.Deadline()
	if !ok {
		return nil
	}
	left := dl.Add(-in.DeadlineMargin).Sub(in.now())
	if left <= 0 {
		return &DeferredError{Left: max(left, 0)}
	}
	if need, ok := p.need(size); ok && need > left {
		return &DeferredError{Left: left, Need: need}
	}
	return nil
}
