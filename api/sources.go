package api

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/telcolake/telcolake/lake"
)

// Sources gives the answers that come from the lake rather than the
// snapshot.
type Sources interface {
	// ModelRuns returns crm.model_runs, newest first.
	ModelRuns(ctx context.Context) ([]ModelRun, error)
	// IngestFiles returns crm.ingest_log rows matching q, newest first.
	IngestFiles(ctx context.Context, q IngestQuery) ([]IngestFile, error)
}

// ModelRun is a row of crm.model_runs. Metrics that do not apply to the
// run's kind are null.
type ModelRun struct {
	Version       string    `json:"version"`
	Kind          string    `json:"kind"`
	Algorithm     string    `json:"algorithm"`
	TrainedAt     time.Time `json:"trained_at"`
	TrainFrom     *string   `json:"train_from"`  // YYYY-MM-DD
	TrainTo       *string   `json:"train_to"`    // YYYY-MM-DD
	ValidMonth    *string   `json:"valid_month"` // YYYY-MM-DD
	HorizonMonths *int32    `json:"horizon_months"`
	TrainRows     int64     `json:"train_rows"`
	ValidRows     *int64    `json:"valid_rows"`
	AUC           *float64  `json:"auc"`
	AUCLo         *float64  `json:"auc_lo"`
	AUCHi         *float64  `json:"auc_hi"`
	PRAUC         *float64  `json:"pr_auc"`
	Lift10        *float64  `json:"lift10"`
	K             *int32    `json:"k"`
	Silhouette    *float64  `json:"silhouette"`
	Artifact      string    `json:"artifact"`
	Report        *string   `json:"report"`
	Promoted      bool      `json:"promoted"`
	Decision      string    `json:"decision"`
}

// IngestQuery selects ingest log rows. Empty Status means any; Limit ≤ 0
// means no limit.
type IngestQuery struct {
	Status string
	Limit  int
}

// IngestFile is a row of crm.ingest_log.
type IngestFile struct {
	Source       string  `json:"source"`
	ETag         string  `json:"etag"`
	SizeBytes    int64   `json:"size_bytes"`
	Table        *string `json:"table"`
	Status       string  `json:"status"`
	RowsOK       int64   `json:"rows_ok"`
	RowsRejected int64   `json:"rows_rejected"`
	// RowsDuplicate counts good rows whose record was already in the table.
	RowsDuplicate int64     `json:"rows_duplicate"`
	SnapshotID    *int64    `json:"snapshot_id"`
	ReportKey     *string   `json:"report_key"`
	Message       *string   `json:"message"`
	StartedAt     time.Time `json:"started_at"`
	DurationMS    int64     `json:"duration_ms"`
}

// ingestStatuses are the final states crm.ingest_log records.
var ingestStatuses = []string{lake.StatusCommitted, lake.StatusReplaced, lake.StatusSuperseded,
	lake.StatusQuarantined, lake.StatusRejected, lake.StatusFailed, lake.StatusGone}

// LakeSources reads the Sources from the lake's tables.
type LakeSources struct {
	Tables lake.TableLoader
}

// ModelRuns reads the whole of crm.model_runs (one row per trained
// version: small).
func (ls LakeSources) ModelRuns(ctx context.Context) ([]ModelRun, error) {
	at, err := lake.ReadTable(ctx, ls.Tables, lake.ModelRunsTable)
	if err != nil {
		return nil, fmt.Errorf("model runs: %w", err)
	}
	defer at.Release()
	var out []ModelRun
	err = eachRow(at, func(r row) {
		out = append(out, ModelRun{
			Version: r.str("version"), Kind: r.str("kind"), Algorithm: r.str("algorithm"),
			TrainedAt: r.ts("trained_at"),
			TrainFrom: r.date("train_from"), TrainTo: r.date("train_to"), ValidMonth: r.date("valid_month"),
			HorizonMonths: r.optI32("horizon_months"), TrainRows: r.i64("train_rows"), ValidRows: r.optI64("valid_rows"),
			AUC: r.optF64("auc"), AUCLo: r.optF64("auc_lo"), AUCHi: r.optF64("auc_hi"), PRAUC: r.optF64("pr_auc"),
			Lift10: r.optF64("lift10"), K: r.optI32("k"), Silhouette: r.optF64("silhouette"),
			Artifact: r.str("artifact"), Report: r.optStr("report"), Promoted: r.flag("promoted"), Decision: r.str("decision"),
		})
	})
	if err != nil {
		return nil, fmt.Errorf("model runs: %w", err)
	}
	slices.SortStableFunc(out, func(a, b ModelRun) int { return b.TrainedAt.Compare(a.TrainedAt) })
	return out, nil
}

