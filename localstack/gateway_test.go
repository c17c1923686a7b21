package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestGatewayEvents(t *testing.T) {
	var got events.APIGatewayV2HTTPRequest
	gw := &gateway{
		routes: []route{newRoute("GET", "/customers/{id}", "api"), newRoute("ANY", "/files/{path+}", "api")},
		invoke: func(ctx context.Context, fn string, payload []byte) ([]byte, error) {
			if err := json.Unmarshal(payload, &got); err != nil {
				t.Fatal(err)
			}
			switch got.PathParameters["id"] {
			case "boom":
				return nil, &FunctionError{ErrorType: "errorString", ErrorMessage: "boom"}
			case "slow":
				return nil, &FunctionError{ErrorType: "Sandbox.Timedout"}
			case "plain":
				return []byte(`{"name":"x"}`), nil
			}
			return json.Marshal(events.APIGatewayV2HTTPResponse{StatusCode: 201, Headers: map[string]string{"X-Test": "1"}, Body: "made"})
		},
	}
	tests := []struct {
		method, target, body string
		wantCode             int
		wantBody             string
		check                func(t *testing.T)
	}{
		{"GET", "/customers/S1?fields=a,b&x=1", "", 201, "made", func(t *testing.T) {
			if got.RouteKey != "GET /customers/{id}" || got.PathParameters["id"] != "S1" || got.QueryStringParameters["x"] != "1" ||
				got.RawQueryString != "fields=a,b&x=1" || got.RequestContext.HTTP.Method != "GET" || got.Version != "2.0" {
				t.Errorf("event %+v", got)
			}
			if got.Headers["authorization"] != "Bearer t" {
				t.Errorf("headers %v: want lower-case names", got.Headers)
			}
		}},
		{"POST", "/files/a/b/c.csv", "\xff\xfe", 201, "made", func(t *testing.T) {
			if got.PathParameters["path"] != "a/b/c.csv" || !got.IsBase64Encoded || got.Body != "//4=" {
				t.Errorf("greedy path %q, base64 %v body %q", got.PathParameters["path"], got.IsBase64Encoded, got.Body)
			}
		}},
		{"GET", "/customers/plain", "", 200, `{"name":"x"}`, nil},
		{"GET", "/customers/boom", "", 500, "Internal Server Error", nil},
		{"GET", "/customers/slow", "", 503, "Service Unavailable", nil},
		{"DELETE", "/customers/S1", "", 404, "Not Found", nil},
		{"GET", "/customers/S1/extra", "", 404, "Not Found", nil},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer t")
			rec := httptest.NewRecorder()
			gw.ServeHTTP(rec, req)
			if rec.Code != tc.wantCode || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("%s %s = %d %q, want %d %q", tc.method, tc.target, rec.Code, rec.Body.String(), tc.wantCode, tc.wantBody)
			}
			if tc.check != nil {
				tc.check(t)
			}
		})
	}
}

func TestNotifierDeliversS3Events(t *testing.T) {
	type call struct {
		fn string
		ev events.S3Event
	}
	calls := make(chan call, 8)
	fails := 1
	n := newNotifier(context.Background(), []subscription{{function: "ingest", bucket: "landing", prefix: "exports/", suffix: ""}},
		func(ctx context.Context, fn string, payload []byte) ([]byte, error) {
			var ev events.S3Event
			if err := json.Unmarshal(payload, &ev); err != nil {
				t.Error(err)
			}
			calls <- call{fn, ev}
			if fails > 0 {
				fails--
				return nil, errors.New("first attempt fails")
			}
			return []byte(`{}`), nil
		}, &syncBuffer{})
	n.backoff = 0
	body := `{"Records":[
	 {"eventName":"s3:ObjectCreated:Put","awsRegion":"us-east-1","eventTime":"2026-11-23T10:00:00Z",
	  "s3":{"bucket":{"name":"landing"},"object":{"key":"exports/cdr/a b+c.csv","size":42,"eTag":"\"abc123\""}}},
	 {"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"landing"},"object":{"key":"other/x.csv","size":1}}},
	 {"eventName":"s3:ObjectRemoved:Delete","s3":{"bucket":{"name":"landing"},"object":{"key":"exports/y.csv"}}},
	 {"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"lake"},"object":{"key":"exports/z.csv","size":1}}}]}`
	rec := httptest.NewRecorder()
	n.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("webhook answered %d", rec.Code)
	}
	if err := n.waitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(calls)
	var got []call
	for c := range calls {
		got = append(got, c)
	}
	if len(got) != 2 { // one event, delivered twice because the first attempt failed
		t.Fatalf("%d invocations, want 2 (one retry of the one matching event)", len(got))
	}
	r := got[1].ev.Records[0]
	if got[1].fn != "ingest" || r.EventName != "ObjectCreated:Put" || r.S3.Bucket.Name != "landing" ||
		r.S3.Object.URLDecodedKey != "exports/cdr/a b+c.csv" || r.S3.Object.Key != "exports/cdr/a+b%2Bc.csv" ||
		r.S3.Object.ETag != "abc123" || r.S3.Object.Size != 42 || r.EventSource != "aws:s3" {
		t.Errorf("delivered record %+v", r)
	}
}

func TestNotifierSequencersRiseInEventOrder(t *testing.T) {
	var mu sync.Mutex
	var seqs []string
	invoke := func(ctx context.Context, fn string, payload []byte) ([]byte, error) {
		var ev events.S3Event
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Error(err)
		}
		mu.Lock()
		seqs = append(seqs, ev.Records[0].S3.Object.Sequencer)
		mu.Unlock()
		return []byte(`{}`), nil
	}
	subs := []subscription{{function: "ingest", bucket: "landing", prefix: "exports/"}}
	post := func(n *notifier, versitySeq string) {
		n.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader(
			`{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"landing"},"object":{"key":"exports/a.csv","eTag":"\"e`+versitySeq+`\"","sequencer":"`+versitySeq+`"}}}]}`)))
		if err := n.waitIdle(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	n := newNotifier(context.Background(), subs, invoke, &syncBuffer{})
	// versitygw's counter: unpadded hex, "10" after "F".
	for _, s := range []string{"9", "A", "F", "10"} {
		post(n, s)
	}
	// The sweep's event for the key's current version comes after them.
	n.deliver("ingest", "exports/a.csv", s3EventPayload(subs[0], "exports/a.csv", "e-swept", 1, n.sequencer("")))
	if err := n.waitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The stack restarts: versitygw counts from 1 again.
	restarted := newNotifier(context.Background(), subs, invoke, &syncBuffer{})
	for restarted.epoch == n.epoch {
		restarted.epoch = uint64(time.Now().UnixNano())
	}
	post(restarted, "1")
	if len(seqs) != 6 {
		t.Fatalf("%d events, want 6", len(seqs))
	}
	for i := 1; i < len(seqs); i++ {
		if len(seqs[i]) != len(seqs[0]) || seqs[i] <= seqs[i-1] {
			t.Errorf("sequencer %d %q does not follow %q at the same width", i, seqs[i], seqs[i-1])
		}
	}
}
