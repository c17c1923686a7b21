package training

import (
	"fmt"
	"hash/fnv"
	"math"
	"os"

	"github.com/telcolake/telcolake/models/churn"
	"github.com/telcolake/telcolake/models/dataset"
	"github.com/telcolake/telcolake/models/evaluate"
	"github.com/telcolake/telcolake/synth"
)

// featureDrivers says which planted drivers of the generator each feature
// can reflect, so a model's reason can be checked against the truth. A
// feature can reflect several: unpaid bills come from bad payers
// (arrears) and from pre-churn signs. The map is strict where being
// generous would let any list of reasons pass: the bill (fee plus usage)
// counts for the signs (usage falling), not for the plan, which only the
// plan reason names; a postpaid credit limit follows income, and the
// prepaid plan's credit limit of 0 and payment method "prepaid" are
// aliases the model's reasons credit to the plan (churn.Alias). Features
// not listed (region, age, payment method, roaming …) reflect no driver.
var featureDrivers = map[string][]string{
	"plan":                {synth.DriverPlan},
	"credit_limit":        {synth.DriverIncome},
	"amount_due":          {synth.DriverSigns},
	"tenure_months":       {synth.DriverTenure},
	"income_band":         {synth.DriverIncome},
	"arrears":             {synth.DriverArrears, synth.DriverSigns},
	"months_in_arrears":   {synth.DriverArrears, synth.DriverSigns},
	"paid_ratio":          {synth.DriverArrears, synth.DriverSigns},
	"voice_calls":         {synth.DriverSigns},
	"voice_minutes":       {synth.DriverSigns},
	"avg_call_s":          {synth.DriverSigns},
	"sms":                 {synth.DriverSigns},
	"data_mb":             {synth.DriverSigns},
	"distinct_contacts":   {synth.DriverSigns},
	"offnet_share":        {synth.DriverSigns},
	"care_calls":          {synth.DriverSigns},
	"active_days":         {synth.DriverSigns},
	"usage_charge":        {synth.DriverSigns},
	"voice_minutes_trend": {synth.DriverSigns},
	"calls_trend":         {synth.DriverSigns},
	"data_trend":          {synth.DriverSigns},
	"contacts_trend":      {synth.DriverSigns},
	"spend_trend":         {synth.DriverSigns},
}

// realMin is the smallest log-odds contribution that makes a driver "a
// real driver" of a customer for reason precision.
const realMin = 0.1

// TruthResult compares the churn model with the generator's ground truth
// on the validation month; Available is false on real data.
type TruthResult struct {
	Available bool   `json:"available"`
	Note      string `json:"note"`
	Rows      int    `json:"rows"`

	ModelAUC    float64    `json:"model_auc"`
	OracleAUC   float64    `json:"oracle_auc"`
	AUCGap      float64    `json:"auc_gap"`
	AUCGapCI    [2]float64 `json:"auc_gap_ci95"`
	ModelPRAUC  float64    `json:"model_pr_auc"`
	OraclePRAUC float64    `json:"oracle_pr_auc"`
	PRAUCGap    float64    `json:"pr_auc_gap"`
	PRAUCGapCI  [2]float64 `json:"pr_auc_gap_ci95"`

	// Reasons: overall first, then per dominant driver.
	Reasons []ReasonResult `json:"reasons"`
}

// ReasonResult is reason recall and precision for one driver ("all"),
// with those of the baseline: the same three reasons for every customer,
// the model's three most important features.
type ReasonResult struct {
	Driver            string     `json:"driver"`
	Churners          int        `json:"churners"`
	Recall            float64    `json:"recall"`
	RecallCI          [2]float64 `json:"recall_ci95"`
	Precision         float64    `json:"precision"`
	PrecisionCI       [2]float64 `json:"precision_ci95"`
	BaselineRecall    float64    `json:"baseline_recall"`
	BaselinePrecision float64    `json:"baseline_precision"`
}

// CalibrationResult says how the model's probabilities were calibrated
// and how well they are calibrated on rows the calibration never saw.
type CalibrationResult struct {
	Method     string             `json:"method"`
	FitRows    int                `json:"fit_rows"`
	JudgedRows int                `json:"judged_rows"`
	LogLoss    map[string]float64 `json:"cross_fitted_log_loss"`
	Before     Calibration        `json:"before"`
	After      Calibration        `json:"after"`
}

// Calibration is one set of calibration metrics with 95% intervals.
type Calibration struct {
	Brier     float64    `json:"brier"`
	BrierCI   [2]float64 `json:"brier_ci95"`
	LogLoss   float64    `json:"log_loss"`
	LogLossCI [2]float64 `json:"log_loss_ci95"`
	ECE       float64    `json:"ece"`
	ECECI     [2]float64 `json:"ece_ci95"`
}

