package lake

import (
	"context"
	"fmt"
	"iter"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/metrics"
	"github.com/apache/iceberg-go/table"
)

// The read side of the lake: Scan reads a table batch by batch, and Batch
// reads a batch's columns by name with typed getters — the mirror of
// RowBuilder. Every reader of a table (features, scoring, the api's
// sources, the ingest log) goes through it, so a column that is missing or
// has another type than the reader expects is one clear error, named by
// table and column, rather than a panic or a silent zero.

// ScanOption shapes a Scan.
type ScanOption func(*scanConfig)

type scanConfig struct {
	cols     []string
	filter   iceberg.BooleanExpression
	parallel int
	cost     *ScanCost
	bucket   int // subscriber bucket whose files alone are read; -1: all
}

// Select projects the scan onto the named columns (all when never used).
func Select(cols ...string) ScanOption {
	return func(c *scanConfig) { c.cols = append(c.cols, cols...) }
}

// Where keeps the rows matching expr. Iceberg uses it three times: to skip
// manifests whose partition ranges cannot match (partition pruning), to
// skip data files whose column bounds cannot match, and to filter rows.
// Several Where options are and-ed.
func Where(expr iceberg.BooleanExpression) ScanOption {
	return func(c *scanConfig) {
		if c.filter == nil {
			c.filter = expr
		} else {
			c.filter = iceberg.NewAnd(c.filter, expr)
		}
	}
}

// Parallel decodes up to n data files at a time (default 2).
func Parallel(n int) ScanOption { return func(c *scanConfig) { c.parallel = n } }

// InBucket keeps the rows of subscriber bucket b (SubscriberBucket of
// subscriber_id) and reads only the data files that can hold them
// (BucketTasks, at planning): one bucket of crm.cdr or crm.features for
// the fan-out. Files written under a spec without the bucket field (a lake
// older than it) are read whole and their rows filtered, reading
// subscriber_id for that even when it is not selected (it is not
// returned then).
func InBucket(b int) ScanOption { return func(c *scanConfig) { c.bucket = b } }

// CountInto adds what the scan read to *cost when it ends. Tests and
// benchmarks use it to show a read's cost in files and rows, not time.
func CountInto(cost *ScanCost) ScanOption { return func(c *scanConfig) { c.cost = cost } }

// ScanCost is what scans read: manifests opened and pruned by the
// partition filter, data files opened, rows returned, and rows an InBucket
// scan read and dropped (other buckets' rows in files written without the
// bucket field).
type ScanCost struct {
	Scans            int
	ManifestsScanned int64
	ManifestsSkipped int64
	DataFiles        int64
	Rows             int64
	BucketDropped    int64
}

// Add adds o to c.
func (c *ScanCost) Add(o ScanCost) {
	c.Scans += o.Scans
	c.ManifestsScanned += o.ManifestsScanned
	c.ManifestsSkipped += o.ManifestsSkipped
	c.DataFiles += o.DataFiles
	c.Rows += o.Rows
	c.BucketDropped += o.BucketDropped
}

// costReporter takes iceberg-go's scan report.
type costReporter struct {
	mu   sync.Mutex
	cost ScanCost
}

