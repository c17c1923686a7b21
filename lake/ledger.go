package lake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// The ledger is the snapshot summary of each commit: which source file
// version (key, ETag, S3 sequencer) the snapshot added, with what status,
// and which data files it added. It is committed atomically with the data,
// and every decision about a version (duplicate, replace, superseded) is
// made inside the commit retry loop on a freshly loaded table, so two
// workers racing on the same source end in one consistent order.
const (
	propSequencer = "telcolake.sequencer"
	// propFiles lists the data files the version added, one per line,
	// relative to the table location.
	propFiles = "telcolake.files"
)

// ledgerEntry is the latest state the ledger knows for one source file.
type ledgerEntry struct {
	etag       string
	status     string
	sequencer  string
	snapshotID int64
	// files are the data files (full paths) the version added.
	files []string
	// shared says files hold rows of other sources too (a batch's shared
	// data files): a replacement rewrites them without this source's rows.
	shared bool
	found  bool
}

// ledgerLookup returns the newest snapshot of t that carries source, as a
// single-file commit's summary or one entry of a batch's.
func ledgerLookup(ctx context.Context, t *table.Table, source string) (ledgerEntry, error) {
	var best ledgerEntry
	var bestSeq int64 = -1
	w := wanted{source: sourceHash(source)}
	for _, s := range t.Metadata().Snapshots() {
		if s.Summary == nil {
			continue
		}
		p := s.Summary.Properties
		if p[propSource] != source && !(p[propSource] == "" && w.mayHold(p)) {
			continue
		}
		if s.SequenceNumber < bestSeq || (s.SequenceNumber == bestSeq && s.SnapshotID < best.snapshotID) {
			continue
		}
		entries, err := snapshotEntries(ctx, t, s, w)
		if err != nil {
			return best, err
		}
		for _, e := range entries {
			if e.source == source {
				bestSeq, best = s.SequenceNumber, e.ledgerEntry
			}
		}
	}
	return best, nil
}

// packFiles lists data file paths for the summary, relative to the table
// location (a few dozen bytes each).
func packFiles(location string, files []iceberg.DataFile) string {
	var b strings.Builder
	prefix := strings.TrimRight(location, "/") + "/"
	for i, f := range files {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.TrimPrefix(f.FilePath(), prefix))
	}
	return b.String()
}

func unpackFiles(location, packed string) []string {
	if packed == "" {
		return nil
	}
	prefix := strings.TrimRight(location, "/") + "/"
	paths := strings.Split(packed, "\n")
	for i, p := range paths {
		if !strings.Contains(p, "://") && !strings.HasPrefix(p, "/") {
			paths[i] = prefix + p
		}
	}
	return paths
}

// compareSequencers orders two S3 event sequencers of the same object key:
// hexadecimal strings of varying length, compared (as AWS documents) after
// right-padding the shorter with zeros. It reports ok=false when either is
// unknown (an event without one, a file ingested by hand).
func compareSequencers(a, b string) (cmp int, ok bool) {
	if a == "" || b == "" {
		return 0, false
	}
	a, b = strings.ToUpper(a), strings.ToUpper(b)
	for len(a) < len(b) {
		a += "0"
	}
	for len(b) < len(a) {
		b += "0"
	}
	return strings.Compare(a, b), true
}

// versionAction is what a commit does with a file version, given the ledger.
type versionAction int

const (
	actionAppend     versionAction = iota // first version of the source
	actionDuplicate                       // this version is already committed
	actionReplace                         // a newer version: replaces the earlier one's rows
	actionSuperseded                      // an older version than the committed one: nothing done
)

// decideVersion applies the version policy: the same ETag is a duplicate;
// a version whose sequencer is below the committed one's is superseded, so
// an old version never replaces a newer one whatever order events arrive
// or commits race in; any other new ETag replaces the committed version
// (without sequencers, the later arrival wins).
func decideVersion(prev ledgerEntry, etag, sequencer string) versionAction {
	switch {
	case !prev.found:
		return actionAppend
	case prev.etag == etag:
		return actionDuplicate
	}
	if c, ok := compareSequencers(sequencer, prev.sequencer); ok && c < 0 {
		return actionSuperseded
	}
	return actionReplace
}

// errRedo means records of the file turned out to be in the table already
// (another ingest committed them while this one ran, or a file consulted
// for duplicates was replaced meanwhile): the file must be parsed again
// against the table as it is now. Nothing was committed.
var errRedo = errors.New("lake: records changed under the ingest; parse again")

