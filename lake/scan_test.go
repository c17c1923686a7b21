package lake_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
)

// TestBatchMirrorsRowBuilder: what RowBuilder writes, Batch's getters
// read back by name, nulls included.
func TestBatchMirrorsRowBuilder(t *testing.T) {
	trained := time.Date(2026, 11, 1, 3, 4, 5, 6000, time.UTC)
	month := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	rb, err := lake.NewRowBuilder(lake.ModelRunsTable, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Release()
	for i, v := range []string{"churn-a", "segment-b"} {
		rb.String("version", v)
		rb.String("kind", strings.Split(v, "-")[0])
		rb.String("algorithm", "logistic")
		rb.Time("trained_at", trained)
		rb.Date("train_from", month)
		rb.Date("train_to", time.Time{}) // null
		rb.Null("valid_month")
		if i == 0 {
			rb.Int32("horizon_months", 2)
		} else {
			rb.Null("horizon_months")
		}
		rb.Int64("train_rows", 1234+int64(i))
		rb.Null("valid_rows")
		rb.Float("auc", 0.8)
		rb.Float("auc_lo", math.NaN()) // null
		rb.Null("auc_hi")
		rb.Null("pr_auc")
		rb.Null("lift10")
		rb.Int32("k", 7)
		rb.Null("silhouette")
		for _, c := range []string{"auuc", "auuc_lo", "auuc_hi", "auuc_risk", "train_population", "valid_population", "sample"} {
			rb.Null(c)
		}
		rb.String("artifact", "s3://lake/models/x.json")
		rb.String("report", "")
		rb.Bool("promoted", i == 0)
		rb.String("decision", "first")
	}
	rec := rb.Record()
	defer rec.Release()
	b := lake.NewBatch(rec, "crm.model_runs")
	version, trainedAt, from, to := b.String("version"), b.Time("trained_at"), b.Date("train_from"), b.Date("train_to")
	horizon, rows, auc, lo, k := b.Int32("horizon_months"), b.Int64("train_rows"), b.Float("auc"), b.Float("auc_lo"), b.Int32("k")
	report, promoted, kNum := b.String("report"), b.Bool("promoted"), b.Number("k")
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 2 || version.Value(1) != "segment-b" || !trainedAt.Value(0).Equal(trained) || trainedAt.Micros(0) != trained.UnixMicro() ||
		!from.Time(0).Equal(month) || from.Value(0) != int32(month.Unix()/86400) || !to.IsNull(0) {
		t.Errorf("strings, times, dates read back wrong: %q %v %v %v", version.Value(1), trainedAt.Value(0), from.Time(0), to.IsNull(0))
	}
	if p := lake.Opt(horizon, 0); p == nil || *p != 2 {
		t.Errorf("horizon row 0 = %v, want 2", p)
	}
	if p := lake.Opt(horizon, 1); p != nil {
		t.Errorf("horizon row 1 = %v, want null", *p)
	}
	if rows.Value(1) != 1235 || auc.Value(0) != 0.8 || !lo.IsNull(0) || k.Value(0) != 7 || kNum.Value(0) != 7 ||
		!report.IsNull(0) || !promoted.Value(0) || promoted.Value(1) {
		t.Errorf("numbers and flags read back wrong")
	}
}

// TestBatchColumnErrors: a missing or mistyped column is one error naming
// the table and the column; the first one is kept.
func TestBatchColumnErrors(t *testing.T) {
	rb, err := lake.NewRowBuilder(lake.BillsTable, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Release()
	for _, c := range lake.BillsTable.Schema.Fields() {
		rb.Null(c.Name)
	}
	rec := rb.Record()
	defer rec.Release()
	for _, tc := range []struct {
		name string
		get  func(b *lake.Batch)
		want string
	}{
		{"missing", func(b *lake.Batch) { b.String("msisdn") }, `crm.bills: column "msisdn" missing`},
		{"string as date", func(b *lake.Batch) { b.Date("plan") }, `crm.bills: column "plan" is utf8, want a date`},
		{"money as long", func(b *lake.Batch) { b.Int64("amount_due") }, `column "amount_due" is decimal(12, 2), want a long`},
		{"date as money", func(b *lake.Batch) { b.Money("bill_month", 2) }, `column "bill_month" is date32, want a decimal`},
		{"string as number", func(b *lake.Batch) { b.Number("plan") }, `column "plan" is utf8, want a number`},
		{"timestamp as int", func(b *lake.Batch) { b.Int32("ingested_at") }, `column "ingested_at" is timestamp`},
		{"first kept", func(b *lake.Batch) { b.Bool("plan"); b.String("nope") }, `column "plan" is utf8, want a boolean`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := lake.NewBatch(rec, "crm.bills")
			tc.get(b)
			if err := b.Err(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Err() = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	b := lake.NewBatch(rec, "crm.bills")
	b.Money("amount_due", 2)
	b.String("plan")
	b.Number("credit_limit")
	if err := b.Err(); err != nil {
		t.Errorf("well-typed getters: %v", err)
	}
}

// TestMoneyScale: a decimal column reads as integer units at any scale.
func TestMoneyScale(t *testing.T) {
	rb, err := lake.NewRowBuilder(lake.CDRTable, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Release()
	for _, c := range lake.CDRTable.Schema.Fields() {
		if c.Name == "charge" {
			rb.Money("charge", 12345) // 1.2345 at scale 4
		} else {
			rb.Null(c.Name)
		}
	}
	rec := rb.Record()
	defer rec.Release()
	b := lake.NewBatch(rec, "crm.cdr")
	for _, tc := range []struct {
		scale int32
		want  int64
	}{{4, 12345}, {2, 123}, {0, 1}, {6, 1234500}} {
		if got := b.Money("charge", tc.scale).Value(0); got != tc.want {
			t.Errorf("Money(charge, %d) = %d, want %d", tc.scale, got, tc.want)
		}
	}
	if got := b.Number("charge").Value(0); math.Abs(got-1.2345) > 1e-12 {
		t.Errorf("Number(charge) = %v, want 1.2345", got)
	}
}

// TestScanProjectsFiltersAndCounts: Scan over a real table projects, filters
// by partition and rows, and counts what it read.
func TestScanProjectsFiltersAndCounts(t *testing.T) {
	l := laketest.New(t)
	ctx := context.Background()
	for m := 1; m <= 3; m++ {
		rb, err := lake.NewRowBuilder(lake.BillsTable, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"S1", "S2"} {
			rb.String("subscriber_id", id)
			rb.Date("bill_month", time.Date(2026, time.Month(m), 1, 0, 0, 0, 0, time.UTC))
			rb.String("plan", "BASIC")
			rb.Money("amount_due", int64(1000*m))
			rb.Money("amount_paid", 0)
			rb.Money("arrears", 0)
			rb.Money("discount", 0)
			rb.String("payment_method", "card")
			rb.Null("credit_limit")
			rb.String("source_file", "f")
			rb.Time("ingested_at", time.Unix(0, 0))
		}
		rec := rb.Record()
		if _, err := lake.ReplaceRows(ctx, l.Cat, lake.BillsTable, nil, []arrow.RecordBatch{rec}, nil); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		rb.Release()
	}
	var cost lake.ScanCost
	var due []int64
	month := iceberg.EqualTo(iceberg.Reference("bill_month"), iceberg.Date(int32(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC).Unix()/86400)))
	for b, err := range lake.Scan(ctx, l.Cat, lake.BillsTable, lake.Select("subscriber_id", "amount_due"), lake.Where(month), lake.CountInto(&cost)) {
		if err != nil {
			t.Fatal(err)
		}
		d := b.Money("amount_due", 2)
		b.Date("bill_month") // not selected
		if b.Err() == nil || !strings.Contains(b.Err().Error(), `"bill_month" missing`) {
			t.Errorf("unselected column: Err() = %v", b.Err())
		}
		for i := range b.Len() {
			due = append(due, d.Value(i))
		}
	}
	if len(due) != 2 || due[0] != 2000 || due[1] != 2000 {
		t.Errorf("February's amounts = %v, want [2000 2000]", due)
	}
	if cost.Scans != 1 || cost.Rows != 2 || cost.DataFiles != 1 || cost.ManifestsScanned != 1 || cost.ManifestsSkipped != 2 {
		t.Errorf("cost = %+v, want 1 scan, 2 rows, 1 data file, 1 manifest scanned and 2 skipped", cost)
	}
	for _, err := range lake.Scan(ctx, l.Cat, lake.TableDef{Name: "nope", Schema: lake.BillsTable.Schema}) {
		if err == nil || !strings.Contains(err.Error(), "load crm.nope") {
			t.Errorf("missing table: %v", err)
		}
	}
}
