package churn

import (
	"fmt"
	"math"
	"sort"

	"github.com/telcolake/telcolake/models/dataset"
)

// otherCategory is the one-hot slot that takes rare categories at training
// time and categories never seen in training at predict time.
const otherCategory = "(other)"

// missingCategory stands for a blank categorical value; it is a category
// like any other (kept when frequent, pooled into otherCategory when rare).
const missingCategory = "(missing)"

// Feature is how one source column of the training frame is encoded. The
// encoded columns of a feature are, in order: numeric: the standardised
// value, then a missing indicator if HasMissing; categorical: one
// indicator per entry of Categories, then the otherCategory indicator.
// Every encoded column is then standardised with Centre and Scale (the
// numeric value's centre is its training mean, the indicators' centre their
// training share), so a linear weight times an encoded value is the
// feature's push relative to the average training customer.
type Feature struct {
	Name string
	Kind string // "numeric" or "categorical"
	High string `json:",omitempty"`
	Low  string `json:",omitempty"`
	Unit string `json:",omitempty"` // how values read in reasons (dataset.Column.Unit)

	// Numeric: missing values are imputed with Median; HasMissing adds an
	// indicator column (only when training had missing values).
	Median     float64 `json:",omitempty"`
	Mean       float64 `json:",omitempty"`
	HasMissing bool    `json:",omitempty"`

	// Categorical: the categories kept in training (at least
	// max(10 rows, 1% of rows) each), sorted; the rest share "(other)".
	Categories []string `json:",omitempty"`

	// Centre and Scale standardise each encoded column: z = (x-Centre)/Scale.
	Centre []float64
	Scale  []float64
}

const (
	kindNumeric     = "numeric"
	kindCategorical = "categorical"
)

// width is the number of encoded columns of f.
func (f *Feature) width() int {
	if f.Kind == kindCategorical {
		return len(f.Categories) + 1
	}
	if f.HasMissing {
		return 2
	}
	return 1
}

// Encoder turns frames into standardised design matrices, column by column
// of the training frame, matched by name.
type Encoder struct {
	Features []Feature
	// Aliases are values that stand for a category of another feature
	// (findAliases); reasons credit them to the category.
	Aliases []Alias `json:",omitempty"`
}

// fitEncoder learns the encoding from the training frame.
func fitEncoder(f *dataset.Frame) (*Encoder, error) {
	n := f.Rows()
	if n == 0 {
		return nil, fmt.Errorf("churn: training frame has no rows")
	}
	if len(f.Cols) == 0 {
		return nil, fmt.Errorf("churn: training frame has no columns")
	}
	enc := &Encoder{Features: make([]Feature, len(f.Cols))}
	minRows := max(10, int(math.Ceil(0.01*float64(n))))
	for j, c := range f.Cols {
		ft := Feature{Name: c.Name, High: c.High, Low: c.Low, Unit: c.Unit}
		switch c.Kind {
		case dataset.Numeric:
			ft.Kind = kindNumeric
			vals := make([]float64, 0, n)
			for _, v := range c.Num {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					ft.HasMissing = true
					continue
				}
				vals = append(vals, v)
			}
			if len(vals) > 0 {
				sort.Float64s(vals)
				ft.Median = vals[len(vals)/2]
				if len(vals)%2 == 0 {
					ft.Median = (vals[len(vals)/2-1] + vals[len(vals)/2]) / 2
				}
				var s float64
				for _, v := range vals {
					s += v
				}
				ft.Mean = s / float64(len(vals))
			}
		case dataset.Categorical:
			ft.Kind = kindCategorical
			counts := map[string]int{}
			for _, v := range c.Cat {
				counts[catValue(v)]++
			}
			for v, k := range counts {
				if k >= minRows && v != otherCategory {
					ft.Categories = append(ft.Categories, v)
				}
			}
			sort.Strings(ft.Categories)
		default:
			return nil, fmt.Errorf("churn: column %q: unknown kind %d", c.Name, c.Kind)
		}
		enc.Features[j] = ft
	}
	// Centre and scale of every encoded column, from the raw encoding.
	for j := range enc.Features {
		ft := &enc.Features[j]
		ft.Centre = make([]float64, ft.width())
		ft.Scale = make([]float64, ft.width())
		for k := range ft.Scale {
			ft.Scale[k] = 1
		}
	}
	raw, err := enc.rawMatrix(f)
	if err != nil {
		return nil, fmt.Errorf("churn: training frame: %w", err)
	}
	w := enc.Width()
	mean := make([]float64, w)
	for _, r := range raw {
		for k, v := range r {
			mean[k] += v
		}
	}
	for k := range mean {
		mean[k] /= float64(n)
	}
	ss := make([]float64, w)
	for _, r := range raw {
		for k, v := range r {
			d := v - mean[k]
			ss[k] += d * d
		}
	}
	col := 0
	for j := range enc.Features {
		ft := &enc.Features[j]
		for k := range ft.width() {
			sd := math.Sqrt(ss[col] / float64(n))
			if sd < 1e-12 || math.IsNaN(sd) {
				sd = 1 // constant column: centred to zero, never moves
			}
			ft.Centre[k], ft.Scale[k] = mean[col], sd
			col++
		}
	}
	enc.Aliases = findAliases(f, enc.Features)
	return enc, nil
}

