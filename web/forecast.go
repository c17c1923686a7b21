package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/telcolake/telcolake/forecast"
)

// The forecast page (/console/forecast): per group of the chosen
// dimension, the known months and the next six with their 80% and 95%
// bands, from the API's /v1/forecast, and which method is served and why.
// The scenarios page (/console/scenarios): the caller's scenarios, a form
// for a retention offer or a price change (POST /v1/scenarios), and the
// chosen ones side by side (/v1/scenarios?ids=).

func init() {
	for k, v := range map[string]string{
		"forecastNav": "Forecast", "forecastTitle": "Forecast with 80% and 95% bands", "by": "By", "measure": "Measure",
		"served": "Served", "backtestNote": "Backtest", "attrition": "Attrition", "show": "Show",
		"scenariosNav": "Scenarios", "scenariosTitle": "What-if scenarios", "newScenario": "New scenario", "compare": "Compare",
		"scenarioProfit": "Profit vs baseline", "churnedExp": "Churned", "revenueTotal": "Revenue", "costTotal": "Cost", "noScenarios": "No scenarios yet.",
		"sc.kind": "Kind", "sc.retention": "Retention offer", "sc.price": "Price change", "sc.baseline": "Baseline",
		"sc.months": "Months ahead", "sc.group": "Group (blank: all)", "sc.contacts": "Customers contacted",
		"sc.cost_per_contact": "Cost per contact", "sc.offer_cost": "Offer cost per acceptance", "sc.acceptance_rate": "Acceptance rate (0–1)",
		"sc.campaign": "Campaign id (its measured uplift)", "sc.uplift": "Uplift per contact (0–1)", "sc.uplift_lo": "Uplift, 95% low",
		"sc.uplift_hi": "Uplift, 95% high", "sc.plan": "Plan", "sc.price_change_pct": "Price change (%)",
		"sc.elasticity": "Churn elasticity", "sc.elasticity_se": "Elasticity standard error", "sc.shared": "Shared with other users",
		"scenarioHint": "Retention: the offer's uplift per contacted customer with its 95% interval (or a campaign id, whose measured uplift is used). Price: the change in %; the churn elasticity comes from the plan changes in the register unless given here with its standard error.",
	} {
		dicts["en"][k] = v
	}
	for k, v := range map[string]string{
		"forecastNav": "预测", "forecastTitle": "预测（80% 与 95% 区间）", "by": "分组", "measure": "指标",
		"served": "采用", "backtestNote": "回测", "attrition": "流失", "show": "显示",
		"scenariosNav": "情景分析", "scenariosTitle": "假设情景", "newScenario": "新建情景", "compare": "对比",
		"scenarioProfit": "相对基线的利润", "churnedExp": "流失", "revenueTotal": "收入", "costTotal": "成本", "noScenarios": "尚无情景。",
		"sc.kind": "类型", "sc.retention": "挽留优惠", "sc.price": "价格调整", "sc.baseline": "基线",
		"sc.months": "预测月数", "sc.group": "分组取值（留空：全部）", "sc.contacts": "联系客户数",
		"sc.cost_per_contact": "每次联系成本", "sc.offer_cost": "每次接受的优惠成本", "sc.acceptance_rate": "接受率（0–1）",
		"sc.campaign": "活动编号（使用其实测提升）", "sc.uplift": "每次联系的提升（0–1）", "sc.uplift_lo": "提升 95% 下限",
		"sc.uplift_hi": "提升 95% 上限", "sc.plan": "套餐", "sc.price_change_pct": "价格变动（%）",
		"sc.elasticity": "流失弹性", "sc.elasticity_se": "弹性标准误", "sc.shared": "与其他用户共享",
		"scenarioHint": "挽留：每位被联系客户的提升及其 95% 区间（或填写活动编号，使用其实测提升）。价格：变动百分比与流失弹性及其标准误。",
	} {
		dicts["zh"][k] = v
	}
}

type forecastAPI struct {
	Run      string `json:"run"`
	By       string `json:"by"`
	Measure  string `json:"measure"`
	Method   string `json:"method"`
	Served   string `json:"served"`
	Backtest struct {
		ModelMAPE    *float64 `json:"model_mape"`
		BaselineMAPE *float64 `json:"baseline_mape"`
		Baseline     string   `json:"baseline"`
		Note         string   `json:"note"`
	} `json:"backtest"`
	Attrition string `json:"attrition"`
	Groups    []struct {
		Group   string `json:"group"`
		History []struct {
			Month string  `json:"month"`
			Value float64 `json:"value"`
		} `json:"history"`
		Bands []forecastBand `json:"forecast"`
	} `json:"groups"`
}

type forecastBand struct {
	Month string  `json:"month"`
	Value float64 `json:"value"`
	Lo80  float64 `json:"lo80"`
	Hi80  float64 `json:"hi80"`
	Lo95  float64 `json:"lo95"`
	Hi95  float64 `json:"hi95"`
}

