package insight

import (
	"math"
	"testing"
)

// TestTrackRun: synthetic runs whose outcomes are known.
func TestTrackRun(t *testing.T) {
	perfect := make([]Scored, 100)
	for i := range perfect {
		perfect[i] = Scored{Prob: float64(i) / 100, Left: i >= 90} // the top decile leaves
	}
	flat := make([]Scored, 50)
	for i := range flat {
		flat[i] = Scored{Prob: 0.2, Left: i%5 == 0} // no ranking at all
	}
	inverted := make([]Scored, 20)
	for i := range inverted {
		inverted[i] = Scored{Prob: float64(i) / 20, Left: i < 4} // the lowest scores leave
	}
	for _, tc := range []struct {
		name     string
		s        []Scored
		auc      float64
		left     int
		top, bot float64 // realised in deciles 1 and 10
	}{
		{"perfect", perfect, 1, 10, 1, 0},
		{"flat", flat, 0.5, 10, 0.2, 0.2},
		{"inverted", inverted, 0, 4, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := TrackRun("r1", "2026-05", "2026-07-31", true, tc.s)
			if rt.AUC == nil || math.Abs(*rt.AUC-tc.auc) > 1e-12 {
				t.Errorf("AUC = %v, want %v", rt.AUC, tc.auc)
			}
			if rt.Left != tc.left || rt.Customers != len(tc.s) || !rt.Complete {
				t.Errorf("left %d of %d complete %v, want %d of %d true", rt.Left, rt.Customers, rt.Complete, tc.left, len(tc.s))
			}
			if len(rt.Deciles) != 10 {
				t.Fatalf("%d deciles, want 10", len(rt.Deciles))
			}
			d1, d10 := rt.Deciles[0], rt.Deciles[9]
			if d1.Realised != tc.top || d10.Realised != tc.bot {
				t.Errorf("realised decile 1 %v, 10 %v, want %v %v", d1.Realised, d10.Realised, tc.top, tc.bot)
			}
			if d1.MeanPredicted < d10.MeanPredicted {
				t.Errorf("decile 1 predicts %v below decile 10's %v", d1.MeanPredicted, d10.MeanPredicted)
			}
			n := 0
			for _, d := range rt.Deciles {
				n += d.Customers
			}
			if n != len(tc.s) {
				t.Errorf("deciles hold %d customers, want %d", n, len(tc.s))
			}
		})
	}
	none := TrackRun("r2", "2026-05", "2026-07-31", false, []Scored{{Prob: 0.3}, {Prob: 0.1}})
	if none.AUC != nil || none.Complete {
		t.Errorf("nobody left: AUC %v complete %v, want nil false", none.AUC, none.Complete)
	}
	// The perfect run's realised rate is its leavers' share.
	if rt := TrackRun("r", "", "", true, perfect); rt.Realised != 0.1 || math.Abs(rt.MeanPredicted-0.495) > 1e-12 {
		t.Errorf("realised %v predicted %v, want 0.1 0.495", rt.Realised, rt.MeanPredicted)
	}
}

func TestCountReasons(t *testing.T) {
	items := []Reasoned{
		{"north", "falling usage"}, {"north", "falling usage"}, {"north", "arrears"},
		{"south", "arrears"}, {"south", ""}, {"all", "care calls"},
	}
	got := CountReasons(items)
	want := []struct {
		group   string
		n       int
		reasons []ReasonShare
	}{
		{"all", 6, []ReasonShare{{"arrears", 2, 2.0 / 6}, {"falling usage", 2, 2.0 / 6}, {"(none)", 1, 1.0 / 6}, {"care calls", 1, 1.0 / 6}}},
		{"north", 3, []ReasonShare{{"falling usage", 2, 2.0 / 3}, {"arrears", 1, 1.0 / 3}}},
		{"south", 2, []ReasonShare{{"(none)", 1, 0.5}, {"arrears", 1, 0.5}}},
		{"all", 1, []ReasonShare{{"care calls", 1, 1}}}, // a group named "all" stays apart
	}
	if len(got) != len(want) {
		t.Fatalf("CountReasons = %d groups %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Group != w.group || g.Customers != w.n || len(g.Reasons) != len(w.reasons) {
			t.Fatalf("group %d = %+v, want %s %d %v", i, g, w.group, w.n, w.reasons)
		}
		for j, r := range w.reasons {
			if g.Reasons[j].Reason != r.Reason || g.Reasons[j].Customers != r.Customers || math.Abs(g.Reasons[j].Share-r.Share) > 1e-12 {
				t.Errorf("group %s reason %d = %+v, want %+v", w.group, j, g.Reasons[j], r)
			}
		}
	}
	if th := TopShareThreshold([]float64{0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.4, 0.8, 0.6, 0.05, 0.95}, 0.1); th != 0.9 {
		t.Errorf("TopShareThreshold of 11 at 10%% = %v, want 0.9 (the top 2)", th)
	}
}

