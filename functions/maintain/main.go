// Command maintain is the Lambda function that, daily, maintains every
// crm.* table: orphan files, compaction, manifests, ledger, snapshot expiry
// (lake.Maintainer), reporting to its log and crm.maintenance_log.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/telcolake/telcolake/lake"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "maintain:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := lake.FromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	mcfg, err := lake.MaintainConfigFromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	conn, _, err := lake.Open(context.Background(), cfg)
	if err != nil {
		return err
	}
	m := lake.NewMaintainer(mcfg, conn.Catalog, lambdacontext.NewLogger())
	m.AWS = &conn.AWS
	lambda.Start(func(ctx context.Context) (lake.MaintainReport, error) { return m.Run(ctx) })
	return nil
}
