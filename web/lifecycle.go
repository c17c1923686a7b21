package web

import (
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/telcolake/telcolake/insight"
)

// The lifecycle pages: survival curves with their bands, the stage
// transition matrix and the value by tenure (/console/lifecycle), churn
// causes (/console/causes) and score tracking with drift
// (/console/tracking). Their data are the API's /v1/lifecycle/*,
// /v1/churn/causes and /v1/models/tracking answers, asked on the user's
// behalf; aggregates only.

func init() {
	for k, v := range map[string]string{
		"lifecycleNav": "Lifecycle", "causesNav": "Churn causes", "trackingNav": "Score tracking",
		"survival": "Survival from activation", "survivalNote": "Kaplan–Meier, 95% log-log band (Greenwood); censored while active.",
		"by": "By", "group": "Group", "leftN": "Left", "median": "Median lifetime (months, 95% CI)", "notReached": "not reached",
		"logRank": "Log-rank test", "transitions": "Stage transitions", "valueByTenure": "Value by tenure month",
		"atRisk": "Leading reasons of the customers at risk", "atRiskNote": "The top 10% by churn probability; threshold",
		"leavers": "Why the customers who left were at risk", "leaversNote": "Leading reason of each leaver's last score before leaving.",
		"reason": "Reason", "share": "Share", "runs": "Past scoring runs against what happened", "complete": "Window complete",
		"deciles": "Realised against predicted churn by decile", "drift": "Feature drift (PSI)", "feature": "Feature",
		"level": "Level", "noRuns": "No past run yet.", "windowTo": "window to", "noLeavers": "no customer of this run is deactivated in the register between the end of its feature month and the end of its window, so it has no observed rate and no AUC (which needs leavers and stayers). A run scored after its window's deactivations no longer holds the customers who left.", "fromTo": "From → to", "scoredBefore": "Scored before leaving",
	} {
		dicts["en"][k] = v
	}
	for k, v := range map[string]string{
		"lifecycleNav": "生命周期", "causesNav": "流失原因", "trackingNav": "评分跟踪",
		"survival": "自入网起的留存", "survivalNote": "Kaplan–Meier 估计，95% log-log 置信带（Greenwood）；在网客户为删失。",
		"by": "分组", "group": "组", "leftN": "流失", "median": "中位生命周期（月，95% 置信区间）", "notReached": "未达到",
		"logRank": "Log-rank 检验", "transitions": "阶段迁移", "valueByTenure": "按在网月数的价值",
		"atRisk": "高风险客户的主要原因", "atRiskNote": "按流失概率排名前 10%；阈值",
		"leavers": "已流失客户当时的风险原因", "leaversNote": "每位流失客户离网前最后一次评分的首要原因。",
		"reason": "原因", "share": "占比", "runs": "历次评分与实际结果对比", "complete": "窗口已结束",
		"deciles": "各十分位的实际与预测流失率", "drift": "特征漂移（PSI）", "feature": "特征",
		"level": "程度", "noRuns": "尚无历史评分。", "windowTo": "窗口至", "noLeavers": "本次评分的客户在特征月末至窗口结束之间均未在用户档案中销户，因此没有实际流失率，也没有 AUC（需要既有流失也有留存）。在窗口内的销户之后才做的评分已不含流失客户。", "fromTo": "从 → 到", "scoredBefore": "离网前有评分",
	} {
		dicts["zh"][k] = v
	}
}

type survivalAnswer struct {
	Run      string                `json:"run"`
	DataEnd  string                `json:"data_end"`
	Survival insight.SurvivalBy    `json:"survival"`
	Value    []insight.TenureValue `json:"value_by_tenure"`
}

type lifecyclePage struct {
	Run, DataEnd, By string
	Bys              []string
	Groups           []survivalRow
	LogRank          *insight.LogRank
	Curves           template.HTML
	Matrices         []matrixView
	ValueChart       template.HTML
}

type survivalRow struct {
	Class, Group, Median string
	N, Left              int
}

type matrixView struct {
	From, To string
	Cols     []string
	Rows     []matrixRow
	Heat     template.HTML
}

