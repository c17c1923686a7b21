package training_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/training"
	"github.com/telcolake/telcolake/synth"
)

// upliftLake is a small seeded lake with past campaigns: for each, the
// contacts' feature rows in crm.features (month before the campaign), the
// campaign and its frozen contacts (risk: the true churn probability
// without contact), and one register snapshot after every horizon with
// the churners deactivated. The generator (synth.UpliftCampaign) plants
// sleeping dogs and lost causes among the high risks, persuadables in the
// middle.
type upliftLake struct {
	l      *laketest.Lake
	r      *training.Runner
	camps  []campaign.Campaign
	rows   [][]synth.UpliftRow
	regDay time.Time
}

func newUpliftLake(t *testing.T, n int, regDay time.Time, created ...time.Time) *upliftLake {
	t.Helper()
	ctx := context.Background()
	l := laketest.New(t)
	blobs, err := lake.OpenBlobs(l.Cfg, nil, "models")
	if err != nil {
		t.Fatal(err)
	}
	u := &upliftLake{l: l, r: &training.Runner{Tables: l.Cat, Registry: &registry.Registry{Store: blobs}}}
	st := campaign.LakeStore{Tables: l.Cat}
	var reg strings.Builder
	reg.WriteString("export_date,subscriber_id,msisdn,plan,activation_date,status,status_date,payment_method\n")
	u.regDay = regDay
	for k, at := range created {
		rows := synth.UpliftCampaign(n, 0.5, int64(100+k))
		u.rows = append(u.rows, rows)
		month := time.Date(at.Year(), at.Month()-1, 1, 0, 0, 0, 0, time.UTC)
		b, err := lake.NewRowBuilder(lake.FeaturesTable, n)
		if err != nil {
			t.Fatal(err)
		}
		c := campaign.Campaign{ID: fmt.Sprintf("cmp-%s-0000000%d", at.Format("20060102"), k), SourceKind: "list", SourceName: "value-at-risk",
			Run: "run", CreatedAt: at, CreatedBy: "analyst",
			Spec: campaign.Spec{Name: "Save " + fmt.Sprint(k), Offer: "discount-10", Channel: campaign.ChannelCall, CostPerContact: 3,
				Size: n, ControlShare: 0.5, List: "value-at-risk", HorizonDays: 60}}
		contacts := make([]campaign.Contact, n)
		for i, x := range rows {
			id := fmt.Sprintf("C%d-%05d", k, i)
			b.Date("month", month)
			b.String("subscriber_id", id)
			b.String("plan", fmt.Sprintf("p%.0f", x.PlanPrice))
			for _, name := range []string{"region", "age_band", "gender", "income_band", "payment_method"} {
				b.String(name, "x")
			}
			b.String("status", "active")
			b.Int32("tenure_months", int64(x.TenureMonths))
			for _, name := range []string{"voice_calls", "sms", "distinct_contacts", "roaming_calls", "intl_calls", "high_value_calls", "active_days"} {
				b.Int32(name, 10)
			}
			b.Float("voice_minutes", 100)
			b.Float("avg_call_s", 60)
			b.Float("data_mb", 500)
			for _, name := range []string{"peak_share", "weekend_share", "offnet_share", "paid_ratio", "credit_use"} {
				b.Float(name, 0.5)
			}
			b.Int32("care_calls", int64(x.CareCalls))
			b.Money("usage_charge", 1000)
			b.Money("amount_due", int64(100*x.PlanPrice))
			b.Money("amount_paid", int64(100*x.PlanPrice))
			b.Money("arrears", int64(1000*x.ArrearsMonths))
			b.Int32("months_in_arrears", int64(x.ArrearsMonths))
			b.Money("discount", 0)
			b.Money("credit_limit", 10000)
			b.Float("voice_minutes_trend", x.UsageTrend)
			for _, name := range []string{"calls_trend", "data_trend", "contacts_trend", "spend_trend"} {
				b.Float(name, 0)
			}
			b.Time("built_at", at)
			arm := campaign.ArmControl
			if x.Treated {
				arm = campaign.ArmTreated
				c.Treated++
			} else {
				c.Control++
			}
			contacts[i] = campaign.Contact{SubscriberID: id, Arm: arm, Rank: i + 1, Probability: x.Risk, CLV: 500}
			status, date := "active", "2024-01-01"
			if left := at.AddDate(0, 0, 3+i%50); x.Churned && !left.After(u.regDay) {
				status, date = "deactivated", left.Format(time.DateOnly)
			}
			fmt.Fprintf(&reg, "%s,%s,4917%08d,basic,2024-01-01,%s,%s,card\n", u.regDay.Format(time.DateOnly), id, k*n+i, status, date)
		}
		rec := b.Record()
		if _, err := lake.ReplaceRows(ctx, l.Cat, lake.FeaturesTable, iceberg.EqualTo(iceberg.Reference("month"), iceberg.Date(month.Unix()/86400)),
			[]arrow.RecordBatch{rec}, nil); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		b.Release()
		if err := st.Save(ctx, c, contacts); err != nil {
			t.Fatal(err)
		}
		u.camps = append(u.camps, c)
	}
	l.Ingest(t, "exports/subscribers/"+u.regDay.Format("2006/01/02")+"/register.csv", reg.String())
	return u
}

