package localstack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// closeWatch records when the server closes a client's connection: the
// transport's read loop, waiting on an idle connection, then reads EOF.
type closeWatch struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *closeWatch) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.once.Do(func() { close(c.closed) })
	}
	return n, err
}

// TestS3ClosesIdleConnections holds every connection slot of the embedded
// S3 the way a leaking client does (a transport per request, each keeping
// its connection idle): a new connection is refused with 503 while they
// stay, the server closes each after its idle timeout, and a new client is
// answered once they are gone. Before the idle timeout the slots stayed
// taken as long as the clients lived, and the server refused everyone.
func TestS3ClosesIdleConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded S3")
	}
	const slots = 4
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := StartS3(ctx, S3Config{Root: filepath.Join(t.TempDir(), "s3"), Addr: freeAddr(t), Buckets: []string{"lake"},
		MaxConnections: slots, MaxRequests: slots, IdleTimeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	client := func(watch chan<- *closeWatch) *s3.Client {
		tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil || watch == nil {
				return c, err
			}
			w := &closeWatch{Conn: c, closed: make(chan struct{})}
			watch <- w
			return w, nil
		}}
		t.Cleanup(tr.CloseIdleConnections)
		return s3.New(s3.Options{Region: Region, BaseEndpoint: aws.String(srv.Endpoint()), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(LocalAccessKey, LocalSecretKey, ""),
			HTTPClient:  &http.Client{Transport: tr}, RetryMaxAttempts: 1})
	}
	list := func(c *s3.Client) error {
		_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lake")})
		return err
	}
	// The server's own client (the buckets it created) holds one slot.
	watches := make(chan *closeWatch, slots)
	for i := range slots - 1 {
		if err := list(client(watches)); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	close(watches)
	// Refused: fasthttp writes its 503 as it accepts the connection, so the
	// client sees either that 503 or a connection answered before it asked.
	if err := list(client(nil)); err == nil {
		t.Fatal("with every slot held, a new client was answered; want it refused")
	}
	for w := range watches {
		select {
		case <-w.closed:
		case <-time.After(time.Minute):
			t.Fatal("an idle connection was not closed by the server within a minute")
		}
	}
	if err := list(client(nil)); err != nil {
		t.Fatalf("after the idle connections closed, a new client got %v", err)
	}
}

// TestS3ChangedListsWhatChanged: Changed finds exactly the objects under
// the prefix written at or after the time given (a replaced one too, at
// its new size), from the backend's files, skipping the backend's own.
func TestS3ChangedListsWhatChanged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded S3")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := StartS3(ctx, S3Config{Root: filepath.Join(t.TempDir(), "s3"), Addr: freeAddr(t), Buckets: []string{"landing"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c := srv.Client()
	put := func(key, body string) {
		t.Helper()
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("landing"), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	put("exports/cdr/old.csv", "1")
	put("exports/cdr/replaced.csv", "1")
	put("other/old.csv", "1")
	changed := func(prefix string, since time.Time) []string {
		t.Helper()
		objs, err := srv.Changed("landing", prefix, since)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, o := range objs {
			out = append(out, fmt.Sprintf("%s:%d", o.Key, o.Size))
		}
		slices.Sort(out)
		return out
	}
	if got, want := changed("exports/", time.Time{}), []string{"exports/cdr/old.csv:1", "exports/cdr/replaced.csv:1"}; !slices.Equal(got, want) {
		t.Errorf("Changed(exports/, ever) = %v, want %v", got, want)
	}
	// The first objects were written an hour ago.
	hourAgo := time.Now().Add(-time.Hour)
	for _, k := range []string{"exports/cdr/old.csv", "exports/cdr/replaced.csv", "other/old.csv"} {
		if err := os.Chtimes(filepath.Join(srv.cfg.Root, "data", "landing", filepath.FromSlash(k)), hourAgo, hourAgo); err != nil {
			t.Fatal(err)
		}
	}
	since := time.Now().Add(-time.Minute)
	put("exports/cdr/2026/11/new.csv", "22")
	put("exports/cdr/replaced.csv", "333")
	put("other/new.csv", "1")
	put("exportsX/new.csv", "1")
	if got, want := changed("exports/", since), []string{"exports/cdr/2026/11/new.csv:2", "exports/cdr/replaced.csv:3"}; !slices.Equal(got, want) {
		t.Errorf("Changed(exports/, since) = %v, want %v", got, want)
	}
	if got, want := changed("exports/cdr/2026/", since), []string{"exports/cdr/2026/11/new.csv:2"}; !slices.Equal(got, want) {
		t.Errorf("Changed(exports/cdr/2026/, since) = %v, want %v", got, want)
	}
	if got := changed("nothing/", time.Time{}); len(got) != 0 {
		t.Errorf("Changed(nothing/) = %v, want none", got)
	}
}
