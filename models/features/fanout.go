package features

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/lake"
)

// The fan-out build splits the subscribers into lake.SubscriberBuckets
// buckets by Iceberg's bucket hash of subscriber_id. Everything a feature
// row needs is the subscriber's own: the CDR and earlier feature months
// (crm.cdr and crm.features are partitioned by the bucket, so a bucket
// reads only its files; a month-only crm.features of an older lake is read
// whole and filtered), bills and register rows (read whole and filtered by
// bucket: those tables are ~100 times smaller than crm.cdr). Each bucket's
// rows of a month land in that bucket's partition of the month
// (WriteRows' partitioned writer; lake.CommitFiles reads the bucket back
// from each file's footer). So each bucket is built by its own
// function invocation (BuildBucket: data files written, nothing
// committed), and one more (CommitMonths) commits every month in one
// snapshot of all buckets' files, replacing that month's partitions: the
// rows equal Build's, row by row. The usage cube's cells add up over
// buckets (a subscriber is in one bucket, so even the distinct counts
// add): each bucket writes its partial cells as uncommitted files, and the
// commit sums them into the month's crm.usage_cube rows.

// BucketMonth is one month of one bucket, written but not committed.
type BucketMonth struct {
	Month   time.Time `json:"month"`
	Rows    int       `json:"rows"`
	CDRRows int64     `json:"cdr_rows"`
	Files   []string  `json:"files"`
	// CubeFiles hold the bucket's partial usage cube cells (never
	// committed; the commit sums and removes them).
	CubeFiles []string `json:"cube_files"`
	Seconds   float64  `json:"seconds"`
}

// BucketResult is what BuildBucket wrote for one bucket.
type BucketResult struct {
	Bucket int           `json:"bucket"`
	Months []BucketMonth `json:"months"`
}

// BuildBucket builds the given months (in calendar order, each month's
// trends reading the months before it, built in this run or committed
// earlier) for the subscribers of one bucket, and writes each month's rows
// as data files of crm.features without committing them.
func (b *Builder) BuildBucket(ctx context.Context, months []time.Time, bucket int) (*BucketResult, error) {
	if bucket < 0 || bucket >= lake.SubscriberBuckets {
		return nil, fmt.Errorf("features: bucket %d is not in [0, %d)", bucket, lake.SubscriberBuckets)
	}
	months = normMonths(months)
	reg, err := loadRegister(ctx, b.Tables, subset(bucket))
	if err != nil {
		return nil, err
	}
	book, err := loadBillBook(ctx, b.Tables, months, subset(bucket))
	if err != nil {
		return nil, err
	}
	built := map[int32]arrow.RecordBatch{}
	defer func() {
		for _, r := range built {
			r.Release()
		}
	}()
	out := &BucketResult{Bucket: bucket}
	for _, m := range months {
		t0 := time.Now()
		mb, err := b.monthRecord(ctx, reg, book, m, subset(bucket), built)
		if err != nil {
			return nil, err
		}
		built[epochDay(m)] = mb.rec
		files, err := lake.WriteRows(ctx, b.Tables, lake.FeaturesTable, []arrow.RecordBatch{mb.rec})
		if err != nil {
			return nil, fmt.Errorf("features: write %s bucket %d: %w", m.Format("2006-01"), bucket, err)
		}
		cube, err := usageCubeRecord(mb.cube.cells(), mb.demo, m, b.now())
		if err != nil {
			return nil, err
		}
		cubeFiles, err := lake.WriteRows(ctx, b.Tables, lake.UsageCubeTable, []arrow.RecordBatch{cube})
		cube.Release()
		if err != nil {
			return nil, fmt.Errorf("features: write usage cube %s bucket %d: %w", m.Format("2006-01"), bucket, err)
		}
		out.Months = append(out.Months, BucketMonth{Month: m, Rows: int(mb.rec.NumRows()), CDRRows: mb.cdrRows,
			Files: files, CubeFiles: cubeFiles, Seconds: time.Since(t0).Seconds()})
		// Trends look back three months: older records are not needed.
		for d, r := range built {
			if d < epochDay(m.AddDate(0, -2, 0)) {
				r.Release()
				delete(built, d)
			}
		}
	}
	if b.Log != nil {
		b.Log.InfoContext(ctx, "feature bucket built", "bucket", bucket, "months", len(months))
	}
	return out, nil
}

