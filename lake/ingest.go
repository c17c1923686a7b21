package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// Ingest statuses, as in crm.ingest_log and Result.Status.
const (
	StatusCommitted   = "committed"   // rows appended
	StatusReplaced    = "replaced"    // a new version of an earlier file: its rows replaced the earlier ones
	StatusDuplicate   = "duplicate"   // this key and ETag were already ingested: nothing done
	StatusSuperseded  = "superseded"  // the object changed since the event: the newer version's event will ingest it
	StatusQuarantined = "quarantined" // too many rejected rows: nothing committed
	StatusRejected    = "rejected"    // unreadable, empty or unroutable file: nothing committed
	StatusGone        = "gone"        // the object was deleted, or cannot be read (access denied, archived): final, nothing committed
	StatusFailed      = "failed"      // ran out of time: nothing committed; a new delivery tries again
)

// ErrObjectChanged is returned by an ObjectStore's Get when the object no
// longer has the ETag asked for.
var ErrObjectChanged = errors.New("lake: object changed since the event")

// Object is one export file in the landing bucket.
type Object struct {
	Bucket string
	Key    string
	ETag   string
	Size   int64
	// Sequencer is the S3 event's sequencer: it orders versions of one key.
	// Empty when unknown (a file ingested by hand).
	Sequencer string
}

// Source is the object's s3:// URI, the ledger's key.
func (o Object) Source() string { return "s3://" + o.Bucket + "/" + o.Key }

// ObjectStore reads export files and writes reports.
type ObjectStore interface {
	// Get streams the object if it still has etag, else returns
	// ErrObjectChanged; an object that is deleted or cannot be read for
	// good is an error that matches ErrGone.
	Get(ctx context.Context, bucket, key, etag string) (io.ReadCloser, error)
	Put(ctx context.Context, bucket, key string, body []byte) error
}

// TableLoader loads a table from the catalog.
type TableLoader interface {
	LoadTable(ctx context.Context, ident table.Identifier) (*table.Table, error)
}

// Ingester turns export files into committed table rows, exactly once per
// file version.
type Ingester struct {
	Tables          TableLoader
	Store           ObjectStore
	Log             *slog.Logger
	RejectThreshold float64
	PseudonymKey    []byte
	// AWS, when set, is the SDK configuration the table IO uses (see WithAWS).
	AWS *aws.Config
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Limits bound each file's lines, header and decompressed size (zero
	// fields: DefaultLimits).
	Limits Limits
	// DeadlineMargin is kept free before the context's deadline: parsing
	// stops there, and the file ends as failed with its report and log row.
	DeadlineMargin time.Duration
	// BatchWorkers is how many files of a batch are read and parsed at
	// once (zero: DefaultBatchWorkers).
	BatchWorkers int
	// SharedFileBytes is the largest file (expected size decompressed) a
	// batch writes into shared data files, and SharedBatchBytes the most
	// bytes of such files a batch holds (zero: the defaults; a negative
	// SharedFileBytes: every file writes its own data files).
	SharedFileBytes  int64
	SharedBatchBytes int64
	// Requeue, when set, sends the notification of a file a batch did not
	// start (too little time left) to the ingest queue again.
	Requeue Requeuer
	retry   retryPolicy

	keysOnce sync.Once
	keys     *keyCache // record keys of data files, for the duplicate check
}

// DefaultDeadlineMargin is the time an ingest keeps for cleaning up, the
// report and the log row before the function's deadline.
const DefaultDeadlineMargin = 20 * time.Second

// NewIngester wires an Ingester from the configuration.
func NewIngester(cfg Config, tables TableLoader, store ObjectStore, log *slog.Logger) *Ingester {
	return &Ingester{
		Tables: tables, Store: store, Log: log,
		RejectThreshold: cfg.RejectThreshold, PseudonymKey: cfg.PseudonymKey,
		Now: time.Now, Limits: DefaultLimits, DeadlineMargin: DefaultDeadlineMargin, retry: defaultRetry,
	}
}

