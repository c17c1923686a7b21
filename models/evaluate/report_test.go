package evaluate

import (
	"bytes"
	"encoding/json"
	"flag"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	update = flag.Bool("update", false, "rewrite the golden files in testdata")
	outDir = flag.String("out", "", "also write the sample reports' files to this directory, to look at")
)

// sampleReport is a report as training would write it, on synthetic
// validation rows.
func sampleReport() *Report {
	probs, labels := synthetic(4000, 42)
	train := 0
	_, trainLabels := synthetic(12000, 41)
	for _, l := range trainLabels {
		if l {
			train++
		}
	}
	oracle := make([]float64, len(probs))
	for i, p := range probs { // a sharper score: the generator's own
		oracle[i] = sigmoid(2*clampLogit(p) + map[bool]float64{true: 0.7, false: -0.7}[labels[i]])
	}
	half, halfLabels := probs[:2000], labels[:2000]
	cal, choice := FitCalibrator(half, halfLabels, 1)
	judged, judgedLabels := probs[2000:], labels[2000:]
	oc := CompareOracle(probs, oracle, labels, 1)
	return &Report{
		Oracle: &oc,
		Reasons: ScoreReasons([]ReasonCase{
			{Dominant: "signs", Reasons: [][]string{{"signs"}}, Real: []string{"signs"}},
			{Dominant: "plan", Reasons: [][]string{{"tenure"}}, Real: []string{"plan"}},
		}),
		ReasonBaseline: ScoreReasons([]ReasonCase{
			{Dominant: "signs", Reasons: [][]string{{"tenure"}}, Real: []string{"signs"}},
			{Dominant: "plan", Reasons: [][]string{{"tenure"}}, Real: []string{"plan"}},
		}),
		Calibrated: &CalibrationSection{Choice: choice, JudgedRows: len(judged),
			Before: MeasureCalibration(judged, judgedLabels, 1), After: MeasureCalibration(cal.ApplyAll(judged), judgedLabels, 1)},
		Version:        "20261123T101500Z",
		Kind:           "gbt",
		CreatedAt:      time.Date(2026, 11, 23, 10, 15, 0, 0, time.UTC),
		TrainWindow:    "2026-03 … 2026-06",
		ValidWindow:    "2026-07",
		Horizon:        3,
		TrainRows:      len(trainLabels),
		TrainPositives: train,
		Validation:     Summarise(probs, labels, 1),
		Candidates: []Candidate{
			{Kind: "logistic", ValidAUC: 0.81, ValidPRAUC: 0.52, TrainSeconds: 3.25},
			{Kind: "forest", ValidAUC: 0.84, ValidPRAUC: 0.57, TrainSeconds: 41},
			{Kind: "gbt", ValidAUC: 0.86, ValidPRAUC: 0.6, TrainSeconds: 185, Selected: true},
		},
		Segments: []SegmentRow{
			{ID: 0, Name: "prepaid light users", Rows: 1500, ChurnRate: 0.31, Predicted: 0.28,
				JudgedRows: 2000, ECEBefore: ECE(judged, judgedLabels), ECEAfter: ECE(cal.ApplyAll(judged), judgedLabels),
				Calibration: Calibration(cal.ApplyAll(judged), judgedLabels, CalibrationBins)},
			{ID: 1, Name: "postpaid families", Rows: 1700, ChurnRate: 0.12, Predicted: 0.125},
			{ID: 2, Name: "", Rows: 800, ChurnRate: 0.2, Predicted: 0.2},
			{ID: 3, Name: "roamers | travellers", Rows: 0, ChurnRate: math.NaN(), Predicted: math.NaN()},
		},
		Importance: []Importance{
			{"tenure_months", 0.21}, {"arpu_trend_3m", 0.15}, {"complaints_90d", 0.12},
			{"data_gb_1m", 0.08}, {"contract_type", 0.075}, {"dropped_calls_30d", 0.041},
			{"topups_1m", 0.033}, {"handset_age_months", 0.021}, {"roaming_days_1m", 0.0125},
			{"region", 0.0091}, {"sms_1m", 0.0044}, {"voice_min_1m", 0.0031},
			{"payment_delays_6m", 0.0022}, {"port_in", 0.0011}, {"bundle_changes_3m", 0.00042},
			{"gender", 0.00003}, {"device_os", 0},
		},
		Promotion: Promotion{Promoted: true, Reason: "validation AUC above the serving model's by more than 0.01", Previous: "20261023T093000Z", PreviousAUC: 0.843},
		Notes:     []string{"Scores are probabilities of deactivation within 3 months.", "Segment 3 had no rows in the validation month."},
	}
}

