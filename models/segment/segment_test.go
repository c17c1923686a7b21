package segment

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/models/dataset"
)

// group is one planted cluster: its share of the rows, the means of the
// three distinguishing features, its churn probability and mean bill.
type group struct {
	share                      float64
	minutes, roaming, contacts float64
	churn, amount              float64
}

// base are three well-separated groups: long calls (50%), heavy roaming
// (30%), few contacts (20%).
var base = []group{
	{share: .5, minutes: 300, roaming: 5, contacts: 40, churn: .05, amount: 40},
	{share: .3, minutes: 100, roaming: 60, contacts: 40, churn: .20, amount: 90},
	{share: .2, minutes: 100, roaming: 5, contacts: 5, churn: .40, amount: 20},
}

// want is the phrase each base group must be described by, and its
// opposite, which must not appear.
var want = []struct{ phrase, opposite string }{
	{"long calls", "short calls"},
	{"heavy roaming", "little roaming"},
	{"few contacts", "many contacts"},
}

// planted returns n rows drawn from groups (contiguous, in group order)
// and the group of each row. Besides the three distinguishing features it
// has a skewed noise feature (data_mb), a symmetric one with 1% missing
// values (tenure_months), a constant behaviour column, a non-behaviour
// value column with some missing values and a categorical column.
func planted(seed uint64, n int, groups []group) (*dataset.Frame, []int) {
	rng := rand.New(rand.NewPCG(seed, 99))
	var truth []int
	for g, gr := range groups {
		for range int(math.Round(gr.share * float64(n))) {
			truth = append(truth, g)
		}
	}
	n = len(truth)
	num := func(name, high, low string, behaviour bool) *dataset.Column {
		return &dataset.Column{Name: name, Kind: dataset.Numeric, Num: make([]float64, n), High: high, Low: low, Behaviour: behaviour}
	}
	minutes := num("call_minutes", "long calls", "short calls", true)
	roaming := num("roaming_mb", "heavy roaming", "little roaming", true)
	contacts := num("contacts", "many contacts", "few contacts", true)
	data := num("data_mb", "", "", true)
	tenure := num("tenure_months", "", "", true)
	flat := num("flat", "", "", true)
	amount := num("amount_due", "", "", false)
	plan := &dataset.Column{Name: "plan", Kind: dataset.Categorical, Cat: make([]string, n)}
	f := &dataset.Frame{
		Cols:  []*dataset.Column{minutes, plan, roaming, contacts, data, tenure, flat, amount},
		Label: make([]bool, n),
		IDs:   make([]string, n),
	}
	for i, g := range truth {
		gr := groups[g]
		minutes.Num[i] = gr.minutes + 20*rng.NormFloat64()
		roaming.Num[i] = math.Max(0, gr.roaming+4*rng.NormFloat64())
		contacts.Num[i] = gr.contacts + 4*rng.NormFloat64()
		data.Num[i] = math.Exp(3 + rng.NormFloat64())
		tenure.Num[i] = 24 + 6*rng.NormFloat64()
		if rng.Float64() < .01 {
			tenure.Num[i] = math.NaN()
		}
		flat.Num[i] = 7
		amount.Num[i] = gr.amount + 5*rng.NormFloat64()
		if rng.Float64() < .05 {
			amount.Num[i] = math.NaN()
		}
		plan.Cat[i] = []string{"prepaid", "postpaid"}[rng.IntN(2)]
		f.Label[i] = rng.Float64() < gr.churn
		f.IDs[i] = string(rune('a'+g)) + string(rune('0'+i%10))
	}
	return f, truth
}

// majority returns, for each true group, the segment id most of its rows
// got, and the share of all rows that got their group's majority id.
func majority(t *testing.T, ids, truth []int, groups int) ([]int, float64) {
	t.Helper()
	counts := make([]map[int]int, groups)
	for g := range counts {
		counts[g] = map[int]int{}
	}
	for i, id := range ids {
		counts[truth[i]][id]++
	}
	out := make([]int, groups)
	agree := 0
	for g, c := range counts {
		best := -1
		for id, k := range c {
			if best < 0 || k > c[best] || (k == c[best] && id < best) {
				best = id
			}
		}
		out[g] = best
		agree += c[best]
	}
	return out, float64(agree) / float64(len(ids))
}

