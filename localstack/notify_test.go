package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// fakeBucket is the sweep's view of bucket "landing": its files'
// modification times (changeLister) and their ETags (objectHeader).
type fakeBucket struct {
	mu    sync.Mutex
	objs  map[string]fakeObject
	heads []string // keys HEADed, in order
}

type fakeObject struct {
	etag     string
	modified time.Time
}

func (f *fakeBucket) put(key, etag string, modified time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.objs == nil {
		f.objs = map[string]fakeObject{}
	}
	f.objs[key] = fakeObject{etag, modified}
}

func (f *fakeBucket) Changed(bucket, prefix string, since time.Time) ([]ObjectFile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ObjectFile
	for k, o := range f.objs {
		if bucket == "landing" && strings.HasPrefix(k, prefix) && !o.modified.Before(since) {
			out = append(out, ObjectFile{Key: k, Size: 7, Modified: o.modified})
		}
	}
	return out, nil
}

func (f *fakeBucket) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := aws.ToString(in.Key)
	f.heads = append(f.heads, k)
	o, ok := f.objs[k]
	if !ok {
		return nil, errors.New("no such key")
	}
	return &s3.HeadObjectOutput{ETag: aws.String(`"` + o.etag + `"`), ContentLength: aws.Int64(7)}, nil
}

// webhookBody is versitygw's event for one PUT of landing/key.
func webhookBody(key, etag string) string {
	return `{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"landing"},"object":{"key":"` + key + `","eTag":"\"` + etag + `\""}}}]}`
}

// TestSweepDeliversEventsTheWebhookLost drives the sweep's windows by
// hand: a version no webhook call announced is delivered by the first
// sweep whose window (older than grace) reaches its modification time,
// once; an announced one, one older than the sweeper, one still within
// grace and one outside the subscription are not, and the announced one
// costs no HEAD.
func TestSweepDeliversEventsTheWebhookLost(t *testing.T) {
	var mu sync.Mutex
	var delivered []string
	n := newNotifier(context.Background(), []subscription{{function: "ingest", bucket: "landing", prefix: "exports/"}},
		func(ctx context.Context, fn string, payload []byte) ([]byte, error) {
			var ev events.S3Event
			if err := json.Unmarshal(payload, &ev); err != nil {
				t.Error(err)
			}
			mu.Lock()
			delivered = append(delivered, ev.Records[0].S3.Object.URLDecodedKey+"@"+ev.Records[0].S3.Object.ETag)
			mu.Unlock()
			return []byte(`{}`), nil
		}, &syncBuffer{})
	b := &fakeBucket{}
	ctx := context.Background()
	t0 := time.Now()
	b.put("exports/before.csv", "e0", t0.Add(-time.Hour)) // there before the stack: not new
	_ = n.sweep(ctx, b, b, time.Minute)                   // the sweeper starts now
	up := time.Now()                                      // the uploads, before the webhook's call
	b.put("exports/lost.csv", "e1", up)                   // no webhook call came
	b.put("exports/announced.csv", "e2", up)
	b.put("exports/young.csv", "e3", t0.Add(30*time.Second)) // still within grace at the second sweep
	b.put("other/x.csv", "e4", up)                           // no subscription
	rec := httptest.NewRecorder()
	n.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(webhookBody("exports/announced.csv", "e2"))))
	if rec.Code != http.StatusOK {
		t.Fatalf("webhook answered %d", rec.Code)
	}
	// Windows as the loop makes them (grace a minute): the first ends
	// before the uploads, the second covers lost.csv, the third young.csv.
	windows := [][2]time.Time{
		{t0.Add(-sweepSlack), t0.Add(-time.Second)},
		{t0.Add(-time.Second - sweepSlack), t0.Add(10 * time.Second)},
		{t0.Add(10*time.Second - sweepSlack), t0.Add(40 * time.Second)},
	}
	want := [][]string{
		{"exports/announced.csv@e2"},
		{"exports/announced.csv@e2", "exports/lost.csv@e1"},
		{"exports/announced.csv@e2", "exports/lost.csv@e1", "exports/young.csv@e3"},
	}
	for i, w := range windows {
		n.sweepOnce(ctx, b, b, w[0], w[1])
		if err := n.waitIdle(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		got := slices.Sorted(slices.Values(delivered))
		mu.Unlock()
		if !slices.Equal(got, want[i]) {
			t.Errorf("after sweep %d: delivered %v, want %v", i+1, got, want[i])
		}
	}
	if slices.Contains(b.heads, "exports/announced.csv") {
		t.Errorf("the sweep read the ETag of an announced object (HEADs %v)", b.heads)
	}
	// The lost object's window again: nothing new.
	n.sweepOnce(ctx, b, b, windows[1][0], windows[1][1])
	if err := n.waitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if len(delivered) != 3 {
		t.Errorf("a second sweep over the same window delivered again: %v", delivered)
	}
}

// TestSweepPeriodIsBounded: however long a sweep takes, the next starts
// within sweepMaxPeriod, so an event the webhook lost is delivered at most
// grace + sweepMaxPeriod after its upload.
func TestSweepPeriodIsBounded(t *testing.T) {
	for _, tc := range []struct{ took, want time.Duration }{
		{0, sweepInterval},
		{100 * time.Millisecond, sweepInterval},
		{500 * time.Millisecond, 4500 * time.Millisecond},
		{time.Minute, sweepMaxPeriod},
	} {
		if got := sweepWait(tc.took); got != tc.want {
			t.Errorf("sweepWait(%v) = %v, want %v", tc.took, got, tc.want)
		}
	}
}

// TestWebhookAnswersBeforeASlowConsumer: the webhook call is answered
// while the queue it feeds is still blocked (versitygw gives up after 3 s
// and never retries), and the event is sent once the queue takes it.
func TestWebhookAnswersBeforeASlowConsumer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := newNotifier(ctx, []subscription{{queue: "ingest-q", bucket: "landing", prefix: "exports/"}}, nil, &syncBuffer{})
	release := make(chan struct{})
	var mu sync.Mutex
	var sent []string
	n.enqueue = func(queue string, payload []byte) error {
		<-release // a consumer that does not answer until the webhook call is over
		var ev events.S3Event
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Error(err)
		}
		mu.Lock()
		sent = append(sent, queue+":"+ev.Records[0].S3.Object.URLDecodedKey)
		mu.Unlock()
		return nil
	}
	srv := httptest.NewServer(n)
	defer srv.Close()
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock() // before srv.Close, which waits for the handlers
	// versitygw's client gives up after 3 s; this one waits longer, so
	// only a webhook that waits for the queue fails here.
	client := &http.Client{Timeout: 10 * time.Second}
	for _, key := range []string{"exports/a.csv", "exports/b.csv"} {
		resp, err := client.Post(srv.URL, "application/json", strings.NewReader(webhookBody(key, "e-"+key)))
		if err != nil {
			t.Fatalf("webhook call for %s: %v", key, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook call for %s answered %d", key, resp.StatusCode)
		}
	}
	mu.Lock()
	early := len(sent)
	mu.Unlock()
	if early != 0 {
		t.Fatalf("%d events sent while the queue was blocked", early)
	}
	unblock()
	if err := n.waitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if want := []string{"ingest-q:exports/a.csv", "ingest-q:exports/b.csv"}; !slices.Equal(sent, want) {
		t.Errorf("sent %v, want %v (in the webhook's order, once each)", sent, want)
	}
}
