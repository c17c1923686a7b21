package features_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/models/features"
)

// A handful of subscribers whose July 2026 features are worked out by hand
// below. 2026-07-01 is a Wednesday.
const (
	register = `export_date,subscriber_id,msisdn,name,gender,birth_date,occupation,education,income_band,region,plan,activation_date,status,status_date,payment_method,credit_limit
2026-07-31,S1,491700000001,Anna,F,1990-03-01,,,C,North,PLUS20,2025-01-15,active,2025-01-15,direct_debit,150.00
2026-07-31,S2,491700000002,Ben,M,,,,,South,BASIC10,2026-06-10,active,2026-06-10,card,
2026-07-31,S3,491700000003,Cem,U,1970-01-01,,,,East,BASIC10,2024-01-01,deactivated,2026-07-20,cash,
`
	bills = `subscriber_id,bill_month,plan,amount_due,amount_paid,arrears,discount,payment_method,credit_limit
S1,2026-05,PLUS20,40.00,40.00,0.00,0.00,direct_debit,150.00
S1,2026-06,PLUS20,50.00,20.00,10.00,0.00,direct_debit,150.00
S1,2026-07,PLUS20,60.00,30.00,30.00,5.00,direct_debit,200.00
S2,2026-07,BASIC10,10.00,10.00,0.00,,card,
S3,2026-06,BASIC10,15.00,15.00,0.00,,cash,
`
	cdrHeader = "call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n"
	cdrMay    = cdrHeader + `M1,S1,491700000001,111,onnet,2026-05-05T10:00:00Z,60,voice,out,false,false,,,0,0.10
M2,S1,491700000001,666,onnet,2026-05-06T10:00:00Z,120,voice,out,false,false,,,0,0.20
`
	cdrJune = cdrHeader + `J1,S1,491700000001,111,onnet,2026-06-02T10:00:00Z,60,voice,out,false,false,,,0,0.10
J2,S1,491700000001,111,onnet,2026-06-03T10:00:00Z,60,voice,out,false,false,,,0,0.10
J3,S1,491700000001,111,onnet,2026-06-04T10:00:00Z,60,voice,out,false,false,,,0,0.10
J4,S1,491700000001,111,onnet,2026-06-05T10:00:00Z,60,voice,out,false,false,,,0,0.10
J5,S3,491700000003,777,onnet,2026-06-05T11:00:00Z,30,voice,out,false,false,,,0,0.05
`
	cdrJuly = cdrHeader + `C1,S1,491700000001,111,onnet,2026-07-01T09:00:00Z,300,voice,out,false,false,,,0,1.50
C2,S1,491700000001,222,offnet,2026-07-04T10:00:00Z,60,voice,out,false,false,,,0,0.20
C3,S1,491700000001,111,onnet,2026-07-06T21:00:00Z,240,voice,in,true,false,,,0,0
C4,S1,491700000001,333,care,2026-07-06T22:00:00Z,600,voice,out,false,false,,,0,0
C5,S1,491700000001,444,onnet,2026-07-10T12:00:00Z,0,sms,out,false,false,,,0,0.09
C6,S1,491700000001,,,2026-07-10T13:00:00Z,0,data,out,false,false,,,2048,0.0100
C7,S1,491700000001,555,international,2026-07-31T23:30:00Z,120,voice,out,false,true,,,0,2.00
C8,S3,491700000003,777,onnet,2026-07-02T11:00:00Z,30,voice,out,false,false,,,0,0.05
C9,S1,491700000001,999,onnet,2026-08-01T00:10:00Z,60,voice,out,false,false,,,0,0.10
`
)

func month(s string) time.Time {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		panic(err)
	}
	return t
}

