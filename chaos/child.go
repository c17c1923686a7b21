// Package chaos kills ingest processes with SIGKILL at chosen and random
// moments, redelivers their events as Lambda would, and checks what the
// lake promises afterwards: every row exactly once, every snapshot
// readable and whole (no file half in a snapshot), one ingest_log row per
// file, and every file a dead attempt left behind unreferenced, so that
// orphan cleanup (not this package) removes it and nothing else.
//
// A child process is the unit that dies: the test binary re-executed with
// ChildEnv set runs one S3 event, as the body of an SQS message, through
// lake.Ingester.HandleSQSEvent (what the ingest function's lambda.Start
// calls for a batch from the ingest queue), over a file://
// warehouse and a DirStore landing directory, on the catalog it is given
// (SQLite, or PostgreSQL for the concurrent-writer round). The child counts
// "markers" as it goes: every catalog table load (start, the commit loop's
// reload, the ingest_log commit right after the data commit), every object
// read of 256 KiB (parsing and writing data files, which stream together)
// and every report write. Told to, it SIGKILLs itself at the n-th marker,
// at once or after a random delay (which lands inside Parquet, manifest or
// catalog writes); the parent also kills children from outside at random
// times. `make chaos` runs long rounds; `make test` a short one.
package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-lambda-go/events"

	"github.com/telcolake/telcolake/lake"
)

// Variables of a child process (besides lake's TELCOLAKE_* configuration).
const (
	ChildEnv = "TELCOLAKE_CHAOS_CHILD" // set: run as a child
	storeEnv = "TELCOLAKE_CHAOS_STORE" // DirStore root of the landing bucket
	eventEnv = "TELCOLAKE_CHAOS_EVENT" // the S3 event JSON
	killEnv  = "TELCOLAKE_CHAOS_KILL"  // "n:delay": SIGKILL at marker n, after delay (a Go duration)
	loadEnv  = "TELCOLAKE_CHAOS_LOAD"  // "table:n": SIGKILL at the n-th load of crm.<table>
)

// readMarkerBytes is how often reading the object counts as a marker.
const readMarkerBytes = 256 << 10

// RunChildIfRequested runs the child and exits when ChildEnv is set; call
// it first in TestMain.
func RunChildIfRequested() {
	if os.Getenv(ChildEnv) == "" {
		return
	}
	if err := runChild(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// killer SIGKILLs the process at a marker.
type killer struct {
	at    int64 // marker number, 0 for never
	delay time.Duration
	n     atomic.Int64
	// table and tableAt: kill at the tableAt-th load of table (the second
	// load of ingest_log is the moment right after the data commit).
	table   string
	tableAt int64
	loads   atomic.Int64
	// committedAt is the marker of the second ingest_log load: the data
	// commit happened just before it.
	committedAt atomic.Int64
	logLoads    atomic.Int64
}

func parseKill(s, load string) (*killer, error) {
	k := &killer{}
	if load != "" {
		tbl, n, _ := strings.Cut(load, ":")
		var err error
		if k.tableAt, err = strconv.ParseInt(n, 10, 64); err != nil || tbl == "" {
			return nil, fmt.Errorf("%s %q: want table:n", loadEnv, load)
		}
		k.table = tbl
	}
	if s == "" {
		return k, nil
	}
	n, d, _ := strings.Cut(s, ":")
	var err error
	if k.at, err = strconv.ParseInt(n, 10, 64); err != nil {
		return nil, fmt.Errorf("%s %q: %w", killEnv, s, err)
	}
	if d != "" {
		if k.delay, err = time.ParseDuration(d); err != nil {
			return nil, fmt.Errorf("%s %q: %w", killEnv, s, err)
		}
	}
	return k, nil
}

// mark counts one marker and kills the process when it is the chosen one.
func (k *killer) mark() {
	if k.n.Add(1) == k.at {
		k.kill()
	}
}

// loaded counts a load of table and kills at the chosen one.
func (k *killer) loaded(table string) {
	if k.table == table && k.loads.Add(1) == k.tableAt {
		k.kill()
	}
}

func (k *killer) kill() {
	if k.delay <= 0 {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL is not deliverable late, but never run on
	}
	time.AfterFunc(k.delay, func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) })
}

// markingTables counts table loads.
type markingTables struct {
	lake.TableLoader
	k *killer
}

func (m markingTables) LoadTable(ctx context.Context, ident table.Identifier) (*table.Table, error) {
	m.k.mark()
	if name := ident[len(ident)-1]; name == lake.IngestLogTable.Name && m.k.logLoads.Add(1) == 2 {
		m.k.committedAt.Store(m.k.n.Load())
	}
	m.k.loaded(ident[len(ident)-1])
	return m.TableLoader.LoadTable(ctx, ident)
}

// markingStore counts object reads and report writes.
type markingStore struct {
	lake.ObjectStore
	k *killer
}

func (m markingStore) Get(ctx context.Context, bucket, key, etag string) (io.ReadCloser, error) {
	m.k.mark()
	rc, err := m.ObjectStore.Get(ctx, bucket, key, etag)
	if err != nil {
		return nil, err
	}
	return &markingReader{ReadCloser: rc, k: m.k}, nil
}

func (m markingStore) Put(ctx context.Context, bucket, key string, body []byte) error {
	m.k.mark()
	err := m.ObjectStore.Put(ctx, bucket, key, body)
	m.k.mark()
	return err
}

type markingReader struct {
	io.ReadCloser
	k    *killer
	read int64
}

func (r *markingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	before := r.read / readMarkerBytes
	r.read += int64(n)
	for i := before; i < r.read/readMarkerBytes; i++ {
		r.k.mark()
	}
	return n, err
}

func runChild() error {
	k, err := parseKill(os.Getenv(killEnv), os.Getenv(loadEnv))
	if err != nil {
		return err
	}
	cfg, err := lake.FromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	var ev events.S3Event
	if err := json.Unmarshal([]byte(os.Getenv(eventEnv)), &ev); err != nil {
		return fmt.Errorf("%s: %w", eventEnv, err)
	}
	ctx := context.Background()
	cat, err := lake.OpenCatalog(ctx, cfg)
	if err != nil {
		return err
	}
	defer cat.Close()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	in := lake.NewIngester(cfg, markingTables{TableLoader: cat, k: k}, markingStore{ObjectStore: lake.DirStore{Root: os.Getenv(storeEnv)}, k: k}, log)
	// As the ingest function gets it: the S3 event in an SQS message of a
	// batch (of one), through IngestBatch.
	msg := events.SQSMessage{MessageId: "chaos", EventSource: "aws:sqs", Body: os.Getenv(eventEnv)}
	qr, err := in.HandleSQSEvent(ctx, cfg.LandingBucket, events.SQSEvent{Records: []events.SQSMessage{msg}})
	if err != nil {
		return err
	}
	if len(qr.BatchItemFailures) > 0 {
		return fmt.Errorf("the message failed (see the log above): the queue would deliver it again")
	}
	fmt.Fprintf(os.Stderr, "chaos child: %d markers, data committed before %d\n", k.n.Load(), k.committedAt.Load())
	return json.NewEncoder(os.Stdout).Encode(lake.EventResult{Files: qr.Files})
}
