package segment

import (
	"math"
	"slices"
	"strings"

	"github.com/telcolake/telcolake/models/dataset"
)

// Feature is one clustering feature and how its raw values become the
// standardised coordinates the centroids live in: missing values take
// Median, then log1p when Log, then (v − Mean) / SD.
type Feature struct {
	Name string `json:"name"`
	// Log is true when the column was non-negative and heavily right-skewed
	// on the training data, so log1p is applied before standardising.
	Log bool `json:"log1p"`
	// Median (original units) replaces missing (NaN or ±Inf) values.
	Median float64 `json:"median"`
	// Mean and SD are of the transformed, imputed training values.
	Mean float64 `json:"mean"`
	SD   float64 `json:"sd"`
	// High and Low are the phrases used in profiles when a segment is above
	// or below the population on this feature.
	High string `json:"high"`
	Low  string `json:"low"`
}

// transform imputes a missing value and applies log1p when the feature
// uses it. Values below zero in a log feature count as zero.
func (ft *Feature) transform(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		x = ft.Median
	}
	if ft.Log {
		return math.Log1p(math.Max(x, 0))
	}
	return x
}

// z is the standardised coordinate of the raw value x.
func (ft *Feature) z(x float64) float64 { return (ft.transform(x) - ft.Mean) / ft.SD }

// original maps a standardised coordinate back to original units.
func (ft *Feature) original(z float64) float64 {
	v := z*ft.SD + ft.Mean
	if ft.Log {
		v = math.Expm1(v)
	}
	return v
}

// phrases fills in High and Low from the column, or from its name.
func phrases(c *dataset.Column) (high, low string) {
	name := strings.ReplaceAll(c.Name, "_", " ")
	high, low = c.High, c.Low
	if high == "" {
		high = "high " + name
	}
	if low == "" {
		low = "low " + name
	}
	return high, low
}

// fitFeature learns the preprocessing of one column on the training rows.
// ok is false when the column cannot be used: no finite values, or no
// spread after transformation. scratch, if large enough, holds the copy
// of the values the median needs.
func fitFeature(c *dataset.Column, skewThreshold float64, scratch []float64) (ft Feature, ok bool) {
	ft.Name = c.Name
	ft.High, ft.Low = phrases(c)
	vals := scratch[:0]
	for _, v := range c.Num {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return ft, false
	}
	ft.Median = median(vals)
	if slices.Min(vals) >= 0 {
		raw := skewness(vals, func(v float64) float64 { return v })
		if raw > skewThreshold {
			logged := skewness(vals, math.Log1p)
			ft.Log = math.Abs(logged) < math.Abs(raw)
		}
	}
	// Mean and SD over all rows, missing ones imputed.
	var sum float64
	for _, v := range c.Num {
		sum += ft.transform(v)
	}
	n := float64(len(c.Num))
	ft.Mean = sum / n
	var ss float64
	for _, v := range c.Num {
		d := ft.transform(v) - ft.Mean
		ss += d * d
	}
	ft.SD = math.Sqrt(ss / n)
	// A spread this small relative to the level is rounding noise.
	if !(ft.SD > 1e-12*math.Max(1, math.Abs(ft.Mean))) {
		return ft, false
	}
	return ft, true
}

// median returns the median of vals, reordering them. Selection, not a
// sort: O(n) expected, which matters at a million rows per column.
func median(vals []float64) float64 {
	h := len(vals) / 2
	hi := nth(vals, h)
	if len(vals)%2 == 1 {
		return hi
	}
	lo := slices.Max(vals[:h]) // nth left the h smallest values in front
	return lo + (hi-lo)/2
}

// nth reorders vals so that vals[k] is the value a sort would put there,
// with no larger value before it and no smaller one after, and returns it.
func nth(vals []float64, k int) float64 {
	lo, hi := 0, len(vals)-1
	for lo < hi {
		// Median of three as pivot; Hoare partition.
		mid := lo + (hi-lo)/2
		a, b, c := vals[lo], vals[mid], vals[hi]
		pivot := max(min(a, b), min(max(a, b), c))
		i, j := lo, hi
		for i <= j {
			for vals[i] < pivot {
				i++
			}
			for vals[j] > pivot {
				j--
			}
			if i <= j {
				vals[i], vals[j] = vals[j], vals[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return vals[k]
		}
	}
	return vals[k]
}

// skewness is the moment coefficient of skewness of g(v) over vals; 0 when
// the values do not vary.
func skewness(vals []float64, g func(float64) float64) float64 {
	var sum float64
	for _, v := range vals {
		sum += g(v)
	}
	mean := sum / float64(len(vals))
	var m2, m3 float64
	for _, v := range vals {
		d := g(v) - mean
		m2 += d * d
		m3 += d * d * d
	}
	m2 /= float64(len(vals))
	m3 /= float64(len(vals))
	if m2 == 0 {
		return 0
	}
	return m3 / math.Pow(m2, 1.5)
}

// transformRows writes the standardised rows lo..hi-1 of cols into dst,
// row-major with len(feats) values per row.
func transformRows(feats []Feature, cols [][]float64, lo, hi int, dst []float64) {
	d := len(feats)
	for j := range feats {
		ft := &feats[j]
		col := cols[j]
		for i := lo; i < hi; i++ {
			dst[(i-lo)*d+j] = ft.z(col[i])
		}
	}
}
