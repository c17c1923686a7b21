package churn

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/telcolake/telcolake/models/dataset"
	"github.com/telcolake/telcolake/models/evaluate"
)

// FormatVersion is the version of the Model JSON this package writes.
const FormatVersion = 1

// Model kinds.
const (
	KindLogistic = "logistic"
	KindBoosted  = "boosted-trees"
)

// Options tune training. Zero values take defaults.
type Options struct {
	Seed uint64
	// C is the inverse L2 penalty of the logistic regression (1).
	C float64
	// LogisticMaxRows caps the rows the logistic regression is fitted on,
	// a stratified random sample (50000).
	LogisticMaxRows int
	// Boosted lists the boosted-tree configurations tried as candidates
	// (default: depth 3 and depth 5, otherwise BoostOptions' defaults).
	Boosted []BoostOptions
	// NoLogistic leaves the logistic regression out of the candidates.
	NoLogistic bool
	// Logistic fits the logistic regression (liblinear.Fit). It is an
	// option so that this package, which scoring links, needs no cgo;
	// without it (and without NoLogistic) Train fails.
	Logistic LogisticSolver
}

func (o Options) withDefaults() Options {
	if o.C <= 0 {
		o.C = 1
	}
	if o.LogisticMaxRows <= 0 {
		o.LogisticMaxRows = 50_000
	}
	if len(o.Boosted) == 0 {
		o.Boosted = []BoostOptions{{MaxDepth: 3}, {MaxDepth: 5}}
	}
	return o
}

// Candidate is one model tried, with its metrics on the validation frame.
type Candidate struct {
	Kind         string
	ValidAUC     float64
	ValidPRAUC   float64
	TrainSeconds float64
	Selected     bool
	spec         spec
}

// Reason is one feature pushing a customer's churn risk up.
type Reason struct {
	Feature      string
	Phrase       string  // readable, with the value: "many service calls (5)"
	Contribution float64 // in log-odds
}

// Importance is a feature's global weight in the model: the mean absolute
// contribution (log-odds) over training rows.
type Importance struct {
	Feature string
	Value   float64
}

// Model is a trained churn model: the encoding of the training frame and
// either a logistic regression or boosted trees on it. It round-trips
// through encoding/json.
type Model struct {
	FormatVersion int
	Kind          string
	Encoder       Encoder
	// BaseRate is the training churn rate; predictions average to it on the
	// training rows.
	BaseRate          float64
	Logistic          *Logistic `json:",omitempty"`
	Boosted           *Boosted  `json:",omitempty"`
	FeatureImportance []Importance
	// Calibration, when set, maps the fitted probability to a calibrated
	// one (fitted by training on half of the validation month); it keeps
	// the order of customers, so AUC and reasons do not change.
	Calibration *evaluate.Calibrator `json:",omitempty"`
}

// spec says how to fit one candidate.
type spec struct {
	kind    string
	boost   BoostOptions
	c       float64
	maxRows int
	solver  LogisticSolver
}

func (s spec) name() string {
	if s.kind == KindBoosted {
		o := s.boost.withDefaults()
		return fmt.Sprintf("%s (depth %d)", KindBoosted, o.MaxDepth)
	}
	return KindLogistic
}

func (o Options) specs() []spec {
	var out []spec
	if !o.NoLogistic {
		out = append(out, spec{kind: KindLogistic, c: o.C, maxRows: o.LogisticMaxRows, solver: o.Logistic})
	}
	for _, b := range o.Boosted {
		out = append(out, spec{kind: KindBoosted, boost: b})
	}
	return out
}

// checkLabels requires one label per row and both classes.
func checkLabels(f *dataset.Frame, what string) error {
	if f == nil {
		return fmt.Errorf("churn: no %s frame", what)
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("churn: %s frame: %w", what, err)
	}
	n := f.Rows()
	if n == 0 || len(f.Label) != n {
		return fmt.Errorf("churn: %s frame: %d labels for %d rows", what, len(f.Label), n)
	}
	pos := 0
	for _, l := range f.Label {
		if l {
			pos++
		}
	}
	if pos == 0 || pos == n {
		return fmt.Errorf("churn: %s frame: labels have a single class (%d of %d rows churn)", what, pos, n)
	}
	return nil
}

