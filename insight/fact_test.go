package insight

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// event is one call of the brute force: who, when, what kind, for how long.
type event struct {
	sub                        int
	month, hour, dayType, kind string
	gender, ageBand, income    string
	minutes                    float64
}

// usageFact stores events the way crm.usage_cube does: every grouping of
// hour, day_type and call_kind, with exact distinct subscribers per row.
func usageFact(t testing.TB, evs []event) *Fact {
	t.Helper()
	type key [7]string
	type val struct {
		calls, minutes float64
		subs           map[int]bool
		grouping       uint8
	}
	rows := map[key]*val{}
	var keys []key
	for _, e := range evs {
		for g := range uint8(8) {
			k := key{e.month, e.hour, e.dayType, e.kind, e.gender, e.ageBand, e.income}
			for b := range 3 {
				if g>>b&1 == 1 {
					k[1+b] = ""
				}
			}
			v := rows[k]
			if v == nil {
				v = &val{subs: map[int]bool{}, grouping: g}
				rows[k] = v
				keys = append(keys, k)
			}
			v.calls++
			v.minutes += e.minutes
			v.subs[e.sub] = true
		}
	}
	f := NewFact(UsageCubeSpec)
	for _, k := range keys {
		v := rows[k]
		if err := f.Append(k[:], v.grouping, []float64{v.calls, v.minutes, float64(len(v.subs))}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func randomEvents(r *rand.Rand, n int) []event { return randomEventsN(r, n, 40, 2, false) }

// randomEventsN draws n calls of nSubs subscribers over the first nMonths
// months of 2026-05 … 2026-11; wide: every hour of the day and every
// demographic value (for benchmarks), else a few.
func randomEventsN(r *rand.Rand, n, nSubs, nMonths int, wide bool) []event {
	type demo struct{ gender, age, income string }
	genders, ages, incomes := []string{"F", "M"}, []string{"18-24", "25-34", "35-44"}, []string{"A", "B", "C"}
	hours := 4
	if wide {
		genders, ages, incomes = []string{"F", "M", "U", "X"}, []string{"18-24", "25-34", "35-44", "45-54", "55-64", "65+"}, []string{"A", "B", "C", "D", "E"}
		hours = 24
	}
	subs := make([]demo, nSubs)
	for i := range subs {
		subs[i] = demo{genders[r.IntN(len(genders))], ages[r.IntN(len(ages))], incomes[r.IntN(len(incomes))]}
	}
	evs := make([]event, n)
	for i := range evs {
		s := r.IntN(len(subs))
		evs[i] = event{sub: s, month: []string{"2026-05-01", "2026-06-01", "2026-07-01", "2026-08-01", "2026-09-01", "2026-10-01", "2026-11-01"}[r.IntN(nMonths)], hour: fmt.Sprintf("%02d", r.IntN(hours)),
			dayType: []string{"weekday", "weekend"}[r.IntN(2)], kind: []string{"local", "long_distance", "roaming"}[r.IntN(3)],
			gender: subs[s].gender, ageBand: subs[s].age, income: subs[s].income, minutes: float64(r.IntN(20))}
	}
	return evs
}

func (e event) value(dim string) string {
	switch dim {
	case "month":
		return e.month
	case "hour":
		return e.hour
	case "day_type":
		return e.dayType
	case "call_kind":
		return e.kind
	case "gender":
		return e.gender
	case "age_band":
		return e.ageBand
	}
	return e.income
}

// TestComputeFactMatchesBruteForce: random dims and filters over a stored
// usage cube; every cell (subtotals and total included) against a plain
// loop over the calls. Calls and minutes must match; distinct subscribers
// must be exact wherever the cube gives a number, and be missing exactly
// where it cannot be known from the stored rows (several months, or
// several filtered values of a rolled-up hour, day type or call kind).
func TestComputeFactMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 2))
	evs := randomEvents(r, 900)
	f := usageFact(t, evs)
	for trial := range 150 {
		dims := slices.Clone(UsageCubeSpec.Dims)
		r.Shuffle(len(dims), func(i, j int) { dims[i], dims[j] = dims[j], dims[i] })
		dims = dims[:r.IntN(MaxDims+1)]
		filter := map[string][]string{}
		for _, d := range UsageCubeSpec.Dims {
			if r.IntN(4) != 0 {
				continue
			}
			vals := f.Values(d)
			r.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
			filter[d] = vals[:1+r.IntN(len(vals))]
		}
		name := fmt.Sprintf("%d dims=%v filter=%v", trial, dims, filter)
		c, err := ComputeFact(f, FactQuery{Dims: dims, Filter: filter})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		type want struct {
			calls, minutes float64
			subs           map[int]bool
			months         map[string]bool
		}
		brute := map[string]*want{}
		for _, e := range evs {
			ok := true
			for d, vals := range filter {
				ok = ok && slices.Contains(vals, e.value(d))
			}
			if !ok {
				continue
			}
			for mask := range 1 << len(dims) {
				k := fmt.Sprint(mask)
				for i, d := range dims {
					if mask>>i&1 == 0 {
						k += "|" + e.value(d)
					} else {
						k += "|"
					}
				}
				w := brute[k]
				if w == nil {
					w = &want{subs: map[int]bool{}, months: map[string]bool{}}
					brute[k] = w
				}
				w.calls++
				w.minutes += e.minutes
				w.subs[e.sub] = true
				w.months[e.month] = true
			}
		}
		cells := 0
		for _, cell := range c.Cells {
			k := fmt.Sprint(cell.Rolled)
			for i := range dims {
				k += "|" + cell.Keys[i]
			}
			w := brute[k]
			if w == nil {
				if cell.Rolled == uint8(1<<len(dims)-1) && cell.Values[0] == 0 {
					continue // the grand total of nothing
				}
				t.Fatalf("%s: cell %s not in the brute force", name, k)
			}
			cells++
			if cell.Values[0] != w.calls || cell.Values[1] != w.minutes {
				t.Errorf("%s: cell %s calls, minutes = %v, %v; want %v, %v", name, k, cell.Values[0], cell.Values[1], w.calls, w.minutes)
			}
			// Is the distinct count knowable from the stored rows?
			knowable := true
			monthFree := false
			for i, d := range dims {
				if d == "month" && !cell.IsRolled(i) {
					monthFree = true
				}
			}
			if !monthFree && len(w.months) > 1 {
				knowable = false
			}
			for _, d := range UsageCubeSpec.Rollable {
				i := slices.Index(dims, d)
				rolled := i < 0 || cell.IsRolled(i)
				if rolled && len(filter[d]) > 1 {
					knowable = false
				}
			}
			got := cell.Values[2]
			switch {
			case knowable && got != float64(len(w.subs)):
				t.Errorf("%s: cell %s subscribers = %v, want %d", name, k, got, len(w.subs))
			case !knowable && !math.IsNaN(got):
				t.Errorf("%s: cell %s subscribers = %v, want unknown (NaN)", name, k, got)
			}
		}
		if cells != len(brute) {
			t.Errorf("%s: %d cells, brute force %d", name, cells, len(brute))
		}
	}
}

