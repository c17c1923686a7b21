// Command ingest is the Lambda function that ingests export files dropped in
// the landing bucket into the lake's Iceberg tables: batches of S3
// notifications from the ingest queue (SQS), or S3 events delivered directly.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

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
	conn, _, err := lake.OpenEnv(context.Background()) // catalog (SQL or Glue) and every table
	if err != nil {
		return err
	}
	in := lake.NewIngester(conn.Cfg, conn.Catalog, lake.S3Store{Client: conn.S3}, lambdacontext.NewLogger())
	in.AWS = &conn.AWS
	lambda.Start(func(ctx context.Context, ev json.RawMessage) (any, error) {
		return in.HandleEvent(ctx, conn.Cfg.LandingBucket, ev)
	})
	return nil
}