// TestUpliftFromLake: the monthly run's uplift part, trained from lake rows
// of two past campaigns and held to the newer one, ranks it better than
// the frozen churn risk (Qini, interval of the AUUC difference above
// zero), so it is saved and promoted; its report section says so.
func TestUpliftFromLake(t *testing.T) {
	ctx := context.Background()
	u := newUpliftLake(t, 5000, time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 8, 3, 9, 0, 0, 0, time.UTC), time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC))
	now := u.regDay.AddDate(0, 0, 1)
	res, err := u.r.RunUplift(ctx, training.Options{Seed: 3, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("AUUC uplift %.4f, risk %.4f, difference 95%% %.4f to %.4f: %s", res.AUUC, res.AUUCRisk, res.DiffLo, res.DiffHi, res.Decision)
	if res.Skipped != "" || res.HeldOut != u.camps[1].ID {
		t.Fatalf("RunUplift = %+v, want a model held to %s", res, u.camps[1].ID)
	}
	if !res.Promoted || res.DiffLo <= 0 || res.AUUC <= res.AUUCRisk {
		t.Errorf("uplift model not promoted over risk ranking: %s", res.Decision)
	}
	sec := res.Section
	if sec.Campaigns != 2 || sec.HeldRows != 5000 || sec.TrainRows != 5000 || sec.Missing != 0 || len(sec.QiniModel) != 10 {
		t.Errorf("section = %+v", sec)
	}
	var m campaign.Model
	p, ok, err := u.r.Registry.LoadPromoted(ctx, registry.KindUplift, &m)
	if err != nil || !ok || p.Version != res.Version || m.Pooled == nil || m.Cost["discount-10"] != 3 {
		t.Fatalf("promoted uplift = %+v %v %v, model cost %v", p, ok, err, m.Cost)
	}
	md, err := u.r.Registry.Store.Get(ctx, registry.Key(registry.KindUplift, res.Version, "report.md"))
	if err != nil || !strings.Contains(string(md), "| uplift model |") || !strings.Contains(string(md), "Decision: promoted") {
		t.Errorf("report.md (%v):\n%s", err, md)
	}
	if math.IsNaN(res.AUUC) {
		t.Error("AUUC is NaN")
	}
	// crm.model_runs holds the AUUC in its own columns, auc null.
	rows := 0
	for b, err := range lake.Scan(ctx, u.l.Cat, lake.ModelRunsTable, lake.Select("kind", "auc", "auuc", "auuc_lo", "auuc_hi", "auuc_risk")) {
		if err != nil {
			t.Fatal(err)
		}
		kind, auc, auuc, lo, hi, risk := b.String("kind"), b.Float("auc"), b.Float("auuc"), b.Float("auuc_lo"), b.Float("auuc_hi"), b.Float("auuc_risk")
		if err := b.Err(); err != nil {
			t.Fatal(err)
		}
		for i := range b.Len() {
			if kind.Value(i) != registry.KindUplift {
				continue
			}
			rows++
			if !auc.IsNull(i) || auuc.Value(i) != res.AUUC || lo.Value(i) != res.Section.AUUCModel.Lo || hi.Value(i) != res.Section.AUUCModel.Hi || risk.Value(i) != res.AUUCRisk {
				t.Errorf("model_runs uplift row: auc null %v, auuc %v (%v…%v), risk %v; want auc null, auuc %v, risk %v",
					auc.IsNull(i), auuc.Value(i), lo.Value(i), hi.Value(i), risk.Value(i), res.AUUC, res.AUUCRisk)
			}
		}
	}
	if rows != 1 {
		t.Errorf("model_runs has %d uplift rows, want 1", rows)
	}
}

// TestUpliftSkipped: with no campaign, or only one whose outcome the
// register covers (the other still within its horizon), no model is
// fitted and the section says why.
func TestUpliftSkipped(t *testing.T) {
	ctx := context.Background()
	u := newUpliftLake(t, 300, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 8, 3, 9, 0, 0, 0, time.UTC), time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC))
	res, err := u.r.RunUplift(ctx, training.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "one past campaign with a known outcome (" + u.camps[0].ID; !strings.Contains(res.Skipped, want) || res.Promoted || res.Version != "" ||
		res.Section.Running != 1 || res.Section.Campaigns != 1 {
		t.Errorf("RunUplift = %+v (section %+v), want skipped with %q, one running", res, res.Section, want)
	}
	if _, ok, _ := u.r.Registry.Promoted(ctx, registry.KindUplift); ok {
		t.Error("a skipped uplift model was promoted")
	}
	empty := &training.Runner{Tables: laketest.New(t).Cat, Registry: u.r.Registry}
	res, err = empty.RunUplift(ctx, training.Options{})
	if err != nil || !strings.Contains(res.Skipped, "no past campaign") {
		t.Errorf("RunUplift on a lake without campaigns = %+v, %v", res, err)
	}
}

// TestHandleUpliftOnly: the train function's uplift_only request fits the
// uplift model alone (no churn model, no feature build) and its summary
// line names the held-out campaign and the comparison with risk ranking.
func TestHandleUpliftOnly(t *testing.T) {
	ctx := context.Background()
	u := newUpliftLake(t, 400, time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 8, 3, 9, 0, 0, 0, time.UTC), time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC))
	res, err := u.r.Handle(ctx, []byte(`{"uplift_only":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Uplift.HeldOut != u.camps[1].ID || res.Uplift.Version == "" || res.Version != res.Uplift.Version {
		t.Fatalf("Handle(uplift_only) = %+v, want an uplift model held out on %s", res.Uplift, u.camps[1].ID)
	}
	if res.Churn.Kind != "" || len(res.Months) != 0 {
		t.Errorf("Handle(uplift_only) trained churn (%q) or built %d feature months", res.Churn.Kind, len(res.Months))
	}
	var sum strings.Builder
	res.Uplift.WriteSummary(&sum, "")
	if want := "held out on campaign " + u.camps[1].ID; !strings.Contains(sum.String(), want) || !strings.Contains(sum.String(), "ranking by churn risk") {
		t.Errorf("summary %q lacks %q", sum.String(), want)
	}
}