// CommitMonths commits the buckets' files: one snapshot per month, in
// calendar order, each replacing that month's rows. Every bucket must be
// there once with the same months; otherwise nothing is committed, since a
// missing bucket would drop its subscribers from the month.
func (b *Builder) CommitMonths(ctx context.Context, parts []BucketResult) ([]MonthResult, error) {
	seen := map[int]bool{}
	var months []time.Time
	for i, p := range parts {
		if p.Bucket < 0 || p.Bucket >= lake.SubscriberBuckets || seen[p.Bucket] {
			return nil, fmt.Errorf("features: commit: bucket %d is out of range or given twice", p.Bucket)
		}
		seen[p.Bucket] = true
		var ms []time.Time
		for _, m := range p.Months {
			ms = append(ms, MonthStart(m.Month))
		}
		if i == 0 {
			months = ms
		} else if !slices.EqualFunc(ms, months, time.Time.Equal) {
			return nil, fmt.Errorf("features: commit: bucket %d built other months than bucket %d", p.Bucket, parts[0].Bucket)
		}
	}
	if len(seen) != lake.SubscriberBuckets {
		return nil, fmt.Errorf("features: commit: %d of %d buckets built", len(seen), lake.SubscriberBuckets)
	}
	var out []MonthResult
	for i, m := range months {
		t0 := time.Now()
		res := MonthResult{Month: m}
		var files, cubeFiles []string
		for _, p := range parts {
			bm := p.Months[i]
			files = append(files, bm.Files...)
			cubeFiles = append(cubeFiles, bm.CubeFiles...)
			res.Rows += bm.Rows
			res.CDRRows += bm.CDRRows
		}
		props := iceberg.Properties{"telcolake.features.month": m.Format("2006-01"),
			"telcolake.features.buckets": fmt.Sprint(len(parts))}
		snap, err := lake.CommitFiles(ctx, b.Tables, lake.FeaturesTable, monthFilter(m), files, props)
		if err != nil {
			return out, fmt.Errorf("features: commit %s: %w", m.Format("2006-01"), err)
		}
		if err := b.commitUsageCube(ctx, m, cubeFiles); err != nil {
			return out, err
		}
		res.SnapshotID, res.Seconds = snap, time.Since(t0).Seconds()
		out = append(out, res)
		if b.Log != nil {
			b.Log.InfoContext(ctx, "features committed", "month", m.Format("2006-01"), "rows", res.Rows,
				"files", len(files))
		}
	}
	return out, nil
}

func normMonths(months []time.Time) []time.Time {
	out := make([]time.Time, len(months))
	for i, m := range months {
		out[i] = MonthStart(m)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, time.Time.Equal)
}

// commitUsageCube sums the buckets' partial usage cube cells of month into
// its crm.usage_cube rows, then removes the partial files.
func (b *Builder) commitUsageCube(ctx context.Context, month time.Time, paths []string) error {
	type key struct {
		grouping, hour, dayType, kind int
		demo                          [3]string
	}
	sums := map[key]*usageCell{}
	var d demographics
	demoIDs := map[[3]string]int{}
	err := lake.ReadFiles(ctx, b.Tables, lake.UsageCubeTable, paths, func(rec arrow.RecordBatch) error {
		cols := map[string]arrow.Array{}
		for i, f := range rec.Schema().Fields() {
			cols[f.Name] = rec.Column(i)
		}
		grouping, ok1 := cols["grouping"].(*array.Int32)
		hour, ok2 := cols["hour"].(*array.Int32)
		calls, ok3 := cols["calls"].(*array.Int64)
		minutes, ok4 := cols["minutes"].(*array.Float64)
		subs, ok5 := cols["subscribers"].(*array.Int64)
		if !(ok1 && ok2 && ok3 && ok4 && ok5) {
			return fmt.Errorf("features: a partial usage cube file has other columns than crm.usage_cube")
		}
		str := func(name string, i int) (string, error) {
			c, ok := cols[name].(*array.String)
			if !ok {
				return "", fmt.Errorf("features: partial usage cube: column %s is not a string", name)
			}
			if c.IsNull(i) {
				return "", nil
			}
			return c.Value(i), nil
		}
		for i := range int(rec.NumRows()) {
			k := key{grouping: int(grouping.Value(i)), hour: -1, dayType: -1, kind: -1}
			if !hour.IsNull(i) {
				k.hour = int(hour.Value(i))
			}
			dt, err1 := str("day_type", i)
			ck, err2 := str("call_kind", i)
			g, err3 := str("gender", i)
			a, err4 := str("age_band", i)
			inc, err5 := str("income_band", i)
			if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
				return err
			}
			if dt != "" {
				k.dayType = slices.Index(DayTypes, dt)
			}
			if ck != "" {
				k.kind = slices.Index(CallKinds, ck)
			}
			k.demo = [3]string{g, a, inc}
			c := sums[k]
			if c == nil {
				id, ok := demoIDs[k.demo]
				if !ok {
					id = len(d.keys)
					demoIDs[k.demo] = id
					d.keys = append(d.keys, k.demo)
				}
				c = &usageCell{grouping: k.grouping, hour: k.hour, dayType: k.dayType, kind: k.kind, demo: id}
				sums[k] = c
			}
			c.calls += calls.Value(i)
			c.secs += int64(math.Round(minutes.Value(i) * 60)) // minutes are whole seconds / 60
			c.distinct += subs.Value(i)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("features: usage cube %s: %w", month.Format("2006-01"), err)
	}
	cells := make([]usageCell, 0, len(sums))
	for _, c := range sums {
		cells = append(cells, *c)
	}
	if err := b.writeUsageCube(ctx, cells, d, month); err != nil {
		return err
	}
	if err := lake.RemoveFiles(ctx, b.Tables, lake.UsageCubeTable, paths); err != nil && b.Log != nil {
		b.Log.WarnContext(ctx, "partial usage cube files left for maintenance", "month", month.Format("2006-01"), "error", err)
	}
	return nil
}
