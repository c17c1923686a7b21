package api

import (
	"math"
	"net/http"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/models/serving"
)

// GET /v1/value/tiers: the value tiers of the run (top 1%, 5%, 20% and the
// rest of the scored customers by CLV; none: not ranked, e.g. lost), each
// with its size, CLV range, value, profit and churn, of the customers the
// /v1/customers conditions select (group= too); and the migration matrix
// between the previous feature month's run and this one (all customers,
// not filtered: it comes from the scoring run). Aggregates only.

// tierInfo is one tier's figures.
type tierInfo struct {
	Tier              string  `json:"tier"`
	Customers         int64   `json:"customers"`
	Share             float64 `json:"share"`
	CLVMin            float64 `json:"clv_min"`
	CLVMax            float64 `json:"clv_max"`
	CLVSum            float64 `json:"clv_sum"`
	ProfitSum         float64 `json:"profit_sum"`
	MonthlyValueSum   float64 `json:"monthly_value_sum"`
	ValueAtRiskSum    float64 `json:"value_at_risk_sum"`
	MeanChurn         float64 `json:"mean_churn_probability"`
	ShareOfCLV        float64 `json:"share_of_clv"`
	ShareOfProfit     float64 `json:"share_of_profit"`
	MeanMonthlyProfit float64 `json:"mean_monthly_profit"`
}

func (s *Server) valueTiers(r *request) error {
	sel, buf, err := s.selectRows(r)
	if err != nil {
		return err
	}
	defer s.ix.release(buf)
	c, err := insight.Compute(s.snap, insight.Query{Dims: []string{"value_tier"}, Measures: tierMeasures, Rows: sel})
	if err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "could not compute the tiers", Err: err}
	}
	// CLV range per tier: one pass over the selection.
	lo, hi := s.clvRanges(sel)
	loBy, hiBy := map[string]int64{}, map[string]int64{}
	for code, t := range s.snap.Dict("value_tier").Values {
		if lo[code] <= hi[code] {
			loBy[t], hiBy[t] = lo[code], hi[code]
		}
	}
	return s.writeTiers(r, c, loBy, hiBy)
}

// writeTiers answers the tiers of cube c (by value_tier, tierMeasures)
// with each tier's CLV range in cents (lo, hi; absent: no customer).
func (s *Server) writeTiers(r *request, c *insight.Cube, lo, hi map[string]int64) error {
	var total, totalCLV, totalProfit float64
	byTier := map[string]tierInfo{}
	for _, cell := range c.Cells {
		v := cell.Values
		if cell.IsRolled(0) {
			total, totalCLV, totalProfit = v[0], v[2], v[3]
			continue
		}
		ti := tierInfo{Tier: cell.Keys[0], Customers: cell.Count, CLVSum: v[2], ProfitSum: v[3], MonthlyValueSum: v[4],
			ValueAtRiskSum: v[5], MeanChurn: v[1]}
		if l, ok := lo[ti.Tier]; ok {
			ti.CLVMin, ti.CLVMax = serving.FromCents(l), serving.FromCents(hi[ti.Tier])
		}
		if ti.Customers > 0 {
			ti.MeanMonthlyProfit = math.Round(ti.ProfitSum/float64(ti.Customers)*100) / 100
		}
		byTier[ti.Tier] = ti
	}
	out := struct {
		Run        string                 `json:"run"`
		Customers  int                    `json:"customers"`
		Value      serving.ValueModel     `json:"value_model"`
		Tiers      []tierInfo             `json:"tiers"`
		Migration  *serving.TierMigration `json:"migration"`
		Definition string                 `json:"definition"`
	}{Run: s.meta.Run, Customers: c.Rows, Value: s.meta.Value, Tiers: []tierInfo{}, Migration: s.meta.TierMigration,
		Definition: "tiers rank the scored customers by CLV: top1 the first 1% (rounded up), top5 up to 5%, top20 up to 20%, rest the others; none: not ranked (lost)"}
	for _, t := range serving.Tiers {
		ti, ok := byTier[t]
		if !ok {
			ti = tierInfo{Tier: t}
		}
		if total > 0 {
			ti.Share = float64(ti.Customers) / total
		}
		if totalCLV != 0 {
			ti.ShareOfCLV = ti.CLVSum / totalCLV
		}
		if totalProfit != 0 {
			ti.ShareOfProfit = ti.ProfitSum / totalProfit
		}
		if math.IsNaN(ti.MeanChurn) {
			ti.MeanChurn = 0
		}
		out.Tiers = append(out.Tiers, ti)
		delete(byTier, t)
	}
	for _, ti := range byTier { // "" in a snapshot written before tiers
		out.Tiers = append(out.Tiers, ti)
	}
	return s.writeJSON(r, out)
}
