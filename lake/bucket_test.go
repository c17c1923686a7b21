package lake_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
)

// featureRecord is crm.features rows of ids in month: voice_calls is v,
// the other required columns take v or "x", the optional ones are null.
func featureRecord(t *testing.T, month time.Time, ids []string, v int64) arrow.RecordBatch {
	t.Helper()
	rb, err := lake.NewRowBuilder(lake.FeaturesTable, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Release()
	for _, id := range ids {
		for _, f := range lake.FeaturesTable.Schema.Fields() {
			switch {
			case f.Name == "month":
				rb.Date(f.Name, month)
			case f.Name == "subscriber_id":
				rb.String(f.Name, id)
			case !f.Required:
				rb.Null(f.Name)
			default:
				switch f.Type.(type) {
				case iceberg.StringType:
					rb.String(f.Name, "x")
				case iceberg.Int32Type:
					rb.Int32(f.Name, v)
				case iceberg.Float64Type:
					rb.Float(f.Name, float64(v))
				case iceberg.DecimalType:
					rb.Money(f.Name, v)
				case iceberg.TimestampTzType:
					rb.Time(f.Name, month)
				default:
					t.Fatalf("column %s of type %s: no test value", f.Name, f.Type)
				}
			}
		}
	}
	return rb.Record()
}

func monthIs(m time.Time) iceberg.BooleanExpression {
	return iceberg.EqualTo(iceberg.Reference("month"), iceberg.Date(int32(m.Unix()/86400)))
}

// bucketRows reads crm.features with opts: one "month id voice_calls" line
// per row, sorted, and what the scan read.
func bucketRows(t *testing.T, l *laketest.Lake, opts ...lake.ScanOption) ([]string, lake.ScanCost) {
	t.Helper()
	var cost lake.ScanCost
	var out []string
	opts = append([]lake.ScanOption{lake.Select("month", "subscriber_id", "voice_calls"), lake.CountInto(&cost)}, opts...)
	for b, err := range lake.Scan(context.Background(), l.Cat, lake.FeaturesTable, opts...) {
		if err != nil {
			t.Fatal(err)
		}
		months, ids, calls := b.Date("month"), b.String("subscriber_id"), b.Int32("voice_calls")
		if err := b.Err(); err != nil {
			t.Fatal(err)
		}
		for i := range b.Len() {
			out = append(out, fmt.Sprintf("%s %s %d", months.Time(i).Format("2006-01"), ids.Value(i), calls.Value(i)))
		}
	}
	slices.Sort(out)
	return out, cost
}

// TestInBucketReadsOneBucket: a bucket scan of crm.features opens only the
// data files of its bucket (bucket-partitioned table) and returns exactly
// the rows of a full scan whose subscriber is in the bucket, with months
// written both ways (ReplaceRows: the single-process build; WriteRows of
// each bucket and one CommitFiles: the fan-out) and one month replaced.
// On a table of an older lake (month only) it reads every file and still
// returns exactly the bucket's rows.
func TestInBucketReadsOneBucket(t *testing.T) {
	for _, monthOnly := range []bool{false, true} {
		name := "bucket spec"
		if monthOnly {
			name = "month-only spec"
		}
		t.Run(name, func(t *testing.T) {
			l := laketest.New(t)
			if monthOnly {
				l.MonthOnlyFeatures(t)
			}
			ctx := context.Background()
			var ids []string
			for i := range 240 {
				ids = append(ids, fmt.Sprintf("S%05d", i*37))
			}
			jan, feb, mar := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			replace := func(m time.Time, ids []string, v int64) {
				rec := featureRecord(t, m, ids, v)
				defer rec.Release()
				if _, err := lake.ReplaceRows(ctx, l.Cat, lake.FeaturesTable, monthIs(m), []arrow.RecordBatch{rec}, nil); err != nil {
					t.Fatal(err)
				}
			}
			replace(jan, ids, 1)
			replace(feb, ids, 2)
			// March as the fan-out writes it: each bucket's rows by WriteRows,
			// then one commit of every bucket's files.
			var paths []string
			for b := range lake.SubscriberBuckets {
				var mine []string
				for _, id := range ids {
					if lake.SubscriberBucket(id) == b {
						mine = append(mine, id)
					}
				}
				rec := featureRecord(t, mar, mine, 3)
				p, err := lake.WriteRows(ctx, l.Cat, lake.FeaturesTable, []arrow.RecordBatch{rec})
				rec.Release()
				if err != nil {
					t.Fatal(err)
				}
				paths = append(paths, p...)
			}
			if _, err := lake.CommitFiles(ctx, l.Cat, lake.FeaturesTable, monthIs(mar), paths, nil); err != nil {
				t.Fatal(err)
			}
			// January rebuilt with fewer subscribers: the month replace
			// replaces that month, every bucket of it, and nothing else.
			replace(jan, ids[:200], 10)

			all, full := bucketRows(t, l)
			if len(all) != 200+240+240 {
				t.Fatalf("full scan: %d rows, want %d", len(all), 200+240+240)
			}
			for _, r := range all {
				if r[:7] == "2026-01" && r[len(r)-3:] != " 10" {
					t.Fatalf("January row %q survived its month's replace", r)
				}
			}
			tbl, err := l.Cat.LoadTable(ctx, lake.FeaturesTable.Ident())
			if err != nil {
				t.Fatal(err)
			}
			tasks, err := tbl.Scan().PlanFiles(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if full.DataFiles != int64(len(tasks)) {
				t.Errorf("full scan read %d data files, the table has %d", full.DataFiles, len(tasks))
			}
			wantFiles := 1 + 1 + lake.SubscriberBuckets // one a month, March one a bucket's WriteRows
			if !monthOnly {
				wantFiles = 3 * lake.SubscriberBuckets // one a month and bucket
			}
			if len(tasks) != wantFiles {
				t.Errorf("the table has %d data files, want %d", len(tasks), wantFiles)
			}
			var files int64
			for b := range lake.SubscriberBuckets {
				var want []string
				for _, r := range all {
					if lake.SubscriberBucket(strings.Fields(r)[1]) == b {
						want = append(want, r)
					}
				}
				got, cost := bucketRows(t, l, lake.InBucket(b))
				if !slices.Equal(got, want) {
					t.Fatalf("bucket %d: %d rows, want %d (the full scan's of the bucket):\ngot  %v\nwant %v", b, len(got), len(want), got, want)
				}
				if len(want) == 0 {
					t.Fatalf("bucket %d is empty: 240 ids do not spread", b)
				}
				kept := lake.BucketTasks(tbl.Metadata(), tasks, b)
				var fileRows int64
				for _, k := range kept {
					fileRows += k.File.Count()
				}
				if b == 0 {
					t.Logf("bucket 0 reads %d of %d data files holding %d rows, for its %d", cost.DataFiles, len(tasks), fileRows, len(want))
				}
				switch {
				case cost.DataFiles != int64(len(kept)):
					t.Errorf("bucket %d read %d data files, BucketTasks keeps %d", b, cost.DataFiles, len(kept))
				case monthOnly && len(kept) != len(tasks):
					t.Errorf("bucket %d of a month-only table keeps %d of %d files, want all", b, len(kept), len(tasks))
				case !monthOnly && (len(kept) != 3 || fileRows != int64(len(want))):
					t.Errorf("bucket %d keeps %d files of %d rows, want its 3 (one a month) of its %d rows", b, len(kept), fileRows, len(want))
				}
				files += cost.DataFiles
				if cost.Rows != int64(len(want)) {
					t.Errorf("bucket %d: cost counts %d rows, want %d", b, cost.Rows, len(want))
				}

				// Without subscriber_id selected, the rows are the same and the
				// column is not returned.
				n := 0
				for bt, err := range lake.Scan(ctx, l.Cat, lake.FeaturesTable, lake.Select("month", "voice_calls"), lake.InBucket(b)) {
					if err != nil {
						t.Fatal(err)
					}
					if bt.Record().Schema().HasField("subscriber_id") {
						t.Fatalf("bucket %d: subscriber_id returned though not selected", b)
					}
					n += bt.Len()
				}
				if n != len(want) {
					t.Errorf("bucket %d without subscriber_id: %d rows, want %d", b, n, len(want))
				}
			}
			if !monthOnly && files != int64(len(tasks)) {
				t.Errorf("the buckets read %d data files in all, the table has %d: each should be read by one bucket", files, len(tasks))
			}
		})
	}
}

// TestCommitFilesRefusesAFileOfManyBuckets: CommitFiles reads a file's
// subscriber bucket from its footer; a file holding rows of several
// buckets (written under a month-only spec) is refused by a bucket-
// partitioned crm.features, which stays as it was.
func TestCommitFilesRefusesAFileOfManyBuckets(t *testing.T) {
	ctx := context.Background()
	old := laketest.New(t)
	old.MonthOnlyFeatures(t)
	mar := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 40 {
		ids = append(ids, fmt.Sprintf("S%05d", i))
	}
	rec := featureRecord(t, mar, ids, 3)
	defer rec.Release()
	paths, err := lake.WriteRows(ctx, old.Cat, lake.FeaturesTable, []arrow.RecordBatch{rec})
	if err != nil || len(paths) != 1 {
		t.Fatalf("WriteRows = %v, %v; want one file", paths, err)
	}
	l := laketest.New(t)
	_, err = lake.CommitFiles(ctx, l.Cat, lake.FeaturesTable, monthIs(mar), paths, nil)
	if err == nil || !strings.Contains(err.Error(), "rows of buckets") {
		t.Fatalf("CommitFiles of a file of many buckets: %v, want refused", err)
	}
	if rows, _ := bucketRows(t, l); len(rows) != 0 {
		t.Errorf("a refused commit left %d rows", len(rows))
	}
}
