package features_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/models/features"
	"github.com/telcolake/telcolake/synth"
)

// generatedLake ingests synthetic exports: 400 subscribers, 4 months.
func generatedLake(t *testing.T) *laketest.Lake {
	t.Helper()
	l := laketest.New(t)
	landing := filepath.Join(l.Root, laketest.Landing)
	man, err := synth.Generate(context.Background(), synth.Config{Subscribers: 400, Months: 4, Seed: 11,
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), CDRFileSpan: "month"}, synth.DirSink(landing))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range man.Deliveries {
		body, err := os.ReadFile(filepath.Join(landing, filepath.FromSlash(key)))
		if err != nil {
			t.Fatal(err)
		}
		l.Ingest(t, key, string(body))
	}
	return l
}

// featureRows reads crm.features and crm.usage_cube whole, one line per
// row (every column), sorted.
func featureRows(t *testing.T, l *laketest.Lake) []string {
	t.Helper()
	return append(tableRows(t, l, lake.FeaturesTable), tableRows(t, l, lake.UsageCubeTable)...)
}

func tableRows(t *testing.T, l *laketest.Lake, def lake.TableDef) []string {
	t.Helper()
	ctx := context.Background()
	tbl, err := l.Cat.LoadTable(ctx, def.Ident())
	if err != nil {
		t.Fatal(err)
	}
	_, recs, err := tbl.Scan().ToArrowRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rec, err := range recs {
		if err != nil {
			t.Fatal(err)
		}
		for i := range int(rec.NumRows()) {
			var b strings.Builder
			for c, col := range rec.Columns() {
				b.WriteString(def.Name + "." + rec.ColumnName(c) + "=" + col.ValueStr(i) + " ")
			}
			out = append(out, b.String())
		}
		rec.Release()
	}
	slices.Sort(out)
	return out
}

func TestFanOutEqualsSingleProcess(t *testing.T) {
	for _, monthOnly := range []bool{false, true} {
		name := "bucket spec"
		if monthOnly {
			name = "month-only spec" // crm.features of an older lake
		}
		t.Run(name, func(t *testing.T) { fanOutEqualsSingleProcess(t, monthOnly) })
	}
}

func fanOutEqualsSingleProcess(t *testing.T, monthOnly bool) {
	l := generatedLake(t)
	if monthOnly {
		l.MonthOnlyFeatures(t)
	}
	ctx := context.Background()
	clock := func() time.Time { return time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC) }
	b := &features.Builder{Tables: l.Cat, Now: clock}
	months, err := features.BillMonths(ctx, l.Cat)
	if err != nil || len(months) != 4 {
		t.Fatalf("BillMonths = %v, %v; want 4 months", months, err)
	}
	single, err := b.Build(ctx, months)
	if err != nil {
		t.Fatal(err)
	}
	want := featureRows(t, l)
	// The built months come from the files' month partition values, not
	// the bucket beside it.
	built, err := features.BuiltMonths(ctx, l.Cat)
	if err != nil {
		t.Fatal(err)
	}
	if len(built) != len(months) {
		t.Errorf("BuiltMonths = %v, want the %d months built", built, len(months))
	}
	for _, m := range months {
		if !built[m] {
			t.Errorf("BuiltMonths lacks %s: %v", m.Format("2006-01"), built)
		}
	}

	// Buckets built side by side, three at a time, as the state machine's
	// Map runs them; then one commit per month.
	parts := make([]features.BucketResult, lake.SubscriberBuckets)
	errs := make([]error, lake.SubscriberBuckets)
	sem := make(chan struct{}, 3)
	var wg sync.WaitGroup
	for k := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r, err := b.BuildBucket(ctx, months, k)
			if err == nil {
				parts[k] = *r
			}
			errs[k] = err
		}()
	}
	wg.Wait()
	for k, err := range errs {
		if err != nil {
			t.Fatalf("BuildBucket(%d): %v", k, err)
		}
	}
	if _, err := b.CommitMonths(ctx, parts[:lake.SubscriberBuckets-1]); err == nil {
		t.Fatal("CommitMonths without the last bucket succeeded; want an error, nothing committed")
	}
	if got := featureRows(t, l); !slices.Equal(got, want) {
		t.Fatal("a refused commit changed crm.features")
	}
	fan, err := b.CommitMonths(ctx, parts)
	if err != nil {
		t.Fatal(err)
	}
	got := featureRows(t, l)
	if len(got) != len(want) {
		t.Fatalf("fan-out wrote %d rows, single process %d", len(got), len(want))
	}
	if n := len(tableRows(t, l, lake.UsageCubeTable)); n == 0 {
		t.Fatal("crm.usage_cube is empty")
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d differs:\nfan-out %s\nsingle  %s", i, got[i], want[i])
		}
	}
	for i, m := range fan {
		// Each bucket read only its own CDR files: the buckets' CDR rows add
		// up to the single build's, not to 8 times as many.
		if m.Rows != single[i].Rows || m.CDRRows != single[i].CDRRows || m.CDRRows == 0 {
			t.Errorf("month %s: fan-out %d rows from %d CDR rows, single %d from %d", m.Month.Format("2006-01"),
				m.Rows, m.CDRRows, single[i].Rows, single[i].CDRRows)
		}
	}
	for _, p := range parts {
		rows := 0
		for _, bm := range p.Months {
			if bm.Rows == 0 {
				t.Errorf("bucket %d month %s is empty: the hash does not spread 400 subscribers", p.Bucket, bm.Month.Format("2006-01"))
			}
			rows += bm.Rows
		}
		// Each bucket's files landed in its partition of crm.features: a
		// bucket scan opens one file a month and finds the bucket's rows
		// (month-only: every bucket's file of every month, filtered).
		var cost lake.ScanCost
		for _, err := range lake.Scan(ctx, l.Cat, lake.FeaturesTable, lake.Select("month"), lake.InBucket(p.Bucket), lake.CountInto(&cost)) {
			if err != nil {
				t.Fatal(err)
			}
		}
		files := len(months)
		if monthOnly {
			files *= lake.SubscriberBuckets
		}
		if cost.DataFiles != int64(files) || cost.Rows != int64(rows) || (cost.BucketDropped == 0) != !monthOnly {
			t.Errorf("bucket %d: a bucket scan read %d data files and %d rows (%d dropped), want %d files and its %d rows",
				p.Bucket, cost.DataFiles, cost.Rows, cost.BucketDropped, files, rows)
		}
	}
}

func TestBucketIsIcebergBucketTransform(t *testing.T) {
	// Values from the Iceberg spec's bucket test vectors: murmur3("iceberg")
	// = 1210000089, so bucket[8] is 1210000089 mod 8 = 1.
	if got := lake.SubscriberBucket("iceberg"); got != 1 {
		t.Errorf("SubscriberBucket(%q) = %d, want 1", "iceberg", got)
	}
}
