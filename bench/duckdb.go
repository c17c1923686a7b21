package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver
)

// runConvert is the hidden child mode: it converts args[0] (CSV) to args[1]
// (zstd parquet) with an in-process DuckDB at its default settings, and
// prints the number of rows COPY reports.
func runConvert(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 2 {
		return fmt.Errorf("want IN.csv OUT.parquet, got %d arguments", len(args))
	}
	db, err := openDuckDB()
	if err != nil {
		return err
	}
	defer db.Close()
	q := fmt.Sprintf("COPY (SELECT * FROM read_csv(%s, header=true, auto_detect=true)) TO %s (FORMAT parquet, COMPRESSION zstd)",
		sqlString(args[0]), sqlString(args[1]))
	res, err := db.ExecContext(ctx, q)
	if err != nil {
		return fmt.Errorf("copy %s to parquet: %w", args[0], err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("copy %s to parquet: rows: %w", args[0], err)
	}
	_, err = fmt.Fprintln(stdout, n)
	return err
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
