package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver

	"github.com/telcolake/telcolake/lake"
)

// runConvert is the hidden child mode: it converts args[0] (CSV) to args[1]
// (zstd parquet) with an in-process DuckDB at its default settings, and
// prints the number of rows COPY reports.
func runConvert(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 2 {
		return fmt.Errorf("want IN.csv OUT.parquet, got %d arguments", len(args))
	}
	q := fmt.Sprintf("COPY (SELECT * FROM read_csv(%s, header=true, auto_detect=true)) TO %s (FORMAT parquet, COMPRESSION zstd)",
		sqlString(args[0]), sqlString(args[1]))
	return runCopy(ctx, q, "copy "+args[0]+" to parquet", stdout)
}

// runCopy runs the COPY statement q in an in-process DuckDB at its default
// settings and prints the number of rows it reports; what names it in errors.
func runCopy(ctx context.Context, q, what string, stdout io.Writer) error {
	db, err := openDuckDB()
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := db.ExecContext(ctx, q)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: rows: %w", what, err)
	}
	_, err = fmt.Fprintln(stdout, n)
	return err
}

// jobQuery is DuckDB doing the job telcolake's ingest does, as near as
// SQL gets: the other party's number replaced by a keyed hash (SHA-256 of
// key and number, 32 hex digits; telcolake's HMAC hashes two blocks, this
// one), the rows written as one zstd Parquet file per day and subscriber
// bucket (DuckDB's hash, not Iceberg's murmur3, into SubscriberBuckets).
// It leaves out what SQL has no word for: telcolake's checks of every
// value, its rejects report, its de-duplication of repeated call ids and
// its Iceberg commit. Its verbs, in order: the key (an SQL string), the
// bucket count, the CSV and the output directory (SQL strings).
const jobQuery = `COPY (SELECT call_id, subscriber_id, msisdn,
	left(hex(sha256(%s || other_party)), 32) AS other_party_hash,
	other_network, start_time, duration_s, call_type, direction, roaming, international,
	cell_id, region, data_kb, charge, other_area,
	CAST(start_time AS DATE) AS start_day, hash(subscriber_id) %% %d AS bucket
	FROM read_csv(%s, header=true, auto_detect=true))
	TO %s (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (start_day, bucket))`

// runConvertJob is the hidden child mode of the same job: args[0] (CSV)
// to the directory args[1] under the pseudonym key args[2] (jobQuery);
// it prints the number of rows COPY reports.
func runConvertJob(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 3 {
		return fmt.Errorf("want IN.csv OUT-DIR KEY, got %d arguments", len(args))
	}
	q := fmt.Sprintf(jobQuery, sqlString(args[2]), lake.SubscriberBuckets, sqlString(args[0]), sqlString(args[1]))
	return runCopy(ctx, q, "copy "+args[0]+" to partitioned parquet", stdout)
}

// duckdbInfo returns DuckDB's version and its default thread count.
func duckdbInfo(ctx context.Context) (version string, threads int, err error) {
	db, err := openDuckDB()
	if err != nil {
		return "", 0, err
	}
	defer db.Close()
	row := db.QueryRowContext(ctx, "SELECT version(), current_setting('threads')::INTEGER")
	if err := row.Scan(&version, &threads); err != nil {
		return "", 0, fmt.Errorf("query duckdb version: %w", err)
	}
	return version, threads, nil
}

// parquetRows counts the rows of a parquet file with DuckDB.
func parquetRows(ctx context.Context, path string) (int64, error) {
	db, err := openDuckDB()
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM read_parquet("+sqlString(path)+")").Scan(&n); err != nil {
		return 0, fmt.Errorf("count rows of %s: %w", path, err)
	}
	return n, nil
}

// openDuckDB opens an in-memory DuckDB database.
func openDuckDB() (*sql.DB, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	return db, nil
}

// sqlString quotes s as a SQL string literal.
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
