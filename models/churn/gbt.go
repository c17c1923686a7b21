package churn

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"sync"
)

// BoostOptions are the knobs of the gradient-boosted trees. Zero values
// take the defaults in parentheses.
type BoostOptions struct {
	MaxTrees     int     // upper bound on boosting rounds (1000)
	LearningRate float64 // shrinkage per tree (0.05)
	MaxDepth     int     // depth of each tree (4)
	MinLeaf      int     // fewest training rows in a leaf (20)
	Lambda       float64 // L2 penalty on leaf values (1)
	Subsample    float64 // share of rows each tree sees (0.8)
	Bins         int     // histogram bins per column, at most 255 (64)
	Patience     int     // rounds without improvement before stopping (50)
	// InnerValid is the share of the training rows held out to pick the
	// number of rounds (0.2); the trees are then refitted on all training
	// rows with that number of rounds.
	InnerValid float64
}

func (o BoostOptions) withDefaults() BoostOptions {
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	defi := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defi(&o.MaxTrees, 1000)
	def(&o.LearningRate, 0.05)
	defi(&o.MaxDepth, 4)
	defi(&o.MinLeaf, 20)
	def(&o.Lambda, 1)
	def(&o.Subsample, 0.8)
	defi(&o.Bins, 64)
	o.Bins = min(o.Bins, 255)
	defi(&o.Patience, 50)
	def(&o.InnerValid, 0.2)
	o.Subsample = min(o.Subsample, 1)
	return o
}

// Boosted is a gradient-boosted tree ensemble (logloss) on the standardised
// encoding: logit = Base + Σ trees.
type Boosted struct {
	Base    float64
	Trees   []Tree
	Options BoostOptions
	// Rounds is the number of rounds early stopping picked on the inner
	// split (len(Trees) after the refit).
	Rounds int
}

// Tree is one regression tree in flat arrays; node 0 is the root. A node
// with Feature < 0 is a leaf. Rows go left when x[Feature] <= Threshold.
// Value is the node's output (the leaf output it would have as a leaf,
// shrinkage included), which path attribution reads.
type Tree struct {
	Feature   []int
	Threshold []float64
	Left      []int
	Right     []int
	Value     []float64
}

func (t *Tree) leaf(z []float64) int {
	n := 0
	for t.Feature[n] >= 0 {
		if z[t.Feature[n]] <= t.Threshold[n] {
			n = t.Left[n]
		} else {
			n = t.Right[n]
		}
	}
	return n
}

// logit is the ensemble's score of one encoded row.
func (b *Boosted) logit(z []float64) float64 {
	s := b.Base
	for i := range b.Trees {
		t := &b.Trees[i]
		s += t.Value[t.leaf(z)]
	}
	return s
}

// attribute adds to contrib[f] the Saabas path attribution of each encoded
// column f for row z: along each tree's path, the change of node value at
// a split is credited to the split's column. It returns the bias (Base plus
// the roots' values), so bias + Σ contrib = logit.
func (b *Boosted) attribute(z []float64, contrib []float64) float64 {
	bias := b.Base
	for i := range b.Trees {
		t := &b.Trees[i]
		n := 0
		bias += t.Value[0]
		for t.Feature[n] >= 0 {
			next := t.Right[n]
			if z[t.Feature[n]] <= t.Threshold[n] {
				next = t.Left[n]
			}
			contrib[t.Feature[n]] += t.Value[next] - t.Value[n]
			n = next
		}
	}
	return bias
}

// binned is the training matrix as histogram bins, row-major.
type binned struct {
	n, p  int
	bins  []uint8     // n*p
	edges [][]float64 // per column: x <= edges[b] falls in bin <= b
	off   []int       // per column: offset of its bins in a histogram
	total int         // bins in a histogram
}

