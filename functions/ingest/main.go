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
	log := lambdacontext.NewLogger()
	ctx := context.Background()
	cfg, err := lake.FromEnv(os.LookupEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(2)
	}
	cat, err := lake.OpenCatalog(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
	if err := lake.EnsureTables(ctx, cat, cfg.Warehouse); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
	s3c, err := lake.NewS3Client(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
	in := lake.NewIngester(cfg, cat, lake.S3Store{Client: s3c}, log)
	lambda.Start(func(ctx context.Context, ev events.S3Event) (lake.EventResult, error) {
		return in.HandleS3Event(ctx, cfg.LandingBucket, ev)
	})
}
