// Package liblinear fits L2-regularised logistic regressions with
// liblinear through golearn's cgo bindings (linear_models). It is the one
// cgo dependency of the churn models and is linked by the training path
// only: package churn takes Fit as an option, so scoring and the API build
// without cgo.
//
// golearn's LogisticRegression predicts labels only, so Fit reads the
// weights back from the model file liblinear writes (linear_models.Export).
// Two things golearn does not offer are reached through liblinear's own
// structs behind golearn's types, with their layout checked before use:
// NewProblem builds the problem in Go memory holding Go pointers, which
// the cgo pointer check rejects, so that memory is pinned (runtime.Pinner)
// for the Train call; and class weights, which NewParameter leaves empty,
// are set on the positives. golearn gives no way to free liblinear's
// model, so each fit leaks its weight array (a few kilobytes) in C memory;
// liblinear prints its iterations through golearn's package logger, which
// this package points at io.Discard on first use.
package liblinear

import (
	"bufio"
	"fmt"
	"io"
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

var quietGolearn sync.Once

// mu serialises calls into liblinear: its print hook is global.
var mu sync.Mutex

// Fit fits an L2-regularised logistic regression (solver L2R_LR, inverse
// penalty c, tolerance 0.001) on rows x with 0/1 labels y, the positives
// weighted by posWeight, and returns one weight per column of x scoring
// the positive class: p = sigmoid(Σ w[j]·x[j]). liblinear's own bias term
// is off (golearn's NewProblem), so a caller wanting an intercept gives x
// a constant column. It has the signature of churn.LogisticSolver.
func Fit(x [][]float64, y []float64, c, posWeight float64) ([]float64, error) {
	if len(x) == 0 || len(x) != len(y) {
		return nil, fmt.Errorf("liblinear: %d rows and %d labels", len(x), len(y))
	}
	cols := len(x[0])
	first := -1
	for i, l := range y {
		if len(x[i]) != cols {
			return nil, fmt.Errorf("liblinear: row %d has %d columns, want %d", i, len(x[i]), cols)
		}
		if l != 0 && l != 1 {
			return nil, fmt.Errorf("liblinear: label %v of row %d, want 0 or 1", l, i)
		}
		if l == 1 && first < 0 {
			first = i
		}
	}
	if first < 0 {
		return nil, fmt.Errorf("liblinear: no positive row")
	}
	quietGolearn.Do(func() { base.SetLoggerOut(io.Discard) })
	// A positive first makes liblinear's first label (the one its weights
	// score) 1; the model file's label line is checked anyway. The caller's
	// slices are left as they were.
	rows := append([][]float64(nil), x...)
	labels := append([]float64(nil), y...)
	rows[0], rows[first] = rows[first], rows[0]
	labels[0], labels[first] = labels[first], labels[0]

	dir, err := os.MkdirTemp("", "liblinear-")
	if err != nil {
		return nil, fmt.Errorf("liblinear: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.txt")

	mu.Lock()
	err = train(rows, labels, c, posWeight, path)
	mu.Unlock()
	if err != nil {
		return nil, err
	}
	return readWeights(path, cols)
}

// train runs liblinear and exports its model to path; mu is held.
func train(rows [][]float64, labels []float64, c, posWeight float64, path string) error {
	prob := linear_models.NewProblem(rows, labels, 0)
	param := linear_models.NewParameter(linear_models.L2R_LR, c, 0.001)
	var pin runtime.Pinner
	defer pin.Unpin()
	if err := pinProblem(&pin, prob, len(rows), len(rows[0])); err != nil {
		return err
	}
	if err := pinClassWeights(&pin, param, c, []int32{1, 0}, []float64{posWeight, 1}); err != nil {
		return err
	}
	model := linear_models.Train(prob, param)
	runtime.KeepAlive(prob)
	runtime.KeepAlive(param)
	if err := linear_models.Export(model, path); err != nil {
		return fmt.Errorf("liblinear: export model: %w", err)
	}
	return nil
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
		return fmt.Errorf("liblinear: golearn's parameter layout is not the expected one")
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
		return fmt.Errorf("liblinear: golearn's problem layout is not the expected one (l=%d n=%d bias=%v)", cp.l, cp.n, cp.bias)
	}
	pin.Pin(cp.y)
	pin.Pin(cp.x)
	pin.Pin(*cp.x) // the first row's nodes: all rows share one array
	return nil
}

// readWeights parses a liblinear model file (save_model's text format) of
// a two-class model and returns the first n weights of class 1.
func readWeights(path string, n int) ([]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("liblinear: %w", err)
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
				return nil, fmt.Errorf("liblinear: model file weight %q: %w", line, err)
			}
			w = append(w, v)
		case strings.HasPrefix(line, "label "):
			ls := strings.Fields(line)[1:]
			if len(ls) != 2 {
				return nil, fmt.Errorf("liblinear: model file has labels %v, want two", ls)
			}
			// liblinear's weights score its first label.
			switch ls[0] {
			case "1":
				sign = 1
			case "0":
				sign = -1
			default:
				return nil, fmt.Errorf("liblinear: model file has labels %v, want 0 and 1", ls)
			}
		case strings.HasPrefix(line, "bias "):
			if b, err := strconv.ParseFloat(strings.Fields(line)[1], 64); err != nil || b >= 0 {
				return nil, fmt.Errorf("liblinear: model file has bias %q, want none", line)
			}
		case line == "w":
			inW = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("liblinear: read model file: %w", err)
	}
	if sign == 0 {
		return nil, fmt.Errorf("liblinear: model file has no label line")
	}
	// golearn's NewProblem declares one feature more than the rows hold.
	if len(w) < n {
		return nil, fmt.Errorf("liblinear: model file has %d weights, want %d", len(w), n)
	}
	w = w[:n]
	for i := range w {
		w[i] *= sign
	}
	return w, nil
}
