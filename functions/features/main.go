// Command features is the Lambda function of the fan-out feature build:
// one step of the monthly state machine per invocation (plan the months,
// build one subscriber bucket of them, commit one snapshot per month).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/features"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "features:", err)
		os.Exit(1)
	}
}

func run() error {
	conn, ctx, err := lake.OpenEnv(context.Background())
	if err != nil {
		return err
	}
	b := &features.Builder{Tables: conn.Catalog, Log: lambdacontext.NewLogger()}
	lambda.StartWithOptions(b.Handle, lambda.WithContext(ctx))
	return nil
}
