// Command api is the Lambda function behind the HTTP API: lambdahttp turns
// API Gateway v2 / function URL events into requests for api.Live, which answers (and web's staff console under /console/, when configured) from the newest serving snapshot,
// loaded at the first admitted request and swapped when a new run appears.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/forecast"
	"github.com/telcolake/telcolake/groups"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lambdahttp"
	"github.com/telcolake/telcolake/web"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := lake.FromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	conn, ctx, err := lake.Connect(context.Background(), cfg) // read-only: the api never creates tables
	if err != nil {
		return err
	}
	keys, err := api.LoadKeys(ctx, os.Getenv, nil)
	if err != nil {
		return err
	}
	store, err := conn.Blobs("serving")
	if err != nil {
		return err
	}
	log := lambdacontext.NewLogger()
	live, err := api.NewLive(api.LiveConfig{Store: store, NotFound: func(err error) bool { return errors.Is(err, lake.ErrNotFound) },
		Sources: api.LakeSources{Tables: conn.Catalog}, Config: api.Config{Keys: keys, Log: log, Audit: log.With("audit", true),
			Campaigns: campaign.LakeStore{Tables: conn.Catalog}, Groups: groups.LakeStore{Tables: conn.Catalog},
			Forecasts: forecast.LakeStore{Tables: conn.Catalog}, Scenarios: forecast.ScenarioStore{Tables: conn.Catalog}}})
	if err != nil {
		return err
	}
	stores, err := consoleStores(conn)
	if err != nil {
		return err
	}
	h, _, err := web.WithConsole(os.Getenv, live, log.With("console", true), stores)
	if err != nil {
		return err
	}
	lambda.StartWithOptions(lambdahttp.Handler(h), lambda.WithContext(ctx))
	return nil
}

// consoleStores are the console's reads of the model registry and the
// landing bucket's reject reports, and its sign-out records (console/).
func consoleStores(conn *lake.Conn) (web.Stores, error) {
	models, err := conn.Blobs("models")
	if err != nil {
		return web.Stores{}, err
	}
	revoked, err := conn.Blobs("console")
	if err != nil {
		return web.Stores{}, err
	}
	st := web.Stores{Models: models, Revoked: revoked}
	if conn.S3 != nil {
		st.Landing = web.BucketFiles(lake.S3Store{Client: conn.S3}.Get, conn.Cfg.LandingBucket)
	}
	return st, nil
}
