package localstack

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/gofiber/fiber/v3"
	"github.com/versity/versitygw/backend/meta"
	"github.com/versity/versitygw/backend/posix"
	"github.com/versity/versitygw/embedgw"
	"github.com/versity/versitygw/s3api"
)

// Fixed local credentials: the embedded S3 checks SigV4 signatures with them.
const (
	LocalAccessKey = "telcolake-local"
	LocalSecretKey = "telcolake-local-secret"
)

// S3Config configures the embedded S3 server.
type S3Config struct {
	Root       string   `json:"root"`        // data lives in Root/data, metadata in Root/meta
	Addr       string   `json:"addr"`        // host:port, e.g. 127.0.0.1:4566
	Region     string   `json:"region"`      // reported to clients
	Buckets    []string `json:"buckets"`     // created on start if missing
	WebhookURL string   `json:"webhook_url"` // receives bucket events (versitygw's webhook sink)
	// MaxConnections and MaxRequests bound the open connections and the
	// requests in flight (0: 4096 and 1024); past either the server
	// answers 503, which S3 clients retry.
	MaxConnections int `json:"max_connections,omitempty"`
	MaxRequests    int `json:"max_requests,omitempty"`
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request before the server closes it (0: s3IdleTimeout).
	IdleTimeout time.Duration `json:"idle_timeout,omitempty"`
}

// S3Server is a running embedded S3 server: versitygw with its POSIX
// backend, in a child process of this executable (the POSIX backend changes
// the working directory of its process, and versitygw runs one gateway per
// process).
type S3Server struct {
	cfg    S3Config
	cmd    *exec.Cmd
	done   chan error
	client func() *s3.Client
}

const s3ChildEnv = "TELCOLAKE_LOCAL_S3_CHILD"

// StartS3 starts the server and returns once it answers and its buckets exist.
func StartS3(ctx context.Context, cfg S3Config, log io.Writer) (*S3Server, error) {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("s3: root: %w", err)
	}
	cfg.Root = root
	for _, d := range []string{filepath.Join(root, "data"), filepath.Join(root, "meta")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("s3: %w", err)
		}
	}
	if ln, err := net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("s3: cannot listen on %s (another 'telcolake local', make demo or LocalStack running?): %w", cfg.Addr, err)
	} else {
		ln.Close()
	}
	spec, _ := json.Marshal(cfg)
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("s3: find own executable: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), s3ChildEnv+"="+string(spec))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if log != nil {
		w := &lineWriter{prefix: "[s3] ", w: log}
		cmd.Stdout, cmd.Stderr = w, w
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("s3: start: %w", err)
	}
	s := &S3Server{cfg: cfg, cmd: cmd, done: make(chan error, 1)}
	s.client = sync.OnceValue(s.newClient)
	go func() { s.done <- cmd.Wait() }()
	if err := s.waitReady(ctx); err != nil {
		s.Close()
		return nil, err
	}
	c := s.Client()
	for _, b := range cfg.Buckets {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
		var ae smithy.APIError
		if err != nil && !(errors.As(err, &ae) && (ae.ErrorCode() == "BucketAlreadyOwnedByYou" || ae.ErrorCode() == "BucketAlreadyExists")) {
			s.Close()
			return nil, fmt.Errorf("s3: create bucket %s: %w", b, err)
		}
	}
	return s, nil
}

func (s *S3Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", s.cfg.Addr, 100*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case err := <-s.done:
			return fmt.Errorf("s3: server exited at start (is %s in use?): %v", s.cfg.Addr, err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("s3: server did not listen on %s within 15 s", s.cfg.Addr)
		}
	}
}

// Endpoint is the server's URL, for AWS_ENDPOINT_URL.
func (s *S3Server) Endpoint() string { return "http://" + s.cfg.Addr }

// Client returns the server's S3 client with the local credentials: one
// client, so one connection pool, however often it is called (a client
// per call kept a connection per call open).
func (s *S3Server) Client() *s3.Client { return s.client() }

func (s *S3Server) newClient() *s3.Client {
	return s3.New(s3.Options{
		Region:       s.cfg.Region,
		BaseEndpoint: aws.String(s.Endpoint()),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(LocalAccessKey, LocalSecretKey, ""),
	})
}

