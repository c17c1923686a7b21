package insight

import (
	"cmp"
	"math"
	"slices"
)

// Report is the lifecycle, causes and tracking report of a scoring run:
// computed by the score function from the lake's tables (the register,
// the feature months, the past runs of crm.scores) and carried in the
// serving snapshot's meta, so the API answers it without reading the
// lake. It holds aggregates only: no subscriber id, name or number.
type Report struct {
	Run     string `json:"run"`
	DataEnd string `json:"data_end"` // the newest register export: the censoring date
	// Survival is the survival of customers from activation, in months
	// (days / 30.436875), grouped by plan, segment, region and cohort.
	Survival    []SurvivalBy       `json:"survival"`
	Transitions []TransitionMatrix `json:"transitions"`
	ValueCurve  []TenureValue      `json:"value_by_tenure"`
	Causes      []CausesBy         `json:"causes"`
	Tracking    Tracking           `json:"tracking"`
}

// DaysPerMonth converts days to months (the mean Gregorian month).
const DaysPerMonth = 30.436875

// SurvivalGroupings are the groupings of Report.Survival.
var SurvivalGroupings = []string{"plan", "segment", "region", "cohort"}

// SurvivalBy is the survival of customers grouped one way.
type SurvivalBy struct {
	By      string          `json:"by"`
	Groups  []SurvivalGroup `json:"groups"`
	LogRank *LogRank        `json:"log_rank,omitempty"`
}

// SurvivalGroup is one group's curve, read at every whole month from 0 to
// the longest observation, with its median lifetime.
type SurvivalGroup struct {
	Group  string   `json:"group"`
	N      int      `json:"customers"`
	Events int      `json:"left"`
	Median Estimate `json:"median_months"`
	Curve  []Point  `json:"curve"`
}

// MinSurvivalGroup is the fewest customers a survival group needs to be
// shown: a smaller group's curve says little, and a tiny cohort could
// point at a person. Smaller groups are pooled as "(other)".
const MinSurvivalGroup = 20

// SurvivalByGroup estimates the curve of each group (keys[i] is obs[i]'s
// group), pooling groups under MinSurvivalGroup into "(other)", and the
// log-rank test between the groups shown.
func SurvivalByGroup(by string, obs []Obs, keys []string) (SurvivalBy, error) {
	grouped := map[string]Tally{}
	for i, o := range obs {
		t := grouped[keys[i]]
		if t == nil {
			t = Tally{}
			grouped[keys[i]] = t
		}
		if err := t.Add(o); err != nil {
			return SurvivalBy{By: by}, err
		}
	}
	return SurvivalByGroupTally(by, grouped)
}

// SurvivalByGroupTally is SurvivalByGroup of the observations counted by
// group (grouped: group → tally), as the parts of a population give them.
func SurvivalByGroupTally(by string, grouped map[string]Tally) (SurvivalBy, error) {
	sb := SurvivalBy{By: by}
	other := Tally{}
	shown := map[string]Tally{}
	var names []string
	for g, t := range grouped {
		if t.N() < MinSurvivalGroup {
			other.Merge(t)
			continue
		}
		shown[g] = t
		names = append(names, g)
	}
	slices.Sort(names)
	if other.N() > 0 {
		names = append(names, "(other)")
		shown["(other)"] = other
	}
	var groups []Tally
	for _, g := range names {
		c, err := KaplanMeierTally(shown[g])
		if err != nil {
			return sb, err
		}
		sg := SurvivalGroup{Group: g, N: c.N, Events: c.Events, Median: c.Median()}
		for m := 0.0; m <= math.Floor(c.MaxT); m++ {
			p, _ := c.At(m)
			sg.Curve = append(sg.Curve, round4(p))
		}
		sb.Groups = append(sb.Groups, sg)
		groups = append(groups, shown[g])
	}
	if len(groups) >= 2 {
		if lr, err := LogRankTally(groups); err == nil {
			sb.LogRank = lr
		} // a singular covariance (no events at all) leaves no test
	}
	return sb, nil
}

func round4(p Point) Point {
	r := func(v float64) float64 { return math.Round(v*1e4) / 1e4 }
	p.Surv, p.Lower, p.Upper = r(p.Surv), r(p.Lower), r(p.Upper)
	return p
}

// Stages of the transition matrix: the scoring run's lifecycle stages,
// with "joined" (no feature row the month before) as a source only and
// "lost" (deactivated) as a destination only, and "unknown" for a
// customer absent the next month without a deactivation.
var (
	FromStages = []string{"joined", "new", "established", "loyal", "suspended"}
	ToStages   = []string{"new", "established", "loyal", "suspended", "lost", "unknown"}
)

// Move is one customer's stage in one month and the next.
type Move struct{ From, To string }

// TransitionMatrix counts customers by stage in one month (rows) and the
// next (columns); Shares are row shares.
type TransitionMatrix struct {
	From   string      `json:"from_month"`
	To     string      `json:"to_month"`
	Rows   []string    `json:"rows"`
	Cols   []string    `json:"cols"`
	Counts [][]int     `json:"counts"`
	Shares [][]float64 `json:"shares"`
}

