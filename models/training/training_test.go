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
func generatedLake(t *testing.T) (*laketest.Lake, *training.Runner) {
	t.Helper()
	l := laketest.New(t)
	landing := filepath.Join(l.Root, laketest.Landing)
	man, err := synth.Generate(context.Background(), synth.Config{Subscribers: 1500, Months: 6, Seed: 7,
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), CDRFileSpan: "month"}, synth.DirSink(landing))
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
	return l, &training.Runner{Tables: l.Cat, Registry: &registry.Registry{Store: blobs}, Logistic: liblinear.Fit}
}

func TestRunTrainsReportsAndGates(t *testing.T) {
	l, r := generatedLake(t)
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

	runs, err := lake.ReadTable(ctx, l.Cat, lake.ModelRunsTable, "version", "kind", "promoted")
	if err != nil {
		t.Fatal(err)
	}
	if runs.NumRows() != 4 {
		t.Errorf("model_runs has %d rows, want 4 (churn and segment, twice)", runs.NumRows())
	}
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
