package lake

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Conn is an open lake: the catalog with every table created, and the AWS
// configuration its IO uses.
type Conn struct {
	Cfg     Config
	AWS     aws.Config
	S3      *s3.Client
	Catalog Catalog
}

// Open connects to the lake described by cfg, creating the namespace and
// any missing table (EnsureTables), and returns a context whose table IO
// uses the connection's AWS configuration.
func Open(ctx context.Context, cfg Config) (*Conn, context.Context, error) {
	c, ctx, err := Connect(ctx, cfg)
	if err != nil {
		return nil, ctx, err
	}
	if err := EnsureTables(ctx, c.Catalog, cfg.Warehouse); err != nil {
		c.Close()
		return nil, ctx, err
	}
	return c, ctx, nil
}

// OpenEnv is Open of the lake the environment describes (FromEnv): the
// wiring every writing function and command starts with.
func OpenEnv(ctx context.Context) (*Conn, context.Context, error) {
	cfg, err := FromEnv(os.LookupEnv)
	if err != nil {
		return nil, ctx, err
	}
	return Open(ctx, cfg)
}

// Connect is Open for readers: it creates nothing, so a role that may only
// read the catalog (the api's) can use it; a missing table is an error when
// it is loaded.
func Connect(ctx context.Context, cfg Config) (*Conn, context.Context, error) {
	awsCfg, err := LoadAWSConfig(ctx, cfg)
	if err != nil {
		return nil, ctx, err
	}
	ctx = WithAWS(ctx, &awsCfg)
	cat, err := NewCatalog(ctx, cfg, awsCfg)
	if err != nil {
		return nil, ctx, err
	}
	return &Conn{Cfg: cfg, AWS: awsCfg, S3: NewS3Client(awsCfg, cfg), Catalog: cat}, ctx, nil
}

// Close closes the catalog.
func (c *Conn) Close() error { return c.Catalog.Close() }

// Blobs returns the file store beside the warehouse named name ("models",
// "serving").
func (c *Conn) Blobs(name string) (*Blobs, error) {
	var client *s3.Client
	if strings.HasPrefix(c.Cfg.Warehouse, "s3://") {
		client = c.S3
	}
	b, err := OpenBlobs(c.Cfg, client, name)
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", name, err)
	}
	return b, nil
}
