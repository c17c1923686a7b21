package churn

import (
	"math"
	"slices"

	"github.com/telcolake/telcolake/models/dataset"
)

// Alias says that one value of a feature occurs on exactly the training
// rows of one category of another feature: a credit limit of 0 exactly on
// the prepaid plan, payment method "prepaid" exactly on it too. The value
// says nothing the category does not; a reason from it would read "low
// credit limit (0)" where the cause is the plan. Reasons credit such a
// value's contribution to the category.
type Alias struct {
	Feature  string  // the aliasing feature
	Value    float64 `json:",omitempty"` // its value, when numeric
	Level    string  `json:",omitempty"` // its category, when categorical
	Target   string  // the categorical feature credited
	Category string  // its category
}

// findAliases finds the aliases of the training frame: for each kept
// category c of a categorical feature, a numeric feature whose value is
// the same on all of c's rows and on no other row, or a later categorical
// feature whose category is. Features are the encoder's, in frame order.
// A feature aliases one category only, the first found; a category that
// is itself an alias is not a target. Missing numeric values count
// neither way.
func findAliases(f *dataset.Frame, feats []Feature) []Alias {
	var out []Alias
	n := f.Rows()
	aliasing := func(name string) bool {
		return slices.ContainsFunc(out, func(a Alias) bool { return a.Feature == name })
	}
	for k, target := range f.Cols {
		if feats[k].Kind != kindCategorical {
			continue
		}
		for _, cat := range feats[k].Categories {
			if slices.ContainsFunc(out, func(a Alias) bool { return a.Feature == target.Name && a.Level == cat }) {
				continue
			}
			in := make([]bool, n)
			first := -1
			for i, v := range target.Cat {
				if catValue(v) == cat {
					in[i] = true
					if first < 0 {
						first = i
					}
				}
			}
			if first < 0 {
				continue
			}
			for j, c := range f.Cols {
				if j == k || aliasing(c.Name) {
					continue
				}
				switch {
				case feats[j].Kind == kindNumeric:
					// Missing values (imputed) count neither way.
					v, ok := math.NaN(), false
					for i := range n {
						if in[i] && !missing(c.Num[i]) {
							v, ok = c.Num[i], true
							break
						}
					}
					if !ok || !sameExactlyOn(n, in, func(i int) bool { return missing(c.Num[i]) || c.Num[i] == v },
						func(i int) bool { return !missing(c.Num[i]) && c.Num[i] == v }) {
						continue
					}
					out = append(out, Alias{Feature: c.Name, Value: v, Target: target.Name, Category: cat})
				case j > k:
					l := catValue(c.Cat[first])
					is := func(i int) bool { return catValue(c.Cat[i]) == l }
					if !sameExactlyOn(n, in, is, is) {
						continue
					}
					out = append(out, Alias{Feature: c.Name, Level: l, Target: target.Name, Category: cat})
				}
			}
		}
	}
	return out
}

// sameExactlyOn says whether inside(i) holds on every row in and
// outside(i) on no other row.
func sameExactlyOn(n int, in []bool, inside, outside func(int) bool) bool {
	for i := range n {
		if in[i] && !inside(i) || !in[i] && outside(i) {
			return false
		}
	}
	return true
}

func missing(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }

// aliasIndex resolves aliases to feature indexes for scoring; aliases
// naming features the encoder lacks are dropped.
type aliasIndex struct {
	a               Alias
	feature, target int
}

func (e *Encoder) aliasIndexes() []aliasIndex {
	at := make(map[string]int, len(e.Features))
	for j := range e.Features {
		at[e.Features[j].Name] = j
	}
	var out []aliasIndex
	for _, a := range e.Aliases {
		j, ok1 := at[a.Feature]
		k, ok2 := at[a.Target]
		if ok1 && ok2 && e.Features[k].Kind == kindCategorical {
			out = append(out, aliasIndex{a: a, feature: j, target: k})
		}
	}
	return out
}

// creditAliases moves, for row i, the contribution of every aliasing
// value the row has to the category it aliases (when the row has that
// category too).
func (e *Encoder) creditAliases(idx []aliasIndex, cols []*dataset.Column, i int, per []float64) {
	for _, x := range idx {
		if catValue(cols[x.target].Cat[i]) != x.a.Category {
			continue
		}
		c := cols[x.feature]
		var has bool
		if e.Features[x.feature].Kind == kindNumeric {
			has = c.Num[i] == x.a.Value
		} else {
			has = catValue(c.Cat[i]) == x.a.Level
		}
		if has {
			per[x.target] += per[x.feature]
			per[x.feature] = 0
		}
	}
}
