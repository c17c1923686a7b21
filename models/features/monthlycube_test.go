package features_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/models/features"
)

type monthlyCell struct {
	month, region, plan, segment, lifecycle, age, gender string
}

type monthlyVal struct {
	subscribers, new, churned, revenueCents int64
	minutes                                 float64
}

// TestMonthlyCubeMatchesBruteForce builds three months for a small seeded
// register (activations and deactivations on the first of a month, so
// tenure and lifecycle are plain) and checks crm.cube_monthly against a
// loop over the generated subscribers.
func TestMonthlyCubeMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 15))
	months := []time.Time{month("2026-05"), month("2026-06"), month("2026-07")}
	type sub struct {
		id, region, plan, gender string
		birthYear                int
		act                      time.Time
		gone                     time.Time // zero: stays
		bill                     [3]int64  // cents per month
		secs                     [3]int
	}
	var subs []sub
	for i := range 40 {
		s := sub{id: fmt.Sprintf("S%02d", i), region: []string{"North", "South", ""}[r.IntN(3)],
			plan: []string{"BASIC10", "PLUS20"}[r.IntN(2)], gender: []string{"F", "M"}[r.IntN(2)],
			birthYear: 1950 + r.IntN(55),
			act:       time.Date(2026, time.Month(7-r.IntN(40)), 1, 0, 0, 0, 0, time.UTC)}
		if r.IntN(4) == 0 {
			s.gone = time.Date(2026, time.Month(5+r.IntN(3)), 10, 0, 0, 0, 0, time.UTC)
			if !s.gone.After(s.act) {
				s.gone = time.Time{}
			}
		}
		for m := range 3 {
			s.bill[m] = int64(500 + r.IntN(5000))
			s.secs[m] = 60 * r.IntN(30)
		}
		subs = append(subs, s)
	}
	var reg, bills strings.Builder
	reg.WriteString("export_date,subscriber_id,msisdn,name,gender,birth_date,occupation,education,income_band,region,plan,activation_date,status,status_date,payment_method,credit_limit\n")
	bills.WriteString("subscriber_id,bill_month,plan,amount_due,amount_paid,arrears,discount,payment_method,credit_limit\n")
	cdrs := map[int]*strings.Builder{}
	for i, s := range subs {
		status, date := "active", s.act
		if !s.gone.IsZero() {
			status, date = "deactivated", s.gone
		}
		fmt.Fprintf(&reg, "2026-07-31,%s,4917000000%02d,,%s,%d-01-15,,,,%s,%s,%s,%s,%s,card,\n",
			s.id, i, s.gender, s.birthYear, s.region, s.plan, s.act.Format("2006-01-02"), status, date.Format("2006-01-02"))
		for m, mt := range months {
			if s.act.After(mt.AddDate(0, 1, -1)) || (!s.gone.IsZero() && s.gone.Before(mt.AddDate(0, 1, 0))) {
				continue // not a customer at the month's end
			}
			fmt.Fprintf(&bills, "%s,%s,%s,%d.%02d,0.00,0.00,,card,\n", s.id, mt.Format("2006-01"), s.plan, s.bill[m]/100, s.bill[m]%100)
			if s.secs[m] > 0 {
				b := cdrs[m]
				if b == nil {
					b = &strings.Builder{}
					b.WriteString("call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n")
					cdrs[m] = b
				}
				fmt.Fprintf(b, "C%d%02d,%s,4917000000%02d,12345,onnet,%s,%d,voice,out,false,false,,,0,0.10\n",
					m, i, s.id, i, mt.AddDate(0, 0, 3).Format(time.RFC3339), s.secs[m])
			}
		}
	}

	l := laketest.New(t)
	l.Ingest(t, "exports/subscribers/2026/07/31/subscribers.csv", reg.String())
	l.Ingest(t, "exports/bills/bills.csv", bills.String())
	for m, b := range cdrs {
		l.Ingest(t, fmt.Sprintf("exports/cdr/2026/%02d/cdr.csv", 5+m), b.String())
	}
	ctx := context.Background()
	b := &features.Builder{Tables: l.Cat}
	if _, err := b.Build(ctx, months); err != nil {
		t.Fatal(err)
	}
	rg, err := features.LoadOutcomes(ctx, l.Cat)
	if err != nil {
		t.Fatal(err)
	}
	segOf := func(id string) int { return int(id[len(id)-1]-'0') % 3 }
	segs := func(set *features.Set) ([]int, error) {
		out := make([]int, set.Rows())
		for i, id := range set.IDs {
			out[i] = segOf(id)
		}
		return out, nil
	}
	built := time.Date(2026, 8, 2, 0, 0, 0, 0, time.UTC)
	for range 2 { // rebuilt: replaced, not doubled
		if _, err := features.BuildMonthlyCube(ctx, l.Cat, rg, months[0], months[2], segs, built); err != nil {
			t.Fatal(err)
		}
	}

	want := map[monthlyCell]*monthlyVal{}
	customerAt := func(s sub, end time.Time) bool {
		return !s.act.After(end) && (s.gone.IsZero() || s.gone.After(end))
	}
	for m, mt := range months {
		end := mt.AddDate(0, 1, -1)
		for _, s := range subs {
			key := func(at time.Time) monthlyCell {
				tenure := (at.Year()-s.act.Year())*12 + int(at.Month()-s.act.Month())
				life := "loyal"
				if tenure < 3 {
					life = "new"
				} else if tenure < 24 {
					life = "established"
				}
				age := 2026 - s.birthYear
				band := "65+"
				for _, b := range []struct {
					lt   int
					band string
				}{{18, "<18"}, {25, "18-24"}, {35, "25-34"}, {45, "35-44"}, {55, "45-54"}, {65, "55-64"}} {
					if age < b.lt {
						band = b.band
						break
					}
				}
				region := s.region
				if region == "" {
					region = "unknown"
				}
				return monthlyCell{mt.Format("2006-01"), region, s.plan, fmt.Sprint(segOf(s.id)), life, band, s.gender}
			}
			cell := func(k monthlyCell) *monthlyVal {
				if want[k] == nil {
					want[k] = &monthlyVal{}
				}
				return want[k]
			}
			if customerAt(s, end) {
				v := cell(key(end))
				v.subscribers++
				v.revenueCents += s.bill[m]
				v.minutes += float64(s.secs[m]) / 60
				if !s.act.Before(mt) {
					v.new++
				}
			}
			prevEnd := mt.AddDate(0, 0, -1)
			if m > 0 && customerAt(s, prevEnd) && !s.gone.IsZero() && !s.gone.Before(mt) && !s.gone.After(end) {
				k := key(prevEnd)
				k.month = mt.Format("2006-01")
				cell(k).churned++
			}
		}
	}
	var churned, fresh int64
	for _, w := range want {
		churned, fresh = churned+w.churned, fresh+w.new
	}
	if churned == 0 || fresh == 0 {
		t.Fatalf("the seeded set has %d churned and %d new customers, want some of each", churned, fresh)
	}
	got := readMonthlyCube(t, l)
	for k, w := range want {
		g := got[k]
		if g == nil {
			t.Errorf("cell %+v missing, want %+v", k, *w)
			continue
		}
		if g.subscribers != w.subscribers || g.new != w.new || g.churned != w.churned || g.revenueCents != w.revenueCents ||
			fmt.Sprintf("%.6f", g.minutes) != fmt.Sprintf("%.6f", w.minutes) {
			t.Errorf("cell %+v = %+v, want %+v", k, *g, *w)
		}
	}
	for k := range got {
		if want[k] == nil {
			t.Errorf("cell %+v not in the brute force", k)
		}
	}
}

