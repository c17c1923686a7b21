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

// check verifies a tree (one read from JSON) can be walked: equal array
// lengths, columns below width, children after their parent.
func (t *Tree) check(width int) error {
	n := len(t.Feature)
	if n == 0 || len(t.Threshold) != n || len(t.Left) != n || len(t.Right) != n || len(t.Value) != n {
		return fmt.Errorf("node arrays of unequal length or empty")
	}
	for i, f := range t.Feature {
		if f < 0 {
			continue
		}
		if f >= width || t.Left[i] <= i || t.Right[i] <= i || t.Left[i] >= n || t.Right[i] >= n {
			return fmt.Errorf("node %d: column %d, children %d and %d out of range", i, f, t.Left[i], t.Right[i])
		}
	}
	return nil
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

// bfeat is one feature of the binned matrix: a numeric encoded column cut
// at quantile edges, or the one-hot columns of a categorical feature
// bundled into one (they are mutually exclusive), whose bin is the hot
// column and whose splits are "this category against the rest", exactly
// the splits the one-hot columns offer.
type bfeat struct {
	cols  []int     // encoded columns: one, or the one-hot group
	edges []float64 // numeric: x <= edges[b] falls in bin <= b
	thr   []float64 // group: threshold on cols[k] between its 0 and 1
	off   int       // offset of its bins in a histogram
}

func (f *bfeat) group() bool { return f.thr != nil }

func (f *bfeat) nbins() int {
	if f.group() {
		return len(f.cols)
	}
	return len(f.edges) + 1
}

// binned is the training matrix as histogram bins, row-major.
type binned struct {
	n, p  int // rows, binned features
	bins  []uint8
	feats []bfeat
	total int // bins in a histogram
}

// binMatrix bins the encoded rows: numeric columns at quantile edges from
// (a sample of at most 100k of) the rows, one-hot groups of enc's
// categorical features as one feature each.
func binMatrix(z [][]float64, enc *Encoder, maxBins int, r *rand.Rand) *binned {
	n := len(z)
	sample := make([]int, n)
	for i := range sample {
		sample[i] = i
	}
	if n > 100_000 {
		r.Shuffle(n, func(i, j int) { sample[i], sample[j] = sample[j], sample[i] })
		sample = sample[:100_000]
	}
	bm := &binned{n: n}
	vals := make([]float64, len(sample))
	col := 0
	for fi := range enc.Features {
		ft := &enc.Features[fi]
		w := ft.width()
		if ft.Kind == kindCategorical {
			g := bfeat{cols: make([]int, w), thr: make([]float64, w), off: bm.total}
			for k := range w {
				g.cols[k] = col + k
				// the column's standardised 0 and 1, halfway
				g.thr[k] = (0.5 - ft.Centre[k]) / ft.Scale[k]
			}
			bm.feats = append(bm.feats, g)
			bm.total += w
			col += w
			continue
		}
		for k := range w {
			j := col + k
			for s, i := range sample {
				vals[s] = z[i][j]
			}
			slices.Sort(vals)
			uniq := slices.Compact(slices.Clone(vals))
			var edges []float64
			if len(uniq) <= maxBins {
				for u := 0; u+1 < len(uniq); u++ {
					edges = append(edges, (uniq[u]+uniq[u+1])/2)
				}
			} else {
				for q := 1; q < maxBins; q++ {
					v := vals[q*len(vals)/maxBins]
					if (len(edges) == 0 || v > edges[len(edges)-1]) && v < uniq[len(uniq)-1] {
						edges = append(edges, v)
					}
				}
			}
			bm.feats = append(bm.feats, bfeat{cols: []int{j}, edges: edges, off: bm.total})
			bm.total += len(edges) + 1
		}
		col += w
	}
	bm.p = len(bm.feats)
	bm.bins = make([]uint8, n*bm.p)
	for i := range n {
		row := bm.bins[i*bm.p : (i+1)*bm.p]
		zi := z[i]
		for f := range bm.feats {
			bf := &bm.feats[f]
			if bf.group() {
				for k, j := range bf.cols {
					if zi[j] > bf.thr[k] {
						row[f] = uint8(k)
						break
					}
				}
				continue
			}
			row[f] = uint8(sort.SearchFloat64s(bf.edges, zi[bf.cols[0]]))
		}
	}
	return bm
}

// hbin is one histogram bin: sums of gradients and hessians, row count.
type hbin struct {
	g, h float64
	n    int32
}

type hist []hbin

// sub sets h = a - b.
func (h hist) sub(a, b hist) {
	for i := range h {
		h[i] = hbin{a[i].g - b[i].g, a[i].h - b[i].h, a[i].n - b[i].n}
	}
}

func (h hist) add(b hist) {
	for i := range h {
		h[i].g += b[i].g
		h[i].h += b[i].h
		h[i].n += b[i].n
	}
}

// booster holds the state of one boosting run.
type booster struct {
	bm      *binned
	opt     BoostOptions
	g, h    []float64
	pool    []hist
	workers int
	scratch []hist // per worker, for parallel histogram building
}

func (b *booster) getHist() hist {
	if k := len(b.pool); k > 0 {
		hh := b.pool[k-1]
		b.pool = b.pool[:k-1]
		clear(hh)
		return hh
	}
	return make(hist, b.bm.total)
}

func (b *booster) putHist(h hist) { b.pool = append(b.pool, h) }

// build fills out (zeroed) with the histogram of rows.
func (b *booster) build(rows []int, out hist) {
	p, bins := b.bm.p, b.bm.bins
	off := make([]int, p)
	for f := range off {
		off[f] = b.bm.feats[f].off
	}
	fill := func(rows []int, hh hist) {
		for _, i := range rows {
			gi, hi := b.g[i], b.h[i]
			row := bins[i*p : (i+1)*p]
			for f, bin := range row {
				e := &hh[off[f]+int(bin)]
				e.g += gi
				e.h += hi
				e.n++
			}
		}
	}
	if b.workers < 2 || len(rows) < 8192 {
		fill(rows, out)
		return
	}
	var wg sync.WaitGroup
	chunk := (len(rows) + b.workers - 1) / b.workers
	used := 0
	for w := range b.workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(rows))
		if lo >= hi {
			break
		}
		used++
		dst := out
		if w > 0 {
			dst = b.scratch[w]
			clear(dst)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fill(rows[lo:hi], dst)
		}()
	}
	wg.Wait()
	for w := 1; w < used; w++ {
		out.add(b.scratch[w])
	}
}

