package segment

import "math"

// hungarian solves the square assignment problem: it returns, for each
// row of cost, the column assigned to it so that the total cost is
// minimal. Costs must be finite. O(n³) (Kuhn–Munkres with potentials).
func hungarian(cost [][]float64) []int {
	n := len(cost)
	// 1-based arrays; column 0 is a virtual start.
	u := make([]float64, n+1)
	v := make([]float64, n+1)
	p := make([]int, n+1)   // p[j]: row assigned to column j
	way := make([]int, n+1) // previous column on the augmenting path
	minv := make([]float64, n+1)
	used := make([]bool, n+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		for j := range minv {
			minv[j] = math.Inf(1)
			used[j] = false
		}
		for {
			used[j0] = true
			i0, delta, j1 := p[j0], math.Inf(1), 0
			for j := 1; j <= n; j++ {
				if used[j] {
					continue
				}
				if cur := cost[i0-1][j-1] - u[i0] - v[j]; cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= n; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	rowCol := make([]int, n)
	for j := 1; j <= n; j++ {
		rowCol[p[j]-1] = j - 1
	}
	return rowCol
}

// matchCentroids pairs new segments (rows of dist) with previous ones
// (columns) so that the total distance of the pairs is minimal, where a
// pair may only be made when its distance is at most threshold and
// leaving a segment unpaired costs threshold/2 (so pairing beats leaving
// both unpaired exactly when the distance is below threshold). It returns
// for each new segment the index of its previous segment, or -1.
func matchCentroids(dist [][]float64, nPrev int, threshold float64) []int {
	nNew := len(dist)
	size := nNew + nPrev
	// Larger than any sum of allowed costs, so it is never chosen while an
	// allowed alternative (leaving both unpaired) exists.
	forbidden := threshold * float64(4*size+4)
	cost := make([][]float64, size)
	for i := range cost {
		cost[i] = make([]float64, size)
		for j := range cost[i] {
			switch {
			case i < nNew && j < nPrev:
				if d := dist[i][j]; d <= threshold {
					cost[i][j] = d
				} else {
					cost[i][j] = forbidden
				}
			case i < nNew || j < nPrev:
				cost[i][j] = threshold / 2 // unpaired new or previous segment
			}
		}
	}
	assign := hungarian(cost)
	out := make([]int, nNew)
	for i := range out {
		out[i] = -1
		if j := assign[i]; j < nPrev && dist[i][j] <= threshold {
			out[i] = j
		}
	}
	return out
}
