package web

import (
	"encoding/json"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/lake"
)

// dashboardPage is the dashboard's data. A part whose source failed is
// left zero and named in Missing.
type dashboardPage struct {
	Run         string
	Active      int
	Predicted   float64 // mean churn probability of active customers
	ValueAtRisk float64
	Lists       []listSize
	Model       *modelRun // the newest churn run
	Promoted    *modelRun // the promoted churn run
	Ingest      ingestHealth
	Churn       []churnMonth // oldest first
	ChurnChart  template.HTML
	// Monthly is the observed churn of the newest six months (customers
	// deactivated in the month over those at its end, crm.cube_monthly).
	Monthly      []monthChurn
	MonthlyChart template.HTML
	Horizon      int
	Missing      []string
}

type listSize struct {
	Name, Title string
	Size        int
}

// ingestHealth is today's ingest (UTC) and the quarantined files among
// the newest ingestWindow.
type ingestHealth struct {
	Day                                string
	FilesToday, RejectedToday, Quarant int
	Failed                             int
}

// monthChurn is one month's observed churn.
type monthChurn struct {
	Month              string
	Customers, Churned int
	Rate               float64
}

// churnMonth is one validation month of a churn run: the observed share
// who left within the run's horizon and the model's mean prediction.
type churnMonth struct {
	Month               string
	Observed, Predicted float64
	Rows                int
}

// ingestWindow is how many of the newest ingest log rows the dashboard
// and the monitor read.
const ingestWindow = 1000

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	if s.Role.Access(api.OpCube) == api.Denied {
		c.fail(w, r, http.StatusForbidden, "forbidden")
		return
	}
	var d dashboardPage
	var cube cubeAnswer
	if err := c.apiJSON(r, s, "/v1/cube", url.Values{"status": {"active"}, "measures": {"count,churn_rate,value_at_risk_sum"}}, &cube); err != nil || len(cube.Cells) == 0 {
		d.Missing = append(d.Missing, "customers")
	} else {
		d.Run, d.Active = cube.Run, int(num(cube.Cells[0], "count"))
		d.Predicted, d.ValueAtRisk = num(cube.Cells[0], "churn_rate"), num(cube.Cells[0], "value_at_risk_sum")
	}
	var idx struct {
		Lists []listSize `json:"lists"`
	}
	if err := c.apiJSON(r, s, "/v1/lists", nil, &idx); err != nil {
		d.Missing = append(d.Missing, "lists")
	}
	d.Lists = idx.Lists
	var runs struct {
		Models []modelRun `json:"runs"`
	}
	if err := c.apiJSON(r, s, "/v1/models", url.Values{"kind": {"churn"}}, &runs); err != nil {
		d.Missing = append(d.Missing, "models")
	}
	for i := range runs.Models {
		m := &runs.Models[i]
		if d.Model == nil {
			d.Model = m
		}
		if m.Promoted && d.Promoted == nil {
			d.Promoted = m
		}
	}
	d.Churn, d.Horizon = c.churnByMonth(r, runs.Models)
	if len(d.Churn) > 0 {
		var labels []string
		var obs, pred []float64
		for _, m := range d.Churn {
			labels, obs, pred = append(labels, m.Month), append(obs, m.Observed), append(pred, m.Predicted)
		}
		d.ChurnChart = pairBars("churn by month", labels, obs, pred)
	}
	var monthly cubeAnswer
	if err := c.apiJSON(r, s, "/v1/cube/monthly", url.Values{"dims": {"month"}, "measures": {"subscribers,churned"}}, &monthly); err != nil {
		d.Missing = append(d.Missing, "monthly")
	}
	for _, cell := range monthly.Cells {
		m, ok := cell["month"].(string)
		subs, churned := num(cell, "subscribers"), num(cell, "churned")
		if !ok || !(subs > 0) || math.IsNaN(churned) {
			continue
		}
		d.Monthly = append(d.Monthly, monthChurn{Month: m, Customers: int(subs), Churned: int(churned), Rate: churned / subs})
	}
	slices.SortFunc(d.Monthly, func(a, b monthChurn) int { return strings.Compare(a.Month, b.Month) })
	d.Monthly = d.Monthly[max(0, len(d.Monthly)-6):]
	if len(d.Monthly) > 0 {
		var vals []float64
		var labels []string
		for _, m := range d.Monthly {
			vals, labels = append(vals, m.Rate*100), append(labels, m.Month)
		}
		d.MonthlyChart = bars(vals, labels, 1)
	}
	var files struct {
		Files []ingestFile `json:"files"`
	}
	if err := c.apiJSON(r, s, "/v1/ingest/files", url.Values{"limit": {"1000"}}, &files); err != nil {
		d.Missing = append(d.Missing, "ingest")
	}
	d.Ingest.Day = day(c.cfg.Now())
	for _, f := range files.Files {
		if day(f.StartedAt) == d.Ingest.Day {
			d.Ingest.FilesToday++
			d.Ingest.RejectedToday += int(f.RowsRejected)
		}
		switch f.Status {
		case lake.StatusQuarantined:
			d.Ingest.Quarant++
		case lake.StatusFailed:
			d.Ingest.Failed++
		}
	}
	c.render(w, r, http.StatusOK, "dashboard", c.page(r, &s, d))
}