func mustTrain(t *testing.T, f *dataset.Frame, prev *Model, opt Options) *Model {
	t.Helper()
	m, err := Train(f, prev, opt)
	if err != nil {
		t.Fatalf("Train: %v", err)
	}
	return m
}

func mustAssign(t *testing.T, m *Model, f *dataset.Frame) []int {
	t.Helper()
	ids, err := m.Assign(f)
	if err != nil {
		t.Fatalf("Assign: %v", err)
	}
	return ids
}

func feature(t *testing.T, m *Model, name string) Feature {
	t.Helper()
	for _, ft := range m.Features {
		if ft.Name == name {
			return ft
		}
	}
	t.Fatalf("model has no feature %q", name)
	return Feature{}
}

func TestTrainRecoversPlantedClusters(t *testing.T) {
	f, truth := planted(1, 3000, base)
	m := mustTrain(t, f, nil, Options{ValueColumn: "amount_due"})

	if m.K != 3 {
		t.Fatalf("K = %d, want 3; scores %+v", m.K, m.Scores)
	}
	if len(m.Scores) != 6 || m.Scores[0].K != 3 || m.Scores[5].K != 8 {
		t.Fatalf("Scores = %+v, want k 3..8", m.Scores)
	}
	for _, s := range m.Scores[1:] {
		if !(s.Silhouette < m.Scores[0].Silhouette) {
			t.Errorf("silhouette at k=%d is %v, not below k=3's %v", s.K, s.Silhouette, m.Scores[0].Silhouette)
		}
	}
	ids := mustAssign(t, m, f)
	byGroup, purity := majority(t, ids, truth, len(base))
	if purity < .98 {
		t.Errorf("purity = %.4f, want ≥ 0.98", purity)
	}
	// Ids follow size: the 50% group is 1, the 30% group 2, the 20% group 3.
	if !slices.Equal(byGroup, []int{1, 2, 3}) {
		t.Errorf("segment ids by group = %v, want [1 2 3]", byGroup)
	}
	for g, w := range want {
		s, ok := m.Segment(byGroup[g])
		if !ok {
			t.Fatalf("Segment(%d) not found", byGroup[g])
		}
		if !strings.HasPrefix(s.Name, w.phrase) || !strings.HasPrefix(s.Profile, w.phrase) {
			t.Errorf("group %d: name %q, profile %q, want both to start with %q", g, s.Name, s.Profile, w.phrase)
		}
		if strings.Contains(s.Profile, w.opposite) {
			t.Errorf("group %d: profile %q mentions %q", g, s.Profile, w.opposite)
		}
		if parts := strings.Split(s.Profile, ", "); len(parts) > 3 {
			t.Errorf("group %d: profile %q has %d phrases, want at most 3", g, s.Profile, len(parts))
		}
		if got := strings.Count(s.Name, " · ") + 1; got > 2 {
			t.Errorf("group %d: name %q has %d phrases, want at most 2", g, s.Name, got)
		}
	}

	// Preprocessing decisions.
	if !feature(t, m, "data_mb").Log {
		t.Error("data_mb (log-normal) not log1p-transformed")
	}
	for _, name := range []string{"call_minutes", "tenure_months"} {
		if feature(t, m, name).Log {
			t.Errorf("%s (symmetric) log1p-transformed", name)
		}
	}
	if !slices.Equal(m.Dropped, []string{"flat"}) {
		t.Errorf("Dropped = %q, want [flat]", m.Dropped)
	}
	if ft := feature(t, m, "data_mb"); ft.High != "high data mb" || ft.Low != "low data mb" {
		t.Errorf("data_mb phrases = %q/%q, want made from the name", ft.High, ft.Low)
	}
	// Centroids in original units sit near the planted means.
	mi := slices.IndexFunc(m.Features, func(ft Feature) bool { return ft.Name == "call_minutes" })
	for g, gr := range base {
		s, _ := m.Segment(byGroup[g])
		if got := s.Centroid[mi]; math.Abs(got-gr.minutes) > 5 {
			t.Errorf("group %d: call_minutes centroid %.1f, want near %.0f", g, got, gr.minutes)
		}
	}
}

