package forecast

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/lake"
)

// History reads crm.cube_monthly into one series per group of every
// dimension (total, region, plan, segment), over the cube's months, a
// group's absent months as zeros.
func History(ctx context.Context, tables lake.TableLoader) ([]Series, error) {
	type cell struct {
		month time.Time
		dims  [3]string // region, plan, segment
		p     Point
	}
	var cells []cell
	var first, last time.Time
	cols := []string{"month", "region", "plan", "segment", "subscribers", "new", "churned", "revenue", "minutes", "data_mb"}
	for b, err := range lake.Scan(ctx, tables, lake.CubeMonthlyTable, lake.Select(cols...)) {
		if err != nil {
			return nil, fmt.Errorf("forecast: read crm.cube_monthly: %w", err)
		}
		month, region, plan, seg := b.Date("month"), b.String("region"), b.String("plan"), b.String("segment")
		subs, nw, ch := b.Int64("subscribers"), b.Int64("new"), b.Int64("churned")
		rev, mins, data := b.Money("revenue", 2), b.Float("minutes"), b.Float("data_mb")
		if err := b.Err(); err != nil {
			return nil, fmt.Errorf("forecast: read crm.cube_monthly: %w", err)
		}
		for i := range b.Len() {
			m := month.Time(i)
			cells = append(cells, cell{month: m, dims: [3]string{strings.Clone(region.Value(i)), strings.Clone(plan.Value(i)), strings.Clone(seg.Value(i))},
				p: Point{Month: m, Subscribers: float64(subs.Value(i)), New: float64(nw.Value(i)), Churned: float64(ch.Value(i)),
					Revenue: float64(rev.Value(i)) / 100, Minutes: mins.Value(i), DataMB: data.Value(i)}})
			if first.IsZero() || m.Before(first) {
				first = m
			}
			if m.After(last) {
				last = m
			}
		}
	}
	if len(cells) == 0 {
		return nil, nil
	}
	n := 0
	for m := first; !m.After(last); m = m.AddDate(0, 1, 0) {
		n++
	}
	series := map[Key][]Point{}
	add := func(k Key, c cell) {
		pts := series[k]
		if pts == nil {
			pts = make([]Point, n)
			for i := range pts {
				pts[i].Month = first.AddDate(0, i, 0)
			}
			series[k] = pts
		}
		i := monthsBetween(first, c.month)
		p := &pts[i]
		p.Subscribers += c.p.Subscribers
		p.New += c.p.New
		p.Churned += c.p.Churned
		p.Revenue += c.p.Revenue
		p.Minutes += c.p.Minutes
		p.DataMB += c.p.DataMB
	}
	for _, c := range cells {
		add(Key{"total", TotalGroup}, c)
		add(Key{"region", c.dims[0]}, c)
		add(Key{"plan", c.dims[1]}, c)
		add(Key{"segment", c.dims[2]}, c)
	}
	out := make([]Series, 0, len(series))
	for k, pts := range series {
		out = append(out, Series{Dim: k.Dim, Group: k.Group, Points: pts})
	}
	slices.SortFunc(out, func(a, b Series) int {
		return cmp.Or(cmp.Compare(slices.Index(Dimensions, a.Dim), slices.Index(Dimensions, b.Dim)), cmp.Compare(a.Group, b.Group))
	})
	return out, nil
}

func monthsBetween(a, b time.Time) int {
	return (b.Year()-a.Year())*12 + int(b.Month()) - int(a.Month())
}

// Stored is res as crm.forecasts holds it, built by run.
func (res *Result) Stored(run string, built time.Time) *Stored {
	st := &Stored{Run: run, BuiltAt: built, Attrition: res.AttritionSource}
	bts := map[[2]string]Backtest{}
	for _, bt := range res.Backtests {
		bts[[2]string{bt.Dim, bt.Measure}] = bt
	}
	opt := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	for _, f := range res.Forecasts {
		bt := bts[[2]string{f.Dim, f.Measure}]
		row := Row{Dim: f.Dim, Group: f.Group, Measure: f.Measure, Method: f.Method, ModelMAPE: opt(bt.ModelMAPE),
			BaselineMAPE: opt(bt.BaselineMAPE), Baseline: cmp.Or(bt.Baseline, bt.Served), BeatBaseline: bt.BeatBaseline,
			Note: bt.Note, Hazard: finite(f.Hazard)}
		for _, h := range f.History {
			r := row
			r.Kind, r.Month, r.Value = "actual", h.Month, finite(h.Value)
			st.Rows = append(st.Rows, r)
		}
		for _, b := range f.Bands {
			r := row
			r.Kind, r.Month, r.Value = "forecast", b.Month, finite(b.Point)
			r.Lo80, r.Hi80, r.Lo95, r.Hi95 = opt(b.Lo80), opt(b.Hi80), opt(b.Lo95), opt(b.Hi95)
			st.Rows = append(st.Rows, r)
		}
	}
	st.Rows = append(st.Rows, res.elasticityRows()...)
	return st
}

