package churn

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/models/churn/liblinear"
	"github.com/telcolake/telcolake/models/dataset"
	"github.com/telcolake/telcolake/models/evaluate"
)

// planted builds a frame where churn depends strongly on "Service calls"
// (more calls, more churn) and on "Plan" being "legacy", and on nothing
// else: "Tenure noise" (with some missing values) and "Region" are noise.
func planted(n int, seed uint64) *dataset.Frame {
	r := rand.New(rand.NewPCG(seed, 42))
	calls := &dataset.Column{Name: "Service calls", Kind: dataset.Numeric, Num: make([]float64, n),
		High: "many service calls", Low: "few service calls"}
	plan := &dataset.Column{Name: "Plan", Kind: dataset.Categorical, Cat: make([]string, n)}
	noise := &dataset.Column{Name: "Tenure noise", Kind: dataset.Numeric, Num: make([]float64, n)}
	region := &dataset.Column{Name: "Region", Kind: dataset.Categorical, Cat: make([]string, n)}
	f := &dataset.Frame{Cols: []*dataset.Column{noise, calls, region, plan}, Label: make([]bool, n)}
	plans := []string{"basic", "premium", "legacy"}
	regions := []string{"north", "south", "east", "west"}
	for i := range n {
		calls.Num[i] = float64(r.IntN(8))
		plan.Cat[i] = plans[r.IntN(3)]
		noise.Num[i] = 20 + 5*r.NormFloat64()
		if r.Float64() < 0.05 {
			noise.Num[i] = math.NaN()
		}
		region.Cat[i] = regions[r.IntN(4)]
		s := -6.0 + 0.9*calls.Num[i]
		if plan.Cat[i] == "legacy" {
			s += 2
		}
		f.Label[i] = r.Float64() < sigmoid(s)
	}
	return f
}

// fitKind fits one model kind on f, as Train would.
func fitKind(t *testing.T, f *dataset.Frame, kind string) *Model {
	t.Helper()
	enc, err := fitEncoder(f)
	if err != nil {
		t.Fatal(err)
	}
	z, err := enc.standardised(f)
	if err != nil {
		t.Fatal(err)
	}
	m, err := fitSpec(context.Background(), enc, z, f.Label, spec{kind: kind, c: 1, solver: liblinear.Fit}, 1)
	if err != nil {
		t.Fatalf("fit %s: %v", kind, err)
	}
	m.FeatureImportance = m.importance(z, 1)
	return m
}

var kinds = []string{KindLogistic, KindBoosted}

func TestReasonsPointAtPlantedSignal(t *testing.T) {
	train, test := planted(3000, 1), planted(1000, 2)
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			m := fitKind(t, train, kind)
			probs, reasons, err := m.Score(test, 3)
			if err != nil {
				t.Fatal(err)
			}
			// The riskiest tenth of the rows: their top reason must be a
			// planted column.
			cut := quantileOf(probs, 0.9)
			var high, planted int
			for i, p := range probs {
				if p < cut {
					continue
				}
				high++
				rs := reasons[i]
				if len(rs) == 0 {
					t.Errorf("row %d (p=%.2f) has no reason", i, p)
					continue
				}
				if f := rs[0].Feature; f == "Service calls" || f == "Plan" {
					planted++
				}
				for k, r := range rs {
					if r.Contribution <= 0 {
						t.Errorf("row %d reason %d %+v: contribution not positive", i, k, r)
					}
					if k > 0 && r.Contribution > rs[k-1].Contribution {
						t.Errorf("row %d reasons not in descending order: %+v", i, rs)
					}
				}
			}
			if planted < high*9/10 {
				t.Errorf("top reason is a planted column for %d of %d high-risk rows, want ≥ 90%%", planted, high)
			}
			imp := m.Importance()
			if top := imp[0].Feature; top != "Service calls" && top != "Plan" {
				t.Errorf("most important feature %q, want a planted one; all: %+v", top, imp)
			}
			if imp[2].Value > imp[1].Value/2 {
				t.Errorf("noise feature %q as important as planted %q: %+v", imp[2].Feature, imp[1].Feature, imp)
			}
		})
	}
}

func TestReasonPhrases(t *testing.T) {
	train := planted(3000, 1)
	row := func(calls float64, plan string) *dataset.Frame {
		return &dataset.Frame{Cols: []*dataset.Column{
			{Name: "Service calls", Kind: dataset.Numeric, Num: []float64{calls}},
			{Name: "Plan", Kind: dataset.Categorical, Cat: []string{plan}},
			{Name: "Tenure noise", Kind: dataset.Numeric, Num: []float64{20}},
			{Name: "Region", Kind: dataset.Categorical, Cat: []string{"north"}},
		}}
	}
	for _, kind := range kinds {
		m := fitKind(t, train, kind)
		rs, err := m.Reasons(row(7, "legacy"), 2)
		if err != nil {
			t.Fatal(err)
		}
		var phrases []string
		for _, r := range rs[0] {
			phrases = append(phrases, r.Phrase)
		}
		want := []string{"many service calls (7)", "Plan: legacy"}
		if len(phrases) != 2 || !(phrases[0] == want[0] && phrases[1] == want[1] || phrases[0] == want[1] && phrases[1] == want[0]) {
			t.Errorf("%s: Reasons(7 calls, legacy) = %q, want %q in some order", kind, phrases, want)
		}
	}
}

