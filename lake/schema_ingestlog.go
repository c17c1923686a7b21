package lake

import "github.com/apache/iceberg-go"

var ingestLogSchema = iceberg.NewSchema(0,
	field(1, "source", tString, required, "s3://bucket/key of the export"),
	field(2, "etag", tString, required, ""),
	field(3, "size_bytes", tInt64, required, ""),
	field(4, "table_name", tString, optional, "target table, empty if the key matched none"),
	field(5, "status", tString, required, "committed, replaced, quarantined, rejected, gone"),
	field(6, "rows_ok", tInt64, required, ""),
	field(7, "rows_rejected", tInt64, required, ""),
	field(8, "snapshot_id", tInt64, optional, "snapshot of the target table that added the rows"),
	field(9, "report_key", tString, optional, "key of the reject report in the landing bucket"),
	field(10, "message", tString, optional, ""),
	field(11, "started_at", tTime, required, ""),
	field(12, "duration_ms", tInt64, required, ""),
	field(13, "rows_duplicate", tInt64, optional, "good rows not added: their record was already in the table or the file"),
)

// IngestLogTable holds one row per source file that reached a final state,
// partitioned by the day the attempt started: GET /v1/ingest/files reads
// only the manifests and files of the days it is asked for.
var IngestLogTable = TableDef{
	Name:   "ingest_log",
	Schema: ingestLogSchema,
	Spec:   partitionBy(ingestLogSchema, "started_at", "started_day", iceberg.DayTransform{}),
}
