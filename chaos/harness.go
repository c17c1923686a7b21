package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	"github.com/aws/aws-lambda-go/events"

	"github.com/telcolake/telcolake/lake"
)

// Landing is the landing bucket's name (a directory of the DirStore).
const Landing = "landing"

// Lake is a lake on local disk that child processes ingest into.
type Lake struct {
	Dir   string
	Cfg   lake.Config
	Cat   *sqlcat.Catalog
	Store lake.DirStore
	env   []string // the lake configuration, for children
	exe   string   // the binary that runs children (the test binary)
}

// NewLake creates the tables of a lake under dir with the given catalog
// (sqlite://… or postgres://…); exe is the binary whose RunChildIfRequested
// runs the children.
func NewLake(ctx context.Context, dir, catalog, exe string) (*Lake, error) {
	vars := map[string]string{
		lake.EnvWarehouse:     "file://" + filepath.Join(dir, "warehouse"),
		lake.EnvCatalog:       catalog,
		lake.EnvLandingBucket: Landing,
		lake.EnvPseudonymKey:  "chaos-pseudonym-key-0123456789",
		lake.EnvRegion:        "us-east-1",
	}
	cfg, err := lake.FromEnv(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	cat, err := lake.OpenCatalog(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	if err := lake.EnsureTables(ctx, cat, cfg.Warehouse); err != nil {
		cat.Close()
		return nil, fmt.Errorf("chaos: %w", err)
	}
	l := &Lake{Dir: dir, Cfg: cfg, Cat: cat, Store: lake.DirStore{Root: filepath.Join(dir, "store")}, exe: exe}
	for k, v := range vars {
		l.env = append(l.env, k+"="+v)
	}
	return l, nil
}

// Close closes the catalog.
func (l *Lake) Close() error { return l.Cat.Close() }

// File is one export file in the landing bucket.
type File struct {
	Key  string
	ETag string
	Size int64
	Rows int64 // data rows, all valid
}

// Source is the file's ledger key.
func (f File) Source() string { return "s3://" + Landing + "/" + f.Key }

// Event is the S3 event announcing the file.
func (f File) Event() events.S3Event {
	var rec events.S3EventRecord
	rec.EventSource, rec.EventName, rec.AWSRegion = "aws:s3", "ObjectCreated:Put", "us-east-1"
	rec.S3.Bucket.Name = Landing
	rec.S3.Object.Key = url.QueryEscape(f.Key)
	rec.S3.Object.URLDecodedKey = f.Key
	rec.S3.Object.ETag, rec.S3.Object.Size = f.ETag, f.Size
	return events.S3Event{Records: []events.S3EventRecord{rec}}
}

// Drop writes an export into the landing bucket.
func (l *Lake) Drop(key string, body []byte, rows int64) (File, error) {
	p := filepath.Join(l.Store.Root, Landing, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return File{}, err
	}
	if err := os.WriteFile(p, body, 0o644); err != nil {
		return File{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return File{}, err
	}
	return File{Key: key, ETag: lake.LocalETag(fi), Size: fi.Size(), Rows: rows}, nil
}

// Kill says how a delivery dies; the zero Kill lets it live.
type Kill struct {
	AtMarker int           // the child kills itself at this marker (1-based), 0 for never
	Delay    time.Duration // ... this long after reaching it (or the load)
	After    time.Duration // the parent kills the child this long after starting it, 0 for never
	// AfterDataCommit kills the child at its second load of crm.ingest_log:
	// the data commit has landed, the log row is not written.
	AfterDataCommit bool
}

func (k Kill) String() string {
	switch {
	case k.AfterDataCommit:
		return fmt.Sprintf("after the data commit+%v", k.Delay)
	case k.AtMarker > 0:
		return fmt.Sprintf("at marker %d+%v", k.AtMarker, k.Delay)
	case k.After > 0:
		return fmt.Sprintf("after %v", k.After)
	}
	return "none"
}

// Outcome is how one delivery ended.
type Outcome struct {
	Killed  bool
	Err     string // the handler's error: Lambda would retry
	Result  lake.EventResult
	Markers int // markers a delivery that lived went through
	// CommittedAt is the marker just after the data commit (0 if there was none).
	CommittedAt int
}

// Deliver runs the event of f in a child process that dies as kill says.
func (l *Lake) Deliver(ctx context.Context, f File, kill Kill) (Outcome, error) {
	ev, err := json.Marshal(f.Event())
	if err != nil {
		return Outcome{}, err
	}
	cmd := exec.CommandContext(ctx, l.exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), l.env...)
	cmd.Env = append(cmd.Env, ChildEnv+"=1", storeEnv+"="+l.Store.Root, eventEnv+"="+string(ev))
	if kill.AtMarker > 0 || kill.AfterDataCommit {
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d:%s", killEnv, kill.AtMarker, kill.Delay))
	}
	if kill.AfterDataCommit {
		cmd.Env = append(cmd.Env, loadEnv+"="+lake.IngestLogTable.Name+":2")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // no child outlives a stopped round
	if err := cmd.Start(); err != nil {
		return Outcome{}, fmt.Errorf("chaos: start child: %w", err)
	}
	if kill.After > 0 {
		t := time.AfterFunc(kill.After, func() { cmd.Process.Signal(syscall.SIGKILL) })
		defer t.Stop()
	}
	werr := cmd.Wait()
	var exit *exec.ExitError
	switch {
	case werr == nil:
		var out Outcome
		fmt.Sscanf(lastLines(stderr.String(), 1), "chaos child: %d markers, data committed before %d", &out.Markers, &out.CommittedAt)
		if err := json.Unmarshal(stdout.Bytes(), &out.Result); err != nil {
			return out, fmt.Errorf("chaos: child answered %q: %w", stdout.String(), err)
		}
		return out, nil
	case errors.As(werr, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return Outcome{Killed: true}, nil
		}
		if ctx.Err() != nil {
			return Outcome{}, ctx.Err()
		}
		return Outcome{Err: strings.TrimSpace(lastLines(stderr.String(), 5))}, nil
	default:
		return Outcome{}, fmt.Errorf("chaos: child: %w", werr)
	}
}

// Probe is what an undisturbed ingest of a file went through.
type Probe struct {
	Markers     int           // in all
	CommittedAt int           // the marker right after the data commit
	Took        time.Duration // the child's whole life
}

// ProbeFile ingests body under key in l undisturbed: kill plans for files
// like it pick markers and times within what it measures.
func (l *Lake) ProbeFile(ctx context.Context, key string, body []byte, rows int64) (Probe, error) {
	f, err := l.Drop(key, body, rows)
	if err != nil {
		return Probe{}, err
	}
	t0 := time.Now()
	out, err := l.Deliver(ctx, f, Kill{})
	if err != nil {
		return Probe{}, err
	}
	if out.Err != "" || out.Markers == 0 || out.CommittedAt < 2 {
		return Probe{}, fmt.Errorf("chaos: probe %s: %s (%d markers, committed at %d)", key, out.Err, out.Markers, out.CommittedAt)
	}
	return Probe{Markers: out.Markers, CommittedAt: out.CommittedAt, Took: time.Since(t0)}, nil
}

// Tally counts what happened to the deliveries of a round.
type Tally struct {
	Deliveries, Killed, Failed, Duplicates int
}

// Add adds o's counts to t.
func (t *Tally) Add(o Tally) {
	t.Deliveries += o.Deliveries
	t.Killed += o.Killed
	t.Failed += o.Failed
	t.Duplicates += o.Duplicates
}

// DeliverUntilDone delivers f once per kill, then without kills until a
// delivery succeeds, as Lambda and reconcile between them redeliver an
// event whose invocation died. It gives up after maxAttempts deliveries.
func (l *Lake) DeliverUntilDone(ctx context.Context, f File, kills []Kill, maxAttempts int) (Tally, error) {
	var t Tally
	lastErr := ""
	for attempt := 0; attempt < maxAttempts; attempt++ {
		var k Kill
		if attempt < len(kills) {
			k = kills[attempt]
		}
		out, err := l.Deliver(ctx, f, k)
		if err != nil {
			return t, err
		}
		t.Deliveries++
		switch {
		case out.Killed:
			t.Killed++
		case out.Err != "":
			t.Failed++ // a retryable error (for example a lost race past the retry budget)
			lastErr = out.Err
		default:
			if len(out.Result.Files) != 1 {
				return t, fmt.Errorf("chaos: %s: %d results, want 1", f.Key, len(out.Result.Files))
			}
			switch s := out.Result.Files[0].Status; s {
			case lake.StatusCommitted, lake.StatusReplaced:
				return t, nil
			case lake.StatusDuplicate:
				t.Duplicates++
				return t, nil
			default:
				return t, fmt.Errorf("chaos: %s ended %s: %s", f.Key, s, out.Result.Files[0].Message)
			}
		}
	}
	return t, fmt.Errorf("chaos: %s not ingested after %d deliveries (%d killed, %d failed; last error: %s)", f.Key, t.Deliveries, t.Killed, t.Failed, lastErr)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
