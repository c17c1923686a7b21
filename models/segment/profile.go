package segment

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// minProfileZ is the smallest |z| (in standard deviations) for a feature
// to be named in a profile: closer to the mean it does not distinguish.
const minProfileZ = 0.25

// traits returns the phrases of the features of a centroid z, most
// distinguishing (largest |z|) first, leaving out those within
// minProfileZ of the population mean.
func traits(feats []Feature, z []float64) []string {
	idx := make([]int, 0, len(z))
	for j, v := range z {
		if math.Abs(v) >= minProfileZ {
			idx = append(idx, j)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(math.Abs(z[b]), math.Abs(z[a])) })
	out := make([]string, len(idx))
	for i, j := range idx {
		if z[j] > 0 {
			out[i] = feats[j].High
		} else {
			out[i] = feats[j].Low
		}
	}
	return out
}

// describe returns the profile (top three phrases) and the short name (top
// two) of a centroid.
func describe(feats []Feature, z []float64) (profile, name string) {
	t := traits(feats, z)
	if len(t) == 0 {
		return "close to the average customer", "average customers"
	}
	return strings.Join(t[:min(3, len(t))], ", "), strings.Join(t[:min(2, len(t))], " · ")
}

// uniqueName returns s.Name, or when another segment already has it, a
// longer name from the top three phrases, or failing that the name with
// the id appended.
func uniqueName(s Segment, feats []Feature, used map[string]bool) string {
	if !used[s.Name] {
		return s.Name
	}
	t := traits(feats, s.Z)
	if long := strings.Join(t[:min(3, len(t))], " · "); len(t) > 2 && !used[long] {
		return long
	}
	return fmt.Sprintf("%s (%d)", s.Name, s.ID)
}
