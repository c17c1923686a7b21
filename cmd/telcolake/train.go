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
	"github.com/telcolake/telcolake/models/churn/liblinear"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/training"
)

// runTrain runs one training run against the lake in the environment, as
// the train function does.
func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	horizon := fs.Int("horizon", 2, "label: deactivated within this many `months`")
	margin := fs.Float64("margin", 0.01, "promotion margin in validation AUC")
	eceMargin := fs.Float64("ece-margin", 0.01, "promotion margin in expected calibration error")
	recallMargin := fs.Float64("recall-margin", 0.05, "promotion margin in reason recall (with -truth)")
	truth := fs.String("truth", "", "ground-truth `file` written by telcolake gen (DIR/truth/churn.csv.gz); compares the model with the oracle")
	all := fs.Bool("rebuild", false, "rebuild every feature month, not only new ones")
	seed := fs.Uint64("seed", 1, "random `seed`")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: telcolake train [flags]\n\nBuilds new feature months, retrains segmentation and churn, writes the model report\nand promotes the churn model unless it validates worse than the promoted one.\nConfiguration comes from the environment (TELCOLAKE_WAREHOUSE, TELCOLAKE_CATALOG, ...; see README).\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("train: %w", err)
	}
	conn, ctx, err := lake.OpenEnv(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	blobs, err := conn.Blobs("models")
	if err != nil {
		return err
	}
	r := &training.Runner{Tables: conn.Catalog, Registry: &registry.Registry{Store: blobs}, Logistic: liblinear.Fit,
		Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	res, err := r.Run(ctx, training.Options{Horizon: *horizon, Margin: *margin,
		ECEMargin: *eceMargin, RecallMargin: *recallMargin, Truth: *truth, RebuildAll: *all, Seed: *seed})
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