// Transitions builds the matrix of moves from month from to month to.
// Moves with a stage outside FromStages / ToStages are counted under the
// nearest: none are expected.
func Transitions(from, to string, moves []Move) TransitionMatrix {
	counts := NewMoveCounts()
	for _, mv := range moves {
		counts.Add(mv.From, mv.To)
	}
	return TransitionsOf(from, to, counts)
}

// MoveCounts counts moves by stage index (FromStages × ToStages): the
// counts of parts of the customers add up (Merge) to the whole's.
type MoveCounts [][]int

// NewMoveCounts is a matrix of no moves.
func NewMoveCounts() MoveCounts {
	m := make(MoveCounts, len(FromStages))
	for i := range m {
		m[i] = make([]int, len(ToStages))
	}
	return m
}

// Add counts one move; stages outside FromStages / ToStages are not
// counted.
func (m MoveCounts) Add(from, to string) {
	i, j := slices.Index(FromStages, from), slices.Index(ToStages, to)
	if i < 0 || j < 0 {
		return
	}
	m[i][j]++
}

// Merge adds the counts of o (of the same shape).
func (m MoveCounts) Merge(o MoveCounts) {
	for i := range min(len(m), len(o)) {
		for j := range min(len(m[i]), len(o[i])) {
			m[i][j] += o[i][j]
		}
	}
}

// TransitionsOf is the matrix of counted moves from month from to month
// to.
func TransitionsOf(from, to string, counts MoveCounts) TransitionMatrix {
	m := TransitionMatrix{From: from, To: to, Rows: FromStages, Cols: ToStages}
	m.Counts = make([][]int, len(FromStages))
	m.Shares = make([][]float64, len(FromStages))
	for i := range m.Counts {
		m.Counts[i] = make([]int, len(ToStages))
		m.Shares[i] = make([]float64, len(ToStages))
		if i < len(counts) {
			copy(m.Counts[i], counts[i])
		}
	}
	for i, row := range m.Counts {
		n := 0
		for _, c := range row {
			n += c
		}
		for j, c := range row {
			if n > 0 {
				m.Shares[i][j] = math.Round(float64(c)/float64(n)*1e4) / 1e4
			}
		}
	}
	return m
}

// TenureValue is the lifecycle curve at one tenure month: customers with a
// feature row at that tenure, their mean monthly bill and mean usage.
type TenureValue struct {
	Tenure      int     `json:"tenure_months"`
	Customers   int     `json:"customers"`
	MeanValue   float64 `json:"mean_monthly_value"`
	MeanMinutes float64 `json:"mean_voice_minutes"`
}

// TenureRow is one feature row for the value curve.
type TenureRow struct {
	Tenure         int
	Value, Minutes float64 // NaN value: no bill, left out of the mean
}

// ValueByTenure averages rows by tenure month (ValueCurve.Add each).
func ValueByTenure(rows []TenureRow) []TenureValue {
	var vc ValueCurve
	for _, r := range rows {
		vc.Add(r.Tenure, r.Value, r.Minutes)
	}
	return vc.Values()
}

// ValueCurve accumulates feature rows by tenure month in constant memory
// per tenure. Its sums are exact (Fixed: each value rounded to 10^-9,
// money to the cent kept exactly), so the curves of parts of the rows
// add up (Merge) to the whole's, whatever the order. The zero value is
// ready; its fields are exported for gob.
type ValueCurve struct {
	By map[int]*TenureSums
}

// TenureSums are one tenure month's rows: how many, how many with a bill,
// and the sums of bills and minutes.
type TenureSums struct {
	N, NV          int
	Value, Minutes Fixed
}

// Add counts one feature row: its tenure, bill (NaN: none) and minutes.
func (vc *ValueCurve) Add(tenure int, value, minutes float64) {
	a := vc.at(tenure)
	a.N++
	if !math.IsNaN(minutes) && !math.IsInf(minutes, 0) {
		a.Minutes.add(toFixed(minutes))
	}
	if !math.IsNaN(value) && !math.IsInf(value, 0) {
		a.NV++
		a.Value.add(toFixed(value))
	}
}

func (vc *ValueCurve) at(tenure int) *TenureSums {
	if vc.By == nil {
		vc.By = map[int]*TenureSums{}
	}
	a := vc.By[tenure]
	if a == nil {
		a = &TenureSums{}
		vc.By[tenure] = a
	}
	return a
}

// Merge adds the rows of o.
func (vc *ValueCurve) Merge(o ValueCurve) {
	for t, b := range o.By {
		a := vc.at(t)
		a.N += b.N
		a.NV += b.NV
		a.Value.plus(b.Value)
		a.Minutes.plus(b.Minutes)
	}
}

// Values is the curve, tenure by tenure; tenures with fewer than
// MinSurvivalGroup rows are left out.
func (vc *ValueCurve) Values() []TenureValue {
	out := []TenureValue{}
	for t, a := range vc.By {
		if a.N < MinSurvivalGroup {
			continue
		}
		tv := TenureValue{Tenure: t, Customers: a.N, MeanMinutes: math.Round(a.Minutes.Float()/float64(a.N)*10) / 10}
		if a.NV > 0 {
			tv.MeanValue = math.Round(a.Value.Float()/float64(a.NV)*100) / 100
		}
		out = append(out, tv)
	}
	slices.SortFunc(out, func(x, y TenureValue) int { return cmp.Compare(x.Tenure, y.Tenure) })
	return out
}