// commitFile commits the data files of one parsed file version, deciding
// inside the retry loop, on the reloaded table, whether the version is a
// duplicate, superseded, a replacement or a first version, and (with recs)
// whether any of its records were committed by someone else meanwhile. It
// sets res.Status and res.SnapshotID.
func (in *Ingester) commitFile(ctx context.Context, f *Format, obj Object, files []iceberg.DataFile, rowsOK int64, recs *recordSet, res *Result) error {
	var committed *table.Table
	err := in.retry.retryCommit(ctx, func(ctx context.Context) error {
		committed = nil
		tbl, err := in.Tables.LoadTable(ctx, f.Table.Ident())
		if err != nil {
			return fmt.Errorf("reload %s: %w", res.Table, err)
		}
		prev, _, err := lookupVersion(ctx, tbl, res.Source)
		if err != nil {
			return err
		}
		switch decideVersion(prev, obj.ETag, obj.Sequencer) {
		case actionDuplicate:
			// Another delivery of this file won the race.
			res.Status, res.SnapshotID = StatusDuplicate, prev.snapshotID
			return nil
		case actionSuperseded:
			res.Status, res.SnapshotID = StatusSuperseded, 0
			res.Message = fmt.Sprintf("a newer version of the file (ETag %s) is already committed: this older version is not ingested", prev.etag)
			return nil
		}
		if recs != nil {
			if err := recs.recheck(ctx, tbl); err != nil {
				return err
			}
		}
		if len(files) == 0 && !prev.found {
			// Every record was a duplicate: nothing to add.
			res.Status, res.SnapshotID = StatusCommitted, 0
			return nil
		}
		props := iceberg.Properties{
			propSource: res.Source, propETag: obj.ETag, propRows: strconv.FormatInt(rowsOK, 10),
			propFiles: packFiles(tbl.Location(), files),
		}
		if obj.Sequencer != "" {
			props[propSequencer] = obj.Sequencer
		}
		tx := tbl.NewTransaction()
		res.Status = StatusCommitted
		var rewritten []iceberg.DataFile
		if prev.found {
			res.Status = StatusReplaced
			props[propStatus] = res.Status
			rewritten, err = stageReplace(ctx, tx, tbl, prev, res.Source, files, props)
			if err != nil {
				_ = removeFiles(ctx, tbl, rewritten)
				return err
			}
		} else {
			props[propStatus] = res.Status
			if err := tx.AddDataFiles(ctx, files, props, table.WithoutDuplicateCheck()); err != nil {
				return fmt.Errorf("stage append: %w", err)
			}
		}
		if committed, err = tx.Commit(ctx); err != nil {
			if isConflict(err) {
				_ = removeFiles(ctx, tbl, rewritten) // not committed: this attempt's rewrite of shared files
			}
			return fmt.Errorf("commit %s: %w", res.Table, err)
		}
		res.SnapshotID = committed.CurrentSnapshot().SnapshotID
		return nil
	})
	if err != nil || committed == nil {
		return err
	}
	// After the commit: the summary is authoritative until the object
	// catches up, so a failure here only costs a rebuild later.
	e := ledgerEntry{etag: obj.ETag, status: res.Status, sequencer: obj.Sequencer, snapshotID: res.SnapshotID, found: true}
	for _, df := range files {
		e.files = append(e.files, df.FilePath())
	}
	if err := writeLedgerObject(ctx, committed, res.Source, e); err != nil {
		in.Log.WarnContext(ctx, "ledger object not written; the snapshot summary has the entry", "source", res.Source, "error", err)
	}
	return nil
}

// stageReplace stages a new version's files in place of exactly the data
// files the earlier version added, in one overwrite snapshot: the table's
// other files are not touched. When those files are no longer all live
// (maintenance compacted them into files shared with other sources), or
// the ledger entry predates file lists, it falls back to deleting the
// earlier version's rows by source_file. Files shared with other sources
// (a batch's) are rewritten without the earlier version's rows
// (replaceShared); rewritten lists the files that rewrite wrote, for the
// caller to remove if the commit does not land.
func stageReplace(ctx context.Context, tx *table.Transaction, tbl *table.Table, prev ledgerEntry, source string, files []iceberg.DataFile, props iceberg.Properties) (rewritten []iceberg.DataFile, err error) {
	if len(prev.files) > 0 && prev.shared {
		ok, rewritten, err := replaceShared(ctx, tx, tbl, prev, source, files, props)
		if ok || err != nil {
			return rewritten, err
		}
		// Rewritten since: delete by source_file below.
	} else if len(prev.files) > 0 {
		del := make([]iceberg.DataFile, len(prev.files))
		for i, p := range prev.files {
			del[i] = pathOnly{path: p}
		}
		err := tx.ReplaceDataFilesWithDataFiles(ctx, del, files, props)
		if err == nil {
			return nil, nil
		}
		if !strings.Contains(err.Error(), "do not belong to the table") {
			return nil, fmt.Errorf("stage replace of the earlier version's %d files: %w", len(del), err)
		}
		// Compacted away: fall through (nothing was staged).
	}
	if err := tx.Delete(ctx, iceberg.EqualTo(iceberg.Reference("source_file"), source), props); err != nil {
		return nil, fmt.Errorf("delete rows of the earlier version: %w", err)
	}
	if err := tx.AddDataFiles(ctx, files, props, table.WithoutDuplicateCheck()); err != nil {
		return nil, fmt.Errorf("stage append: %w", err)
	}
	return nil, nil
}