// binMatrix computes quantile bin edges per column from the rows (a sample
// of at most 200k of them) and bins every row.
func binMatrix(z [][]float64, maxBins int, r *rand.Rand) *binned {
	n, p := len(z), len(z[0])
	sample := make([]int, n)
	for i := range sample {
		sample[i] = i
	}
	if n > 200_000 {
		r.Shuffle(n, func(i, j int) { sample[i], sample[j] = sample[j], sample[i] })
		sample = sample[:200_000]
	}
	bm := &binned{n: n, p: p, bins: make([]uint8, n*p), edges: make([][]float64, p), off: make([]int, p)}
	vals := make([]float64, len(sample))
	for j := range p {
		for k, i := range sample {
			vals[k] = z[i][j]
		}
		sort.Float64s(vals)
		uniq := slices.Compact(slices.Clone(vals))
		var edges []float64
		if len(uniq) <= maxBins {
			for k := 0; k+1 < len(uniq); k++ {
				edges = append(edges, (uniq[k]+uniq[k+1])/2)
			}
		} else {
			for k := 1; k < maxBins; k++ {
				v := vals[k*len(vals)/maxBins]
				if len(edges) == 0 || v > edges[len(edges)-1] {
					if v < uniq[len(uniq)-1] {
						edges = append(edges, v)
					}
				}
			}
		}
		bm.edges[j] = edges
		bm.off[j] = bm.total
		bm.total += len(edges) + 1
	}
	for i := range n {
		row := bm.bins[i*p : (i+1)*p]
		for j := range p {
			row[j] = uint8(sort.SearchFloat64s(bm.edges[j], z[i][j]))
		}
	}
	return bm
}

// hist is a gradient histogram: sums of gradients and hessians and row
// counts per bin of every column.
type hist struct {
	g, h []float64
	n    []int32
}

func newHist(size int) *hist {
	return &hist{g: make([]float64, size), h: make([]float64, size), n: make([]int32, size)}
}

func (h *hist) reset() {
	clear(h.g)
	clear(h.h)
	clear(h.n)
}

// sub sets h = a - b.
func (h *hist) sub(a, b *hist) {
	for i := range h.g {
		h.g[i] = a.g[i] - b.g[i]
		h.h[i] = a.h[i] - b.h[i]
		h.n[i] = a.n[i] - b.n[i]
	}
}

// booster holds the state of one boosting run.
type booster struct {
	bm      *binned
	opt     BoostOptions
	g, h    []float64
	pool    sync.Pool
	workers int
	scratch []*hist // per worker, for parallel histogram building
}

func (b *booster) getHist() *hist {
	if v := b.pool.Get(); v != nil {
		hh := v.(*hist)
		hh.reset()
		return hh
	}
	return newHist(b.bm.total)
}

// build fills out with the histogram of rows.
func (b *booster) build(rows []int, out *hist) {
	p, bins := b.bm.p, b.bm.bins
	off := b.bm.off
	fill := func(rows []int, hh *hist) {
		for _, i := range rows {
			gi, hi := b.g[i], b.h[i]
			row := bins[i*p : (i+1)*p]
			for j, bin := range row {
				k := off[j] + int(bin)
				hh.g[k] += gi
				hh.h[k] += hi
				hh.n[k]++
			}
		}
	}
	if b.workers < 2 || len(rows) < 8192 {
		fill(rows, out)
		return
	}
	var wg sync.WaitGroup
	chunk := (len(rows) + b.workers - 1) / b.workers
	for w := range b.workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(rows))
		if lo >= hi {
			continue
		}
		dst := out
		if w > 0 {
			dst = b.scratch[w]
			dst.reset()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fill(rows[lo:hi], dst)
		}()
	}
	wg.Wait()
	for w := 1; w < b.workers; w++ {
		if w*chunk >= len(rows) {
			break
		}
		s := b.scratch[w]
		for k := range out.g {
			out.g[k] += s.g[k]
			out.h[k] += s.h[k]
			out.n[k] += s.n[k]
		}
	}
}

type split struct {
	gain    float64
	feature int
	bin     int
}

// best finds the best split of a node with histogram hh and totals G, H, N.
func (b *booster) best(hh *hist, G, H float64, N int) split {
	lam := b.opt.Lambda
	minLeaf := int32(b.opt.MinLeaf)
	parent := G * G / (H + lam)
	bestS := split{gain: 0, feature: -1}
	for j := range b.bm.p {
		o := b.bm.off[j]
		nb := len(b.bm.edges[j]) + 1
		var gl, hl float64
		var nl int32
		for k := 0; k < nb-1; k++ {
			gl += hh.g[o+k]
			hl += hh.h[o+k]
			nl += hh.n[o+k]
			if nl < minLeaf {
				continue
			}
			nr := int32(N) - nl
			if nr < minLeaf {
				break
			}
			gr, hr := G-gl, H-hl
			if hl < 1e-6 || hr < 1e-6 {
				continue
			}
			gain := gl*gl/(hl+lam) + gr*gr/(hr+lam) - parent
			if gain > bestS.gain+1e-12 {
				bestS = split{gain: gain, feature: j, bin: k}
			}
		}
	}
	return bestS
}