func buildLake(t *testing.T) (*laketest.Lake, *features.Builder) {
	t.Helper()
	l := laketest.New(t)
	l.Ingest(t, "exports/subscribers/2026/07/31/subscribers-20260731.csv", register)
	l.Ingest(t, "exports/bills/bills.csv", bills)
	l.Ingest(t, "exports/cdr/2026/05/cdr.csv", cdrMay)
	l.Ingest(t, "exports/cdr/2026/06/cdr.csv", cdrJune)
	l.Ingest(t, "exports/cdr/2026/07/cdr.csv", cdrJuly)
	b := &features.Builder{Tables: l.Cat, Now: func() time.Time { return time.Date(2026, 8, 2, 0, 0, 0, 0, time.UTC) }}
	if _, err := b.Build(context.Background(), []time.Time{month("2026-07"), month("2026-05"), month("2026-06")}); err != nil {
		t.Fatalf("Build: %v", err)
	}
	return l, b
}

func TestHandComputedFeatures(t *testing.T) {
	l, _ := buildLake(t)
	set, err := features.Load(context.Background(), l.Cat, month("2026-07"), month("2026-07"))
	if err != nil {
		t.Fatal(err)
	}
	row := map[string]int{}
	for i, id := range set.IDs {
		row[id] = i
	}
	if len(row) != 2 || set.Rows() != 2 {
		t.Fatalf("July rows for %v, want S1 and S2 (S3 left on 2026-07-20)", set.IDs)
	}
	num := func(id, col string) float64 { return set.Col(col).Num[row[id]] }
	cat := func(id, col string) string { return set.Col(col).Cat[row[id]] }
	nan := math.NaN()
	tests := []struct {
		id, col string
		want    float64
	}{
		// S1: voice C1 C2 C3 C4 C7 = 300+60+240+600+120 s; C9 is August.
		{"S1", "voice_calls", 5},
		{"S1", "voice_minutes", 22},
		{"S1", "avg_call_s", 264},
		{"S1", "sms", 1},
		{"S1", "data_mb", 2},
		{"S1", "distinct_contacts", 4}, // 111 (twice), 222, 444, 555; care is no contact
		{"S1", "roaming_calls", 1},
		{"S1", "intl_calls", 1},
		{"S1", "peak_share", 0.2},    // only C1 (Wed 09:00); C7 is Fri 23:30
		{"S1", "weekend_share", 0.2}, // C2 on Saturday
		{"S1", "offnet_share", 0.25}, // C2 of the out calls C1 C2 C4 C7
		{"S1", "high_value_calls", 2},
		{"S1", "care_calls", 1},
		{"S1", "active_days", 5}, // 1, 4, 6, 10, 31
		{"S1", "usage_charge", 3.80},
		{"S1", "tenure_months", 18},
		{"S1", "amount_due", 60},
		{"S1", "paid_ratio", 0.5},
		{"S1", "arrears", 30},
		{"S1", "months_in_arrears", 2},
		{"S1", "discount", 5},
		{"S1", "credit_limit", 200},
		{"S1", "credit_use", 0.3},
		{"S1", "voice_minutes_trend", 22/3.5 - 1}, // May 3 min, June 4 min
		{"S1", "calls_trend", 5.0/3 - 1},          // May 2, June 4
		{"S1", "contacts_trend", 4/1.5 - 1},       // May 2 (111, 666), June 1
		{"S1", "data_trend", nan},                 // no data before
		{"S1", "spend_trend", 60.0/45 - 1},        // bills 40, 50
		{"S2", "voice_calls", 0},
		{"S2", "avg_call_s", nan},
		{"S2", "peak_share", nan},
		{"S2", "tenure_months", 1},
		{"S2", "amount_due", 10},
		{"S2", "months_in_arrears", 0},
		{"S2", "credit_limit", nan},
		{"S2", "spend_trend", nan}, // no bill in June
	}
	for _, tt := range tests {
		got := num(tt.id, tt.col)
		if math.IsNaN(tt.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tt.want) > 1e-9) {
			t.Errorf("%s %s = %v, want %v", tt.id, tt.col, got, tt.want)
		}
	}
	for _, c := range []struct{ id, col, want string }{
		{"S1", "plan", "PLUS20"}, {"S1", "age_band", "35-44"}, {"S1", "region", "North"},
		{"S1", "payment_method", "direct_debit"}, {"S1", "status", "active"},
		{"S2", "age_band", ""}, {"S2", "payment_method", "card"},
	} {
		if got := cat(c.id, c.col); got != c.want {
			t.Errorf("%s %s = %q, want %q", c.id, c.col, got, c.want)
		}
	}
}