// churnByMonth reads the reports of the newest six churn runs: each one's
// validation month, observed against predicted. Without the registry it
// is empty.
func (c *Console) churnByMonth(r *http.Request, runs []modelRun) ([]churnMonth, int) {
	if c.cfg.Models == nil {
		return nil, 0
	}
	byMonth := map[string]churnMonth{}
	horizon, reads := 0, 0
	for _, m := range runs {
		if len(byMonth) == 6 || reads == 12 {
			break // at most six months, from at most twelve reports
		}
		if m.ValidMonth == nil {
			continue
		}
		month := (*m.ValidMonth)[:min(7, len(*m.ValidMonth))]
		if _, seen := byMonth[month]; seen {
			continue // the newest run of a month speaks for it
		}
		reads++
		rep, err := c.report(r, "churn", m.Version)
		if err != nil || rep.Validation.Rows == 0 {
			continue
		}
		if horizon == 0 {
			horizon = rep.Horizon
		}
		byMonth[month] = churnMonth{Month: month, Rows: rep.Validation.Rows,
			Observed:  float64(rep.Validation.Positives) / float64(rep.Validation.Rows),
			Predicted: rep.meanPredicted()}
	}
	out := make([]churnMonth, 0, len(byMonth))
	for _, m := range byMonth {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b churnMonth) int {
		if a.Month < b.Month {
			return -1
		}
		return 1
	})
	return out, horizon
}

// modelReportJSON is a churn run's report.json as the console reads it.
type modelReportJSON struct {
	Version, Kind, Title      string
	TrainWindow, ValidWindow  string
	Horizon                   int
	TrainRows, TrainPositives int
	Validation                summaryJSON
	Candidates                []struct {
		Kind                 string
		ValidAUC, ValidPRAUC *float64
		TrainSeconds         float64
		Selected             bool
	}
	Segments []struct {
		ID                  int
		Name                string
		Rows                int
		ChurnRate           *float64
		Predicted           *float64
		JudgedRows          int
		ECEBefore, ECEAfter *float64
		Calibration         []calBin
	}
	Importance []struct {
		Feature string
		Value   *float64
	}
	Promotion struct {
		Promoted    bool
		Reason      string
		Previous    string
		PreviousAUC *float64
	}
	Notes []string
	// Target, Baseline and Planted are a second classifier's (bad debt):
	// what it predicts, the trivial ranking it must beat, and how it finds
	// the generator's planted positives; nil for churn.
	Target *struct {
		Label, Positive, Positives string
	}
	Baseline *struct {
		Name, Description string
		AUC, Gain         *float64
		AUCCI, GainCI     struct{ Lo, Hi *float64 }
		Beats             bool
	}
	Planted *struct {
		What                            string
		Rows, Planted, TopRows          int
		BaseRate, TopPrecision, TopLift *float64
		TopRecall, BaselinePrecision    *float64
		BaselineLift, BaselineRecall    *float64
	}
	// Uplift is the uplift model's section: in its own report, and in the
	// churn report of the same run (trained or why not).
	Uplift *upliftJSON
}

// upliftJSON is evaluate.UpliftSection as the console reads it.
type upliftJSON struct {
	Version, Method, Skipped     string
	Campaigns, Running           int
	HeldOut                      string
	TrainRows, HeldRows, Treated int
	Missing, Reps                int
	AUUCModel, AUUCRisk          estimateJSON
	AUUCDiff                     estimateJSON
	QiniModel, QiniRisk          []struct{ Share, Gain *float64 }
	Promoted                     bool
	Decision                     string
	Notes                        []string
}

type estimateJSON struct{ Estimate, Lo, Hi *float64 }

type summaryJSON struct {
	Rows, Positives int
	AUC, PRAUC      *float64
	AUCCI           struct{ Lo, Hi *float64 }
	Lift10          *float64
	Calibration     []calBin
	ROC, Gains      []struct{ X, Y float64 }
}

type calBin struct {
	Lo, Hi        float64
	Rows          int
	MeanPredicted *float64
	ObservedRate  *float64
}

func (m *modelReportJSON) meanPredicted() float64 {
	var sum float64
	n := 0
	for _, b := range m.Validation.Calibration {
		if b.Rows > 0 && b.MeanPredicted != nil {
			sum += *b.MeanPredicted * float64(b.Rows)
			n += b.Rows
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// maxCachedReports bounds the reports kept in memory (one per training
// run: years of monthly runs fit many times over).
const maxCachedReports = 512

// report reads a model version's report.json (kind churn, bad-debt or
// uplift: one training run's versions share their name) from the
// registry, once per kind and version (failures are not kept: a report
// may appear later). Callers must not change the report.
func (c *Console) report(r *http.Request, kind, version string) (*modelReportJSON, error) {
	key := kind + "/" + version + "/report.json"
	c.reportsMu.Lock()
	m, ok := c.reports[key]
	c.reportsMu.Unlock()
	if ok {
		return m, nil
	}
	b, err := c.cfg.Models.Get(r.Context(), key)
	if err != nil {
		return nil, err
	}
	m = new(modelReportJSON)
	if err := json.Unmarshal(b, m); err != nil {
		return nil, err
	}
	c.reportsMu.Lock()
	if c.reports == nil {
		c.reports = map[string]*modelReportJSON{}
	}
	if len(c.reports) < maxCachedReports {
		c.reports[key] = m
	}
	c.reportsMu.Unlock()
	return m, nil
}
