package training_test

import (
	"context"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/training"
)

// checkBadDebt checks the bad-debt part of a run on generated data
// (1,500 subscribers, 6 months, the planted deliberate non-payers, truth
// file given): trained out of time, it beats the current-arrears
// baseline, is promoted, and ranks the planted non-payers who stop paying
// in the horizon well above their base rate.
func checkBadDebt(t *testing.T, r *training.Runner, res *training.Result) {
	t.Helper()
	ctx := context.Background()
	b := res.BadDebt
	t.Logf("bad debt: %s, valid %s (%d rows, %d positives), train %s: AUC %.3f %v, baseline %.3f %v, gain %.3f %v; %s",
		b.Kind, b.ValidMonth, b.ValidRows, b.Positives, b.TrainWindow, b.AUC, b.AUCCI, b.BaselineAUC, b.BaselineAUCCI, b.Gain, b.GainCI, b.Decision)
	// Bills 2026-01 … 2026-06, horizon 3: validate on March, train on Jan … Feb.
	if !b.Trained || b.Horizon != training.DefaultBadDebtHorizon || b.ValidMonth != "2026-03" || b.TrainWindow != "2026-01 … 2026-02" {
		t.Fatalf("bad debt %+v; want trained on 2026-01 … 2026-02, validated on 2026-03", b)
	}
	if !b.Promoted || b.AUC <= b.BaselineAUC || !strings.Contains(b.Decision, "beats the baseline") {
		t.Errorf("AUC %.3f vs baseline %.3f, promoted %v (%s); want promoted above the baseline", b.AUC, b.BaselineAUC, b.Promoted, b.Decision)
	}
	if b.AUCCI[0] > b.AUC || b.AUCCI[1] < b.AUC || b.AUCCI[0] == b.AUCCI[1] || b.GainCI[0] > b.Gain || b.GainCI[1] < b.Gain {
		t.Errorf("AUC %.3f %v, gain %.3f %v: a figure outside its interval", b.AUC, b.AUCCI, b.Gain, b.GainCI)
	}
	p := b.Planted
	if p == nil {
		t.Fatal("no planted recovery with a truth file")
	}
	t.Logf("planted: %d of %d rows (%.2f%%); top decile precision %.3f (%.1f× base), recall %.2f; baseline %.3f (%.1f×), recall %.2f",
		p.Planted, p.Rows, 100*p.BaseRate, p.TopPrecision, p.TopLift, p.TopRecall, p.BaselinePrecision, p.BaselineLift, p.BaselineRecall)
	if p.Planted < 10 || p.TopLift < 3 || p.TopRecall <= p.BaselineRecall {
		t.Errorf("planted non-payers: %+v; want at least 10, top-decile precision ≥ 3× their base rate and above the baseline's recall", p)
	}
	ptr, ok, err := r.Registry.Promoted(ctx, registry.KindBadDebt)
	if err != nil || !ok || ptr.Version != res.Version {
		t.Errorf("promoted bad-debt = %+v, %v, %v; want %s", ptr, ok, err, res.Version)
	}
	rep, err := r.Registry.Store.Get(ctx, registry.Key(registry.KindBadDebt, res.Version, "report.md"))
	if err != nil || !strings.Contains(string(rep), "## Against the baseline") || !strings.Contains(string(rep), "bad debtor = 2+ consecutive bills") ||
		!strings.Contains(string(rep), "## Planted positives recovered") {
		t.Errorf("bad-debt report.md (%v) lacks the baseline, the recovery or the label:\n%s", err, rep)
	}
}
