package churn

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/models/churn/liblinear"
	"github.com/telcolake/telcolake/models/dataset"
	"github.com/telcolake/telcolake/models/evaluate"
)

// hasNotice reports whether some notice contains all the parts.
func hasNotice(notices []string, parts ...string) bool {
	for _, n := range notices {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(n, p)
		}
		if all {
			return true
		}
	}
	return false
}

// table builds a CSV of n rows with an identifier, a numeric, an
// integer-coded and a text column, and the given target values in turn.
func table(n int, targets []string, eol string) string {
	var b strings.Builder
	b.WriteString("Phone,Minutes,Area code,Plan,Churn" + eol)
	for i := range n {
		fmt.Fprintf(&b, "555-%04d,%d.5,%d,%s,%s%s", i, 100+i, []int{408, 415, 510}[i%3], []string{"Yes", "No"}[i%2], targets[i%len(targets)], eol)
	}
	return b.String()
}

func TestLoadCSV(t *testing.T) {
	f, notices, err := LoadCSV(strings.NewReader(table(12, []string{"True", "False"}, "\r\n")), "Churn")
	if err != nil {
		t.Fatal(err)
	}
	if !hasNotice(notices, "Phone", "identifier") {
		t.Errorf("notices %q: want one saying Phone is an identifier", notices)
	}
	if f.Col("Phone") != nil || len(f.IDs) != 12 || f.IDs[3] != "555-0003" {
		t.Errorf("Phone: column %v, ids %v; want it as the ids, not a feature", f.Col("Phone"), f.IDs)
	}
	want := map[string]dataset.Kind{"Minutes": dataset.Numeric, "Area code": dataset.Numeric, "Plan": dataset.Categorical}
	for name, k := range want {
		c := f.Col(name)
		if c == nil || c.Kind != k {
			t.Errorf("column %s = %+v, want %s", name, c, k)
		}
	}
	if len(f.Cols) != 3 {
		t.Errorf("%d feature columns, want 3 (target and identifier excluded)", len(f.Cols))
	}
	if got := f.Col("Minutes").Num[2]; got != 102.5 {
		t.Errorf("Minutes[2] = %v, want 102.5", got)
	}
	if got := f.Col("Plan").Cat[1]; got != "No" {
		t.Errorf("Plan[1] = %q, want No (CRLF stripped)", got)
	}
	if !f.Label[0] || f.Label[1] {
		t.Errorf("labels %v, want True, False, ...", f.Label[:2])
	}
	if err := f.Validate(); err != nil {
		t.Error(err)
	}
}

func TestLoadCSVTargets(t *testing.T) {
	tests := []struct {
		values []string
		want   []bool
		notice []string // parts of an expected notice
	}{
		{[]string{"yes", "no", "Yes", "NO", " y ", "n"}, []bool{true, false, true, false, true, false}, nil},
		{[]string{"True", "False", "TRUE", "false", "True.", "False."}, []bool{true, false, true, false, true, false}, nil},
		{[]string{"1", "0", "1", "0", "1", "0"}, []bool{true, false, true, false, true, false}, nil},
		{[]string{"1", "", "0", "1", "0", ""}, []bool{true, false, true, false}, []string{"2 rows skipped", "blank"}},
		{[]string{"1", "maybe", "0", "1", "0", "1"}, []bool{true, false, true, false, true}, []string{"1 rows skipped", "maybe"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.values, ","), func(t *testing.T) {
			f, notices, err := LoadCSV(strings.NewReader(table(6, tt.values, "\n")), "churn") // case-insensitive name
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f.Label, tt.want) {
				t.Errorf("labels %v, want %v", f.Label, tt.want)
			}
			if f.Rows() != len(tt.want) {
				t.Errorf("%d rows, want %d", f.Rows(), len(tt.want))
			}
			if tt.notice != nil && !hasNotice(notices, tt.notice...) {
				t.Errorf("notices %q, want one with %q", notices, tt.notice)
			}
		})
	}
}

