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

// cubeKey is one cell of crm.usage_cube.
type cubeKey struct {
	grouping                               int
	hour                                   string // "" rolled up
	dayType, kind, gender, ageBand, income string
}

type cubeVal struct {
	calls, subscribers int64
	minutes            float64
}

// TestUsageCubeMatchesDirectAggregation builds a month from a small seeded
// CDR set (one file with other_area, one older file without it) and checks
// every row of crm.usage_cube, every grouping, against a plain aggregation
// of the same calls written independently here.
func TestUsageCubeMatchesDirectAggregation(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 15))
	regions := []string{"North", "South", "East"}
	type sub struct {
		id, gender, birth, income, region string
		age                               string
	}
	var subs []sub
	var reg strings.Builder
	reg.WriteString("export_date,subscriber_id,msisdn,name,gender,birth_date,occupation,education,income_band,region,plan,activation_date,status,status_date,payment_method,credit_limit\n")
	for i := range 24 {
		s := sub{id: fmt.Sprintf("S%02d", i), gender: []string{"F", "M", "U", ""}[r.IntN(4)],
			income: []string{"A", "C", "E", ""}[r.IntN(4)], region: regions[r.IntN(3)]}
		switch y := 1950 + r.IntN(60); {
		case r.IntN(5) == 0:
			s.age = "unknown"
		default:
			s.birth = fmt.Sprintf("%d-01-15", y)
			s.age = map[bool]string{true: "65+", false: ""}[2026-y >= 66]
			if s.age == "" {
				a := 2026 - y // birthday in January: had it by July's end
				for _, b := range []struct {
					lt   int
					band string
				}{{25, "18-24"}, {35, "25-34"}, {45, "35-44"}, {55, "45-54"}, {65, "55-64"}} {
					if a < b.lt {
						s.age = b.band
						break
					}
				}
				if s.age == "" {
					s.age = "65+"
				}
			}
		}
		subs = append(subs, s)
		fmt.Fprintf(&reg, "2026-07-31,%s,4917000000%02d,,%s,%s,,,%s,%s,BASIC10,2024-01-01,active,2024-01-01,card,\n",
			s.id, i, s.gender, s.birth, s.income, s.region)
	}

	want := map[cubeKey]*cubeVal{}
	seen := map[cubeKey]map[string]bool{}
	head := "call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge"
	var withArea, without strings.Builder
	withArea.WriteString(head + ",other_area\n")
	without.WriteString(head + "\n")
	for n := range 700 {
		si := r.IntN(len(subs))
		s := subs[si]
		start := time.Date(2026, 7, 1+r.IntN(31), r.IntN(24), r.IntN(60), 0, 0, time.UTC)
		dur := r.IntN(600)
		roaming := r.IntN(10) == 0
		intl := r.IntN(8) == 0
		network := "onnet"
		if intl {
			network = "international"
		}
		cell := ""
		if r.IntN(3) > 0 {
			cell = regions[r.IntN(3)]
		}
		area := ""
		if !intl && r.IntN(6) > 0 {
			area = regions[r.IntN(3)]
		}
		old := n%4 == 0 // in the file without other_area
		typ := "voice"
		if r.IntN(10) == 0 {
			typ, dur = "sms", 0
		}
		line := fmt.Sprintf("K%04d,%s,4917000000%02d,12345,%s,%s,%d,%s,out,%t,%t,,%s,0,0.10",
			n, s.id, si, network, start.Format(time.RFC3339), dur, typ, roaming, intl, cell)
		if old {
			without.WriteString(line + "\n")
			area = ""
		} else {
			withArea.WriteString(line + "," + area + "\n")
		}
		if typ != "voice" {
			continue
		}
		kind := "unknown_area"
		own := cell
		if own == "" {
			own = s.region
		}
		switch {
		case roaming:
			kind = "roaming"
		case intl:
			kind = "international"
		case area == "":
		case area == own:
			kind = "local"
		default:
			kind = "long_distance"
		}
		dayType := "weekday"
		if wd := start.Weekday(); wd == time.Saturday || wd == time.Sunday {
			dayType = "weekend"
		}
		gender, income := s.gender, s.income
		if gender == "" {
			gender = "U" // the register's empty gender
		}
		if income == "" {
			income = "unknown"
		}
		for g := range 8 {
			k := cubeKey{grouping: g, hour: fmt.Sprint(start.Hour()), dayType: dayType, kind: kind, gender: gender, ageBand: s.age, income: income}
			if g&1 != 0 {
				k.hour = ""
			}
			if g&2 != 0 {
				k.dayType = ""
			}
			if g&4 != 0 {
				k.kind = ""
			}
			v := want[k]
			if v == nil {
				v = &cubeVal{}
				want[k], seen[k] = v, map[string]bool{}
			}
			v.calls++
			v.minutes += float64(dur) / 60
			if !seen[k][s.id] {
				seen[k][s.id] = true
				v.subscribers++
			}
		}
	}

	l := laketest.New(t)
	l.Ingest(t, "exports/subscribers/2026/07/31/subscribers-20260731.csv", reg.String())
	l.Ingest(t, "exports/cdr/2026/07/cdr-new.csv", withArea.String())
	l.Ingest(t, "exports/cdr/2026/07/cdr-old.csv", without.String())
	b := &features.Builder{Tables: l.Cat, Now: func() time.Time { return time.Date(2026, 8, 2, 0, 0, 0, 0, time.UTC) }}
	for range 2 { // a rebuilt month replaces its rows
		if _, err := b.Build(context.Background(), []time.Time{month("2026-07")}); err != nil {
			t.Fatalf("Build: %v", err)
		}
	}
	got := readUsageCube(t, l)
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("cell %+v missing, want %+v", k, *w)
		case g.calls != w.calls || g.subscribers != w.subscribers || fmt.Sprintf("%.6f", g.minutes) != fmt.Sprintf("%.6f", w.minutes):
			t.Errorf("cell %+v = %+v, want %+v", k, *g, *w)
		}
	}
	for k := range got {
		if want[k] == nil {
			t.Errorf("cell %+v not in the direct aggregation", k)
		}
	}
	if total := want[cubeKey{grouping: 7, gender: "F", ageBand: subs[0].age}]; len(got) != len(want) {
		t.Errorf("%d cells, want %d (%v)", len(got), len(want), total)
	}
}