type matrixRow struct {
	Stage string
	Cells []string
}

func (c *Console) lifecycle(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	by := r.URL.Query().Get("by")
	if !slices.Contains(insight.SurvivalGroupings, by) {
		by = insight.SurvivalGroupings[0]
	}
	var sa survivalAnswer
	if !c.apiPage(w, r, s, "/v1/lifecycle/survival", url.Values{"by": {by}}, &sa) {
		return
	}
	var tr struct {
		Transitions []insight.TransitionMatrix `json:"transitions"`
	}
	if !c.apiPage(w, r, s, "/v1/lifecycle/transitions", nil, &tr) {
		return
	}
	d := lifecyclePage{Run: sa.Run, DataEnd: sa.DataEnd, By: by, Bys: insight.SurvivalGroupings, LogRank: sa.Survival.LogRank}
	for i, g := range sa.Survival.Groups {
		d.Groups = append(d.Groups, survivalRow{Class: "s" + strconv.Itoa(i%6), Group: g.Group, N: g.N, Left: g.Events, Median: estimate(dicts[language(r)], g.Median)})
	}
	d.Curves = survivalChart(by, sa.Survival.Groups)
	for _, m := range tr.Transitions {
		mv := matrixView{From: m.From, To: m.To, Cols: m.Cols}
		for i, st := range m.Rows {
			row := matrixRow{Stage: st}
			for j := range m.Cols {
				row.Cells = append(row.Cells, fmt.Sprintf("%s (%s%%)", grouped(float64(m.Counts[i][j]), 0), grouped(m.Shares[i][j]*100, 1)))
			}
			mv.Rows = append(mv.Rows, row)
		}
		mv.Heat = heatmap(m)
		d.Matrices = append(d.Matrices, mv)
	}
	d.ValueChart = valueChart(sa.Value)
	c.render(w, r, http.StatusOK, "lifecycle", c.page(r, &s, d))
}

// estimate renders "24.3 (20.1–30.0)", an upper bound not reached as
// "∞"; a median the curve has not come down to (more than half the group
// still active at its longest follow-up) as "not reached", with the lower
// bound when there is one: "not reached (> 40.2)".
func estimate(d dict, e insight.Estimate) string {
	f := func(p *float64) string {
		if p == nil {
			return "∞"
		}
		return grouped(*p, 1)
	}
	if e.Value == nil {
		if e.Lower == nil {
			return d["notReached"]
		}
		return d["notReached"] + " (> " + f(e.Lower) + ")"
	}
	return f(e.Value) + " (" + f(e.Lower) + "–" + f(e.Upper) + ")"
}