// Write replaces crm.forecasts with res, built by run.
func Write(ctx context.Context, tables lake.TableLoader, run string, built time.Time, res *Result) (int64, error) {
	rb, err := lake.NewRowBuilder(lake.ForecastsTable, 0)
	if err != nil {
		return 0, err
	}
	defer rb.Release()
	opt := func(name string, v *float64) {
		if v == nil {
			rb.Null(name)
			return
		}
		rb.Float(name, *v)
	}
	st := res.Stored(run, built)
	for _, r := range st.Rows {
		rb.String("run", run)
		rb.Time("built_at", built)
		rb.String("dim", r.Dim)
		rb.String("group_value", r.Group)
		rb.String("measure", r.Measure)
		rb.Date("month", r.Month)
		rb.String("kind", r.Kind)
		rb.String("method", r.Method)
		rb.Float("value", r.Value)
		opt("lo80", r.Lo80)
		opt("hi80", r.Hi80)
		opt("lo95", r.Lo95)
		opt("hi95", r.Hi95)
		opt("model_mape", r.ModelMAPE)
		opt("baseline_mape", r.BaselineMAPE)
		rb.String("baseline", r.Baseline)
		rb.Bool("beat_baseline", r.BeatBaseline)
		rb.String("attrition", st.Attrition)
		rb.String("note", r.Note)
		rb.Float("hazard", r.Hazard)
	}
	rec := rb.Record()
	defer rec.Release()
	snap, err := lake.ReplaceRows(ctx, tables, lake.ForecastsTable, iceberg.AlwaysTrue{}, []arrow.RecordBatch{rec},
		iceberg.Properties{"telcolake.forecast.run": run})
	if err != nil {
		return 0, fmt.Errorf("forecast: write crm.forecasts: %w", err)
	}
	return snap, nil
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// Stored is the forecast as crm.forecasts holds it.
type Stored struct {
	Run       string
	BuiltAt   time.Time
	Attrition string
	Rows      []Row
}

// Row is one row of crm.forecasts.
type Row struct {
	Dim, Group, Measure, Kind, Method string
	Month                             time.Time
	Value                             float64
	Lo80, Hi80, Lo95, Hi95            *float64
	ModelMAPE, BaselineMAPE           *float64
	Baseline                          string
	BeatBaseline                      bool
	Note                              string
	Hazard                            float64
}

// LakeStore reads the stored forecast from the lake.
type LakeStore struct{ Tables lake.TableLoader }

// Forecast reads crm.forecasts; a Stored with no rows when none was built.
func (s LakeStore) Forecast(ctx context.Context) (*Stored, error) {
	st := &Stored{}
	for b, err := range lake.Scan(ctx, s.Tables, lake.ForecastsTable) {
		if err != nil {
			return nil, fmt.Errorf("forecast: read crm.forecasts: %w", err)
		}
		run, built, dim, grp, meas := b.String("run"), b.Time("built_at"), b.String("dim"), b.String("group_value"), b.String("measure")
		month, kind, method, val := b.Date("month"), b.String("kind"), b.String("method"), b.Float("value")
		lo80, hi80, lo95, hi95 := b.Float("lo80"), b.Float("hi80"), b.Float("lo95"), b.Float("hi95")
		mm, bm, base, beat := b.Float("model_mape"), b.Float("baseline_mape"), b.String("baseline"), b.Bool("beat_baseline")
		attr, note, hazard := b.String("attrition"), b.String("note"), b.Float("hazard")
		if err := b.Err(); err != nil {
			return nil, fmt.Errorf("forecast: read crm.forecasts: %w", err)
		}
		f := func(c lake.Floats, i int) *float64 {
			if c.IsNull(i) {
				return nil
			}
			v := c.Value(i)
			return &v
		}
		for i := range b.Len() {
			st.Run, st.BuiltAt, st.Attrition = strings.Clone(run.Value(i)), built.Value(i), strings.Clone(attr.Value(i))
			st.Rows = append(st.Rows, Row{Dim: strings.Clone(dim.Value(i)), Group: strings.Clone(grp.Value(i)), Measure: strings.Clone(meas.Value(i)), Kind: strings.Clone(kind.Value(i)),
				Method: strings.Clone(method.Value(i)), Month: month.Time(i), Value: val.Value(i),
				Lo80: f(lo80, i), Hi80: f(hi80, i), Lo95: f(lo95, i), Hi95: f(hi95, i),
				ModelMAPE: f(mm, i), BaselineMAPE: f(bm, i), Baseline: strings.Clone(base.Value(i)), BeatBaseline: beat.Value(i), Note: strings.Clone(note.Value(i)), Hazard: hazard.Value(i)})
		}
	}
	slices.SortFunc(st.Rows, func(a, b Row) int {
		return cmp.Or(cmp.Compare(a.Dim, b.Dim), cmp.Compare(a.Measure, b.Measure), cmp.Compare(a.Group, b.Group), a.Month.Compare(b.Month))
	})
	return st, nil
}
