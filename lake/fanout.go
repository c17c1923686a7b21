package lake

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"golang.org/x/sync/errgroup"
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
// ReplaceRows. Each file's entry is built from its Parquet footer, read
// once before the commit's retries (footerDataFile): column metrics, the
// values of order-preserving partition fields (features' month, scores'
// run) and of a subscriber bucket (features' subscriber_bucket). It
// returns the new snapshot's id.
func CommitFiles(ctx context.Context, tables TableLoader, def TableDef, replace iceberg.BooleanExpression, paths []string, props iceberg.Properties) (int64, error) {
	tbl, err := tables.LoadTable(ctx, def.Ident())
	if err != nil {
		return 0, fmt.Errorf("load %s.%s: %w", Namespace, def.Name, err)
	}
	files, err := footerDataFiles(ctx, tbl, paths)
	if err != nil {
		return 0, fmt.Errorf("commit %s: %w", def.Name, err)
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
			if err := tx.AddDataFiles(ctx, files, props); err != nil {
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

// footerDataFiles builds the entries of data files of tbl (under its
// current schema and spec) from their Parquet footers.
func footerDataFiles(ctx context.Context, tbl *table.Table, paths []string) ([]iceberg.DataFile, error) {
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, fmt.Errorf("file system: %w", err)
	}
	out := make([]iceberg.DataFile, len(paths))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(footerReads)
	for i, p := range paths {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			df, err := footerDataFile(fs, tbl, p)
			if err != nil {
				return fmt.Errorf("data file %s: %w", p, err)
			}
			out[i] = df
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// footerReads is how many data files' footers a commit reads at once
// (as iceberg-go's AddFiles does): from S3 each is a request or two, so a
// run of thousands of files is latency, not CPU.
const footerReads = 16

// footerDataFile is the entry of the data file at path, from its footer:
// iceberg-go's DataFileFromMetadata takes the metrics and the
// order-preserving partition values from the column statistics (as
// path-based AddFiles does); it cannot infer a bucket, so a bucket field's
// value comes from footerBucket.
func footerDataFile(fs iceio.IO, tbl *table.Table, path string) (iceberg.DataFile, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	meta := pf.MetaData()
	schema, spec := tbl.Schema(), tbl.Spec()
	vals := map[int]any{}
	for _, fld := range spec.Fields() {
		switch fld.Transform.(type) {
		case iceberg.BucketTransform:
			v, err := footerBucket(meta, schema, fld)
			if err != nil {
				return nil, err
			}
			vals[fld.FieldID] = v
		case iceberg.VoidTransform:
		default:
			if !fld.Transform.PreservesOrder() {
				return nil, fmt.Errorf("partition field %s: transform %s cannot be read from a footer", fld.Name, fld.Transform)
			}
		}
	}
	return table.DataFileFromMetadata(table.DataFileArgs{
		Schema: schema, Spec: spec, Format: iceberg.ParquetFile, Metadata: meta,
		FilePath: path, FileSize: meta.GetSourceFileSize(), Content: iceberg.EntryContentData,
		PartitionValues: vals, Properties: tbl.Properties(), FormatVersion: tbl.Metadata().Version(),
	})
}

// footerBucket is the value of bucket partition field pf (over a string
// column) of a data file: the bucket of its source column's min and max in
// every row group. Parquet keeps those exact (a value too long for the
// statistics drops them, it is never truncated), and they must all fall
// in one bucket. That is a check, not a proof: a file of one partition, as
// WriteRows writes them (iceberg-go's partitioned writer), passes; a file
// whose rows span buckets fails unless each row group's min and max happen
// to share a bucket (1 in 8 for one row group). Reading every id instead
// would make the commit read the whole month. nil: no values (a null
// partition).
func footerBucket(meta *metadata.FileMetaData, schema *iceberg.Schema, pf iceberg.PartitionField) (any, error) {
	src, ok := schema.FindFieldByID(pf.SourceID())
	if !ok {
		return nil, fmt.Errorf("partition field %s: source column %d not in the schema", pf.Name, pf.SourceID())
	}
	if _, ok := src.Type.(iceberg.StringType); !ok {
		return nil, fmt.Errorf("partition field %s: a bucket of a %s column cannot be read from a footer", pf.Name, src.Type)
	}
	col := meta.Schema.ColumnIndexByName(src.Name)
	if col < 0 {
		return nil, fmt.Errorf("partition field %s: column %s not in the file", pf.Name, src.Name)
	}
	bucket := pf.Transform.(iceberg.BucketTransform).Transformer(src.Type)
	var val any
	for g := range meta.NumRowGroups() {
		rg := meta.RowGroup(g)
		if rg.NumRows() == 0 {
			continue
		}
		cc, err := rg.ColumnChunk(col)
		if err != nil {
			return nil, err
		}
		st, err := cc.Statistics()
		if err != nil {
			return nil, fmt.Errorf("column %s, row group %d: %w", src.Name, g, err)
		}
		if st != nil && !st.HasMinMax() && st.HasNullCount() && st.NullCount() == rg.NumRows() {
			continue // nulls alone
		}
		bs, ok := st.(*metadata.ByteArrayStatistics)
		if !ok || !bs.HasMinMax() {
			return nil, fmt.Errorf("partition field %s: column %s has no min and max in row group %d", pf.Name, src.Name, g)
		}
		for _, v := range []parquet.ByteArray{bs.Min(), bs.Max()} {
			o := bucket([]byte(v))
			if !o.Valid {
				return nil, fmt.Errorf("partition field %s: no bucket for %q", pf.Name, v)
			}
			if val == nil {
				val = o.Val
			} else if val != o.Val {
				return nil, fmt.Errorf("partition field %s: the file holds rows of buckets %v and %v", pf.Name, val, o.Val)
			}
		}
	}
	return val, nil
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