// singleClassReport is a report whose validation month has no churner.
func singleClassReport() *Report {
	probs, _ := synthetic(500, 5)
	labels := make([]bool, len(probs))
	return &Report{
		Version:     "20261201T000000Z",
		Kind:        "logistic",
		ValidWindow: "2026-08",
		Horizon:     1,
		TrainRows:   100,
		Validation:  Summarise(probs, labels, 1),
		Promotion:   Promotion{Reason: "the validation month has no churners", PreviousAUC: math.NaN()},
	}
}

func TestFiles(t *testing.T) {
	tests := []struct {
		name   string
		report *Report
		golden string
	}{
		{"sample", sampleReport(), "report.golden.md"},
		{"single class", singleClassReport(), "single_class.golden.md"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := tt.report.Files()
			if err != nil {
				t.Fatalf("Files: %v", err)
			}
			charts := []string{FileROC, FileGains, FileCalibration}
			for _, s := range tt.report.Segments {
				if len(s.Calibration) > 0 {
					charts = append(charts, segmentChartName(s.ID))
				}
			}
			if len(files) != len(charts)+2 {
				t.Errorf("Files returned %d files, want %d", len(files), len(charts)+2)
			}
			var back struct {
				Version    string
				Validation struct {
					Rows int
					AUC  *float64
					ROC  []struct{ X, Y float64 }
				}
				Promotion struct{ PreviousAUC *float64 }
			}
			if err := json.Unmarshal(files[FileJSON], &back); err != nil {
				t.Fatalf("report.json: %v", err)
			}
			v := tt.report.Validation
			if back.Version != tt.report.Version || back.Validation.Rows != v.Rows || len(back.Validation.ROC) != len(v.ROC) {
				t.Errorf("report.json = %+v, want version %s, %d rows, %d ROC points", back, tt.report.Version, v.Rows, len(v.ROC))
			}
			if (back.Validation.AUC == nil) != math.IsNaN(v.AUC) || (back.Promotion.PreviousAUC == nil) != math.IsNaN(tt.report.Promotion.PreviousAUC) {
				t.Errorf("report.json: AUC %v, previous AUC %v: want null exactly for NaN", back.Validation.AUC, back.Promotion.PreviousAUC)
			}
			for _, name := range charts {
				b, ok := files[name]
				if !ok {
					t.Errorf("Files has no %s", name)
					continue
				}
				img, err := png.Decode(bytes.NewReader(b))
				if err != nil {
					t.Errorf("decode %s: %v", name, err)
					continue
				}
				if got := img.Bounds().Size(); got.X != ChartWidth || got.Y != ChartHeight {
					t.Errorf("%s is %v, want %dx%d", name, got, ChartWidth, ChartHeight)
				}
			}
			md := files[FileMarkdown]
			for _, name := range charts {
				if !bytes.Contains(md, []byte("]("+name+")")) {
					t.Errorf("report.md does not embed %s", name)
				}
			}
			if bytes.Contains(md, []byte("NaN")) || bytes.Contains(md, []byte("Inf")) {
				t.Errorf("report.md shows NaN or Inf:\n%s", md)
			}
			if *outDir != "" {
				dir := filepath.Join(*outDir, strings.ReplaceAll(tt.name, " ", "_"))
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for name, b := range files {
					if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			golden(t, tt.golden, md)
		})
	}
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("update golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (run go test -update and review the diff):\n%s", name, path, diffLines(string(want), string(got)))
	}
}

