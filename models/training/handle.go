package training

import (
	"context"
	"encoding/json"
	"time"
)

// Request is the optional payload of a manual invocation of the train
// function; a scheduled event's fields are ignored.
type Request struct {
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
	// UpliftOnly fits the uplift model alone (RunUplift), for when
	// campaigns have come back between monthly runs; the answer then has
	// only its version and the uplift part.
	UpliftOnly bool `json:"uplift_only"`
	// TrainSample and ValidSample cap the classifiers' rows (0: the
	// defaults, DefaultTrainSample and DefaultValidSample).
	TrainSample int `json:"train_sample"`
	ValidSample int `json:"valid_sample"`
}

// Options of a request, with the function's fixed seed 1.
func (q Request) Options() Options {
	return Options{Horizon: q.Horizon, Margin: q.Margin, ECEMargin: q.ECEMargin, RecallMargin: q.RecallMargin,
		RebuildAll: q.Rebuild, FeaturesBuilt: q.FeaturesBuilt, Truth: q.Truth, TrainSample: q.TrainSample, ValidSample: q.ValidSample, Seed: 1}
}

// Handle is the train function's handler: one run with the options of ev
// (a Request, or any other event: the defaults).
func (r *Runner) Handle(ctx context.Context, ev json.RawMessage) (*Result, error) {
	var req Request
	if json.Unmarshal(ev, &req) != nil {
		req = Request{} // not a Request: a scheduled event
	}
	if req.UpliftOnly {
		t0 := time.Now()
		u, err := r.RunUplift(ctx, req.Options())
		if err != nil {
			return nil, err
		}
		return &Result{Version: u.Version, Uplift: u, Seconds: time.Since(t0).Seconds()}, nil
	}
	return r.Run(ctx, req.Options())
}