func TestPhrase(t *testing.T) {
	num := &Feature{Name: "Total day minutes", Kind: kindNumeric, Mean: 180}
	named := &Feature{Name: "Customer service calls", Kind: kindNumeric, Mean: 1.5, High: "many service calls", Low: "few service calls"}
	cat := &Feature{Name: "International plan", Kind: kindCategorical}
	tests := []struct {
		ft   *Feature
		col  *dataset.Column
		want string
	}{
		{num, &dataset.Column{Num: []float64{265.1}}, "high Total day minutes (265.1)"},
		{num, &dataset.Column{Num: []float64{12.345678}}, "low Total day minutes (12.35)"},
		{num, &dataset.Column{Num: []float64{math.NaN()}}, "Total day minutes missing"},
		{named, &dataset.Column{Num: []float64{5}}, "many service calls (5)"},
		{named, &dataset.Column{Num: []float64{0}}, "few service calls (0)"},
		{cat, &dataset.Column{Cat: []string{"Yes"}}, "International plan: Yes"},
		{cat, &dataset.Column{Cat: []string{""}}, "International plan: missing"},
	}
	for _, tt := range tests {
		if got := phrase(tt.ft, tt.col, 0); got != tt.want {
			t.Errorf("phrase(%s, %v%v) = %q, want %q", tt.ft.Name, tt.col.Num, tt.col.Cat, got, tt.want)
		}
	}
}

// TestContributionsAddUp checks the attribution: the bias plus the
// per-feature contributions is the model's log-odds, for every row.
func TestContributionsAddUp(t *testing.T) {
	f := planted(2000, 3)
	for _, kind := range kinds {
		m := fitKind(t, f, kind)
		z, err := m.Encoder.standardised(f)
		if err != nil {
			t.Fatal(err)
		}
		src := m.Encoder.source()
		buf := make([]float64, len(src))
		per := make([]float64, len(m.Encoder.Features))
		for i, r := range z[:200] {
			m.contributions(r, src, buf, per)
			var sum float64
			for _, v := range per {
				sum += v
			}
			var bias float64
			if kind == KindBoosted {
				bias = m.Boosted.attribute(r, make([]float64, len(src)))
			} else {
				bias = m.Logistic.Bias
			}
			if got, want := bias+sum, m.logit(r); math.Abs(got-want) > 1e-9 {
				t.Fatalf("%s row %d: bias+Σcontributions = %v, logit %v", kind, i, got, want)
			}
		}
	}
}

func TestTrainSelectsAndCalibrates(t *testing.T) {
	train, valid := planted(3000, 4), planted(2000, 5)
	m, cands, err := Train(context.Background(), train, valid, Options{Seed: 3, Logistic: liblinear.Fit})
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) != 3 {
		t.Fatalf("%d candidates, want logistic and two boosted configurations: %+v", len(cands), cands)
	}
	selected := 0
	for _, c := range cands {
		if c.Selected {
			selected++
			for _, o := range cands {
				if o.ValidAUC > c.ValidAUC {
					t.Errorf("selected %s (AUC %.4f) but %s has %.4f", c.Kind, c.ValidAUC, o.Kind, o.ValidAUC)
				}
			}
		}
		if c.ValidAUC < 0.75 || c.ValidPRAUC <= 0 || c.TrainSeconds <= 0 {
			t.Errorf("candidate %+v: want AUC ≥ 0.75 on the planted signal, PR AUC and time measured", c)
		}
	}
	if selected != 1 {
		t.Errorf("%d candidates selected, want 1", selected)
	}
	p, err := m.Predict(valid)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range p {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("probability %d = %v, not in [0,1]", i, v)
		}
	}
	mp, obs := mean(p), rate(valid.Label)
	if math.Abs(mp-obs) > 0.03 {
		t.Errorf("mean predicted %.3f, observed churn rate %.3f: not calibrated", mp, obs)
	}
	// Calibration by bins: where there are enough rows, the predicted and
	// observed rates agree loosely.
	for _, b := range evaluate.Calibration(p, valid.Label, 5) {
		if b.Rows >= 100 && math.Abs(b.MeanPredicted-b.ObservedRate) > 0.1 {
			t.Errorf("calibration bin [%.1f,%.1f): predicted %.3f, observed %.3f (%d rows)", b.Lo, b.Hi, b.MeanPredicted, b.ObservedRate, b.Rows)
		}
	}
}

