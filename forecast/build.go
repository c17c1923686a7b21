package forecast

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Options tune Build. Zero values take the defaults.
type Options struct {
	// Horizon is how many months ahead (default and at most MaxHorizon).
	Horizon int
	// Seed seeds the bootstrap.
	Seed uint64
	// AttritionSource names where Attrition came from, e.g. "churn model
	// 20261201T101500Z"; "" when there is none.
	AttritionSource string
}

// Backtest is the backtest of one dimension and measure: the last
// BacktestMonths known months forecast from the months before, by the
// model and by the baseline, MAPE averaged over the dimension's groups.
type Backtest struct {
	Dim, Measure string
	Groups       int     // groups with a finite MAPE for both
	ModelMAPE    float64 // %; NaN without a backtest
	BaselineMAPE float64
	Baseline     string // the baseline's method in the backtest
	BeatBaseline bool
	// Served is the method whose forecast is served for this dimension
	// and measure: the model when it beat the baseline, else the baseline.
	Served string
	Note   string
}

// Value is one known month of a measure.
type Value struct {
	Month time.Time
	Value float64
}

// GroupForecast is the served forecast of one group and measure.
type GroupForecast struct {
	Dim, Group, Measure string
	Method              string
	History             []Value
	Bands               []Band
	// Quarter is the sum of the first three months ahead, its band from
	// the same bootstrap paths.
	Quarter Band
	// Hazard is the group's monthly attrition hazard the cohort model
	// used (the churn model's or the observed one).
	Hazard float64
}

// Result is what Build forecast.
type Result struct {
	Horizon         int
	HistoryMonths   int
	From, To        time.Time // the history's first and last month
	AttritionSource string
	Seasonal        bool // the model had 24 months for a seasonal index
	Backtests       []Backtest
	Forecasts       []GroupForecast
	// Elasticities are the churn elasticities of price a price scenario
	// uses (Elasticities of the register's plan changes), stored with the
	// forecast; set by the caller, nil when none could be estimated.
	Elasticities []PlanElasticity
}

// Find returns the forecast of a group and measure.
func (r *Result) Find(dim, group, measure string) (GroupForecast, bool) {
	for _, f := range r.Forecasts {
		if f.Dim == dim && f.Group == group && f.Measure == measure {
			return f, true
		}
	}
	return GroupForecast{}, false
}

// Backtest returns the backtest of a dimension and measure.
func (r *Result) Backtest(dim, measure string) (Backtest, bool) {
	for _, b := range r.Backtests {
		if b.Dim == dim && b.Measure == measure {
			return b, true
		}
	}
	return Backtest{}, false
}

// Key names a group.
type Key struct{ Dim, Group string }