// catValue maps a blank categorical value to its named category.
func catValue(v string) string {
	if v == "" {
		return missingCategory
	}
	return v
}

// Width is the number of encoded columns.
func (e *Encoder) Width() int {
	w := 0
	for i := range e.Features {
		w += e.Features[i].width()
	}
	return w
}

// source returns, for each encoded column, the index of its feature.
func (e *Encoder) source() []int {
	out := make([]int, 0, e.Width())
	for j := range e.Features {
		for range e.Features[j].width() {
			out = append(out, j)
		}
	}
	return out
}

// sparseOffsets returns, per encoded column, what to add to the
// standardised value to uncentre an indicator column (Centre/Scale for
// missing indicators and one-hot columns, 0 for numeric values), so
// its zeros stay zeros.
func (e *Encoder) sparseOffsets() []float64 {
	out := make([]float64, 0, e.Width())
	for j := range e.Features {
		ft := &e.Features[j]
		for k := range ft.width() {
			if ft.Kind == kindNumeric && k == 0 {
				out = append(out, 0)
				continue
			}
			out = append(out, ft.Centre[k]/ft.Scale[k])
		}
	}
	return out
}

// match returns the frame's column for each feature, by name. A missing
// column is an error naming it; extra columns are ignored.
func (e *Encoder) match(f *dataset.Frame) ([]*dataset.Column, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	byName := make(map[string]*dataset.Column, len(f.Cols))
	for _, c := range f.Cols {
		byName[c.Name] = c
	}
	cols := make([]*dataset.Column, len(e.Features))
	for j := range e.Features {
		ft := &e.Features[j]
		c, ok := byName[ft.Name]
		if !ok {
			return nil, fmt.Errorf("column %q missing from the frame", ft.Name)
		}
		want := dataset.Numeric
		if ft.Kind == kindCategorical {
			want = dataset.Categorical
		}
		if c.Kind != want {
			return nil, fmt.Errorf("column %q is %s, the model was trained on it as %s", ft.Name, c.Kind, want)
		}
		cols[j] = c
	}
	return cols, nil
}

// rawMatrix encodes f without standardising (Centre/Scale unused).
func (e *Encoder) rawMatrix(f *dataset.Frame) ([][]float64, error) {
	return e.matrix(f, false)
}

// standardised encodes f into standardised rows (row-major, one slice per
// row).
func (e *Encoder) standardised(f *dataset.Frame) ([][]float64, error) {
	return e.matrix(f, true)
}

func (e *Encoder) matrix(f *dataset.Frame, standardise bool) ([][]float64, error) {
	cols, err := e.match(f)
	if err != nil {
		return nil, err
	}
	n := f.Rows()
	w := e.Width()
	flat := make([]float64, n*w)
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = flat[i*w : (i+1)*w : (i+1)*w]
	}
	// Per encoded column: what to subtract and divide by.
	centre := make([]float64, 0, w)
	scale := make([]float64, 0, w)
	at := make([]int, len(e.Features)) // first encoded column per feature
	idx := make([]map[string]int, len(e.Features))
	for j := range e.Features {
		ft := &e.Features[j]
		at[j] = len(centre)
		if standardise {
			centre = append(centre, ft.Centre...)
			scale = append(scale, ft.Scale...)
		} else {
			for range ft.width() {
				centre = append(centre, 0)
				scale = append(scale, 1)
			}
		}
		if ft.Kind == kindCategorical {
			idx[j] = make(map[string]int, len(ft.Categories))
			for k, v := range ft.Categories {
				idx[j][v] = k
			}
		}
	}
	// Row by row: the matrix is row-major.
	for i, row := range rows {
		for j := range e.Features {
			ft := &e.Features[j]
			c := cols[j]
			a := at[j]
			switch ft.Kind {
			case kindNumeric:
				v := c.Num[i]
				miss := math.IsNaN(v) || math.IsInf(v, 0)
				if miss {
					v = ft.Median
				}
				row[a] = (v - centre[a]) / scale[a]
				if ft.HasMissing {
					ind := 0.0
					if miss {
						ind = 1
					}
					row[a+1] = (ind - centre[a+1]) / scale[a+1]
				}
			case kindCategorical:
				k, ok := idx[j][catValue(c.Cat[i])]
				if !ok {
					k = len(ft.Categories)
				}
				for q := range ft.width() {
					ind := 0.0
					if q == k {
						ind = 1
					}
					row[a+q] = (ind - centre[a+q]) / scale[a+q]
				}
			}
		}
	}
	return rows, nil
}