func TestLogisticCalibratedDespiteClassWeight(t *testing.T) {
	f := planted(3000, 6)
	m := fitKind(t, f, KindLogistic)
	if m.Logistic.PositiveWeight < 2 {
		t.Fatalf("positive weight %.2f on a %.0f%% churn rate, want the imbalance weighted", m.Logistic.PositiveWeight, 100*rate(f.Label))
	}
	valid := planted(3000, 7)
	p, err := m.Predict(valid)
	if err != nil {
		t.Fatal(err)
	}
	if mp, obs := mean(p), rate(valid.Label); math.Abs(mp-obs) > 0.03 {
		t.Errorf("mean predicted %.3f, observed %.3f", mp, obs)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	train, test := planted(2000, 8), planted(500, 9)
	test.Cols[2].Cat[0] = "atlantis" // unseen category
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			m := fitKind(t, train, kind)
			data, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			var back Model
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			if back.FormatVersion != FormatVersion {
				t.Errorf("FormatVersion %d after round trip, want %d", back.FormatVersion, FormatVersion)
			}
			p1, r1, err := m.Score(test, 3)
			if err != nil {
				t.Fatal(err)
			}
			p2, r2, err := back.Score(test, 3)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p1, p2) {
				t.Error("predictions differ after a JSON round trip")
			}
			if !reflect.DeepEqual(r1, r2) {
				t.Error("reasons differ after a JSON round trip")
			}
			if !reflect.DeepEqual(m.Importance(), back.Importance()) {
				t.Error("importance differs after a JSON round trip")
			}
		})
	}
}

func TestPredictColumns(t *testing.T) {
	train := planted(1000, 10)
	m := fitKind(t, train, KindBoosted)

	t.Run("missing column named", func(t *testing.T) {
		f := planted(10, 11)
		f.Cols = f.Cols[:3] // drops "Plan"
		_, err := m.Predict(f)
		if err == nil || !strings.Contains(err.Error(), `"Plan"`) {
			t.Errorf("Predict without Plan: err = %v, want one naming it", err)
		}
	})
	t.Run("extra columns and other order", func(t *testing.T) {
		f := planted(50, 12)
		want, err := m.Predict(f)
		if err != nil {
			t.Fatal(err)
		}
		g := *f
		g.Cols = append([]*dataset.Column{{Name: "extra", Kind: dataset.Numeric, Num: make([]float64, 50)}}, f.Cols[3], f.Cols[1], f.Cols[0], f.Cols[2])
		got, err := m.Predict(&g)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Error("predictions change with column order or an extra column")
		}
	})
	t.Run("kind mismatch", func(t *testing.T) {
		f := planted(10, 13)
		f.Cols[1] = &dataset.Column{Name: "Service calls", Kind: dataset.Categorical, Cat: make([]string, 10)}
		if _, err := m.Predict(f); err == nil || !strings.Contains(err.Error(), "Service calls") {
			t.Errorf("Predict with categorical Service calls: err = %v, want one naming it", err)
		}
	})
	t.Run("unseen category and missing values", func(t *testing.T) {
		f := planted(3, 14)
		f.Cols[3].Cat = []string{"platinum", "", "legacy"}
		f.Cols[0].Num[0] = math.NaN()
		for _, mk := range []*Model{m, fitKind(t, train, KindLogistic)} {
			p, rs, err := mk.Score(f, 2)
			if err != nil {
				t.Fatalf("%s: %v", mk.Kind, err)
			}
			for i, v := range p {
				if !(v >= 0 && v <= 1) {
					t.Errorf("%s: row %d probability %v", mk.Kind, i, v)
				}
			}
			for _, r := range rs[0] {
				if r.Feature == "Plan" && r.Phrase != "Plan: platinum" {
					t.Errorf("%s: unseen category phrase %q, want the value as given", mk.Kind, r.Phrase)
				}
			}
		}
	})
}

func TestTrainErrors(t *testing.T) {
	good := planted(200, 15)
	noLabel := planted(200, 16)
	noLabel.Label = nil
	oneClass := planted(200, 17)
	for i := range oneClass.Label {
		oneClass.Label[i] = false
	}
	tests := []struct {
		name         string
		train, valid *dataset.Frame
		want         string
	}{
		{"no labels", noLabel, good, "labels"},
		{"single class", oneClass, good, "single class"},
		{"validation single class", good, oneClass, "validation"},
		{"no validation", good, nil, "validation"},
		{"no logistic solver", good, planted(200, 21), "no solver"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Train(context.Background(), tt.train, tt.valid, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Train = %v, want an error about %q", err, tt.want)
			}
		})
	}
}