// TestComputeFactSubtotals checks one small cube by hand: two subscribers,
// three calls, the subtotals of call_kind × day_type.
func TestComputeFactSubtotals(t *testing.T) {
	evs := []event{
		{sub: 1, month: "m", hour: "9", dayType: "weekday", kind: "local", gender: "F", ageBand: "25-34", income: "A", minutes: 2},
		{sub: 1, month: "m", hour: "20", dayType: "weekend", kind: "roaming", gender: "F", ageBand: "25-34", income: "A", minutes: 3},
		{sub: 2, month: "m", hour: "9", dayType: "weekday", kind: "local", gender: "M", ageBand: "25-34", income: "B", minutes: 5},
	}
	c, err := ComputeFact(usageFact(t, evs), FactQuery{Dims: []string{"call_kind", "day_type"}, Measures: []string{"calls", "subscribers", "minutes_per_subscriber"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, cell := range c.Cells {
		got = append(got, fmt.Sprintf("%d %s/%s %v", cell.Rolled, cell.Keys[0], cell.Keys[1], cell.Values))
	}
	want := []string{
		"0 local/weekday [2 2 3.5]",
		"0 roaming/weekend [1 1 3]",
		"1 /weekday [2 2 3.5]",
		"1 /weekend [1 1 3]",
		"2 local/ [2 2 3.5]",
		"2 roaming/ [1 1 3]",
		"3 / [3 2 5]", // two subscribers, not 1 + 2
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("cube\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
