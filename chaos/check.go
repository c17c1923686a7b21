package chaos

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/table"

	"github.com/telcolake/telcolake/lake"
)

// Findings is what Check measured.
type Findings struct {
	Rows      int64 // rows of crm.cdr at its current snapshot
	Snapshots int   // snapshots of crm.cdr and crm.ingest_log, each read whole
	LogRows   int   // crm.ingest_log rows
	// Orphans are files under the two tables' locations that no snapshot
	// references: data files and metadata of attempts that died.
	DataOrphans, MetadataOrphans int
}

// Check verifies the lake after every file of files (all rows valid, call
// ids unique across files) was delivered until done. It returns every
// violation found, joined.
func (l *Lake) Check(ctx context.Context, files []File) (Findings, error) {
	var f Findings
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	want := map[string]int64{}
	var total int64
	for _, fl := range files {
		want[fl.Source()] = fl.Rows
		total += fl.Rows
	}

	// crm.cdr: every snapshot readable and whole; the last has every row once.
	cdr, err := l.Cat.LoadTable(ctx, lake.CDRTable.Ident())
	if err != nil {
		return f, fmt.Errorf("chaos: load crm.cdr: %w", err)
	}
	refs := map[string]bool{}
	for _, s := range cdr.Metadata().Snapshots() {
		f.Snapshots++
		counts, ids, err := scanSnapshot(ctx, cdr, s.SnapshotID, refs)
		if err != nil {
			bad("crm.cdr snapshot %d unreadable: %v", s.SnapshotID, err)
			continue
		}
		for src, n := range counts {
			if w, ok := want[src]; !ok || n != w {
				bad("crm.cdr snapshot %d holds %d rows of %s, want 0 or %d: a partial or foreign file", s.SnapshotID, n, src, w)
			}
		}
		if cur := cdr.CurrentSnapshot(); cur != nil && cur.SnapshotID == s.SnapshotID {
			for src, n := range want {
				if counts[src] != n {
					bad("crm.cdr holds %d rows of %s, want %d", counts[src], src, n)
				}
			}
			for _, n := range counts {
				f.Rows += n
			}
			if ids != f.Rows {
				bad("crm.cdr has %d rows but %d distinct call ids: rows counted twice", f.Rows, ids)
			}
		}
	}
	if f.Rows != total {
		bad("crm.cdr has %d rows, want %d", f.Rows, total)
	}

	// crm.ingest_log: one row per file, saying committed.
	logTbl, err := l.Cat.LoadTable(ctx, lake.IngestLogTable.Ident())
	if err != nil {
		return f, fmt.Errorf("chaos: load crm.ingest_log: %w", err)
	}
	logRefs := map[string]bool{}
	for _, s := range logTbl.Metadata().Snapshots() {
		f.Snapshots++
		if err := planSnapshot(ctx, logTbl, s.SnapshotID, logRefs); err != nil {
			bad("crm.ingest_log snapshot %d unreadable: %v", s.SnapshotID, err)
		}
	}
	entries, err := lake.ReadIngestLog(ctx, l.Cat)
	if err != nil {
		return f, fmt.Errorf("chaos: %w", err)
	}
	f.LogRows = len(entries)
	logged := map[string][]string{}
	for _, e := range entries {
		logged[e.Source] = append(logged[e.Source], e.Status)
	}
	for _, fl := range files {
		st := logged[fl.Source()]
		if len(st) != 1 || (st[0] != lake.StatusCommitted && st[0] != lake.StatusReplaced) {
			bad("crm.ingest_log rows of %s: %v, want one committed", fl.Key, st)
		}
	}
	if len(logged) != len(files) {
		bad("crm.ingest_log names %d files, want %d", len(logged), len(files))
	}

	// Orphans: what a dead attempt left is unreferenced, and iceberg's own
	// orphan planning (what the maintenance job runs) lists exactly that
	// and never a referenced file.
	for _, t := range []struct {
		tbl  *table.Table
		refs map[string]bool
	}{{cdr, refs}, {logTbl, logRefs}} {
		d, m, err := checkOrphans(ctx, t.tbl, t.refs)
		if err != nil {
			errs = append(errs, err)
		}
		f.DataOrphans += d
		f.MetadataOrphans += m
	}
	return f, errors.Join(errs...)
}

