package lake

import "github.com/apache/iceberg-go"

var maintenanceLogSchema = iceberg.NewSchema(0,
	field(1, "run_id", tString, required, "one maintenance run, e.g. maintain-20261201T191700Z"),
	field(2, "table_name", tString, required, "the table maintained, e.g. crm.cdr"),
	field(3, "started_at", tTime, required, ""),
	field(4, "duration_ms", tInt64, required, ""),
	field(5, "data_files_before", tInt64, required, "live data files of the current snapshot"),
	field(6, "data_files_after", tInt64, required, ""),
	field(7, "data_bytes_before", tInt64, required, ""),
	field(8, "data_bytes_after", tInt64, required, ""),
	field(9, "manifests_before", tInt64, required, "manifests of the current snapshot"),
	field(10, "manifests_after", tInt64, required, ""),
	field(11, "snapshots_before", tInt64, required, ""),
	field(12, "snapshots_after", tInt64, required, ""),
	field(13, "snapshots_expired", tInt64, required, ""),
	field(14, "metadata_bytes_before", tInt64, required, "size of the current metadata JSON"),
	field(15, "metadata_bytes_after", tInt64, required, ""),
	field(16, "files_compacted", tInt64, required, "small data files rewritten into larger ones"),
	field(17, "files_written", tInt64, required, "data files the compaction wrote"),
	field(18, "orphans_removed", tInt64, required, "files of dead attempts, older than the safety age"),
	field(19, "orphan_bytes", tInt64, required, ""),
	field(20, "expired_files_removed", tInt64, required, "manifest lists, manifests and data files only expired snapshots referenced"),
	field(21, "ledger_repaired", tInt64, required, "ledger objects written before their snapshots expired"),
	field(22, "error", tString, optional, "why a step failed; the other steps and tables still ran"),
	field(23, "conflicts", tInt64, optional, "commit attempts lost to concurrent writers, each staged again"),
)

// MaintenanceLogTable holds one row per table per maintenance run.
var MaintenanceLogTable = TableDef{
	Name:   "maintenance_log",
	Schema: maintenanceLogSchema,
	Spec:   *iceberg.UnpartitionedSpec,
}
