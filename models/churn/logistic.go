package churn

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/sjwhitworth/golearn/base"
	"github.com/sjwhitworth/golearn/linear_models"
)

// Logistic is a logistic regression on the standardised encoding:
// p = sigmoid(Bias + Σ W[j]·z[j]).
type Logistic struct {
	W    []float64
	Bias float64
	// PositiveWeight is liblinear's class weight on the positives
	// (negatives/positives), C its inverse L2 penalty and Rows the rows it
	// was fitted on; kept for the record.
	PositiveWeight float64
	C              float64
	Rows           int
}

// logit is the linear score of one encoded row.
func (l *Logistic) logit(z []float64) float64 {
	s := l.Bias
	for j, w := range l.W {
		s += w * z[j]
	}
	return s
}

var quietGolearn sync.Once

// liblinearMu serialises calls into liblinear: its print hook is global.
var liblinearMu sync.Mutex

// trainLogistic fits an L2-regularised logistic regression with liblinear
// (golearn's linear_models NewProblem, NewParameter and Train, solver
// L2R_LR) and reads the weights back from the model file liblinear writes
// (golearn's Export), because golearn's LogisticRegression predicts labels
// only; scoring is then sigmoid(w·z+b) in Go.
//
// Class imbalance: the positives get liblinear's class weight
// negatives/positives (its weight_label/weight parameters, which golearn's
// NewParameter leaves empty and pinClassWeights fills in). Weighting
// inflates the odds by that factor, so its log is taken off the intercept
// and the intercept is then refitted so the mean predicted probability on
// the training rows equals the training churn rate.
//
// liblinear sees u = z + offset: the indicator columns uncentred (offset
// Centre/Scale), so their zeros stay sparse; the weights are the same on z
// and the intercept absorbs w·offset. At most maxRows rows (a stratified
// random sample) are used: golearn's NewProblem allocates a node for every
// column of every row, and a few hundred weights need no more.
func trainLogistic(ctx context.Context, z [][]float64, y []bool, offset []float64, c float64, maxRows int, seed uint64) (*Logistic, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("churn: logistic: %w", err)
	}
	quietGolearn.Do(func() { base.SetLoggerOut(io.Discard) })
	var pos, neg int
	for _, l := range y {
		if l {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return nil, fmt.Errorf("churn: logistic: need both classes (%d churners, %d stayers)", pos, neg)
	}
	use := make([]int, len(y))
	for i := range use {
		use[i] = i
	}
	if maxRows > 0 && len(y) > maxRows {
		r := rand.New(rand.NewPCG(seed, 0x10915))
		fit, _ := stratifiedSplit(y, 1-float64(maxRows)/float64(len(y)), r)
		use = fit
	}
	p := len(z[0])
	rows := make([][]float64, 0, len(use))
	labels := make([]float64, 0, len(use))
	for _, i := range use {
		// A constant last column carries the intercept: golearn's
		// NewProblem switches liblinear's own bias term off.
		x := make([]float64, p+1)
		for j, v := range z[i] {
			x[j] = v + offset[j]
		}
		x[p] = 1
		lab := 0.0
		if y[i] {
			lab = 1
		}
		rows = append(rows, x)
		labels = append(labels, lab)
	}
	// Put a positive first so liblinear's first label (the one its weights
	// score) is 1; the file's label line is checked below anyway.
	for i, l := range labels {
		if l == 1 {
			rows[0], rows[i] = rows[i], rows[0]
			labels[0], labels[i] = labels[i], labels[0]
			break
		}
	}
	weight := float64(neg) / float64(pos)

	liblinearMu.Lock()
	prob := linear_models.NewProblem(rows, labels, 0)
	param := linear_models.NewParameter(linear_models.L2R_LR, c, 0.001)
	var pin runtime.Pinner
	err := pinProblem(&pin, prob, len(rows), p+1)
	if err == nil {
		err = pinClassWeights(&pin, param, c, []int32{1, 0}, []float64{weight, 1})
	}
	if err != nil {
		pin.Unpin()
		liblinearMu.Unlock()
		return nil, err
	}
	model := linear_models.Train(prob, param)
	pin.Unpin()
	runtime.KeepAlive(prob)
	runtime.KeepAlive(param)
	dir, err := os.MkdirTemp("", "churn-liblinear-")
	if err != nil {
		liblinearMu.Unlock()
		return nil, fmt.Errorf("churn: logistic: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.txt")
	err = linear_models.Export(model, path)
	liblinearMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("churn: logistic: export liblinear model: %w", err)
	}
	w, err := readLiblinearWeights(path, p+1)
	if err != nil {
		return nil, err
	}
	bias := w[p] - math.Log(weight)
	for j := range p {
		bias += w[j] * offset[j]
	}
	lr := &Logistic{W: w[:p], Bias: bias, PositiveWeight: weight, C: c, Rows: len(use)}
	scores := make([]float64, len(z))
	for i, r := range z {
		scores[i] = lr.logit(r) - lr.Bias
	}
	lr.Bias = interceptFor(scores, float64(pos)/float64(len(y)), lr.Bias)
	return lr, nil
}

