package segment

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/telcolake/telcolake/models/dataset"
)

func TestSilhouette(t *testing.T) {
	// Points 0 and 1 in one cluster, 10 and 11 in the other. For 0:
	// a = 1, b = (10+11)/2; for 1: a = 1, b = (9+10)/2; 10 and 11 mirror them.
	x := []float64{0, 1, 10, 11}
	want := (9.5/10.5 + 8.5/9.5) / 2
	tests := []struct {
		name   string
		labels []int32
		k      int
		want   float64
	}{
		{"two clusters", []int32{0, 0, 1, 1}, 2, want},
		{"labels swapped", []int32{1, 1, 0, 0}, 2, want},
		// A singleton (0) scores 0. 1: own {10, 11} at a = 9.5, other {0}
		// at b = 1. 10: own {1, 11} at a = 5, b = 10. 11: a = 5.5, b = 11.
		{"singleton", []int32{0, 1, 1, 1}, 2, (0 + (1-9.5)/9.5 + (10-5)/10.0 + (11-5.5)/11.0) / 4},
		{"one cluster", []int32{0, 0, 0, 0}, 2, math.NaN()},
		{"empty third cluster", []int32{0, 0, 2, 2}, 3, want},
	}
	d := pairDistances(x, 4, 1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := silhouette(d, 4, tt.labels, tt.k)
			if math.IsNaN(tt.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tt.want) > 1e-6) {
				t.Errorf("silhouette(%v) = %v, want %v", tt.labels, got, tt.want)
			}
		})
	}
}

func TestHungarianMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 6; n++ {
		for trial := range 20 {
			cost := make([][]float64, n)
			for i := range cost {
				cost[i] = make([]float64, n)
				for j := range cost[i] {
					cost[i][j] = math.Round(rng.Float64()*20) / 2 // ties happen
				}
			}
			got := hungarian(cost)
			var total float64
			seen := make([]bool, n)
			for i, j := range got {
				if seen[j] {
					t.Fatalf("n=%d trial %d: column %d assigned twice: %v", n, trial, j, got)
				}
				seen[j] = true
				total += cost[i][j]
			}
			if best := bruteForce(cost); math.Abs(total-best) > 1e-9 {
				t.Errorf("n=%d trial %d: hungarian total %v, optimum %v", n, trial, total, best)
			}
		}
	}
}

// bruteForce is the minimal total cost over all permutations.
func bruteForce(cost [][]float64) float64 {
	n := len(cost)
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	best := math.Inf(1)
	var rec func(k int, sum float64)
	rec = func(k int, sum float64) {
		if k == n {
			best = math.Min(best, sum)
			return
		}
		for i := k; i < n; i++ {
			perm[k], perm[i] = perm[i], perm[k]
			rec(k+1, sum+cost[k][perm[k]])
			perm[k], perm[i] = perm[i], perm[k]
		}
	}
	rec(0, 0)
	return best
}

func TestMatchCentroids(t *testing.T) {
	tests := []struct {
		name  string
		dist  [][]float64
		nPrev int
		want  []int
	}{
		{"identity", [][]float64{{.1, 5}, {5, .2}}, 2, []int{0, 1}},
		// Greedy would pair new 0 with prev 0 (0.3) and leave new 1 at 0.9;
		// the optimum swaps them (0.4 + 0.35).
		{"optimal not greedy", [][]float64{{.3, .4}, {.35, .9}}, 2, []int{1, 0}},
		{"new segment beyond threshold", [][]float64{{.1, 4}, {3, .2}, {2, 2.5}}, 2, []int{0, 1, -1}},
		{"previous segment gone", [][]float64{{4, .1}}, 2, []int{1}},
		{"nothing close", [][]float64{{3, 4}, {5, 6}}, 2, []int{-1, -1}},
		{"no previous segments", [][]float64{{}, {}}, 0, []int{-1, -1}},
		// Pairing 0–0 (0.1) and leaving new 1 and prev 1 unpaired (0.5 +
		// 0.5) costs 1.1, less than cross-pairing 0–1 and 1–0 (0.95 + 0.95):
		// a near-certain pair is not broken up for two doubtful ones.
		{"close pair beats two doubtful ones", [][]float64{{.1, .95}, {.95, 5}}, 2, []int{0, -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matchCentroids(tt.dist, tt.nPrev, 1); !slices.Equal(got, tt.want) {
				t.Errorf("matchCentroids(%v) = %v, want %v", tt.dist, got, tt.want)
			}
		})
	}
}

