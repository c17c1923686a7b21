// Package reconcile finds export files that no event ingested and ingests
// them. S3 event notifications are at least once in theory and sometimes
// never in practice (a notification misconfigured for a while, an event
// dead-lettered, a function throttled past the event's maximum age), so
// every run lists the landing bucket's exports/, compares each object
// version that changed since the stored watermark with crm.ingest_log,
// re-drives what has no final row through the same Ingester the ingest
// function runs, and records what it did under reconcile/ in the landing
// bucket.
//
// Why list everything: keys carry the export's date, not the upload's, and
// a late file arrives under an old date, so no key prefix bounds a run. The
// watermark is a time instead: objects modified before it minus an overlap
// (24 h by default, for clock skew and eventual listing) were judged by an
// earlier run and are only counted. Objects younger than a minimum age (15
// min) are left to their own event, which is probably still running.
// A file whose re-drive keeps failing (an error, status failed, or gone for
// an object that is still listed, such as an archived one) is tried at most
// MaxAttempts times over as many runs, then reported as given up.
package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/telcolake/telcolake/lake"
)

// Defaults of a run.
const (
	DefaultMinAge      = 15 * time.Minute
	DefaultOverlap     = 24 * time.Hour
	DefaultMaxAttempts = 3
	// StateKey is the run state's key in the landing bucket.
	StateKey = "reconcile/state.json"
	// ExportsPrefix is what a run lists.
	ExportsPrefix = "exports/"
	// deadlineMargin is left of the function's time when re-driving stops:
	// a re-drive gets as long as the ingest function has (its Timeout), so
	// a large file is not failed for want of time the event would have had.
	deadlineMargin = 5 * time.Minute
)

// Store reads and writes the landing bucket.
type Store interface {
	Get(ctx context.Context, bucket, key, etag string) (io.ReadCloser, error)
	Put(ctx context.Context, bucket, key string, body []byte) error
	List(ctx context.Context, bucket, prefix string, fn func(lake.Listed) error) error
}

// Ingester is the ingest of one file (lake.Ingester).
type Ingester interface {
	Ingest(ctx context.Context, obj lake.Object) (lake.Result, error)
}