// cParameter mirrors liblinear's struct parameter (linear.h), the only
// field of golearn's linear_models.Parameter.
type cParameter struct {
	solverType  int32
	eps, c      float64
	nrWeight    int32
	weightLabel *int32
	weight      *float64
	p           float64
}

// pinClassWeights sets liblinear's per-class weights (C·weight[k] for
// class label[k]) on a parameter from NewParameter, which leaves them
// empty, pinning the Go arrays for the call. The layout is checked against
// what NewParameter must have stored.
func pinClassWeights(pin *runtime.Pinner, param *linear_models.Parameter, c float64, label []int32, weight []float64) error {
	cp := (*cParameter)(unsafe.Pointer(param))
	if cp.solverType != linear_models.L2R_LR || cp.c != c || cp.nrWeight != 0 || cp.weightLabel != nil || cp.weight != nil {
		return fmt.Errorf("churn: logistic: golearn's liblinear parameter layout is not the expected one")
	}
	pin.Pin(&label[0])
	pin.Pin(&weight[0])
	cp.nrWeight = int32(len(label))
	cp.weightLabel = &label[0]
	cp.weight = &weight[0]
	return nil
}

// cProblem mirrors liblinear's struct problem (linear.h), the only field
// of golearn's linear_models.Problem.
type cProblem struct {
	l, n int32
	y    *float64
	x    *unsafe.Pointer // feature_node**: one pointer per row into one array
	bias float64
}

// pinProblem pins the Go memory golearn's NewProblem hands to C. NewProblem
// builds liblinear's problem in Go memory (row pointers into a Go array of
// feature nodes), which the cgo pointer check rejects when Train passes it
// to C ("Go pointer to unpinned Go pointer"). Pinning the label array, the
// row-pointer array and the feature-node array is what the cgo rules ask.
// The layout is checked against what NewProblem must have stored.
func pinProblem(pin *runtime.Pinner, prob *linear_models.Problem, rows, cols int) error {
	cp := (*cProblem)(unsafe.Pointer(prob))
	if int(cp.l) != rows || int(cp.n) != cols+1 || cp.y == nil || cp.x == nil || cp.bias != -1 {
		return fmt.Errorf("churn: logistic: golearn's liblinear problem layout is not the expected one (l=%d n=%d bias=%v)", cp.l, cp.n, cp.bias)
	}
	pin.Pin(cp.y)
	pin.Pin(cp.x)
	pin.Pin(*cp.x) // the first row's nodes: all rows share one array
	return nil
}

// readLiblinearWeights parses a liblinear model file (save_model's text
// format) of a two-class model and returns the weights of class 1.
func readLiblinearWeights(path string, n int) ([]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("churn: logistic: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sign := 0.0
	var w []float64
	inW := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case inW:
			if line == "" {
				continue
			}
			v, err := strconv.ParseFloat(strings.Fields(line)[0], 64)
			if err != nil {
				return nil, fmt.Errorf("churn: logistic: model file weight %q: %w", line, err)
			}
			w = append(w, v)
		case strings.HasPrefix(line, "label "):
			ls := strings.Fields(line)[1:]
			if len(ls) != 2 {
				return nil, fmt.Errorf("churn: logistic: model file has labels %v, want two", ls)
			}
			// liblinear's weights score its first label.
			switch ls[0] {
			case "1":
				sign = 1
			case "0":
				sign = -1
			default:
				return nil, fmt.Errorf("churn: logistic: model file has labels %v, want 0 and 1", ls)
			}
		case strings.HasPrefix(line, "bias "):
			if b, err := strconv.ParseFloat(strings.Fields(line)[1], 64); err != nil || b >= 0 {
				return nil, fmt.Errorf("churn: logistic: model file has bias %q, want none", line)
			}
		case line == "w":
			inW = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("churn: logistic: read model file: %w", err)
	}
	if sign == 0 {
		return nil, fmt.Errorf("churn: logistic: model file has no label line")
	}
	// golearn's NewProblem declares one feature more than the rows hold.
	if len(w) < n {
		return nil, fmt.Errorf("churn: logistic: model file has %d weights, want %d", len(w), n)
	}
	w = w[:n]
	for i := range w {
		w[i] *= sign
	}
	return w, nil
}

// interceptFor returns the intercept b such that the mean of
// sigmoid(b + s[i]) is rate, by Newton's method from start.
func interceptFor(s []float64, rate, start float64) float64 {
	b := start
	for range 100 {
		var m, d float64
		for _, v := range s {
			p := sigmoid(b + v)
			m += p
			d += p * (1 - p)
		}
		m /= float64(len(s))
		d /= float64(len(s))
		if d < 1e-12 {
			break
		}
		step := (m - rate) / d
		step = math.Max(-2, math.Min(2, step))
		b -= step
		if math.Abs(step) < 1e-10 {
			break
		}
	}
	return b
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}
