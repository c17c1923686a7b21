package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/telcolake/telcolake/forecast"
)

// The forecast and what-if scenarios: GET /v1/forecast answers the newest
// training run's forecast (crm.forecasts) for one dimension and measure;
// POST /v1/scenarios computes a price change or a retention offer against
// it and saves the scenario (crm.scenarios); GET /v1/scenarios lists the
// scenarios the caller may see (ids=a,b: those, side by side), GET
// /v1/scenarios/{id} reads one. Scenarios are aggregates: analysts and
// admins; a scenario belongs to the key that saved it, private to it and
// admins unless shared, and one the caller may not see answers 404.

// Forecasts gives the stored forecast (forecast.LakeStore in the lake).
type Forecasts interface {
	Forecast(ctx context.Context) (*forecast.Stored, error)
}

// Scenarios keeps what-if scenarios (forecast.ScenarioStore in the lake).
type Scenarios interface {
	Save(ctx context.Context, sc forecast.Scenario) error
	List(ctx context.Context) ([]forecast.Scenario, error)
}

const maxScenarioBody = 16 << 10

var (
	errNoForecasts = HTTPError{Code: http.StatusServiceUnavailable, Msg: "the forecast is not configured for this API"}
	errNoScenarios = HTTPError{Code: http.StatusServiceUnavailable, Msg: "scenarios are not configured for this API"}
	errNoForecast  = HTTPError{Code: http.StatusServiceUnavailable, Msg: "no forecast yet: the training function has not run"}
)

func forecastParams() []paramSpec {
	return []paramSpec{{name: pBy}, {name: "measure"}, {name: "months"}}
}

// storedForecast reads the forecast, 503 when there is none.
func (s *Server) storedForecast(ctx context.Context) (*forecast.Stored, error) {
	if s.cfg.Forecasts == nil {
		return nil, errNoForecasts
	}
	st, err := s.cfg.Forecasts.Forecast(ctx)
	if err != nil {
		return nil, HTTPError{Code: http.StatusInternalServerError, Msg: "could not read the forecast", Err: err}
	}
	if st == nil || len(st.Rows) == 0 {
		return nil, errNoForecast
	}
	return st, nil
}

type forecastValue struct {
	Month string  `json:"month"` // YYYY-MM
	Value float64 `json:"value"`
}

type forecastMonth struct {
	Month string  `json:"month"`
	Value float64 `json:"value"`
	Lo80  float64 `json:"lo80"`
	Hi80  float64 `json:"hi80"`
	Lo95  float64 `json:"lo95"`
	Hi95  float64 `json:"hi95"`
}

type forecastGroup struct {
	Group    string          `json:"group"`
	History  []forecastValue `json:"history"`
	Forecast []forecastMonth `json:"forecast"`
}

type forecastAnswer struct {
	Run     string    `json:"run"`
	BuiltAt time.Time `json:"built_at"`
	By      string    `json:"by"`
	Measure string    `json:"measure"`
	Months  int       `json:"months"`
	// Method is what is served: cohort (the model, which beat the
	// baseline in the backtest) or the baseline (seasonal_naive, naive).
	Method       string          `json:"method"`
	Served       string          `json:"served"` // model or baseline
	Backtest     backtestAnswer  `json:"backtest"`
	Attrition    string          `json:"attrition"`
	IntervalNote string          `json:"interval_method"`
	Groups       []forecastGroup `json:"groups"`
}

type backtestAnswer struct {
	ModelMAPE    *float64 `json:"model_mape"`
	BaselineMAPE *float64 `json:"baseline_mape"`
	Baseline     string   `json:"baseline"`
	BeatBaseline bool     `json:"beat_baseline"`
	Note         string   `json:"note"`
}

const intervalNote = "residual bootstrap: one-step log errors of the served method over the group's history (pooled over the dimension's groups under 8), summed along the horizon, 1,000 paths"

