package evaluate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// ForecastSection is the backtest of the training run's forecast (package
// forecast): per dimension and measure, the last known months forecast
// from the months before by the model and by the baseline, and which of
// the two is served.
type ForecastSection struct {
	HistoryMonths int
	From, To      string // YYYY-MM
	Horizon       int
	Attrition     string
	Seasonal      bool
	Backtests     []ForecastBacktest
	// Elasticity is the run's churn elasticity of price; nil when the
	// plan changes could not be read.
	Elasticity *ElasticitySection `json:",omitempty"`
}

// ForecastBacktest is one dimension and measure of the backtest.
type ForecastBacktest struct {
	Dim, Measure string
	Groups       int
	ModelMAPE    float64
	BaselineMAPE float64
	Baseline     string
	BeatBaseline bool
	Served       string
	Note         string
}

// MarshalJSON writes a MAPE that could not be computed (NaN: no nonzero
// actual month to compare) as null. The training run's answer carries the
// section, and a Lambda answer with NaN in it cannot be encoded at all.
func (b ForecastBacktest) MarshalJSON() ([]byte, error) {
	type plainBacktest ForecastBacktest // without this method
	finite := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	return json.Marshal(struct {
		plainBacktest
		ModelMAPE    *float64
		BaselineMAPE *float64
	}{plainBacktest(b), finite(b.ModelMAPE), finite(b.BaselineMAPE)})
}

func (f *ForecastSection) markdown(b *bytes.Buffer) {
	b.WriteString("\n## Forecast backtest\n\n")
	seasonal := "non-seasonal (under 24 months of history)"
	if f.Seasonal {
		seasonal = "seasonal (month-of-year index)"
	}
	fmt.Fprintf(b, "History %s … %s (%d months), %d months ahead, %s; attrition: %s. The last 3 known months are forecast from the months before; MAPE is averaged over each dimension's groups.\n\n",
		f.From, f.To, f.HistoryMonths, f.Horizon, seasonal, f.Attrition)
	b.WriteString("| by | measure | groups | model MAPE | baseline | baseline MAPE | served |\n|---|---|---:|---:|---|---:|---|\n")
	pct := func(v float64) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "—"
		}
		return fmt.Sprintf("%.2f%%", v)
	}
	for _, bt := range f.Backtests {
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s | %s |\n", bt.Dim, bt.Measure, bt.Groups, pct(bt.ModelMAPE), bt.Baseline, pct(bt.BaselineMAPE), bt.Served)
	}
	if f.Elasticity != nil {
		f.Elasticity.markdown(b)
	}
}
