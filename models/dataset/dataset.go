// Package dataset holds the tabular data the models train and score on: a
// column-oriented frame of numeric and categorical columns, one row per
// customer (or per customer-month), with an optional binary label.
//
// Both the features built from the lake and any churn CSV (telcolake eval)
// become a Frame, so the same modelling code runs on both.
package dataset

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kind says how a column is used by the models.
type Kind int

const (
	// Numeric columns are used as they are; NaN means missing.
	Numeric Kind = iota
	// Categorical columns hold labels; "" means missing.
	Categorical
)

func (k Kind) String() string {
	if k == Categorical {
		return "categorical"
	}
	return "numeric"
}

// Column is one feature.
type Column struct {
	Name string
	Kind Kind
	Num  []float64 // Kind == Numeric: one value per row, NaN = missing
	Cat  []string  // Kind == Categorical: one value per row, "" = missing

	// High and Low are readable phrases for a reason that this column
	// pushes the churn risk up: High when the customer's value is above the
	// population's, Low when below ("many service calls", "few calls").
	// Empty means a phrase is made from Name.
	High, Low string
	// Unit is how a value reads in a reason: "%" shows a share or
	// change (0.25) as a percentage (25%), any other text follows the
	// number ("3 months"); empty shows the number alone.
	Unit string
	// Behaviour marks the columns clustering uses for segmentation.
	Behaviour bool
}

// Frame is a set of equally long columns. IDs and Label are optional
// (len 0) but when present have one entry per row.
type Frame struct {
	IDs   []string
	Cols  []*Column
	Label []bool
}

// Rows is the number of rows.
func (f *Frame) Rows() int {
	switch {
	case len(f.Cols) > 0:
		c := f.Cols[0]
		if c.Kind == Categorical {
			return len(c.Cat)
		}
		return len(c.Num)
	case len(f.IDs) > 0:
		return len(f.IDs)
	default:
		return len(f.Label)
	}
}

// Col returns the column named name, or nil.
func (f *Frame) Col(name string) *Column {
	for _, c := range f.Cols {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Validate checks that every column, the IDs and the label have one entry
// per row and that column names are unique.
func (f *Frame) Validate() error {
	n := f.Rows()
	seen := make(map[string]bool, len(f.Cols))
	for _, c := range f.Cols {
		if seen[c.Name] {
			return fmt.Errorf("dataset: column %q appears twice", c.Name)
		}
		seen[c.Name] = true
		l := len(c.Num)
		if c.Kind == Categorical {
			l = len(c.Cat)
		}
		if l != n {
			return fmt.Errorf("dataset: column %q has %d rows, want %d", c.Name, l, n)
		}
	}
	if len(f.IDs) != 0 && len(f.IDs) != n {
		return fmt.Errorf("dataset: %d ids for %d rows", len(f.IDs), n)
	}
	if len(f.Label) != 0 && len(f.Label) != n {
		return fmt.Errorf("dataset: %d labels for %d rows", len(f.Label), n)
	}
	return nil
}

// Subset returns a new frame with the given rows, in that order.
func (f *Frame) Subset(rows []int) *Frame {
	out := &Frame{Cols: make([]*Column, len(f.Cols))}
	if len(f.IDs) > 0 {
		out.IDs = make([]string, len(rows))
		for i, r := range rows {
			out.IDs[i] = f.IDs[r]
		}
	}
	if len(f.Label) > 0 {
		out.Label = make([]bool, len(rows))
		for i, r := range rows {
			out.Label[i] = f.Label[r]
		}
	}
	for j, c := range f.Cols {
		nc := *c
		nc.Num, nc.Cat = nil, nil
		if c.Kind == Categorical {
			nc.Cat = make([]string, len(rows))
			for i, r := range rows {
				nc.Cat[i] = c.Cat[r]
			}
		} else {
			nc.Num = make([]float64, len(rows))
			for i, r := range rows {
				nc.Num[i] = c.Num[r]
			}
		}
		out.Cols[j] = &nc
	}
	return out
}

// Missing reports whether row i of c is missing.
func (c *Column) Missing(i int) bool {
	if c.Kind == Categorical {
		return c.Cat[i] == ""
	}
	return math.IsNaN(c.Num[i])
}

// FormatValue writes v for a person in the given unit (see Column.Unit).
func FormatValue(v float64, unit string) string {
	if unit == "%" {
		return strconv.FormatFloat(math.Round(v*100), 'f', 0, 64) + "%"
	}
	var s string
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e15, math.Abs(v) >= 1000:
		s = strconv.FormatFloat(v, 'f', 0, 64)
	default:
		s = strconv.FormatFloat(v, 'g', 4, 64)
		if strings.Contains(s, "e") {
			s = strconv.FormatFloat(v, 'f', 4, 64)
		}
	}
	if unit != "" {
		if v == 1 && len(unit) > 2 && strings.HasSuffix(unit, "s") {
			unit = unit[:len(unit)-1] // "1 month", "1 call"
		}
		s += " " + unit
	}
	return s
}
