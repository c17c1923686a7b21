package scoring_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/models/scoring"
)

// TestTrackingHoldsTheFirstRun scores a feature month, lets some of its
// scored customers leave (a later register export deactivates them), and
// scores the same month again: tracking must hold the first run, made
// before the outcome was known, to the outcome and count those leavers.
// A later run scores only who is still there, so tracking it would show
// no leaver at all, as the demo's Score tracking page did.
func TestTrackingHoldsTheFirstRun(t *testing.T) {
	l, r := trainedLake(t)
	ctx := context.Background()
	first := time.Date(2026, 7, 3, 5, 0, 0, 0, time.UTC)
	res1, err := r.Run(ctx, scoring.Options{Now: func() time.Time { return first }})
	if err != nil {
		t.Fatal(err)
	}
	if res1.FeatureMonth != "2026-06" {
		t.Fatalf("first run scored %s, want 2026-06", res1.FeatureMonth)
	}

	// The register of 2026-07-15: the June export with its first 40 active
	// customers deactivated on 2026-07-10.
	const leavers = 40
	left := ingestLeavers(t, l, leavers)

	second := time.Date(2026, 7, 16, 5, 0, 0, 0, time.UTC)
	res2, err := r.Run(ctx, scoring.Options{Now: func() time.Time { return second }})
	if err != nil {
		t.Fatal(err)
	}
	if res2.FeatureMonth != "2026-06" || res2.Run == res1.Run {
		t.Fatalf("second run %s scored %s, want a new run of 2026-06", res2.Run, res2.FeatureMonth)
	}
	// The runs are told apart by the feature-month bounds of crm.scores'
	// files (monthlyRuns): every file of both runs has them.
	fms, err := r.RunFeatureMonths(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range []string{res1.Run, res2.Run} {
		if len(fms[run]) == 0 {
			t.Errorf("run %s: no data file in crm.scores", run)
		}
		for _, fm := range fms[run] {
			if fm != "2026-06..2026-06" {
				t.Errorf("run %s: a data file's feature months are %q, want 2026-06..2026-06", run, fm)
			}
		}
	}
	meta, _ := readSnapshot(t, r.Serving)
	var rep insight.Report
	if err := json.Unmarshal(meta.Insight, &rep); err != nil {
		t.Fatalf("insight report: %v", err)
	}
	var tracked *insight.RunTracking
	for i := range rep.Tracking.Runs {
		if rep.Tracking.Runs[i].FeatureMonth == "2026-06" {
			tracked = &rep.Tracking.Runs[i]
		}
	}
	if tracked == nil {
		t.Fatalf("no tracked run of 2026-06 in %+v", rep.Tracking.Runs)
	}
	if tracked.Run != res1.Run || tracked.Customers != res1.Scored {
		t.Errorf("tracked run %s of %d customers, want the first run %s of %d (second: %s)",
			tracked.Run, tracked.Customers, res1.Run, res1.Scored, res2.Run)
	}
	if tracked.Left != len(left) {
		t.Errorf("tracked run counts %d leavers, want the %d deactivated after it", tracked.Left, len(left))
	}
}

// ingestLeavers ingests the register of 2026-07-15: the June export with
// its first n active customers deactivated on 2026-07-10, and says who.
func ingestLeavers(t *testing.T, l *laketest.Lake, n int) map[string]bool {
	t.Helper()
	landing := filepath.Join(l.Root, laketest.Landing)
	june := filepath.Join(landing, "exports", "subscribers", "2026", "06", "30", "subscribers-20260630.csv")
	body, err := os.ReadFile(june)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	left := map[string]bool{}
	var out strings.Builder
	w := csv.NewWriter(&out)
	for i, f := range rows {
		if i > 0 {
			f[col["export_date"]] = "2026-07-15"
			if len(left) < n && f[col["status"]] == "active" {
				f[col["status"]], f[col["status_date"]] = "deactivated", "2026-07-10"
				left[f[col["subscriber_id"]]] = true
			}
		}
		if err := w.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	l.Ingest(t, "exports/subscribers/2026/07/15/subscribers-20260715.csv", out.String())
	return left
}
