package forecast

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/telcolake/telcolake/lake"
)

// PlanChange is one subscriber's move to another plan as the register
// shows it: Month is the first month-end snapshot on the new plan (the one
// before showed the old), the prices are the plans' prices (PlanPrices),
// ChangePct the new price against the old (%), and Churned whether the
// subscriber was deactivated within the horizon after Month.
type PlanChange struct {
	SubscriberID       string
	Month              time.Time
	OldPlan, NewPlan   string
	OldPrice, NewPrice float64
	ChangePct          float64
	Churned            bool
}

// PriceStudy is what the register's history says about price and churn:
// the plan changes, and per plan the subscriber-months of customers who
// kept their plan (the unchanged price), each followed over Horizon months.
type PriceStudy struct {
	Horizon int
	// From and To are the first and last month an observation starts in.
	From, To time.Time
	Prices   map[string]float64 // per plan, PlanPrices
	Changes  []PlanChange
	// Stayers counts, per plan, the subscriber-months of customers on it
	// who had not changed plan, and how many of them left within Horizon.
	Stayers map[string]PriceCell
	// Unpriced counts plan changes left out because a plan had no price.
	Unpriced int
}

// PlanPrices reads crm.bills: each plan's price is its most frequent gross
// bill (amount due plus discount, to the cent), the fee of a month
// without chargeable usage; ties go to the lower amount. The lake has no
// plan catalogue, so this is the price as billed.
func PlanPrices(ctx context.Context, tables lake.TableLoader) (map[string]float64, error) {
	counts := map[string]map[int64]int{}
	for b, err := range lake.Scan(ctx, tables, lake.BillsTable, lake.Select("plan", "amount_due", "discount")) {
		if err != nil {
			return nil, fmt.Errorf("forecast: read crm.bills: %w", err)
		}
		plan, due, disc := b.String("plan"), b.Money("amount_due", 2), b.Money("discount", 2)
		if err := b.Err(); err != nil {
			return nil, fmt.Errorf("forecast: read crm.bills: %w", err)
		}
		for i := range b.Len() {
			c := counts[plan.Value(i)]
			if c == nil {
				c = map[int64]int{}
				counts[strings.Clone(plan.Value(i))] = c
			}
			c[due.Value(i)+disc.Value(i)]++
		}
	}
	out := make(map[string]float64, len(counts))
	for plan, c := range counts {
		best, bestN := int64(0), 0
		for v, n := range c {
			if v > 0 && (n > bestN || (n == bestN && v < best)) {
				best, bestN = v, n
			}
		}
		if bestN > 0 {
			out[plan] = float64(best) / 100
		}
	}
	return out, nil
}

// snap is one subscriber's register row of one month.
type snap struct {
	month  int32 // months since 1970-01
	export int32 // export date, days since 1970-01-01
	plan   int32 // index into the interned plan codes
	status uint8
}

const (
	stActive uint8 = iota
	stSuspended
	stDeactivated
)

