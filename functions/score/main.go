// Command score is the Lambda function of the daily scoring run: every
// active customer's churn probability, reasons, segment and value into
// crm.scores and a new serving snapshot for the API. A plain invocation
// is a whole run; the DailyScore state machine invokes it once per step
// (plan, one per subscriber bucket, commit: scoring.Task).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/scoring"
	"github.com/telcolake/telcolake/models/serving"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "score:", err)
		os.Exit(1)
	}
}

func run() error {
	conn, ctx, err := lake.OpenEnv(context.Background())
	if err != nil {
		return err
	}
	models, err := conn.Blobs("models")
	if err != nil {
		return err
	}
	snapshots, err := conn.Blobs("serving")
	if err != nil {
		return err
	}
	r := &scoring.Runner{Tables: conn.Catalog, Models: &registry.Registry{Store: models}, Serving: snapshots, Log: lambdacontext.NewLogger()}
	lambda.StartWithOptions(func(ictx context.Context, ev json.RawMessage) (any, error) {
		costs := serving.DefaultCosts // fields the payload leaves out keep their default
		t := scoring.Task{Costs: &costs}
		_ = json.Unmarshal(ev, &t) // a scheduled event has none of these fields: a whole run
		return r.Handle(ictx, t)
	}, lambda.WithContext(ctx))
	return nil
}
