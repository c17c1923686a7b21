package lake

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// WriteRows writes recs into new data files of table def without
// committing them and returns the files' paths: one piece of a fan-out
// write, committed together with the other pieces by CommitFiles (in
// another process, perhaps). Files never committed are orphans that table
// maintenance removes. recs are not released.
func WriteRows(ctx context.Context, tables TableLoader, def TableDef, recs []arrow.RecordBatch) ([]string, error) {
	tbl, err := tables.LoadTable(ctx, def.Ident())
	if err != nil {
		return nil, fmt.Errorf("load %s.%s: %w", Namespace, def.Name, err)
	}
	sc, err := def.ArrowSchema()
	if err != nil {
		return nil, err
	}
	files, err := writeDataFiles(ctx, tbl, sc, func(yield func(PartBatch, error) bool) {
		for _, r := range recs {
			r.Retain() // writeDataFiles releases what it takes
			if !yield(PartBatch{Rec: r}, nil) {
				return
			}
		}
	})
	if err != nil {
		_ = removeFiles(ctx, tbl, files)
		return nil, fmt.Errorf("write %s rows: %w", def.Name, err)
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.FilePath()
	}
	return paths, nil
}

// CommitFiles commits data files written by WriteRows in one snapshot
// that also deletes the rows matching replace (nil: delete nothing), like
// ReplaceRows. The files' partition values and column metrics come from
// their Parquet footers, so def's spec must be one whose values a footer
// gives (identity or time transforms of one value per file: features'
// month, scores' run), not a bucket. It returns the new snapshot's id.
func CommitFiles(ctx context.Context, tables TableLoader, def TableDef, replace iceberg.BooleanExpression, paths []string, props iceberg.Properties) (int64, error) {
	var snap int64
	err := defaultRetry.retryCommit(ctx, func(ctx context.Context) error {
		tbl, err := tables.LoadTable(ctx, def.Ident())
		if err != nil {
			return fmt.Errorf("reload %s: %w", def.Name, err)
		}
		tx := tbl.NewTransaction()
		if replace != nil && tbl.CurrentSnapshot() != nil {
			if err := tx.Delete(ctx, replace, props); err != nil {
				return fmt.Errorf("delete replaced rows: %w", err)
			}
		}
		if len(paths) > 0 {
			if err := addFiles(ctx, tx, paths, props); err != nil {
				return fmt.Errorf("stage files: %w", err)
			}
		}
		committed, err := tx.Commit(ctx)
		if err != nil {
			return fmt.Errorf("commit %s: %w", def.Name, err)
		}
		if s := committed.CurrentSnapshot(); s != nil {
			snap = s.SnapshotID
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return snap, nil
}

// addFiles stages paths; iceberg-go panics on a footer it cannot turn into
// partition values, which becomes an error here.
func addFiles(ctx context.Context, tx *table.Transaction, paths []string, props iceberg.Properties) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.Join(err, fmt.Errorf("add files: %v", r))
		}
	}()
	return tx.AddFiles(ctx, paths, props, false)
}

// ReadFiles reads data files written by WriteRows (committed or not) and
// hands each record batch to fn, which must not keep it.
func ReadFiles(ctx context.Context, tables TableLoader, def TableDef, paths []string, fn func(arrow.RecordBatch) error) error {
	tbl, err := tables.LoadTable(ctx, def.Ident())
	if err != nil {
		return fmt.Errorf("load %s.%s: %w", Namespace, def.Name, err)
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return fmt.Errorf("%s: file system: %w", def.Name, err)
	}
	for _, p := range paths {
		if err := readFile(ctx, fs, p, fn); err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
	}
	return nil
}

func readFile(ctx context.Context, fs iceio.IO, path string, fn func(arrow.RecordBatch) error) error {
	f, err := fs.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		return err
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 * 1024}, memory.DefaultAllocator)
	if err != nil {
		return err
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return err
	}
	defer rr.Release()
	for rr.Next() {
		if err := fn(rr.RecordBatch()); err != nil {
			return err
		}
	}
	return rr.Err()
}

// RemoveFiles deletes data files of def's table that were written by
// WriteRows and never committed (best effort: what is left is an orphan
// that table maintenance removes).
func RemoveFiles(ctx context.Context, tables TableLoader, def TableDef, paths []string) error {
	tbl, err := tables.LoadTable(ctx, def.Ident())
	if err != nil {
		return fmt.Errorf("load %s.%s: %w", Namespace, def.Name, err)
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return fmt.Errorf("%s: file system: %w", def.Name, err)
	}
	var errs []error
	for _, p := range paths {
		if err := fs.Remove(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