type forecastGroupView struct {
	Group string
	Chart template.HTML
	Bands []forecastBand
}

type forecastView struct {
	A        forecastAPI
	Dims     []string
	Measures []string
	Groups   []forecastGroupView
}

func (c *Console) forecastPage(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	q := url.Values{"months": {strconv.Itoa(forecast.ServedHorizon)}}
	for _, k := range []string{"by", "measure"} {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	var a forecastAPI
	if !c.apiPage(w, r, s, "/v1/forecast", q, &a) {
		return
	}
	d := forecastView{A: a, Dims: forecast.Dimensions, Measures: forecast.Measures}
	for _, g := range a.Groups {
		var hist []float64
		var months []string
		for _, h := range g.History {
			hist, months = append(hist, h.Value), append(months, h.Month)
		}
		d.Groups = append(d.Groups, forecastGroupView{Group: g.Group, Bands: g.Bands,
			Chart: bandChart(a.Measure+" of "+g.Group, months, hist, g.Bands)})
	}
	c.render(w, r, http.StatusOK, "forecast", c.page(r, &s, d))
}

// bandChart draws the known months as a line, then the forecast's point
// line inside its 80% and 95% bands, with a value axis (round ticks from
// zero or below the lowest band to the highest value, gridlines) and a
// month axis (MM under every month, or every other one when there are
// many, the year under the first month and each January), and a dashed
// line where the forecast starts. months are the known months' YYYY-MM
// labels, one per hist value. Only numbers and month labels enter it.
func bandChart(label string, months []string, hist []float64, bands []forecastBand) template.HTML {
	const w, h, left, right, top, bottom = 560.0, 220.0, 52.0, 10.0, 10.0, 30.0
	n := len(hist) + len(bands)
	if n < 2 {
		return ""
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range hist {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	for _, b := range bands {
		lo, hi = math.Min(lo, b.Lo95), math.Max(hi, b.Hi95)
	}
	lo = math.Min(lo, 0.9*lo)
	if hi <= lo {
		hi = lo + 1
	}
	ticks := axisTicks(lo, hi, 4)
	lo, hi = math.Min(lo, ticks[0]), math.Max(hi, ticks[len(ticks)-1])
	px := func(i int) float64 { return left + float64(i)*(w-left-right)/float64(n-1) }
	py := func(v float64) float64 { return h - bottom - (v-lo)/(hi-lo)*(h-top-bottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="line band" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, w, h, template.HTMLEscapeString(label))
	for _, t := range ticks {
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, left, py(t), w-right, py(t))
		fmt.Fprintf(&b, `<text class="yl" x="%.1f" y="%.1f">%s</text>`, left-4, py(t)+3, compact(t))
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, left, top, left, h-bottom)
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, left, h-bottom, w-right, h-bottom)
	labels := append([]string(nil), months...)
	for _, bd := range bands {
		labels = append(labels, bd.Month)
	}
	every := 1
	if n > 16 {
		every = 2
	}
	for i, m := range labels {
		if len(m) < 7 || (i%every != 0 && m[5:7] != "01") {
			continue
		}
		fmt.Fprintf(&b, `<line class="axis" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, px(i), h-bottom, px(i), h-bottom+3)
		fmt.Fprintf(&b, `<text class="xl" x="%.1f" y="%.1f">%s</text>`, px(i), h-bottom+12, template.HTMLEscapeString(m[5:7]))
		if i == 0 || m[5:7] == "01" {
			fmt.Fprintf(&b, `<text class="xl" x="%.1f" y="%.1f">%s</text>`, px(i), h-bottom+23, template.HTMLEscapeString(m[:4]))
		}
	}
	if len(hist) > 0 && len(bands) > 0 {
		fmt.Fprintf(&b, `<line class="ref" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, px(len(hist)-1), top, px(len(hist)-1), h-bottom)
	}
	poly := func(class string, lower, upper func(forecastBand) float64) {
		var pts strings.Builder
		start := len(hist) - 1
		if start >= 0 {
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(start), py(hist[start]))
		}
		for i, bd := range bands {
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(len(hist)+i), py(upper(bd)))
		}
		for i := len(bands) - 1; i >= 0; i-- {
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(len(hist)+i), py(lower(bands[i])))
		}
		fmt.Fprintf(&b, `<polygon class="%s" points="%s"/>`, class, strings.TrimSpace(pts.String()))
	}
	poly("b95", func(x forecastBand) float64 { return x.Lo95 }, func(x forecastBand) float64 { return x.Hi95 })
	poly("b80", func(x forecastBand) float64 { return x.Lo80 }, func(x forecastBand) float64 { return x.Hi80 })
	var hp, fp strings.Builder
	for i, v := range hist {
		fmt.Fprintf(&hp, "%.1f,%.1f ", px(i), py(v))
	}
	if len(hist) > 0 {
		fmt.Fprintf(&fp, "%.1f,%.1f ", px(len(hist)-1), py(hist[len(hist)-1]))
	}
	for i, bd := range bands {
		fmt.Fprintf(&fp, "%.1f,%.1f ", px(len(hist)+i), py(bd.Value))
	}
	fmt.Fprintf(&b, `<polyline class="a" points="%s"/><polyline class="b" points="%s"/></svg>`, strings.TrimSpace(hp.String()), strings.TrimSpace(fp.String()))
	return template.HTML(b.String())
}

