// Package segment groups customers into behavioural segments with k-means,
// keeps segment ids stable across retrains and describes each segment in
// words ("long calls, few contacts, heavy roaming").
//
// Features are the Numeric columns of a dataset.Frame marked Behaviour.
// Missing values take the training median; a non-negative column whose
// skewness exceeds Options.SkewThreshold (and which log1p makes less
// skewed) is log1p-transformed; then every feature is standardised with
// the training mean and standard deviation. Columns without spread are
// dropped and listed in Model.Dropped. The Model stores all of this, so
// Assign maps new rows exactly as training did.
//
// Clustering is k-means, written here: greedy k-means++ seeding and Lloyd
// iterations, Options.Restarts seeded restarts per k keeping the lowest
// inertia, on a random sample of Options.FitRows rows; the chosen model is
// then refined by Lloyd iterations over all rows. golearn's clustering
// package (v0.0.0-20221228163002) was checked and not used: it has no
// k-means at all, only DBSCAN, which builds an n×n distance matrix (80 GB
// at 100k rows) and needs no k, and a hard-assignment Gaussian mixture
// (EM) that seeds from the global math/rand source (not reproducible from
// a seed), has no restarts, iterates without a cap until its parameters
// stop moving, panics on a singular covariance and reads its input through
// golearn's base.FixedDataGrid, so a frame would have to be copied into
// golearn instances first.
//
// k is chosen in [Options.MinK, Options.MaxK] (default 3..8) by the
// highest mean silhouette of the fitting sample's best centroids, measured
// on a fixed-size random subsample of it (Options.SilhouetteRows, default
// 3000, all pairwise distances); ties go to the smaller k. Model.Scores
// records the silhouette and inertia of every k tried.
//
// Segment ids: without a previous model, segments are numbered 1, 2, … by
// descending size (ties by centroid), so the same data gives the same ids
// whatever the row order. Training is deterministic for a given seed and
// row order; with more rows than FitRows a shuffle changes the fitting
// sample, the refinement on all rows usually lands on the same clusters,
// and ids can then only swap between segments of nearly equal size. With a
// previous model, each new centroid is compared with the previous
// centroids, taken in original units and standardised with the new
// model's preprocessing; an optimal assignment (Hungarian) pairs them
// under Options.MatchDistance; paired segments keep the previous id and
// name, the others get fresh ids from the previous Model.NextID on, so an
// id is never reused.
//
// Profiles name the features with the largest |z| of the centroid in
// standardised units, skipping those within 0.25 standard deviations of
// the population mean.
package segment

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/telcolake/telcolake/models/dataset"
)

// FormatVersion is the version of the JSON form of Model.
const FormatVersion = 1

// Options controls Train. The zero value uses the defaults given for each
// field.
type Options struct {
	// MinK and MaxK bound the number of segments tried: default 3 and 8.
	MinK, MaxK int
	// Seed makes training reproducible; any value, 0 included, is a seed.
	Seed int64
	// Restarts is the number of k-means++ starts per k; the one with the
	// lowest inertia is kept. Default 3.
	Restarts int
	// MaxIter caps the Lloyd iterations of each start. Default 100.
	MaxIter int
	// FitRows is how many randomly sampled rows the starts and the choice
	// of k use; all rows when the frame is smaller. Default 30000.
	FitRows int
	// RefineIter caps the Lloyd iterations over all rows that follow.
	// Default 10.
	RefineIter int
	// SilhouetteRows is the size of the sample the silhouette of each k is
	// computed on (it needs all pairwise distances). Default 3000.
	SilhouetteRows int
	// SkewThreshold is the skewness above which a non-negative column is
	// log1p-transformed. Default 1.
	SkewThreshold float64
	// MatchDistance is the largest Euclidean distance, in the new model's
	// standardised units, at which a new segment may take over the id of
	// a previous one. Default 1.
	MatchDistance float64
	// ValueColumn names a numeric column (say "amount_due") whose mean per
	// segment is reported as Segment.MeanValue; it need not be a feature.
	ValueColumn string
}

