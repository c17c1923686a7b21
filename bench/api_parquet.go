package main

import (
	"fmt"
	"os"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/telcolake/telcolake/models/serving"
)

// writeParquet writes the customers as one zstd Parquet file (the former
// snapshot layout, from serving.Customer's parquet tags), for DuckDB.
func writeParquet(path string, customers []serving.Customer) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := parquet.NewGenericWriter[serving.Customer](f, parquet.Compression(&zstd.Codec{}), parquet.MaxRowsPerRowGroup(128*1024))
	if _, err := w.Write(customers); err != nil {
		return 0, fmt.Errorf("parquet for DuckDB: %w", err)
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("parquet for DuckDB: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), f.Close()
}
