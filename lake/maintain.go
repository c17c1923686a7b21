package lake

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/table/compaction"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// Table maintenance: for every crm.* table, in this order,
//  1. delete orphan files older than the safety age (data and metadata
//     files of dead ingest attempts; a live attempt is younger than that);
//  2. compact small data files per partition towards a target size;
//  3. merge manifests;
//  4. make sure every source named by a snapshot about to expire has its
//     ledger object (ledger.go), so the exactly-once decision survives;
//  5. expire snapshots beyond the retention (a time-travel window and a
//     minimum count), then delete the files only the expired snapshots
//     referenced.
//
// Every commit is decided on a freshly loaded table inside the project's
// bounded retry (commit.go): a concurrent ingest commit makes the
// maintenance commit fail its requirement on the branch head, and the step
// is staged again on the new head, so neither side loses a commit. Files
// are deleted only when no snapshot that is still in the table references
// them (step 5) or when they are not referenced at all and older than the
// safety age (step 1).

// Environment variables of the maintenance function (and telcolake maintain).
const (
	EnvMaintainSnapshotAge   = "TELCOLAKE_MAINTAIN_SNAPSHOT_AGE"
	EnvMaintainKeepSnapshots = "TELCOLAKE_MAINTAIN_KEEP_SNAPSHOTS"
	EnvMaintainOrphanAge     = "TELCOLAKE_MAINTAIN_ORPHAN_AGE"
	EnvMaintainTargetFileMB  = "TELCOLAKE_MAINTAIN_TARGET_FILE_MB"
)

// MaintainConfig is the retention and size policy of table maintenance.
type MaintainConfig struct {
	// SnapshotAge is the time-travel window: younger snapshots are kept.
	SnapshotAge time.Duration
	// KeepSnapshots is the number of newest snapshots kept whatever their age (≥ 1).
	KeepSnapshots int
	// OrphanAge is how old an unreferenced file must be before it is
	// deleted; it must exceed the longest ingest (the function's timeout).
	OrphanAge time.Duration
	// TargetFileBytes is the size compaction writes data files to; files
	// under 75% of it are candidates.
	TargetFileBytes int64
	// MinInputFiles is the fewest small files of one partition worth a
	// rewrite (0: 5, iceberg-go's default).
	MinInputFiles int
}

// DefaultMaintainConfig is the policy without environment overrides: five
// days of time travel (Iceberg's default), at least ten snapshots, orphans
// after a day, 128 MiB data files.
var DefaultMaintainConfig = MaintainConfig{
	SnapshotAge:     5 * 24 * time.Hour,
	KeepSnapshots:   10,
	OrphanAge:       24 * time.Hour,
	TargetFileBytes: 128 << 20,
}

// minOrphanAge bounds OrphanAge from below in the environment: an ingest
// runs at most 15 minutes (Lambda's limit), so files younger than an hour
// may belong to a commit in flight.
const minOrphanAge = time.Hour

// MaintainConfigFromEnv reads the maintenance policy through lookup;
// unset variables keep DefaultMaintainConfig. Every error names the variable.
func MaintainConfigFromEnv(lookup func(string) (string, bool)) (MaintainConfig, error) {
	c := DefaultMaintainConfig
	get := func(name string) string { v, _ := lookup(name); return strings.TrimSpace(v) }
	if v := get(EnvMaintainSnapshotAge); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return c, &ConfigError{EnvMaintainSnapshotAge, fmt.Sprintf("= %q is not a duration ≥ 0 (e.g. 120h)", v)}
		}
		c.SnapshotAge = d
	}
	if v := get(EnvMaintainKeepSnapshots); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return c, &ConfigError{EnvMaintainKeepSnapshots, fmt.Sprintf("= %q is not a count ≥ 1 (e.g. 10)", v)}
		}
		c.KeepSnapshots = n
	}
	if v := get(EnvMaintainOrphanAge); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < minOrphanAge {
			return c, &ConfigError{EnvMaintainOrphanAge, fmt.Sprintf("= %q is not a duration ≥ %s (files younger may belong to an ingest in flight)", v, minOrphanAge)}
		}
		c.OrphanAge = d
	}
	if v := get(EnvMaintainTargetFileMB); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 4096 {
			return c, &ConfigError{EnvMaintainTargetFileMB, fmt.Sprintf("= %q is not a size in MiB between 1 and 4096 (e.g. 128)", v)}
		}
		c.TargetFileBytes = int64(n) << 20
	}
	return c, nil
}