func TestCauseOf(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"many service calls (5)", "many service calls"},
		{"falling voice minutes (-42%)", "falling voice minutes"},
		{"Plan: basic", "Plan: basic"},
		{"tenure_months missing", "tenure_months missing"},
		{"", ""},
	} {
		if got := CauseOf(tc.in); got != tc.want {
			t.Errorf("CauseOf(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTransitions(t *testing.T) {
	m := Transitions("2026-04", "2026-05", []Move{
		{"new", "new"}, {"new", "established"}, {"new", "lost"}, {"new", "established"},
		{"joined", "new"}, {"loyal", "loyal"}, {"suspended", "lost"}, {"bogus", "new"},
	})
	count := func(from, to string) int {
		for i, r := range m.Rows {
			for j, c := range m.Cols {
				if r == from && c == to {
					return m.Counts[i][j]
				}
			}
		}
		return -1
	}
	share := func(from, to string) float64 {
		for i, r := range m.Rows {
			for j, c := range m.Cols {
				if r == from && c == to {
					return m.Shares[i][j]
				}
			}
		}
		return -1
	}
	for _, tc := range []struct {
		from, to string
		n        int
		share    float64
	}{
		{"new", "established", 2, 0.5}, {"new", "new", 1, 0.25}, {"new", "lost", 1, 0.25},
		{"joined", "new", 1, 1}, {"loyal", "loyal", 1, 1}, {"suspended", "lost", 1, 1}, {"established", "lost", 0, 0},
	} {
		if n, s := count(tc.from, tc.to), share(tc.from, tc.to); n != tc.n || s != tc.share {
			t.Errorf("%s → %s: %d (%v), want %d (%v)", tc.from, tc.to, n, s, tc.n, tc.share)
		}
	}
}

func TestSurvivalByGroupPoolsSmallGroups(t *testing.T) {
	var obs []Obs
	var keys []string
	for i := range 60 {
		key := "a"
		switch {
		case i >= 50:
			key = "tiny" + string(rune('0'+i%3)) // 10 customers in 3 groups, each under the minimum
		case i >= 25:
			key = "b"
		}
		obs = append(obs, Obs{Time: float64(i%12) + 0.5, Event: i%2 == 0})
		keys = append(keys, key)
	}
	sb, err := SurvivalByGroup("plan", obs, keys)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range sb.Groups {
		names = append(names, g.Group)
		if len(g.Curve) == 0 || g.Curve[0].Surv != 1 {
			t.Errorf("group %s: curve %v, want one starting at 1", g.Group, g.Curve)
		}
	}
	if len(names) != 3 || names[0] != "a" || names[1] != "b" || names[2] != "(other)" || sb.Groups[2].N != 10 {
		t.Errorf("groups %v (other %d), want [a b (other)] with 10 pooled", names, sb.Groups[len(sb.Groups)-1].N)
	}
	if sb.LogRank == nil || sb.LogRank.DF != 2 {
		t.Errorf("log-rank %+v, want df 2", sb.LogRank)
	}
}

func TestValueByTenure(t *testing.T) {
	var rows []TenureRow
	for i := range 45 {
		v := float64(10 + i%3*10) // 10, 20, 30 → mean 20
		if i == 0 {
			v = math.NaN() // no bill: out of the value mean, in the count
		}
		rows = append(rows, TenureRow{Tenure: i % 2, Value: v, Minutes: 100})
	}
	rows = append(rows, TenureRow{Tenure: 7, Value: 5}) // one row: left out
	got := ValueByTenure(rows)
	if len(got) != 2 || got[0].Tenure != 0 || got[0].Customers != 23 || got[1].Customers != 22 || got[0].MeanMinutes != 100 {
		t.Fatalf("ValueByTenure = %+v", got)
	}
	// Tenure 1 holds i = 1, 3, …, 43: values 20, 10, 30, 20, 10, 30, … (mean 20 over
	// 22 rows = 440/22); tenure 0 holds i = 0 (no bill), 2, …, 44: 21 of the 22 with
	// values summing to 30+20+10+… → (sum of 10+(i%3)·10 for even i in 2..44) / 22.
	var sum0 float64
	for i := 2; i < 45; i += 2 {
		sum0 += float64(10 + i%3*10)
	}
	if got[1].MeanValue != 20 || got[0].MeanValue != math.Round(sum0/22*100)/100 {
		t.Errorf("mean values %v %v, want %v 20", got[0].MeanValue, got[1].MeanValue, math.Round(sum0/22*100)/100)
	}
}
