package training

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

func TestResultJSONWritesMissingFiguresAsNull(t *testing.T) {
	finiteRes := Result{Version: "v1", TrainRows: 10, Silhouette: 0.25,
		Churn:   ChurnResult{Kind: "gbt", AUC: 0.8, AUCCI: [2]float64{0.7, 0.9}},
		BadDebt: BadDebtResult{Trained: true, AUC: 0.7},
		Uplift:  UpliftResult{Skipped: "no campaigns"}}
	plainJSON := func(r Result) map[string]any {
		type noMethod Result
		b, err := json.Marshal(noMethod(r))
		if err != nil {
			t.Fatalf("plain marshal: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	decode := func(r Result) map[string]any {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	// With finite figures the answer is exactly encoding/json's.
	if got, want := decode(finiteRes), plainJSON(finiteRes); !reflect.DeepEqual(got, want) {
		t.Errorf("finite answer differs from encoding/json's:\n got %v\nwant %v", got, want)
	}

	nan := finiteRes
	nan.Silhouette = math.NaN()
	nan.BadDebt.AUC = math.NaN()
	nan.BadDebt.AUCCI = [2]float64{math.Inf(-1), 0.5}
	nan.Uplift.AUUC = math.Inf(1)
	m := decode(nan)
	if v, ok := m["silhouette"]; !ok || v != nil {
		t.Errorf("silhouette = %v (present %v), want null", v, ok)
	}
	bd := m["bad_debt"].(map[string]any)
	if bd["auc"] != nil || bd["auc_ci95"].([]any)[0] != nil || bd["auc_ci95"].([]any)[1] != 0.5 {
		t.Errorf("bad_debt = %v", bd)
	}
	if m["uplift"].(map[string]any)["auuc"] != nil {
		t.Errorf("uplift = %v", m["uplift"])
	}
	if m["churn"].(map[string]any)["auc"] != 0.8 || m["version"] != "v1" {
		t.Errorf("finite fields changed: %v", m)
	}
	if _, ok := m["forecast"]; ok {
		t.Errorf("omitempty forecast written: %v", m["forecast"])
	}
}
