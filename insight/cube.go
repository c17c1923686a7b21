// Package insight answers the operator's analytical questions from the
// serving snapshot's columns in memory: the data cube over customers
// (Compute, GROUP BY CUBE semantics), and later lifecycle, churn causes and
// score tracking.
package insight

import (
	"errors"
	"slices"

	"github.com/telcolake/telcolake/models/serving"
)

// Columns is the part of a serving snapshot the cube reads
// (*serving.Snapshot has it).
type Columns interface {
	Len() int
	Dict(name string) *serving.DictColumn
	Int32s(name string) []int32
	// Fixed is a fixed-point column: row r's value is units[r] / scale.
	Fixed(name string) (units []int32, scale float64)
	Cents(name string) []int32
}

// MaxDims is the most dimensions a cube groups by.
const MaxDims = 4

// DefaultMaxCells bounds the cells of a cube (subtotals and total
// included) when Query.MaxCells is 0.
const DefaultMaxCells = 10_000

// Dimension is a way to group customers: a dictionary column of the
// snapshot, or bands of an integer column.
type Dimension struct {
	Name   string
	column string
	// bands: upper bounds (exclusive) of each band but the last, and
	// their labels (one more); nil for a dictionary column.
	bounds []int32
	labels []string
}

// TenureBands are the labels of the tenure_band dimension (months).
var TenureBands = []string{"0-5", "6-11", "12-23", "24-35", "36-59", "60+"}

// Dimensions are the dimensions a cube can group by. The snapshot has no
// month: it is one feature month (trends are the monthly cube's). A
// snapshot written before value tiers, income band, occupation, education
// and district existed groups them all under "".
var Dimensions = []Dimension{
	{Name: "region", column: "region"},
	{Name: "plan", column: "plan"},
	{Name: "segment", column: "segment_id"},
	{Name: "lifecycle", column: "lifecycle"},
	{Name: "age_band", column: "age_band"},
	{Name: "status", column: "status"},
	{Name: "gender", column: "gender"},
	{Name: "payment_method", column: "payment_method"},
	{Name: "tenure_band", column: "tenure_months", bounds: []int32{6, 12, 24, 36, 60}, labels: TenureBands},
	{Name: "value_tier", column: "value_tier"},
	{Name: "income_band", column: "income_band"},
	{Name: "occupation", column: "occupation"},
	{Name: "education", column: "education"},
	{Name: "district", column: "district"},
}

// DimensionByName returns the dimension called name.
func DimensionByName(name string) (Dimension, bool) {
	i := slices.IndexFunc(Dimensions, func(d Dimension) bool { return d.Name == name })
	if i < 0 {
		return Dimension{}, false
	}
	return Dimensions[i], true
}

// agg is how a measure combines the customers of a cell.
type agg uint8

const (
	aggCount agg = iota
	aggSum
	aggMean
)

// Measure is a figure computed per cell.
type Measure struct {
	Name   string
	column string
	agg    agg
	// Money reports whether the measure is in currency units (summed
	// exactly in whole cents).
	Money bool
}

// Measures are the measures a cube computes, in the order of its answer.
var Measures = []Measure{
	{Name: "count", agg: aggCount},
	{Name: "churn_rate", column: "churn_probability", agg: aggMean},
	// bad_debt_rate is the mean predicted bad-debt probability (0 in a
	// snapshot written before bad debt was scored, or with no promoted
	// bad-debt model).
	{Name: "bad_debt_rate", column: "bad_debt_probability", agg: aggMean},
	{Name: "monthly_value_sum", column: "monthly_value", agg: aggSum, Money: true},
	{Name: "monthly_value_mean", column: "monthly_value", agg: aggMean, Money: true},
	{Name: "clv_sum", column: "clv", agg: aggSum, Money: true},
	{Name: "value_at_risk_sum", column: "value_at_risk", agg: aggSum, Money: true},
	{Name: "voice_minutes_mean", column: "voice_minutes", agg: aggMean},
	{Name: "data_mb_mean", column: "data_mb", agg: aggMean},
	{Name: "arrears_mean", column: "arrears", agg: aggMean, Money: true},
	{Name: "profit_sum", column: "profit", agg: aggSum, Money: true},
	{Name: "profit_mean", column: "profit", agg: aggMean, Money: true},
	// expected_arrears_sum is the cell's expected arrears: per customer
	// the bad-debt probability × 2 × the monthly value (the two unpaid
	// bills the bad-debt label means; the figure the cost to serve
	// charges, serving.CostModel), in whole cents, summed. 0 where no
	// bad-debt model was promoted.
	{Name: "expected_arrears_sum", column: ExpectedArrearsColumn, agg: aggSum, Money: true},
}

// MeasureByName returns the measure called name.
func MeasureByName(name string) (Measure, bool) {
	i := slices.IndexFunc(Measures, func(m Measure) bool { return m.Name == name })
	if i < 0 {
		return Measure{}, false
	}
	return Measures[i], true
}

// Query is a cube to compute.
type Query struct {
	Dims     []string // 0 to MaxDims distinct Dimensions names
	Measures []string // Measures names; none: all
	// Rows are the rows to aggregate, each once (a filter's selection);
	// nil: every row.
	Rows []int32
	// MaxCells bounds the answer's cells (0: DefaultMaxCells).
	MaxCells int
}

// denseKeys is the largest key space the first pass indexes with a table.
const denseKeys = 1 << 16

// ErrTooManyCells means the cube would have more cells than allowed.
var ErrTooManyCells = errors.New("insight: cube has too many cells")

// Cube is a computed cube: a cell for every combination of values present
// in the rows, for every subset of the dimensions (GROUP BY CUBE).
type Cube struct {
	Dims     []string
	Measures []string
	Rows     int // customers aggregated (the grand total's count)
	Cells    []Cell
}

// Cell is one group. Values[i] is the value of Dims[i], or "" where
// Rolled has bit i set (the dimension is rolled up: every value, SQL's
// GROUPING). Values line up with Cube.Measures.
type Cell struct {
	Rolled uint8
	Keys   []string
	Values []float64
	Count  int64
}

// IsRolled reports whether dimension i is rolled up in c.
func (c *Cell) IsRolled(i int) bool { return c.Rolled>>i&1 == 1 }