type split struct {
	gain    float64
	feature int // binned feature
	bin     int
}

// goesLeft reports whether a row in bin bin of feature f goes left.
func (f *bfeat) goesLeft(bin, splitBin int) bool {
	if f.group() {
		return bin != splitBin
	}
	return bin <= splitBin
}

// best finds the best split of a node with histogram hh and totals G, H, N.
func (b *booster) best(hh hist, G, H float64, N int) split {
	lam := b.opt.Lambda
	minLeaf := int32(b.opt.MinLeaf)
	parent := G * G / (H + lam)
	bestS := split{feature: -1}
	try := func(gl, hl float64, nl int32, f, k int) {
		nr := int32(N) - nl
		gr, hr := G-gl, H-hl
		if nl < minLeaf || nr < minLeaf || hl < 1e-6 || hr < 1e-6 {
			return
		}
		if gain := gl*gl/(hl+lam) + gr*gr/(hr+lam) - parent; gain > bestS.gain+1e-12 {
			bestS = split{gain: gain, feature: f, bin: k}
		}
	}
	for f := range b.bm.feats {
		bf := &b.bm.feats[f]
		o, nb := bf.off, bf.nbins()
		if bf.group() {
			for k := range nb {
				e := hh[o+k]
				try(G-e.g, H-e.h, int32(N)-e.n, f, k)
			}
			continue
		}
		var gl, hl float64
		var nl int32
		for k := 0; k < nb-1; k++ {
			e := hh[o+k]
			gl += e.g
			hl += e.h
			nl += e.n
			if int32(N)-nl < minLeaf {
				break
			}
			try(gl, hl, nl, f, k)
		}
	}
	return bestS
}

// node is a tree node under construction.
type node struct {
	id     int
	lo, hi int // its rows are idx[lo:hi]
	g, h   float64
	hist   hist
}

