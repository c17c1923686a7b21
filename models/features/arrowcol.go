package features

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// Typed access to the columns of a scanned record batch, by name.

type strCol interface {
	Value(int) string
	IsNull(int) bool
}

func colIndex(rec arrow.RecordBatch, name string) (int, error) {
	idx := rec.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return 0, fmt.Errorf("features: column %q missing from scan", name)
	}
	return idx[0], nil
}

func strColumn(rec arrow.RecordBatch, name string) (strCol, error) {
	i, err := colIndex(rec, name)
	if err != nil {
		return nil, err
	}
	c, ok := rec.Column(i).(strCol)
	if !ok {
		return nil, fmt.Errorf("features: column %q is %s, not a string", name, rec.Column(i).DataType())
	}
	return c, nil
}

func typedColumn[T arrow.Array](rec arrow.RecordBatch, name string) (T, error) {
	var zero T
	i, err := colIndex(rec, name)
	if err != nil {
		return zero, err
	}
	c, ok := rec.Column(i).(T)
	if !ok {
		return zero, fmt.Errorf("features: column %q has unexpected type %s", name, rec.Column(i).DataType())
	}
	return c, nil
}

// numColumn reads any numeric column (ints, floats, decimals) as float64,
// null as NaN.
type numColumn struct {
	get func(int) float64
}

func numericColumn(rec arrow.RecordBatch, name string) (numColumn, error) {
	i, err := colIndex(rec, name)
	if err != nil {
		return numColumn{}, err
	}
	col := rec.Column(i)
	nan := math.NaN()
	wrap := func(f func(int) float64) numColumn {
		return numColumn{get: func(r int) float64 {
			if col.IsNull(r) {
				return nan
			}
			return f(r)
		}}
	}
	switch c := col.(type) {
	case *array.Int32:
		return wrap(func(r int) float64 { return float64(c.Value(r)) }), nil
	case *array.Int64:
		return wrap(func(r int) float64 { return float64(c.Value(r)) }), nil
	case *array.Float64:
		return wrap(c.Value), nil
	case *array.Float32:
		return wrap(func(r int) float64 { return float64(c.Value(r)) }), nil
	case *array.Decimal128:
		scale := c.DataType().(*arrow.Decimal128Type).Scale
		return wrap(func(r int) float64 { return c.Value(r).ToFloat64(scale) }), nil
	case *array.Boolean:
		return wrap(func(r int) float64 {
			if c.Value(r) {
				return 1
			}
			return 0
		}), nil
	}
	return numColumn{}, fmt.Errorf("features: column %q is %s, not numeric", name, col.DataType())
}

// decimalUnits reads a decimal column as unscaled int64 at the given scale.
func decimalUnits(rec arrow.RecordBatch, name string, scale int32) (func(int) (int64, bool), error) {
	c, err := typedColumn[*array.Decimal128](rec, name)
	if err != nil {
		return nil, err
	}
	have := c.DataType().(*arrow.Decimal128Type).Scale
	return func(r int) (int64, bool) {
		if c.IsNull(r) {
			return 0, false
		}
		v := c.Value(r)
		switch {
		case have > scale:
			v, _ = v.Div(pow10(have - scale))
		case have < scale:
			v = v.Mul(pow10(scale - have))
		}
		return int64(v.LowBits()), true
	}, nil
}

func pow10(n int32) decimal128.Num {
	v := decimal128.FromI64(1)
	for range n {
		v = v.Mul(decimal128.FromI64(10))
	}
	return v
}