func TestLoadCSVMalformed(t *testing.T) {
	var b strings.Builder
	b.WriteString("\xef\xbb\xbfid,calls,minutes,churn\n")
	for i := range 40 {
		calls := fmt.Sprint(i % 5)
		switch i {
		case 3:
			calls = "lots"
		case 7:
			calls = "#REF!"
		case 9:
			calls = ""
		case 11:
			calls = "NA"
		}
		fmt.Fprintf(&b, "c%d,%s,%d,%d\n", i, calls, i, i%2)
	}
	b.WriteString("c99,1\n") // short row
	f, notices, err := LoadCSV(strings.NewReader(b.String()), "churn")
	if err != nil {
		t.Fatal(err)
	}
	c := f.Col("calls")
	if c == nil || c.Kind != dataset.Numeric {
		t.Fatalf("calls = %+v, want numeric despite two bad values", c)
	}
	for _, i := range []int{3, 7, 9, 11} {
		if !math.IsNaN(c.Num[i]) {
			t.Errorf("calls[%d] = %v, want NaN", i, c.Num[i])
		}
	}
	if c.Num[4] != 4 {
		t.Errorf("calls[4] = %v, want 4", c.Num[4])
	}
	if !hasNotice(notices, "calls", "2 values not numbers") {
		t.Errorf("notices %q, want one counting calls' 2 unparseable values", notices)
	}
	if !hasNotice(notices, "1 rows skipped", "not 4 fields") {
		t.Errorf("notices %q, want one for the short row", notices)
	}
	if f.Rows() != 40 || f.IDs[0] != "c0" {
		t.Errorf("%d rows, ids from %v; want 40 and the BOM stripped from the header", f.Rows(), f.IDs[:1])
	}
}

func TestLoadCSVErrors(t *testing.T) {
	tests := []struct {
		name, csv, target string
		want              []string
	}{
		{"missing target", "a,b,c\n1,2,3\n", "Churn", []string{`"Churn"`, "a, b, c"}},
		{"empty", "", "Churn", []string{"empty"}},
		{"no usable target", "a,Churn\n1,\n2,?\n", "Churn", []string{"no row"}},
		{"duplicate header", "a,a,Churn\n1,2,yes\n", "Churn", []string{`"a"`, "twice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := LoadCSV(strings.NewReader(tt.csv), tt.target)
			if err == nil {
				t.Fatalf("LoadCSV(%q) succeeded, want an error", tt.csv)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("LoadCSV(%q) = %v, want it to mention %s", tt.csv, err, w)
				}
			}
		})
	}
}

func TestLoadCSVLike(t *testing.T) {
	train, _, err := LoadCSV(strings.NewReader("code,plan,churn\n1,a,yes\n2,b,no\n3,a,no\n"), "churn")
	if err != nil {
		t.Fatal(err)
	}
	// In the test file "code" holds text and a new column appears; code
	// stays numeric as in training.
	test, notices, err := LoadCSVLike(strings.NewReader("plan,new,code,churn\nb,x,2,no\na,y,n/a,yes\na,z,oops,no\n"), "churn", train)
	if err != nil {
		t.Fatal(err)
	}
	code := test.Col("code")
	if code == nil || code.Kind != dataset.Numeric || code.Num[0] != 2 || !math.IsNaN(code.Num[1]) || !math.IsNaN(code.Num[2]) {
		t.Errorf("code = %+v, want numeric [2 NaN NaN]", code)
	}
	if test.Col("new") != nil || !hasNotice(notices, "new", "ignored") {
		t.Errorf("column new: %v, notices %q; want it ignored with a notice", test.Col("new"), notices)
	}
	if !hasNotice(notices, "code", "1 values not numbers") {
		t.Errorf("notices %q, want one for code's unparseable value", notices)
	}
	_, notices, err = LoadCSVLike(strings.NewReader("plan,churn\na,yes\n"), "churn", train)
	if err != nil {
		t.Fatal(err)
	}
	if !hasNotice(notices, "code", "missing") {
		t.Errorf("notices %q, want one saying code is missing", notices)
	}
}

