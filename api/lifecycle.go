package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/telcolake/telcolake/insight"
)

// GET /v1/lifecycle/survival, /v1/lifecycle/transitions, /v1/churn/causes
// and /v1/models/tracking answer from the scoring run's lifecycle report
// (insight.Report, built by the score function and carried in the
// snapshot's meta): aggregates only, no customer rows. Survival groups of
// fewer than insight.MinSurvivalGroup customers are pooled by the report.

const (
	pBy    = "by"
	pMonth = "month"
)

// errNoReport answers when the snapshot carries no report (a run older
// than the report, or one whose report failed: the score log says why).
var errNoReport = HTTPError{Code: http.StatusServiceUnavailable, Msg: "this scoring run has no lifecycle report; run the score function again"}

// loadReport decodes the snapshot's report; nil when it has none.
func loadReport(raw json.RawMessage) (*insight.Report, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var rep insight.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return nil, fmt.Errorf("lifecycle report: %w", err)
	}
	return &rep, nil
}

// oneOf reads an optional single-valued parameter that must be one of
// allowed (default: the first).
func oneOf(q query, name string, allowed []string) (string, error) {
	v, ok, err := q.one(name)
	if err != nil {
		return "", err
	}
	if !ok {
		return allowed[0], nil
	}
	if !slices.Contains(allowed, v) {
		return "", badParam(name, "must be one of %s", strings.Join(allowed, ", "))
	}
	return v, nil
}

func (s *Server) survival(r *request) error {
	by, err := oneOf(r.q, pBy, insight.SurvivalGroupings)
	if err != nil {
		return err
	}
	rep := s.report
	if rep == nil {
		return errNoReport
	}
	out := struct {
		Run      string                `json:"run"`
		DataEnd  string                `json:"data_end"`
		Unit     string                `json:"time_unit"`
		Method   string                `json:"method"`
		Survival insight.SurvivalBy    `json:"survival"`
		Value    []insight.TenureValue `json:"value_by_tenure"`
	}{Run: rep.Run, DataEnd: rep.DataEnd, Unit: "months from activation (days / 30.436875)",
		Method:   "Kaplan–Meier; right-censored at the register's export date while active; 95% log-log band from Greenwood's variance; median: first time S < 0.5, interval by inverting the log-log test",
		Survival: insight.SurvivalBy{By: by, Groups: []insight.SurvivalGroup{}}, Value: rep.ValueCurve}
	for _, sb := range rep.Survival {
		if sb.By == by {
			out.Survival = sb
		}
	}
	return s.writeJSON(r, out)
}

func (s *Server) transitions(r *request) error {
	month, hasMonth, err := r.q.one(pMonth)
	if err != nil {
		return err
	}
	if hasMonth && !validMonth(month) {
		return badParam(pMonth, "must be a month as YYYY-MM")
	}
	rep := s.report
	if rep == nil {
		return errNoReport
	}
	ms := []insight.TransitionMatrix{}
	for _, m := range rep.Transitions {
		if !hasMonth || m.To == month {
			ms = append(ms, m)
		}
	}
	return s.writeJSON(r, struct {
		Run         string                     `json:"run"`
		Stages      string                     `json:"stages"`
		Transitions []insight.TransitionMatrix `json:"transitions"`
	}{rep.Run, "new < 3 months, established 3-23, loyal 24+, suspended, lost (deactivated); joined: no feature row the month before; unknown: no row and no deactivation", ms})
}

func validMonth(s string) bool {
	if len(s) != 7 || s[4] != '-' {
		return false
	}
	for i, c := range s {
		if i != 4 && (c < '0' || c > '9') {
			return false
		}
	}
	return s[5:] >= "01" && s[5:] <= "12"
}

func (s *Server) causes(r *request) error {
	by, err := oneOf(r.q, pBy, []string{"region", "plan", "segment"})
	if err != nil {
		return err
	}
	rep := s.report
	if rep == nil {
		return errNoReport
	}
	out := struct {
		Run    string `json:"run"`
		AtRisk string `json:"at_risk_definition"`
		insight.CausesBy
	}{Run: rep.Run, AtRisk: fmt.Sprintf("the top %.0f%% of the run's scored customers by churn probability; the leading reason is the score's first", insight.AtRiskShare*100),
		CausesBy: insight.CausesBy{By: by, AtRisk: []insight.CauseGroup{}, Left: []insight.LeftMonth{}}}
	for _, c := range rep.Causes {
		if c.By == by {
			out.CausesBy = c
		}
	}
	return s.writeJSON(r, out)
}

func (s *Server) tracking(r *request) error {
	rep := s.report
	if rep == nil {
		return errNoReport
	}
	return s.writeJSON(r, struct {
		Run string `json:"run"`
		insight.Tracking
	}{rep.Run, rep.Tracking})
}
