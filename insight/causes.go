package insight

import (
	"cmp"
	"slices"
	"strings"
)

// Churn causes: how often each reason leads. A scored customer's reasons
// are the model's strongest contributions to its risk; the first is the
// leading one. Two populations are counted: the customers at risk now
// (AtRiskShare of the run, the top by probability), and the customers who
// actually left in a month, by the leading reason of the last score before
// they left.

// AtRiskShare is the share of a run's scored customers counted as at
// risk: the top decile by churn probability, the list the retention team
// works (the model is judged by its lift there).
const AtRiskShare = 0.10

// Reasoned is one customer with a group (region, plan or segment) and its
// leading reason ("" when the score gave none).
type Reasoned struct {
	Group  string
	Reason string
}

// ReasonShare is one reason's count and share within a group.
type ReasonShare struct {
	Reason    string  `json:"reason"`
	Customers int     `json:"customers"`
	Share     float64 `json:"share"`
}

// CauseGroup is a group's customers and their leading reasons, most
// frequent first.
type CauseGroup struct {
	Group     string        `json:"group"`
	Customers int           `json:"customers"`
	Reasons   []ReasonShare `json:"reasons"`
}

// noReason names customers whose score gave no reason.
const noReason = "(none)"

// CountReasons counts leading reasons: first over all items (group
// "all"), then per group, groups by size then name.
func CountReasons(items []Reasoned) []CauseGroup {
	rc := ReasonCounts{}
	for _, it := range items {
		rc.Add(it.Group, it.Reason)
	}
	return rc.Groups()
}

// ReasonCounts are leading reasons counted by group (group → reason →
// customers): what CountReasons counts, kept as counts so that the
// counts of parts of the customers add up (Merge) to the whole's.
type ReasonCounts map[string]map[string]int

// Add counts one customer of group with its leading reason.
func (rc ReasonCounts) Add(group, reason string) {
	if reason == "" {
		reason = noReason
	}
	if rc[group] == nil {
		rc[group] = map[string]int{}
	}
	rc[group][reason]++
}

// Merge adds the counts of o.
func (rc ReasonCounts) Merge(o ReasonCounts) {
	for g, rs := range o {
		if rc[g] == nil {
			rc[g] = map[string]int{}
		}
		for r, n := range rs {
			rc[g][r] += n
		}
	}
}

// Groups is CountReasons' answer for the customers counted.
func (rc ReasonCounts) Groups() []CauseGroup {
	all := map[string]int{}
	sizes := map[string]int{}
	total := 0
	for g, rs := range rc {
		for r, n := range rs {
			all[r] += n
			sizes[g] += n
			total += n
		}
	}
	out := []CauseGroup{shares("all", total, all)}
	var names []string
	for g := range rc {
		names = append(names, g)
	}
	slices.SortFunc(names, func(x, y string) int { return cmp.Or(cmp.Compare(sizes[y], sizes[x]), cmp.Compare(x, y)) })
	for _, g := range names {
		out = append(out, shares(g, sizes[g], rc[g]))
	}
	return out
}

func shares(group string, n int, counts map[string]int) CauseGroup {
	cg := CauseGroup{Group: group, Customers: n, Reasons: []ReasonShare{}}
	for r, c := range counts {
		cg.Reasons = append(cg.Reasons, ReasonShare{Reason: r, Customers: c, Share: float64(c) / float64(n)})
	}
	slices.SortFunc(cg.Reasons, func(x, y ReasonShare) int {
		return cmp.Or(cmp.Compare(y.Customers, x.Customers), cmp.Compare(x.Reason, y.Reason))
	})
	return cg
}

// TopShareThreshold is the probability at or above which the top share of
// probs lies (the smallest probability of the top ⌈share·n⌉).
func TopShareThreshold(probs []float64, share float64) float64 {
	if len(probs) == 0 {
		return 1
	}
	s := slices.Clone(probs)
	slices.Sort(s)
	return s[TopShareIndex(len(s), share)]
}

// TopShareIndex is where TopShareThreshold's answer is among n (n > 0)
// probabilities sorted ascending: a caller that selects it without
// sorting (scoring's commit, by histogram) gets the same threshold.
func TopShareIndex(n int, share float64) int {
	k := int(float64(n)*share + 0.999999)
	return n - max(1, min(k, n))
}

// CausesBy is the causes report for one grouping.
type CausesBy struct {
	By string `json:"by"`
	// AtRisk counts the at-risk customers of the run; Threshold is the
	// probability they reach.
	Threshold float64      `json:"threshold"`
	AtRisk    []CauseGroup `json:"at_risk"`
	// Left is, month by month, the customers who left and the leading
	// reason of their last score before they left (only those a run had
	// scored).
	Left []LeftMonth `json:"left"`
}

// LeftMonth is the leavers of one month.
type LeftMonth struct {
	Month  string       `json:"month"`
	Left   int          `json:"left"`   // deactivated in the month
	Scored int          `json:"scored"` // of them, scored before they left
	Groups []CauseGroup `json:"groups"`
}

// CauseOf is the cause a reason phrase names, without the customer's own
// value: "many service calls (5)" → "many service calls"; "Plan: basic"
// stays as it is.
func CauseOf(reason string) string {
	if i := strings.LastIndex(reason, " ("); i > 0 && strings.HasSuffix(reason, ")") {
		return reason[:i]
	}
	return reason
}