// Validate checks a policy set other than through the environment (the CLI's
// flags) against the bounds MaintainConfigFromEnv enforces.
func (c MaintainConfig) Validate() error {
	switch {
	case c.SnapshotAge < 0:
		return fmt.Errorf("maintenance: snapshot age %s is negative", c.SnapshotAge)
	case c.KeepSnapshots < 1:
		return fmt.Errorf("maintenance: keep %d snapshots: at least 1", c.KeepSnapshots)
	case c.OrphanAge < minOrphanAge:
		return fmt.Errorf("maintenance: orphan age %s is under %s (files younger may belong to an ingest in flight)", c.OrphanAge, minOrphanAge)
	case c.TargetFileBytes < 1<<20 || c.TargetFileBytes > 4096<<20:
		return fmt.Errorf("maintenance: target file size %d MiB is not between 1 and 4096", c.TargetFileBytes>>20)
	}
	return nil
}

// TableMaintenance is what one run did to one table: one row of
// crm.maintenance_log.
type TableMaintenance struct {
	Table               string `json:"table"`
	DurationMS          int64  `json:"duration_ms"`
	DataFilesBefore     int64  `json:"data_files_before"`
	DataFilesAfter      int64  `json:"data_files_after"`
	DataBytesBefore     int64  `json:"data_bytes_before"`
	DataBytesAfter      int64  `json:"data_bytes_after"`
	ManifestsBefore     int64  `json:"manifests_before"`
	ManifestsAfter      int64  `json:"manifests_after"`
	SnapshotsBefore     int64  `json:"snapshots_before"`
	SnapshotsAfter      int64  `json:"snapshots_after"`
	SnapshotsExpired    int64  `json:"snapshots_expired"`
	MetadataBytesBefore int64  `json:"metadata_bytes_before"`
	MetadataBytesAfter  int64  `json:"metadata_bytes_after"`
	FilesCompacted      int64  `json:"files_compacted"`
	FilesWritten        int64  `json:"files_written"`
	// OrphansRemoved and OrphanBytes count the table's orphan files and
	// the batch ledgers no snapshot names (LedgerOrphansRemoved of them).
	OrphansRemoved       int64 `json:"orphans_removed"`
	OrphanBytes          int64 `json:"orphan_bytes"`
	LedgerOrphansRemoved int64 `json:"ledger_orphans_removed"`
	ExpiredFilesRemoved  int64 `json:"expired_files_removed"`
	LedgerRepaired       int64 `json:"ledger_repaired"`
	// Conflicts counts commit attempts lost to concurrent writers (each
	// one staged again on the new head).
	Conflicts int64  `json:"conflicts"`
	Error     string `json:"error,omitempty"`
}

// MaintainReport is the outcome of one maintenance run.
type MaintainReport struct {
	RunID      string `json:"run_id"`
	DurationMS int64  `json:"duration_ms"`
	// The policy the run applied.
	SnapshotAge   string             `json:"snapshot_age"`
	KeepSnapshots int                `json:"keep_snapshots"`
	OrphanAge     string             `json:"orphan_age"`
	Tables        []TableMaintenance `json:"tables"`
}

// Totals sums the per-table figures (Table and Error empty).
func (r MaintainReport) Totals() TableMaintenance {
	var t TableMaintenance
	for _, m := range r.Tables {
		t.DataFilesBefore += m.DataFilesBefore
		t.DataFilesAfter += m.DataFilesAfter
		t.DataBytesBefore += m.DataBytesBefore
		t.DataBytesAfter += m.DataBytesAfter
		t.ManifestsBefore += m.ManifestsBefore
		t.ManifestsAfter += m.ManifestsAfter
		t.SnapshotsBefore += m.SnapshotsBefore
		t.SnapshotsAfter += m.SnapshotsAfter
		t.SnapshotsExpired += m.SnapshotsExpired
		t.MetadataBytesBefore += m.MetadataBytesBefore
		t.MetadataBytesAfter += m.MetadataBytesAfter
		t.FilesCompacted += m.FilesCompacted
		t.FilesWritten += m.FilesWritten
		t.OrphansRemoved += m.OrphansRemoved
		t.OrphanBytes += m.OrphanBytes
		t.LedgerOrphansRemoved += m.LedgerOrphansRemoved
		t.ExpiredFilesRemoved += m.ExpiredFilesRemoved
		t.LedgerRepaired += m.LedgerRepaired
		t.Conflicts += m.Conflicts
	}
	return t
}