// node is a tree node under construction.
type node struct {
	id      int
	lo, hi  int // its rows are idx[lo:hi]
	g, h    float64
	hist    *hist
	depth   int
	splitAt split
}

// grow fits one tree on the sampled rows idx (reordered in place).
func (b *booster) grow(idx []int) Tree {
	lr, lam := b.opt.LearningRate, b.opt.Lambda
	var t Tree
	add := func(g, h float64) int {
		t.Feature = append(t.Feature, -1)
		t.Threshold = append(t.Threshold, 0)
		t.Left = append(t.Left, -1)
		t.Right = append(t.Right, -1)
		t.Value = append(t.Value, -lr*g/(h+lam))
		return len(t.Feature) - 1
	}
	var G, H float64
	for _, i := range idx {
		G += b.g[i]
		H += b.h[i]
	}
	root := &node{id: add(G, H), lo: 0, hi: len(idx), g: G, h: H, hist: b.getHist()}
	b.build(idx, root.hist)
	level := []*node{root}
	for depth := 0; depth < b.opt.MaxDepth && len(level) > 0; depth++ {
		var next []*node
		for _, nd := range level {
			s := b.best(nd.hist, nd.g, nd.h, nd.hi-nd.lo)
			if s.feature < 0 {
				b.pool.Put(nd.hist)
				continue
			}
			// Partition idx[lo:hi]: left rows first.
			p := b.bm.p
			rows := idx[nd.lo:nd.hi]
			m := 0
			for k, i := range rows {
				if int(b.bm.bins[i*p+s.feature]) <= s.bin {
					rows[m], rows[k] = rows[k], rows[m]
					m++
				}
			}
			var gl, hl float64
			for _, i := range rows[:m] {
				gl += b.g[i]
				hl += b.h[i]
			}
			left := &node{lo: nd.lo, hi: nd.lo + m, g: gl, h: hl, depth: depth + 1}
			right := &node{lo: nd.lo + m, hi: nd.hi, g: nd.g - gl, h: nd.h - hl, depth: depth + 1}
			left.id = add(left.g, left.h)
			right.id = add(right.g, right.h)
			t.Feature[nd.id] = s.feature
			t.Threshold[nd.id] = b.bm.edges[s.feature][s.bin]
			t.Left[nd.id], t.Right[nd.id] = left.id, right.id
			if depth+1 < b.opt.MaxDepth {
				small, large := left, right
				if small.hi-small.lo > large.hi-large.lo {
					small, large = large, small
				}
				small.hist = b.getHist()
				b.build(idx[small.lo:small.hi], small.hist)
				large.hist = nd.hist
				large.hist.sub(nd.hist, small.hist) // in place: parent's histogram becomes the larger child's
				next = append(next, left, right)
			} else {
				b.pool.Put(nd.hist)
			}
		}
		level = next
	}
	for _, nd := range level {
		if nd.hist != nil {
			b.pool.Put(nd.hist)
		}
	}
	return t
}

// leafBinned walks a tree on binned row i.
func (b *booster) leafBinned(t *Tree, i int, splitBin []int) int {
	p := b.bm.p
	n := 0
	for t.Feature[n] >= 0 {
		if int(b.bm.bins[i*p+t.Feature[n]]) <= splitBin[n] {
			n = t.Left[n]
		} else {
			n = t.Right[n]
		}
	}
	return n
}

// trainBoosted fits the trees: the number of rounds is chosen by early
// stopping on an inner, stratified split of the training rows (never on
// the caller's validation frame), then the trees are refitted on all
// training rows for that many rounds.
func trainBoosted(ctx context.Context, z [][]float64, y []bool, opt BoostOptions, seed uint64) (*Boosted, error) {
	opt = opt.withDefaults()
	r := rand.New(rand.NewPCG(seed, 0xb0057ed))
	bm := binMatrix(z, opt.Bins, r)

	fit, hold := stratifiedSplit(y, opt.InnerValid, r)
	rounds := opt.MaxTrees
	if len(hold) > 0 {
		_, best, err := boost(ctx, bm, y, fit, hold, opt, opt.MaxTrees, r)
		if err != nil {
			return nil, err
		}
		rounds = best
	}
	all := make([]int, len(y))
	for i := range all {
		all[i] = i
	}
	m, _, err := boost(ctx, bm, y, all, nil, opt, rounds, r)
	if err != nil {
		return nil, err
	}
	m.Rounds = rounds
	return m, nil
}

