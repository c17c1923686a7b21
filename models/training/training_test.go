package training_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/models/churn/liblinear"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/training"
	"github.com/telcolake/telcolake/synth"
)

// generatedLake ingests synthetic exports: 1,500 subscribers, 6 months.
func generatedLake(t *testing.T) (*laketest.Lake, *training.Runner, string) {
	t.Helper()
	l := laketest.New(t)
	landing := filepath.Join(l.Root, laketest.Landing)
	man, err := synth.Generate(context.Background(), synth.Config{Subscribers: 1500, Months: 6, Seed: 7,
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), CDRFileSpan: "month", Truth: true}, synth.DirSink(landing))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range man.Deliveries {
		body, err := os.ReadFile(filepath.Join(landing, filepath.FromSlash(key)))
		if err != nil {
			t.Fatal(err)
		}
		l.Ingest(t, key, string(body))
	}
	blobs, err := lake.OpenBlobs(l.Cfg, nil, "models")
	if err != nil {
		t.Fatal(err)
	}
	return l, &training.Runner{Tables: l.Cat, Registry: &registry.Registry{Store: blobs}, Logistic: liblinear.Fit},
		filepath.Join(landing, filepath.FromSlash(man.Truth))
}

func TestRunTrainsReportsAndGates(t *testing.T) {
	l, r, truth := generatedLake(t)
	ctx := context.Background()
	clock := time.Date(2026, 7, 3, 4, 0, 0, 0, time.UTC)
	first, err := r.Run(ctx, training.Options{Seed: 1, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	// Bills 2026-01 … 2026-06, horizon 2: validate on April, train on Jan … Mar.
	if first.ValidMonth != "2026-04" || first.TrainWindow != "2026-01 … 2026-03" || len(first.Months) != 6 {
		t.Errorf("windows: valid %s, train %s, %d months built", first.ValidMonth, first.TrainWindow, len(first.Months))
	}
	if !first.Churn.Promoted || first.Churn.AUC < 0.6 {
		t.Errorf("first run: promoted %v, AUC %.3f; want promoted and better than chance on the planted signal", first.Churn.Promoted, first.Churn.AUC)
	}
	report, err := r.Registry.Store.Get(ctx, registry.Key(registry.KindChurn, first.Version, "report.md"))
	if err != nil || !strings.Contains(string(report), "roc.png") {
		t.Errorf("report.md missing or without charts: %v", err)
	}
	if first.Churn.Truth.Available || !strings.Contains(first.Churn.Truth.Note, "no ground truth") ||
		!strings.Contains(string(report), "Oracle AUC: none (no ground truth") {
		t.Errorf("without a truth file: truth %+v; the report must say there is none", first.Churn.Truth)
	}
	if k := first.Churn.Calibration; k.FitRows+k.JudgedRows != first.ValidRows || k.FitRows == 0 || k.JudgedRows == 0 || k.Method == "" {
		t.Errorf("calibration %+v over %d validation rows: want two halves", k, first.ValidRows)
	}
	checkForecast(t, l, r, first)

	// Same data, a gate no model can pass: kept, not promoted.
	clock = clock.Add(time.Hour)
	second, err := r.Run(ctx, training.Options{Seed: 1, Margin: -1, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	if second.Churn.Promoted || !strings.Contains(second.Churn.Decision, "not promoted") {
		t.Errorf("second run promoted=%v (%s); want kept, not promoted", second.Churn.Promoted, second.Churn.Decision)
	}
	if len(second.Months) != 1 {
		t.Errorf("second run built %d months; want only the newest", len(second.Months))
	}
	p, ok, err := r.Registry.Promoted(ctx, registry.KindChurn)
	if err != nil || !ok || p.Version != first.Version {
		t.Errorf("promoted churn = %+v (%v); want %s", p, err, first.Version)
	}
	// Segment ids: the same data gives the same segments under the same ids.
	if len(first.Segments) != len(second.Segments) {
		t.Fatalf("segments %d then %d", len(first.Segments), len(second.Segments))
	}
	for i := range first.Segments {
		a, b := first.Segments[i], second.Segments[i]
		if a.ID != b.ID || a.Profile != b.Profile {
			t.Errorf("segment %d: %d %q then %d %q", i, a.ID, a.Profile, b.ID, b.Profile)
		}
	}

	// With the ground truth: the oracle beside the model, reasons scored;
	// gates no model can pass on calibration and on reason recall.
	for _, tc := range []struct {
		name     string
		opt      training.Options
		refusal  string
		promoted bool
	}{
		{"ECE gate", training.Options{ECEMargin: -1, BadDebtBaselineMargin: 1}, "calibration error", false},
		{"recall gate", training.Options{RecallMargin: -1}, "reason recall", false},
		{"default gates", training.Options{}, "", true},
	} {
		clock = clock.Add(time.Hour)
		tc.opt.Seed, tc.opt.Truth, tc.opt.Now = 1, truth, func() time.Time { return clock }
		res, err := r.Run(ctx, tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		tr := res.Churn.Truth
		if !tr.Available || tr.Rows != res.ValidRows || tr.OracleAUC < 0.8 || tr.ModelAUC != res.Churn.AUC && abs(tr.ModelAUC-res.Churn.AUC) > 0.005 {
			t.Errorf("%s: truth %+v, model AUC %.3f over %d rows", tc.name, tr, res.Churn.AUC, res.ValidRows)
		}
		if len(tr.Reasons) < 2 || tr.Reasons[0].Driver != "all" || tr.Reasons[0].Churners == 0 {
			t.Errorf("%s: reasons %+v", tc.name, tr.Reasons)
		}
		if res.Churn.Promoted != tc.promoted || !strings.Contains(res.Churn.Decision, tc.refusal) {
			t.Errorf("%s: promoted %v (%s)", tc.name, res.Churn.Promoted, res.Churn.Decision)
		}
		switch tc.name {
		case "ECE gate":
			if b := res.BadDebt; b.Promoted || !strings.Contains(b.Decision, "does not beat the baseline") {
				t.Errorf("%s: bad debt promoted %v (%s); want refused by a baseline margin no model can pass", tc.name, b.Promoted, b.Decision)
			}
		case "default gates":
			checkBadDebt(t, r, res)
		}
		t.Logf("%s: model AUC %.3f, oracle %.3f, gap %.3f %v; reason recall %.2f; ECE %.4f → %.4f", tc.name, tr.ModelAUC, tr.OracleAUC,
			tr.AUCGap, tr.AUCGapCI, tr.Reasons[0].Recall, res.Churn.Calibration.Before.ECE, res.Churn.Calibration.After.ECE)
	}

	// Caps below the base: churn is fitted on a seeded stratified sample
	// and judged on a sample of the out-of-time month, and the report
	// and crm.model_runs say so.
	clock = clock.Add(time.Hour)
	sampled, err := r.Run(ctx, training.Options{Seed: 1, TrainSample: 1500, ValidSample: 700, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	sm := sampled.Sample
	if sm == nil || !sm.Sampled || sm.TrainRows != sampled.TrainRows || sm.ValidRows != sampled.ValidRows ||
		abs(float64(sampled.TrainRows-1500)) > 3 || abs(float64(sampled.ValidRows-700)) > 2 || sm.TrainPopulation < 2*sampled.TrainRows {
		t.Errorf("sample %+v, %d train and %d valid rows; want about 1500 of the training window's and 700 of the validation month's", sm, sampled.TrainRows, sampled.ValidRows)
	}
	if !sampled.Churn.Promoted && sampled.Churn.AUC < 0.6 {
		t.Errorf("sampled run: AUC %.3f; want better than chance on the planted signal", sampled.Churn.AUC)
	}
	report, err = r.Registry.Store.Get(ctx, registry.Key(registry.KindChurn, sampled.Version, "report.md"))
	if err != nil || !strings.Contains(string(report), "## Sample") || !strings.Contains(string(report), "never fitted on") ||
		!strings.Contains(string(report), sm.Describe()) {
		t.Errorf("the sampled run's report does not say what its sample was: %v\n%s", err, report)
	}

	runs, err := lake.ReadTable(ctx, l.Cat, lake.ModelRunsTable, "version", "kind", "promoted", "train_population", "sample")
	if err != nil {
		t.Fatal(err)
	}
	if runs.NumRows() != 18 {
		t.Errorf("model_runs has %d rows, want 18 (churn, bad debt and segment, six times)", runs.NumRows())
	}
	found := false
	for b, err := range lake.Scan(ctx, l.Cat, lake.ModelRunsTable, lake.Select("version", "kind", "train_rows", "train_population", "sample")) {
		if err != nil {
			t.Fatal(err)
		}
		v, k, rows, pop, how := b.String("version"), b.String("kind"), b.Int64("train_rows"), b.Int64("train_population"), b.String("sample")
		if err := b.Err(); err != nil {
			t.Fatal(err)
		}
		for i := range b.Len() {
			if v.Value(i) == sampled.Version && k.Value(i) == registry.KindChurn {
				found = true
				if rows.Value(i) != int64(sampled.TrainRows) || pop.Value(i) != int64(sm.TrainPopulation) || !strings.Contains(how.Value(i), "stratified sample") {
					t.Errorf("crm.model_runs: train_rows %d of %d, sample %q; want %d of %d, a stratified sample",
						rows.Value(i), pop.Value(i), how.Value(i), sampled.TrainRows, sm.TrainPopulation)
				}
			}
		}
	}
	if !found {
		t.Errorf("crm.model_runs has no churn row of %s", sampled.Version)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestRunNeedsHistory(t *testing.T) {
	l := laketest.New(t)
	blobs, _ := lake.OpenBlobs(l.Cfg, nil, "models")
	r := &training.Runner{Tables: l.Cat, Registry: &registry.Registry{Store: blobs}, Logistic: liblinear.Fit}
	_, err := r.Run(context.Background(), training.Options{})
	if !errors.Is(err, training.ErrNotEnoughHistory) {
		t.Errorf("Run on an empty lake: %v, want ErrNotEnoughHistory", err)
	}
}
