package churn

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/telcolake/telcolake/models/churn/liblinear"
	"github.com/telcolake/telcolake/models/dataset"
)

// wideFrame is demo-sized data: 35 numeric columns (2% missing) and 10
// categorical ones of 3 to 30 levels; churn depends on two of them.
func wideFrame(n int, seed uint64) *dataset.Frame {
	r := rand.New(rand.NewPCG(seed, 1))
	f := &dataset.Frame{Label: make([]bool, n)}
	for j := range 35 {
		c := &dataset.Column{Name: fmt.Sprintf("num%d", j), Kind: dataset.Numeric, Num: make([]float64, n)}
		for i := range c.Num {
			c.Num[i] = r.NormFloat64()*10 + float64(j)
			if r.Float64() < 0.02 {
				c.Num[i] = math.NaN()
			}
		}
		f.Cols = append(f.Cols, c)
	}
	for j := range 10 {
		c := &dataset.Column{Name: fmt.Sprintf("cat%d", j), Kind: dataset.Categorical, Cat: make([]string, n)}
		for i := range c.Cat {
			c.Cat[i] = fmt.Sprintf("v%d", r.IntN(3+j*3))
		}
		f.Cols = append(f.Cols, c)
	}
	for i := range n {
		x := f.Cols[0].Num[i]
		if math.IsNaN(x) {
			x = 0
		}
		s := -2.5 + 0.1*x
		if f.Cols[36].Cat[i] == "v1" {
			s += 1
		}
		f.Label[i] = r.Float64() < sigmoid(s)
	}
	return f
}

// BenchmarkTrain60k trains all candidates on 60,000 rows × 45 columns
// (go test -bench Train60k -benchtime 1x ./models/churn).
func BenchmarkTrain60k(b *testing.B) {
	train, valid := wideFrame(60_000, 1), wideFrame(15_000, 2)
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := Train(context.Background(), train, valid, Options{Seed: 1, Logistic: liblinear.Fit}); err != nil {
			b.Fatal(err)
		}
	}
}
