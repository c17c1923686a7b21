package lake

import (
	"context"
	"strings"
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
	var out []LogEntry
	for b, err := range Scan(ctx, tables, IngestLogTable, Select("source", "etag", "status")) {
		if err != nil {
			return nil, err
		}
		src, etag, status := b.String("source"), b.String("etag"), b.String("status")
		if err := b.Err(); err != nil {
			return nil, err
		}
		for i := range b.Len() {
			out = append(out, LogEntry{Source: strings.Clone(src.Value(i)), ETag: strings.Clone(etag.Value(i)),
				Status: strings.Clone(status.Value(i))})
		}
	}
	return out, nil
}
