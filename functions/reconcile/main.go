// Command reconcile is the Lambda function that, on a schedule, ingests
// export files no S3 event brought (package reconcile).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/reconcile"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "reconcile:", err)
		os.Exit(1)
	}
}

func run() error {
	conn, _, err := lake.OpenEnv(context.Background())
	if err != nil {
		return err
	}
	log := lambdacontext.NewLogger()
	store := lake.S3Store{Client: conn.S3}
	in := lake.NewIngester(conn.Cfg, conn.Catalog, store, log)
	in.AWS = &conn.AWS
	rc := &reconcile.Reconciler{Bucket: conn.Cfg.LandingBucket, Store: store, Ingest: in, Log: log,
		Ledger: func(ctx context.Context) ([]lake.LogEntry, error) {
			return lake.ReadIngestLog(lake.WithAWS(ctx, &conn.AWS), conn.Catalog)
		}}
	lambda.Start(rc.Run)
	return nil
}