// Result is the outcome of ingesting one file.
type Result struct {
	Source       string `json:"source"`
	ETag         string `json:"etag"`
	Table        string `json:"table,omitempty"`
	Status       string `json:"status"`
	RowsOK       int64  `json:"rows_ok"`
	RowsRejected int64  `json:"rows_rejected"`
	// RowsDuplicate counts good rows not added because their record (natural
	// key) was already in the table or earlier in the file.
	RowsDuplicate int64  `json:"rows_duplicate"`
	SnapshotID    int64  `json:"snapshot_id,omitempty"`
	ReportKey     string `json:"report_key,omitempty"`
	Message       string `json:"message,omitempty"`
	DurationMS    int64  `json:"duration_ms"`

	// Lines and BlankLines count the file's physical lines (the header
	// included) and its blank ones: Lines = 1 + BlankLines + RowsOK +
	// RowsDuplicate + RowsRejected for a file that was read through.
	Lines      int64 `json:"lines,omitempty"`
	BlankLines int64 `json:"blank_lines,omitempty"`
}

// ReportKey is where the report of a landing key is written.
func ReportKey(key string) string { return "reports/" + key + ".errors.json" }

// Ingest ingests one export file. It returns an error only when trying
// again later may succeed (storage or catalog unavailable, conflicts beyond
// the retry budget); a bad file is a Result with status rejected or
// quarantined and a report, not an error.
func (in *Ingester) Ingest(ctx context.Context, obj Object) (Result, error) {
	for pass := 1; ; pass++ {
		res, err := in.ingestOnce(ctx, obj)
		if !errors.Is(err, errRedo) || pass == maxIngestPasses {
			return res, err
		}
		// Another ingest committed records of this file meanwhile: parse
		// again against the table as it is now (nothing was committed).
	}
}

// contentVerdict reports whether a logged status is final for the bytes of
// a version (a redelivery of the same ETag changes nothing); gone, or a
// failed attempt, is not.
func contentVerdict(status string) bool {
	switch status {
	case StatusCommitted, StatusReplaced, StatusQuarantined, StatusRejected, StatusSuperseded:
		return true
	}
	return false
}

// maxIngestPasses bounds how often one file is parsed again because
// concurrent ingests committed the same records; past it the event is
// retried later.
const maxIngestPasses = 4

