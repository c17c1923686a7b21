package lake_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/telcolake/telcolake/lake"
)

// requeued records what a batch sends to the queue again.
type requeued struct {
	mu     sync.Mutex
	bodies []string
	err    error
}

func (r *requeued) Requeue(_ context.Context, body string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.bodies = append(r.bodies, body)
	return nil
}

// TestBatchDefersWhatItCannotFinish: a batch of more files than its
// invocation's time does not start the files its pace says it cannot
// finish: their notifications go to the queue again (with a count of
// deferrals, so their receive count starts anew), the messages they came
// in are acknowledged, nothing of them is written, and delivering the
// requeued notifications commits every file exactly once. Without a
// queue to send to, or after MaxDeferrals, a deferral is a failure the
// queue redelivers.
func TestBatchDefersWhatItCannotFinish(t *testing.T) {
	const files, rows = 12, 2000
	setup := func(t *testing.T) (*testLake, []events.SQSMessage, func() context.Context) {
		tl := newTestLake(t, false)
		var msgs []events.SQSMessage
		for i := range files {
			rec := tl.put(fmt.Sprintf("exports/cdr/2026/10/06/d%02d.csv", i), cdrCSV(fmt.Sprintf("D%02d-", i), rows, nil))
			msgs = append(msgs, sqsMessage(t, fmt.Sprintf("m%02d", i), rec))
		}
		tl.in.BatchWorkers = 1
		// A clock that moves a minute each time it is read, and an
		// invocation of 45 minutes: a few of the files fit.
		t0 := time.Now()
		var ticks atomic.Int64
		tl.in.Now = func() time.Time { return t0.Add(time.Duration(ticks.Add(1)) * time.Minute) }
		ctx := func() context.Context {
			ticks.Store(0)
			ctx, cancel := context.WithDeadline(context.Background(), t0.Add(45*time.Minute))
			t.Cleanup(cancel)
			return ctx
		}
		return tl, msgs, ctx
	}
	failedIDs := func(r lake.QueueResult) map[string]bool {
		out := map[string]bool{}
		for _, f := range r.BatchItemFailures {
			out[f.ItemIdentifier] = true
		}
		return out
	}

	t.Run("requeued", func(t *testing.T) {
		tl, msgs, ctx := setup(t)
		rq := &requeued{}
		tl.in.Requeue = rq
		resp, err := tl.in.HandleSQSEvent(ctx(), landingBucket, events.SQSEvent{Records: msgs})
		if err != nil {
			t.Fatal(err)
		}
		if f := failedIDs(resp); len(f) != 0 {
			t.Errorf("failed messages %v, want none (deferred files are sent again, not failed)", f)
		}
		done := map[string]bool{}
		for _, r := range resp.Files {
			if r.Status != lake.StatusCommitted || r.RowsOK != rows {
				t.Errorf("%s: %s with %d rows, want committed with %d", r.Source, r.Status, r.RowsOK, rows)
			}
			done[r.Source] = true
		}
		if len(done) == 0 || len(rq.bodies) == 0 || len(done)+len(rq.bodies) != files {
			t.Fatalf("%d files committed and %d sent again, want some of each and %d in all", len(done), len(rq.bodies), files)
		}
		bySource := tl.rowsBySource(lake.CDRTable)
		var again []events.SQSMessage
		for i, b := range rq.bodies {
			var body struct {
				events.S3Event
				Deferrals int `json:"telcolakeDeferrals"`
			}
			if err := json.Unmarshal([]byte(b), &body); err != nil || len(body.Records) != 1 || body.Deferrals != 1 {
				t.Fatalf("requeued body %s: %v; want the notification with telcolakeDeferrals 1", b, err)
			}
			src := "s3://" + landingBucket + "/" + body.Records[0].S3.Object.Key
			if done[src] || bySource[src] != 0 {
				t.Errorf("%s was sent again but has %d rows committed", src, bySource[src])
			}
			again = append(again, events.SQSMessage{MessageId: fmt.Sprintf("again%d", i), EventSource: "aws:sqs", Body: b})
		}
		if got := tl.count(lake.IngestLogTable); got != int64(len(done)) {
			t.Errorf("ingest_log has %d rows, want %d (a deferred file is not logged)", got, len(done))
		}

		// The requeued notifications, then every message once more.
		rq.bodies = nil
		for _, batch := range [][]events.SQSMessage{again, msgs} {
			resp, err := tl.in.HandleSQSEvent(context.Background(), landingBucket, events.SQSEvent{Records: batch})
			if err != nil || len(resp.BatchItemFailures) != 0 || len(rq.bodies) != 0 {
				t.Fatalf("redelivery: %v, failures %v, sent again %d", err, resp.BatchItemFailures, len(rq.bodies))
			}
		}
		bySource = tl.rowsBySource(lake.CDRTable)
		if len(bySource) != files {
			t.Errorf("%d files have rows, want %d", len(bySource), files)
		}
		for src, n := range bySource {
			if n != rows {
				t.Errorf("%s: %d rows, want %d", src, n, rows)
			}
		}
	})

	for _, c := range []struct {
		name string
		rq   func(*testLake, []events.SQSMessage) []events.SQSMessage
	}{
		{"no queue to send to", func(tl *testLake, m []events.SQSMessage) []events.SQSMessage { tl.in.Requeue = nil; return m }},
		{"the send fails", func(tl *testLake, m []events.SQSMessage) []events.SQSMessage {
			tl.in.Requeue = &requeued{err: fmt.Errorf("queue gone")}
			return m
		}},
		{"deferred too often", func(tl *testLake, m []events.SQSMessage) []events.SQSMessage {
			tl.in.Requeue = &requeued{}
			out := make([]events.SQSMessage, len(m))
			for i, msg := range m {
				var body map[string]any
				json.Unmarshal([]byte(msg.Body), &body)
				body["telcolakeDeferrals"] = lake.MaxDeferrals
				b, _ := json.Marshal(body)
				msg.Body = string(b)
				out[i] = msg
			}
			return out
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tl, msgs, ctx := setup(t)
			msgs = c.rq(tl, msgs)
			resp, err := tl.in.HandleSQSEvent(ctx(), landingBucket, events.SQSEvent{Records: msgs})
			if err != nil {
				t.Fatal(err)
			}
			f := failedIDs(resp)
			if len(f) == 0 || len(f)+len(resp.Files) != files {
				t.Errorf("%d failed, %d done; want the files not started failed, the rest done", len(f), len(resp.Files))
			}
			if rq, ok := tl.in.Requeue.(*requeued); ok && len(rq.bodies) != 0 {
				t.Errorf("%d sent again, want none", len(rq.bodies))
			}
			for _, r := range resp.Files {
				if f["m"+r.Source[len(r.Source)-6:len(r.Source)-4]] {
					t.Errorf("%s is done but its message failed", r.Source)
				}
			}
		})
	}
}