// StudyPlanChanges reads the register's history (crm.subscribers, through
// lake.ScanSubscribers) and the plans' prices (crm.bills): every
// subscriber-month whose month-end snapshot and the one before show the
// customer active, and whose snapshot horizon months later is in the
// lake, is one observation. It is a plan change when the plan differs
// from the month before (the subscriber's first change in the lake; later
// months of a subscriber who changed are left out), else an unchanged
// price for the plan. Churned means deactivated by the snapshot horizon
// months later. Memory: one small row per subscriber and month.
func StudyPlanChanges(ctx context.Context, tables lake.TableLoader, horizon int) (*PriceStudy, error) {
	if horizon < 1 {
		return nil, fmt.Errorf("forecast: plan changes: horizon %d, want at least 1", horizon)
	}
	prices, err := PlanPrices(ctx, tables)
	if err != nil {
		return nil, err
	}
	var codes []string
	index := map[string]int32{}
	subs := map[string][]snap{}
	var newestMonth int32
	_, err = lake.ScanSubscribers(ctx, tables, lake.SubscriberScan{}, func(r *lake.SubscriberRow) error {
		k, ok := index[r.Plan]
		if !ok {
			k = int32(len(codes))
			index[r.Plan] = k
			codes = append(codes, r.Plan)
		}
		st := stActive
		switch r.Status {
		case "deactivated":
			st = stDeactivated
		case "suspended":
			st = stSuspended
		}
		m := monthOfDay(r.ExportDate)
		newestMonth = max(newestMonth, m)
		subs[r.ID] = append(subs[r.ID], snap{month: m, export: r.ExportDate, plan: k, status: st})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("forecast: plan changes: %w", err)
	}
	study := &PriceStudy{Horizon: horizon, Prices: prices, Stayers: map[string]PriceCell{}}
	var first, last int32 = math.MaxInt32, math.MinInt32
	for id, ss := range subs {
		// Month order; of two exports in one month the newer counts.
		slices.SortFunc(ss, func(a, b snap) int { return cmp.Or(cmp.Compare(a.month, b.month), cmp.Compare(a.export, b.export)) })
		j := 0
		for _, x := range ss {
			if j > 0 && ss[j-1].month == x.month {
				j--
			}
			ss[j] = x
			j++
		}
		ss = ss[:j]
		at := func(m int32) (snap, bool) {
			i, ok := slices.BinarySearchFunc(ss, m, func(s snap, m int32) int { return cmp.Compare(s.month, m) })
			if !ok {
				return snap{}, false
			}
			return ss[i], true
		}
		for k := 1; k < len(ss); k++ {
			prev, cur := ss[k-1], ss[k]
			if cur.status == stDeactivated {
				break
			}
			if prev.month != cur.month-1 || prev.status != stActive || cur.status != stActive || cur.month+int32(horizon) > newestMonth {
				continue
			}
			later, ok := at(cur.month + int32(horizon))
			if !ok {
				continue
			}
			churned := later.status == stDeactivated
			first, last = min(first, cur.month), max(last, cur.month)
			if cur.plan == prev.plan {
				c := study.Stayers[codes[cur.plan]]
				c.N++
				if churned {
					c.Churned++
				}
				study.Stayers[codes[cur.plan]] = c
				continue
			}
			old, nw := codes[prev.plan], codes[cur.plan]
			po, pn := prices[old], prices[nw]
			if po > 0 && pn > 0 {
				study.Changes = append(study.Changes, PlanChange{SubscriberID: id, Month: monthTime(cur.month), OldPlan: old, NewPlan: nw,
					OldPrice: po, NewPrice: pn, ChangePct: 100 * (pn/po - 1), Churned: churned})
			} else {
				study.Unpriced++
			}
			break // the first change only: afterwards the customer is on a changed price
		}
	}
	if first <= last {
		study.From, study.To = monthTime(first), monthTime(last)
	}
	slices.SortFunc(study.Changes, func(a, b PlanChange) int {
		return cmp.Or(a.Month.Compare(b.Month), cmp.Compare(a.SubscriberID, b.SubscriberID))
	})
	return study, nil
}

func monthOfDay(day int32) int32 {
	t := time.Unix(int64(day)*86400, 0).UTC()
	return int32((t.Year()-1970)*12 + int(t.Month()) - 1)
}

func monthTime(m int32) time.Time {
	return time.Date(1970+int(m)/12, time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC)
}

// MinPlanChanges is how many plan changes away from a plan its own
// elasticity needs; a plan with fewer uses the overall one.
const MinPlanChanges = 100

// minOverallChanges is how many plan changes a plan needs to join the
// overall estimate.
const minOverallChanges = 30

// PlanElasticity is the churn elasticity of price a price scenario of
// Plan uses: the plan's own, or the overall one (Plan OverallPlan).
type PlanElasticity struct {
	Plan     string   `json:"plan"`
	Estimate Estimate `json:"estimate"`
	SE       float64  `json:"se"`
	Changes  int      `json:"changes"` // plan changes behind the estimate; the plan's own for a plan on the overall one
	Own      bool     `json:"own"`     // the plan's own estimate, not the overall one
}

// OverallPlan names the overall elasticity.
const OverallPlan = "all"

// Elasticities estimates the churn elasticity of price from s: per plan
// from the changes away from it against its customers who kept it
// (ElasticityCells, the stayers as the unchanged price) when it has at
// least MinPlanChanges changes; overall as the inverse-variance weighted
// mean of the plans' estimates with at least minOverallChanges changes
// (plans differ in their churn at an unchanged price, so the changes are
// not pooled into one line). A plan below MinPlanChanges gets the overall
// estimate. Every plan seen in the study gets a row; notes say what could
// not be estimated. No overall estimate (no plan with enough changes): no
// rows, and the note says why.
func Elasticities(s *PriceStudy) ([]PlanElasticity, []string) {
	byPlan := map[string]map[float64]*PriceCell{}
	changes := map[string]int{}
	for _, c := range s.Changes {
		m := byPlan[c.OldPlan]
		if m == nil {
			m = map[float64]*PriceCell{}
			byPlan[c.OldPlan] = m
		}
		x := math.Round(c.ChangePct*100) / 100
		cell := m[x]
		if cell == nil {
			cell = &PriceCell{ChangePct: x}
			m[x] = cell
		}
		cell.N++
		if c.Churned {
			cell.Churned++
		}
		changes[c.OldPlan]++
	}
	plans := make([]string, 0, len(s.Stayers))
	for p := range s.Stayers {
		plans = append(plans, p)
	}
	for p := range byPlan {
		if _, ok := s.Stayers[p]; !ok {
			plans = append(plans, p)
		}
	}
	slices.Sort(plans)
	var notes []string
	own := map[string]PlanElasticity{}
	var sw, swe float64
	var pooled int
	for _, p := range plans {
		if changes[p] < minOverallChanges {
			continue
		}
		cells := []PriceCell{s.Stayers[p]}
		for _, c := range byPlan[p] {
			cells = append(cells, *c)
		}
		slices.SortFunc(cells, func(a, b PriceCell) int { return cmp.Compare(a.ChangePct, b.ChangePct) })
		e, err := ElasticityCells(cells)
		if err != nil {
			notes = append(notes, fmt.Sprintf("plan %s: %s", p, strings.TrimPrefix(err.Error(), "forecast: elasticity: ")))
			continue
		}
		se := (e.Hi - e.Lo) / (2 * z95)
		if !(se > 0) {
			continue
		}
		sw += 1 / (se * se)
		swe += e.Value / (se * se)
		pooled += changes[p]
		if changes[p] >= MinPlanChanges {
			e.Source = fmt.Sprintf("estimated from %d plan changes away from %s against its %d customer-months at an unchanged price, churn within %d months (OLS, HC1, delta method)",
				changes[p], p, s.Stayers[p].N, s.Horizon)
			own[p] = PlanElasticity{Plan: p, Estimate: e, SE: se, Changes: changes[p], Own: true}
		}
	}
	if sw == 0 {
		return nil, append(notes, fmt.Sprintf("no elasticity: %d plan change(s) in the register, no plan with at least %d priced changes and churn at an unchanged price",
			len(s.Changes), minOverallChanges))
	}
	v := swe / sw
	se := math.Sqrt(1 / sw)
	overall := PlanElasticity{Plan: OverallPlan, SE: se, Changes: pooled, Estimate: Estimate{Value: v, Lo: v - z95*se, Hi: v + z95*se,
		Source: fmt.Sprintf("estimated from %d plan changes, all plans (the plans' estimates weighted by their precision), churn within %d months", pooled, s.Horizon)}}
	out := []PlanElasticity{overall}
	for _, p := range plans {
		if e, ok := own[p]; ok {
			out = append(out, e)
			continue
		}
		e := overall
		e.Plan, e.Own, e.Changes = p, false, changes[p]
		e.Estimate.Source = fmt.Sprintf("%s; plan %s has %d plan changes (under %d), so the overall estimate is used", overall.Estimate.Source, p, changes[p], MinPlanChanges)
		out = append(out, e)
	}
	return out, notes
}

// MeasureElasticity and KindElasticity mark the elasticity rows of
// crm.forecasts: one per plan (dim plan) and the overall one (dim total,
// group all), month the newest known month, value the elasticity with its
// 80% and 95% intervals, method own or overall, note the source.
const (
	MeasureElasticity = "elasticity"
	KindElasticity    = "elasticity"
)

// elasticityRows are res's elasticities as crm.forecasts rows.
func (res *Result) elasticityRows() []Row {
	var out []Row
	for _, e := range res.Elasticities {
		v := e.Estimate.Value
		lo80, hi80, lo95, hi95 := v-z80*e.SE, v+z80*e.SE, e.Estimate.Lo, e.Estimate.Hi
		r := Row{Dim: "plan", Group: e.Plan, Measure: MeasureElasticity, Kind: KindElasticity, Method: "own", Month: res.To,
			Value: v, Lo80: &lo80, Hi80: &hi80, Lo95: &lo95, Hi95: &hi95, Note: e.Estimate.Source}
		if e.Plan == OverallPlan {
			r.Dim, r.Group = "total", TotalGroup
		}
		if !e.Own {
			r.Method = "overall"
		}
		out = append(out, r)
	}
	return out
}

// ElasticityFor is the churn elasticity of price the stored forecast run
// has for plan: the plan's own estimate or the overall one; false when
// the run has none.
func ElasticityFor(st *Stored, plan string) (Estimate, bool) {
	var overall *Row
	for i := range st.Rows {
		r := &st.Rows[i]
		if r.Measure != MeasureElasticity || r.Kind != KindElasticity || r.Lo95 == nil || r.Hi95 == nil {
			continue
		}
		if r.Dim == "plan" && r.Group == plan {
			return Estimate{Value: r.Value, Lo: *r.Lo95, Hi: *r.Hi95, Source: r.Note}, true
		}
		if r.Dim == "total" {
			overall = r
		}
	}
	if overall == nil {
		return Estimate{}, false
	}
	return Estimate{Value: overall.Value, Lo: *overall.Lo95, Hi: *overall.Hi95,
		Source: overall.Note + "; plan " + plan + " has no estimate of its own"}, true
}