func (in *Ingester) ingestOnce(ctx context.Context, obj Object) (Result, error) {
	ctx = withRunAWS(ctx, in.AWS)
	start := in.now()
	res := Result{Source: obj.Source(), ETag: obj.ETag}
	finish := func(r Result, err error) (Result, error) {
		r.DurationMS = time.Since(start).Milliseconds()
		if err != nil {
			return r, fmt.Errorf("ingest %s: %w", obj.Source(), err)
		}
		in.Log.InfoContext(ctx, "file ingested", "source", r.Source, "etag", r.ETag, "table", r.Table,
			"status", r.Status, "rows", r.RowsOK, "rejected", r.RowsRejected, "report", r.ReportKey, "duration_ms", r.DurationMS)
		return r, nil
	}

	logTbl, err := in.Tables.LoadTable(ctx, IngestLogTable.Ident())
	if err != nil {
		return finish(res, fmt.Errorf("load %s.%s: %w", Namespace, IngestLogTable.Name, err))
	}
	format, ok := FormatForKey(obj.Key)
	if !ok {
		e, err := logLookup(ctx, logTbl, res.Source)
		if err != nil {
			return finish(res, err)
		}
		if e.found && e.etag == obj.ETag {
			res.Status = StatusDuplicate
			return finish(res, nil)
		}
		res.Status = StatusRejected
		res.Message = fmt.Sprintf("key matches no export format (expected a prefix %s, %s or %s)",
			CDRFormat.Prefix, BillsFormat.Prefix, SubscribersFormat.Prefix)
		return finish(in.conclude(ctx, obj, res, nil, start))
	}
	res.Table = Namespace + "." + format.Table.Name

	// Exactly once: the newest ledger entry for this source decides.
	tbl, err := in.Tables.LoadTable(ctx, format.Table.Ident())
	if err != nil {
		return finish(res, fmt.Errorf("load %s: %w", res.Table, err))
	}
	prev, repair, err := lookupVersion(ctx, tbl, res.Source)
	if err != nil {
		return finish(res, err)
	}
	if repair {
		if err := writeLedgerObject(ctx, tbl, res.Source, prev); err != nil {
			in.Log.WarnContext(ctx, "ledger object not rebuilt from the snapshot summaries", "source", res.Source, "error", err)
		}
	}
	if prev.found && prev.etag == obj.ETag {
		res.Status, res.SnapshotID = StatusDuplicate, prev.snapshotID
		return finish(res, in.repairLog(ctx, logTbl, obj, res, start))
	}
	if decideVersion(prev, obj.ETag, obj.Sequencer) == actionSuperseded {
		res.Status = StatusSuperseded
		res.Message = fmt.Sprintf("a newer version of the file (ETag %s) is already committed: this older version is not ingested", prev.etag)
		return finish(res, nil)
	}
	// The log is written last. A version it gives a verdict on the content
	// for, which the table does not hold, was quarantined, rejected or
	// superseded, or all its records were in the table already (or the
	// table's snapshot of it expired): nothing more to do.
	logged, err := logLookup(ctx, logTbl, res.Source)
	if err != nil {
		return finish(res, err)
	}
	if logged.found && logged.etag == obj.ETag && contentVerdict(logged.status) {
		res.Status = StatusDuplicate
		res.Message = "already " + logged.status
		return finish(res, nil)
	}

	body, err := in.Store.Get(ctx, obj.Bucket, obj.Key, obj.ETag)
	if errors.Is(err, ErrObjectChanged) {
		res.Status = StatusSuperseded
		res.Message = "the object was overwritten after this event; its newer version is ingested by its own event"
		return finish(res, nil)
	}
	if errors.Is(err, ErrGone) {
		// Final: a retry reads the same nothing. The log row says so once
		// (a redelivery finds it), and the same bytes uploaded again are
		// read again: gone is not a verdict on the content.
		if logged.found && logged.etag == obj.ETag && logged.status == StatusGone {
			res.Status, res.Message = StatusDuplicate, "already gone"
			return finish(res, nil)
		}
		res.Status = StatusGone
		res.Message = goneMessage(err)
		return finish(in.conclude(ctx, obj, res, nil, start))
	}
	if err != nil {
		return finish(res, fmt.Errorf("read %s: %w", res.Source, err))
	}
	defer body.Close()

	fc, err := withCampaigns(ctx, in.Tables, format, fileContext{source: res.Source, ingestedAt: start.UnixMicro(), now: in.now(), pseudonym: in.PseudonymKey})
	if err != nil {
		return finish(res, err)
	}
	parser := in.newParser(ctx, format, fc, obj)
	in.keysOnce.Do(func() {
		if in.keys == nil {
			in.keys = newDefaultKeyCache()
		}
	})
	recs := newRecordSet(ctx, format, tbl, res.Source, prev.found, in.keys)
	if recs != nil {
		parser.records = recs
	}
	files, werr := in.writeFile(ctx, tbl, format, parser, body, obj.Key)
	st := &parser.Stats
	res.RowsOK, res.RowsRejected, res.RowsDuplicate = st.RowsOK, st.RowsRejected, st.RowsDuplicate
	res.Lines, res.BlankLines = st.Lines, st.BlankLines
	discard := func() {
		if err := removeFiles(ctx, tbl, files); err != nil {
			in.Log.WarnContext(ctx, "data files of an abandoned attempt not removed: they are orphans now", "source", res.Source, "error", err)
		}
	}
	switch {
	case st.FileErr != nil:
		discard()
		res.RowsOK, res.RowsRejected = 0, 0 // nothing of the file is committed
		res.Status, res.Message = st.FileErr.status(), st.FileErr.Error()
		return finish(in.conclude(ctx, obj, res, st, start))
	case werr != nil:
		discard()
		return finish(res, fmt.Errorf("write data files of %s: %w", res.Table, werr))
	case st.RowsOK == 0 && st.RowsRejected == 0 && st.RowsDuplicate == 0:
		res.Status, res.Message = StatusRejected, "file has a header but no data rows"
		return finish(in.conclude(ctx, obj, res, st, start))
	}
	if recs != nil {
		if err := recs.verify(ctx, keptKeys(ctx, tbl, recs.spec, files)); err != nil {
			discard() // a collision (errRedo: parse again) or a read failure
			return finish(res, err)
		}
	}
	total := st.RowsOK + st.RowsRejected
	if share := float64(st.RowsRejected) / float64(total); share > in.RejectThreshold {
		discard()
		res.Status = StatusQuarantined
		res.Message = fmt.Sprintf("%d of %d rows rejected (%.1f%%), above the %.1f%% threshold: nothing committed",
			st.RowsRejected, total, 100*share, 100*in.RejectThreshold)
		if st.Unread > 0 {
			read := total - st.Unread
			res.Message = fmt.Sprintf("%d of the first %d data lines rejected: above the %.1f%% threshold whatever the other %d lines hold, so they were not validated; nothing committed",
				st.RowsRejected-st.Unread, read, 100*in.RejectThreshold, st.Unread)
		}
		return finish(in.conclude(ctx, obj, res, st, start))
	}

	err = in.commitFile(ctx, format, obj, files, st.RowsOK, recs, &res)
	if err != nil {
		if errors.Is(err, ErrConflict) || isConflict(err) || errors.Is(err, errRedo) {
			discard() // nothing committed: safe to remove
		}
		// Any other failure leaves the commit's state unknown: keep the files
		// (if the commit did not land they are orphans, for a sweep that is
		// not built yet); the retry of this event finds the ledger entry if
		// it did.
		return finish(res, err)
	}
	switch res.Status {
	case StatusDuplicate:
		discard()
		return finish(res, nil)
	case StatusSuperseded:
		discard()
		res.RowsOK, res.RowsDuplicate = 0, 0
	}
	return finish(in.conclude(ctx, obj, res, st, start))
}