func (o Options) withDefaults() (Options, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MinK, 3)
	def(&o.MaxK, 8)
	def(&o.Restarts, 3)
	def(&o.MaxIter, 100)
	def(&o.FitRows, 30000)
	def(&o.RefineIter, 10)
	def(&o.SilhouetteRows, 3000)
	if o.SkewThreshold == 0 {
		o.SkewThreshold = 1
	}
	if o.MatchDistance == 0 {
		o.MatchDistance = 1
	}
	switch {
	case o.MinK < 2:
		return o, fmt.Errorf("segment: MinK %d, want at least 2", o.MinK)
	case o.MaxK < o.MinK:
		return o, fmt.Errorf("segment: MaxK %d below MinK %d", o.MaxK, o.MinK)
	case o.Restarts < 0 || o.MaxIter < 0 || o.FitRows < 0 || o.RefineIter < 0:
		return o, fmt.Errorf("segment: negative Restarts, MaxIter, FitRows or RefineIter")
	case o.SilhouetteRows < 3:
		return o, fmt.Errorf("segment: SilhouetteRows %d, want at least 3", o.SilhouetteRows)
	case !(o.MatchDistance > 0) || math.IsInf(o.MatchDistance, 0):
		return o, fmt.Errorf("segment: MatchDistance %v, want a positive number", o.MatchDistance)
	}
	return o, nil
}

// Model is a trained segmentation. It is JSON-serialisable; decoding
// checks FormatVersion.
type Model struct {
	FormatVersion int `json:"format_version"`
	// Features are the clustering features in centroid order.
	Features []Feature `json:"features"`
	// Dropped are Behaviour columns left out: no finite values or no
	// spread in the training data.
	Dropped []string `json:"dropped,omitempty"`
	// Segments are ordered by ID.
	Segments []Segment `json:"segments"`
	// K is the number of segments chosen; Scores has every k tried.
	K      int      `json:"k"`
	Scores []KScore `json:"scores"`
	// Rows is the number of training rows.
	Rows        int    `json:"rows"`
	ValueColumn string `json:"value_column,omitempty"`
	// NextID is the first id a retrain may give a new segment.
	NextID int `json:"next_id"`
	// Retired are the ids of the previous model's segments that no new
	// segment took over.
	Retired []int `json:"retired,omitempty"`
}

// KScore is how well k segments fit.
type KScore struct {
	K int `json:"k"`
	// Silhouette is the mean silhouette on the silhouette sample (−1..1,
	// higher is better); NaN when fewer than two segments were non-empty.
	Silhouette float64 `json:"silhouette"`
	// Inertia is the sum of squared standardised distances of the fitting
	// sample to its nearest centroid (best restart).
	Inertia float64 `json:"inertia"`
}

// Segment is one group of customers.
type Segment struct {
	ID int `json:"id"`
	// Name is short: the two most distinguishing phrases joined by " · ",
	// or the previous model's name when the id was carried over.
	Name string `json:"name"`
	// Profile names up to three most distinguishing features, joined by
	// ", ": the feature's High phrase when the segment is above the
	// population, Low when below.
	Profile string `json:"profile"`
	// Size is the number of training rows in the segment; Share is
	// Size / Model.Rows.
	Size  int     `json:"size"`
	Share float64 `json:"share"`
	// ChurnRate is the share of labelled-churned rows; NaN without labels.
	ChurnRate float64 `json:"churn_rate"`
	// MeanValue is the mean of Options.ValueColumn over the segment's rows
	// where it is not missing; NaN without that column.
	MeanValue float64 `json:"mean_value"`
	// Centroid is the centre in original units, one value per
	// Model.Features (for log1p features, expm1 of the mean log1p).
	Centroid []float64 `json:"centroid"`
	// Z is the centre in standardised units: how many training standard
	// deviations above (+) or below (−) the population mean.
	Z []float64 `json:"z"`
	// Matched is true when the id was taken over from the previous model;
	// Drift is then the distance between the two centres in this model's
	// standardised units.
	Matched bool    `json:"matched,omitempty"`
	Drift   float64 `json:"drift,omitempty"`
}

