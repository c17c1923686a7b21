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
	ctx := context.Background()
	awsCfg, err := lake.LoadAWSConfig(ctx, cfg)
	if err != nil {
		return err
	}
	ctx = lake.WithAWS(ctx, &awsCfg)
	cat, err := lake.OpenCatalog(ctx, cfg)
	if err != nil {
		return err
	}
	if err := lake.EnsureTables(ctx, cat, cfg.Warehouse); err != nil {
		return err
	}
	in := lake.NewIngester(cfg, cat, lake.S3Store{Client: lake.NewS3Client(awsCfg, cfg)}, lambdacontext.NewLogger())
	in.AWS = &awsCfg
	lambda.Start(func(ctx context.Context, ev events.S3Event) (lake.EventResult, error) {
		return in.HandleS3Event(ctx, cfg.LandingBucket, ev)
	})
	return nil
}