// goneMessage tells the sender why a file was not read, from an ErrGone.
func goneMessage(err error) string {
	var ge *GoneError
	if errors.As(err, &ge) && ge.Reason != "" {
		return "the object cannot be read (" + ge.Reason + "): nothing ingested; upload it again to ingest it"
	}
	return "the object cannot be read (deleted, access denied or archived): nothing ingested; upload it again to ingest it"
}

func (in *Ingester) now() time.Time {
	if in.Now == nil {
		return time.Now()
	}
	return in.Now()
}

// newParser returns the parser of one file, with the ingester's limits,
// its deadline and what it knows of the object's size.
func (in *Ingester) newParser(ctx context.Context, f *Format, fc fileContext, obj Object) *Parser {
	p := newParser(f, fc)
	p.Limits = in.Limits.orDefault()
	p.now = in.now
	p.threshold = in.RejectThreshold
	p.inputBound = p.Limits.inputBound(obj.Size, strings.HasSuffix(strings.ToLower(obj.Key), ".gz"))
	if dl, ok := ctx.Deadline(); ok {
		p.margin = in.DeadlineMargin
		p.deadline = dl.Add(-in.DeadlineMargin)
	}
	return p
}

// writeFile streams the file through the parser into data files of tbl.
func (in *Ingester) writeFile(ctx context.Context, tbl *table.Table, f *Format, p *Parser, body io.Reader, key string) ([]iceberg.DataFile, error) {
	r, err := openReader(body, key, p.Limits)
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) {
			p.Stats.FileErr = fe
			return nil, nil
		}
		return nil, err
	}
	sc, err := f.ArrowSchema()
	if err != nil {
		return nil, err
	}
	p.recycle = true // the partWriter releases each batch once it is encoded
	return writePartFiles(ctx, tbl, sc, p.Batches(r))
}

