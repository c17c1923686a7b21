// Command train is the Lambda function of the monthly model run: new
// feature months, segmentation and churn retrained, the model report
// written, the churn model promoted unless it validates worse (schedule).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/churn/liblinear"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/training"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
}

// request is the optional payload of a manual invocation; a scheduled
// event's fields are ignored.
type request struct {
	Horizon int     `json:"horizon"`
	Margin  float64 `json:"margin"`
	// ECEMargin and RecallMargin are the calibration and reason-recall
	// promotion margins (0: the defaults, 0.01 and 0.05).
	ECEMargin    float64 `json:"ece_margin"`
	RecallMargin float64 `json:"recall_margin"`
	Rebuild      bool    `json:"rebuild"`
	// FeaturesBuilt: the monthly state machine built the feature months.
	FeaturesBuilt bool `json:"features_built"`
	// Truth is the path of a ground-truth file (synthetic data only).
	Truth string `json:"truth"`
}

func run() error {
	conn, ctx, err := lake.OpenEnv(context.Background())
	if err != nil {
		return err
	}
	blobs, err := conn.Blobs("models")
	if err != nil {
		return err
	}
	r := &training.Runner{Tables: conn.Catalog, Registry: &registry.Registry{Store: blobs},
		Log: lambdacontext.NewLogger(), Logistic: liblinear.Fit}
	lambda.StartWithOptions(func(ictx context.Context, ev json.RawMessage) (*training.Result, error) {
		var req request
		_ = json.Unmarshal(ev, &req) // a scheduled event has none of these fields
		return r.Run(ictx, training.Options{Horizon: req.Horizon, Margin: req.Margin,
			ECEMargin: req.ECEMargin, RecallMargin: req.RecallMargin, RebuildAll: req.Rebuild, FeaturesBuilt: req.FeaturesBuilt, Truth: req.Truth, Seed: 1})
	}, lambda.WithContext(ctx))
	return nil
}
