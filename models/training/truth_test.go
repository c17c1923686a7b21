package training

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/telcolake/telcolake/models/churn"
	"github.com/telcolake/telcolake/models/dataset"
	"github.com/telcolake/telcolake/synth"
)

// The calibration never uses the rows it is judged on: whatever the
// judged rows' scores and outcomes, the calibrator is the same; changing
// a fit row changes it.
func TestCalibrationNeverSeesJudgedRows(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 3000
	ids, raw, labels := make([]string, n), make([]float64, n), make([]bool, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("S%07d", i+1)
		q := 0.05 + 0.4*r.Float64()*r.Float64()
		raw[i], labels[i] = min(0.99, 1.6*q), r.Float64() < q
	}
	cal, choice, judged := calibrate(ids, raw, labels, 1)
	if len(judged) == 0 || choice.Rows+len(judged) != n || len(judged) < n/3 {
		t.Fatalf("fit %d rows, judged %d of %d", choice.Rows, len(judged), n)
	}
	raw2, labels2 := slices.Clone(raw), slices.Clone(labels)
	for _, i := range judged {
		if fitHalf(ids[i]) {
			t.Fatalf("row %d is judged but in the fit half", i)
		}
		raw2[i], labels2[i] = r.Float64(), !labels2[i]
	}
	cal2, choice2, judged2 := calibrate(ids, raw2, labels2, 1)
	if !reflect.DeepEqual(cal, cal2) || !reflect.DeepEqual(choice, choice2) || !slices.Equal(judged, judged2) {
		t.Errorf("changing only the judged rows changed the calibration: %+v vs %+v", choice, choice2)
	}
	for i := range labels2 {
		if fitHalf(ids[i]) {
			labels2[i] = !labels2[i]
		}
	}
	if cal3, _, _ := calibrate(ids, raw2, labels2, 1); reflect.DeepEqual(cal, cal3) {
		t.Errorf("changing the fit rows did not change the calibration")
	}
}

// Reason cases: only churners with a dominant driver, reasons mapped to
// drivers through featureDrivers.
func TestReasonCases(t *testing.T) {
	val := &dataset.Frame{IDs: []string{"S1", "S2", "S3", "S4"}, Label: []bool{true, true, false, true}}
	truth := map[string]synth.TruthRow{
		"S1": {Dominant: synth.DriverPlan, Contributions: map[string]float64{synth.DriverPlan: 0.6, synth.DriverTenure: 0.05}},
		"S2": {Dominant: "", Contributions: map[string]float64{}},
		"S3": {Dominant: synth.DriverSigns, Contributions: map[string]float64{synth.DriverSigns: 2}},
		"S4": {Dominant: synth.DriverSigns, Contributions: map[string]float64{synth.DriverSigns: 2, synth.DriverArrears: 0.3}},
	}
	reasons := [][]churn.Reason{
		{{Feature: "tenure_months"}, {Feature: "credit_limit"}},
		{{Feature: "plan"}},
		{{Feature: "care_calls"}},
		{{Feature: "care_calls"}, {Feature: "region"}, {Feature: "paid_ratio"}, {Feature: "plan"}},
	}
	got := reasonCases(val, truth, reasons)
	if len(got) != 2 {
		t.Fatalf("%d cases, want 2 (S1 and S4): %+v", len(got), got)
	}
	if c := got[0]; c.Dominant != synth.DriverPlan || !reflect.DeepEqual(c.Reasons, [][]string{{synth.DriverTenure}, {synth.DriverIncome}}) ||
		!slices.Equal(c.Real, []string{synth.DriverPlan}) {
		t.Errorf("S1 case %+v", c)
	}
	if c := got[1]; len(c.Reasons) != 3 || c.Reasons[1] != nil {
		t.Errorf("S4 case %+v, want 3 reasons, region reflecting no driver", c)
	}
}