func calibrationOf(m evaluate.CalibrationMetrics) Calibration {
	return Calibration{Brier: nanToZero(m.Brier), BrierCI: ci(m.BrierCI), LogLoss: nanToZero(m.LogLoss),
		LogLossCI: ci(m.LogLossCI), ECE: nanToZero(m.ECE), ECECI: ci(m.ECECI)}
}

func ci(iv evaluate.Interval) [2]float64 { return [2]float64{nanToZero(iv.Lo), nanToZero(iv.Hi)} }

// fitHalf says whether a validation row's customer is in the half the
// calibration is fitted on (by a hash of the id, so a customer is always
// in the same half); the other half judges it.
func fitHalf(id string) bool {
	h := fnv.New32a()
	h.Write([]byte(id))
	return h.Sum32()%2 == 0
}

// truthFor reads the truth rows of the validation month, or says why
// there are none.
func truthFor(path, month string) (map[string]synth.TruthRow, string, error) {
	if path == "" {
		return nil, "no ground truth: real data has none (synthetic data: telcolake gen writes truth/churn.csv.gz; pass it with -truth)", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("training: ground truth: %w", err)
	}
	defer f.Close()
	rows, err := synth.ReadTruth(f, month)
	if err != nil {
		return nil, "", fmt.Errorf("training: ground truth %s: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Sprintf("no ground truth for %s in %s", month, path), nil
	}
	return rows, "", nil
}

// reasonCases builds, for the validation churners whose truth names a
// dominant driver, the drivers of their top 3 reasons.
func reasonCases(val *dataset.Frame, truth map[string]synth.TruthRow, reasons [][]churn.Reason) []evaluate.ReasonCase {
	var out []evaluate.ReasonCase
	for i, id := range val.IDs {
		t, ok := truth[id]
		if !ok || !val.Label[i] || t.Dominant == "" {
			continue
		}
		c := evaluate.ReasonCase{Dominant: t.Dominant}
		for _, r := range reasons[i][:min(3, len(reasons[i]))] {
			c.Reasons = append(c.Reasons, featureDrivers[r.Feature])
		}
		for d, v := range t.Contributions {
			if v >= realMin {
				c.Real = append(c.Real, d)
			}
		}
		out = append(out, c)
	}
	return out
}

// compareTruth fills a TruthResult for the validation month: the oracle
// at the label horizon over the rows that have truth, and the reasons.
// top are the model's features by importance, for the baseline reasons.
func compareTruth(val *dataset.Frame, probs []float64, reasons [][]churn.Reason, top []string, truth map[string]synth.TruthRow, horizon int, seed uint64) (TruthResult, []evaluate.ReasonQuality, []evaluate.ReasonQuality) {
	res := TruthResult{Available: true}
	if horizon < 1 || horizon > 3 {
		return TruthResult{Note: fmt.Sprintf("the truth file has oracle probabilities for 1–3 month horizons, not %d", horizon)}, nil, nil
	}
	var model, oracle []float64
	var labels []bool
	for i, id := range val.IDs {
		t, ok := truth[id]
		if !ok || math.IsNaN(t.Oracle[horizon-1]) {
			continue
		}
		model, oracle, labels = append(model, probs[i]), append(oracle, t.Oracle[horizon-1]), append(labels, val.Label[i])
	}
	res.Rows = len(labels)
	if res.Rows < val.Rows() {
		res.Note = fmt.Sprintf("%d of %d validation rows have ground truth", res.Rows, val.Rows())
	}
	if res.Rows == 0 {
		return TruthResult{Note: "no validation row has ground truth"}, nil, nil
	}
	c := evaluate.CompareOracle(model, oracle, labels, seed)
	res.ModelAUC, res.OracleAUC, res.AUCGap, res.AUCGapCI = nanToZero(c.ModelAUC), nanToZero(c.OracleAUC), nanToZero(c.AUCGap), ci(c.AUCGapCI)
	res.ModelPRAUC, res.OraclePRAUC, res.PRAUCGap, res.PRAUCGapCI = nanToZero(c.ModelPRAUC), nanToZero(c.OraclePRAUC), nanToZero(c.PRAUCGap), ci(c.PRAUCGapCI)
	q := evaluate.ScoreReasons(reasonCases(val, truth, reasons))
	same := make([]churn.Reason, 0, 3)
	for _, f := range top[:min(3, len(top))] {
		same = append(same, churn.Reason{Feature: f})
	}
	constant := make([][]churn.Reason, len(reasons))
	for i := range constant {
		constant[i] = same
	}
	base := evaluate.ScoreReasons(reasonCases(val, truth, constant))
	for k, r := range q {
		d := r.Driver
		if d == "" {
			d = "all"
		}
		res.Reasons = append(res.Reasons, ReasonResult{Driver: d, Churners: r.Cases, Recall: nanToZero(r.Recall), RecallCI: ci(r.RecallCI),
			Precision: nanToZero(r.Precision), PrecisionCI: ci(r.PrecisionCI),
			BaselineRecall: nanToZero(base[k].Recall), BaselinePrecision: nanToZero(base[k].Precision)})
	}
	return res, q, base
}