// Maintainer runs table maintenance.
type Maintainer struct {
	Tables TableLoader
	// Defs are the tables to maintain; nil means every table of Tables().
	Defs []TableDef
	Log  *slog.Logger
	Cfg  MaintainConfig
	// AWS, when set, is the SDK configuration the table IO uses.
	AWS *aws.Config
	// Now is the clock; nil means time.Now.
	Now   func() time.Time
	retry retryPolicy
}

// maintainRetry gives maintenance more attempts than ingest: its commits
// are rarer and lose races against a steady stream of small ingest commits.
var maintainRetry = retryPolicy{attempts: 40, base: 25 * time.Millisecond, max: 2 * time.Second}

// NewMaintainer wires a Maintainer.
func NewMaintainer(cfg MaintainConfig, tables TableLoader, log *slog.Logger) *Maintainer {
	return &Maintainer{Tables: tables, Log: log, Cfg: cfg, Now: time.Now, retry: maintainRetry}
}

func (m *Maintainer) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

// Run maintains every table of Tables() and appends one row per table to
// crm.maintenance_log. A table whose maintenance fails does not stop the
// others; the error then names each failed table (the log rows are written
// all the same).
func (m *Maintainer) Run(ctx context.Context) (MaintainReport, error) {
	ctx = withRunAWS(ctx, m.AWS)
	if m.retry.attempts == 0 {
		m.retry = maintainRetry
	}
	start := m.now()
	rep := MaintainReport{RunID: "maintain-" + start.UTC().Format("20060102T150405.000Z"),
		SnapshotAge: shortDuration(m.Cfg.SnapshotAge), KeepSnapshots: m.Cfg.KeepSnapshots, OrphanAge: shortDuration(m.Cfg.OrphanAge)}
	var errs []error
	defs := m.Defs
	if defs == nil {
		defs = Tables()
	}
	for _, def := range defs {
		tm, err := m.maintainTable(ctx, def)
		if err != nil {
			tm.Error = err.Error()
			errs = append(errs, fmt.Errorf("maintain %s: %w", tm.Table, err))
			m.Log.WarnContext(ctx, "table maintenance failed", "table", tm.Table, "error", err)
		} else {
			m.Log.InfoContext(ctx, "table maintained", "table", tm.Table,
				"data_files_before", tm.DataFilesBefore, "data_files_after", tm.DataFilesAfter,
				"data_bytes_before", tm.DataBytesBefore, "data_bytes_after", tm.DataBytesAfter,
				"manifests_before", tm.ManifestsBefore, "manifests_after", tm.ManifestsAfter,
				"snapshots_before", tm.SnapshotsBefore, "snapshots_after", tm.SnapshotsAfter,
				"metadata_bytes_before", tm.MetadataBytesBefore, "metadata_bytes_after", tm.MetadataBytesAfter,
				"files_compacted", tm.FilesCompacted, "files_written", tm.FilesWritten,
				"orphans_removed", tm.OrphansRemoved, "orphan_bytes", tm.OrphanBytes,
				"expired_files_removed", tm.ExpiredFilesRemoved, "ledger_repaired", tm.LedgerRepaired, "conflicts", tm.Conflicts,
				"duration_ms", tm.DurationMS)
		}
		rep.Tables = append(rep.Tables, tm)
	}
	if err := m.writeLog(ctx, rep, start); err != nil {
		errs = append(errs, err)
	}
	rep.DurationMS = time.Since(start).Milliseconds()
	t := rep.Totals()
	m.Log.InfoContext(ctx, "maintenance done", "run_id", rep.RunID, "tables", len(rep.Tables),
		"data_files_before", t.DataFilesBefore, "data_files_after", t.DataFilesAfter,
		"manifests_before", t.ManifestsBefore, "manifests_after", t.ManifestsAfter,
		"snapshots_expired", t.SnapshotsExpired, "orphans_removed", t.OrphansRemoved,
		"expired_files_removed", t.ExpiredFilesRemoved, "duration_ms", rep.DurationMS)
	return rep, errors.Join(errs...)
}

