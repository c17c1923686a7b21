package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/models/serving"
)

// segmentRow is one segment with its figures (when the role may see the
// cube's aggregates).
type segmentRow struct {
	serving.Segment
	Customers   int
	Churn       float64 // mean churn probability
	Value       float64 // mean monthly value
	ValueAtRisk float64 // sum
}

type segmentsPage struct {
	Run                   string
	Rows                  []segmentRow
	Figures               bool // the cube answered
	SizeChart, ChurnChart template.HTML
	ValueChart, RiskChart template.HTML
}

func (c *Console) segments(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	var segs struct {
		Run      string            `json:"run"`
		Segments []serving.Segment `json:"segments"`
	}
	if !c.apiPage(w, r, s, "/v1/segments", nil, &segs) {
		return
	}
	d := segmentsPage{Run: segs.Run}
	for _, sg := range segs.Segments {
		d.Rows = append(d.Rows, segmentRow{Segment: sg, Churn: nan, Value: nan, ValueAtRisk: nan})
	}
	var cube cubeAnswer
	if s.Role.Access(api.OpCube) != api.Denied && c.apiJSON(r, s, "/v1/cube",
		url.Values{"dims": {"segment"}, "measures": {"count,churn_rate,monthly_value_mean,value_at_risk_sum"}}, &cube) == nil {
		d.Figures = true
		for _, cell := range cube.Cells {
			key, ok := cell["segment"].(string)
			if !ok {
				continue // the roll-up
			}
			id, err := strconv.Atoi(key)
			if err != nil {
				continue
			}
			for i := range d.Rows {
				if int(d.Rows[i].ID) == id {
					row := &d.Rows[i]
					row.Customers, row.Churn = int(num(cell, "count")), num(cell, "churn_rate")
					row.Value, row.ValueAtRisk = num(cell, "monthly_value_mean"), num(cell, "value_at_risk_sum")
				}
			}
		}
		var size, churn, value, risk []hbar
		for _, row := range d.Rows {
			lab := row.Name
			if lab == "" {
				lab = strconv.Itoa(int(row.ID))
			}
			size = append(size, hbar{lab, float64(row.Customers), grouped(float64(row.Customers), 0)})
			churn = append(churn, hbar{lab, nz(row.Churn), grouped(nz(row.Churn)*100, 1) + "%"})
			value = append(value, hbar{lab, nz(row.Value), grouped(nz(row.Value), 2)})
			risk = append(risk, hbar{lab, nz(row.ValueAtRisk), grouped(nz(row.ValueAtRisk), 2)})
		}
		d.SizeChart, d.ChurnChart = hbars("customers per segment", size), hbars("churn probability per segment", churn)
		d.ValueChart, d.RiskChart = hbars("monthly value per segment", value), hbars("value at risk per segment", risk)
	}
	c.render(w, r, http.StatusOK, "segments", c.page(r, &s, d))
}
