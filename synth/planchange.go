package synth

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/klauspost/compress/gzip"
)

// Plan changes: some postpaid subscribers move to a dearer or a cheaper
// postpaid plan during the window, with a planted effect of the price
// difference on their churn.
//
//   - who and when: each postpaid subscriber, in each month after the
//     first, changes with chance Config.PlanChangeRate/12 (at most once in
//     the window); the change takes effect on the month's first day, so
//     that month's bill, CDR charges and end-of-month snapshot follow the
//     new plan;
//   - where to: an upgrade with chance planUpShare (a downgrade otherwise,
//     or the only direction the plan has), to the neighbouring plan by
//     price, one further with chance planSkipShare; prepaid ↔ postpaid
//     moves are not planted (they would change payment method and credit);
//   - the effect: from the month after the change the monthly churn
//     hazard h becomes h·(1 + PlantedElasticity·x/100) for a fee change of
//     x%, kept within [0, 1]; nothing else about the subscriber changes
//     (the old plan's churn log-odds stay, being who chose it).
//
// A subscriber who leaves, or is suspended, by the change month's end
// never changes. The changes are drawn from their own random stream
// (streamPlanChange) before churn; the churn draws use the same random
// numbers as without changes, so other subscribers' data is unchanged.
// PlanChangeTruthKey lists the changes with the planted elasticity.
const (
	// DefaultPlanChangeRate is the yearly share of postpaid subscribers
	// who change plan when Config.PlanChangeRate is 0.
	DefaultPlanChangeRate = 0.08
	// PlantedElasticity is the planted % change of the monthly churn
	// hazard per 1% fee change.
	PlantedElasticity = 1.0
	planUpShare       = 0.6
	planSkipShare     = 0.1
)

// streamPlanChange is the random stream of the plan changes.
const streamPlanChange uint64 = 0x91a7c4

// PlanChangeTruthKey is where Generate writes the plan changes' ground
// truth when Config.Truth is set.
const PlanChangeTruthKey = "truth/elasticity.csv.gz"

// PlanChangeTruthColumns is the header of PlanChangeTruthKey: one row per
// plan change; month is the first month on the new plan, price_change_pct
// the fee difference, hazard_factor what the monthly hazard was multiplied
// by from the month after, elasticity the planted one.
var PlanChangeTruthColumns = []string{"subscriber_id", "month", "old_plan", "new_plan", "price_change_pct", "hazard_factor", "elasticity"}