// plantedCSV writes a churn table like planted's, as text.
func plantedCSV(n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 9))
	var b strings.Builder
	b.WriteString("Customer,Service calls,Plan,Region,Churned\n")
	for i := range n {
		calls := r.IntN(8)
		plan := []string{"basic", "premium", "legacy"}[r.IntN(3)]
		s := -6.0 + 0.9*float64(calls)
		if plan == "legacy" {
			s += 2
		}
		churn := "No"
		if r.Float64() < sigmoid(s) {
			churn = "Yes"
		}
		fmt.Fprintf(&b, "c%d,%d,%s,%s,%s\n", i, calls, plan, []string{"north", "south"}[r.IntN(2)], churn)
	}
	return b.String()
}

func TestEvalCSV(t *testing.T) {
	res, err := EvalCSV(context.Background(), strings.NewReader(plantedCSV(1500, 1)), strings.NewReader(plantedCSV(600, 2)),
		EvalOptions{Target: "Churned", Seed: 1, Resamples: 100, Train: Options{Logistic: liblinear.Fit}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Candidates) != 3 || res.Selected == "" {
		t.Errorf("candidates %+v, selected %q", res.Candidates, res.Selected)
	}
	if res.AUC < 0.75 || !(res.AUCCI.Lo <= res.AUC && res.AUC <= res.AUCCI.Hi) {
		t.Errorf("AUC %.3f, interval %+v: want ≥ 0.75 on the planted signal and inside its interval", res.AUC, res.AUCCI)
	}
	if len(res.Compare) != len(res.Candidates) {
		t.Errorf("%d candidates measured on the test table, want all %d", len(res.Compare), len(res.Candidates))
	}
	for _, c := range res.Compare {
		if c.Kind == res.Selected && c.AUC != res.AUC {
			t.Errorf("selected %s: comparison AUC %v, headline AUC %v", c.Kind, c.AUC, res.AUC)
		}
	}
	if len(res.Examples) != 3 || res.Examples[0].Probability < res.Examples[2].Probability || len(res.Examples[0].Reasons) == 0 {
		t.Errorf("examples %+v, want the 3 riskiest rows with reasons", res.Examples)
	}
	if res.Lift10 <= 1 {
		t.Errorf("lift@10%% = %.2f, want above 1", res.Lift10)
	}
	var out strings.Builder
	if err := res.Write(&out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.Contains(out.String(), "Customer: unique on every row") {
		t.Errorf("output lacks the identifier notice:\n%s", out.String())
	}
	tail := lines[len(lines)-7:]
	for i, prefix := range []string{"AUC ", "PR-AUC ", "lift@10% ", "calibration: ", "log loss ", "Brier ", "ECE "} {
		if prefix == "calibration: " {
			if !strings.HasPrefix(tail[i], prefix) {
				t.Errorf("line %q, want it to start with %q", tail[i], prefix)
			}
			continue
		}
		if !strings.HasPrefix(tail[i], prefix) || !strings.Contains(tail[i], "(95% CI ") {
			t.Errorf("line %q, want it to start with %q and give the interval", tail[i], prefix)
		}
	}
	if want := fmt.Sprintf("AUC %.4f", res.AUC); !strings.HasPrefix(tail[0], want) {
		t.Errorf("line %q, want %q", tail[0], want)
	}
	if want := fmt.Sprintf("ECE %.4f", res.After.ECE); !strings.HasPrefix(tail[6], want) {
		t.Errorf("line %q, want %q", tail[6], want)
	}
	// The calibration saw the training file only (its out-of-fold
	// predictions), never the test rows it is judged on.
	if res.Calibration.Rows != res.TrainRows || res.Before.Rows != res.TestRows || res.After.Rows != res.TestRows {
		t.Errorf("calibration fitted on %d rows (training has %d), judged on %d/%d (test has %d)",
			res.Calibration.Rows, res.TrainRows, res.Before.Rows, res.After.Rows, res.TestRows)
	}
	carried := evaluate.CalibrateNone
	if res.Model.Calibration != nil {
		carried = res.Model.Calibration.Method
	}
	if carried != res.Calibration.Method {
		t.Errorf("model carries calibration %+v, chosen %q", res.Model.Calibration, res.Calibration.Method)
	}
}