// Deleting the files of an abandoned attempt: removeLanes deletes at
// once, each lane removeChunk files under a deadline of removeChunkTime
// (a slow request is not waited on for ever), so the time is bounded by
// the count, about count × a delete's latency ÷ removeLanes, not by one
// wall clock for the whole: 30 s for every file left most of an attempt
// of tens of thousands of files (a quarantined million-row file spread
// over many days) as orphans for maintenance.
const (
	removeLanes     = 16
	removeChunk     = 64
	removeChunkTime = 30 * time.Second
)

// removeFiles deletes data files of an abandoned attempt. It runs even when
// ctx is cancelled (the usual reason to abandon), for a time bounded by
// the number of files (see removeLanes).
func removeFiles(ctx context.Context, tbl *table.Table, files []iceberg.DataFile) error {
	if len(files) == 0 {
		return nil
	}
	base := context.WithoutCancel(ctx)
	work := make(chan []iceberg.DataFile)
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for range min(removeLanes, (len(files)+removeChunk-1)/removeChunk) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for chunk := range work {
				ctx, cancel := context.WithTimeout(base, removeChunkTime)
				fs, err := tbl.FS(ctx) // the file system's requests take the context it was opened with
				if err != nil {
					fail(err)
					cancel()
					continue
				}
				for _, f := range chunk {
					if err := fs.Remove(f.FilePath()); err != nil {
						fail(err)
					}
				}
				cancel()
			}
		}()
	}
	for i := 0; i < len(files); i += removeChunk {
		work <- files[i:min(len(files), i+removeChunk)]
	}
	close(work)
	wg.Wait()
	return errors.Join(errs...)
}

// conclude writes the report (when there is anything to report) and the
// ingest_log row of a file that reached a final state.
func (in *Ingester) conclude(ctx context.Context, obj Object, res Result, st *ParseStats, start time.Time) (Result, error) {
	if err := in.writeReport(ctx, obj, &res, st); err != nil {
		return res, err
	}
	res.DurationMS = time.Since(start).Milliseconds()
	if err := in.appendLog(ctx, obj, res, start); err != nil {
		return res, err
	}
	return res, nil
}

// writeReport writes the report of a file that has anything to report
// (rejected rows, warnings, or a file-level verdict) and sets res.ReportKey.
func (in *Ingester) writeReport(ctx context.Context, obj Object, res *Result, st *ParseStats) error {
	if res.Status == StatusRejected || res.Status == StatusQuarantined || res.Status == StatusFailed || (st != nil && (st.RowsRejected > 0 || len(st.Warnings) > 0)) {
		res.ReportKey = ReportKey(obj.Key)
		body, err := json.MarshalIndent(newReport(obj, *res, st, in.RejectThreshold), "", "  ")
		if err != nil {
			return fmt.Errorf("encode report: %w", err)
		}
		if err := in.Store.Put(ctx, obj.Bucket, res.ReportKey, body); err != nil {
			return fmt.Errorf("write report %s: %w", res.ReportKey, err)
		}
	}
	return nil
}

// repairLog writes the ingest_log row of a file whose data commit landed but
// whose log row did not (a crash between the two commits).
func (in *Ingester) repairLog(ctx context.Context, logTbl *table.Table, obj Object, res Result, start time.Time) error {
	if e, err := logLookup(ctx, logTbl, res.Source); err != nil || (e.found && e.etag == obj.ETag) {
		return err
	}
	res.Status = StatusCommitted
	res.Message = "log row written on redelivery"
	return in.appendLog(ctx, obj, res, start)
}

// appendLog appends one row to crm.ingest_log; its snapshot carries the
// source and status too, so quarantined files are recognised when redelivered.
func (in *Ingester) appendLog(ctx context.Context, obj Object, res Result, start time.Time) error {
	return in.appendLogs(ctx, []logRow{{obj: obj, res: res, start: start}})
}