// maintainTable runs the steps on one table; it stops at the first step
// that fails (the figures gathered so far are returned with the error).
func (m *Maintainer) maintainTable(ctx context.Context, def TableDef) (tm TableMaintenance, err error) {
	start := time.Now()
	tm.Table = Namespace + "." + def.Name
	defer func() { tm.DurationMS = time.Since(start).Milliseconds() }()
	tbl, err := m.Tables.LoadTable(ctx, def.Ident())
	if err != nil {
		return tm, fmt.Errorf("load: %w", err)
	}
	before, err := statTable(ctx, tbl)
	if err != nil {
		return tm, err
	}
	tm.DataFilesBefore, tm.DataBytesBefore, tm.ManifestsBefore, tm.SnapshotsBefore, tm.MetadataBytesBefore =
		before.dataFiles, before.dataBytes, before.manifests, before.snapshots, before.metadataBytes
	steps := []struct {
		name string
		run  func(context.Context, TableDef, *TableMaintenance) error
	}{
		{"delete orphan files", m.deleteOrphans},
		{"delete orphan batch ledgers", m.deleteLedgerOrphans},
		{"compact data files", m.compact},
		{"merge manifests", m.mergeManifests},
		{"expire snapshots", m.expire},
	}
	for _, s := range steps {
		t := time.Now()
		if err := s.run(ctx, def, &tm); err != nil {
			return tm, fmt.Errorf("%s: %w", s.name, err)
		}
		m.Log.DebugContext(ctx, "maintenance step done", "table", tm.Table, "step", s.name, "duration_ms", time.Since(t).Milliseconds())
	}
	tbl, err = m.Tables.LoadTable(ctx, def.Ident())
	if err != nil {
		return tm, fmt.Errorf("reload: %w", err)
	}
	after, err := statTable(ctx, tbl)
	if err != nil {
		return tm, err
	}
	tm.DataFilesAfter, tm.DataBytesAfter, tm.ManifestsAfter, tm.SnapshotsAfter, tm.MetadataBytesAfter =
		after.dataFiles, after.dataBytes, after.manifests, after.snapshots, after.metadataBytes
	return tm, nil
}

// retryCommit is the project's commit loop, counting the attempts lost to
// concurrent writers in tm.Conflicts.
func (m *Maintainer) retryCommit(ctx context.Context, tm *TableMaintenance, attempt func(context.Context) error) error {
	return m.retry.retryCommit(ctx, func(ctx context.Context) error {
		err := attempt(ctx)
		if isConflict(err) {
			tm.Conflicts++
		}
		return err
	})
}

// tableStats are the figures maintenance reports before and after.
type tableStats struct {
	dataFiles, dataBytes, manifests, snapshots, metadataBytes int64
}

// statTable counts the current snapshot's live data files (and their
// bytes) and manifests, the snapshots, and the metadata file's size.
func statTable(ctx context.Context, tbl *table.Table) (tableStats, error) {
	var st tableStats
	st.snapshots = int64(len(tbl.Metadata().Snapshots()))
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return st, fmt.Errorf("table IO: %w", err)
	}
	if f, err := fsys.Open(tbl.MetadataLocation()); err == nil {
		if fi, err := f.Stat(); err == nil {
			st.metadataBytes = fi.Size()
		}
		f.Close()
	}
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return st, nil
	}
	mans, err := snap.Manifests(fsys)
	if err != nil {
		return st, fmt.Errorf("read manifest list: %w", err)
	}
	st.manifests = int64(len(mans))
	for _, mf := range mans {
		if mf.ManifestContent() != iceberg.ManifestContentData {
			continue
		}
		entries, err := mf.FetchEntries(fsys, true)
		if err != nil {
			return st, fmt.Errorf("read manifest: %w", err)
		}
		for _, e := range entries {
			st.dataFiles++
			st.dataBytes += e.DataFile().FileSizeBytes()
		}
	}
	return st, nil
}

// deleteOrphans deletes files under the table location that no metadata
// references and that are older than OrphanAge.
func (m *Maintainer) deleteOrphans(ctx context.Context, def TableDef, tm *TableMaintenance) error {
	tbl, err := m.Tables.LoadTable(ctx, def.Ident())
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	res, err := tbl.DeleteOrphanFiles(ctx, table.WithFilesOlderThan(m.Cfg.OrphanAge),
		table.WithDeleteFunc(tolerantRemove(ctx, tbl)))
	if err != nil {
		return err
	}
	tm.OrphansRemoved = int64(len(res.DeletedFiles))
	tm.OrphanBytes = res.TotalSizeBytes
	return nil
}

