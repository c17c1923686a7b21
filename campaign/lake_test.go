package campaign_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/lake/laketest"
)

// TestLakeStoreRoundTrip freezes a campaign into the lake, reads it back,
// ingests its responses and a later register snapshot, and measures it.
func TestLakeStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	l := laketest.New(t)
	st := campaign.LakeStore{Tables: l.Cat}
	created := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	cands := make([]campaign.Contact, 40)
	for i := range cands {
		cands[i] = campaign.Contact{SubscriberID: fmt.Sprintf("S%03d", i), Probability: 0.5, Reasons: []string{"many service calls (4)"},
			Segment: "heavy talkers", MonthlyValue: 31.5, CLV: 400, ValueAtRisk: 200}
	}
	spec := campaign.Spec{Name: "Autumn save", Offer: "discount-10", Channel: campaign.ChannelCall, CostPerContact: 3, Size: 40, ControlShare: 0.25, List: "value-at-risk"}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	c, contacts, err := campaign.Freeze("cmp-20261001-00000001", spec, "run-1", created, "analyst-key", cands)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Save(ctx, c, contacts); err != nil {
		t.Fatal(err)
	}
	got, err := st.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != c.Name || got.Seed != c.Seed || got.Treated != 30 || got.Control != 10 || !got.CreatedAt.Equal(c.CreatedAt) ||
		got.CostPerContact != 3 || got.List != "value-at-risk" || got.HorizonDays != 60 {
		t.Errorf("Get = %+v, want %+v", got, c)
	}
	if _, err := st.Get(ctx, "cmp-none"); err == nil {
		t.Error("Get of an unknown id: no error")
	}
	back, err := st.Contacts(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 40 {
		t.Fatalf("%d contacts back, want 40", len(back))
	}
	for i := range back {
		if back[i].SubscriberID != contacts[i].SubscriberID || back[i].Arm != contacts[i].Arm || back[i].MonthlyValue != 31.5 ||
			len(back[i].Reasons) != 1 {
			t.Fatalf("contact %d back = %+v, want %+v", i, back[i], contacts[i])
		}
	}
	// Saving again replaces, never duplicates.
	if err := st.Save(ctx, c, contacts); err != nil {
		t.Fatal(err)
	}
	if all, _ := st.List(ctx); len(all) != 1 {
		t.Errorf("List after a second save: %d campaigns, want 1", len(all))
	}
	// Responses: every treated customer called once, the first 10 accepted.
	var b strings.Builder
	b.WriteString("campaign_id,subscriber_id,contacted_at,outcome,outcome_at\n")
	n := 0
	for _, ct := range contacts {
		if ct.Arm != campaign.ArmTreated {
			continue
		}
		out, at := "declined", "2026-10-02T10:05:00Z"
		if n < 10 {
			out = "accepted"
		}
		fmt.Fprintf(&b, "%s,%s,2026-10-02T10:00:00Z,%s,%s\n", c.ID, ct.SubscriberID, out, at)
		n++
	}
	l.Ingest(t, "exports/responses/2026/10/03/cmp.csv", b.String())
	// A later register snapshot: 3 treated and 4 control customers left
	// within the horizon, one more after it.
	var reg strings.Builder
	reg.WriteString("export_date,subscriber_id,msisdn,plan,activation_date,status,status_date,payment_method\n")
	tl, cl := 0, 0
	for i, ct := range contacts {
		status, date := "active", "2024-01-01"
		switch {
		case ct.Arm == campaign.ArmTreated && tl < 3:
			status, date = "deactivated", "2026-11-10"
			tl++
		case ct.Arm == campaign.ArmControl && cl < 4:
			status, date = "deactivated", "2026-10-20"
			cl++
		case ct.Arm == campaign.ArmControl && cl == 4:
			status, date = "deactivated", "2027-01-15" // after the horizon
			cl++
		}
		fmt.Fprintf(&reg, "2027-01-31,%s,4917%08d,basic,2024-01-01,%s,%s,card\n", ct.SubscriberID, i, status, date)
	}
	l.Ingest(t, "exports/subscribers/2027/01/31/register.csv", reg.String())
	r, err := st.Measure(ctx, c.ID, created.AddDate(0, 3, 0))
	if err != nil {
		t.Fatal(err)
	}
	if r.Treated != 30 || r.Control != 10 || r.Reached != 30 || r.Accepted != 10 || r.TreatedChurned != 3 || r.ControlChurned != 4 || r.Cost != 90 {
		t.Errorf("Measure = %+v; want 30 treated, 10 control, 30 reached, 10 accepted, 3 and 4 churned, cost 90", r)
	}
	if want := 0.4 - 0.1; r.Uplift.Estimate < want-1e-9 || r.Uplift.Estimate > want+1e-9 {
		t.Errorf("uplift = %v, want %v", r.Uplift.Estimate, want)
	}
}