func TestFitFeature(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	gen := func(n int, f func() float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = f()
		}
		return v
	}
	logNormal := gen(2000, func() float64 { return math.Exp(2 + rng.NormFloat64()) })
	negSkewed := gen(2000, func() float64 { return math.Exp(2+rng.NormFloat64()) - 5 })
	tests := []struct {
		name    string
		num     []float64
		wantOK  bool
		wantLog bool
		median  float64 // checked when not NaN
	}{
		{"log-normal", logNormal, true, true, math.NaN()},
		{"normal", gen(2000, func() float64 { return 50 + 10*rng.NormFloat64() }), true, false, math.NaN()},
		{"skewed with negatives", negSkewed, true, false, math.NaN()},
		{"constant", []float64{3, 3, 3, math.NaN()}, false, false, 3},
		{"all missing", []float64{math.NaN(), math.Inf(1)}, false, false, math.NaN()},
		{"median of even count, missing ignored", []float64{1, math.NaN(), 4, 2, 10}, true, false, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft, ok := fitFeature(&dataset.Column{Name: "x", Num: tt.num}, 1, nil)
			if ok != tt.wantOK || ft.Log != tt.wantLog {
				t.Fatalf("fitFeature: ok %v, log %v; want %v, %v", ok, ft.Log, tt.wantOK, tt.wantLog)
			}
			if !math.IsNaN(tt.median) && ft.Median != tt.median {
				t.Errorf("Median = %v, want %v", ft.Median, tt.median)
			}
			if !ok {
				return
			}
			// Standardised training values have mean 0 and sd 1, and
			// original inverts the transformation.
			var sum, ss float64
			for _, v := range tt.num {
				z := ft.z(v)
				sum += z
				ss += z * z
			}
			n := float64(len(tt.num))
			if mean, sd := sum/n, math.Sqrt(ss/n); math.Abs(mean) > 1e-9 || math.Abs(sd-1) > 1e-9 {
				t.Errorf("standardised mean %v, sd %v; want 0, 1", mean, sd)
			}
			if v := tt.num[0]; math.Abs(ft.original(ft.z(v))-v) > 1e-9*math.Max(1, math.Abs(v)) {
				t.Errorf("original(z(%v)) = %v", v, ft.original(ft.z(v)))
			}
		})
	}
}

func TestKMeansDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	const n, d = 600, 3
	x := make([]float64, n*d)
	for i := range n {
		for j := range d {
			x[i*d+j] = float64(i%3)*4 + rng.NormFloat64()
		}
	}
	run := func() ([]float64, float64) {
		c := seedPlusPlus(x, n, d, 3, rand.New(rand.NewPCG(9, 9)))
		return c, lloyd(x, n, d, c, 100)
	}
	c1, in1 := run()
	c2, in2 := run()
	if !slices.Equal(c1, c2) || in1 != in2 {
		t.Errorf("same seed gave different centroids or inertia: %v/%v vs %v/%v", c1, in1, c2, in2)
	}
	// The scan over all rows agrees with Lloyd's inertia at its fixed point.
	feats := make([]Feature, d)
	cols := make([][]float64, d)
	for j := range d {
		feats[j] = Feature{SD: 1}
		cols[j] = make([]float64, n)
		for i := range n {
			cols[j][i] = x[i*d+j]
		}
	}
	if res := scan(feats, cols, n, c1, nil); math.Abs(res.inertia-in1) > 1e-9*in1 {
		t.Errorf("scan inertia %v, lloyd %v", res.inertia, in1)
	}
	// Three well-separated groups along the diagonal: roughly d·n·1² left.
	if in1 > 1.5*float64(n*d) {
		t.Errorf("inertia %v, want about %d", in1, n*d)
	}
}

func TestLloydFillsEmptyCluster(t *testing.T) {
	// Two centroids start on top of each other: one cluster is empty after
	// the first assignment and must take the farthest row.
	x := []float64{0, 0.1, 0.2, 10, 10.1, 10.2}
	cents := []float64{0.1, 0.1}
	lloyd(x, 6, 1, cents, 100)
	slices.Sort(cents)
	if math.Abs(cents[0]-0.1) > 1e-9 || math.Abs(cents[1]-10.1) > 1e-9 {
		t.Errorf("centroids %v, want [0.1 10.1]", cents)
	}
}

func TestMedian(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for _, n := range []int{1, 2, 3, 4, 5, 10, 101, 1000, 1001} {
		for _, dup := range []bool{false, true} {
			v := make([]float64, n)
			for i := range v {
				v[i] = rng.NormFloat64()
				if dup {
					v[i] = float64(rng.IntN(4)) // many ties
				}
			}
			s := slices.Clone(v)
			slices.Sort(s)
			want := s[n/2]
			if n%2 == 0 {
				want = (s[n/2-1] + s[n/2]) / 2
			}
			if got := median(v); math.Abs(got-want) > 1e-12 {
				t.Errorf("median of %d values (ties %v) = %v, want %v", n, dup, got, want)
			}
		}
	}
}
