package lake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	gluecat "github.com/apache/iceberg-go/catalog/glue"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-sdk-go-v2/aws"

	_ "github.com/apache/iceberg-go/io/gocloud/s3" // s3:// warehouse
	_ "github.com/jackc/pgx/v5/stdlib"             // postgres catalog
	_ "modernc.org/sqlite"                         // sqlite catalog
)

// catalogName is persisted in every catalog row; keep it stable.
const catalogName = "telcolake"

// Catalog is an open Iceberg catalog of either kind (SQL or Glue).
type Catalog interface {
	catalog.Catalog
	Close() error
}

// NewCatalog opens the catalog cfg.Catalog names: the SQL catalog
// (OpenCatalog) or the AWS Glue Data Catalog (OpenGlueCatalog, through
// awsCfg). Close it when done.
func NewCatalog(ctx context.Context, cfg Config, awsCfg aws.Config) (Catalog, error) {
	u, err := parseCatalogURI(cfg.Catalog)
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	if u.kind == "glue" {
		cat, err := OpenGlueCatalog(cfg, awsCfg)
		if err != nil {
			return nil, err
		}
		return newCachedCatalog(cat, glueLocator(awsCfg)), nil
	}
	cat, db, dialect, err := openSQLCatalog(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return newCachedCatalog(cat, sqlLocator(db, dialect)), nil
}

// OpenGlueCatalog opens the AWS Glue Data Catalog of awsCfg's account and
// region; the Glue database is the namespace crm. The Glue client takes its
// endpoint from awsCfg as config.LoadDefaultConfig resolved it:
// AWS_ENDPOINT_URL_GLUE, else AWS_ENDPOINT_URL, else the region's Glue
// endpoint (iceberg-go's NewCatalog ignores the glue.endpoint property, so
// the SDK's variables are the way to point it elsewhere). Table IO is built
// from the same properties as the SQL catalog's, so an s3:// warehouse uses
// cfg.EndpointURL path-style as everywhere else.
func OpenGlueCatalog(cfg Config, awsCfg aws.Config) (*gluecat.Catalog, error) {
	props := gluecat.AwsProperties(catalogProps(cfg))
	props[gluecat.SkipArchive] = "true" // no Glue table version per commit (ingest commits per file)
	cat, err := gluecat.NewCatalog(gluecat.WithAwsConfig(awsCfg), gluecat.WithAwsProperties(props))
	if err != nil {
		return nil, fmt.Errorf("open catalog glue: %w", err)
	}
	return cat, nil
}

// OpenCatalog opens the Iceberg SQL catalog named by cfg.Catalog, creating
// its own bookkeeping tables if missing. Close it when done. A Glue catalog
// needs the AWS configuration: open it with NewCatalog or Open.
func OpenCatalog(ctx context.Context, cfg Config) (*sqlcat.Catalog, error) {
	cat, _, _, err := openSQLCatalog(ctx, cfg)
	return cat, err
}

// openSQLCatalog is OpenCatalog, also returning the catalog's database
// and dialect (for reading a table's metadata pointer alone).
func openSQLCatalog(ctx context.Context, cfg Config) (*sqlcat.Catalog, *sql.DB, sqlcat.SupportedDialect, error) {
	u, err := parseCatalogURI(cfg.Catalog)
	if err != nil {
		return nil, nil, "", fmt.Errorf("open catalog: %w", err)
	}
	if u.kind == "glue" {
		return nil, nil, "", errors.New("open catalog: glue is not a SQL catalog; open it with lake.NewCatalog or lake.Open")
	}
	var (
		db      *sql.DB
		dialect sqlcat.SupportedDialect
	)
	switch u.kind {
	case "sqlite":
		// WAL and a busy timeout let several processes share the file; one
		// connection per process keeps modernc's locking simple.
		db, err = sql.Open("sqlite", "file:"+u.dsn+"?_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)&_txlock=immediate")
		if err == nil {
			db.SetMaxOpenConns(1)
		}
		dialect = sqlcat.SQLite
	case "postgres":
		db, err = sql.Open("pgx", u.dsn)
		dialect = sqlcat.Postgres
	}
	if err != nil {
		return nil, nil, "", fmt.Errorf("open catalog %s: %w", u.kind, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, "", fmt.Errorf("open catalog %s: %w", u.kind, err)
	}
	cat, err := sqlcat.NewCatalog(catalogName, db, dialect, catalogProps(cfg))
	if err != nil {
		db.Close()
		return nil, nil, "", fmt.Errorf("open catalog %s: %w", u.kind, err)
	}
	return cat, db, dialect, nil
}

// catalogProps are the properties every table's file IO is built from.
func catalogProps(cfg Config) iceberg.Properties {
	p := iceberg.Properties{
		"warehouse":    cfg.Warehouse,
		iceio.S3Region: cfg.Region,
	}
	if cfg.EndpointURL != "" {
		p[iceio.S3EndpointURL] = cfg.EndpointURL
		p[iceio.S3ForceVirtualAddressing] = "false"
	}
	return p
}

// EnsureTables creates namespace crm and every table of Tables() that does
// not exist yet. It is safe to run concurrently from several processes.
func EnsureTables(ctx context.Context, cat catalog.Catalog, warehouse string) error {
	ns := table.Identifier{Namespace}
	if err := cat.CreateNamespace(ctx, ns, nil); err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
		exists, cerr := cat.CheckNamespaceExists(ctx, ns)
		if cerr != nil || !exists {
			return fmt.Errorf("create namespace %s: %w", Namespace, err)
		}
	}
	for _, d := range Tables() {
		exists, err := cat.CheckTableExists(ctx, d.Ident())
		if err != nil {
			return fmt.Errorf("check table %s.%s: %w", Namespace, d.Name, err)
		}
		if exists {
			if err := addMissingColumns(ctx, cat, d); err != nil {
				return err
			}
			continue
		}
		spec := d.Spec
		_, err = cat.CreateTable(ctx, d.Ident(), d.Schema,
			catalog.WithPartitionSpec(&spec),
			catalog.WithLocation(warehouse+"/"+Namespace+"/"+d.Name),
			catalog.WithProperties(tableProperties))
		if err != nil && !errors.Is(err, catalog.ErrTableAlreadyExists) {
			return fmt.Errorf("create table %s.%s: %w", Namespace, d.Name, err)
		}
	}
	return nil
}

// addMissingColumns brings an existing table up to its definition by the
// additive changes its schema file made since the table was created:
// optional columns appended, whose field ids must come out as fixed there.
func addMissingColumns(ctx context.Context, cat catalog.Catalog, d TableDef) error {
	tbl, err := cat.LoadTable(ctx, d.Ident())
	if err != nil {
		return fmt.Errorf("load %s.%s: %w", Namespace, d.Name, err)
	}
	have := tbl.Schema()
	var missing []iceberg.NestedField
	for _, f := range d.Schema.Fields() {
		if _, ok := have.FindFieldByName(f.Name); !ok {
			if f.Required {
				return fmt.Errorf("%s.%s lacks required column %s: not an additive change", Namespace, d.Name, f.Name)
			}
			missing = append(missing, f)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	tx := tbl.NewTransaction()
	us := tx.UpdateSchema(true, false)
	for _, f := range missing {
		us.AddColumn([]string{f.Name}, f.Type, f.Doc, false, nil)
	}
	if err := us.Commit(); err != nil {
		return fmt.Errorf("add columns to %s.%s: %w", Namespace, d.Name, err)
	}
	updated, err := tx.Commit(ctx)
	if err != nil {
		if isConflict(err) { // another process evolved it first
			return nil
		}
		return fmt.Errorf("add columns to %s.%s: %w", Namespace, d.Name, err)
	}
	for _, f := range missing {
		if got, ok := updated.Schema().FindFieldByName(f.Name); !ok || got.ID != f.ID {
			return fmt.Errorf("%s.%s: column %s was added with field id %d, its schema file fixes %d", Namespace, d.Name, f.Name, got.ID, f.ID)
		}
	}
	return nil
}