func (r *costReporter) Report(_ context.Context, rep metrics.MetricsReport) {
	var sr metrics.ScanReport
	switch v := rep.(type) {
	case metrics.ScanReport:
		sr = v
	case *metrics.ScanReport:
		sr = *v
	default:
		return
	}
	val := func(c *metrics.CounterResult) int64 {
		if c == nil {
			return 0
		}
		return c.Value
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cost.ManifestsScanned += val(sr.Metrics.ScannedDataManifests)
	r.cost.ManifestsSkipped += val(sr.Metrics.SkippedDataManifests)
	r.cost.DataFiles += val(sr.Metrics.ResultDataFiles)
}

func (r *costReporter) Close() error { return nil }

// Scan reads table def batch by batch. A Batch is valid until the loop
// body returns (it is released then, unless retained); copy what you keep
// (strings.Clone for strings). Loading or planning errors arrive as the
// first pair.
func Scan(ctx context.Context, tables TableLoader, def TableDef, opts ...ScanOption) iter.Seq2[*Batch, error] {
	name := Namespace + "." + def.Name
	return scan(ctx, opts, func(yield func(*Batch, error) bool) (*table.Table, string, bool) {
		tbl, err := tables.LoadTable(ctx, def.Ident())
		if err != nil {
			yield(nil, fmt.Errorf("load %s: %w", name, err))
			return nil, name, false
		}
		return wholeSmallFiles(tbl), name, true
	})
}

// ScanTable is Scan of a table already loaded (at the snapshot the caller
// holds); name is used in errors.
func ScanTable(ctx context.Context, tbl *table.Table, name string, opts ...ScanOption) iter.Seq2[*Batch, error] {
	return scan(ctx, opts, func(func(*Batch, error) bool) (*table.Table, string, bool) { return tbl, name, true })
}

func scan(ctx context.Context, opts []ScanOption, load func(yield func(*Batch, error) bool) (*table.Table, string, bool)) iter.Seq2[*Batch, error] {
	cfg := scanConfig{parallel: 2, bucket: -1}
	for _, o := range opts {
		o(&cfg)
	}
	return func(yield func(*Batch, error) bool) {
		rep := &costReporter{}
		if cfg.cost != nil {
			defer func() {
				rep.mu.Lock()
				rep.cost.Scans = 1
				cfg.cost.Add(rep.cost)
				rep.mu.Unlock()
			}()
		}
		tbl, name, ok := load(yield)
		if !ok {
			return
		}
		so := []table.ScanOption{table.WithMaxConcurrency(max(cfg.parallel, 1))}
		if len(cfg.cols) > 0 {
			so = append(so, table.WithSelectedFields(cfg.cols...))
		}
		if cfg.filter != nil {
			so = append(so, table.WithRowFilter(cfg.filter))
		}
		if cfg.cost != nil {
			so = append(so, table.WithReporter(rep))
		}
		var recs iter.Seq2[arrow.RecordBatch, error]
		var err error
		if sc := tbl.Scan(so...); cfg.bucket < 0 {
			_, recs, err = sc.ToArrowRecords(ctx)
		} else {
			recs, err = bucketRecords(ctx, tbl, sc, so, cfg, rep)
		}
		if err != nil {
			yield(nil, fmt.Errorf("scan %s: %w", name, err))
			return
		}
		for rec, err := range recs {
			if err != nil {
				yield(nil, fmt.Errorf("scan %s: %w", name, err))
				return
			}
			rep.mu.Lock()
			rep.cost.Rows += rec.NumRows()
			rep.mu.Unlock()
			more := yield(&Batch{rec: rec, table: name}, nil)
			rec.Release()
			if !more {
				return
			}
		}
	}
}

// bucketRecords reads the data files of sc that can hold rows of
// cfg.bucket (bucketTasks; rep counts those files) and, when some of them
// can hold other buckets' rows too, keeps the bucket's rows alone
// (keepBucket), reading subscriber_id for it if not selected.
func bucketRecords(ctx context.Context, tbl *table.Table, sc *table.Scan, so []table.ScanOption, cfg scanConfig, rep *costReporter) (iter.Seq2[arrow.RecordBatch, error], error) {
	tasks, err := sc.PlanFiles(ctx)
	if err != nil {
		return nil, err
	}
	kept, mixed := bucketTasks(tbl.Metadata(), tasks, cfg.bucket)
	files := map[string]bool{}
	for _, t := range kept {
		files[t.File.FilePath()] = true
	}
	rep.mu.Lock()
	rep.cost.DataFiles = int64(len(files)) // planning counted every bucket's
	rep.mu.Unlock()
	drop := false
	if mixed && len(cfg.cols) > 0 && !slices.Contains(cfg.cols, subscriberColumn) {
		cols := append(slices.Clone(cfg.cols), subscriberColumn)
		sc, drop = tbl.Scan(append(slices.Clone(so), table.WithSelectedFields(cols...))...), true
	}
	_, recs, err := sc.ReadTasks(ctx, kept)
	if err != nil || !mixed {
		return recs, err
	}
	return func(yield func(arrow.RecordBatch, error) bool) {
		for rec, err := range recs {
			if err != nil {
				yield(nil, err)
				return
			}
			n := rec.NumRows()
			out, err := keepBucket(ctx, rec, cfg.bucket, drop)
			if err != nil {
				yield(nil, err)
				return
			}
			rep.mu.Lock()
			rep.cost.BucketDropped += n - out.NumRows()
			rep.mu.Unlock()
			if out.NumRows() == 0 {
				out.Release()
				continue
			}
			if !yield(out, nil) {
				return
			}
		}
	}, nil
}

// ReadTable scans a whole table (optionally only some columns) into memory.
// It is meant for small tables and tests; readers use Scan.
func ReadTable(ctx context.Context, tables TableLoader, def TableDef, columns ...string) (arrow.Table, error) {
	tbl, err := tables.LoadTable(ctx, def.Ident())
	if err != nil {
		return nil, fmt.Errorf("load %s.%s: %w", Namespace, def.Name, err)
	}
	var opts []table.ScanOption
	if len(columns) > 0 {
		opts = append(opts, table.WithSelectedFields(columns...))
	}
	at, err := tbl.Scan(opts...).ToArrowTable(ctx)
	if err != nil {
		return nil, fmt.Errorf("scan %s.%s: %w", Namespace, def.Name, err)
	}
	return at, nil
}

// Batch reads one scanned record batch by column name. A getter for a
// column the batch lacks, or whose type is not the getter's, returns a
// zero column and records the first such problem in Err: call every getter
// a loop needs, check Err once, then loop.
type Batch struct {
	rec   arrow.RecordBatch
	table string
	err   error
}

// NewBatch reads rec (which the caller keeps and releases); name is used
// in errors.
func NewBatch(rec arrow.RecordBatch, name string) *Batch { return &Batch{rec: rec, table: name} }

// Len is the number of rows.
func (b *Batch) Len() int { return int(b.rec.NumRows()) }

// Err is the first missing or mistyped column asked for.
func (b *Batch) Err() error { return b.err }

// Record is the underlying Arrow batch, valid as long as the Batch.
func (b *Batch) Record() arrow.RecordBatch { return b.rec }

// Retain keeps the batch valid past the Scan loop's body (to hand it to
// another goroutine); Release it when done.
func (b *Batch) Retain() { b.rec.Retain() }

// Release undoes one Retain.
func (b *Batch) Release() { b.rec.Release() }

func (b *Batch) col(name string) arrow.Array {
	idx := b.rec.Schema().FieldIndices(name)
	if len(idx) == 0 {
		if b.err == nil {
			b.err = fmt.Errorf("%s: column %q missing from the scan", b.table, name)
		}
		return nil
	}
	return b.rec.Column(idx[0])
}

func (b *Batch) mistyped(name string, a arrow.Array, want string) {
	if b.err == nil {
		b.err = fmt.Errorf("%s: column %q is %s, want %s", b.table, name, a.DataType(), want)
	}
}

// Col is what every typed column gives: a row's value and whether it
// is null (the value of a null row is the type's zero).
type Col[T any] interface {
	Value(i int) T
	IsNull(i int) bool
}

// Opt is row i of c, nil when null.
func Opt[T any](c Col[T], i int) *T {
	if c.IsNull(i) {
		return nil
	}
	v := c.Value(i)
	return &v
}

type stringArray interface {
	Value(int) string
	IsNull(int) bool
}

// Strings is a string column.
type Strings struct{ a stringArray }

// Value is row i ("" when null); it points into the batch: clone to keep.
func (c Strings) Value(i int) string { return c.a.Value(i) }

// IsNull reports whether row i is null.
func (c Strings) IsNull(i int) bool { return c.a.IsNull(i) }

// String reads a string column (string or large string).
func (b *Batch) String(name string) Strings {
	a := b.col(name)
	if a == nil {
		return Strings{}
	}
	s, ok := a.(stringArray)
	if !ok {
		b.mistyped(name, a, "a string")
	}
	return Strings{s}
}

// Int32s is an int column.
type Int32s struct{ a *array.Int32 }

// Value is row i.
func (c Int32s) Value(i int) int32 { return c.a.Value(i) }

// IsNull reports whether row i is null.
func (c Int32s) IsNull(i int) bool { return c.a.IsNull(i) }

// Int32 reads an int column.
func (b *Batch) Int32(name string) Int32s { return Int32s{typed[*array.Int32](b, name, "an int")} }

// Int64s is a long column.
type Int64s struct{ a *array.Int64 }

// Value is row i.
func (c Int64s) Value(i int) int64 { return c.a.Value(i) }

// IsNull reports whether row i is null.
func (c Int64s) IsNull(i int) bool { return c.a.IsNull(i) }

// Int64 reads a long column.
func (b *Batch) Int64(name string) Int64s { return Int64s{typed[*array.Int64](b, name, "a long")} }

// Floats is a double column.
type Floats struct{ a *array.Float64 }

// Value is row i.
func (c Floats) Value(i int) float64 { return c.a.Value(i) }

// IsNull reports whether row i is null.
func (c Floats) IsNull(i int) bool { return c.a.IsNull(i) }

// Float reads a double column.
func (b *Batch) Float(name string) Floats { return Floats{typed[*array.Float64](b, name, "a double")} }

// Bools is a boolean column.
type Bools struct{ a *array.Boolean }

// Value is row i.
func (c Bools) Value(i int) bool { return c.a.Value(i) }

// IsNull reports whether row i is null.
func (c Bools) IsNull(i int) bool { return c.a.IsNull(i) }

// Bool reads a boolean column.
func (b *Batch) Bool(name string) Bools { return Bools{typed[*array.Boolean](b, name, "a boolean")} }

// Dates is a date column.
type Dates struct{ a *array.Date32 }

// Value is row i as days since 1970-01-01.
func (c Dates) Value(i int) int32 { return int32(c.a.Value(i)) }

// Time is row i as midnight UTC of its day.
func (c Dates) Time(i int) time.Time { return time.Unix(int64(c.a.Value(i))*86400, 0).UTC() }

// IsNull reports whether row i is null.
func (c Dates) IsNull(i int) bool { return c.a.IsNull(i) }

// Date reads a date column.
func (b *Batch) Date(name string) Dates { return Dates{typed[*array.Date32](b, name, "a date")} }

// Times is a timestamp column.
type Times struct {
	a    *array.Timestamp
	unit arrow.TimeUnit
}

// Value is row i in UTC.
func (c Times) Value(i int) time.Time { return c.a.Value(i).ToTime(c.unit).UTC() }

// Micros is row i in microseconds since the epoch (the lake's unit).
func (c Times) Micros(i int) int64 {
	v := int64(c.a.Value(i))
	switch c.unit {
	case arrow.Second:
		return v * 1e6
	case arrow.Millisecond:
		return v * 1e3
	case arrow.Nanosecond:
		return v / 1e3
	}
	return v
}

// IsNull reports whether row i is null.
func (c Times) IsNull(i int) bool { return c.a.IsNull(i) }

// Time reads a timestamp column.
func (b *Batch) Time(name string) Times {
	a := typed[*array.Timestamp](b, name, "a timestamp")
	if a == nil {
		return Times{}
	}
	return Times{a: a, unit: a.DataType().(*arrow.TimestampType).Unit}
}

// Moneys is a decimal column read as integer units of a fixed scale.
type Moneys struct {
	a     *array.Decimal128
	shift int32 // stored scale minus wanted scale
}

// Value is row i in units of the asked scale (cents at scale 2); digits
// below the scale are truncated.
func (c Moneys) Value(i int) int64 {
	v := c.a.Value(i)
	switch {
	case c.shift > 0:
		v, _ = v.Div(pow10(c.shift))
	case c.shift < 0:
		v = v.Mul(pow10(-c.shift))
	}
	return int64(v.LowBits())
}

// IsNull reports whether row i is null.
func (c Moneys) IsNull(i int) bool { return c.a.IsNull(i) }

// Money reads a decimal column as integer units at scale (2: cents), the
// mirror of RowBuilder.Money.
func (b *Batch) Money(name string, scale int32) Moneys {
	a := typed[*array.Decimal128](b, name, "a decimal")
	if a == nil {
		return Moneys{}
	}
	return Moneys{a: a, shift: a.DataType().(*arrow.Decimal128Type).Scale - scale}
}

func pow10(n int32) decimal128.Num {
	v := decimal128.FromI64(1)
	for range n {
		v = v.Mul(decimal128.FromI64(10))
	}
	return v
}

// Numbers is any numeric column read as float64, null as NaN.
type Numbers struct{ get func(int) float64 }

// Value is row i, NaN when null.
func (c Numbers) Value(i int) float64 { return c.get(i) }

// IsNull reports whether row i is null.
func (c Numbers) IsNull(i int) bool { return math.IsNaN(c.get(i)) }

// Number reads an int, long, float, double, decimal or boolean (1/0)
// column as float64, null as NaN: for model features, where every input
// is a number.
func (b *Batch) Number(name string) Numbers {
	col := b.col(name)
	if col == nil {
		return Numbers{}
	}
	nan := math.NaN()
	wrap := func(f func(int) float64) Numbers {
		return Numbers{get: func(r int) float64 {
			if col.IsNull(r) {
				return nan
			}
			return f(r)
		}}
	}
	switch c := col.(type) {
	case *array.Int32:
		return wrap(func(r int) float64 { return float64(c.Value(r)) })
	case *array.Int64:
		return wrap(func(r int) float64 { return float64(c.Value(r)) })
	case *array.Float64:
		return wrap(c.Value)
	case *array.Float32:
		return wrap(func(r int) float64 { return float64(c.Value(r)) })
	case *array.Decimal128:
		scale := c.DataType().(*arrow.Decimal128Type).Scale
		return wrap(func(r int) float64 { return c.Value(r).ToFloat64(scale) })
	case *array.Boolean:
		return wrap(func(r int) float64 {
			if c.Value(r) {
				return 1
			}
			return 0
		})
	}
	b.mistyped(name, col, "a number")
	return Numbers{}
}

func typed[T arrow.Array](b *Batch, name, want string) T {
	var zero T
	a := b.col(name)
	if a == nil {
		return zero
	}
	t, ok := a.(T)
	if !ok {
		b.mistyped(name, a, want)
		return zero
	}
	return t
}
