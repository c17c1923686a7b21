// Command features is the Lambda function of the fan-out feature build:
// one step of the monthly state machine per invocation (plan the months,
// build one subscriber bucket of them, commit one snapshot per month).
package main

import (
	"context"
	"log/slog"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lambdamain"
	"github.com/telcolake/telcolake/models/features"
)

func main() {
	lambdamain.Start("features", func(_ context.Context, conn *lake.Conn, log *slog.Logger) (any, error) {
		b := &features.Builder{Tables: conn.Catalog, Log: log}
		return lambdamain.Profiled("features", log, b.Handle), nil
	})
}
