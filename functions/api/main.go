// Command api is the Lambda function behind the HTTP API: lambdahttp turns
// API Gateway v2 / function URL events into requests for api.Live, which
// answers (and web's staff console under /console/, when configured) from
// the newest serving snapshot, loaded at the first admitted request and
// swapped when a new run appears.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lambdahttp"
	"github.com/telcolake/telcolake/lambdamain"
	"github.com/telcolake/telcolake/web"
)

func main() {
	// A reader: the api never creates tables.
	lambdamain.StartReader("api", func(ctx context.Context, conn *lake.Conn, log *slog.Logger) (any, error) {
		live, err := api.LakeLive(ctx, conn, os.Getenv, log)
		if err != nil {
			return nil, err
		}
		h, _, err := web.WithConsole(os.Getenv, live, log.With("console", true), web.LakeStores(conn))
		if err != nil {
			return nil, err
		}
		return lambdahttp.Handler(h), nil
	})
}