// axisTicks are round values (1, 2, 2.5 or 5 × a power of ten apart) from
// the first at or below lo to the first at or above hi, about n steps.
func axisTicks(lo, hi float64, n int) []float64 {
	raw := (hi - lo) / float64(n)
	if !(raw > 0) || math.IsInf(raw, 0) {
		return []float64{lo}
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for i := math.Floor(lo / step); ; i++ {
		out = append(out, i*step)
		if i*step >= hi-1e-9*step {
			return out
		}
	}
}

// compact writes an axis value short: 1.2M, 350k, 12, 0.5.
func compact(v float64) string {
	a := math.Abs(v)
	trim := func(s string) string {
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		return s
	}
	switch {
	case a >= 1e9:
		return trim(strconv.FormatFloat(v/1e9, 'f', 2, 64)) + "G"
	case a >= 1e6:
		return trim(strconv.FormatFloat(v/1e6, 'f', 2, 64)) + "M"
	case a >= 1e3:
		return trim(strconv.FormatFloat(v/1e3, 'f', 1, 64)) + "k"
	case a >= 1 || a == 0:
		return trim(strconv.FormatFloat(v, 'f', 1, 64))
	}
	return trim(strconv.FormatFloat(v, 'f', 3, 64))
}

type scenariosView struct {
	Scenarios []forecast.Scenario
	Compare   []struct {
		ID              string        `json:"id"`
		Name            string        `json:"name"`
		Kind            string        `json:"kind"`
		Baseline        string        `json:"baseline"`
		BaselineRevenue float64       `json:"baseline_revenue_total"`
		Revenue         forecast.Band `json:"revenue_total"`
		BaselineChurned float64       `json:"baseline_churned"`
		Churned         forecast.Band `json:"churned"`
		Cost            float64       `json:"cost_total"`
		Profit          forecast.Band `json:"profit"`
	}
	Form  url.Values
	Error string
}

func (c *Console) scenarios(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	c.scenariosPage(w, r, s, http.StatusOK, url.Values{}, "")
}

func (c *Console) scenariosPage(w http.ResponseWriter, r *http.Request, s session, status int, form url.Values, msg string) {
	var all struct {
		Scenarios []forecast.Scenario `json:"scenarios"`
	}
	if !c.apiPage(w, r, s, "/v1/scenarios", url.Values{}, &all) {
		return
	}
	d := scenariosView{Scenarios: all.Scenarios, Form: form, Error: msg}
	if ids := r.URL.Query()["id"]; len(ids) > 0 {
		if !c.apiPage(w, r, s, "/v1/scenarios", url.Values{"ids": {strings.Join(ids, ",")}}, &d) {
			return
		}
	}
	c.render(w, r, status, "scenarios", c.page(r, &s, d))
}

// createScenario turns the form into a POST /v1/scenarios body: empty
// fields are left out, numbers parsed.
func (c *Console) createScenario(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	if !c.formPost(w, r, s) {
		return
	}
	f := r.PostForm
	body := map[string]any{}
	var bad []string
	for _, k := range []string{"name", "kind", "by", "group", "plan", "campaign"} {
		if v := strings.TrimSpace(f.Get(k)); v != "" {
			body[k] = v
		}
	}
	for _, k := range []string{"months", "contacts", "effect_months"} {
		if v := strings.TrimSpace(f.Get(k)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				bad = append(bad, k)
			}
			body[k] = n
		}
	}
	for _, k := range []string{"price_change_pct", "elasticity", "elasticity_se", "cost_per_contact", "offer_cost", "acceptance_rate", "uplift", "uplift_lo", "uplift_hi"} {
		if v := strings.TrimSpace(f.Get(k)); v != "" {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				bad = append(bad, k)
			}
			body[k] = x
		}
	}
	if f.Get("shared") != "" {
		body["shared"] = true
	}
	if len(bad) > 0 {
		c.scenariosPage(w, r, s, http.StatusBadRequest, f, "not a number: "+strings.Join(bad, ", "))
		return
	}
	b, _ := json.Marshal(body)
	c.createThrough(w, r, s, "/v1/scenarios", b,
		func(id string) string { return "/console/scenarios?id=" + url.QueryEscape(id) + "&lang=" + language(r) },
		func(detail string) { c.scenariosPage(w, r, s, http.StatusBadRequest, f, detail) })
}