// IngestFiles scans crm.ingest_log, filtered by status in the scan.
func (ls LakeSources) IngestFiles(ctx context.Context, q IngestQuery) ([]IngestFile, error) {
	tbl, err := ls.Tables.LoadTable(ctx, lake.IngestLogTable.Ident())
	if err != nil {
		return nil, fmt.Errorf("ingest files: load %s.%s: %w", lake.Namespace, lake.IngestLogTable.Name, err)
	}
	var opts []table.ScanOption
	if q.Status != "" {
		opts = append(opts, table.WithRowFilter(iceberg.EqualTo(iceberg.Reference("status"), q.Status)))
	}
	at, err := tbl.Scan(opts...).ToArrowTable(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest files: scan: %w", err)
	}
	defer at.Release()
	var out []IngestFile
	err = eachRow(at, func(r row) {
		f := IngestFile{
			Source: r.str("source"), ETag: r.str("etag"), SizeBytes: r.i64("size_bytes"), Table: r.optStr("table_name"),
			Status: r.str("status"), RowsOK: r.i64("rows_ok"), RowsRejected: r.i64("rows_rejected"),
			SnapshotID: r.optI64("snapshot_id"), ReportKey: r.optStr("report_key"), Message: r.optStr("message"),
			StartedAt: r.ts("started_at"), DurationMS: r.i64("duration_ms"),
		}
		if d := r.optI64("rows_duplicate"); d != nil { // null in rows logged before the column
			f.RowsDuplicate = *d
		}
		if q.Status == "" || f.Status == q.Status {
			out = append(out, f)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("ingest files: %w", err)
	}
	slices.SortStableFunc(out, func(a, b IngestFile) int {
		if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Source, b.Source)
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// row reads one row of a record batch by column name. A missing column or
// an unexpected type reads as null (and records an error).
type row struct {
	rec  arrow.RecordBatch
	cols map[string]int
	i    int
	err  *error
}

func eachRow(at arrow.Table, fn func(row)) error {
	tr := array.NewTableReader(at, 4096)
	defer tr.Release()
	var err error
	for tr.Next() {
		rec := tr.RecordBatch()
		cols := map[string]int{}
		for j, f := range rec.Schema().Fields() {
			cols[f.Name] = j
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			fn(row{rec: rec, cols: cols, i: i, err: &err})
		}
	}
	if e := tr.Err(); e != nil {
		return e
	}
	return err
}

func (r row) col(name string) arrow.Array {
	j, ok := r.cols[name]
	if !ok {
		*r.err = fmt.Errorf("column %s missing", name)
		return nil
	}
	c := r.rec.Column(j)
	if c.IsNull(r.i) {
		return nil
	}
	return c
}

func (r row) typeErr(name string, c arrow.Array) {
	*r.err = fmt.Errorf("column %s: unexpected type %s", name, c.DataType())
}

func (r row) optStr(name string) *string {
	c := r.col(name)
	if c == nil {
		return nil
	}
	if s, ok := c.(interface{ Value(int) string }); ok {
		v := s.Value(r.i)
		return &v
	}
	r.typeErr(name, c)
	return nil
}

func (r row) str(name string) string {
	if p := r.optStr(name); p != nil {
		return *p
	}
	return ""
}

func (r row) optI64(name string) *int64 {
	c := r.col(name)
	if c == nil {
		return nil
	}
	switch a := c.(type) {
	case *array.Int64:
		v := a.Value(r.i)
		return &v
	case *array.Int32:
		v := int64(a.Value(r.i))
		return &v
	}
	r.typeErr(name, c)
	return nil
}

func (r row) i64(name string) int64 {
	if p := r.optI64(name); p != nil {
		return *p
	}
	return 0
}

func (r row) optI32(name string) *int32 {
	if p := r.optI64(name); p != nil {
		v := int32(*p)
		return &v
	}
	return nil
}

func (r row) optF64(name string) *float64 {
	c := r.col(name)
	if c == nil {
		return nil
	}
	switch a := c.(type) {
	case *array.Float64:
		v := a.Value(r.i)
		return &v
	case *array.Float32:
		v := float64(a.Value(r.i))
		return &v
	}
	r.typeErr(name, c)
	return nil
}

func (r row) flag(name string) bool {
	c := r.col(name)
	if c == nil {
		return false
	}
	if a, ok := c.(*array.Boolean); ok {
		return a.Value(r.i)
	}
	r.typeErr(name, c)
	return false
}

func (r row) date(name string) *string {
	c := r.col(name)
	if c == nil {
		return nil
	}
	if a, ok := c.(*array.Date32); ok {
		v := a.Value(r.i).ToTime().Format(time.DateOnly)
		return &v
	}
	r.typeErr(name, c)
	return nil
}

func (r row) ts(name string) time.Time {
	c := r.col(name)
	if c == nil {
		return time.Time{}
	}
	if a, ok := c.(*array.Timestamp); ok {
		unit := a.DataType().(*arrow.TimestampType).Unit
		return a.Value(r.i).ToTime(unit).UTC()
	}
	r.typeErr(name, c)
	return time.Time{}
}