// Train segments the rows of f. prev, if not nil, is the model this one
// replaces: segments close to one of prev's keep its id and name.
func Train(f *dataset.Frame, prev *Model, opt Options) (*Model, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, fmt.Errorf("segment: train: nil frame")
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("segment: train: %w", err)
	}
	if prev != nil && prev.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("segment: train: previous model has format version %d, want %d", prev.FormatVersion, FormatVersion)
	}
	n := f.Rows()
	var value []float64
	if opt.ValueColumn != "" {
		if c := f.Col(opt.ValueColumn); c != nil {
			if c.Kind != dataset.Numeric {
				return nil, fmt.Errorf("segment: train: value column %q is %s, want numeric", c.Name, c.Kind)
			}
			value = c.Num
		}
	}

	// Preprocessing, one feature per goroutine task.
	var in []*dataset.Column
	for _, c := range f.Cols {
		if c.Behaviour && c.Kind == dataset.Numeric {
			in = append(in, c)
		}
	}
	if len(in) == 0 {
		return nil, fmt.Errorf("segment: train: no numeric behaviour columns")
	}
	fitted := make([]Feature, len(in))
	usable := make([]bool, len(in))
	scratch := make([][]float64, workers(len(in)))
	parallel(len(in), func(w, j int) {
		if scratch[w] == nil {
			scratch[w] = make([]float64, 0, n)
		}
		fitted[j], usable[j] = fitFeature(in[j], opt.SkewThreshold, scratch[w])
	})
	m := &Model{FormatVersion: FormatVersion, Rows: n, ValueColumn: opt.ValueColumn}
	var cols [][]float64
	for j, c := range in {
		if usable[j] {
			m.Features = append(m.Features, fitted[j])
			cols = append(cols, c.Num)
		} else {
			m.Dropped = append(m.Dropped, c.Name)
		}
	}
	if len(m.Features) == 0 {
		return nil, fmt.Errorf("segment: train: every behaviour column is constant or missing: %q", m.Dropped)
	}
	d := len(m.Features)

	// The fitting sample, in row order, standardised.
	rng := func(stream uint64) *rand.Rand { return rand.New(rand.NewPCG(uint64(opt.Seed), stream)) }
	fit := sampleRows(n, opt.FitRows, rng(0))
	maxK := min(opt.MaxK, len(fit)-1, opt.SilhouetteRows-1)
	if maxK < opt.MinK {
		return nil, fmt.Errorf("segment: train: %d rows are too few for %d segments", n, opt.MinK)
	}
	x := make([]float64, len(fit)*d)
	for i, r := range fit {
		transformRows(m.Features, cols, r, r+1, x[i*d:(i+1)*d])
	}

	// k-means++ and Lloyd for every (k, restart), best inertia per k.
	nk := maxK - opt.MinK + 1
	restarts := max(1, opt.Restarts)
	type run struct {
		cents   []float64
		inertia float64
	}
	runs := make([]run, nk*restarts)
	parallel(len(runs), func(_, t int) {
		k := opt.MinK + t/restarts
		cents := seedPlusPlus(x, len(fit), d, k, rng(uint64(2+t)))
		runs[t] = run{cents, lloyd(x, len(fit), d, cents, opt.MaxIter)}
	})
	best := make([]run, nk)
	for i := range best {
		rs := runs[i*restarts : (i+1)*restarts]
		best[i] = slices.MinFunc(rs, func(a, b run) int { return cmp.Compare(a.inertia, b.inertia) })
	}

	// Silhouette of each k on a sample of the fitting rows.
	sil := rng(1).Perm(len(fit))[:min(len(fit), opt.SilhouetteRows)]
	slices.Sort(sil)
	xs := make([]float64, len(sil)*d)
	for i, r := range sil {
		copy(xs[i*d:(i+1)*d], x[r*d:(r+1)*d])
	}
	pd := pairDistances(xs, len(sil), d)
	m.Scores = make([]KScore, nk)
	parallel(nk, func(_, i int) {
		labels := make([]int32, len(sil))
		for r := range sil {
			c, _ := nearest(xs[r*d:(r+1)*d], best[i].cents)
			labels[r] = int32(c)
		}
		k := opt.MinK + i
		m.Scores[i] = KScore{K: k, Silhouette: silhouette(pd, len(sil), labels, k), Inertia: best[i].inertia}
	})
	chosen := 0
	for i, s := range m.Scores {
		if s.Silhouette > m.Scores[chosen].Silhouette || math.IsNaN(m.Scores[chosen].Silhouette) {
			chosen = i
		}
	}

	// Refine the chosen centroids on all rows.
	cents := slices.Clone(best[chosen].cents)
	var labels []int32
	var res scanResult
	for it := 0; ; it++ {
		res = scan(m.Features, cols, n, cents, labels)
		labels = res.labels
		if res.changed == 0 || it >= opt.RefineIter {
			break
		}
		for c, cnt := range res.counts {
			if cnt == 0 {
				continue // keep the centroid of an empty cluster
			}
			for j := range d {
				cents[c*d+j] = res.sums[c*d+j] / float64(cnt)
			}
		}
	}

	// Keep the non-empty clusters, largest first (the order fresh ids
	// follow), then assign once more with the centroids in id order so
	// that Size and the statistics agree with Assign.
	var order []int
	for c, cnt := range res.counts {
		if cnt > 0 {
			order = append(order, c)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := cmp.Compare(res.counts[b], res.counts[a]); c != 0 {
			return c
		}
		return slices.Compare(cents[a*d:(a+1)*d], cents[b*d:(b+1)*d])
	})
	segs := make([]Segment, len(order))
	for i, c := range order {
		s := &segs[i]
		s.Z = slices.Clone(cents[c*d : (c+1)*d])
		s.Centroid = make([]float64, d)
		for j := range d {
			s.Centroid[j] = m.Features[j].original(s.Z[j])
		}
	}
	m.K = len(segs)
	m.assignIDs(segs, prev, opt.MatchDistance)
	ordered := make([]float64, 0, len(segs)*d)
	for _, s := range m.Segments {
		ordered = append(ordered, s.Z...)
	}
	res = scan(m.Features, cols, n, ordered, nil)
	for c := range m.Segments {
		s := &m.Segments[c]
		s.Size = res.counts[c]
		s.Share = float64(s.Size) / float64(n)
	}
	segmentStats(m.Segments, res.labels, f.Label, value)
	return m, nil
}