// boost runs up to rounds rounds on the rows fit. With hold rows it tracks
// their logloss and returns the model cut at the best round and that
// round count; it stops after opt.Patience rounds without improvement.
func boost(ctx context.Context, bm *binned, y []bool, fit, hold []int, opt BoostOptions, rounds int, r *rand.Rand) (*Boosted, int, error) {
	var pos float64
	for _, i := range fit {
		if y[i] {
			pos++
		}
	}
	rate := pos / float64(len(fit))
	if rate == 0 || rate == 1 {
		return nil, 0, fmt.Errorf("churn: boosted trees: need both classes in the training rows")
	}
	m := &Boosted{Base: math.Log(rate / (1 - rate)), Options: opt}
	b := &booster{bm: bm, opt: opt, g: make([]float64, bm.n), h: make([]float64, bm.n)}
	b.workers = max(1, min(runtime.GOMAXPROCS(0), 8))
	b.scratch = make([]*hist, b.workers)
	for w := 1; w < b.workers; w++ {
		b.scratch[w] = newHist(bm.total)
	}
	score := make([]float64, bm.n)
	for i := range score {
		score[i] = m.Base
	}
	var splitBins [][]int // per tree, per node: the split bin
	bestLoss, bestRound := math.Inf(1), 0
	sample := make([]int, 0, len(fit))
	for round := 0; round < rounds; round++ {
		if round%10 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, 0, fmt.Errorf("churn: boosted trees: %w", err)
			}
		}
		for _, i := range fit {
			p := sigmoid(score[i])
			t := 0.0
			if y[i] {
				t = 1
			}
			b.g[i] = p - t
			b.h[i] = max(p*(1-p), 1e-12)
		}
		sample = sample[:0]
		if opt.Subsample >= 1 {
			sample = append(sample, fit...)
		} else {
			for _, i := range fit {
				if r.Float64() < opt.Subsample {
					sample = append(sample, i)
				}
			}
		}
		t := b.grow(sample)
		sb := make([]int, len(t.Feature))
		for n, f := range t.Feature {
			if f >= 0 {
				sb[n] = sort.SearchFloat64s(bm.edges[f], t.Threshold[n])
			}
		}
		m.Trees = append(m.Trees, t)
		splitBins = append(splitBins, sb)
		for _, i := range fit {
			score[i] += t.Value[b.leafBinned(&t, i, sb)]
		}
		if len(hold) == 0 {
			continue
		}
		var loss float64
		for _, i := range hold {
			score[i] += t.Value[b.leafBinned(&t, i, sb)]
			p := min(max(sigmoid(score[i]), 1e-15), 1-1e-15)
			if y[i] {
				loss -= math.Log(p)
			} else {
				loss -= math.Log(1 - p)
			}
		}
		if loss < bestLoss-1e-9 {
			bestLoss, bestRound = loss, round+1
		} else if round+1-bestRound >= opt.Patience {
			break
		}
	}
	if len(hold) > 0 {
		bestRound = max(bestRound, 1)
		m.Trees = m.Trees[:bestRound]
		return m, bestRound, nil
	}
	return m, len(m.Trees), nil
}

// stratifiedSplit holds out share of each class at random; the rest fit.
func stratifiedSplit(y []bool, share float64, r *rand.Rand) (fit, hold []int) {
	var pos, neg []int
	for i, l := range y {
		if l {
			pos = append(pos, i)
		} else {
			neg = append(neg, i)
		}
	}
	for _, g := range [][]int{pos, neg} {
		r.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		k := int(math.Round(share * float64(len(g))))
		if k >= len(g) {
			k = len(g) - 1
		}
		hold = append(hold, g[:k]...)
		fit = append(fit, g[k:]...)
	}
	slices.Sort(fit)
	slices.Sort(hold)
	return fit, hold
}
