package lake_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	iceio "github.com/apache/iceberg-go/io"

	"github.com/telcolake/telcolake/lake"
)

// flakyS3 answers the first fails requests with a 503 (body and content
// type as given) and then every GET with payload.
type flakyS3 struct {
	fails       int32
	contentType string
	body        string
	seen        atomic.Int32
}

const flakyPayload = "ledger object"

func (f *flakyS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.seen.Add(1) <= f.fails {
		w.Header().Set("Content-Type", f.contentType)
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, f.body)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"e1"`)
	io.WriteString(w, flakyPayload)
}

// TestS3ClientsRetryServiceUnavailable checks that both S3 clients the lake
// uses, lake's own (LoadAWSConfig, NewS3Client) and the table IO's
// (iceberg-go's, from the configuration WithAWS gives it), retry a 503:
// S3's SlowDown and a bare 503 such as a server at its connection limit
// answers. Two failures, then the object.
func TestS3ClientsRetryServiceUnavailable(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_SESSION_TOKEN", "")
	cases := []struct{ name, contentType, body string }{
		{"SlowDown", "application/xml", `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`},
		{"bare 503", "text/plain", "The connection cannot be served because Server.Concurrency limit exceeded"},
	}
	read := map[string]func(t *testing.T, ctx context.Context, endpoint string) (string, error){
		"S3Bucket": func(t *testing.T, ctx context.Context, endpoint string) (string, error) {
			cfg := lake.Config{Region: "us-east-1", EndpointURL: endpoint}
			awsCfg, err := lake.LoadAWSConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			body, err := lake.ReadAll(ctx, lake.S3Bucket{Client: lake.NewS3Client(awsCfg, cfg), Name: "lake"}, "warehouse/_ledger/cdr/x.json")
			return string(body), err
		},
		"table IO": func(t *testing.T, ctx context.Context, endpoint string) (string, error) {
			awsCfg, err := lake.LoadAWSConfig(ctx, lake.Config{Region: "us-east-1"})
			if err != nil {
				t.Fatal(err)
			}
			ctx = lake.WithAWS(ctx, &awsCfg)
			fsys, err := iceio.LoadFS(ctx, map[string]string{iceio.S3Region: "us-east-1", iceio.S3EndpointURL: endpoint,
				iceio.S3ForceVirtualAddressing: "false"}, "s3://lake/warehouse")
			if err != nil {
				t.Fatal(err)
			}
			f, err := fsys.Open("s3://lake/warehouse/_ledger/cdr/x.json")
			if err != nil {
				return "", err
			}
			defer f.Close()
			body, err := io.ReadAll(f)
			return string(body), err
		},
	}
	for _, c := range cases {
		for via, get := range read {
			t.Run(c.name+" via "+via, func(t *testing.T) {
				f := &flakyS3{fails: 2, contentType: c.contentType, body: c.body}
				srv := httptest.NewServer(f)
				defer srv.Close()
				got, err := get(t, context.Background(), srv.URL)
				if err != nil || got != flakyPayload {
					t.Fatalf("read after two 503s = %q, %v; want %q (requests: %d)", got, err, flakyPayload, f.seen.Load())
				}
				if n := f.seen.Load(); n != 3 {
					t.Errorf("%d requests, want 3 (two answered 503, retried)", n)
				}
			})
		}
	}
}