func (s *Server) forecast(r *request) error {
	by, ok, err := r.q.one(pBy)
	if err != nil {
		return err
	}
	if !ok {
		by = "total"
	}
	if !slices.Contains(forecast.Dimensions, by) {
		return badParam(pBy, "must be one of %s", strings.Join(forecast.Dimensions, ", "))
	}
	measure, ok, err := r.q.one("measure")
	if err != nil {
		return err
	}
	if !ok {
		measure = forecast.Revenue
	}
	if !slices.Contains(forecast.Measures, measure) {
		return badParam("measure", "must be one of %s", strings.Join(forecast.Measures, ", "))
	}
	months := 3
	if v, ok, err := r.q.one("months"); err != nil {
		return err
	} else if ok {
		if months, err = strconv.Atoi(v); err != nil || months < 1 || months > forecast.ServedHorizon {
			return badParam("months", "must be a whole number 1-%d", forecast.ServedHorizon)
		}
	}
	st, err := s.storedForecast(r.ctx)
	if err != nil {
		return err
	}
	out := forecastAnswer{Run: st.Run, BuiltAt: st.BuiltAt, By: by, Measure: measure, Months: months,
		Attrition: st.Attrition, IntervalNote: intervalNote, Groups: []forecastGroup{}}
	var g *forecastGroup
	for _, row := range st.Rows {
		if row.Dim != by || row.Measure != measure {
			continue
		}
		if g == nil || g.Group != row.Group {
			out.Groups = append(out.Groups, forecastGroup{Group: row.Group, History: []forecastValue{}, Forecast: []forecastMonth{}})
			g = &out.Groups[len(out.Groups)-1]
			out.Method = row.Method
			out.Backtest = backtestAnswer{ModelMAPE: finitePtr(row.ModelMAPE), BaselineMAPE: finitePtr(row.BaselineMAPE),
				Baseline: row.Baseline, BeatBaseline: row.BeatBaseline, Note: row.Note}
		}
		m := row.Month.Format("2006-01")
		if row.Kind == "actual" {
			g.History = append(g.History, forecastValue{Month: m, Value: row.Value})
			continue
		}
		if len(g.Forecast) < months && row.Lo80 != nil {
			g.Forecast = append(g.Forecast, forecastMonth{Month: m, Value: row.Value, Lo80: *row.Lo80, Hi80: *row.Hi80, Lo95: *row.Lo95, Hi95: *row.Hi95})
		}
	}
	out.Served = "baseline"
	if out.Method == forecast.MethodCohort {
		out.Served = "model"
	}
	return s.writeJSON(r, out)
}

func finitePtr(v *float64) *float64 {
	if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
		return nil
	}
	return v
}

// scenarioInfo is a scenario as the API shows it.
type scenarioInfo struct {
	forecast.Scenario
	Link string `json:"link"`
}

func (s *Server) createScenario(r *request) error {
	if s.cfg.Scenarios == nil {
		return errNoScenarios
	}
	var spec forecast.Spec
	if err := readJSONBody(r, maxScenarioBody, &spec); err != nil {
		return err
	}
	if err := spec.Validate(); err != nil {
		var fe *forecast.FieldError
		if errors.As(err, &fe) {
			return badParam(fe.Field, "%s", fe.Msg)
		}
		return HTTPError{Code: http.StatusBadRequest, Msg: err.Error()}
	}
	st, err := s.storedForecast(r.ctx)
	if err != nil {
		return err
	}
	var out forecast.Outcome
	switch spec.Kind {
	case forecast.KindPrice:
		base, err := forecast.BaseCaseFrom(st, "plan", spec.Plan, spec.Months)
		if err != nil {
			return badParam("plan", "%s", strings.TrimPrefix(err.Error(), "forecast: "))
		}
		est, ok := forecast.ElasticityFor(st, spec.Plan)
		switch {
		case spec.Elasticity != nil:
			e, se := *spec.Elasticity, *spec.ElasticitySE
			src := "given by the analyst; forecast run " + st.Run + " has no estimate from the lake"
			if ok {
				src = fmt.Sprintf("given by the analyst, overriding the lake's estimate %.3f (95%% %.3f … %.3f)", est.Value, est.Lo, est.Hi)
			}
			est = forecast.Estimate{Value: e, Lo: e - 1.959963984540054*se, Hi: e + 1.959963984540054*se, Source: src}
		case !ok:
			return badParam("elasticity", "required with elasticity_se: forecast run %s has no elasticity estimated from plan changes (see its report)", st.Run)
		}
		out = forecast.Price(spec, base, est)
	case forecast.KindRetention:
		base, err := forecast.BaseCaseFrom(st, spec.By, spec.Group, spec.Months)
		if err != nil {
			return badParam("group", "%s", strings.TrimPrefix(err.Error(), "forecast: "))
		}
		effect, acceptance, err := s.scenarioEffect(r, spec)
		if err != nil {
			return err
		}
		out = forecast.Retention(spec, base, acceptance, effect)
	}
	now := s.now()
	sc := forecast.Scenario{ID: forecast.NewScenarioID(now), Owner: r.key.Name, CreatedAt: now, ForecastRun: st.Run, Spec: spec, Outcome: out}
	if err := s.cfg.Scenarios.Save(r.ctx, sc); err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "could not save the scenario", Err: err}
	}
	b, err := json.Marshal(newScenarioInfo(sc))
	if err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "internal error", Err: err}
	}
	r.w.Header().Set("Location", "/v1/scenarios/"+sc.ID)
	return s.respond(r, http.StatusCreated, ctJSON, b)
}

