package lake

import (
	"fmt"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// Namespace is the Iceberg namespace of every telcolake table.
const Namespace = "crm"

// TableDef is one table of the lake: its schema with fixed field ids and its
// partition spec. Schema changes are additive: never reuse or renumber an id.
type TableDef struct {
	Name   string
	Schema *iceberg.Schema
	Spec   iceberg.PartitionSpec
}

// Ident is the table's catalog identifier, e.g. ["crm", "cdr"].
func (d TableDef) Ident() table.Identifier { return table.Identifier{Namespace, d.Name} }

// Tables lists every table EnsureTables creates.
func Tables() []TableDef {
	return []TableDef{CDRTable, BillsTable, SubscribersTable, IngestLogTable, FeaturesTable, ModelRunsTable, ScoresTable, MaintenanceLogTable, UsageCubeTable, CubeMonthlyTable,
		CampaignsTable, CampaignContactsTable, ResponsesTable, ModelTrackingTable, CustomerGroupsTable,
		ForecastsTable, ScenariosTable}
}

// Shorthands for the schema files.
var (
	tString  = iceberg.PrimitiveTypes.String
	tInt32   = iceberg.PrimitiveTypes.Int32
	tInt64   = iceberg.PrimitiveTypes.Int64
	tBool    = iceberg.PrimitiveTypes.Bool
	tDate    = iceberg.PrimitiveTypes.Date
	tTime    = iceberg.PrimitiveTypes.TimestampTz
	tMoney2  = iceberg.DecimalTypeOf(12, 2)
	tMoney4  = iceberg.DecimalTypeOf(14, 4)
	required = true
	optional = false
)

func field(id int, name string, typ iceberg.Type, req bool, doc string) iceberg.NestedField {
	return iceberg.NestedField{ID: id, Name: name, Type: typ, Required: req, Doc: doc}
}

// partField is one field of a partition spec: a source column, the
// partition field's name and its transform.
type partField struct {
	column, name string
	tr           iceberg.Transform
}

// partitionBy builds a one-field spec on the named source column; it panics
// on a programming error in a schema file, found by the tests.
func partitionBy(sc *iceberg.Schema, column, name string, tr iceberg.Transform) iceberg.PartitionSpec {
	return partitionByFields(sc, partField{column, name, tr})
}

// partitionByFields builds a spec of the given fields (ids from 1000, in
// order), like partitionBy.
func partitionByFields(sc *iceberg.Schema, fields ...partField) iceberg.PartitionSpec {
	var opts []iceberg.PartitionOption
	for i, pf := range fields {
		f, ok := sc.FindFieldByName(pf.column)
		if !ok {
			panic(fmt.Sprintf("lake: partition source %q not in schema", pf.column))
		}
		fieldID := 1000 + i
		opts = append(opts, iceberg.AddPartitionFieldBySourceID(f.ID, pf.name, pf.tr, sc, &fieldID))
	}
	spec, err := iceberg.NewPartitionSpecOpts(opts...)
	if err != nil {
		panic(fmt.Sprintf("lake: partition spec on %v: %v", fields, err))
	}
	return spec
}

// tableProperties are set on every table at creation.
var tableProperties = iceberg.Properties{
	"format-version":                  "2",
	"write.parquet.compression-codec": "zstd",
	"write.parquet.compression-level": "1",
	// Columns of (nearly) one value per row in a data file (crm.cdr's
	// files hold a day of a subscriber bucket): a dictionary costs the
	// writer a hash look-up per value and saves nothing after zstd (the
	// files come out 0.6% smaller without). start_time, data_kb and charge
	// too: on the generator's month (3.4M rows) ingest CPU 13.3 -> 12.5 s
	// (median of 3 pairs, load 10-15), files 109.1 -> 107.3 MB; duration_s
	// and ingested_at keep theirs (no gain measured without).
	"write.parquet.dict-encoding-enabled.column.call_id":          "false",
	"write.parquet.dict-encoding-enabled.column.other_party_hash": "false",
	"write.parquet.dict-encoding-enabled.column.msisdn":           "false",
	"write.parquet.dict-encoding-enabled.column.subscriber_id":    "false",
	"write.parquet.dict-encoding-enabled.column.start_time":       "false",
	"write.parquet.dict-encoding-enabled.column.data_kb":          "false",
	"write.parquet.dict-encoding-enabled.column.charge":           "false",
	// Encodings of the ingest's own writer (not an Iceberg property: other
	// writers, maintenance's compaction among them, write these columns
	// plain). A day × bucket file holds its calls in time order, so
	// call_id shares most of its text with the row before and start_time
	// grows by seconds: DELTA_BYTE_ARRAY and DELTA_BINARY_PACKED give zstd
	// 24 and 30 MB of the 9.5M-row file's 200 and 76 MB plain, and the
	// files come out 13% smaller (301.8 -> 263 MB). other_party_hash is 32
	// hex digits of a keyed hash, which no match shortens: written as
	// DELTA_LENGTH_BYTE_ARRAY, zstd reads the digits without the 4-byte
	// lengths between them (its literals coder ran about 3x as fast on
	// them in a throwaway microbenchmark) and the 9.5M-row ingest took 0.4
	// to 0.9 s less CPU, the column 105.0 -> 103.1 MB (BENCHMARKS.md,
	// 2026-12-06). msisdn and subscriber_id lost CPU that way;
	// BYTE_STREAM_SPLIT for data_kb and charge saved a little, but DuckDB
	// 1.4 reads that encoding for FLOAT and DOUBLE only.
	encodingPrefix + "call_id":          "DELTA_BYTE_ARRAY",
	encodingPrefix + "start_time":       "DELTA_BINARY_PACKED",
	encodingPrefix + "other_party_hash": "DELTA_LENGTH_BYTE_ARRAY",
	// Its digits then go to zstd as Huffman-coded literals without a
	// search for matches or a count of symbols (zstdhex.go).
	zstdHexPrefix + "other_party_hash": "true",
	// Values of one length (E.164 numbers of one plan, ids of one
	// width) and fixed-width values whose high bytes are the same (data
	// volumes, charges): zstd is given the match each value makes with
	// the one before it (zstdfixed.go).
	zstdFixedPrefix + "msisdn":                   "true",
	zstdFixedPrefix + "subscriber_id":            "true",
	zstdFixedPrefix + "data_kb":                  "true",
	zstdFixedPrefix + "charge":                   "true",
	"commit.retry.num-retries":                   "0", // telcolake runs its own loop (see commit.go)
	"write.metadata.delete-after-commit.enabled": "true",
	"write.metadata.previous-versions-max":       "50",
}