// diffLines lists the lines that differ, for a readable failure.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want " + wl + "\n  got  " + gl + "\n")
		}
	}
	return b.String()
}

func TestMarkdownSentences(t *testing.T) {
	r := sampleReport()
	v := r.Validation
	md := string(r.Markdown())
	want := []string{
		"# Churn model 20261123T101500Z",
		"On 2026-07, the selected gradient-boosted model ranks a churner above a non-churner " + percent(v.AUC, 0) + " of the time (AUC " + fixed(v.AUC, 2) + ", 95% CI " + fixed(v.AUCCI.Lo, 2) + "–" + fixed(v.AUCCI.Hi, 2) + ")",
		"contacting the top 10% by risk finds " + fixed(v.Lift10, 1) + "× as many churners as a random 10%.",
		"churner = deactivated within 3 months after the snapshot",
		"| Flagged (score ≥ " + fixed(v.Threshold, 3) + ") | " + thousands(v.Confusion.TP) + " | " + thousands(v.Confusion.FP) + " |",
		"**Promoted.** It replaces `20261023T093000Z` (validation AUC 0.843 → " + fixed(v.AUC, 3) + ").",
		"| 3 | roamers \\| travellers | 0 | – | – | – |",
		"| 2 | segment 2 | 800 | 20.0% | 20.0% | 0.0 pp |",
		"| 1 | `tenure_months` | 0.210 |",
		"2 more features not shown.",
		"| gradient-boosted (`gbt`) | 0.860 | 0.600 | 3 min 5 s | ✓ |",
	}
	for _, w := range want {
		if !strings.Contains(md, w) {
			t.Errorf("report.md lacks %q", w)
		}
	}
	if strings.Contains(md, "`gender`") {
		t.Errorf("report.md lists the 16th feature; want only the top %d", maxFeatures)
	}
}

func TestMarkdownSingleClass(t *testing.T) {
	md := string(singleClassReport().Markdown())
	for _, w := range []string{
		"all 500 rows have the same label (0 churners)",
		"| ROC AUC | – | – |",
		"**Not promoted.** Reason: the validation month has no churners.",
		"churner = deactivated within 1 month after the snapshot",
		"F1 cannot choose a threshold",
		"- Recall –: there are no churners to find.",
	} {
		if !strings.Contains(md, w) {
			t.Errorf("report.md lacks %q:\n%s", w, md)
		}
	}
	if strings.Contains(md, "NaN") {
		t.Errorf("report.md shows NaN:\n%s", md)
	}
}

func TestFormatting(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name, got, want string
	}{
		{"fixed", fixed(0.87456, 3), "0.875"},
		{"fixed NaN", fixed(nan, 3), "–"},
		{"fixed Inf", fixed(math.Inf(1), 3), "–"},
		{"percent", percent(0.0812, 1), "8.1%"},
		{"percent NaN", percent(nan, 1), "–"},
		{"points up", points(0.012), "+1.2 pp"},
		{"points down", points(-0.03), "-3.0 pp"},
		{"points tiny negative", points(-0.0001), "0.0 pp"},
		{"times", times(4.06), "4.1×"},
		{"times NaN", times(nan), "–"},
		{"interval", interval(Interval{0.851, 0.889}, 2), "0.85–0.89"},
		{"interval NaN", interval(Interval{nan, nan}, 2), "–"},
		{"seconds short", seconds(0.42), "0.4 s"},
		{"seconds", seconds(41), "41 s"},
		{"minutes", seconds(185), "3 min 5 s"},
		{"seconds NaN", seconds(nan), "–"},
		{"sig", sig(0.21), "0.210"},
		{"sig small", sig(0.0044), "0.00440"},
		{"sig large", sig(1234.6), "1235"},
		{"sig tiny", sig(0.00003), "3.00e-05"},
		{"sig zero", sig(0), "0"},
		{"thousands", thousands(1234567), "1,234,567"},
		{"thousands small", thousands(999), "999"},
		{"thousands negative", thousands(-1234), "-1,234"},
		{"kind known", describeKind("Random_Forest"), "random forest"},
		{"kind unknown", describeKind("svm"), "svm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}
