package lake

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// ArrowSchema is the Arrow schema of a table's rows, as writers build them.
func (d TableDef) ArrowSchema() (*arrow.Schema, error) {
	sc, err := table.SchemaToArrowSchema(d.Schema, nil, true, false)
	if err != nil {
		return nil, fmt.Errorf("arrow schema of %s: %w", d.Name, err)
	}
	return sc, nil
}

// ReplaceRows writes recs into new data files of table def and commits
// them in one snapshot that also deletes the rows matching replace (nil:
// delete nothing). Readers see either the old rows or the new ones, never a
// mix; a failure leaves the table as it was. props go into the snapshot
// summary. It returns the new snapshot's id. recs are not released.
func ReplaceRows(ctx context.Context, tables TableLoader, def TableDef, replace iceberg.BooleanExpression, recs []arrow.RecordBatch, props iceberg.Properties) (int64, error) {
	tbl, err := tables.LoadTable(ctx, def.Ident())
	if err != nil {
		return 0, fmt.Errorf("load %s.%s: %w", Namespace, def.Name, err)
	}
	sc, err := def.ArrowSchema()
	if err != nil {
		return 0, err
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
		return 0, fmt.Errorf("write %s rows: %w", def.Name, err)
	}
	var snap int64
	err = defaultRetry.retryCommit(ctx, func(ctx context.Context) error {
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
		if len(files) > 0 {
			if err := tx.AddDataFiles(ctx, files, props, table.WithoutDuplicateCheck()); err != nil {
				return fmt.Errorf("stage append: %w", err)
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
		if errors.Is(err, ErrConflict) || isConflict(err) {
			_ = removeFiles(ctx, tbl, files)
		}
		return 0, err
	}
	return snap, nil
}
