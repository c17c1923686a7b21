package evaluate

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// The training run's Lambda answer carries the forecast section: a MAPE
// that is NaN (no nonzero actual month) must not make it unencodable.
func TestForecastBacktestJSON(t *testing.T) {
	tests := []struct {
		name        string
		model, base float64
		want        []string
	}{
		{"both finite", 5.25, 4, []string{`"ModelMAPE":5.25`, `"BaselineMAPE":4`}},
		{"model NaN", math.NaN(), 4, []string{`"ModelMAPE":null`, `"BaselineMAPE":4`}},
		{"both not finite", math.NaN(), math.Inf(1), []string{`"ModelMAPE":null`, `"BaselineMAPE":null`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := ForecastSection{HistoryMonths: 4, Backtests: []ForecastBacktest{{Dim: "total", Measure: "revenue",
				ModelMAPE: tc.model, BaselineMAPE: tc.base, Baseline: "naive", Served: "naive"}}}
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("%s: want %s", b, w)
				}
			}
			if strings.Count(string(b), "ModelMAPE") != 1 {
				t.Errorf("ModelMAPE twice: %s", b)
			}
			if !strings.Contains(string(b), `"Dim":"total"`) {
				t.Errorf("other fields lost: %s", b)
			}
		})
	}
}
