// Command score is the Lambda function of the daily scoring run: every
// active customer's churn probability, reasons, segment and value into
// crm.scores and a new serving snapshot for the API (schedule).
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

// request is the optional payload of a manual invocation; a scheduled
// event's fields are ignored.
type request struct {
	ListSize int                `json:"list_size"`
	Costs    *serving.CostModel `json:"costs"` // the cost-to-serve rates; nil: the defaults
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
	lambda.StartWithOptions(func(ictx context.Context, ev json.RawMessage) (*scoring.Result, error) {
		costs := serving.DefaultCosts // fields the payload leaves out keep their default
		req := request{Costs: &costs}
		_ = json.Unmarshal(ev, &req) // a scheduled event has none of these fields
		return r.Run(ictx, scoring.Options{ListSize: req.ListSize, Costs: req.Costs})
	}, lambda.WithContext(ctx))
	return nil
}
