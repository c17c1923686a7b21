package lake

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// LogEntry is what crm.ingest_log says about one attempt that reached a
// final state: which object version, and how it ended.
type LogEntry struct {
	Source string // s3://bucket/key
	ETag   string
	Status string
}

// ReadIngestLog reads the source, etag and status of every crm.ingest_log
// row (a few dozen bytes a file: reconcile reads it whole once a run).
func ReadIngestLog(ctx context.Context, tables TableLoader) ([]LogEntry, error) {
	at, err := ReadTable(ctx, tables, IngestLogTable, "source", "etag", "status")
	if err != nil {
		return nil, err
	}
	defer at.Release()
	tr := array.NewTableReader(at, 8192)
	defer tr.Release()
	var out []LogEntry
	for tr.Next() {
		rec := tr.RecordBatch()
		cols := map[string]arrow.Array{}
		for j, f := range rec.Schema().Fields() {
			cols[f.Name] = rec.Column(j)
		}
		src, ok1 := cols["source"].(*array.String)
		etag, ok2 := cols["etag"].(*array.String)
		status, ok3 := cols["status"].(*array.String)
		if !ok1 || !ok2 || !ok3 {
			return nil, fmt.Errorf("read %s.%s: source, etag and status must be string columns", Namespace, IngestLogTable.Name)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			out = append(out, LogEntry{Source: src.Value(i), ETag: etag.Value(i), Status: status.Value(i)})
		}
	}
	if err := tr.Err(); err != nil {
		return nil, fmt.Errorf("read %s.%s: %w", Namespace, IngestLogTable.Name, err)
	}
	return out, nil
}
