package web

import (
	"cmp"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/telcolake/telcolake/api"
)

func init() {
	for k, v := range map[string]string{
		"badDebtModel": "bad debt", "upliftNotTrained": "Uplift model not trained", "riskRanking": "churn risk",
		"upliftModel": "uplift model", "difference": "Difference", "heldTreated": "Treated in the held-out campaign",
		"heldOut": "Held-out campaign", "upliftContacts": "contacts", "pastCampaigns": "past campaigns",
		"noFeatureRow": "contacts without a feature row, left out", "qini": "Qini curves",
		"qiniNote":       "extra customers retained, as a share of the treated, against the share contacted (best first); the dashed line is random contact.",
		"shareContacted": "Contacted", "auucNote": "AUUC: the mean of the Qini curve over the top k; 95% intervals by percentile bootstrap over customers, resamples",
		"targetLabel": "Label", "baseline": "Baseline", "aucGain": "AUC gain over the baseline", "beatsBaseline": "Beats the baseline",
		"planted": "Planted positives (synthetic data)", "topPrecision": "Top-decile precision", "topRecall": "Top-decile recall",
		"model": "Model", "whoToContact": "Who to contact: uplift model",
		"bdGainsNote": "Share of bad debtors found against the share of customers checked, most likely first.",
		"bdCalNote":   "Observed bad-debt rate against the predicted probability; the dashed line is perfect.",
	} {
		dicts["en"][k] = v
	}
	for k, v := range map[string]string{
		"badDebtModel": "坏账", "upliftNotTrained": "增益模型未训练", "riskRanking": "流失风险",
		"upliftModel": "增益模型", "difference": "差值", "heldTreated": "留出活动的干预组人数",
		"heldOut": "留出活动", "upliftContacts": "名联系人", "pastCampaigns": "个历史活动",
		"noFeatureRow": "名联系人无特征行，未计入", "qini": "Qini 曲线",
		"qiniNote":       "按得分从高到低联系客户时，额外挽留的客户占干预组的比例；虚线为随机联系。",
		"shareContacted": "联系比例", "auucNote": "AUUC：Qini 曲线在前 k 名上的均值；95% 区间为对客户的百分位自助法，重抽样次数",
		"targetLabel": "标签", "baseline": "基线", "aucGain": "相对基线的 AUC 提升", "beatsBaseline": "优于基线",
		"planted": "植入的正例（合成数据）", "topPrecision": "前10%精确率", "topRecall": "前10%召回率",
		"model": "模型", "whoToContact": "联系谁：增益模型",
		"bdGainsNote": "按坏账可能性从高到低核查客户时，找到的坏账客户占比。",
		"bdCalNote":   "实际坏账率对预测概率；虚线为完全校准。",
	} {
		dicts["zh"][k] = v
	}
}

type modelsPage struct {
	Runs     []modelRun
	Promoted map[string]string // kind → promoted version
	Reports  bool              // the registry is readable
	// UpliftSkipped is why the newest run trained no uplift model, from
	// its churn report, when no uplift run exists.
	UpliftSkipped string
}