// scanSnapshot reads source_file and call_id at one snapshot and records
// the data files it references.
func scanSnapshot(ctx context.Context, tbl *table.Table, id int64, refs map[string]bool) (map[string]int64, int64, error) {
	if err := planSnapshot(ctx, tbl, id, refs); err != nil {
		return nil, 0, err
	}
	at, err := tbl.Scan(table.WithSnapshotID(id), table.WithSelectedFields("source_file", "call_id")).ToArrowTable(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer at.Release()
	counts := map[string]int64{}
	ids := map[string]struct{}{}
	tr := array.NewTableReader(at, 8192)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		src, ok1 := column(rec, "source_file").(*array.String)
		cid, ok2 := column(rec, "call_id").(*array.String)
		if !ok1 || !ok2 {
			return nil, 0, errors.New("source_file and call_id should be strings")
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			counts[src.Value(i)]++
			ids[cid.Value(i)] = struct{}{}
		}
	}
	return counts, int64(len(ids)), tr.Err()
}

func column(rec arrow.RecordBatch, name string) arrow.Array {
	for j, f := range rec.Schema().Fields() {
		if f.Name == name {
			return rec.Column(j)
		}
	}
	return nil
}

// planSnapshot records the data files live at a snapshot.
func planSnapshot(ctx context.Context, tbl *table.Table, id int64, refs map[string]bool) error {
	tasks, err := tbl.Scan(table.WithSnapshotID(id)).PlanFiles(ctx)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		refs[localPath(t.File.FilePath())] = true
	}
	return nil
}

// checkOrphans compares the data files on disk with the referenced ones
// and with iceberg's orphan plan.
func checkOrphans(ctx context.Context, tbl *table.Table, refs map[string]bool) (dataOrphans, metaOrphans int, err error) {
	name := tbl.Identifier()[len(tbl.Identifier())-1]
	dataDir := filepath.Join(localPath(tbl.Location()), "data")
	onDisk := map[string]bool{}
	werr := filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err == nil && !d.IsDir() {
			onDisk[p] = true
		}
		return err
	})
	if werr != nil {
		return 0, 0, fmt.Errorf("%s: walk data files: %w", name, werr)
	}
	var errs []error
	var ours []string
	for p := range refs {
		if !onDisk[p] {
			errs = append(errs, fmt.Errorf("%s: data file %s is referenced but missing", name, p))
		}
	}
	for p := range onDisk {
		if !refs[p] {
			ours = append(ours, p)
		}
	}
	plan, err := tbl.PlanOrphanFiles(ctx, table.WithFilesOlderThan(0))
	if err != nil {
		return 0, 0, fmt.Errorf("%s: plan orphan files: %w", name, err)
	}
	var theirs []string
	for _, p := range plan.Files() {
		p = localPath(p)
		if refs[p] {
			errs = append(errs, fmt.Errorf("%s: orphan cleanup would delete %s, which a snapshot references", name, p))
		}
		if strings.HasPrefix(p, dataDir+string(filepath.Separator)) {
			theirs = append(theirs, p)
		} else {
			metaOrphans++
		}
	}
	sort.Strings(ours)
	sort.Strings(theirs)
	if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
		errs = append(errs, fmt.Errorf("%s: unreferenced data files %v, but orphan planning lists %v", name, ours, theirs))
	}
	return len(ours), metaOrphans, errors.Join(errs...)
}

// localPath turns a file:// location into a path.
func localPath(loc string) string {
	if u, err := url.Parse(loc); err == nil && u.Scheme == "file" {
		return filepath.Clean(u.Path)
	}
	return filepath.Clean(loc)
}
