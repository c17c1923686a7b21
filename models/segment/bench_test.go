package segment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/telcolake/telcolake/models/dataset"
)

// wideFrame is n rows × d behaviour features from 6 planted clusters; every
// third feature is log-normal (skewed, so log1p-transformed) and 1% of the
// values are missing.
func wideFrame(n, d int) *dataset.Frame {
	rng := rand.New(rand.NewPCG(7, 7))
	const k = 6
	centres := make([][]float64, k)
	for c := range centres {
		centres[c] = make([]float64, d)
		for j := range centres[c] {
			centres[c][j] = 3 * rng.NormFloat64()
		}
	}
	f := &dataset.Frame{Label: make([]bool, n)}
	for j := range d {
		f.Cols = append(f.Cols, &dataset.Column{Name: fmt.Sprintf("f%02d", j), Num: make([]float64, n), Behaviour: true})
	}
	for i := range n {
		c := rng.IntN(k)
		for j, col := range f.Cols {
			v := centres[c][j] + rng.NormFloat64()
			if j%3 == 0 {
				v = math.Exp(v / 2)
			}
			if rng.Float64() < .01 {
				v = math.NaN()
			}
			col.Num[i] = v
		}
		f.Label[i] = rng.Float64() < .1
	}
	return f
}

// BenchmarkTrain200k trains on 200k rows × 12 features with the default
// options (k 3..8, 3 restarts, 30k fitting rows, 3000 silhouette rows).
func BenchmarkTrain200k(b *testing.B) {
	f := wideFrame(200_000, 12)
	b.ResetTimer()
	for b.Loop() {
		m, err := Train(f, nil, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(m.K), "k")
	}
}

// BenchmarkAssign200k assigns 200k rows × 12 features.
func BenchmarkAssign200k(b *testing.B) {
	f := wideFrame(200_000, 12)
	m, err := Train(f, nil, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := m.Assign(f); err != nil {
			b.Fatal(err)
		}
	}
}