// Train fits every candidate (a logistic regression and the boosted-tree
// configurations of opt) on train, measures each on valid (an
// out-of-time frame: the caller's choice, never used to fit) and returns
// the candidate with the best validation ROC AUC, with every candidate's
// metrics.
func Train(ctx context.Context, train, valid *dataset.Frame, opt Options) (*Model, []Candidate, error) {
	if err := checkLabels(train, "training"); err != nil {
		return nil, nil, err
	}
	if err := checkLabels(valid, "validation"); err != nil {
		return nil, nil, err
	}
	opt = opt.withDefaults()
	enc, err := fitEncoder(train)
	if err != nil {
		return nil, nil, err
	}
	z, err := enc.standardised(train)
	if err != nil {
		return nil, nil, fmt.Errorf("churn: training frame: %w", err)
	}
	zv, err := enc.standardised(valid)
	if err != nil {
		return nil, nil, fmt.Errorf("churn: validation frame: %w", err)
	}
	var best *Model
	var cands []Candidate
	bestAt := -1
	for k, s := range opt.specs() {
		t0 := time.Now()
		m, err := fitSpec(ctx, enc, z, train.Label, s, opt.Seed+uint64(k))
		if err != nil {
			return nil, nil, err // names the model already
		}
		secs := time.Since(t0).Seconds()
		p := m.predictEncoded(zv)
		c := Candidate{
			Kind:         s.name(),
			ValidAUC:     evaluate.ROCAUC(p, valid.Label),
			ValidPRAUC:   evaluate.PRAUC(p, valid.Label),
			TrainSeconds: secs,
			spec:         s,
		}
		cands = append(cands, c)
		if bestAt < 0 || c.ValidAUC > cands[bestAt].ValidAUC {
			best, bestAt = m, k
		}
	}
	if best == nil {
		return nil, nil, fmt.Errorf("churn: no candidate model (logistic left out and no boosted configuration)")
	}
	cands[bestAt].Selected = true
	best.FeatureImportance = best.importance(z, opt.Seed)
	return best, cands, nil
}

// Refit fits the selected candidate's configuration again on frame (for
// example the training and validation rows together, once the choice is
// made).
func Refit(ctx context.Context, f *dataset.Frame, c Candidate, opt Options) (*Model, error) {
	if err := checkLabels(f, "training"); err != nil {
		return nil, err
	}
	if c.spec.kind == "" {
		return nil, fmt.Errorf("churn: refit: candidate %q did not come from Train", c.Kind)
	}
	enc, err := fitEncoder(f)
	if err != nil {
		return nil, err
	}
	z, err := enc.standardised(f)
	if err != nil {
		return nil, fmt.Errorf("churn: training frame: %w", err)
	}
	m, err := fitSpec(ctx, enc, z, f.Label, c.spec, opt.Seed)
	if err != nil {
		return nil, err
	}
	m.FeatureImportance = m.importance(z, opt.Seed)
	return m, nil
}

// fitSpec fits one candidate on the encoded training rows and shifts its
// intercept so the mean predicted probability on them is the churn rate.
func fitSpec(ctx context.Context, enc *Encoder, z [][]float64, y []bool, s spec, seed uint64) (*Model, error) {
	pos := 0
	for _, l := range y {
		if l {
			pos++
		}
	}
	rate := float64(pos) / float64(len(y))
	m := &Model{FormatVersion: FormatVersion, Kind: s.kind, Encoder: *enc, BaseRate: rate}
	switch s.kind {
	case KindLogistic:
		lr, err := trainLogistic(ctx, s.solver, z, y, enc.sparseOffsets(), s.c, s.maxRows, seed)
		if err != nil {
			return nil, err
		}
		m.Logistic = lr // its intercept is already set to the base rate
	case KindBoosted:
		b, err := trainBoosted(ctx, z, enc, y, s.boost, seed)
		if err != nil {
			return nil, err
		}
		m.Boosted = b
		scores := make([]float64, len(z))
		for i, r := range z {
			scores[i] = b.logit(r) - b.Base
		}
		b.Base = interceptFor(scores, rate, b.Base)
	default:
		return nil, fmt.Errorf("churn: unknown model kind %q", s.kind)
	}
	return m, nil
}

func (m *Model) logit(z []float64) float64 {
	if m.Boosted != nil {
		return m.Boosted.logit(z)
	}
	return m.Logistic.logit(z)
}

func (m *Model) predictEncoded(z [][]float64) []float64 {
	out := make([]float64, len(z))
	for i, r := range z {
		out[i] = m.Calibration.Apply(sigmoid(m.logit(r)))
	}
	return out
}

// check reports a model that cannot score (for one read from JSON).
func (m *Model) check() error {
	if m.FormatVersion != FormatVersion {
		return fmt.Errorf("churn: model format version %d, this build reads %d", m.FormatVersion, FormatVersion)
	}
	width := m.Encoder.Width()
	for j := range m.Encoder.Features {
		ft := &m.Encoder.Features[j]
		if len(ft.Centre) != ft.width() || len(ft.Scale) != ft.width() {
			return fmt.Errorf("churn: model feature %q: encoding incomplete", ft.Name)
		}
	}
	switch {
	case m.Kind == KindLogistic && m.Logistic != nil && len(m.Logistic.W) == width:
	case m.Kind == KindBoosted && m.Boosted != nil:
		for k := range m.Boosted.Trees {
			if err := m.Boosted.Trees[k].check(width); err != nil {
				return fmt.Errorf("churn: model tree %d: %w", k, err)
			}
		}
	default:
		return fmt.Errorf("churn: model of kind %q is incomplete", m.Kind)
	}
	if err := m.Calibration.Check(); err != nil {
		return fmt.Errorf("churn: model: %w", err)
	}
	return nil
}

