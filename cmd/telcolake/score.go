package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/scoring"
	"github.com/telcolake/telcolake/models/serving"
)

// runScore runs one scoring run against the lake in the environment, as
// the score function does.
func runScore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listSize := fs.Int("list-size", scoring.DefaultListSize, "customers per list at most")
	costs := serving.DefaultCosts
	fs.Float64Var(&costs.NetworkShare, "network-share", costs.NetworkShare, "cost to serve: share of gross revenue for the own network, billing and overhead")
	fs.Float64Var(&costs.OffnetPerMinute, "offnet-per-minute", costs.OffnetPerMinute, "cost to serve: interconnect per off-net voice minute")
	fs.Float64Var(&costs.IntlPerMinute, "intl-per-minute", costs.IntlPerMinute, "cost to serve: per international minute")
	fs.Float64Var(&costs.CarePerCall, "care-per-call", costs.CarePerCall, "cost to serve: per call to customer care")
	fs.Float64Var(&costs.BadDebtRate, "bad-debt-rate", costs.BadDebtRate, "cost to serve: share of arrears written off per month")
	discount := fs.Float64("discount", scoring.DefaultAnnualDiscount, "CLV: annual discount rate")
	horizon := fs.Int("horizon", scoring.DefaultHorizonMonths, "CLV: `months` summed")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: telcolake score [flags]\n\nScores the newest feature month with the promoted churn model and segmentation\n(building the month first if its bills are new), writes crm.scores and the serving\nsnapshot the API reads. Configuration comes from the environment (TELCOLAKE_WAREHOUSE,\nTELCOLAKE_CATALOG, ...; see README).\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("score: %w", err)
	}
	conn, ctx, err := lake.OpenEnv(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	models, err := conn.Blobs("models")
	if err != nil {
		return err
	}
	snapshots, err := conn.Blobs("serving")
	if err != nil {
		return err
	}
	r := &scoring.Runner{Tables: conn.Catalog, Models: &registry.Registry{Store: models}, Serving: snapshots,
		Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	res, err := r.Run(ctx, scoring.Options{ListSize: *listSize, Costs: &costs, AnnualDiscount: *discount, HorizonMonths: *horizon})
	if err != nil {
		return err
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	res.WriteSummary(stdout, "")
	return nil
}