func TestTrainStableIDs(t *testing.T) {
	f, truth := planted(2, 2000, base)
	opt := Options{ValueColumn: "amount_due", Seed: 5}
	a := mustTrain(t, f, nil, opt)
	b := mustTrain(t, f, nil, opt)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Errorf("two trainings on the same data differ:\n%s\n%s", ja, jb)
	}

	perm := rand.New(rand.NewPCG(3, 3)).Perm(f.Rows())
	shuffled := f.Subset(perm)
	c := mustTrain(t, shuffled, nil, opt)
	idsA := mustAssign(t, a, f)
	idsC := mustAssign(t, c, shuffled)
	for i, r := range perm {
		if idsC[i] != idsA[r] {
			t.Fatalf("row %d: id %d after shuffling, %d before", r, idsC[i], idsA[r])
		}
	}
	byGroup, _ := majority(t, idsA, truth, len(base))
	for _, id := range byGroup {
		sa, _ := a.Segment(id)
		sc, _ := c.Segment(id)
		if sa.Name != sc.Name || sa.Size != sc.Size {
			t.Errorf("segment %d: %q (%d rows) before shuffling, %q (%d rows) after", id, sa.Name, sa.Size, sc.Name, sc.Size)
		}
	}
}

// drifted is base with shifted means and the first two groups' shares
// swapped, so that ordering by size alone would swap their ids.
func drifted() []group {
	g := slices.Clone(base)
	for i := range g {
		g[i].minutes += 15
		g[i].roaming += 3
		g[i].contacts += 2
	}
	g[0].share, g[1].share = .3, .5
	return g
}

func TestRetrainKeepsIDs(t *testing.T) {
	f1, truth1 := planted(4, 2000, base)
	prev := mustTrain(t, f1, nil, Options{})
	prevIDs, _ := majority(t, mustAssign(t, prev, f1), truth1, len(base))

	f2, truth2 := planted(5, 2000, drifted())
	fresh := mustTrain(t, f2, nil, Options{})
	freshIDs, _ := majority(t, mustAssign(t, fresh, f2), truth2, len(base))
	if slices.Equal(freshIDs, prevIDs) {
		t.Fatalf("without prev the drifted data already gets ids %v; the test needs them to differ", freshIDs)
	}

	m := mustTrain(t, f2, prev, Options{})
	ids, purity := majority(t, mustAssign(t, m, f2), truth2, len(base))
	if purity < .98 {
		t.Errorf("purity = %.4f, want ≥ 0.98", purity)
	}
	if !slices.Equal(ids, prevIDs) {
		t.Errorf("ids by group after retrain = %v, want prev's %v", ids, prevIDs)
	}
	for g, id := range ids {
		s, _ := m.Segment(id)
		p, _ := prev.Segment(id)
		if s.Name != p.Name || !s.Matched || !(s.Drift > 0 && s.Drift < 1) {
			t.Errorf("group %d: segment %+v, want prev's name %q, matched, small drift", g, s, p.Name)
		}
	}
	if len(m.Retired) != 0 || m.NextID != prev.NextID {
		t.Errorf("Retired = %v, NextID = %d; want none and %d", m.Retired, m.NextID, prev.NextID)
	}
}

func TestRetrainNewAndGoneSegments(t *testing.T) {
	f1, truth1 := planted(6, 2000, base)
	prev := mustTrain(t, f1, nil, Options{})
	prevIDs, _ := majority(t, mustAssign(t, prev, f1), truth1, len(base))
	manyContacts := group{minutes: 100, roaming: 5, contacts: 90, churn: .1, amount: 30}

	t.Run("extra cluster", func(t *testing.T) {
		groups := slices.Clone(base)
		groups[0].share = .35
		manyContacts.share = .15
		groups = append(groups, manyContacts)
		f, truth := planted(7, 2400, groups)
		m := mustTrain(t, f, prev, Options{})
		if m.K != 4 {
			t.Fatalf("K = %d, want 4; scores %+v", m.K, m.Scores)
		}
		ids, purity := majority(t, mustAssign(t, m, f), truth, len(groups))
		if purity < .98 {
			t.Errorf("purity = %.4f, want ≥ 0.98", purity)
		}
		if !slices.Equal(ids[:3], prevIDs) {
			t.Errorf("ids of the old groups = %v, want %v", ids[:3], prevIDs)
		}
		s, _ := m.Segment(ids[3])
		if s.ID != prev.NextID || s.Matched || !strings.HasPrefix(s.Name, "many contacts") {
			t.Errorf("new segment = %+v, want id %d, unmatched, named for many contacts", s, prev.NextID)
		}
		if m.NextID != prev.NextID+1 {
			t.Errorf("NextID = %d, want %d", m.NextID, prev.NextID+1)
		}
	})

	t.Run("cluster replaced", func(t *testing.T) {
		groups := slices.Clone(base[:2])
		manyContacts.share = .2
		groups = append(groups, manyContacts)
		f, truth := planted(8, 2000, groups)
		m := mustTrain(t, f, prev, Options{})
		ids, _ := majority(t, mustAssign(t, m, f), truth, len(groups))
		if !slices.Equal(ids[:2], prevIDs[:2]) || ids[2] != prev.NextID {
			t.Errorf("ids by group = %v, want %v then %d", ids, prevIDs[:2], prev.NextID)
		}
		if !slices.Equal(m.Retired, []int{prevIDs[2]}) {
			t.Errorf("Retired = %v, want [%d]", m.Retired, prevIDs[2])
		}
		// A model trained after that must not hand out the retired id or
		// the one just used again.
		next := mustTrain(t, f1, m, Options{})
		for _, s := range next.Segments {
			if !s.Matched && s.ID < m.NextID {
				t.Errorf("fresh segment got id %d, below NextID %d", s.ID, m.NextID)
			}
		}
	})
}