// Build forecasts every series opt.Horizon months ahead, backtests each
// dimension and measure, and keeps per dimension and measure the model's
// forecast if it beat the baseline, else the baseline's. attr gives the
// churn model's attrition per group (missing groups: observed attrition).
func Build(series []Series, attr map[Key]Attrition, opt Options) (*Result, error) {
	if opt.Horizon <= 0 || opt.Horizon > MaxHorizon {
		opt.Horizon = MaxHorizon
	}
	res := &Result{Horizon: opt.Horizon, AttritionSource: opt.AttritionSource}
	if res.AttritionSource == "" {
		res.AttritionSource = "observed churn rate of the last three months (no churn scores)"
	}
	byDim := map[string][]Series{}
	var dims []string
	for _, s := range series {
		if len(s.Points) == 0 {
			continue
		}
		if err := checkSeries(s); err != nil {
			return nil, err
		}
		if byDim[s.Dim] == nil {
			dims = append(dims, s.Dim)
		}
		byDim[s.Dim] = append(byDim[s.Dim], s)
		res.HistoryMonths = max(res.HistoryMonths, len(s.Points))
		if res.From.IsZero() || s.Points[0].Month.Before(res.From) {
			res.From = s.Points[0].Month
		}
		if last := s.Points[len(s.Points)-1].Month; last.After(res.To) {
			res.To = last
		}
	}
	res.Seasonal = res.HistoryMonths >= 24
	rng := rand.New(rand.NewPCG(opt.Seed, 0x5eed))
	for _, dim := range dims {
		ss := byDim[dim]
		for _, m := range Measures {
			bt := backtest(ss, m)
			res.Backtests = append(res.Backtests, bt)
			// The served forecaster, for the point and for its errors.
			var pooled []float64
			errsOf := make([][]float64, len(ss))
			for i, s := range ss {
				f := servedForecaster(bt.Served)
				errsOf[i] = oneStepErrors(s.Points, f, m)
				pooled = append(pooled, errsOf[i]...)
			}
			for i, s := range ss {
				var pr Projection
				method := bt.Served
				hazard := observedAttrition(s.Points).Hazard
				if v, ok := attr[Key{s.Dim, s.Group}]; ok && v.Customers > 0 {
					hazard = v.Hazard
				}
				switch bt.Served {
				case MethodCohort:
					var a *Attrition
					if v, ok := attr[Key{s.Dim, s.Group}]; ok && v.Customers > 0 {
						a = &v
					}
					pr = Cohort(s.Points, opt.Horizon, a)
				default:
					pr, method = Baseline(s.Points, opt.Horizon)
				}
				errs := errsOf[i]
				if len(errs) < 8 {
					errs = pooled
				}
				gf := GroupForecast{Dim: s.Dim, Group: s.Group, Measure: m, Method: method, Hazard: hazard}
				gf.Bands, gf.Quarter = bands(pr.Months, pr.Values[m], errs, rng)
				for _, p := range s.Points {
					gf.History = append(gf.History, Value{Month: p.Month, Value: p.value(m)})
				}
				res.Forecasts = append(res.Forecasts, gf)
			}
		}
	}
	return res, nil
}

func servedForecaster(method string) forecaster {
	if method == MethodCohort {
		return func(hist []Point, h int) Projection { return Cohort(hist, h, nil) }
	}
	return func(hist []Point, h int) Projection { pr, _ := Baseline(hist, h); return pr }
}

// backtest forecasts the last BacktestMonths months of each series from
// the months before with the model and the baseline.
func backtest(ss []Series, measure string) Backtest {
	bt := Backtest{Dim: ss[0].Dim, Measure: measure, ModelMAPE: math.NaN(), BaselineMAPE: math.NaN()}
	var model, base float64
	for _, s := range ss {
		n := len(s.Points) - BacktestMonths
		if n < 2 {
			continue
		}
		hist, actual := s.Points[:n], s.Points[n:]
		var act []float64
		for _, p := range actual {
			act = append(act, p.value(measure))
		}
		mp := Cohort(hist, BacktestMonths, nil)
		bp, name := Baseline(hist, BacktestMonths)
		bt.Baseline = name
		a, b := MAPE(act, mp.Values[measure]), MAPE(act, bp.Values[measure])
		if math.IsNaN(a) || math.IsNaN(b) {
			continue
		}
		model += a
		base += b
		bt.Groups++
	}
	if bt.Groups == 0 {
		bt.Served = MethodNaive
		if len(ss[0].Points) >= 12 {
			bt.Served = MethodSeasonalNaive
		}
		bt.Note = fmt.Sprintf("%d month(s) of history: a backtest needs %d; the baseline is served", len(ss[0].Points), BacktestMonths+2)
		return bt
	}
	bt.ModelMAPE, bt.BaselineMAPE = model/float64(bt.Groups), base/float64(bt.Groups)
	bt.BeatBaseline = bt.ModelMAPE < bt.BaselineMAPE
	if bt.BeatBaseline {
		bt.Served = MethodCohort
		bt.Note = fmt.Sprintf("the model's MAPE %.2f%% beat the %s baseline's %.2f%%: the model is served", bt.ModelMAPE, bt.Baseline, bt.BaselineMAPE)
	} else {
		bt.Served = bt.Baseline
		if n := len(ss[0].Points); n >= 12 {
			bt.Served = MethodSeasonalNaive
		}
		bt.Note = fmt.Sprintf("the model's MAPE %.2f%% did not beat the %s baseline's %.2f%%: the baseline is served", bt.ModelMAPE, bt.Baseline, bt.BaselineMAPE)
	}
	return bt
}