// pathOnly names a data file to delete. ReplaceDataFilesWithDataFiles only
// reads the path of the files to delete and takes the full entries from the
// table's manifests; nothing else may be called on it.
type pathOnly struct {
	iceberg.DataFile
	path string
}

func (p pathOnly) FilePath() string { return p.path }

// The ledger object: the newest ledger entry of each table and source is
// also kept at <warehouse>/_ledger/<table>/<sha256(source)>.json, written
// after each commit. It lies outside the table location (orphan cleanup
// never touches it) and outlives snapshot expiry, so a version committed
// long ago is still recognised and replaced by exact files. The snapshot
// summaries win while they hold the source (they are committed with the
// data; the object may lag after a crash), and a missing or half-written
// object is rebuilt from them.
type ledgerObject struct {
	Source     string   `json:"source"`
	Table      string   `json:"table"`
	ETag       string   `json:"etag"`
	Sequencer  string   `json:"sequencer,omitempty"`
	Status     string   `json:"status"`
	SnapshotID int64    `json:"snapshot_id"`
	Files      []string `json:"files"`
	Shared     bool     `json:"shared,omitempty"`
}

// ledgerDir is <warehouse>/_ledger/<table>, where tbl's ledger objects
// and batch ledgers live.
func ledgerDir(tbl *table.Table) string {
	loc := strings.TrimRight(tbl.Location(), "/") // <warehouse>/<namespace>/<table>
	warehouse := loc
	for range 2 {
		if i := strings.LastIndex(warehouse, "/"); i > 0 {
			warehouse = warehouse[:i]
		}
	}
	ident := tbl.Identifier()
	return warehouse + "/_ledger/" + ident[len(ident)-1]
}

// ledgerObjectPath is where the ledger object of source in tbl lives.
func ledgerObjectPath(tbl *table.Table, source string) string {
	sum := sha256.Sum256([]byte(source))
	return ledgerDir(tbl) + "/" + hex.EncodeToString(sum[:]) + ".json"
}

// batchFilePath is where the batch ledger (side file) name of tbl lives.
func batchFilePath(tbl *table.Table, name string) string {
	return ledgerDir(tbl) + "/batches/" + path.Base(name)
}

// batchFiles caches batch ledgers by path: they never change once written.
var batchFiles = struct {
	sync.Mutex
	entries map[string][]batchEntry
	n       int
}{entries: map[string][]batchEntry{}}

// batchFileCacheEntries bounds the entries the cache holds (about 200
// bytes each); past it the cache starts again empty.
const batchFileCacheEntries = 200_000

// readBatchFile returns the entries of the batch ledger name of tbl. A
// missing one belongs to a snapshot expired since the caller loaded tbl
// (maintenance deletes it after writing its sources' ledger objects): it
// gives no entries, and the caller's look-up falls to the ledger objects.
func readBatchFile(ctx context.Context, tbl *table.Table, name string) ([]batchEntry, error) {
	p := batchFilePath(tbl, name)
	batchFiles.Lock()
	e, ok := batchFiles.entries[p]
	batchFiles.Unlock()
	if ok {
		return e, nil
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	f, err := fsys.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read batch ledger %s: %w", p, err)
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("read batch ledger %s: %w", p, err)
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("read batch ledger %s: %w", p, err)
	}
	// Sorted by source for look-ups of a few sources (pickSorted); no
	// reader depends on the order a batch wrote them in.
	slices.SortStableFunc(e, func(a, b batchEntry) int { return strings.Compare(a.Source, b.Source) })
	batchFiles.Lock()
	if batchFiles.n+len(e) > batchFileCacheEntries {
		batchFiles.entries, batchFiles.n = map[string][]batchEntry{}, 0
	}
	batchFiles.entries[p] = e
	batchFiles.n += len(e)
	batchFiles.Unlock()
	return e, nil
}

