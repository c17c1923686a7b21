package features

import _ "embed"

// SQL is the whole feature definition as one query in the Trino dialect
// (Athena engine 3, Trino; Spark with three renamed functions): every
// column of crm.features for every month with bills, read from crm.cdr,
// crm.bills and crm.subscribers. The bench runs it in DuckDB over the
// same Parquet files and checks it against Build row by row; the
// definitions it follows are in the file's header (features.sql).
//
//go:embed features.sql
var SQL string