func TestSegmentStats(t *testing.T) {
	f, _ := planted(9, 2000, base)
	m := mustTrain(t, f, nil, Options{ValueColumn: "amount_due"})
	ids := mustAssign(t, m, f)
	amount := f.Col("amount_due").Num
	size := map[int]int{}
	churned := map[int]int{}
	vsum := map[int]float64{}
	vcnt := map[int]int{}
	for i, id := range ids {
		size[id]++
		if f.Label[i] {
			churned[id]++
		}
		if !math.IsNaN(amount[i]) {
			vsum[id] += amount[i]
			vcnt[id]++
		}
	}
	var share float64
	for _, s := range m.Segments {
		if s.Size != size[s.ID] {
			t.Errorf("segment %d: Size %d, Assign gives %d rows", s.ID, s.Size, size[s.ID])
		}
		if w := float64(churned[s.ID]) / float64(size[s.ID]); math.Abs(s.ChurnRate-w) > 1e-12 {
			t.Errorf("segment %d: ChurnRate %v, want %v", s.ID, s.ChurnRate, w)
		}
		if w := vsum[s.ID] / float64(vcnt[s.ID]); math.Abs(s.MeanValue-w) > 1e-9 {
			t.Errorf("segment %d: MeanValue %v, want %v", s.ID, s.MeanValue, w)
		}
		share += s.Share
	}
	if math.Abs(share-1) > 1e-12 {
		t.Errorf("shares sum to %v, want 1", share)
	}

	// Without labels or value column both are NaN.
	f.Label = nil
	m = mustTrain(t, f, nil, Options{ValueColumn: "no_such_column"})
	for _, s := range m.Segments {
		if !math.IsNaN(s.ChurnRate) || !math.IsNaN(s.MeanValue) {
			t.Errorf("segment %d: ChurnRate %v, MeanValue %v, want NaN", s.ID, s.ChurnRate, s.MeanValue)
		}
	}
}

