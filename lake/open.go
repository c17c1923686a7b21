package lake

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Conn is an open lake: the catalog with every table created, the AWS
// configuration its IO uses, and the object stores beside the warehouse
// (models, serving snapshots, the console's records). It is the one
// thing a function's main opens.
type Conn struct {
	Cfg     Config
	AWS     aws.Config
	S3      *s3.Client
	Catalog Catalog

	models, serving, console *Blobs
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
	c := &Conn{Cfg: cfg, AWS: awsCfg, S3: NewS3Client(awsCfg, cfg), Catalog: cat}
	for name, b := range map[string]**Blobs{"models": &c.models, "serving": &c.serving, "console": &c.console} {
		if *b, err = c.Blobs(name); err != nil {
			cat.Close()
			return nil, ctx, err
		}
	}
	return c, ctx, nil
}

// ConnectEnv is Connect to the lake the environment describes: the
// wiring of a function that only reads the catalog (the api).
func ConnectEnv(ctx context.Context) (*Conn, context.Context, error) {
	cfg, err := FromEnv(os.LookupEnv)
	if err != nil {
		return nil, ctx, err
	}
	return Connect(ctx, cfg)
}

// Context returns ctx with the connection's AWS configuration, which the
// tables' IO then uses (WithAWS).
func (c *Conn) Context(ctx context.Context) context.Context { return WithAWS(ctx, &c.AWS) }

// Models is the model store (models/ beside the warehouse), which
// models/registry keeps versions in.
func (c *Conn) Models() *Blobs { return c.models }

// Serving is the serving snapshots' store (serving/ beside the warehouse).
func (c *Conn) Serving() *Blobs { return c.serving }

// Console is the staff console's store (console/ beside the warehouse:
// sign-out records).
func (c *Conn) Console() *Blobs { return c.console }

// Landing is the landing bucket's object store (S3).
func (c *Conn) Landing() S3Store { return S3Store{Client: c.S3} }

// Ingester returns an ingester of the landing bucket into the
// connection's tables, logging to log.
func (c *Conn) Ingester(log *slog.Logger) *Ingester {
	in := NewIngester(c.Cfg, c.Catalog, c.Landing(), log)
	in.AWS = &c.AWS
	if u := c.Cfg.IngestQueueURL; u != "" {
		in.Requeue = &SQSRequeuer{Client: sqs.NewFromConfig(c.AWS), QueueURL: u}
	}
	return in
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