// removeLedgerBlob deletes a batch ledger that names no snapshot (best
// effort: one left behind is never read) and reports whether it did.
func removeLedgerBlob(ctx context.Context, tbl *table.Table, p string) bool {
	if p == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return false
	}
	return fsys.Remove(p) == nil
}

// lookupVersion returns the newest ledger entry of source: from the
// snapshot summaries of tbl, else from the ledger object. repair says the
// object should be (re)written from the summaries.
func lookupVersion(ctx context.Context, tbl *table.Table, source string) (e ledgerEntry, repair bool, err error) {
	if e, err = ledgerLookup(ctx, tbl, source); err != nil {
		return e, false, err
	}
	obj, ok, err := readLedgerObject(ctx, tbl, source)
	if err != nil {
		return e, false, err
	}
	if e.found {
		return e, !ok || obj.SnapshotID != e.snapshotID, nil
	}
	if !ok {
		return e, false, nil
	}
	return ledgerEntry{etag: obj.ETag, status: obj.Status, sequencer: obj.Sequencer, snapshotID: obj.SnapshotID,
		files: obj.Files, shared: obj.Shared, found: true}, false, nil
}

// readLedgerObject reads the ledger object of source; ok is false when it
// is missing or unreadable as JSON (half-written).
func readLedgerObject(ctx context.Context, tbl *table.Table, source string) (ledgerObject, bool, error) {
	var obj ledgerObject
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return obj, false, err
	}
	p := ledgerObjectPath(tbl, source)
	f, err := fsys.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return obj, false, nil
	}
	if err != nil {
		return obj, false, fmt.Errorf("read ledger %s: %w", p, err)
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return obj, false, fmt.Errorf("read ledger %s: %w", p, err)
	}
	if err := json.Unmarshal(body, &obj); err != nil || obj.Source != source {
		return obj, false, nil
	}
	return obj, true, nil
}

// writeLedgerObject writes the ledger object of source from entry e (on
// S3 a plain put; locally write then rename, so no reader sees half).
func writeLedgerObject(ctx context.Context, tbl *table.Table, source string, e ledgerEntry) error {
	ident := tbl.Identifier()
	body, err := json.Marshal(ledgerObject{Source: source, Table: strings.Join(ident, "."), ETag: e.etag,
		Sequencer: e.sequencer, Status: e.status, SnapshotID: e.snapshotID, Files: e.files, Shared: e.shared})
	if err != nil {
		return err
	}
	return writeLedgerBlob(ctx, tbl, ledgerObjectPath(tbl, source), body)
}

// writeLedgerBlob writes body at p beside tbl's warehouse (on S3 a plain
// put; locally write then rename, so no reader sees half).
func writeLedgerBlob(ctx context.Context, tbl *table.Table, p string, body []byte) error {
	if local, ok := strings.CutPrefix(p, "file://"); ok {
		if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
			return fmt.Errorf("write ledger %s: %w", p, err)
		}
		tmp := local + ".tmp"
		if err := os.WriteFile(tmp, body, 0o644); err != nil {
			return fmt.Errorf("write ledger %s: %w", p, err)
		}
		return os.Rename(tmp, local)
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return err
	}
	wfs, ok := fsys.(iceio.WriteFileIO)
	if !ok {
		return fmt.Errorf("write ledger %s: the table's storage is read-only", p)
	}
	if err := wfs.WriteFile(p, body); err != nil {
		return fmt.Errorf("write ledger %s: %w", p, err)
	}
	return nil
}

// logLookup is the newest crm.ingest_log ledger entry of source: from the
// log's snapshot summaries while they hold it, else from its ledger object,
// which maintenance writes before it expires the summaries (so a file
// logged long ago is still recognised and not logged twice).
func logLookup(ctx context.Context, logTbl *table.Table, source string) (ledgerEntry, error) {
	if e, err := ledgerLookup(ctx, logTbl, source); err != nil || e.found {
		return e, err
	}
	obj, ok, err := readLedgerObject(ctx, logTbl, source)
	if err != nil || !ok {
		return ledgerEntry{}, err
	}
	return ledgerEntry{etag: obj.ETag, status: obj.Status, sequencer: obj.Sequencer, snapshotID: obj.SnapshotID,
		files: obj.Files, shared: obj.Shared, found: true}, nil
}
