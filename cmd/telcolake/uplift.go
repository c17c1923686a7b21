package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/models/dataset"
	"github.com/telcolake/telcolake/synth"
)

// runUplift implements 'telcolake uplift': the uplift model fitted on one
// synthetic campaign and held to another against churn-risk ranking, the
// model report's uplift section written to -out.
func runUplift(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("uplift", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 8000, "`customers` per synthetic campaign (one to fit, one held out)")
	share := fs.Float64("control", 0.5, "control `share` of both campaigns")
	seed := fs.Int64("seed", 1, "generator `seed` (the held-out campaign uses seed+1)")
	reps := fs.Int("reps", 200, "bootstrap `resamples` for the intervals")
	out := fs.String("out", "", "write the report section (Markdown) to this `file`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	train, treated, _, _ := upliftFrame(synth.UpliftCampaign(*n, *share, *seed))
	m, err := campaign.FitUplift(ctx, "discount-10", train, treated, uint64(*seed))
	if err != nil {
		return err
	}
	held, hTreated, hRisk, hEffect := upliftFrame(synth.UpliftCampaign(*n, *share, *seed+1))
	up, err := m.Predict(held, hRisk)
	if err != nil {
		return err
	}
	c := campaign.Compare(up, hRisk, hTreated, held.Label, *reps, uint64(*seed))
	var rep bytes.Buffer
	c.WriteReport(&rep, "Who to contact: uplift model on a held-out campaign")
	fmt.Fprintf(&rep, "Ceiling: ranking by the generator's planted effect scores AUUC %.4f on the same campaign.\n", campaign.AUUC(hEffect, hTreated, held.Label))
	if *out != "" {
		if err := os.WriteFile(*out, rep.Bytes(), 0o644); err != nil {
			return fmt.Errorf("uplift: %w", err)
		}
	}
	_, err = stdout.Write(rep.Bytes())
	return err
}

// upliftFrame turns a synthetic campaign into the model's frame, the arms,
// the churn risk and the planted effect.
func upliftFrame(rows []synth.UpliftRow) (*dataset.Frame, []bool, []float64, []float64) {
	cols := []*dataset.Column{{Name: "tenure_months"}, {Name: "care_calls"}, {Name: "arrears_months"}, {Name: "usage_trend"}, {Name: "plan_price"}}
	f := &dataset.Frame{Cols: cols, Label: make([]bool, len(rows))}
	treated, risk, effect := make([]bool, len(rows)), make([]float64, len(rows)), make([]float64, len(rows))
	for i, r := range rows {
		for j, v := range []float64{r.TenureMonths, r.CareCalls, r.ArrearsMonths, r.UsageTrend, r.PlanPrice} {
			cols[j].Num = append(cols[j].Num, v)
		}
		f.Label[i], treated[i], risk[i], effect[i] = r.Churned, r.Treated, r.Risk, r.Effect
	}
	return f, treated, risk, effect
}