// Reconciler runs reconcile passes over one landing bucket.
type Reconciler struct {
	Bucket string
	Store  Store
	// Ledger reads crm.ingest_log (lake.ReadIngestLog).
	Ledger func(ctx context.Context) ([]lake.LogEntry, error)
	Ingest Ingester
	Log    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Input is a run's invocation payload; the schedule's EventBridge event has
// none of these fields, and every field has a default.
type Input struct {
	MinAge      string `json:"min_age,omitempty"` // Go duration, e.g. "15m"
	Overlap     string `json:"overlap,omitempty"` // e.g. "24h"
	MaxAttempts int    `json:"max_attempts,omitempty"`
}

// State is what a run leaves for the next one.
type State struct {
	// Watermark: objects modified before Watermark minus the overlap were
	// judged by an earlier run.
	Watermark time.Time `json:"watermark"`
	// Attempts counts failed re-drives per key@etag still being retried or
	// given up.
	Attempts map[string]*Attempt `json:"attempts,omitempty"`
}

// Attempt is the re-drive history of one object version.
type Attempt struct {
	Failures   int    `json:"failures"`
	LastStatus string `json:"last_status"`
	LastError  string `json:"last_error,omitempty"`
	GivenUp    bool   `json:"given_up,omitempty"`
}

// Report is one run's account, also written to reconcile/runs/.
type Report struct {
	StartedAt     time.Time `json:"started_at"`
	DurationMS    int64     `json:"duration_ms"`
	Watermark     time.Time `json:"watermark"` // the one this run started from
	NextWatermark time.Time `json:"next_watermark"`
	Listed        int       `json:"listed"`
	Young         int       `json:"young"`         // left to their own event
	BeforeWindow  int       `json:"before_window"` // judged by earlier runs
	Checked       int       `json:"checked"`       // compared with the ledger
	Concluded     int       `json:"concluded"`     // the ledger has a final row
	Redriven      []Action  `json:"redriven,omitempty"`
	GivenUp       []Action  `json:"given_up,omitempty"`
	Deferred      int       `json:"deferred,omitempty"` // no time left: the next run takes them
	Key           string    `json:"key,omitempty"`      // where this report is stored
}

// Action is what a run did about one object version.
type Action struct {
	Key      string `json:"key"`
	ETag     string `json:"etag"`
	Status   string `json:"status"` // the re-drive's status, or "error"
	Message  string `json:"message,omitempty"`
	Failures int    `json:"failures,omitempty"`
}

// NothingToDo reports whether the run found every checked file concluded.
func (r Report) NothingToDo() bool {
	return len(r.Redriven) == 0 && len(r.GivenUp) == 0 && r.Deferred == 0
}

// Summary is one line for people.
func (r Report) Summary() string {
	s := fmt.Sprintf("%d objects listed, %d checked against crm.ingest_log", r.Listed, r.Checked)
	if r.Young > 0 {
		s += fmt.Sprintf(", %d too young (left to their events)", r.Young)
	}
	if r.NothingToDo() {
		return s + ": nothing to do"
	}
	return s + fmt.Sprintf(": %d re-driven, %d given up, %d deferred", len(r.Redriven), len(r.GivenUp), r.Deferred)
}

// options are Input with defaults applied.
type options struct {
	minAge, overlap time.Duration
	maxAttempts     int
}

func (in Input) options() (options, error) {
	o := options{minAge: DefaultMinAge, overlap: DefaultOverlap, maxAttempts: DefaultMaxAttempts}
	for _, f := range []struct {
		name string
		s    string
		d    *time.Duration
	}{{"min_age", in.MinAge, &o.minAge}, {"overlap", in.Overlap, &o.overlap}} {
		if f.s == "" {
			continue
		}
		d, err := time.ParseDuration(f.s)
		if err != nil || d < 0 {
			return o, fmt.Errorf("reconcile: input %s %q: want a duration such as 15m or 24h", f.name, f.s)
		}
		*f.d = d
	}
	if in.MaxAttempts < 0 {
		return o, fmt.Errorf("reconcile: input max_attempts %d: want a positive number", in.MaxAttempts)
	}
	if in.MaxAttempts > 0 {
		o.maxAttempts = in.MaxAttempts
	}
	return o, nil
}

// finalStatuses are the ingest_log statuses that conclude a file version
// (superseded: a newer version of the key is committed). Gone is not among
// them: an object that is listed again is readable again (or archived,
// which the attempts bound).
var finalStatuses = map[string]bool{
	lake.StatusCommitted: true, lake.StatusReplaced: true, lake.StatusQuarantined: true, lake.StatusRejected: true,
	lake.StatusSuperseded: true,
}

// Run makes one pass. It returns an error when the pass could not be made
// (listing, ledger or state unreadable); files that fail to ingest are in
// the report, not errors.
func (r *Reconciler) Run(ctx context.Context, in Input) (Report, error) {
	opts, err := in.options()
	if err != nil {
		return Report{}, err
	}
	start := r.now()
	rep := Report{StartedAt: start}
	st, err := r.loadState(ctx)
	if err != nil {
		return rep, err
	}
	rep.Watermark = st.Watermark
	entries, err := r.Ledger(ctx)
	if err != nil {
		return rep, fmt.Errorf("reconcile: read the ingest ledger: %w", err)
	}
	type version struct{ source, etag string }
	logged := make(map[version]string, len(entries)) // the concluding status, or the last one seen
	for _, e := range entries {
		v := version{e.Source, e.ETag}
		if !finalStatuses[logged[v]] {
			logged[v] = e.Status
		}
	}

	var todo []lake.Listed
	listed := map[string]bool{} // key@etag of every listed version, to prune the attempts
	from := st.Watermark.Add(-opts.overlap)
	err = r.Store.List(ctx, r.Bucket, ExportsPrefix, func(o lake.Listed) error {
		if strings.HasSuffix(o.Key, "/") {
			return nil
		}
		rep.Listed++
		id := o.Key + "@" + o.ETag
		listed[id] = true
		_, retrying := st.Attempts[id]
		switch {
		case start.Sub(o.LastModified) < opts.minAge:
			rep.Young++
			return nil
		case o.LastModified.Before(from) && !retrying:
			rep.BeforeWindow++
			return nil
		}
		rep.Checked++
		if finalStatuses[logged[version{"s3://" + r.Bucket + "/" + o.Key, o.ETag}]] {
			rep.Concluded++
			delete(st.Attempts, id)
			return nil
		}
		todo = append(todo, o)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("reconcile: %w", err)
	}
	for id := range st.Attempts {
		if !listed[id] { // deleted or overwritten since: nothing left to retry
			delete(st.Attempts, id)
		}
	}

	next := start.Add(-opts.minAge)
	for i, o := range todo {
		id := o.Key + "@" + o.ETag
		a := st.Attempts[id]
		if a != nil && a.GivenUp {
			rep.GivenUp = append(rep.GivenUp, Action{Key: o.Key, ETag: o.ETag, Status: a.LastStatus, Message: a.LastError, Failures: a.Failures})
			continue
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < deadlineMargin {
			rep.Deferred = len(todo) - i
			for _, o := range todo[i:] {
				if o.LastModified.Before(next) {
					next = o.LastModified
				}
			}
			break
		}
		act := r.redrive(ctx, o, logged[version{"s3://" + r.Bucket + "/" + o.Key, o.ETag}] == lake.StatusGone)
		if act.Status == "error" || act.Status == lake.StatusGone || act.Status == lake.StatusFailed {
			if a == nil {
				a = &Attempt{}
				if st.Attempts == nil {
					st.Attempts = map[string]*Attempt{}
				}
				st.Attempts[id] = a
			}
			a.Failures++
			a.LastStatus, a.LastError = act.Status, act.Message
			a.GivenUp = a.Failures >= opts.maxAttempts
			act.Failures = a.Failures
		} else {
			delete(st.Attempts, id)
		}
		rep.Redriven = append(rep.Redriven, act)
	}
	if next.Before(st.Watermark) && rep.Deferred == 0 {
		next = st.Watermark // never move back without a reason
	}
	st.Watermark, rep.NextWatermark = next, next
	rep.DurationMS = r.now().Sub(start).Milliseconds()
	rep.Key = "reconcile/runs/" + start.UTC().Format("2006/01/02/150405.000Z") + ".json"
	if err := r.put(ctx, rep.Key, rep); err != nil {
		return rep, err
	}
	if err := r.put(ctx, StateKey, st); err != nil {
		return rep, err
	}
	r.Log.InfoContext(ctx, "reconcile run", "listed", rep.Listed, "checked", rep.Checked, "concluded", rep.Concluded,
		"young", rep.Young, "redriven", len(rep.Redriven), "given_up", len(rep.GivenUp), "deferred", rep.Deferred, "report", rep.Key)
	return rep, nil
}

// redrive ingests one object version as its event would have.
func (r *Reconciler) redrive(ctx context.Context, o lake.Listed, wasGone bool) Action {
	act := Action{Key: o.Key, ETag: o.ETag}
	res, err := r.Ingest.Ingest(ctx, lake.Object{Bucket: r.Bucket, Key: o.Key, ETag: o.ETag, Size: o.Size})
	switch {
	case err != nil:
		act.Status, act.Message = "error", err.Error()
	case res.Status == lake.StatusDuplicate && wasGone && res.Message == "already gone":
		act.Status, act.Message = lake.StatusGone, "still unreadable"
	default:
		act.Status, act.Message = res.Status, res.Message
	}
	r.Log.InfoContext(ctx, "reconcile re-drove a file", "key", o.Key, "etag", o.ETag, "status", act.Status)
	return act
}

func (r *Reconciler) loadState(ctx context.Context) (State, error) {
	var st State
	body, err := r.Store.Get(ctx, r.Bucket, StateKey, "")
	if errors.Is(err, lake.ErrGone) {
		return st, nil // the first run: everything is in the window
	}
	if err != nil {
		return st, fmt.Errorf("reconcile: read state %s: %w", StateKey, err)
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, 64<<20))
	if err != nil {
		return st, fmt.Errorf("reconcile: read state %s: %w", StateKey, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		// A state nobody can read must not stop reconciling: start over
		// (a full pass costs a listing, and re-drives are idempotent).
		r.Log.WarnContext(ctx, "reconcile state unreadable: starting from an empty watermark", "key", StateKey, "error", err)
		return State{}, nil
	}
	return st, nil
}

func (r *Reconciler) put(ctx context.Context, key string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("reconcile: encode %s: %w", key, err)
	}
	if err := r.Store.Put(ctx, r.Bucket, key, b); err != nil {
		return fmt.Errorf("reconcile: write %s: %w", key, err)
	}
	return nil
}

func (r *Reconciler) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}
