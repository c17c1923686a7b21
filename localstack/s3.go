package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/versity/versitygw/backend/meta"
	"github.com/versity/versitygw/backend/posix"
	"github.com/versity/versitygw/embedgw"
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
}

// S3Server is a running embedded S3 server: versitygw with its POSIX
// backend, in a child process of this executable (the POSIX backend changes
// the working directory of its process, and versitygw runs one gateway per
// process).
type S3Server struct {
	cfg  S3Config
	cmd  *exec.Cmd
	done chan error
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

// Client returns an S3 client with the local credentials.
func (s *S3Server) Client() *s3.Client {
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
		MaxConnections:    4096,
		MaxRequests:       1024,
		MultipartMaxParts: 10000,
		Quiet:             true,
		KeepAlive:         true,
		EventWebhookURL:   cfg.WebhookURL,
	})
}

// s3ReadBuffer is the posix backend's read buffer per GET. Its default,
// 1 MiB, is allocated and zeroed for every request; Iceberg and Parquet
// readers make many small range GETs (footers, column chunks of small
// files), so in a make demo profile that zeroing and the garbage it left
// were a large part of the S3 server's CPU.
const s3ReadBuffer = 64 << 10