func TestAssign(t *testing.T) {
	f, _ := planted(10, 1000, base)
	m := mustTrain(t, f, nil, Options{})

	t.Run("missing value is the median", func(t *testing.T) {
		g := f.Subset([]int{0, 1})
		tenure := g.Col("tenure_months")
		tenure.Num[0] = math.NaN()
		tenure.Num[1] = feature(t, m, "tenure_months").Median
		g.Col("call_minutes").Num[1] = g.Col("call_minutes").Num[0]
		g.Col("roaming_mb").Num[1] = g.Col("roaming_mb").Num[0]
		g.Col("contacts").Num[1] = g.Col("contacts").Num[0]
		g.Col("data_mb").Num[1] = g.Col("data_mb").Num[0]
		ids := mustAssign(t, m, g)
		if ids[0] != ids[1] {
			t.Errorf("NaN row → %d, median row → %d", ids[0], ids[1])
		}
	})

	tests := []struct {
		name    string
		edit    func(*dataset.Frame)
		wantErr string
	}{
		{"missing column", func(g *dataset.Frame) {
			g.Cols = slices.DeleteFunc(g.Cols, func(c *dataset.Column) bool { return c.Name == "contacts" })
		}, `"contacts"`},
		{"categorical column", func(g *dataset.Frame) {
			c := g.Col("roaming_mb")
			c.Kind, c.Cat, c.Num = dataset.Categorical, make([]string, g.Rows()), nil
		}, `"roaming_mb" is categorical`},
		{"ragged frame", func(g *dataset.Frame) { g.Label = g.Label[:1] }, "labels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := f.Subset([]int{0, 1, 2})
			tt.edit(g)
			_, err := m.Assign(g)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "segment: ") {
				t.Errorf("Assign = %v, want an error mentioning %s", err, tt.wantErr)
			}
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	f, _ := planted(11, 1500, base)
	f.Label = nil // NaN churn rates must survive
	m := mustTrain(t, f, nil, Options{ValueColumn: "amount_due"})
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var back Model
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if !slices.Equal(mustAssign(t, &back, f), mustAssign(t, m, f)) {
		t.Error("decoded model assigns differently")
	}
	b2, _ := json.Marshal(&back)
	if !bytes.Equal(b, b2) {
		t.Errorf("re-encoded model differs:\n%s\n%s", b, b2)
	}
	for _, s := range back.Segments {
		if !math.IsNaN(s.ChurnRate) || math.IsNaN(s.MeanValue) {
			t.Errorf("segment %d: ChurnRate %v, MeanValue %v after round trip", s.ID, s.ChurnRate, s.MeanValue)
		}
	}

	bad := bytes.Replace(b, []byte(`"format_version":1`), []byte(`"format_version":99`), 1)
	if err := json.Unmarshal(bad, &back); err == nil || !strings.Contains(err.Error(), "format version 99") {
		t.Errorf("Unmarshal(version 99) = %v, want a format version error", err)
	}
}

func TestTrainErrors(t *testing.T) {
	f, _ := planted(12, 300, base)
	tests := []struct {
		name    string
		frame   *dataset.Frame
		opt     Options
		wantErr string
	}{
		{"nil frame", nil, Options{}, "nil frame"},
		{"MinK 1", f, Options{MinK: 1}, "MinK"},
		{"MaxK below MinK", f, Options{MinK: 5, MaxK: 4}, "MaxK"},
		{"negative match distance", f, Options{MatchDistance: -1}, "MatchDistance"},
		{"no behaviour columns", &dataset.Frame{Cols: []*dataset.Column{{Name: "x", Num: []float64{1, 2, 3}}}}, Options{}, "no numeric behaviour"},
		{"all constant", &dataset.Frame{Cols: []*dataset.Column{{Name: "x", Num: []float64{1, 1, 1, 1, 1}, Behaviour: true}}}, Options{MinK: 2}, "constant"},
		{"too few rows", f.Subset([]int{0, 1, 2}), Options{}, "too few"},
		{"categorical value column", f, Options{ValueColumn: "plan"}, `"plan" is categorical`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Train(tt.frame, nil, tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "segment: ") {
				t.Errorf("Train = %v, want an error mentioning %q", err, tt.wantErr)
			}
		})
	}
}

// TestTrainSubsampled runs the path where fitting uses a sample and the
// centroids are refined on all rows.
func TestTrainSubsampled(t *testing.T) {
	f, truth := planted(13, 6000, base)
	m := mustTrain(t, f, nil, Options{FitRows: 1000, SilhouetteRows: 500, Restarts: 2})
	if m.K != 3 {
		t.Fatalf("K = %d, want 3", m.K)
	}
	ids, purity := majority(t, mustAssign(t, m, f), truth, len(base))
	if purity < .98 || !slices.Equal(ids, []int{1, 2, 3}) {
		t.Errorf("purity %.4f, ids %v; want ≥ 0.98 and [1 2 3]", purity, ids)
	}
	var total int
	for _, s := range m.Segments {
		total += s.Size
	}
	if total != f.Rows() {
		t.Errorf("sizes sum to %d, want %d", total, f.Rows())
	}

	// Shuffled rows give another fitting sample, but the same groups get
	// the same ids.
	perm := rand.New(rand.NewPCG(14, 14)).Perm(f.Rows())
	shuffledTruth := make([]int, len(perm))
	for i, r := range perm {
		shuffledTruth[i] = truth[r]
	}
	g := f.Subset(perm)
	m2 := mustTrain(t, g, nil, Options{FitRows: 1000, SilhouetteRows: 500, Restarts: 2})
	if ids2, _ := majority(t, mustAssign(t, m2, g), shuffledTruth, len(base)); !slices.Equal(ids2, ids) {
		t.Errorf("ids by group after shuffling = %v, before %v", ids2, ids)
	}
}
