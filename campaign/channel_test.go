package campaign_test

import (
	"math"
	"testing"

	"github.com/telcolake/telcolake/campaign"
)

// TestSummariseByHand: two call campaigns and one SMS campaign, pooled
// per channel, equal a hand computation of the stratified estimate.
func TestSummariseByHand(t *testing.T) {
	rs := []campaign.Results{
		// Calls: 100 treated (10 churned), 50 control (10 churned), CLV 40 000.
		{Channel: campaign.ChannelCall, Complete: true, Treated: 100, Control: 50, TreatedChurned: 10, ControlChurned: 10,
			Attempts: 120, Reached: 80, Accepted: 40, Cost: 240, TreatedCLV: 40000},
		// Calls: 300 treated (60 churned), 100 control (25 churned), CLV 90 000.
		{Channel: campaign.ChannelCall, Complete: false, Treated: 300, Control: 100, TreatedChurned: 60, ControlChurned: 25,
			Attempts: 300, Reached: 200, Accepted: 50, Cost: 600, TreatedCLV: 90000},
		// SMS: no control customers: counted, no uplift.
		{Channel: campaign.ChannelSMS, Complete: true, Treated: 10, Attempts: 10, Reached: 9, Accepted: 1, Cost: 1},
	}
	got := campaign.Summarise(rs, func(r campaign.Results) string { return r.Channel })
	if len(got) != 2 || got[0].Key != campaign.ChannelCall || got[1].Key != campaign.ChannelSMS {
		t.Fatalf("Summarise = %+v, want outbound_call then sms", got)
	}
	c := got[0]
	// By hand: uplifts 0.2 − 0.1 = 0.1 and 0.25 − 0.2 = 0.05, weights
	// 100/400 and 300/400: 0.025 + 0.0375 = 0.0625.
	// Variances: 0.2·0.8/50 + 0.1·0.9/100 = 0.0041; 0.25·0.75/100 + 0.2·0.8/300 = 0.0018750 + 0.000533… = 0.00240833…
	// Var = (100² · 0.0041 + 300² · 0.00240833…) / 400² = (41 + 216.75) / 160000 = 0.001610…
	v1 := 0.2*0.8/50 + 0.1*0.9/100
	v2 := 0.25*0.75/100 + 0.2*0.8/300
	half := 1.959963984540054 * math.Sqrt(100*100*v1+300*300*v2) / 400
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if c.Uplift == nil || !near(c.Uplift.Estimate, 0.0625) || !near(c.Uplift.Lo, 0.0625-half) || !near(c.Uplift.Hi, 0.0625+half) {
		t.Errorf("call uplift = %+v, want 0.0625 ± %v", c.Uplift, half)
	}
	if !near(c.Retained.Estimate, 25) || !near(c.Retained.Lo, 400*(0.0625-half)) {
		t.Errorf("retained = %+v, want 25 (0.1·100 + 0.05·300)", c.Retained)
	}
	// Retained CLV: 0.1 · 40 000 + 0.05 · 90 000 = 8 500; ROI (8 500 − 840) / 840.
	hc := 1.959963984540054 * math.Sqrt(40000*40000*v1+90000*90000*v2)
	if !near(c.RetainedCLV.Estimate, 8500) || !near(c.RetainedCLV.Hi, 8500+hc) || c.Cost != 840 || c.ROI == nil || !near(c.ROI.Estimate, (8500-840)/840.0) {
		t.Errorf("retained CLV %+v, cost %v, ROI %+v; want 8500 ± %v, 840, %v", c.RetainedCLV, c.Cost, c.ROI, hc, (8500-840)/840.0)
	}
	if c.Campaigns != 2 || c.Incomplete != 1 || c.Treated != 400 || c.Control != 150 || !near(c.ContactRate, 280.0/400) || !near(c.AcceptanceRate, 90.0/280) {
		t.Errorf("call counts = %+v", c)
	}
	// Pooling the two call campaigns as one table would say
	// 35/150 − 70/400 = 0.0583: the stratified estimate is not that.
	if near(c.Uplift.Estimate, 35.0/150-70.0/400) {
		t.Error("uplift pooled as one table")
	}
	if s := got[1]; s.Uplift != nil || s.ROI != nil || s.Treated != 10 || s.Cost != 1 {
		t.Errorf("sms = %+v, want counts without uplift", s)
	}
}
