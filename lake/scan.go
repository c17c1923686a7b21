package lake

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go/table"
)

// ReadTable scans a whole table (optionally only some columns) into memory.
// It is meant for small tables and tests; the API scans with filters.
func ReadTable(ctx context.Context, tables TableLoader, def TableDef, columns ...string) (arrow.Table, error) {
	tbl, err := tables.LoadTable(ctx, def.Ident())
	if err != nil {
		return nil, fmt.Errorf("load %s.%s: %w", Namespace, def.Name, err)
	}
	var opts []table.ScanOption
	if len(columns) > 0 {
		opts = append(opts, table.WithSelectedFields(columns...))
	}
	at, err := tbl.Scan(opts...).ToArrowTable(ctx)
	if err != nil {
		return nil, fmt.Errorf("scan %s.%s: %w", Namespace, def.Name, err)
	}
	return at, nil
}
