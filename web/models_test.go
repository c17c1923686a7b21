package web

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/models/evaluate"
)

// addBadDebtAndUplift gives the fixture's newest training run
// (20261101T030000Z) a bad-debt and an uplift model, as training writes
// them: runs in crm.model_runs (the uplift's metric in auuc) and
// report.json files in the registry.
func addBadDebtAndUplift(t *testing.T, f *fixture) (bd *evaluate.Report, up *evaluate.UpliftSection) {
	t.Helper()
	const v = "20261101T030000Z"
	rng := rand.New(rand.NewPCG(8, 9))
	probs, labels := make([]float64, 400), make([]bool, 400)
	for j := range probs {
		probs[j] = rng.Float64() / 2
		labels[j] = rng.Float64() < probs[j]
	}
	bd = &evaluate.Report{Version: v, Kind: "gbt", CreatedAt: time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC),
		TrainWindow: "2026-03 … 2026-06", ValidWindow: "2026-07", Horizon: 3, TrainRows: 1000,
		Validation: evaluate.Summarise(probs, labels, 1),
		Candidates: []evaluate.Candidate{{Kind: "gbt", ValidAUC: 0.95, Selected: true}},
		Promotion:  evaluate.Promotion{Promoted: true, Reason: "validation AUC beats the baseline's"},
		Target:     &evaluate.Target{Label: "bad debtor = 2+ consecutive bills in arrears within 3 months", Positive: "bad debtor", Positives: "bad debtors"},
		Baseline: &evaluate.BaselineSection{Name: "months in arrears, then arrears amount", AUC: 0.83, AUCCI: evaluate.Interval{Lo: 0.79, Hi: 0.87},
			Gain: 0.12, GainCI: evaluate.Interval{Lo: 0.09, Hi: 0.15}, Beats: true},
		Planted: &evaluate.PlantedSection{What: "deliberate non-payers", Rows: 400, Planted: 16, TopRows: 40, BaseRate: 0.04,
			TopPrecision: 0.3, TopLift: 7.5, TopRecall: 0.75, BaselinePrecision: 0.1, BaselineLift: 2.5, BaselineRecall: 0.25}}
	b, err := bd.JSON()
	if err != nil {
		t.Fatal(err)
	}
	f.files["bad-debt/"+v+"/report.json"] = b
	up = &evaluate.UpliftSection{Version: v, Method: "two-model boosted trees", Campaigns: 2, HeldOut: "cmp-20261005-ab12",
		TrainRows: 5000, HeldRows: 5000, Treated: 4000, Reps: 200,
		AUUCModel: evaluate.UpliftEstimate{Estimate: 0.0109, Lo: 0.0061, Hi: 0.0157},
		AUUCRisk:  evaluate.UpliftEstimate{Estimate: -0.0043, Lo: -0.0091, Hi: 0.0005},
		AUUCDiff:  evaluate.UpliftEstimate{Estimate: 0.0152, Lo: 0.0068, Hi: 0.0234},
		Promoted:  true, Decision: "the AUUC difference's 95% interval 0.0068 … 0.0234 is above zero"}
	for k := 1; k <= 10; k++ {
		s := float64(k) / 10
		up.QiniModel = append(up.QiniModel, evaluate.QiniPoint{Share: s, Gain: 0.02 * s * (1.2 - s)})
		// Both rankings contact everyone at 100%: the same end point.
		up.QiniRisk = append(up.QiniRisk, evaluate.QiniPoint{Share: s, Gain: 0.004*s - 0.01*s*(1-s)})
	}
	if b, err = (&evaluate.Report{Version: v, Uplift: up}).JSON(); err != nil {
		t.Fatal(err)
	}
	f.files["uplift/"+v+"/report.json"] = b
	auc := bd.Validation.AUC
	f.src.Runs = append(f.src.Runs,
		api.ModelRun{Version: v, Kind: "bad-debt", Algorithm: "gbt", TrainedAt: bd.CreatedAt, ValidMonth: ptr("2026-07-01"),
			AUC: &auc, AUCLo: ptr(bd.Validation.AUCCI.Lo), AUCHi: ptr(bd.Validation.AUCCI.Hi), Promoted: true, Decision: bd.Promotion.Reason},
		api.ModelRun{Version: v, Kind: "uplift", Algorithm: "two-model boosted trees", TrainedAt: bd.CreatedAt,
			AUUC: ptr(0.0109), AUUCLo: ptr(0.0061), AUUCHi: ptr(0.0157), AUUCRisk: ptr(-0.0043), Promoted: true, Decision: up.Decision})
	return bd, up
}

