package web

import (
	"html/template"
	"net/http"
	"net/url"
)

// The value tiers page (/console/value): each tier's size, CLV range,
// CLV, profit, value at risk and churn, a chart of the tiers' shares of
// CLV and the migration matrix from the previous month's run, from the
// API's /v1/value/tiers (aggregates only), optionally for a saved group.

func init() {
	for k, v := range map[string]string{
		"valueNav": "Value tiers", "valueTitle": "Customer value tiers", "valueNote": "Tiers rank the scored customers by lifetime value (CLV, from monthly profit = revenue − cost to serve).",
		"tier": "Tier", "clvRange": "CLV range", "clvSum": "CLV", "profitSum": "Monthly profit", "shareOfCLV": "Share of CLV",
		"migration": "Tier migration", "migrationNote": "Customers by tier in the previous month's run (rows) and this run (columns).",
		"noMigration": "No run of the previous feature month to compare with.", "costs": "Cost to serve",
	} {
		dicts["en"][k] = v
	}
	for k, v := range map[string]string{
		"valueNav": "价值分层", "valueTitle": "客户价值分层", "valueNote": "按客户生命周期价值（CLV，由月利润 = 收入 − 服务成本 计算）对已评分客户排序分层。",
		"tier": "层级", "clvRange": "CLV 区间", "clvSum": "CLV", "profitSum": "月利润", "shareOfCLV": "CLV 占比",
		"migration": "层级迁移", "migrationNote": "上月评分（行）与本次评分（列）中各层级的客户数。",
		"noMigration": "没有上一特征月的评分可供比较。", "costs": "服务成本",
	} {
		dicts["zh"][k] = v
	}
}

type tierRow struct {
	Tier                                                  string
	Customers                                             int64
	Share, CLVMin, CLVMax, CLVSum, Profit, VaR, Churn, SC float64
}

type valuePage struct {
	Run       string
	Group     string
	Customers int
	Tiers     []tierRow
	Chart     template.HTML
	Costs     map[string]float64
	Migration *struct {
		FromRun   string    `json:"from_run"`
		FromMonth string    `json:"from_month"`
		Tiers     []string  `json:"tiers"`
		Counts    [][]int64 `json:"counts"`
	}
}

func (c *Console) value(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	var ans struct {
		Run       string `json:"run"`
		Customers int    `json:"customers"`
		Value     struct {
			Costs map[string]float64 `json:"costs"`
		} `json:"value_model"`
		Tiers []struct {
			Tier       string  `json:"tier"`
			Customers  int64   `json:"customers"`
			Share      float64 `json:"share"`
			CLVMin     float64 `json:"clv_min"`
			CLVMax     float64 `json:"clv_max"`
			CLVSum     float64 `json:"clv_sum"`
			Profit     float64 `json:"profit_sum"`
			VaR        float64 `json:"value_at_risk_sum"`
			Churn      float64 `json:"mean_churn_probability"`
			ShareOfCLV float64 `json:"share_of_clv"`
		} `json:"tiers"`
		Migration *struct {
			FromRun   string    `json:"from_run"`
			FromMonth string    `json:"from_month"`
			Tiers     []string  `json:"tiers"`
			Counts    [][]int64 `json:"counts"`
		} `json:"migration"`
	}
	q := url.Values{}
	g := r.URL.Query().Get("group")
	if g != "" {
		q.Set("group", g)
	}
	if !c.apiPage(w, r, s, "/v1/value/tiers", q, &ans) {
		return
	}
	d := valuePage{Run: ans.Run, Group: g, Customers: ans.Customers, Costs: ans.Value.Costs, Migration: ans.Migration}
	var bars []hbar
	for _, t := range ans.Tiers {
		d.Tiers = append(d.Tiers, tierRow{Tier: t.Tier, Customers: t.Customers, Share: t.Share, CLVMin: t.CLVMin, CLVMax: t.CLVMax,
			CLVSum: t.CLVSum, Profit: t.Profit, VaR: t.VaR, Churn: t.Churn, SC: t.ShareOfCLV})
		bars = append(bars, hbar{t.Tier, max(0, t.ShareOfCLV), grouped(t.ShareOfCLV*100, 1) + "%"})
	}
	d.Chart = hbars("share of CLV by value tier", bars)
	c.render(w, r, http.StatusOK, "value", c.page(r, &s, d))
}