func TestEncoder(t *testing.T) {
	n := 200
	f := &dataset.Frame{Cols: []*dataset.Column{
		{Name: "full", Kind: dataset.Numeric, Num: make([]float64, n)},
		{Name: "gappy", Kind: dataset.Numeric, Num: make([]float64, n)},
		{Name: "cat", Kind: dataset.Categorical, Cat: make([]string, n)},
	}}
	for i := range n {
		f.Cols[0].Num[i] = float64(i % 10)
		f.Cols[1].Num[i] = float64(i % 7)
		if i%4 == 0 {
			f.Cols[1].Num[i] = math.NaN()
		}
		// "a" 150 rows, "b" 45, "rare" 5 (< 10 rows: pooled)
		switch {
		case i < 150:
			f.Cols[2].Cat[i] = "a"
		case i < 195:
			f.Cols[2].Cat[i] = "b"
		default:
			f.Cols[2].Cat[i] = "rare"
		}
	}
	enc, err := fitEncoder(f)
	if err != nil {
		t.Fatal(err)
	}
	full, gappy, cat := enc.Features[0], enc.Features[1], enc.Features[2]
	if full.HasMissing || !gappy.HasMissing {
		t.Errorf("missing indicators: full %v, gappy %v; want only gappy", full.HasMissing, gappy.HasMissing)
	}
	if full.Median != 4.5 {
		t.Errorf("median of 0..9 repeated = %v, want 4.5", full.Median)
	}
	if !reflect.DeepEqual(cat.Categories, []string{"a", "b"}) {
		t.Errorf("categories %q, want [a b] with rare pooled", cat.Categories)
	}
	if w := enc.Width(); w != 1+2+3 {
		t.Errorf("width %d, want 6 (full, gappy + indicator, a, b, other)", w)
	}
	z, err := enc.standardised(f)
	if err != nil {
		t.Fatal(err)
	}
	// Every encoded column is standardised on the training rows.
	for j := range enc.Width() {
		var s, ss float64
		for i := range n {
			s += z[i][j]
			ss += z[i][j] * z[i][j]
		}
		if m, v := s/float64(n), ss/float64(n); math.Abs(m) > 1e-9 || math.Abs(v-1) > 1e-9 {
			t.Errorf("encoded column %d: mean %v, variance %v; want 0 and 1", j, m, v)
		}
	}
	// A missing value is imputed with the median and flagged.
	g := &dataset.Frame{Cols: []*dataset.Column{
		{Name: "full", Kind: dataset.Numeric, Num: []float64{1}},
		{Name: "gappy", Kind: dataset.Numeric, Num: []float64{math.NaN()}},
		{Name: "cat", Kind: dataset.Categorical, Cat: []string{"never seen"}},
	}}
	raw, err := enc.rawMatrix(g)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{1, gappy.Median, 1, 0, 0, 1}; !reflect.DeepEqual(raw[0], want) {
		t.Errorf("raw encoding %v, want %v", raw[0], want)
	}
}

func TestLogisticRecoversWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 4000
	z := make([][]float64, n)
	y := make([]bool, n)
	for i := range z {
		z[i] = []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
		y[i] = r.Float64() < sigmoid(-2+1.5*z[i][0]-z[i][1])
	}
	lr, err := trainLogistic(context.Background(), liblinear.Fit, z, y, make([]float64, 3), 1, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1.5, -1, 0}
	for j, w := range lr.W {
		if math.Abs(w-want[j]) > 0.25 {
			t.Errorf("weight %d = %.3f, want about %v (all %v)", j, w, want[j], lr.W)
		}
	}
}

func quantileOf(x []float64, q float64) float64 {
	s := append([]float64(nil), x...)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

func TestCorruptModelRefused(t *testing.T) {
	f := planted(500, 18)
	for _, kind := range kinds {
		m := fitKind(t, f, kind)
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			edit func(*Model)
		}{
			{"format version", func(m *Model) { m.FormatVersion = 99 }},
			{"encoding", func(m *Model) { m.Encoder.Features[0].Scale = nil }},
			{"weights", func(m *Model) {
				if m.Logistic != nil {
					m.Logistic.W = m.Logistic.W[:1]
				} else {
					m.Boosted.Trees[0].Left = m.Boosted.Trees[0].Left[:1]
				}
			}},
		}
		for _, tt := range tests {
			var back Model
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			tt.edit(&back)
			if _, err := back.Predict(f); err == nil {
				t.Errorf("%s: Predict with a broken %s succeeded, want an error", kind, tt.name)
			}
		}
	}
}

func TestTrainCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := Train(ctx, planted(300, 19), planted(300, 20), Options{Logistic: liblinear.Fit})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Train with a cancelled context = %v, want context.Canceled", err)
	}
}