// TestModelReportsBadDebtAndUplift: the models page links the bad-debt and
// uplift runs beside churn and shows the uplift's AUUC (not as an AUC);
// the bad-debt report page has its figures, curves, label, baseline and
// planted positives; the uplift report page has the AUUC of the model and
// of churn-risk ranking with their intervals, the Qini curves and why it
// was promoted; agents are refused as for models, unknown kinds are 404.
func TestModelReportsBadDebtAndUplift(t *testing.T) {
	f := newFixture(t)
	bd, _ := addBadDebtAndUplift(t, f)
	ana := f.client("127.0.0.1")
	ana.signIn(t, "ana", password("ana"))
	body := text(t, ana.do("GET", "/console/models", nil))
	if got := textOf(t, body, "promoted-bad-debt"); got != "20261101T030000Z" {
		t.Errorf("promoted bad-debt = %q", got)
	}
	if got := textOf(t, body, "promoted-uplift"); got != "20261101T030000Z" {
		t.Errorf("promoted uplift = %q", got)
	}
	for _, want := range []string{"0.0109", "(0.0061–0.0157)", "-0.0043", `href="/console/models/20261101T030000Z?kind=uplift&amp;lang=en"`,
		`href="/console/models/20261101T030000Z?kind=bad-debt&amp;lang=en"`} {
		if !strings.Contains(body, want) {
			t.Errorf("models page lacks %s", want)
		}
	}
	if strings.Contains(body, `id="uplift-skipped"`) {
		t.Error("models page says uplift was not trained")
	}

	rep := text(t, ana.do("GET", "/console/models/20261101T030000Z?kind=bad-debt", nil))
	if want := fmt.Sprintf("%.3f", bd.Validation.AUC); textOf(t, rep, "report-auc") != want {
		t.Errorf("bad-debt AUC = %q, want %s", textOf(t, rep, "report-auc"), want)
	}
	if got := textOf(t, rep, "baseline-auc"); got != "0.830" {
		t.Errorf("baseline AUC = %q, want 0.830", got)
	}
	if got := textOf(t, rep, "target"); !strings.Contains(got, "consecutive bills in arrears within 3 months") {
		t.Errorf("label = %q", got)
	}
	if got := textOf(t, rep, "planted"); !strings.Contains(got, "30.0%") || !strings.Contains(got, "7.50") {
		t.Errorf("planted = %q", got)
	}
	if n := strings.Count(rep, "<polyline"); n != 6 { // ROC, gains, calibration: each a curve and the diagonal
		t.Errorf("bad-debt report has %d curves, want 6", n)
	}
	if !strings.Contains(rep, "bad debtors found") || strings.Contains(rep, `id="segcal"`) {
		t.Error("bad-debt report speaks of churners, or shows an empty calibration per segment")
	}

	up := text(t, ana.do("GET", "/console/models/20261101T030000Z?kind=uplift", nil))
	for id, want := range map[string]string{"auuc-model": "0.0109", "auuc-risk": "-0.0043", "auuc-diff": "0.0152", "held-out": "cmp-20261005-ab12"} {
		if got := textOf(t, up, id); !strings.HasPrefix(got, want) {
			t.Errorf("uplift #%s = %q, want %s…", id, got, want)
		}
	}
	if got := textOf(t, up, "promotion"); !strings.Contains(got, "Promoted") || !strings.Contains(got, "above zero") {
		t.Errorf("uplift decision = %q", got)
	}
	if n := strings.Count(up, "<polyline"); n != 3 || !strings.Contains(up, `class="line qini"`) {
		t.Errorf("uplift report has %d curves, want the model's, risk's and random", n)
	}
	if n := strings.Count(textOf(t, up, "qini"), "%"); n != 30 { // 10 shares × (share, model, risk)
		t.Errorf("Qini table has %d percentages, want 30: %q", n, textOf(t, up, "qini"))
	}
	if zh := text(t, ana.do("GET", "/console/models/20261101T030000Z?kind=uplift&lang=zh", nil)); !strings.Contains(zh, "增益模型") {
		t.Error("the uplift report in Chinese lacks its words")
	}

	for _, bad := range []string{"/console/models/20261101T030000Z?kind=propensity", "/console/models/20261001T030000Z?kind=uplift",
		"/console/models/20261001T030000Z?kind=bad-debt"} {
		if resp := ana.do("GET", bad, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", bad, resp.StatusCode)
		}
	}
	ada := f.client("127.0.0.1")
	ada.signIn(t, "ada", password("ada"))
	for _, p := range []string{"/console/models/20261101T030000Z?kind=uplift", "/console/models/20261101T030000Z?kind=bad-debt"} {
		if resp := ada.do("GET", p, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("agent %s: %d, want 403", p, resp.StatusCode)
		}
	}
}

// TestModelsPageUpliftSkipped: with no uplift run, the models page and the
// churn report say why the newest run trained none.
func TestModelsPageUpliftSkipped(t *testing.T) {
	f := newFixture(t)
	rep := &evaluate.Report{Version: "20261101T030000Z", Kind: "logistic", Validation: evaluate.Summarise([]float64{0.2, 0.8}, []bool{false, true}, 1),
		Uplift: &evaluate.UpliftSection{Skipped: "one past campaign with a known outcome (cmp-1); the uplift model needs two"}}
	b, err := rep.JSON()
	if err != nil {
		t.Fatal(err)
	}
	f.files["churn/20261101T030000Z/report.json"] = b
	ana := f.client("127.0.0.1")
	ana.signIn(t, "ana", password("ana"))
	if got := textOf(t, text(t, ana.do("GET", "/console/models", nil)), "uplift-skipped"); !strings.Contains(got, "needs two") {
		t.Errorf("uplift-skipped = %q", got)
	}
	if got := textOf(t, text(t, ana.do("GET", "/console/models/20261101T030000Z", nil)), "uplift"); !strings.Contains(got, "not trained") || !strings.Contains(got, "needs two") {
		t.Errorf("churn report's uplift card = %q", got)
	}
}