func readMonthlyCube(t *testing.T, l *laketest.Lake) map[monthlyCell]*monthlyVal {
	t.Helper()
	ctx := context.Background()
	tbl, err := l.Cat.LoadTable(ctx, lake.CubeMonthlyTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	_, recs, err := tbl.Scan().ToArrowRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[monthlyCell]*monthlyVal{}
	for rec, err := range recs {
		if err != nil {
			t.Fatal(err)
		}
		col := func(name string) any { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
		s := func(name string, i int) string { return col(name).(*array.String).Value(i) }
		n := func(name string, i int) int64 { return col(name).(*array.Int64).Value(i) }
		for i := range int(rec.NumRows()) {
			k := monthlyCell{col("month").(*array.Date32).Value(i).ToTime().Format("2006-01"), s("region", i), s("plan", i),
				s("segment", i), s("lifecycle", i), s("age_band", i), s("gender", i)}
			if out[k] != nil {
				t.Errorf("cell %+v twice", k)
			}
			rev := col("revenue").(*array.Decimal128).Value(i)
			out[k] = &monthlyVal{subscribers: n("subscribers", i), new: n("new", i), churned: n("churned", i),
				revenueCents: int64(rev.LowBits()), minutes: col("minutes").(*array.Float64).Value(i)}
		}
		rec.Release()
	}
	return out
}