// Close stops the server; its data stays in Root.
func (s *S3Server) Close() error {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(3 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
	return nil
}

// RunS3ChildIfRequested runs the S3 server and exits when this process was
// started by StartS3; otherwise it returns at once. Call it first thing in
// main (and in TestMain of tests that start the stack).
func RunS3ChildIfRequested() {
	spec, ok := os.LookupEnv(s3ChildEnv)
	if !ok {
		return
	}
	var cfg S3Config
	if err := json.Unmarshal([]byte(spec), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "s3 child: bad spec:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := runS3(ctx, cfg); err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "s3:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runS3(ctx context.Context, cfg S3Config) error {
	sidecar := filepath.Join(cfg.Root, "meta")
	ms, err := meta.NewSideCar(sidecar)
	if err != nil {
		return fmt.Errorf("sidecar metadata: %w", err)
	}
	be, err := posix.New(filepath.Join(cfg.Root, "data"), ms, posix.PosixOpts{SideCarDir: sidecar, IOBufferSize: s3ReadBuffer})
	if err != nil {
		return fmt.Errorf("posix backend: %w", err)
	}
	return embedgw.RunVersityGW(ctx, be, &embedgw.Config{
		RootUserAccess:    LocalAccessKey,
		RootUserSecret:    LocalSecretKey,
		Region:            cfg.Region,
		Ports:             []string{cfg.Addr},
		MaxConnections:    cmp.Or(cfg.MaxConnections, 4096),
		MaxRequests:       cmp.Or(cfg.MaxRequests, 1024),
		MultipartMaxParts: 10000,
		Quiet:             true,
		KeepAlive:         true,
		EventWebhookURL:   cfg.WebhookURL,
		S3Options:         []s3api.Option{s3api.WithMiddleware("/", closeIdle(cmp.Or(cfg.IdleTimeout, s3IdleTimeout)))},
	})
}

// s3IdleTimeout is how long the server keeps an idle keep-alive connection.
const s3IdleTimeout = 30 * time.Second

// closeIdle makes the server close a keep-alive connection that stays idle
// for d after a request, as S3 does. versitygw sets no idle or read timeout
// on its fasthttp server, so a connection stayed open as long as its client
// kept it: connections a client left behind (a transport per request, a
// body never closed) held the server's connection slots, and once
// MaxConnections were held every new connection was answered 503 for good.
// fasthttp runs the handler on the connection's goroutine and never touches
// the read deadline without those timeouts, so the deadline set here bounds
// exactly the wait for the next request; it is cleared when one arrives (a
// request body may take as long as it needs). It counts from the handler's
// end, so a response body that takes longer than d to send leaves its
// connection closed after it, which clients handle as any server's close.
func closeIdle(d time.Duration) fiber.Handler {
	return func(c fiber.Ctx) error {
		conn := c.RequestCtx().Conn()
		_ = conn.SetReadDeadline(time.Time{})
		err := c.Next()
		_ = conn.SetReadDeadline(time.Now().Add(d))
		return err
	}
}

// s3ReadBuffer is the posix backend's read buffer per GET. Its default,
// 1 MiB, is allocated and zeroed for every request; Iceberg and Parquet
// readers make many small range GETs (footers, column chunks of small
// files), so in a make demo profile that zeroing and the garbage it left
// were a large part of the S3 server's CPU.
const s3ReadBuffer = 64 << 10

// ObjectFile is an object's current version as its backend file shows it.
type ObjectFile struct {
	Key      string
	Size     int64
	Modified time.Time
}

// Changed lists the objects of bucket under prefix last modified at or
// after since, from the POSIX backend's files themselves: a walk of the
// prefix's directories, one lstat a file, where a listing reads every
// object's metadata (its ETag) and answers in pages of XML. The backend's
// temporary files (".sgwtmp") are skipped.
func (s *S3Server) Changed(bucket, prefix string, since time.Time) ([]ObjectFile, error) {
	root := filepath.Join(s.cfg.Root, "data", bucket)
	start := root
	if d, _ := path.Split(prefix); d != "" {
		start = filepath.Join(root, filepath.FromSlash(d))
	}
	var out []ObjectFile
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // nothing under the prefix yet, or removed while walking
			}
			return err
		}
		if strings.Contains(d.Name(), ".sgwtmp") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil || fi.ModTime().Before(since) {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) {
			out = append(out, ObjectFile{Key: key, Size: fi.Size(), Modified: fi.ModTime()})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("s3: changed objects of %s/%s: %w", bucket, prefix, err)
	}
	return out, nil
}
