// Command ingest is the Lambda function that ingests export files dropped in
// the landing bucket into the lake's Iceberg tables (S3 ObjectCreated events).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/telcolake/telcolake/lake"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := lake.FromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	conn, _, err := lake.Open(context.Background(), cfg) // catalog (SQL or Glue) and every table
	if err != nil {
		return err
	}
	in := lake.NewIngester(cfg, conn.Catalog, lake.S3Store{Client: conn.S3}, lambdacontext.NewLogger())
	in.AWS = &conn.AWS
	lambda.Start(func(ctx context.Context, ev events.S3Event) (lake.EventResult, error) {
		return in.HandleS3Event(ctx, cfg.LandingBucket, ev)
	})
	return nil
}