// postpaidByFee lists the postpaid plans by fee.
var postpaidByFee = func() []uint8 {
	var out []uint8
	for i := range plans {
		if i != planPrepaid {
			out = append(out, uint8(i))
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && plans[out[j]].fee < plans[out[j-1]].fee; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}()

// drawPlanChanges picks who changes plan, when and to which plan.
func (g *generator) drawPlanChanges() {
	rate := g.cfg.PlanChangeRate
	if rate == 0 {
		rate = DefaultPlanChangeRate
	}
	if rate < 0 {
		return
	}
	p := min(1, rate/12)
	for i := range g.subs {
		s := &g.subs[i]
		if s.plan == planPrepaid {
			continue
		}
		r := newRand(g.cfg.Seed, streamPlanChange, uint64(i), 0)
		for c := 1; c < g.cfg.Months; c++ {
			if r.Float64() >= p {
				continue
			}
			if s.actDay >= g.monthStart[c] {
				break // not a customer before the month: nothing to change from
			}
			k := 0
			for postpaidByFee[k] != s.plan {
				k++
			}
			step := 1
			if r.Float64() < planSkipShare {
				step = 2
			}
			up := r.Float64() < planUpShare
			switch {
			case up && k+1 >= len(postpaidByFee):
				up = false
			case !up && k == 0:
				up = true
			}
			if up {
				k = min(len(postpaidByFee)-1, k+step)
			} else {
				k = max(0, k-step)
			}
			s.chMonth, s.chPlan, s.chDay = uint8(c), postpaidByFee[k], g.monthStart[c]
			break
		}
	}
}

// planOn is the plan s is on on day d.
func (s *subscriber) planOn(d int32) uint8 {
	if s.chMonth != 0 && d >= s.chDay {
		return s.chPlan
	}
	return s.plan
}

// priceChangePct is the fee difference of s's plan change, %.
func (s *subscriber) priceChangePct() float64 {
	return 100 * (float64(plans[s.chPlan].fee)/float64(plans[s.plan].fee) - 1)
}

// hazardFactor is what s's monthly churn hazard is multiplied by in month
// m: 1 but after a plan change.
func (s *subscriber) hazardFactor(m int) float64 {
	if s.chMonth == 0 || m <= int(s.chMonth) {
		return 1
	}
	return max(0, 1+PlantedElasticity*s.priceChangePct()/100)
}

// dropLostChange undoes the plan change of a subscriber who left or was
// suspended by the change month's end.
func (g *generator) dropLostChange(s *subscriber) {
	if s.chMonth == 0 {
		return
	}
	end := g.monthStart[s.chMonth+1]
	if (s.churnDay != 0 && s.churnDay < end) || (s.suspDay != 0 && s.suspDay < end) {
		s.chMonth, s.chPlan, s.chDay = 0, 0, 0
	}
}

// writePlanChangeTruth writes PlanChangeTruthKey.
func (g *generator) writePlanChangeTruth(ctx context.Context, sink Sink) error {
	w, err := sink.Create(ctx, PlanChangeTruthKey)
	if err != nil {
		return fmt.Errorf("gen %s: %w", PlanChangeTruthKey, err)
	}
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	b := appendHeader(nil, PlanChangeTruthColumns)
	for i := range g.subs {
		s := &g.subs[i]
		if s.chMonth == 0 {
			continue
		}
		b = append(b, 'S')
		b = appendPad(b, uint64(i)+1, 7)
		b = append(b, ',')
		b = append(b, g.monthLabel[s.chMonth]...)
		b = append(b, ',')
		b = append(b, plans[s.plan].code...)
		b = append(b, ',')
		b = append(b, plans[s.chPlan].code...)
		b = append(b, ',')
		b = appendFloat(b, s.priceChangePct())
		b = append(b, ',')
		b = appendFloat(b, s.hazardFactor(int(s.chMonth)+1))
		b = append(b, ',')
		b = appendFloat(b, PlantedElasticity)
		b = append(b, '\n')
	}
	fail := func(err error) error {
		w.Close()
		return fmt.Errorf("gen %s: %w", PlanChangeTruthKey, err)
	}
	if _, err := zw.Write(b); err != nil {
		return fail(err)
	}
	if err := zw.Close(); err != nil {
		return fail(err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("gen %s: %w", PlanChangeTruthKey, err)
	}
	return nil
}

// PlanChange is one plan change of the ground truth.
type PlanChange struct {
	SubscriberID, Month, OldPlan, NewPlan string
	PriceChangePct, HazardFactor          float64
	Elasticity                            float64
}

// ReadPlanChangeTruth reads a PlanChangeTruthKey file (gzip CSV).
func ReadPlanChangeTruth(r io.Reader) ([]PlanChange, error) {
	zr, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("plan-change truth: %w", err)
	}
	cr := csv.NewReader(zr)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("plan-change truth: header: %w", err)
	}
	if len(head) != len(PlanChangeTruthColumns) || head[0] != PlanChangeTruthColumns[0] {
		return nil, fmt.Errorf("plan-change truth: header %v, want %v", head, PlanChangeTruthColumns)
	}
	var out []PlanChange
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("plan-change truth: line %d: %w", line, err)
		}
		c := PlanChange{SubscriberID: rec[0], Month: rec[1], OldPlan: rec[2], NewPlan: rec[3]}
		var errs [3]error
		c.PriceChangePct, errs[0] = strconv.ParseFloat(rec[4], 64)
		c.HazardFactor, errs[1] = strconv.ParseFloat(rec[5], 64)
		c.Elasticity, errs[2] = strconv.ParseFloat(rec[6], 64)
		for _, e := range errs {
			if e != nil {
				return nil, fmt.Errorf("plan-change truth: line %d: %w", line, e)
			}
		}
		out = append(out, c)
	}
}