func readUsageCube(t *testing.T, l *laketest.Lake) map[cubeKey]*cubeVal {
	t.Helper()
	ctx := context.Background()
	tbl, err := l.Cat.LoadTable(ctx, lake.UsageCubeTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	_, recs, err := tbl.Scan().ToArrowRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[cubeKey]*cubeVal{}
	for rec, err := range recs {
		if err != nil {
			t.Fatal(err)
		}
		col := func(name string) int {
			idx := rec.Schema().FieldIndices(name)
			if len(idx) != 1 {
				t.Fatalf("column %s missing", name)
			}
			return idx[0]
		}
		str := func(name string, i int) string {
			c := rec.Column(col(name))
			if c.IsNull(i) {
				return ""
			}
			return c.(*array.String).Value(i)
		}
		for i := range int(rec.NumRows()) {
			k := cubeKey{
				grouping: int(rec.Column(col("grouping")).(*array.Int32).Value(i)),
				dayType:  str("day_type", i), kind: str("call_kind", i),
				gender: str("gender", i), ageBand: str("age_band", i), income: str("income_band", i),
			}
			if h := rec.Column(col("hour")); !h.IsNull(i) {
				k.hour = fmt.Sprint(h.(*array.Int32).Value(i))
			}
			if out[k] != nil {
				t.Errorf("cell %+v twice", k)
			}
			out[k] = &cubeVal{
				calls:       rec.Column(col("calls")).(*array.Int64).Value(i),
				subscribers: rec.Column(col("subscribers")).(*array.Int64).Value(i),
				minutes:     rec.Column(col("minutes")).(*array.Float64).Value(i),
			}
		}
		rec.Release()
	}
	return out
}
