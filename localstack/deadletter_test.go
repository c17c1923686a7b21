package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNotifierRetriesThenDeadLetters: an event is tried 1+MaximumRetryAttempts
// times, and one that keeps failing reaches the dead-letter callback once;
// one that succeeds never does.
func TestNotifierRetriesThenDeadLetters(t *testing.T) {
	tests := []struct {
		name         string
		async        AsyncConfig
		fails        int // invocations that fail before one succeeds
		wantAttempts int
		wantDead     string // condition, empty for none
	}{
		{"default retries, always failing", defaultAsync, 99, 3, "RetriesExhausted"},
		{"no retries", AsyncConfig{Retries: 0, MaxAge: time.Hour}, 99, 1, "RetriesExhausted"},
		{"second attempt succeeds", defaultAsync, 1, 2, ""},
		{"event too old to retry", AsyncConfig{Retries: 2, MaxAge: -time.Second}, 99, 1, "EventAgeExceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			n := newNotifier(context.Background(), nil, func(ctx context.Context, fn string, payload []byte) ([]byte, error) {
				mu.Lock()
				defer mu.Unlock()
				calls++
				if calls <= tc.fails {
					return nil, &FunctionError{ErrorType: "Unhandled", ErrorMessage: "ingest s3://landing/exports/x.csv: catalog down"}
				}
				return []byte(`{}`), nil
			}, &syncBuffer{})
			n.backoff = 0
			n.async = map[string]AsyncConfig{"ingest": tc.async}
			var dead []string
			n.deadLetter = func(fn string, payload []byte, d Delivery, condition string) {
				mu.Lock()
				defer mu.Unlock()
				dead = append(dead, condition)
			}
			n.deliver("ingest", "exports/x.csv", []byte(`{"Records":[]}`))
			if err := n.waitIdle(context.Background()); err != nil {
				t.Fatal(err)
			}
			if calls != tc.wantAttempts {
				t.Errorf("%d invocations, want %d", calls, tc.wantAttempts)
			}
			if want := []string{tc.wantDead}; (tc.wantDead == "" && len(dead) != 0) || (tc.wantDead != "" && (len(dead) != 1 || dead[0] != want[0])) {
				t.Errorf("dead letters %v, want %q", dead, tc.wantDead)
			}
		})
	}
}

// TestDeadLetterRecord: the stack writes a failed event as Lambda's
// on-failure destination record, under dlq/<queue>/, with the payload whole.
func TestDeadLetterRecord(t *testing.T) {
	dir := t.TempDir()
	s := &Stack{
		cfg:       Config{Dir: dir, Log: &syncBuffer{}},
		Template:  &Template{Functions: []FunctionDef{{Name: "ingest", Async: AsyncConfig{Retries: 2, OnFailure: "IngestDeadLetterQueue"}}, {Name: "score", Async: defaultAsync}}},
		functions: map[string]*Function{"ingest": {cfg: FunctionConfig{Name: "ingest", Region: Region}}, "score": {cfg: FunctionConfig{Name: "score", Region: Region}}},
	}
	payload := `{"Records":[{"s3":{"object":{"key":"exports/cdr/x.csv"}}}]}`
	s.writeDeadLetter("ingest", []byte(payload), Delivery{Function: "ingest", Key: "exports/cdr/x.csv", Attempts: 3,
		Err: &FunctionError{ErrorType: "Unhandled", ErrorMessage: "catalog down"}}, "RetriesExhausted")
	s.writeDeadLetter("score", []byte(`{}`), Delivery{Function: "score", Attempts: 3, Err: errors.New("x")}, "RetriesExhausted")
	got, err := s.DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || filepath.Base(filepath.Dir(got[0])) != "IngestDeadLetterQueue" {
		t.Fatalf("dead letters %v, want one under dlq/IngestDeadLetterQueue (score has no destination)", got)
	}
	body, err := os.ReadFile(got[0])
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		RequestContext struct {
			Condition string `json:"condition"`
			Count     int    `json:"approximateInvokeCount"`
			ARN       string `json:"functionArn"`
		} `json:"requestContext"`
		RequestPayload  json.RawMessage   `json:"requestPayload"`
		ResponsePayload map[string]string `json:"responsePayload"`
	}
	if err := json.Unmarshal(body, &rec); err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, rec.RequestPayload); err != nil {
		t.Fatal(err)
	}
	if rec.RequestContext.Condition != "RetriesExhausted" || rec.RequestContext.Count != 3 ||
		!strings.HasSuffix(rec.RequestContext.ARN, ":function:ingest:$LATEST") || compact.String() != payload ||
		rec.ResponsePayload["errorMessage"] != "catalog down" {
		t.Errorf("dead letter %s", body)
	}
}