// deleteLedgerOrphans deletes the batch ledgers (side files, and a local
// write's leftover .tmp) of tbl that no snapshot of the table names and
// that are older than OrphanAge: those of attempts killed before their
// commit (a failed attempt deletes its own) and of expired snapshots whose
// removal failed. The table is loaded before the listing, so a side file
// it does not name was either never committed or is younger than the
// listing; OrphanAge (at least an hour) is far past the longest an
// ingest runs (15 minutes), so no attempt in flight loses its side file.
// Per-source ledger objects are never removed: after expiry they are the
// ledger.
func (m *Maintainer) deleteLedgerOrphans(ctx context.Context, def TableDef, tm *TableMaintenance) error {
	tbl, err := m.Tables.LoadTable(ctx, def.Ident())
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	named := map[string]bool{}
	for _, s := range tbl.Metadata().Snapshots() {
		if s.Summary != nil && s.Summary.Properties[propBatchFile] != "" {
			named[path.Base(s.Summary.Properties[propBatchFile])] = true
		}
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return err
	}
	list, ok := fsys.(iceio.ListableIO)
	if !ok {
		return nil // nothing to list with; the table's own orphans are listed the same way
	}
	cutoff := m.now().Add(-m.Cfg.OrphanAge)
	root := ledgerDir(tbl) + "/batches"
	var stale []string
	var bytes int64
	err = list.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fs.SkipDir // no batch was ever committed
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		name := path.Base(p)
		if named[name] || !(strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".json.tmp")) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.ModTime().Before(cutoff) {
			stale = append(stale, batchFilePath(tbl, name))
			bytes += info.Size()
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("list batch ledgers: %w", err)
	}
	remove := tolerantRemove(ctx, tbl)
	for _, p := range stale {
		if err := remove(p); err != nil {
			return fmt.Errorf("remove batch ledger %s: %w", path.Base(p), err)
		}
	}
	tm.LedgerOrphansRemoved = int64(len(stale))
	tm.OrphansRemoved += int64(len(stale))
	tm.OrphanBytes += bytes
	return nil
}