// Predict returns each row's churn probability. Columns are matched by
// name; a column the model needs and f lacks is an error naming it.
func (m *Model) Predict(f *dataset.Frame) ([]float64, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	z, err := m.Encoder.standardised(f)
	if err != nil {
		return nil, fmt.Errorf("churn: predict: %w", err)
	}
	return m.predictEncoded(z), nil
}

// contributions returns per-feature (source column) contributions to the
// logit of one encoded row: w·z for the logistic regression, path
// attribution (Saabas) for the trees; one-hot and missing-indicator
// columns are summed into their source column. buf holds one entry per
// encoded column.
func (m *Model) contributions(z []float64, src []int, buf, out []float64) {
	clear(out)
	if m.Boosted != nil {
		clear(buf)
		m.Boosted.attribute(z, buf)
		for j, v := range buf {
			out[src[j]] += v
		}
		return
	}
	for j, w := range m.Logistic.W {
		out[src[j]] += w * z[j]
	}
}

// Reasons returns, for each row, the up to k features pushing its churn
// risk up the most, largest first; only positive contributions count, so a
// row can have fewer than k (or none).
func (m *Model) Reasons(f *dataset.Frame, k int) ([][]Reason, error) {
	_, rs, err := m.Score(f, k)
	return rs, err
}

// Score returns Predict's probabilities and Reasons' reasons in one pass.
func (m *Model) Score(f *dataset.Frame, k int) ([]float64, [][]Reason, error) {
	if err := m.check(); err != nil {
		return nil, nil, err
	}
	z, err := m.Encoder.standardised(f)
	if err != nil {
		return nil, nil, fmt.Errorf("churn: score: %w", err)
	}
	cols, err := m.Encoder.match(f)
	if err != nil {
		return nil, nil, fmt.Errorf("churn: score: %w", err)
	}
	src := m.Encoder.source()
	aliases := m.Encoder.aliasIndexes()
	buf := make([]float64, len(src))
	per := make([]float64, len(m.Encoder.Features))
	order := make([]int, len(per))
	probs := make([]float64, len(z))
	out := make([][]Reason, len(z))
	for i, r := range z {
		probs[i] = m.Calibration.Apply(sigmoid(m.logit(r)))
		if k <= 0 {
			continue
		}
		m.contributions(r, src, buf, per)
		m.Encoder.creditAliases(aliases, cols, i, per)
		for j := range order {
			order[j] = j
		}
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case per[a] > per[b]:
				return -1
			case per[a] < per[b]:
				return 1
			}
			return 0
		})
		for _, j := range order[:min(k, len(order))] {
			if per[j] <= 0 {
				break
			}
			ft := &m.Encoder.Features[j]
			out[i] = append(out[i], Reason{Feature: ft.Name, Phrase: phrase(ft, cols[j], i), Contribution: per[j]})
		}
	}
	return probs, out, nil
}

// phrase says row i's value of feature ft readably.
func phrase(ft *Feature, c *dataset.Column, i int) string {
	if ft.Kind == kindCategorical {
		v := c.Cat[i]
		if v == "" {
			v = "missing"
		}
		return ft.Name + ": " + v
	}
	v := c.Num[i]
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ft.Name + " missing"
	}
	var p string
	if v > ft.Mean {
		p = ft.High
		if p == "" {
			p = "high " + ft.Name
		}
	} else {
		p = ft.Low
		if p == "" {
			p = "low " + ft.Name
		}
	}
	return p + " (" + dataset.FormatValue(v, ft.Unit) + ")"
}

// importance is the mean absolute contribution of each feature over (a
// sample of at most 5000 of) the encoded training rows, descending.
func (m *Model) importance(z [][]float64, seed uint64) []Importance {
	rows := make([]int, len(z))
	for i := range rows {
		rows[i] = i
	}
	if len(rows) > 5000 {
		r := rand.New(rand.NewPCG(seed, 0x1309))
		r.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		rows = rows[:5000]
	}
	src := m.Encoder.source()
	buf := make([]float64, len(src))
	per := make([]float64, len(m.Encoder.Features))
	sum := make([]float64, len(per))
	for _, i := range rows {
		m.contributions(z[i], src, buf, per)
		for j, v := range per {
			sum[j] += math.Abs(v)
		}
	}
	out := make([]Importance, len(sum))
	for j, s := range sum {
		out[j] = Importance{Feature: m.Encoder.Features[j].Name, Value: s / float64(len(rows))}
	}
	slices.SortStableFunc(out, func(a, b Importance) int {
		switch {
		case a.Value > b.Value:
			return -1
		case a.Value < b.Value:
			return 1
		}
		return 0
	})
	return out
}

// Importance returns the features by global importance (mean absolute
// contribution to the log-odds on training rows), largest first.
func (m *Model) Importance() []Importance {
	return slices.Clone(m.FeatureImportance)
}
