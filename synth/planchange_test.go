package synth

import (
	"bytes"
	"strings"
	"testing"
)

// The planted plan changes: a few % of postpaid subscribers a year, up
// and down, between postpaid plans; each shows in the register (old plan
// in the month before, new plan from the change month) and in the bills;
// the truth file's hazard factor is what the churn truth's hazard shows;
// and planting them left every other subscriber's register rows and
// bills as they were without changes.
func TestPlanChangesArePlantedAndShow(t *testing.T) {
	cfg := Config{Subscribers: 4000, Months: 5, Seed: 5, Truth: true}
	res := generate(t, cfg)
	if res.m.PlanChangeTruth != PlanChangeTruthKey {
		t.Fatalf("manifest names plan-change truth %q, want %q", res.m.PlanChangeTruth, PlanChangeTruthKey)
	}
	changes, err := ReadPlanChangeTruth(bytes.NewReader(res.objects[PlanChangeTruthKey]))
	if err != nil {
		t.Fatal(err)
	}
	// plan[id][month] from the register, bill[id][month] from the bills.
	regPlan, billPlan := map[string]map[string]string{}, map[string]map[string]string{}
	regRows, billRows := map[string][]string{}, map[string][]string{}
	for _, f := range res.m.Files {
		switch f.Table {
		case TableSubscribers:
			for _, r := range readCSV(t, f.Key, res.objects[f.Key])[1:] {
				id, month := r[1], r[0][:7]
				if regPlan[id] == nil {
					regPlan[id] = map[string]string{}
				}
				regPlan[id][month] = r[10]
				regRows[id] = append(regRows[id], strings.Join(r, ","))
			}
		case TableBills:
			for _, r := range readCSV(t, f.Key, res.objects[f.Key])[1:] {
				if billPlan[r[0]] == nil {
					billPlan[r[0]] = map[string]string{}
				}
				billPlan[r[0]][r[1]] = r[2]
				billRows[r[0]] = append(billRows[r[0]], strings.Join(r, ","))
			}
		}
	}
	postpaid := 0
	for _, months := range regPlan {
		for _, p := range months {
			if p != plans[planPrepaid].code {
				postpaid++
			}
			break
		}
	}
	up, down := 0, 0
	changed := map[string]bool{}
	prev := map[string]string{}
	for m := 1; m < cfg.Months; m++ {
		prev[DefaultStart.AddDate(0, m, 0).Format("2006-01")] = DefaultStart.AddDate(0, m-1, 0).Format("2006-01")
	}
	for _, c := range changes {
		changed[c.SubscriberID] = true
		if c.Elasticity != PlantedElasticity || c.OldPlan == c.NewPlan || c.OldPlan == plans[planPrepaid].code || c.NewPlan == plans[planPrepaid].code {
			t.Errorf("change %+v: want the planted elasticity between two different postpaid plans", c)
		}
		if c.PriceChangePct > 0 {
			up++
		} else {
			down++
		}
		if want := max(0, 1+PlantedElasticity*c.PriceChangePct/100); c.HazardFactor < want*0.9999 || c.HazardFactor > want*1.0001 {
			t.Errorf("change %+v: hazard factor, want %g", c, want)
		}
		p := regPlan[c.SubscriberID]
		if p[prev[c.Month]] != c.OldPlan || p[c.Month] != c.NewPlan || billPlan[c.SubscriberID][c.Month] != c.NewPlan {
			t.Errorf("change %+v: register %v, bills %v", c, p, billPlan[c.SubscriberID])
		}
	}
	years := float64(cfg.Months-1) / 12
	rate := float64(len(changes)) / float64(postpaid) / years
	t.Logf("%d plan changes (%d up, %d down) among %d postpaid subscribers: %.1f%% a year", len(changes), up, down, postpaid, 100*rate)
	if rate < DefaultPlanChangeRate/2 || rate > DefaultPlanChangeRate*1.5 || up <= down || down == 0 {
		t.Errorf("%.3f a year, %d up, %d down: want about %.2f a year, more up than down", rate, up, down, DefaultPlanChangeRate)
	}
	for id, months := range regPlan {
		if changed[id] {
			continue
		}
		var first string
		for _, p := range months {
			if first == "" {
				first = p
			}
			if p != first {
				t.Errorf("%s changes plan without a truth row: %v", id, months)
				break
			}
		}
	}

	// The churn truth: the hazard after the change month is the one before
	// times the factor.
	truth, err := ReadTruth(bytes.NewReader(res.objects[TruthKey]), "")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, c := range changes {
		before, ok1 := truth[c.SubscriberID+" "+prev[c.Month]]
		var after TruthRow
		ok2 := false
		for m, p := range prev {
			if p == c.Month {
				after, ok2 = truth[c.SubscriberID+" "+m]
			}
		}
		if !ok1 || !ok2 {
			continue
		}
		checked++
		if got, want := after.Hazard, min(1, before.Hazard*c.HazardFactor); got < want*0.9999 || got > want*1.0001 {
			t.Errorf("change %+v: truth hazard %g after, %g before", c, after.Hazard, before.Hazard)
		}
	}
	if checked == 0 {
		t.Error("no plan change with truth rows on both sides")
	}

	// Without plan changes, every other subscriber's rows are the same.
	none := generate(t, with(cfg, func(c *Config) { c.PlanChangeRate = -1 }))
	same := func(table string, rows map[string][]string, id func([]string) string) {
		got := map[string][]string{}
		for _, f := range none.m.Files {
			if f.Table == table {
				for _, r := range readCSV(t, f.Key, none.objects[f.Key])[1:] {
					got[id(r)] = append(got[id(r)], strings.Join(r, ","))
				}
			}
		}
		diff := 0
		for k, want := range rows {
			if !changed[k] && strings.Join(got[k], "\n") != strings.Join(want, "\n") {
				diff++
			}
		}
		if diff > 0 || len(got) != len(rows) {
			t.Errorf("%s: %d unchanged subscribers' rows differ without plan changes (%d vs %d subscribers)", table, diff, len(got), len(rows))
		}
	}
	same(TableSubscribers, regRows, func(r []string) string { return r[1] })
	same(TableBills, billRows, func(r []string) string { return r[0] })
}