// scenarioEffect is a retention offer's uplift and acceptance: a
// campaign's measured results, or the spec's own.
func (s *Server) scenarioEffect(r *request, spec forecast.Spec) (forecast.Estimate, float64, error) {
	if spec.Campaign == "" {
		if spec.AcceptanceRate == nil {
			return forecast.Estimate{}, 0, badParam("acceptance_rate", "required unless a campaign is given")
		}
		return forecast.Estimate{Value: *spec.Uplift, Lo: *spec.UpliftLo, Hi: *spec.UpliftHi, Source: "given by the analyst"}, *spec.AcceptanceRate, nil
	}
	if s.cfg.Campaigns == nil {
		return forecast.Estimate{}, 0, errNoCampaigns
	}
	if _, err := s.cfg.Campaigns.Get(r.ctx, spec.Campaign); err != nil {
		return forecast.Estimate{}, 0, badParam("campaign", "no campaign %s (see GET /v1/campaigns)", quote(spec.Campaign))
	}
	res, err := s.cfg.Campaigns.Measure(r.ctx, spec.Campaign, s.now())
	if err != nil {
		return forecast.Estimate{}, 0, HTTPError{Code: http.StatusInternalServerError, Msg: "could not measure the campaign", Err: err}
	}
	acc := res.AcceptanceRate
	if spec.AcceptanceRate != nil {
		acc = *spec.AcceptanceRate
	}
	src := fmt.Sprintf("measured by campaign %s (%d treated, %d control", res.CampaignID, res.Treated, res.Control)
	if !res.Complete {
		src += ", horizon not over yet"
	}
	return forecast.Estimate{Value: res.Uplift.Estimate, Lo: res.Uplift.Lo, Hi: res.Uplift.Hi, Source: src + ")"}, acc, nil
}

func newScenarioInfo(sc forecast.Scenario) scenarioInfo {
	return scenarioInfo{Scenario: sc, Link: "/v1/scenarios/" + sc.ID}
}

// visibleScenarios are the scenarios the caller may see, oldest first.
func (s *Server) visibleScenarios(r *request) ([]forecast.Scenario, error) {
	if s.cfg.Scenarios == nil {
		return nil, errNoScenarios
	}
	all, err := s.cfg.Scenarios.List(r.ctx)
	if err != nil {
		return nil, HTTPError{Code: http.StatusInternalServerError, Msg: "could not read the scenarios", Err: err}
	}
	out := make([]forecast.Scenario, 0, len(all))
	for _, sc := range all {
		if canSee(sc.Owner, sc.Spec.Shared, r.key) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// comparison is one scenario's totals, for the side by side.
type comparison struct {
	ID              string        `json:"id"`
	Name            string        `json:"name"`
	Kind            string        `json:"kind"`
	Months          int           `json:"months"`
	Baseline        string        `json:"baseline"`
	BaselineRevenue float64       `json:"baseline_revenue_total"`
	Revenue         forecast.Band `json:"revenue_total"`
	BaselineChurned float64       `json:"baseline_churned"`
	Churned         forecast.Band `json:"churned"`
	Cost            float64       `json:"cost_total"`
	Profit          forecast.Band `json:"profit"`
}

const maxScenarioIDs = 10

func (s *Server) scenarios(r *request) error {
	list, err := s.visibleScenarios(r)
	if err != nil {
		return err
	}
	ids, ok, err := r.q.one("ids")
	if err != nil {
		return err
	}
	picked := list
	if ok {
		want := strings.Split(ids, ",")
		if len(want) > maxScenarioIDs || slices.Contains(want, "") {
			return badParam("ids", "must be 1-%d scenario ids, comma separated", maxScenarioIDs)
		}
		picked = nil
		for _, id := range want {
			i := slices.IndexFunc(list, func(sc forecast.Scenario) bool { return sc.ID == id })
			if i < 0 {
				return HTTPError{Code: http.StatusNotFound, Param: "ids", Msg: "no scenario " + quote(id) + " (see GET /v1/scenarios)"}
			}
			picked = append(picked, list[i])
		}
	}
	out := struct {
		Scenarios []scenarioInfo `json:"scenarios"`
		Compare   []comparison   `json:"compare"`
	}{Scenarios: []scenarioInfo{}, Compare: []comparison{}}
	for _, sc := range picked {
		out.Scenarios = append(out.Scenarios, newScenarioInfo(sc))
		o := sc.Outcome
		out.Compare = append(out.Compare, comparison{ID: sc.ID, Name: sc.Spec.Name, Kind: sc.Spec.Kind, Months: sc.Spec.Months,
			Baseline: o.Baseline, BaselineRevenue: o.BaselineRevenue, Revenue: o.Revenue, BaselineChurned: o.BaselineChurned,
			Churned: o.Churned, Cost: o.Cost, Profit: o.Profit})
	}
	return s.writeJSON(r, out)
}

func (s *Server) scenario(r *request) error {
	list, err := s.visibleScenarios(r)
	if err != nil {
		return err
	}
	for _, sc := range list {
		if sc.ID == r.param {
			return s.writeJSON(r, newScenarioInfo(sc))
		}
	}
	return HTTPError{Code: http.StatusNotFound, Msg: "no scenario " + quote(r.param) + " (see GET /v1/scenarios)"}
}
