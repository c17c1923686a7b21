// Package training is the monthly model run: build the feature months that
// are new, retrain segmentation and churn with an out-of-time validation,
// write the versioned artifacts and their report, record the run in
// crm.model_runs, and promote the new churn model unless it validates
// worse than the promoted one by more than a margin.
//
// Months: T is the newest month with bills, N the label horizon. Rows of
// month m are labelled "deactivated within N months after m's end", known
// once the register has a snapshot that late. Churn trains on the months
// up to T−N−1 and validates on month T−N, the newest whose outcome is
// known. The model that is validated is the model that is deployed (no
// refit on the validation month), so the report describes exactly what
// scores customers.
package training

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/churn"
	"github.com/telcolake/telcolake/models/dataset"
	"github.com/telcolake/telcolake/models/evaluate"
	"github.com/telcolake/telcolake/models/features"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/segment"
)

// Options tune a run. Zero values take the defaults.
type Options struct {
	// Horizon is N, the label's months (default 2).
	Horizon int
	// BadDebtHorizon is the bad-debt label's months (default
	// DefaultBadDebtHorizon): 2+ consecutive bills in arrears within them.
	BadDebtHorizon int
	// BadDebtBaselineMargin is how much higher than the baseline's
	// (current arrears) the bad-debt model's validation AUC must be for
	// it to be promoted (default 0: strictly higher).
	BadDebtBaselineMargin float64
	// Margin is how much lower (in validation AUC) a new churn model may
	// be than the promoted one and still be promoted (default 0.01).
	Margin float64
	// ECEMargin is how much higher the new model's expected calibration
	// error may be than the promoted one's, on the same held-out rows,
	// and still be promoted (default 0.01).
	ECEMargin float64
	// RecallMargin is how much lower the new model's reason recall may be
	// than the promoted one's, on the same churners, and still be promoted
	// (default 0.05). Only checked when there is ground truth.
	RecallMargin float64
	// Truth is the path of a ground-truth file written by telcolake gen
	// (truth/churn.csv.gz); "" for real data, which has none.
	Truth string
	// RebuildAll rebuilds every feature month, not only the missing ones
	// and the newest.
	RebuildAll bool
	// FeaturesBuilt skips the feature build: the monthly state machine's
	// fan-out has just built and committed the months.
	FeaturesBuilt bool
	// TrainMonths caps the training window: the months before the
	// validation month, at most this many (default 12), so memory stays
	// bounded as history grows.
	TrainMonths int
	// TrainSample and ValidSample cap the rows each classifier (churn,
	// bad debt) is fitted and judged on (defaults DefaultTrainSample and
	// DefaultValidSample): past them a seeded stratified sample (see
	// SampleMethod), recorded in the report and crm.model_runs.
	TrainSample, ValidSample int
	Seed                     uint64
	Now                      func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Horizon <= 0 {
		o.Horizon = 2
	}
	if o.BadDebtHorizon <= 0 {
		o.BadDebtHorizon = DefaultBadDebtHorizon
	}
	if o.TrainMonths <= 0 {
		o.TrainMonths = 12
	}
	if o.TrainSample <= 0 {
		o.TrainSample = DefaultTrainSample
	}
	if o.ValidSample <= 0 {
		o.ValidSample = DefaultValidSample
	}
	if o.Margin == 0 {
		o.Margin = 0.01
	}
	if o.ECEMargin == 0 {
		o.ECEMargin = 0.01
	}
	if o.RecallMargin == 0 {
		o.RecallMargin = 0.05
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Runner holds a run's dependencies.
type Runner struct {
	Tables   lake.TableLoader
	Registry *registry.Registry
	Log      *slog.Logger
	// Logistic fits the churn logistic regression (liblinear.Fit, cgo);
	// nil leaves that candidate out and trains the boosted trees only.
	Logistic churn.LogisticSolver
}

// Result summarises a run for logs, the demo and the function's answer.
type Result struct {
	Version     string                 `json:"version"`
	Months      []features.MonthResult `json:"feature_months"`
	TrainWindow string                 `json:"train_window"`
	ValidMonth  string                 `json:"valid_month"`
	TrainRows   int                    `json:"train_rows"`
	ValidRows   int                    `json:"valid_rows"`
	// Sample is how the churn model's rows were sampled.
	Sample     *SampleReport   `json:"sample,omitempty"`
	Churn      ChurnResult     `json:"churn"`
	BadDebt    BadDebtResult   `json:"bad_debt"`
	Segments   []SegmentResult `json:"segments"`
	K          int             `json:"k"`
	Silhouette float64         `json:"silhouette"`
	Seconds    float64         `json:"seconds"`
	// MonthlyCube is what was written to crm.cube_monthly.
	MonthlyCube features.MonthlyCubeResult `json:"monthly_cube"`
	// Uplift is the uplift model fitted from past campaigns, or why not.
	Uplift UpliftResult `json:"uplift"`
	// Forecast is what was written to crm.forecasts; nil without a cube.
	Forecast *ForecastResult `json:"forecast,omitempty"`

	report *evaluate.Report // the churn report, which the forecast joins
}

// ChurnResult is the churn model's part of a run.
type ChurnResult struct {
	Kind       string                `json:"kind"`
	AUC        float64               `json:"auc"`
	AUCCI      [2]float64            `json:"auc_ci95"`
	PRAUC      float64               `json:"pr_auc"`
	Lift10     float64               `json:"lift10"`
	Candidates []evaluate.Candidate  `json:"candidates"`
	Promoted   bool                  `json:"promoted"`
	Decision   string                `json:"decision"`
	Artifact   string                `json:"artifact"`
	Report     string                `json:"report"`
	Top        []evaluate.Importance `json:"top_features"`
	// Calibration of the probabilities (fitted on half of the validation
	// month, judged on the other half).
	Calibration CalibrationResult `json:"calibration"`
	// Truth compares the model with the generator's ground truth, when
	// there is one (synthetic data).
	Truth TruthResult `json:"truth"`
}

// SegmentResult is one segment in words.
type SegmentResult struct {
	ID        int     `json:"id"`
	Name      string  `json:"name"`
	Profile   string  `json:"profile"`
	Share     float64 `json:"share"`
	ChurnRate float64 `json:"churn_rate"`
	MeanValue float64 `json:"mean_value"`
}

// ErrNotEnoughHistory means there are too few months with known outcomes
// to train and validate.
var ErrNotEnoughHistory = errors.New("training: not enough history")

// Run does one training run.
func (r *Runner) Run(ctx context.Context, opt Options) (*Result, error) {
	opt = opt.withDefaults()
	t0 := time.Now()
	now := opt.Now().UTC()
	res := &Result{Version: registry.NewVersion(now)}

	months, err := features.BillMonths(ctx, r.Tables)
	if err != nil {
		return nil, err
	}
	if len(months) == 0 {
		return nil, fmt.Errorf("%w: no bills in crm.bills yet", ErrNotEnoughHistory)
	}
	if !opt.FeaturesBuilt {
		build, err := features.MonthsToBuild(ctx, r.Tables, opt.RebuildAll)
		if err != nil {
			return nil, err
		}
		b := &features.Builder{Tables: r.Tables, Log: r.Log, Now: opt.Now}
		if res.Months, err = b.Build(ctx, build); err != nil {
			return nil, err
		}
	}

	newest := months[len(months)-1]
	reg, err := features.LoadOutcomes(ctx, r.Tables)
	if err != nil {
		return nil, err
	}
	churnTarget := target{kind: registry.KindChurn, horizon: opt.Horizon, what: "the register's newest snapshot (" + reg.LastExportDate().Format("2006-01-02") + ")",
		labels: func(_ context.Context, set *features.Set) ([]bool, []bool, error) {
			l, k := reg.Labels(set, opt.Horizon)
			return l, k, nil
		},
		class: func(id string, m time.Time) bool {
			l, _ := reg.Label(id, m, opt.Horizon)
			return l
		},
		className: func(c bool) string { return map[bool]string{true: "churned", false: "stayed"}[c] }}
	sp, err := r.split(ctx, months, churnTarget, opt)
	if err != nil {
		return nil, err
	}
	train, val, valid := sp.train, sp.val, sp.valid
	res.TrainWindow, res.ValidMonth = sp.trainWindow(), sp.validMonth()
	res.TrainRows, res.ValidRows, res.Sample = train.Rows(), val.Rows(), sp.sample

	// The fits that need nothing of each other run side by side: the
	// churn candidates, the bad-debt split and candidates, and (here)
	// segmentation and uplift. Everything that writes (artifacts,
	// reports, crm.model_runs) stays in this goroutine, in order.
	var wg sync.WaitGroup
	defer wg.Wait()
	var churnFit, badFit *fitted
	var badSplit *split
	var churnErr, badErr error
	wg.Go(func() { churnFit, churnErr = r.fit(ctx, sp, opt.Seed) })
	wg.Go(func() { badSplit, badFit, badErr = r.fitBadDebt(ctx, months, opt, &res.BadDebt) })
	segModel, err := r.trainSegments(ctx, val, opt, res, valid)
	if err != nil {
		return nil, err
	}
	if err := r.trainUplift(ctx, opt, res, reg.LastExportDate(), now); err != nil {
		// The uplift model is a side of the run: its failure is reported,
		// not a reason to keep the churn model from training.
		r.warn(ctx, "uplift model not trained", err)
		why := "training failed: " + err.Error()
		res.Uplift = UpliftResult{Skipped: why, Decision: "skipped: " + why,
			Section: &evaluate.UpliftSection{Method: campaign.UpliftMethod, Skipped: why}}
	}
	wg.Wait()
	if churnErr != nil {
		return nil, fmt.Errorf("training: churn: %w", churnErr)
	}
	if err := r.trainChurn(ctx, sp, churnFit, segModel, opt, res, now); err != nil {
		return nil, err
	}
	if badErr == nil && badSplit != nil {
		badErr = r.trainBadDebt(ctx, badSplit, badFit, opt, res, now)
	}
	if err := badErr; err != nil {
		// Like uplift, a side of the run: reported, not fatal to churn.
		r.warn(ctx, "bad-debt model not trained", err)
		res.BadDebt.Trained, res.BadDebt.Promoted = false, false
		res.BadDebt.Decision = "training failed: " + err.Error()
	}
	if res.MonthlyCube, err = r.buildMonthlyCube(ctx, reg, segModel, months[0], newest, now); err != nil {
		return nil, err
	}
	if res.Forecast, err = r.buildForecast(ctx, segModel, newest, opt, res, res.report); err != nil {
		return nil, err
	}
	res.Seconds = time.Since(t0).Seconds()
	return res, nil
}

// buildMonthlyCube rebuilds crm.cube_monthly for every feature month
// from..to, with the segments of the segmentation just trained; the
// feature rows are streamed (features.BuildMonthlyCube).
func (r *Runner) buildMonthlyCube(ctx context.Context, reg *features.Outcomes, seg *segment.Model, from, to, now time.Time) (features.MonthlyCubeResult, error) {
	assign := func(set *features.Set) ([]int, error) { return seg.Assign(set.Frame) }
	return features.BuildMonthlyCube(ctx, r.Tables, reg, from, to, assign, now)
}

// trainSegments segments the validation month's customers (their outcome
// is known, so each segment's churn rate is observed, not predicted).
func (r *Runner) trainSegments(ctx context.Context, val *dataset.Frame, opt Options, res *Result, valid time.Time) (*segment.Model, error) {
	var prev *segment.Model
	var p segment.Model
	if _, ok, err := r.Registry.LoadPromoted(ctx, registry.KindSegment, &p); err != nil {
		r.warn(ctx, "promoted segmentation unreadable; ids start afresh", err)
	} else if ok {
		prev = &p
	}
	m, err := segment.Train(val, prev, segment.Options{Seed: int64(opt.Seed), ValueColumn: features.ValueColumn})
	if err != nil {
		return nil, fmt.Errorf("training: segmentation: %w", err)
	}
	uri, err := r.Registry.Save(ctx, registry.KindSegment, res.Version, m, nil)
	if err != nil {
		return nil, err
	}
	res.K = m.K
	for _, s := range m.Scores {
		if s.K == m.K {
			res.Silhouette = s.Silhouette
		}
	}
	for _, s := range m.Segments {
		res.Segments = append(res.Segments, SegmentResult{ID: s.ID, Name: s.Name, Profile: s.Profile,
			Share: s.Share, ChurnRate: s.ChurnRate, MeanValue: s.MeanValue})
	}
	decision := "segmentation is promoted on every run; segment ids carry over from the previous model by centroid matching"
	if err := r.Registry.Promote(ctx, registry.Pointer{Kind: registry.KindSegment, Version: res.Version, Artifact: uri, PromotedAt: time.Now().UTC()}); err != nil {
		return nil, err
	}
	run := modelRun{version: res.Version, kind: registry.KindSegment, algorithm: "k-means++", trainedAt: opt.Now(),
		trainFrom: valid, trainTo: valid, trainRows: int64(val.Rows()), k: m.K, silhouette: res.Silhouette,
		artifact: uri, promoted: true, decision: decision}
	return m, r.recordRun(ctx, run)
}

func (r *Runner) warn(ctx context.Context, msg string, err error) {
	if r.Log != nil {
		r.Log.WarnContext(ctx, msg, "error", err)
	}
}

func nanToZero(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// target is one outcome a classifier of the run predicts: its registry
// kind, label horizon in months and how rows are labelled. Churn and bad
// debt are two targets through the same split, training, evaluation and
// promotion.
type target struct {
	kind    string
	horizon int
	// what names the source whose coverage decides whether an outcome
	// is known, for the not-enough-history error.
	what   string
	labels func(ctx context.Context, set *features.Set) (label, known []bool, err error)
	// class is a row's stratum class for the sample, from what is known
	// before the rows are read (nil: strata by month only); className
	// names a class in the sample's report.
	class     func(id string, month time.Time) bool
	className func(bool) string
}

// split is a target's out-of-time split: train on the months first …
// valid−1, validate on valid, the newest month whose outcome is known.
type split struct {
	train, val   *dataset.Frame
	first, valid time.Time
	sample       *SampleReport
}

func (s *split) trainWindow() string {
	return s.first.Format("2006-01") + " … " + s.valid.AddDate(0, -1, 0).Format("2006-01")
}

func (s *split) validMonth() string { return s.valid.Format("2006-01") }

// split loads and labels the feature months of t's out-of-time split: the
// validation month is the newest bill month minus t's horizon, training
// the trainMonths before it (fewer when history is shorter). Past the
// options' caps the rows are a seeded stratified sample (sampler), read
// without ever holding the whole base.
func (r *Runner) split(ctx context.Context, months []time.Time, t target, opt Options) (*split, error) {
	newest := months[len(months)-1]
	valid := newest.AddDate(0, -t.horizon, 0)
	if !slices.ContainsFunc(months, func(m time.Time) bool { return m.Before(valid) }) {
		return nil, fmt.Errorf("%w: %s: %d month(s) of bills (%s … %s); a %d-month horizon needs at least %d",
			ErrNotEnoughHistory, t.kind, len(months), months[0].Format("2006-01"), newest.Format("2006-01"), t.horizon, t.horizon+2)
	}
	first := months[0]
	if earliest := valid.AddDate(0, -opt.TrainMonths, 0); first.Before(earliest) {
		first = earliest
	}
	part := func(m time.Time) (isValid, ok bool) {
		m = features.MonthStart(m)
		return m.Equal(valid), !m.Before(first) && !m.After(valid)
	}
	className := t.className
	if t.class == nil || className == nil {
		className = func(bool) string { return "all" }
	}
	smp := newSampler(opt.Seed, opt.TrainSample, opt.ValidSample, part, t.class)
	if err := features.Keys(ctx, r.Tables, first, valid, smp.count); err != nil {
		return nil, fmt.Errorf("training: %s sample: %w", t.kind, err)
	}
	smp.plan()
	set, err := features.LoadRows(ctx, r.Tables, first, valid, smp.keep)
	if err != nil {
		return nil, err
	}
	if rows := smp.cut(set); !inOrder(rows, set.Rows()) {
		set = &features.Set{Frame: set.Subset(rows), Months: pick(set.Months, rows)}
	}
	label, known, err := t.labels(ctx, set)
	if err != nil {
		return nil, fmt.Errorf("training: %s labels: %w", t.kind, err)
	}
	var trainRows, validRows []int
	for i, m := range set.Months {
		switch {
		case !known[i]:
		case m.Equal(valid):
			validRows = append(validRows, i)
		case m.Before(valid):
			trainRows = append(trainRows, i)
		}
	}
	if len(validRows) == 0 || len(trainRows) == 0 {
		return nil, fmt.Errorf("%w: %s: %s does not cover the %d-month outcome of %s",
			ErrNotEnoughHistory, t.kind, t.what, t.horizon, valid.Format("2006-01"))
	}
	set.Label = label
	all := make([]int, set.Rows())
	for i := range all {
		all[i] = i
	}
	rep := smp.report(set, all, opt.Seed, className)
	rep.TrainRows, rep.ValidRows = len(trainRows), len(validRows)
	return &split{train: set.Subset(trainRows), val: set.Subset(validRows), first: first, valid: valid, sample: rep}, nil
}

// inOrder reports whether rows are all n rows, in order.
func inOrder(rows []int, n int) bool {
	if len(rows) != n {
		return false
	}
	for i, r := range rows {
		if r != i {
			return false
		}
	}
	return true
}