// grown is a tree with its splits in binned terms, for training.
type grown struct {
	t        Tree
	feat     []int // binned feature per node, -1 at leaves
	splitBin []int
}

// grow fits one tree on the sampled rows idx (reordered in place).
func (b *booster) grow(idx []int) grown {
	lr, lam := b.opt.LearningRate, b.opt.Lambda
	var gt grown
	t := &gt.t
	add := func(g, h float64) int {
		t.Feature = append(t.Feature, -1)
		t.Threshold = append(t.Threshold, 0)
		t.Left = append(t.Left, -1)
		t.Right = append(t.Right, -1)
		t.Value = append(t.Value, -lr*g/(h+lam))
		gt.feat = append(gt.feat, -1)
		gt.splitBin = append(gt.splitBin, 0)
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
	p := b.bm.p
	for depth := 0; depth < b.opt.MaxDepth && len(level) > 0; depth++ {
		var next []*node
		for _, nd := range level {
			s := b.best(nd.hist, nd.g, nd.h, nd.hi-nd.lo)
			if s.feature < 0 {
				b.putHist(nd.hist)
				continue
			}
			bf := &b.bm.feats[s.feature]
			rows := idx[nd.lo:nd.hi]
			m := 0
			for k, i := range rows {
				if bf.goesLeft(int(b.bm.bins[i*p+s.feature]), s.bin) {
					rows[m], rows[k] = rows[k], rows[m]
					m++
				}
			}
			var gl, hl float64
			for _, i := range rows[:m] {
				gl += b.g[i]
				hl += b.h[i]
			}
			left := &node{lo: nd.lo, hi: nd.lo + m, g: gl, h: hl}
			right := &node{lo: nd.lo + m, hi: nd.hi, g: nd.g - gl, h: nd.h - hl}
			left.id = add(left.g, left.h)
			right.id = add(right.g, right.h)
			if bf.group() {
				// category s.bin (its one-hot column above the threshold) goes right
				t.Feature[nd.id] = bf.cols[s.bin]
				t.Threshold[nd.id] = bf.thr[s.bin]
			} else {
				t.Feature[nd.id] = bf.cols[0]
				t.Threshold[nd.id] = bf.edges[s.bin]
			}
			gt.feat[nd.id], gt.splitBin[nd.id] = s.feature, s.bin
			t.Left[nd.id], t.Right[nd.id] = left.id, right.id
			if depth+1 < b.opt.MaxDepth {
				small, large := left, right
				if small.hi-small.lo > large.hi-large.lo {
					small, large = large, small
				}
				small.hist = b.getHist()
				b.build(idx[small.lo:small.hi], small.hist)
				large.hist = nd.hist
				large.hist.sub(nd.hist, small.hist) // in place: the parent's histogram becomes the larger child's
				next = append(next, left, right)
			} else {
				b.putHist(nd.hist)
			}
		}
		level = next
	}
	return gt
}

// leafBinned walks a grown tree on binned row i.
func (b *booster) leafBinned(gt *grown, i int) int {
	row := b.bm.bins[i*b.bm.p : (i+1)*b.bm.p]
	t := &gt.t
	n := 0
	for gt.feat[n] >= 0 {
		f := gt.feat[n]
		if b.bm.feats[f].goesLeft(int(row[f]), gt.splitBin[n]) {
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
func trainBoosted(ctx context.Context, z [][]float64, enc *Encoder, y []bool, opt BoostOptions, seed uint64) (*Boosted, error) {
	opt = opt.withDefaults()
	r := rand.New(rand.NewPCG(seed, 0xb0057ed))
	bm := binMatrix(z, enc, opt.Bins, r)

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
	b.scratch = make([]hist, b.workers)
	for w := 1; w < b.workers; w++ {
		b.scratch[w] = make(hist, bm.total)
	}
	score := make([]float64, bm.n)
	for i := range score {
		score[i] = m.Base
	}
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
		gt := b.grow(sample)
		t := gt.t
		m.Trees = append(m.Trees, t)
		for _, i := range fit {
			score[i] += t.Value[b.leafBinned(&gt, i)]
		}
		if len(hold) == 0 {
			continue
		}
		var loss float64
		for _, i := range hold {
			score[i] += t.Value[b.leafBinned(&gt, i)]
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