// survivalChart draws each group's curve (steps at whole months) over its
// band, months on x, survival 0–100% on y. Only numbers and escaped group
// names enter the SVG.
func survivalChart(label string, groups []insight.SurvivalGroup) template.HTML {
	const w, h, pad = 520.0, 260.0, 30.0
	maxT := 1.0
	for _, g := range groups {
		if n := len(g.Curve); n > 0 {
			maxT = math.Max(maxT, g.Curve[n-1].Time)
		}
	}
	px := func(t float64) float64 { return pad + t/maxT*(w-pad-10) }
	py := func(s float64) float64 { return h - pad - math.Max(0, math.Min(1, s))*(h-pad-8) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="surv" viewBox="0 0 %.0f %.0f" role="img" aria-label="survival by %s">`, w, h, template.HTMLEscapeString(label))
	for _, y := range []float64{0, 0.25, 0.5, 0.75, 1} {
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/><text class="yl" x="%.1f" y="%.1f">%.0f%%</text>`,
			px(0), py(y), px(maxT), py(y), pad-3, py(y)+3, y*100)
	}
	step := math.Max(1, math.Round(maxT/6/12)*12)
	for t := 0.0; t <= maxT; t += step {
		fmt.Fprintf(&b, `<text class="xl" x="%.1f" y="%.1f">%.0f</text>`, px(t), h-pad+12, t)
	}
	for i, g := range groups {
		cls := "s" + strconv.Itoa(i%6)
		var band, line strings.Builder
		for _, p := range g.Curve {
			fmt.Fprintf(&band, "%.1f,%.1f ", px(p.Time), py(p.Upper))
		}
		for k := len(g.Curve) - 1; k >= 0; k-- {
			p := g.Curve[k]
			fmt.Fprintf(&band, "%.1f,%.1f ", px(p.Time), py(p.Lower))
		}
		for k, p := range g.Curve {
			if k > 0 {
				fmt.Fprintf(&line, "%.1f,%.1f ", px(p.Time), py(g.Curve[k-1].Surv))
			}
			fmt.Fprintf(&line, "%.1f,%.1f ", px(p.Time), py(p.Surv))
		}
		fmt.Fprintf(&b, `<polygon class="band %s" points="%s"/>`, cls, strings.TrimSpace(band.String()))
		fmt.Fprintf(&b, `<polyline class="%s" points="%s"><title>%s</title></polyline>`, cls, strings.TrimSpace(line.String()), template.HTMLEscapeString(g.Group))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// heatmap draws a transition matrix as cells shaded by their row share.
func heatmap(m insight.TransitionMatrix) template.HTML {
	const cw, ch, labW, top = 62.0, 20.0, 74.0, 16.0
	w, h := labW+cw*float64(len(m.Cols)), top+ch*float64(len(m.Rows))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="heat" viewBox="0 0 %.0f %.0f" role="img" aria-label="stage transitions %s to %s">`, w, h,
		template.HTMLEscapeString(m.From), template.HTMLEscapeString(m.To))
	for j, col := range m.Cols {
		fmt.Fprintf(&b, `<text class="col" x="%.1f" y="11">%s</text>`, labW+cw*float64(j)+cw/2, template.HTMLEscapeString(col))
	}
	for i, row := range m.Rows {
		y := top + ch*float64(i)
		fmt.Fprintf(&b, `<text class="lab" x="%.1f" y="%.1f">%s</text>`, labW-4, y+14, template.HTMLEscapeString(row))
		for j := range m.Cols {
			sh := m.Shares[i][j]
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill-opacity="%.3f"><title>%s → %s: %d (%.1f%%)</title></rect>`,
				labW+cw*float64(j)+1, y+1, cw-2, ch-2, 0.05+0.95*sh, template.HTMLEscapeString(row), template.HTMLEscapeString(m.Cols[j]), m.Counts[i][j], sh*100)
			if m.Counts[i][j] > 0 {
				cls := "v"
				if sh > 0.55 {
					cls = "v hi" // light text on the dark cells
				}
				fmt.Fprintf(&b, `<text class="%s" x="%.1f" y="%.1f">%.0f%%</text>`, cls, labW+cw*float64(j)+cw/2, y+14, sh*100)
			}
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// valueChart draws the mean monthly value by tenure month.
func valueChart(vs []insight.TenureValue) template.HTML {
	if len(vs) == 0 {
		return ""
	}
	const w, h, pad = 520.0, 180.0, 30.0
	maxT, top := 1.0, 0.0
	for _, v := range vs {
		maxT, top = math.Max(maxT, float64(v.Tenure)), math.Max(top, v.MeanValue)
	}
	if top <= 0 {
		top = 1
	}
	px := func(t float64) float64 { return pad + t/maxT*(w-pad-10) }
	py := func(v float64) float64 { return h - pad - v/top*(h-pad-8) }
	var b, pts strings.Builder
	fmt.Fprintf(&b, `<svg class="surv" viewBox="0 0 %.0f %.0f" role="img" aria-label="mean monthly value by tenure month">`, w, h)
	for _, f := range []float64{0, 0.5, 1} {
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/><text class="yl" x="%.1f" y="%.1f">%s</text>`,
			px(0), py(f*top), px(maxT), py(f*top), pad-3, py(f*top)+3, grouped(f*top, 0))
	}
	for _, v := range vs {
		fmt.Fprintf(&pts, "%.1f,%.1f ", px(float64(v.Tenure)), py(v.MeanValue))
	}
	fmt.Fprintf(&b, `<polyline class="s0" points="%s"/>`, strings.TrimSpace(pts.String()))
	fmt.Fprintf(&b, `<text class="xl" x="%.1f" y="%.1f">0</text><text class="xl" x="%.1f" y="%.1f">%.0f</text>`, px(0), h-pad+12, px(maxT), h-pad+12, maxT)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

type causesPage struct {
	Run, By, AtRiskDef string
	Bys                []string
	Threshold          float64
	Chart              template.HTML
	Groups             []causeRow
	Left               []leftRow
}

type causeRow struct {
	Group     string
	Customers int
	Top       string // the three leading reasons with shares
}

type leftRow struct {
	Month        string
	Left, Scored int
	Top          string
}

func topReasons(rs []insight.ReasonShare, n int) string {
	var parts []string
	for _, r := range rs[:min(n, len(rs))] {
		parts = append(parts, fmt.Sprintf("%s %s%%", r.Reason, grouped(r.Share*100, 0)))
	}
	return strings.Join(parts, " · ")
}

func (c *Console) causes(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	bys := []string{"region", "plan", "segment"}
	by := r.URL.Query().Get("by")
	if !slices.Contains(bys, by) {
		by = bys[0]
	}
	var ca struct {
		Run       string `json:"run"`
		AtRiskDef string `json:"at_risk_definition"`
		insight.CausesBy
	}
	if !c.apiPage(w, r, s, "/v1/churn/causes", url.Values{"by": {by}}, &ca) {
		return
	}
	d := causesPage{Run: ca.Run, By: by, Bys: bys, AtRiskDef: ca.AtRiskDef, Threshold: ca.Threshold}
	for k, g := range ca.AtRisk {
		if k == 0 {
			var rows []hbar
			for _, rs := range g.Reasons {
				rows = append(rows, hbar{rs.Reason, rs.Share, grouped(rs.Share*100, 1) + "%"})
			}
			d.Chart = hbars("leading reasons of the customers at risk", rows)
			continue
		}
		d.Groups = append(d.Groups, causeRow{Group: g.Group, Customers: g.Customers, Top: topReasons(g.Reasons, 3)})
	}
	for _, lm := range ca.Left {
		row := leftRow{Month: lm.Month, Left: lm.Left, Scored: lm.Scored}
		if len(lm.Groups) > 0 {
			row.Top = topReasons(lm.Groups[0].Reasons, 3)
		}
		d.Left = append(d.Left, row)
	}
	c.render(w, r, http.StatusOK, "causes", c.page(r, &s, d))
}

type trackingPage struct {
	Run     string
	Runs    []insight.RunTracking
	Deciles template.HTML
	Decile  string // the run the decile chart shows
	Drift   []insight.FeatureDrift
}

func (c *Console) tracking(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	var ta struct {
		Run string `json:"run"`
		insight.Tracking
	}
	if !c.apiPage(w, r, s, "/v1/models/tracking", nil, &ta) {
		return
	}
	d := trackingPage{Run: ta.Run, Runs: ta.Runs}
	// The newest run whose window is complete, else the newest.
	if n := len(ta.Runs); n > 0 {
		pick := ta.Runs[n-1]
		for k := n - 1; k >= 0; k-- {
			if ta.Runs[k].Complete {
				pick = ta.Runs[k]
				break
			}
		}
		var labels []string
		var real, pred []float64
		for _, dc := range pick.Deciles {
			labels = append(labels, strconv.Itoa(dc.Decile))
			real, pred = append(real, dc.Realised), append(pred, dc.MeanPredicted)
		}
		d.Deciles, d.Decile = pairBars("realised and predicted churn by decile", labels, real, pred), pick.Run+" ("+pick.FeatureMonth+")"
	}
	// The newest month pair's drift, worst first, then the older ones.
	d.Drift = slices.Clone(ta.Drift)
	slices.SortStableFunc(d.Drift, func(a, b insight.FeatureDrift) int {
		if a.To != b.To {
			return strings.Compare(b.To, a.To)
		}
		switch {
		case a.PSI > b.PSI:
			return -1
		case a.PSI < b.PSI:
			return 1
		}
		return 0
	})
	c.render(w, r, http.StatusOK, "tracking", c.page(r, &s, d))
}