// sampleRows returns min(n, size) distinct row indexes in increasing
// order, drawn at random when size < n.
func sampleRows(n, size int, rng *rand.Rand) []int {
	if size <= 0 || size >= n {
		rows := make([]int, n)
		for i := range rows {
			rows[i] = i
		}
		return rows
	}
	rows := rng.Perm(n)[:size]
	slices.Sort(rows)
	return rows
}

// segmentStats fills ChurnRate and MeanValue from the row labels (index
// into segs) and the optional churn labels and value column.
func segmentStats(segs []Segment, labels []int32, churned []bool, value []float64) {
	k := len(segs)
	churn := make([]int, k)
	vsum := make([]float64, k)
	vcnt := make([]int, k)
	for i, l := range labels {
		if len(churned) > 0 && churned[i] {
			churn[l]++
		}
		if value != nil && !math.IsNaN(value[i]) && !math.IsInf(value[i], 0) {
			vsum[l] += value[i]
			vcnt[l]++
		}
	}
	for c := range segs {
		s := &segs[c]
		s.ChurnRate, s.MeanValue = math.NaN(), math.NaN()
		if len(churned) > 0 && s.Size > 0 {
			s.ChurnRate = float64(churn[c]) / float64(s.Size)
		}
		if vcnt[c] > 0 {
			s.MeanValue = vsum[c] / float64(vcnt[c])
		}
	}
}