// tolerantRemove deletes a file; a file already gone is not an error
// (LocalFS reports ENOENT, S3 does not).
func tolerantRemove(ctx context.Context, tbl *table.Table) func(string) error {
	return func(p string) error {
		fsys, err := tbl.FS(ctx)
		if err != nil {
			return err
		}
		if err := fsys.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
}

// compact rewrites small data files of each partition into files of the
// target size, in one rewrite snapshot.
func (m *Maintainer) compact(ctx context.Context, def TableDef, tm *TableMaintenance) error {
	tbl, err := m.Tables.LoadTable(ctx, def.Ident())
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if tbl.CurrentSnapshot() == nil {
		return nil
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return fmt.Errorf("plan files: %w", err)
	}
	cfg := compaction.DefaultConfig()
	cfg.TargetFileSizeBytes = m.Cfg.TargetFileBytes
	cfg.MinFileSizeBytes = m.Cfg.TargetFileBytes * 3 / 4
	cfg.MaxFileSizeBytes = m.Cfg.TargetFileBytes * 9 / 5
	if m.Cfg.MinInputFiles > 0 {
		cfg.MinInputFiles = uint(m.Cfg.MinInputFiles)
	}
	plan, err := cfg.PlanCompaction(wholeFileTasks(tasks))
	if err != nil {
		return fmt.Errorf("plan compaction: %w", err)
	}
	if len(plan.Groups) == 0 {
		return nil
	}
	var results []table.CompactionGroupResult
	discard := func(rs []table.CompactionGroupResult) {
		for _, r := range rs {
			if err := removeFiles(ctx, tbl, r.NewDataFiles); err != nil {
				m.Log.WarnContext(ctx, "compacted files of an abandoned rewrite not removed: orphans now", "table", tm.Table, "error", err)
			}
		}
	}
	for _, g := range plan.Groups {
		gr, err := table.ExecuteCompactionGroup(ctx, tbl,
			table.CompactionTaskGroup{PartitionKey: g.PartitionKey, Tasks: g.Tasks, TotalSizeBytes: g.TotalSizeBytes},
			table.WithCompactionTargetFileSize(m.Cfg.TargetFileBytes))
		if err != nil {
			discard(append(results, gr))
			return err
		}
		results = append(results, gr)
	}
	err = m.retryCommit(ctx, tm, func(ctx context.Context) error {
		tbl, err := m.Tables.LoadTable(ctx, def.Ident())
		if err != nil {
			return fmt.Errorf("reload: %w", err)
		}
		// An ingest may have replaced some of the rewritten files
		// meanwhile: their groups are dropped (their output would bring
		// the replaced rows back).
		live, err := liveDataFiles(ctx, tbl)
		if err != nil {
			return err
		}
		var keep, drop []table.CompactionGroupResult
		for _, r := range results {
			if allLive(r.OldDataFiles, live) {
				keep = append(keep, r)
			} else {
				drop = append(drop, r)
			}
		}
		discard(drop)
		results = keep
		if len(results) == 0 {
			return nil
		}
		tx := tbl.NewTransaction()
		rw := tx.NewRewrite(iceberg.Properties{"telcolake.maintenance": "compact"})
		for _, r := range results {
			rw.ApplyResult(r)
		}
		if err := rw.Commit(ctx); err != nil {
			return fmt.Errorf("stage rewrite: %w", err)
		}
		_, err = tx.Commit(ctx)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrConflict) || isConflict(err) {
			discard(results)
		}
		return err
	}
	for _, r := range results {
		tm.FilesCompacted += int64(len(r.OldDataFiles))
		tm.FilesWritten += int64(len(r.NewDataFiles))
	}
	return nil
}

// wholeFileTasks merges the split tasks of one data file back into one task
// over the whole file: compaction treats every task as a file (a file split
// in two would be deleted twice, or half-rewritten).
func wholeFileTasks(tasks []table.FileScanTask) []table.FileScanTask {
	seen := make(map[string]int, len(tasks))
	out := tasks[:0:0]
	for _, t := range tasks {
		p := t.File.FilePath()
		if i, ok := seen[p]; ok {
			out[i].Start, out[i].Length = 0, t.File.FileSizeBytes()
			continue
		}
		seen[p] = len(out)
		if t.Start != 0 || t.Length != t.File.FileSizeBytes() {
			t.Start, t.Length = 0, t.File.FileSizeBytes()
		}
		out = append(out, t)
	}
	return out
}

// liveDataFiles is the set of data file paths of the current snapshot.
func liveDataFiles(ctx context.Context, tbl *table.Table) (map[string]bool, error) {
	live := map[string]bool{}
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return live, nil
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	mans, err := snap.Manifests(fsys)
	if err != nil {
		return nil, fmt.Errorf("read manifest list: %w", err)
	}
	for _, mf := range mans {
		entries, err := mf.FetchEntries(fsys, true)
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		for _, e := range entries {
			live[e.DataFile().FilePath()] = true
		}
	}
	return live, nil
}

func allLive(files []iceberg.DataFile, live map[string]bool) bool {
	for _, f := range files {
		if !live[f.FilePath()] {
			return false
		}
	}
	return true
}

// mergeManifests bin-packs the current snapshot's data manifests.
func (m *Maintainer) mergeManifests(ctx context.Context, def TableDef, tm *TableMaintenance) error {
	return m.retryCommit(ctx, tm, func(ctx context.Context) error {
		tbl, err := m.Tables.LoadTable(ctx, def.Ident())
		if err != nil {
			return fmt.Errorf("reload: %w", err)
		}
		if tbl.CurrentSnapshot() == nil {
			return nil
		}
		tx := tbl.NewTransaction()
		res, err := tx.RewriteManifests(ctx)
		if err != nil {
			return err
		}
		if res.IsNoOp() {
			return nil
		}
		_, err = tx.Commit(ctx)
		return err
	})
}

// expire repairs the ledger of the snapshots it is about to expire, expires
// them, and deletes the files that only they referenced.
func (m *Maintainer) expire(ctx context.Context, def TableDef, tm *TableMaintenance) error {
	var (
		committed *table.Table
		expired   []table.Snapshot
	)
	err := m.retryCommit(ctx, tm, func(ctx context.Context) error {
		committed, expired = nil, nil
		tbl, err := m.Tables.LoadTable(ctx, def.Ident())
		if err != nil {
			return fmt.Errorf("reload: %w", err)
		}
		tx := tbl.NewTransaction()
		if err := tx.ExpireSnapshots(table.WithOlderThan(m.Cfg.SnapshotAge), table.WithRetainLast(max(1, m.Cfg.KeepSnapshots)),
			table.WithPostCommit(false)); err != nil {
			return err
		}
		staged, err := tx.StagedTable()
		if err != nil {
			return fmt.Errorf("stage expiry: %w", err)
		}
		kept := map[int64]bool{}
		for _, s := range staged.Metadata().Snapshots() {
			kept[s.SnapshotID] = true
		}
		var gone []table.Snapshot
		for _, s := range tbl.Metadata().Snapshots() {
			if !kept[s.SnapshotID] {
				gone = append(gone, s)
			}
		}
		if len(gone) == 0 {
			return nil
		}
		// The ledger first: once the commit lands, these summaries are gone.
		n, err := repairLedger(ctx, tbl, gone)
		tm.LedgerRepaired += int64(n)
		if err != nil {
			return fmt.Errorf("repair ledger: %w", err)
		}
		c, err := tx.Commit(ctx)
		if err != nil {
			return err
		}
		committed, expired = c, gone
		return nil
	})
	if err != nil || committed == nil {
		return err
	}
	tm.SnapshotsExpired = int64(len(expired))
	n, err := deleteExpiredFiles(ctx, committed, expired)
	// The batch ledgers of the expired snapshots: their sources' ledger
	// objects were written above, before the expiry landed.
	for _, s := range expired {
		if s.Summary != nil && s.Summary.Properties[propBatchFile] != "" {
			if removeLedgerBlob(ctx, committed, batchFilePath(committed, s.Summary.Properties[propBatchFile])) {
				n++
			}
		}
	}
	tm.ExpiredFilesRemoved = int64(n)
	if err != nil {
		// The expiry landed; what is left is found as orphans next run.
		m.Log.WarnContext(ctx, "files of expired snapshots not all removed: orphan cleanup takes them next run", "table", tm.Table, "error", err)
	}
	return nil
}

// repairLedger makes sure every source that one of the expiring snapshots
// names has a ledger object holding its newest entry in tbl (which may be
// in a snapshot that stays). It returns how many objects it wrote. The
// objects are read and written ledgerReadLanes at a time, as a batch
// reads them: a run after a day of 10,000 files touches 10,000 objects.
func repairLedger(ctx context.Context, tbl *table.Table, expiring []table.Snapshot) (int, error) {
	sources := map[string]bool{}
	for _, s := range expiring {
		entries, err := snapshotEntries(ctx, tbl, s, nil)
		if err != nil {
			return 0, err
		}
		for _, e := range entries {
			sources[e.source] = true
		}
	}
	if len(sources) == 0 {
		return 0, nil
	}
	newest, err := newestEntries(ctx, tbl, sources)
	if err != nil {
		return 0, err
	}
	list := make([]string, 0, len(newest))
	for src := range newest {
		list = append(list, src)
	}
	objs, err := readLedgerObjects(ctx, tbl, list)
	if err != nil {
		return 0, err
	}
	var stale []string
	for _, src := range list {
		e := newest[src]
		if obj, ok := objs[src]; ok && obj.SnapshotID == e.snapshotID && obj.ETag == e.etag && obj.Status == e.status {
			continue
		}
		stale = append(stale, src)
	}
	var (
		mu       sync.Mutex
		written  int
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, ledgerReadLanes)
	for _, src := range stale {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := writeLedgerObject(ctx, tbl, src, newest[src])
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				written++
			} else if firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return written, firstErr
}

// newestEntries is ledgerLookup for many sources in one pass over the
// snapshots: the newest entry of each of sources.
func newestEntries(ctx context.Context, tbl *table.Table, sources map[string]bool) (map[string]ledgerEntry, error) {
	out := make(map[string]ledgerEntry, len(sources))
	seq := make(map[string]int64, len(sources))
	w := wantSources(sources)
	for _, s := range tbl.Metadata().Snapshots() {
		entries, err := snapshotEntries(ctx, tbl, s, w)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !sources[e.source] {
				continue
			}
			best, ok := out[e.source]
			if ok && (s.SequenceNumber < seq[e.source] || (s.SequenceNumber == seq[e.source] && s.SnapshotID < best.snapshotID)) {
				continue
			}
			seq[e.source] = s.SequenceNumber
			out[e.source] = e.ledgerEntry
		}
	}
	return out, nil
}

