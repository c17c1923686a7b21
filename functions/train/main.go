// Command train is the Lambda function of the monthly model run: new
// feature months, segmentation and churn retrained, the model report
// written, the churn model promoted unless it validates worse (schedule).
package main

import (
	"context"
	"log/slog"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lambdamain"
	"github.com/telcolake/telcolake/models/churn/liblinear"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/training"
)

func main() {
	lambdamain.Start("train", func(_ context.Context, conn *lake.Conn, log *slog.Logger) (any, error) {
		r := &training.Runner{Tables: conn.Catalog, Registry: &registry.Registry{Store: conn.Models()}, Log: log, Logistic: liblinear.Fit}
		return lambdamain.Profiled("train", log, r.Handle), nil
	})
}
