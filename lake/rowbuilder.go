package lake

import (
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// RowBuilder builds an Arrow record of a table's schema by column name, as
// the writers of crm.features, crm.model_runs and crm.scores do. Every row
// must set every column once, in any order. A column name the schema does
// not have is a programming error and panics.
type RowBuilder struct {
	rb *array.RecordBuilder
	ix map[string]int
}

// NewRowBuilder starts a record of table def with room for n rows.
func NewRowBuilder(def TableDef, n int) (*RowBuilder, error) {
	sc, err := def.ArrowSchema()
	if err != nil {
		return nil, err
	}
	b := &RowBuilder{rb: array.NewRecordBuilder(memory.DefaultAllocator, sc), ix: map[string]int{}}
	for i, f := range sc.Fields() {
		b.ix[f.Name] = i
	}
	b.rb.Reserve(n)
	return b, nil
}

func (b *RowBuilder) field(name string) array.Builder {
	i, ok := b.ix[name]
	if !ok {
		panic("lake: RowBuilder: no column " + name)
	}
	return b.rb.Field(i)
}

// Null appends a null.
func (b *RowBuilder) Null(name string) { b.field(name).AppendNull() }

// String appends v; "" is null.
func (b *RowBuilder) String(name, v string) {
	if v == "" {
		b.Null(name)
		return
	}
	b.field(name).(*array.StringBuilder).Append(v)
}

// Int32 appends v.
func (b *RowBuilder) Int32(name string, v int64) {
	b.field(name).(*array.Int32Builder).Append(int32(v))
}

// Int64 appends v.
func (b *RowBuilder) Int64(name string, v int64) { b.field(name).(*array.Int64Builder).Append(v) }

// Float appends v; NaN and ±Inf are null.
func (b *RowBuilder) Float(name string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		b.Null(name)
		return
	}
	b.field(name).(*array.Float64Builder).Append(v)
}

// Money appends an amount given in units of the column's scale (cents for
// decimal(12,2)).
func (b *RowBuilder) Money(name string, units int64) {
	b.field(name).(*array.Decimal128Builder).Append(decimal128.FromI64(units))
}

// Date appends t's day; the zero time is null.
func (b *RowBuilder) Date(name string, t time.Time) {
	if t.IsZero() {
		b.Null(name)
		return
	}
	b.field(name).(*array.Date32Builder).Append(arrow.Date32FromTime(t))
}

// Time appends t as a timestamp.
func (b *RowBuilder) Time(name string, t time.Time) {
	b.field(name).(*array.TimestampBuilder).Append(arrow.Timestamp(t.UnixMicro()))
}

// Bool appends v.
func (b *RowBuilder) Bool(name string, v bool) { b.field(name).(*array.BooleanBuilder).Append(v) }

// Record returns the rows built so far; the caller releases it.
func (b *RowBuilder) Record() arrow.RecordBatch { return b.rb.NewRecordBatch() }

// Release frees the builder.
func (b *RowBuilder) Release() { b.rb.Release() }
