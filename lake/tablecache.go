package lake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
)

// cachedCatalog is a Catalog whose LoadTable parses each version of a
// table's metadata file once per process. Loading a table costs reading
// its metadata pointer from the catalog (one row, or one Glue GetTable)
// and, only when that pointer moved since the last load, the catalog's
// own LoadTable (reading and parsing the metadata file, whose size grows
// with the snapshots kept). Metadata files are immutable, so a table
// parsed from the location the catalog names now is the table as it is
// now. Every exactly-once decision loads two tables (the data table and
// crm.ingest_log), so without it a decision's cost grows with the
// snapshots the tables keep; with it, a run of decisions between commits
// costs the same whatever the history.
type cachedCatalog struct {
	Catalog
	// locate returns the metadata location the catalog names for ident;
	// an error (or "") makes LoadTable go to the catalog.
	locate func(ctx context.Context, ident table.Identifier) (string, error)

	mu     sync.Mutex
	tables map[string]*table.Table // by identifier, the newest loaded
}

func newCachedCatalog(cat Catalog, locate func(context.Context, table.Identifier) (string, error)) *cachedCatalog {
	return &cachedCatalog{Catalog: cat, locate: locate, tables: map[string]*table.Table{}}
}

// LoadTable returns the table ident as the catalog names it now: the
// table parsed before when its metadata location has not moved, else the
// catalog's LoadTable (then kept). A *table.Table is never changed by
// use (a transaction works on a copy of its metadata), so callers may
// share it.
func (c *cachedCatalog) LoadTable(ctx context.Context, ident table.Identifier) (*table.Table, error) {
	key := strings.Join(ident, ".")
	if loc, err := c.locate(ctx, ident); err == nil && loc != "" {
		c.mu.Lock()
		t := c.tables[key]
		c.mu.Unlock()
		if t != nil && t.MetadataLocation() == loc {
			return t, nil
		}
	}
	t, err := c.Catalog.LoadTable(ctx, ident)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.tables[key] = t
	c.mu.Unlock()
	return t, nil
}

// sqlLocator reads a table's metadata location from the SQL catalog's
// iceberg_tables row, the row the catalog's own LoadTable reads.
func sqlLocator(db *sql.DB, dialect sqlcat.SupportedDialect) func(context.Context, table.Identifier) (string, error) {
	q := "SELECT metadata_location FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?"
	if dialect == sqlcat.Postgres {
		q = "SELECT metadata_location FROM iceberg_tables WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3"
	}
	return func(ctx context.Context, ident table.Identifier) (string, error) {
		if len(ident) < 2 {
			return "", errors.New("locate table: identifier without namespace")
		}
		var loc sql.NullString
		ns, name := strings.Join(ident[:len(ident)-1], "."), ident[len(ident)-1]
		if err := db.QueryRowContext(ctx, q, catalogName, ns, name).Scan(&loc); err != nil {
			return "", fmt.Errorf("locate table %s: %w", strings.Join(ident, "."), err)
		}
		return loc.String, nil
	}
}

// glueLocator reads a table's metadata location from its Glue table's
// metadata_location parameter, as the Glue catalog's LoadTable does.
func glueLocator(awsCfg aws.Config) func(context.Context, table.Identifier) (string, error) {
	client := glue.NewFromConfig(awsCfg)
	return func(ctx context.Context, ident table.Identifier) (string, error) {
		if len(ident) != 2 {
			return "", errors.New("locate table: want database.table")
		}
		out, err := client.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String(ident[0]), Name: aws.String(ident[1])})
		if err != nil {
			return "", fmt.Errorf("locate table %s: %w", strings.Join(ident, "."), err)
		}
		if out.Table == nil {
			return "", nil
		}
		return out.Table.Parameters["metadata_location"], nil
	}
}
