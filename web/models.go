package web

import (
	"html/template"
	"net/http"
	"net/url"
	"regexp"

	"github.com/telcolake/telcolake/api"
)

type modelsPage struct {
	Runs     []modelRun
	Promoted map[string]string // kind → promoted version
	Reports  bool              // the registry is readable
}

func (c *Console) models(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	var runs struct {
		Models []modelRun `json:"runs"`
	}
	if !c.apiPage(w, r, s, "/v1/models", nil, &runs) {
		return
	}
	d := modelsPage{Runs: runs.Models, Promoted: map[string]string{}, Reports: c.cfg.Models != nil}
	for _, m := range runs.Models {
		if _, seen := d.Promoted[m.Kind]; m.Promoted && !seen {
			d.Promoted[m.Kind] = m.Version
		}
	}
	c.render(w, r, http.StatusOK, "models", c.page(r, &s, d))
}

// versionRE is a registry version (registry.NewVersion).
var versionRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z$`)

type reportPage struct {
	R                       *modelReportJSON
	Run                     *modelRun
	ROC, Gains, Calibration template.HTML
	SegmentCharts           []template.HTML
}

// modelReport renders a churn run's report from the registry's
// report.json: the figures, ROC, gains and calibration charts, the
// candidates and the calibration per segment.
func (c *Console) modelReport(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	if s.Role.Access(api.OpModels) == api.Denied {
		c.fail(w, r, http.StatusForbidden, "forbidden")
		return
	}
	version := r.PathValue("version")
	if !versionRE.MatchString(version) || c.cfg.Models == nil {
		c.fail(w, r, http.StatusNotFound, "notfound")
		return
	}
	var runs struct {
		Models []modelRun `json:"runs"`
	}
	if !c.apiPage(w, r, s, "/v1/models", url.Values{"kind": {"churn"}}, &runs) {
		return
	}
	d := reportPage{}
	for i := range runs.Models {
		if runs.Models[i].Version == version {
			d.Run = &runs.Models[i]
		}
	}
	if d.Run == nil {
		c.fail(w, r, http.StatusNotFound, "notfound")
		return
	}
	rep, err := c.report(r, version)
	if err != nil {
		c.cfg.Log.ErrorContext(r.Context(), "web: model report", "version", version, "err", err)
		c.fail(w, r, http.StatusNotFound, "noReport")
		return
	}
	d.R = rep
	curve := func(pts []struct{ X, Y float64 }) series {
		var sr series
		for _, p := range pts {
			sr.X, sr.Y = append(sr.X, p.X), append(sr.Y, p.Y)
		}
		return sr
	}
	diag := series{Class: "ref", X: []float64{0, 1}, Y: []float64{0, 1}}
	roc := curve(rep.Validation.ROC)
	roc.Class = "a"
	d.ROC = lineChart("ROC", []series{diag, roc})
	gains := curve(rep.Validation.Gains)
	gains.Class = "a"
	d.Gains = lineChart("gains", []series{diag, gains})
	d.Calibration = lineChart("calibration", []series{diag, calSeries(rep.Validation.Calibration)})
	for _, sg := range rep.Segments {
		d.SegmentCharts = append(d.SegmentCharts, lineChart("calibration of segment "+sg.Name, []series{diag, calSeries(sg.Calibration)}))
	}
	c.render(w, r, http.StatusOK, "model", c.page(r, &s, d))
}

// calSeries is observed against mean predicted, over non-empty bins.
func calSeries(bins []calBin) series {
	sr := series{Class: "a"}
	for _, b := range bins {
		if b.Rows > 0 && b.MeanPredicted != nil && b.ObservedRate != nil {
			sr.X, sr.Y = append(sr.X, *b.MeanPredicted), append(sr.Y, *b.ObservedRate)
		}
	}
	return sr
}