// reportKinds are the kinds whose runs have a report page.
var reportKinds = []string{"churn", "bad-debt", "uplift"}

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
	newestChurn, uplift := "", false
	for _, m := range runs.Models {
		if _, seen := d.Promoted[m.Kind]; m.Promoted && !seen {
			d.Promoted[m.Kind] = m.Version
		}
		if m.Kind == "churn" && newestChurn == "" {
			newestChurn = m.Version
		}
		uplift = uplift || m.Kind == "uplift"
	}
	if !uplift && newestChurn != "" && d.Reports {
		if rep, err := c.report(r, "churn", newestChurn); err == nil && rep.Uplift != nil {
			d.UpliftSkipped = rep.Uplift.Skipped
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
	// Qini is the uplift report's chart, QiniRows its points by share
	// contacted (a curve without a point there: nil).
	Qini     template.HTML
	QiniRows []qiniRow
}

type qiniRow struct {
	Share       float64
	Model, Risk *float64
}

// qiniRows lines the two curves up by share contacted.
func qiniRows(u *upliftJSON) []qiniRow {
	var out []qiniRow
	at := func(share float64) *qiniRow {
		for i := range out {
			if math.Abs(out[i].Share-share) < 1e-9 {
				return &out[i]
			}
		}
		out = append(out, qiniRow{Share: share})
		return &out[len(out)-1]
	}
	for _, p := range u.QiniModel {
		if p.Share != nil {
			at(*p.Share).Model = p.Gain
		}
	}
	for _, p := range u.QiniRisk {
		if p.Share != nil {
			at(*p.Share).Risk = p.Gain
		}
	}
	slices.SortFunc(out, func(a, b qiniRow) int { return cmp.Compare(a.Share, b.Share) })
	return out
}

// modelReport renders a run's report from the registry's report.json:
// for churn and bad debt the figures, ROC, gains and calibration charts,
// the candidates (and the calibration per segment, the baseline and the
// planted positives where the report has them); for uplift the AUUC
// against churn-risk ranking with their intervals, the Qini curves and
// the promotion decision. ?kind= picks the kind (default churn).
func (c *Console) modelReport(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	if s.Role.Access(api.OpModels) == api.Denied {
		c.fail(w, r, http.StatusForbidden, "forbidden")
		return
	}
	version, kind := r.PathValue("version"), r.URL.Query().Get("kind")
	if kind == "" {
		kind = "churn"
	}
	if !versionRE.MatchString(version) || !slices.Contains(reportKinds, kind) || c.cfg.Models == nil {
		c.fail(w, r, http.StatusNotFound, "notfound")
		return
	}
	var runs struct {
		Models []modelRun `json:"runs"`
	}
	if !c.apiPage(w, r, s, "/v1/models", url.Values{"kind": {kind}}, &runs) {
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
	rep, err := c.report(r, kind, version)
	if err == nil && kind == "uplift" && rep.Uplift == nil {
		err = errors.New("report has no uplift section")
	}
	if err != nil {
		c.cfg.Log.ErrorContext(r.Context(), "web: model report", "kind", kind, "version", version, "err", err)
		c.fail(w, r, http.StatusNotFound, "noReport")
		return
	}
	d.R = rep
	if kind == "uplift" {
		d.Qini, d.QiniRows = qiniChart(rep.Uplift), qiniRows(rep.Uplift)
		c.render(w, r, http.StatusOK, "uplift", c.page(r, &s, d))
		return
	}
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

// qiniChart draws the uplift model's and churn risk's Qini curves (extra
// customers retained, as a share of the treated, against the share
// contacted, from (0, 0)) and the random line to the point where everyone
// is contacted, on a value axis scaled to the curves.
func qiniChart(u *upliftJSON) template.HTML {
	const w, h, left, right, top, bottom = 420.0, 240.0, 48.0, 12.0, 10.0, 28.0
	curve := func(pts []struct{ Share, Gain *float64 }) (xs, ys []float64) {
		xs, ys = []float64{0}, []float64{0}
		for _, p := range pts {
			if p.Share != nil && p.Gain != nil {
				xs, ys = append(xs, *p.Share), append(ys, *p.Gain)
			}
		}
		return xs, ys
	}
	mx, my := curve(u.QiniModel)
	rx, ry := curve(u.QiniRisk)
	if len(mx) < 2 && len(rx) < 2 {
		return ""
	}
	lo, hi := 0.0, 0.0
	for _, v := range append(slices.Clone(my), ry...) {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if hi <= lo {
		hi = lo + 0.01
	}
	ticks := axisTicks(lo, hi, 4)
	lo, hi = math.Min(lo, ticks[0]), math.Max(hi, ticks[len(ticks)-1])
	px := func(x float64) float64 { return left + math.Max(0, math.Min(1, x))*(w-left-right) }
	py := func(v float64) float64 { return h - bottom - (v-lo)/(hi-lo)*(h-top-bottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="line qini" viewBox="0 0 %.0f %.0f" role="img" aria-label="Qini curves">`, w, h)
	for _, t := range ticks {
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, left, py(t), w-right, py(t))
		fmt.Fprintf(&b, `<text class="yl" x="%.1f" y="%.1f">%s%%</text>`, left-4, py(t)+3, compact(t*100))
	}
	for _, x := range []float64{0, 0.25, 0.5, 0.75, 1} {
		fmt.Fprintf(&b, `<text class="xl" x="%.1f" y="%.1f">%.0f%%</text>`, px(x), h-bottom+13, x*100)
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, left, top, left, h-bottom)
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, left, py(0), w-right, py(0))
	line := func(class string, xs, ys []float64) {
		var pts strings.Builder
		for i := range xs {
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(xs[i]), py(ys[i]))
		}
		fmt.Fprintf(&b, `<polyline class="%s" points="%s"/>`, class, strings.TrimSpace(pts.String()))
	}
	if n := len(mx); n > 1 {
		line("ref", []float64{0, mx[n-1]}, []float64{0, my[n-1]})
	}
	line("b", rx, ry)
	line("a", mx, my)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
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
