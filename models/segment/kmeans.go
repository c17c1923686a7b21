package segment

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// workers is how many goroutines parallel uses for n tasks.
func workers(n int) int { return max(1, min(runtime.GOMAXPROCS(0), n)) }

// parallel calls fn(w, i) for i in [0, n) on workers(n) goroutines; w is
// the goroutine's index, for per-goroutine scratch space. Results must be
// written by i so that they do not depend on scheduling.
func parallel(n int, fn func(w, i int)) {
	nw := workers(n)
	if nw == 1 {
		for i := range n {
			fn(0, i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range nw {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(w, i)
			}
		})
	}
	wg.Wait()
}

// sqdist is the squared Euclidean distance between a and b (len(b) ≥
// len(a)), four coordinates at a time.
func sqdist(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(a); j += 4 {
		d0, d1, d2, d3 := a[j]-b[j], a[j+1]-b[j+1], a[j+2]-b[j+2], a[j+3]-b[j+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; j < len(a); j++ {
		d := a[j] - b[j]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// nearest returns the index of the centroid closest to x (the lowest index
// on ties) and the squared distance to it. cents holds k rows of len(x).
func nearest(x, cents []float64) (int, float64) {
	d := len(x)
	best, bestD := 0, math.Inf(1)
	for c, off := 0, 0; off+d <= len(cents); c, off = c+1, off+d {
		if s := sqdist(x, cents[off:off+d]); s < bestD {
			best, bestD = c, s
		}
	}
	return best, bestD
}

// seedPlusPlus picks k initial centroids from the n×d rows of x by greedy
// k-means++: each new centroid is the best (lowest resulting potential) of
// 2+ln k candidates drawn with probability proportional to the squared
// distance to the nearest centroid chosen so far.
func seedPlusPlus(x []float64, n, d, k int, rng *rand.Rand) []float64 {
	row := func(i int) []float64 { return x[i*d : (i+1)*d] }
	cents := make([]float64, 0, k*d)
	first := rng.IntN(n)
	cents = append(cents, row(first)...)
	closest := make([]float64, n)
	var pot float64
	for i := range n {
		closest[i] = sqdist(row(i), row(first))
		pot += closest[i]
	}
	trials := 2 + int(math.Log(float64(k)))
	cand, best := make([]float64, n), make([]float64, n)
	for len(cents) < k*d {
		if pot <= 0 {
			// Every row sits on a centroid: fewer distinct rows than k.
			// The duplicate centroid ends up empty and is dropped later.
			cents = append(cents, row(rng.IntN(n))...)
			continue
		}
		bestIdx, bestPot := -1, math.Inf(1)
		for range trials {
			r := rng.Float64() * pot
			idx := -1
			var cum float64
			for i, v := range closest {
				if v <= 0 {
					continue
				}
				idx = i
				if cum += v; cum > r {
					break
				}
			}
			var p float64
			for i := range n {
				cand[i] = math.Min(closest[i], sqdist(row(i), row(idx)))
				p += cand[i]
			}
			if p < bestPot {
				bestIdx, bestPot = idx, p
				cand, best = best, cand
			}
		}
		cents = append(cents, row(bestIdx)...)
		closest, best = best, closest
		pot = bestPot
	}
	return cents
}

// lloyd runs Lloyd iterations on the n×d rows of x from the centroids in
// cents (updated in place) until no row changes cluster or maxIter updates
// were made. An empty cluster takes the row farthest from its centroid.
// It returns the inertia (sum of squared distances to the nearest
// centroid) of the final centroids.
func lloyd(x []float64, n, d int, cents []float64, maxIter int) float64 {
	k := len(cents) / d
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = -1
	}
	dist := make([]float64, n)
	counts := make([]int, k)
	for it := 0; ; it++ {
		changed := 0
		var inertia float64
		clear(counts)
		for i := range n {
			c, s := nearest(x[i*d:(i+1)*d], cents)
			if int32(c) != labels[i] {
				labels[i] = int32(c)
				changed++
			}
			dist[i] = s
			inertia += s
			counts[c]++
		}
		if changed == 0 || it >= maxIter {
			return inertia
		}
		for c := range k {
			if counts[c] > 0 {
				continue
			}
			far := -1
			for i := range n {
				if counts[labels[i]] > 1 && (far < 0 || dist[i] > dist[far]) {
					far = i
				}
			}
			if far < 0 || dist[far] == 0 {
				continue // no row to spare: leave the cluster empty
			}
			counts[labels[far]]--
			labels[far] = int32(c)
			counts[c] = 1
			dist[far] = 0
		}
		clear(cents)
		for i := range n {
			c := int(labels[i])
			cc := cents[c*d : (c+1)*d]
			for j, v := range x[i*d : (i+1)*d] {
				cc[j] += v
			}
		}
		for c := range k {
			if counts[c] == 0 {
				continue
			}
			cc := cents[c*d : (c+1)*d]
			for j := range cc {
				cc[j] /= float64(counts[c])
			}
		}
	}
}

// chunkRows is how many rows one task of a scan transforms and assigns.
// Fixed, so partial sums are merged in the same order on any machine.
const chunkRows = 8192

// scanResult is one pass over all rows against fixed centroids.
type scanResult struct {
	labels  []int32   // nearest centroid per row
	counts  []int     // rows per centroid
	sums    []float64 // k×d sums of the standardised rows per centroid
	inertia float64
	changed int // rows whose label differs from the previous labels
}

// scan assigns every row of cols (n rows) to its nearest centroid, in
// parallel chunks. prev, if not nil, are labels to count changes against.
func scan(feats []Feature, cols [][]float64, n int, cents []float64, prev []int32) scanResult {
	d := len(feats)
	k := len(cents) / d
	nChunks := (n + chunkRows - 1) / chunkRows
	bufs := make([][]float64, workers(nChunks))
	type partial struct {
		counts  []int
		sums    []float64
		inertia float64
		changed int
	}
	parts := make([]partial, nChunks)
	res := scanResult{labels: make([]int32, n), counts: make([]int, k), sums: make([]float64, k*d)}
	parallel(nChunks, func(w, ch int) {
		lo, hi := ch*chunkRows, min(n, (ch+1)*chunkRows)
		if bufs[w] == nil {
			bufs[w] = make([]float64, chunkRows*d)
		}
		buf := bufs[w]
		transformRows(feats, cols, lo, hi, buf)
		p := partial{counts: make([]int, k), sums: make([]float64, k*d)}
		for i := lo; i < hi; i++ {
			x := buf[(i-lo)*d : (i-lo+1)*d]
			c, s := nearest(x, cents)
			res.labels[i] = int32(c)
			if prev != nil && prev[i] != int32(c) {
				p.changed++
			}
			p.counts[c]++
			p.inertia += s
			cs := p.sums[c*d : (c+1)*d]
			for j, v := range x {
				cs[j] += v
			}
		}
		parts[ch] = p
	})
	for _, p := range parts {
		for c, v := range p.counts {
			res.counts[c] += v
		}
		for j, v := range p.sums {
			res.sums[j] += v
		}
		res.inertia += p.inertia
		res.changed += p.changed
	}
	if prev == nil {
		res.changed = n
	}
	return res
}

// pairDistances returns the Euclidean distances between the m×d rows of x
// for i < j, packed row by row: (0,1) (0,2) … (0,m−1) (1,2) …
func pairDistances(x []float64, m, d int) []float32 {
	out := make([]float32, m*(m-1)/2)
	parallel(m, func(_, i int) {
		off := i*m - i*(i+1)/2
		xi := x[i*d : (i+1)*d]
		for j := i + 1; j < m; j++ {
			out[off+j-i-1] = float32(math.Sqrt(sqdist(xi, x[j*d:(j+1)*d])))
		}
	})
	return out
}

// silhouette is the mean silhouette of m rows with the given labels (in
// [0, k)) and packed pair distances. A row alone in its cluster scores 0.
// It is NaN when fewer than two clusters are non-empty.
func silhouette(dist []float32, m int, labels []int32, k int) float64 {
	counts := make([]int, k)
	for _, l := range labels {
		counts[l]++
	}
	nonEmpty := 0
	for _, c := range counts {
		if c > 0 {
			nonEmpty++
		}
	}
	if nonEmpty < 2 {
		return math.NaN()
	}
	sums := make([]float64, m*k) // sums[i*k+c]: total distance from i to cluster c
	p := 0
	for i := range m {
		li := int(labels[i])
		for j := i + 1; j < m; j++ {
			dd := float64(dist[p])
			p++
			sums[i*k+int(labels[j])] += dd
			sums[j*k+li] += dd
		}
	}
	var total float64
	for i := range m {
		own := int(labels[i])
		if counts[own] < 2 {
			continue
		}
		a := sums[i*k+own] / float64(counts[own]-1)
		b := math.Inf(1)
		for c := range k {
			if c != own && counts[c] > 0 {
				b = math.Min(b, sums[i*k+c]/float64(counts[c]))
			}
		}
		if den := math.Max(a, b); den > 0 {
			total += (b - a) / den
		}
	}
	return total / float64(m)
}
