package insight

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/models/serving"
)

// open writes cs as a serving snapshot in memory and opens it, as the api
// does.
func open(t testing.TB, cs []serving.Customer) *serving.Snapshot {
	t.Helper()
	st := serving.NewMemStore()
	meta := &serving.Meta{Run: "20261102T040000Z", FeatureMonth: "2026-10", Customers: len(cs)}
	if _, err := serving.Write(context.Background(), st, meta, cs); err != nil {
		t.Fatal(err)
	}
	snap, err := serving.Load(context.Background(), st, serving.IsNotFound, serving.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func customer(i int, region, plan string, tenure int32, value, clv float64, p float64) serving.Customer {
	return serving.Customer{SubscriberID: fmt.Sprintf("S%04d", i), MSISDN: "49170000", Name: "N", Gender: "F", Plan: plan, Region: region,
		Status: "active", Lifecycle: "established", ActivationDate: "2020-01-01", StatusDate: "2020-01-01", TenureMonths: tenure,
		Probability: p, MonthlyValue: value, CLV: clv, ValueAtRisk: p * clv}
}

// handMade is six customers whose cube is worked out by hand below.
func handMade() []serving.Customer {
	return []serving.Customer{
		customer(1, "North", "BASIC", 3, 10.10, 100.01, 0.5),
		customer(2, "North", "BASIC", 13, 20.20, 200.02, 0.1),
		customer(3, "North", "MAX", 60, 0.01, 0.03, 0.3),
		customer(4, "South", "MAX", 61, 30.30, 300.05, 0.2),
		customer(5, "South", "MAX", 0, 0.10, 0.20, 0.4),
		customer(6, "East", "BASIC", 24, 99.99, 999.99, 0.0),
	}
}

func TestComputeHandMade(t *testing.T) {
	snap := open(t, handMade())
	type want struct {
		keys                string // dims joined with "|", "*" rolled up
		count               int64
		valueSum, valueMean float64
		clvSum, churn       float64
	}
	tests := []struct {
		name string
		dims []string
		want []want
	}{
		{"no dims: the grand total", nil, []want{{"", 6, 160.70, 160.70 / 6, 1600.30, 1.5 / 6}}},
		{"region", []string{"region"}, []want{
			{"East", 1, 99.99, 99.99, 999.99, 0},
			{"North", 3, 30.31, 30.31 / 3, 300.06, 0.9 / 3},
			{"South", 2, 30.40, 15.20, 300.25, 0.3},
			{"*", 6, 160.70, 160.70 / 6, 1600.30, 1.5 / 6},
		}},
		{"region × plan", []string{"region", "plan"}, []want{
			{"East|BASIC", 1, 99.99, 99.99, 999.99, 0},
			{"North|BASIC", 2, 30.30, 15.15, 300.03, 0.3},
			{"North|MAX", 1, 0.01, 0.01, 0.03, 0.3},
			{"South|MAX", 2, 30.40, 15.20, 300.25, 0.3},
			{"*|BASIC", 3, 130.29, 130.29 / 3, 1300.02, 0.6 / 3},
			{"*|MAX", 3, 30.41, 30.41 / 3, 300.28, 0.9 / 3},
			{"East|*", 1, 99.99, 99.99, 999.99, 0},
			{"North|*", 3, 30.31, 30.31 / 3, 300.06, 0.9 / 3},
			{"South|*", 2, 30.40, 15.20, 300.25, 0.3},
			{"*|*", 6, 160.70, 160.70 / 6, 1600.30, 1.5 / 6},
		}},
		{"tenure bands", []string{"tenure_band"}, []want{
			{"0-5", 2, 10.20, 5.10, 100.21, 0.45},
			{"12-23", 1, 20.20, 20.20, 200.02, 0.1},
			{"24-35", 1, 99.99, 99.99, 999.99, 0},
			{"60+", 2, 30.31, 30.31 / 2, 300.08, 0.25},
			{"*", 6, 160.70, 160.70 / 6, 1600.30, 1.5 / 6},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cube, err := Compute(snap, Query{Dims: tt.dims, Measures: []string{"count", "monthly_value_sum", "monthly_value_mean", "clv_sum", "churn_rate"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(cube.Cells) != len(tt.want) {
				t.Fatalf("%d cells, want %d: %+v", len(cube.Cells), len(tt.want), cube.Cells)
			}
			for i, w := range tt.want {
				c := cube.Cells[i]
				if got := cellName(&c); got != w.keys {
					t.Errorf("cell %d is %q, want %q", i, got, w.keys)
				}
				// Sums of money are exact: equal to the decimal written above.
				if c.Count != w.count || c.Values[0] != float64(w.count) || c.Values[1] != w.valueSum || c.Values[3] != w.clvSum {
					t.Errorf("cell %s: count %d, value sum %v, clv sum %v, want %d, %v, %v", w.keys, c.Count, c.Values[1], c.Values[3], w.count, w.valueSum, w.clvSum)
				}
				if math.Abs(c.Values[2]-w.valueMean) > 1e-9 || math.Abs(c.Values[4]-w.churn) > 1e-12 {
					t.Errorf("cell %s: value mean %v, churn %v, want %v, %v", w.keys, c.Values[2], c.Values[4], w.valueMean, w.churn)
				}
			}
		})
	}
}

func cellName(c *Cell) string {
	parts := make([]string, len(c.Keys))
	for i, k := range c.Keys {
		parts[i] = k
		if c.IsRolled(i) {
			parts[i] = "*"
		}
	}
	return strings.Join(parts, "|")
}

// TestComputeMatchesBruteForce: for random dimensions and row selections,
// every cell equals a direct group-by over the customers, every grouping
// set's counts and money sums add up to the grand total's, and nothing is
// missing.
func TestComputeMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	cs := make([]serving.Customer, 3000)
	for i := range cs {
		c := customer(i, pick([]string{"North", "South", "East", "West"}), pick([]string{"A", "B", "C"}), int32(rng.IntN(90)),
			math.Round(rng.Float64()*9000)/100, math.Round(rng.Float64()*90000)/100, math.Round(rng.Float64()*100)/100)
		c.Gender, c.AgeBand = pick([]string{"F", "M", "U"}), pick(serving.AgeBands)
		c.Status, c.Lifecycle = pick(serving.Statuses), pick(serving.Lifecycles)
		c.SegmentID, c.PaymentMethod = int32(rng.IntN(5)), pick([]string{"card", "cash"})
		c.VoiceMinutes, c.DataMB, c.Arrears = float64(rng.IntN(600)), rng.Float64()*5000, math.Round(rng.Float64()*3000)/100
		c.ValueTier, c.IncomeBand = pick(serving.Tiers), pick([]string{"A", "B", "C", ""})
		c.Occupation, c.Education = pick([]string{"teacher", "clerk", "retired"}), pick([]string{"secondary", "university"})
		c.District = c.Region + "-" + fmt.Sprint(rng.IntN(3))
		c.BadDebtProbability = rng.Float64() / 4
		cs[i] = c
	}
	snap := open(t, cs)
	stored, err := snap.Customers(context.Background(), allRows(len(cs)))
	if err != nil {
		t.Fatal(err)
	}
	value := func(c *serving.Customer, dim string) string {
		switch dim {
		case "region":
			return c.Region
		case "plan":
			return c.Plan
		case "segment":
			return fmt.Sprint(c.SegmentID)
		case "lifecycle":
			return c.Lifecycle
		case "age_band":
			return c.AgeBand
		case "status":
			return c.Status
		case "gender":
			return c.Gender
		case "payment_method":
			return c.PaymentMethod
		case "value_tier":
			return c.ValueTier
		case "income_band":
			return c.IncomeBand
		case "occupation":
			return c.Occupation
		case "education":
			return c.Education
		case "district":
			return c.District
		case "tenure_band":
			b := 0
			for _, ub := range []int32{6, 12, 24, 36, 60} {
				if c.TenureMonths >= ub {
					b++
				}
			}
			return TenureBands[b]
		}
		t.Fatalf("no brute force for %s", dim)
		return ""
	}
	var names []string
	for _, d := range Dimensions {
		names = append(names, d.Name)
	}
	for trial := range 25 {
		dims := slices.Clone(names)
		rng.Shuffle(len(dims), func(i, j int) { dims[i], dims[j] = dims[j], dims[i] })
		dims = dims[:trial%5]
		var rows []int32
		for r := range cs {
			if trial%2 == 0 || rng.IntN(3) == 0 {
				rows = append(rows, int32(r))
			}
		}
		t.Run(fmt.Sprint(trial, dims), func(t *testing.T) {
			cube, err := Compute(snap, Query{Dims: dims, Rows: rows})
			if err != nil {
				t.Fatal(err)
			}
			type acc struct {
				n                           int64
				value, clv, vr, arrears, ea int64
				p, bd, minutes, data        float64
			}
			brute := map[string]*acc{}
			for _, r := range rows {
				c := &stored[r]
				for mask := 0; mask < 1<<len(dims); mask++ {
					parts := make([]string, len(dims))
					for i, d := range dims {
						parts[i] = value(c, d)
						if mask>>i&1 == 1 {
							parts[i] = "*"
						}
					}
					k := strings.Join(parts, "|")
					a := brute[k]
					if a == nil {
						a = &acc{}
						brute[k] = a
					}
					a.n++
					a.value += serving.ToCents(c.MonthlyValue)
					a.clv += serving.ToCents(c.CLV)
					a.vr += serving.ToCents(c.ValueAtRisk)
					a.arrears += serving.ToCents(c.Arrears)
					// Expected arrears: bad-debt probability × two monthly bills, per customer to the cent.
					a.ea += int64(math.Round(c.BadDebtProbability * 2 * float64(serving.ToCents(c.MonthlyValue))))
					a.p += c.Probability
					a.bd += c.BadDebtProbability
					a.minutes += c.VoiceMinutes
					a.data += c.DataMB
				}
			}
			if len(cube.Cells) != len(brute) {
				t.Errorf("%d cells, brute force %d", len(cube.Cells), len(brute))
			}
			perSet := map[uint8]int64{}
			moneyPerSet := map[uint8]int64{}
			for i := range cube.Cells {
				c := &cube.Cells[i]
				a := brute[cellName(c)]
				if a == nil {
					t.Errorf("cell %s not in the brute force", cellName(c))
					continue
				}
				get := func(name string) float64 { return c.Values[slices.Index(cube.Measures, name)] }
				n := float64(a.n)
				exact := map[string]float64{"count": n, "monthly_value_sum": serving.FromCents(a.value), "clv_sum": serving.FromCents(a.clv),
					"value_at_risk_sum": serving.FromCents(a.vr), "expected_arrears_sum": serving.FromCents(a.ea)}
				for m, w := range exact {
					if got := get(m); got != w {
						t.Errorf("cell %s: %s = %v, want %v", cellName(c), m, got, w)
					}
				}
				near := map[string]float64{"churn_rate": a.p / n, "bad_debt_rate": a.bd / n, "monthly_value_mean": float64(a.value) / 100 / n,
					"voice_minutes_mean": a.minutes / n, "data_mb_mean": a.data / n, "arrears_mean": float64(a.arrears) / 100 / n}
				for m, w := range near {
					if got := get(m); math.Abs(got-w) > 1e-9*max(1, math.Abs(w)) {
						t.Errorf("cell %s: %s = %v, want %v", cellName(c), m, got, w)
					}
				}
				perSet[c.Rolled] += c.Count
				moneyPerSet[c.Rolled] += serving.ToCents(get("monthly_value_sum"))
			}
			total := brute[strings.TrimSuffix(strings.Repeat("*|", len(dims)), "|")]
			if len(perSet) != 1<<len(dims) {
				t.Errorf("%d grouping sets, want %d", len(perSet), 1<<len(dims))
			}
			for set, n := range perSet {
				if n != total.n || moneyPerSet[set] != total.value || cube.Rows != len(rows) {
					t.Errorf("grouping set %b: %d customers, %d cents; total %d, %d cents, %d rows", set, n, moneyPerSet[set], total.n, total.value, len(rows))
				}
			}
		})
	}
}

func allRows(n int) []int32 {
	rows := make([]int32, n)
	for r := range rows {
		rows[r] = int32(r)
	}
	return rows
}

func TestComputeRefuses(t *testing.T) {
	snap := open(t, handMade())
	tests := []struct {
		name string
		q    Query
		want string
	}{
		{"five dims", Query{Dims: []string{"region", "plan", "status", "gender", "lifecycle"}}, "at most 4"},
		{"unknown dim", Query{Dims: []string{"month"}}, "unknown dimension"},
		{"dim twice", Query{Dims: []string{"plan", "plan"}}, "twice"},
		{"unknown measure", Query{Measures: []string{"profit"}}, "unknown measure"},
		{"measure twice", Query{Measures: []string{"count", "count"}}, "twice"},
		{"cells over the cap", Query{Dims: []string{"region", "plan"}, MaxCells: 9}, "too many cells"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compute(snap, tt.q)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Compute(%+v) error %v, want %q", tt.q, err, tt.want)
			}
		})
	}
	if _, err := Compute(snap, Query{Dims: []string{"region", "plan"}, MaxCells: 10}); err != nil {
		t.Errorf("10 cells with MaxCells 10: %v", err)
	}
	if _, err := Compute(snap, Query{Dims: []string{"region", "plan"}, MaxCells: 9}); !errors.Is(err, ErrTooManyCells) {
		t.Errorf("error %v, want ErrTooManyCells", err)
	}
}

func TestComputeNoRows(t *testing.T) {
	snap := open(t, handMade())
	cube, err := Compute(snap, Query{Dims: []string{"region"}, Rows: []int32{}, Measures: []string{"count", "churn_rate"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cube.Cells) != 1 || !cube.Cells[0].IsRolled(0) || cube.Cells[0].Count != 0 || !math.IsNaN(cube.Cells[0].Values[1]) {
		t.Errorf("cube of no rows = %+v, want only the grand total, count 0, mean NaN", cube.Cells)
	}
}

// TestExpectedArrears: one customer's expected arrears by hand, the
// edges (NaN, negative, above 1, negative bills) included, and the cube's
// sum of a hand-made snapshot's.
func TestExpectedArrears(t *testing.T) {
	for _, tc := range []struct {
		p     float64
		cents int64
		want  int64
	}{
		{0.25, 4000, 2000}, // a quarter of two bills of 40.00: 20.00
		{0.333, 1001, 667}, // 666.666 cents, rounded
		{0, 4000, 0},       // no bad-debt model
		{math.NaN(), 4000, 0},
		{-0.2, 4000, 0},
		{1.5, 4000, 8000}, // at most the two bills
		{0.5, -2500, 0},   // a credit is not arrears
	} {
		if got := ExpectedArrearsCents(tc.p, tc.cents); got != tc.want {
			t.Errorf("ExpectedArrearsCents(%v, %d) = %d, want %d", tc.p, tc.cents, got, tc.want)
		}
	}
	cs := handMade()
	var want int64
	for i := range cs {
		cs[i].BadDebtProbability = float64(i%4) / 8
		want += ExpectedArrearsCents(cs[i].BadDebtProbability, serving.ToCents(cs[i].MonthlyValue))
	}
	snap := open(t, cs)
	for range 2 { // the second read is the cached column's
		cube, err := Compute(snap, Query{Measures: []string{"count", "expected_arrears_sum"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := cube.Cells[0].Values[1]; got != serving.FromCents(want) || want == 0 {
			t.Errorf("expected_arrears_sum = %v, want %v", got, serving.FromCents(want))
		}
	}
}