func TestLabels(t *testing.T) {
	l, _ := buildLake(t)
	ctx := context.Background()
	set, err := features.Load(ctx, l.Cat, month("2026-05"), month("2026-07"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := features.LoadRegister(ctx, l.Cat)
	if err != nil {
		t.Fatal(err)
	}
	out, err := features.LoadOutcomes(ctx, l.Cat)
	if err != nil {
		t.Fatal(err)
	}
	label, known := reg.Labels(set, 1)
	olabel, oknown := out.Labels(set, 1)
	for i, id := range set.IDs {
		m := set.Months[i].Format("2006-01")
		// S3 left on 2026-07-20: within a month after June, not after May.
		wantLabel := id == "S3" && m == "2026-06"
		// The only snapshot is 2026-07-31: one month ahead is known for May and June.
		wantKnown := m != "2026-07"
		if label[i] != wantLabel || known[i] != wantKnown {
			t.Errorf("%s %s: label %v known %v, want %v %v", id, m, label[i], known[i], wantLabel, wantKnown)
		}
		// The compact outcomes the training run reads say the same.
		if olabel[i] != wantLabel || oknown[i] != wantKnown {
			t.Errorf("%s %s: outcomes label %v known %v, want %v %v", id, m, olabel[i], oknown[i], wantLabel, wantKnown)
		}
	}
	if !out.LastExportDate().Equal(reg.LastExportDate()) || len(out.Deactivated) != len(reg.Deactivated) {
		t.Errorf("outcomes: last export %s, %d deactivated; register %s, %d", out.LastExportDate(), len(out.Deactivated),
			reg.LastExportDate(), len(reg.Deactivated))
	}
}

func TestRebuildReplacesOnlyThatMonth(t *testing.T) {
	l, b := buildLake(t)
	ctx := context.Background()
	count := func() map[string]int {
		set, err := features.Load(ctx, l.Cat, month("2026-01"), month("2026-12"))
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, m := range set.Months {
			n[m.Format("2006-01")]++
		}
		return n
	}
	before := count()
	tbl, err := l.Cat.LoadTable(ctx, lake.FeaturesTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, f := range mustFiles(t, tbl, "2026-05") {
		files[f] = true
	}
	for range 2 {
		if _, err := b.Build(ctx, []time.Time{month("2026-06")}); err != nil {
			t.Fatal(err)
		}
	}
	after := count()
	if len(before) != 3 || before["2026-06"] != 3 || before["2026-07"] != 2 || before["2026-05"] != 2 {
		t.Fatalf("rows per month before = %v", before)
	}
	for m, n := range before {
		if after[m] != n {
			t.Errorf("month %s: %d rows after rebuilding June twice, want %d", m, after[m], n)
		}
	}
	tbl, err = l.Cat.LoadTable(ctx, lake.FeaturesTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range mustFiles(t, tbl, "2026-05") {
		if !files[f] {
			t.Errorf("May's data file %s is new: rebuilding June rewrote May", f)
		}
	}
}

// mustFiles lists the data files of the table's current snapshot whose
// partition is the given month.
func mustFiles(t *testing.T, tbl interface {
	Scan(...table.ScanOption) *table.Scan
}, m string) []string {
	t.Helper()
	tasks, err := tbl.Scan(table.WithRowFilter(iceberg.EqualTo(iceberg.Reference("month"), iceberg.Date(month(m).Unix()/86400)))).PlanFiles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, task := range tasks {
		out = append(out, task.File.FilePath())
	}
	if len(out) == 0 {
		t.Fatalf("no data files for %s", m)
	}
	return out
}
