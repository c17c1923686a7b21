package evaluate

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

// A figure that could not be computed is null in the report's JSON,
// wherever it sits: in a struct, a slice or a map (the calibration
// choice's log loss per method is +Inf when a method gives a certain
// row the wrong side: that failed a whole training run's report).
func TestReportJSONNonFinite(t *testing.T) {
	r := Report{
		Version:    "v1",
		Validation: Summary{AUC: math.NaN()},
		Calibrated: &CalibrationSection{Choice: CalibrationChoice{Method: "platt", Rows: 10,
			LogLoss: map[string]float64{"none": math.Inf(1), "platt": 0.25, "isotonic": math.NaN()}}},
		Forecast: &ForecastSection{Elasticity: &ElasticitySection{Prices: map[string]float64{"S": 9.5, "L": math.Inf(-1)}}},
	}
	b, err := r.JSON()
	if err != nil {
		t.Fatalf("JSON: %v", err)
	}
	var got struct {
		Validation struct{ AUC *float64 }
		Calibrated struct {
			Choice struct {
				Method  string
				LogLoss map[string]*float64
			}
		}
		Forecast struct {
			Elasticity struct{ Prices map[string]*float64 }
		}
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if got.Validation.AUC != nil {
		t.Errorf("AUC NaN: got %v, want null", *got.Validation.AUC)
	}
	ll := got.Calibrated.Choice.LogLoss
	if len(ll) != 3 || ll["none"] != nil || ll["isotonic"] != nil || ll["platt"] == nil || *ll["platt"] != 0.25 {
		t.Errorf("log loss per method: %s", b)
	}
	if got.Calibrated.Choice.Method != "platt" {
		t.Errorf("method %q, want platt", got.Calibrated.Choice.Method)
	}
	if p := got.Forecast.Elasticity.Prices; len(p) != 2 || p["L"] != nil || p["S"] == nil || *p["S"] != 9.5 {
		t.Errorf("prices: %s", b)
	}
}

func TestMapKey(t *testing.T) {
	for _, tc := range []struct {
		m    any
		want string
	}{
		{map[string]int{"a b": 1}, "a b"},
		{map[int]int{-3: 1}, "-3"},
		{map[uint8]int{200: 1}, "200"},
	} {
		got, ok := plain(reflect.ValueOf(tc.m)).(map[string]any)
		if !ok || len(got) != 1 {
			t.Fatalf("%v: got %v", tc.m, got)
		}
		if _, ok := got[tc.want]; !ok {
			t.Errorf("%v: keys %v, want %q", tc.m, got, tc.want)
		}
	}
}