// assignIDs gives segs (largest first) their ids, names and profiles,
// carrying ids over from prev where centroids match, and stores them in
// m ordered by id.
func (m *Model) assignIDs(segs []Segment, prev *Model, threshold float64) {
	for c := range segs {
		segs[c].Profile, segs[c].Name = describe(m.Features, segs[c].Z)
	}
	next := 1
	taken := make([]bool, len(segs))
	if prev != nil {
		next = prev.NextID
		for _, p := range prev.Segments {
			next = max(next, p.ID+1)
		}
		dist := m.prevDistances(segs, prev)
		match := matchCentroids(dist, len(prev.Segments), threshold)
		kept := make([]bool, len(prev.Segments))
		for c, j := range match {
			if j < 0 {
				continue
			}
			p := prev.Segments[j]
			segs[c].ID, segs[c].Name = p.ID, p.Name
			segs[c].Matched, segs[c].Drift = true, dist[c][j]
			taken[c], kept[j] = true, true
		}
		for j, p := range prev.Segments {
			if !kept[j] {
				m.Retired = append(m.Retired, p.ID)
			}
		}
	}
	used := make(map[string]bool)
	for c := range segs {
		if taken[c] {
			used[segs[c].Name] = true
		}
	}
	for c := range segs {
		if taken[c] {
			continue
		}
		segs[c].ID = next
		next++
		segs[c].Name = uniqueName(segs[c], m.Features, used)
		used[segs[c].Name] = true
	}
	m.NextID = next
	slices.SortFunc(segs, func(a, b Segment) int { return cmp.Compare(a.ID, b.ID) })
	m.Segments = segs
}

// prevDistances is the Euclidean distance, in m's standardised units and
// over the features both models have, between each new centroid and each
// of prev's centroids (taken in original units).
func (m *Model) prevDistances(segs []Segment, prev *Model) [][]float64 {
	prevIdx := make(map[string]int, len(prev.Features))
	for j, ft := range prev.Features {
		prevIdx[ft.Name] = j
	}
	dist := make([][]float64, len(segs))
	for c, s := range segs {
		dist[c] = make([]float64, len(prev.Segments))
		for p, ps := range prev.Segments {
			var ss float64
			common := 0
			for j := range m.Features {
				pj, ok := prevIdx[m.Features[j].Name]
				if !ok || pj >= len(ps.Centroid) {
					continue
				}
				dz := s.Z[j] - m.Features[j].z(ps.Centroid[pj])
				ss += dz * dz
				common++
			}
			if common == 0 {
				ss = math.Inf(1)
			}
			dist[c][p] = math.Sqrt(ss)
		}
	}
	return dist
}

// Segment returns the segment with the given id.
func (m *Model) Segment(id int) (Segment, bool) {
	i, ok := slices.BinarySearchFunc(m.Segments, id, func(s Segment, id int) int { return cmp.Compare(s.ID, id) })
	if !ok {
		return Segment{}, false
	}
	return m.Segments[i], true
}

// Assign returns the id of the nearest segment for every row of f. The
// feature columns are found by name and must be numeric; missing values
// are imputed as in training.
func (m *Model) Assign(f *dataset.Frame) ([]int, error) {
	if len(m.Segments) == 0 {
		return nil, fmt.Errorf("segment: assign: model has no segments")
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("segment: assign: %w", err)
	}
	cols := make([][]float64, len(m.Features))
	for j, ft := range m.Features {
		c := f.Col(ft.Name)
		if c == nil {
			return nil, fmt.Errorf("segment: assign: frame has no column %q", ft.Name)
		}
		if c.Kind != dataset.Numeric {
			return nil, fmt.Errorf("segment: assign: column %q is %s, want numeric", ft.Name, c.Kind)
		}
		cols[j] = c.Num
	}
	d := len(m.Features)
	cents := make([]float64, 0, len(m.Segments)*d)
	for _, s := range m.Segments {
		if len(s.Z) != d {
			return nil, fmt.Errorf("segment: assign: segment %d has %d coordinates, want %d", s.ID, len(s.Z), d)
		}
		cents = append(cents, s.Z...)
	}
	res := scan(m.Features, cols, f.Rows(), cents, nil)
	ids := make([]int, len(res.labels))
	for i, l := range res.labels {
		ids[i] = m.Segments[l].ID
	}
	return ids, nil
}
