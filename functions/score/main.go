// Command score is the Lambda function of the daily scoring run: every
// active customer's churn probability, reasons, segment and value into
// crm.scores and a new serving snapshot for the API. A plain invocation
// is a whole run; the DailyScore state machine invokes it once per step
// (plan, one per subscriber bucket, commit: scoring.Task).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lambdamain"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/scoring"
	"github.com/telcolake/telcolake/models/serving"
)

func main() {
	lambdamain.Start("score", func(_ context.Context, conn *lake.Conn, log *slog.Logger) (any, error) {
		shards, err := serving.ShardsFromEnv(os.Getenv)
		if err != nil {
			return nil, err
		}
		r := &scoring.Runner{Tables: conn.Catalog, Models: &registry.Registry{Store: conn.Models()}, Serving: conn.Serving(), Log: log, Shards: shards}
		return r.HandleEvent, nil
	})
}
