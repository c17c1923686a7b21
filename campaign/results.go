package campaign

import (
	"math"
	"time"
)

// Outcomes of a contact attempt (crm.responses spells them so).
const (
	OutcomeAccepted    = "accepted"
	OutcomeDeclined    = "declined"
	OutcomeUnreachable = "unreachable"
)

// Response is one contact attempt reported back.
type Response struct {
	SubscriberID string
	ContactedAt  time.Time
	Outcome      string
}

// Results are what a campaign changed, measured against its control group.
//
// Churn is intention to treat: every treated customer counts, reached or
// not, so the comparison with control stays randomised. A customer has
// churned when the register shows it deactivated after the campaign was
// created and no later than the horizon's end.
type Results struct {
	CampaignID  string    `json:"campaign_id"`
	Channel     string    `json:"channel"`
	Offer       string    `json:"offer"`
	HorizonDays int       `json:"horizon_days"`
	HorizonEnd  time.Time `json:"horizon_end"`
	// Complete is false while the horizon has not passed: the churn
	// counted so far is a lower bound.
	Complete bool `json:"complete"`
	Treated  int  `json:"treated"`
	Control  int  `json:"control"`
	// Attempted treated customers have at least one response row; Reached
	// ones answered (accepted or declined) at least once.
	Attempted      int     `json:"attempted"`
	Attempts       int     `json:"attempts"`
	Reached        int     `json:"reached"`
	Accepted       int     `json:"accepted"`
	ContactRate    float64 `json:"contact_rate"`    // reached / treated
	AcceptanceRate float64 `json:"acceptance_rate"` // accepted / reached
	// Responses for customers not in the treated arm (control customers
	// contacted by mistake, or unknown ones) are counted, not used.
	// Responses naming a campaign that does not exist never get here:
	// the ingest rejects them (lake.ResponsesFormat).
	Unmatched      int      `json:"unmatched_responses"`
	TreatedChurned int      `json:"treated_churned"`
	ControlChurned int      `json:"control_churned"`
	TreatedChurn   Interval `json:"treated_churn"` // Wilson 95%
	ControlChurn   Interval `json:"control_churn"`
	// Uplift is control churn − treated churn: the share of treated
	// customers the campaign kept.
	Uplift Interval `json:"uplift"`
	Method string   `json:"interval_method"`
	// Retained is Uplift × Treated customers; RetainedCLV is Uplift × the
	// treated customers' CLV at the time (frozen in the contact list).
	Retained    Interval `json:"retained"`
	RetainedCLV Interval `json:"retained_clv"`
	// TreatedCLV is the treated customers' CLV at the time, summed.
	TreatedCLV float64 `json:"treated_clv"`
	// Cost is cost_per_contact × attempts.
	Cost float64 `json:"cost"`
	// ROI is (RetainedCLV − Cost) / Cost; null when nothing was spent.
	ROI *Interval `json:"roi"`
}

// Measure computes a campaign's results from its frozen contacts, the
// responses reported for it, and churned, which says whether a customer
// left within the horizon. now decides Complete.
func Measure(c Campaign, contacts []Contact, responses []Response, churned func(id string) bool, now time.Time) Results {
	r := Results{CampaignID: c.ID, Channel: c.Channel, Offer: c.Offer, HorizonDays: c.HorizonDays,
		HorizonEnd: c.HorizonEnd(), Complete: !now.Before(c.HorizonEnd()), Method: NewcombeMethod}
	arm := make(map[string]string, len(contacts))
	clvTreated := 0.0
	for _, ct := range contacts {
		arm[ct.SubscriberID] = ct.Arm
		left := churned(ct.SubscriberID)
		if ct.Arm == ArmControl {
			r.Control++
			if left {
				r.ControlChurned++
			}
			continue
		}
		r.Treated++
		clvTreated += ct.CLV
		if left {
			r.TreatedChurned++
		}
	}
	best := map[string]int{} // 1 unreachable, 2 declined, 3 accepted
	rank := map[string]int{OutcomeUnreachable: 1, OutcomeDeclined: 2, OutcomeAccepted: 3}
	for _, rs := range responses {
		if arm[rs.SubscriberID] != ArmTreated {
			r.Unmatched++
			continue
		}
		r.Attempts++
		best[rs.SubscriberID] = max(best[rs.SubscriberID], rank[rs.Outcome])
	}
	for _, b := range best {
		r.Attempted++
		if b >= 2 {
			r.Reached++
		}
		if b == 3 {
			r.Accepted++
		}
	}
	r.ContactRate = ratio(r.Reached, r.Treated)
	r.AcceptanceRate = ratio(r.Accepted, r.Reached)
	r.TreatedChurn = prop(r.TreatedChurned, r.Treated)
	r.ControlChurn = prop(r.ControlChurned, r.Control)
	r.Uplift = DiffInterval(r.ControlChurned, r.Control, r.TreatedChurned, r.Treated)
	r.Retained = r.Uplift.scale(float64(r.Treated))
	r.RetainedCLV = r.Uplift.scale(clvTreated)
	r.TreatedCLV = clvTreated
	r.Cost = math.Round(c.CostPerContact*float64(r.Attempts)*100) / 100
	if r.Cost > 0 {
		roi := Interval{
			Estimate: (r.RetainedCLV.Estimate - r.Cost) / r.Cost,
			Lo:       (r.RetainedCLV.Lo - r.Cost) / r.Cost,
			Hi:       (r.RetainedCLV.Hi - r.Cost) / r.Cost,
		}
		r.ROI = &roi
	}
	return r
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func prop(x, n int) Interval {
	lo, hi := Wilson(x, n)
	return Interval{Estimate: ratio(x, n), Lo: lo, Hi: hi}
}
