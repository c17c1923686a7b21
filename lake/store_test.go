package lake_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/telcolake/telcolake/lake"
)

// TestS3StoreMapsGoneErrors checks the one mapping of S3 errors: deleted,
// forbidden and archived objects are ErrGone (final), a changed ETag is
// ErrObjectChanged, and everything else stays an error a retry may fix.
func TestS3StoreMapsGoneErrors(t *testing.T) {
	tests := []struct {
		status      int
		code        string
		wantGone    bool
		wantChanged bool
	}{
		{http.StatusNotFound, "NoSuchKey", true, false},
		{http.StatusForbidden, "AccessDenied", true, false},
		{http.StatusForbidden, "InvalidObjectState", true, false},
		{http.StatusPreconditionFailed, "PreconditionFailed", false, true},
		{http.StatusInternalServerError, "InternalError", false, false},
		{http.StatusServiceUnavailable, "SlowDown", false, false},
		{http.StatusBadRequest, "ExpiredToken", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>m</Message></Error>`, tc.code)
			}))
			defer srv.Close()
			c := s3.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")},
				func(o *s3.Options) {
					o.BaseEndpoint = aws.String(srv.URL)
					o.UsePathStyle = true
					o.RetryMaxAttempts = 1
				})
			_, err := lake.S3Store{Client: c}.Get(context.Background(), "landing", "exports/cdr/x.csv", "abc")
			if err == nil {
				t.Fatal("Get succeeded against an error response")
			}
			if gone := errors.Is(err, lake.ErrGone); gone != tc.wantGone {
				t.Errorf("Get with %d %s: errors.Is(err, ErrGone) = %v, want %v (%v)", tc.status, tc.code, gone, tc.wantGone, err)
			}
			if changed := errors.Is(err, lake.ErrObjectChanged); changed != tc.wantChanged {
				t.Errorf("Get with %d %s: errors.Is(err, ErrObjectChanged) = %v, want %v (%v)", tc.status, tc.code, changed, tc.wantChanged, err)
			}
		})
	}
}

// TestIngestGoneObject: an object deleted before ingest reads it ends in
// status gone with one log row and no error (so Lambda does not retry it);
// a redelivery is a no-op; the same bytes uploaded again are ingested.
func TestIngestGoneObject(t *testing.T) {
	tl := newTestLake(t, false)
	key := "exports/cdr/2026/10/03/cdr-deleted.csv"
	body := cdrCSV("D", 50, nil)
	rec := tl.put(key, body)
	if _, err := tl.s3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(landingBucket), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	res := tl.mustIngest(rec)
	if res.Status != lake.StatusGone || res.RowsOK != 0 {
		t.Fatalf("deleted object: status %s, rows %d (%s); want gone, 0", res.Status, res.RowsOK, res.Message)
	}
	if got := tl.logStatuses(key); len(got) != 1 || got[0] != lake.StatusGone {
		t.Fatalf("ingest_log rows for %s: %v, want [gone]", key, got)
	}
	if again := tl.mustIngest(rec); again.Status != lake.StatusDuplicate {
		t.Errorf("redelivered gone event: status %s, want duplicate", again.Status)
	}
	if got := tl.logStatuses(key); len(got) != 1 {
		t.Errorf("ingest_log rows after redelivery: %v, want one", got)
	}
	if res := tl.mustIngest(tl.put(key, body)); res.Status != lake.StatusCommitted || res.RowsOK != 50 {
		t.Errorf("same bytes uploaded again: status %s, rows %d; want committed, 50", res.Status, res.RowsOK)
	}
	if n := tl.count(lake.CDRTable); n != 50 {
		t.Errorf("crm.cdr has %d rows, want 50", n)
	}
}

// logStatuses returns the statuses of key's ingest_log rows, oldest first.
func (tl *testLake) logStatuses(key string) []string {
	tl.t.Helper()
	rows, err := lake.ReadIngestLog(context.Background(), tl.cat)
	if err != nil {
		tl.t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		if r.Source == "s3://"+landingBucket+"/"+key {
			out = append(out, r.Status)
		}
	}
	return out
}

// TestStoresList: both stores list every object under a prefix (not
// beside it), with the ETag Get accepts.
func TestStoresList(t *testing.T) {
	tl := newTestLake(t, false)
	dir := lake.DirStore{Root: t.TempDir()}
	keys := []string{"exports/cdr/2026/10/01/a.csv", "exports/cdr/b.csv", "exports/bills/c.csv", "exportsx/d.csv", "reports/e.json"}
	for _, k := range keys {
		tl.put(k, []byte("body of "+k))
		if err := dir.Put(context.Background(), landingBucket, k, []byte("body of "+k)); err != nil {
			t.Fatal(err)
		}
	}
	type lister interface {
		lake.ObjectStore
		List(ctx context.Context, bucket, prefix string, fn func(lake.Listed) error) error
	}
	for name, st := range map[string]lister{"s3": lake.S3Store{Client: tl.s3}, "dir": dir} {
		t.Run(name, func(t *testing.T) {
			var got []string
			err := st.List(context.Background(), landingBucket, "exports/", func(o lake.Listed) error {
				got = append(got, o.Key)
				rc, err := st.Get(context.Background(), landingBucket, o.Key, o.ETag)
				if err != nil {
					t.Errorf("Get(%s, listed etag %s): %v", o.Key, o.ETag, err)
					return nil
				}
				rc.Close()
				if o.Size != int64(len("body of "+o.Key)) || o.LastModified.IsZero() {
					t.Errorf("%s listed with size %d, modified %v", o.Key, o.Size, o.LastModified)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := "exports/bills/c.csv exports/cdr/2026/10/01/a.csv exports/cdr/b.csv"
			if s := strings.Join(got, " "); s != want {
				t.Errorf("List(exports/) = %s, want %s", s, want)
			}
		})
	}
}