// deleteExpiredFiles deletes the manifest lists, manifests and data or
// delete files that the expired snapshots referenced and no
// snapshot of committed (the table just after the expiry) references. No
// later commit can reference them again: commits only add new files.
func deleteExpiredFiles(ctx context.Context, committed *table.Table, expired []table.Snapshot) (int, error) {
	fsys, err := committed.FS(ctx)
	if err != nil {
		return 0, err
	}
	keep := map[string]bool{}
	for _, s := range committed.Metadata().Snapshots() {
		keep[s.ManifestList] = true
		mans, err := s.Manifests(fsys)
		if err != nil {
			return 0, fmt.Errorf("read manifest list of a kept snapshot: %w", err)
		}
		for _, mf := range mans {
			keep[mf.FilePath()] = true
			entries, err := mf.FetchEntries(fsys, false)
			if err != nil {
				return 0, fmt.Errorf("read manifest of a kept snapshot: %w", err)
			}
			for _, e := range entries {
				// Deleted entries too: a kept snapshot's manifest still
				// names them, and time travel to its parent is gone but
				// the file may be shared; keeping it is the safe side.
				keep[e.DataFile().FilePath()] = true
			}
		}
	}
	candidates := map[string]bool{}
	seenManifest := map[string]bool{}
	for _, s := range expired {
		if s.ManifestList != "" && !keep[s.ManifestList] {
			candidates[s.ManifestList] = true
		}
		mans, err := s.Manifests(fsys)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return 0, fmt.Errorf("read manifest list of an expired snapshot: %w", err)
		}
		for _, mf := range mans {
			if seenManifest[mf.FilePath()] {
				continue
			}
			seenManifest[mf.FilePath()] = true
			if !keep[mf.FilePath()] {
				candidates[mf.FilePath()] = true
			}
			entries, err := mf.FetchEntries(fsys, false)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return 0, fmt.Errorf("read manifest of an expired snapshot: %w", err)
			}
			for _, e := range entries {
				if p := e.DataFile().FilePath(); !keep[p] {
					candidates[p] = true
				}
			}
		}
	}
	n := 0
	var errs []error
	for p := range candidates {
		if err := fsys.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// writeLog appends the run's rows to crm.maintenance_log in one commit.
func (m *Maintainer) writeLog(ctx context.Context, rep MaintainReport, start time.Time) error {
	b, err := NewRowBuilder(MaintenanceLogTable, len(rep.Tables))
	if err != nil {
		return err
	}
	defer b.Release()
	for _, t := range rep.Tables {
		b.String("run_id", rep.RunID)
		b.String("table_name", t.Table)
		b.Time("started_at", start)
		b.Int64("duration_ms", t.DurationMS)
		b.Int64("data_files_before", t.DataFilesBefore)
		b.Int64("data_files_after", t.DataFilesAfter)
		b.Int64("data_bytes_before", t.DataBytesBefore)
		b.Int64("data_bytes_after", t.DataBytesAfter)
		b.Int64("manifests_before", t.ManifestsBefore)
		b.Int64("manifests_after", t.ManifestsAfter)
		b.Int64("snapshots_before", t.SnapshotsBefore)
		b.Int64("snapshots_after", t.SnapshotsAfter)
		b.Int64("snapshots_expired", t.SnapshotsExpired)
		b.Int64("metadata_bytes_before", t.MetadataBytesBefore)
		b.Int64("metadata_bytes_after", t.MetadataBytesAfter)
		b.Int64("files_compacted", t.FilesCompacted)
		b.Int64("files_written", t.FilesWritten)
		b.Int64("orphans_removed", t.OrphansRemoved)
		b.Int64("orphan_bytes", t.OrphanBytes)
		b.Int64("expired_files_removed", t.ExpiredFilesRemoved)
		b.Int64("ledger_repaired", t.LedgerRepaired)
		b.Int64("conflicts", t.Conflicts)
		b.String("error", t.Error)
	}
	rec := b.Record()
	defer rec.Release()
	if _, err := ReplaceRows(ctx, m.Tables, MaintenanceLogTable, nil, []arrow.RecordBatch{rec},
		iceberg.Properties{"telcolake.maintenance.run": rep.RunID}); err != nil {
		return fmt.Errorf("write %s.%s: %w", Namespace, MaintenanceLogTable.Name, err)
	}
	return nil
}

// shortDuration writes 120h as 120h, not 120h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Summary is the run in one line: what the demo and the CLI print.
func (r MaintainReport) Summary() string {
	t := r.Totals()
	failed := 0
	for _, m := range r.Tables {
		if m.Error != "" {
			failed++
		}
	}
	s := fmt.Sprintf("%d tables in %.1f s: data files %d → %d (%d compacted into %d), manifests %d → %d, snapshots %d → %d (%d expired), metadata %d KB → %d KB, %d orphan and %d expired files deleted, %d ledger objects written",
		len(r.Tables), float64(r.DurationMS)/1000, t.DataFilesBefore, t.DataFilesAfter, t.FilesCompacted, t.FilesWritten,
		t.ManifestsBefore, t.ManifestsAfter, t.SnapshotsBefore, t.SnapshotsAfter, t.SnapshotsExpired,
		t.MetadataBytesBefore>>10, t.MetadataBytesAfter>>10, t.OrphansRemoved, t.ExpiredFilesRemoved, t.LedgerRepaired)
	if failed > 0 {
		s += fmt.Sprintf("; %d tables failed", failed)
	}
	return s
}
