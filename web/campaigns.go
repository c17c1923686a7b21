package web

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/campaign"
)

// The campaigns pages: the campaigns with a form to create one from a list
// (POST /console/campaigns, CSRF-checked, sent to the API's POST
// /v1/campaigns as the signed-in user), and one campaign with its measured
// results and the uplift's interval drawn.

func init() {
	for lang, d := range map[string]dict{
		"en": {"campaigns": "Campaigns", "newCampaign": "New campaign from a list", "offer": "Offer", "channel": "Channel",
			"costPerContact": "Cost per contact", "controlShare": "Control share", "create": "Create", "created": "Created",
			"treated": "Treated", "control": "Control", "noCampaigns": "No campaigns yet.", "results": "Results",
			"contactRate": "Reached", "acceptance": "Accepted (of reached)", "churnTreated": "Churn, treated",
			"churnControl": "Churn, control", "uplift": "Uplift (control − treated churn)", "retained": "Customers kept",
			"retainedCLV": "CLV kept", "cost": "Cost", "roi": "ROI", "interval": "95% interval", "horizon": "Horizon ends",
			"incomplete": "The horizon has not passed: churn so far is a lower bound.", "exportTreated": "Export the treated arm (CSV)",
			"campaignHint":  "The first customers of the list are taken; the control share is drawn at random (seeded by the campaign id) and not contacted.",
			"outbound_call": "Outbound call", "sms": "SMS", "mail": "Mail", "shop": "Shop"},
		"zh": {"campaigns": "营销活动", "newCampaign": "从名单创建活动", "offer": "优惠", "channel": "渠道",
			"costPerContact": "每次接触成本", "controlShare": "对照组比例", "create": "创建", "created": "创建时间",
			"treated": "干预组", "control": "对照组", "noCampaigns": "暂无活动。", "results": "结果",
			"contactRate": "已接通", "acceptance": "接受率（接通者中）", "churnTreated": "干预组流失率",
			"churnControl": "对照组流失率", "uplift": "提升（对照组 − 干预组流失率）", "retained": "挽留客户数",
			"retainedCLV": "挽留的客户终身价值", "cost": "成本", "roi": "投资回报率", "interval": "95% 区间", "horizon": "观察期结束",
			"incomplete": "观察期尚未结束：目前的流失率是下限。", "exportTreated": "导出干预组（CSV）",
			"campaignHint":  "取名单中排名靠前的客户；对照组按比例随机抽取（以活动编号为种子），不予接触。",
			"outbound_call": "外呼", "sms": "短信", "mail": "邮件", "shop": "门店"},
	} {
		for k, v := range d {
			dicts[lang][k] = v
		}
	}
}

// campaignJSON is a campaign as the API answers it.
type campaignJSON struct {
	campaign.Campaign
	HorizonEnd time.Time `json:"horizon_end"`
}

type campaignsPage struct {
	Campaigns []campaignJSON
	Lists     []struct {
		Name  string `json:"name"`
		Title string `json:"title"`
		Size  int    `json:"size"`
	}
	Channels []string
	Form     url.Values
	Error    string
	// ByChannel sums every campaign's results per channel; Groups are
	// the saved groups a campaign may be drawn from.
	ByChannel []campaign.Summary
	Groups    []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
}

func (c *Console) campaigns(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	c.campaignsPage(w, r, s, http.StatusOK, url.Values{"size": {"1000"}, "control_share": {"0.2"}, "cost_per_contact": {"3.50"}, "offer": {"discount-10"}}, "")
}

func (c *Console) campaignsPage(w http.ResponseWriter, r *http.Request, s session, status int, form url.Values, msg string) {
	var p campaignsPage
	var idx struct {
		Campaigns []campaignJSON `json:"campaigns"`
	}
	if !c.apiPage(w, r, s, "/v1/campaigns", nil, &idx) {
		return
	}
	p.Campaigns, p.Channels, p.Form, p.Error = idx.Campaigns, campaign.Channels, form, msg
	if st, _, b := c.apiGet(r, s, "/v1/lists", nil); st == http.StatusOK {
		var l struct {
			Lists json.RawMessage `json:"lists"`
		}
		if json.Unmarshal(b, &l) == nil {
			json.Unmarshal(l.Lists, &p.Lists)
		}
	}
	p.ByChannel, p.Groups = c.channelResults(r, s), c.groupOptions(r, s)
	c.render(w, r, status, "campaigns", c.page(r, &s, p))
}

// createCampaign takes the form, asks the API to create the campaign and
// shows it, or the form again with the API's reason.
func (c *Console) createCampaign(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	if !c.formPost(w, r, s) {
		return
	}
	f := r.PostForm
	spec := campaign.Spec{Name: f.Get("name"), Offer: f.Get("offer"), Channel: f.Get("channel"), List: f.Get("list")}
	if g := f.Get("group"); g != "" {
		spec.List, spec.Group = "", g
	}
	var bad []string
	num := func(field string, v *float64) {
		x, err := strconv.ParseFloat(strings.TrimSpace(f.Get(field)), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			bad = append(bad, field)
		}
		*v = x
	}
	num("cost_per_contact", &spec.CostPerContact)
	num("control_share", &spec.ControlShare)
	size, err := strconv.Atoi(strings.TrimSpace(f.Get("size")))
	if err != nil {
		bad = append(bad, "size")
	}
	spec.Size = size
	if len(bad) > 0 {
		c.campaignsPage(w, r, s, http.StatusBadRequest, f, "not a number: "+strings.Join(bad, ", "))
		return
	}
	body, _ := json.Marshal(spec)
	c.createThrough(w, r, s, "/v1/campaigns", body,
		func(id string) string { return "/console/campaigns/" + url.PathEscape(id) + "?lang=" + language(r) },
		func(detail string) { c.campaignsPage(w, r, s, http.StatusBadRequest, f, detail) })
}

// apiCall sends method path with a JSON body to the API as the session's
// user.
func (c *Console) apiCall(r *http.Request, s session, method, path string, body []byte) (int, http.Header, []byte) {
	req, err := http.NewRequestWithContext(api.WithUser(r.Context(), s.User, s.Role), method, path, bytes.NewReader(body))
	if err != nil {
		return http.StatusBadRequest, http.Header{}, nil
	}
	req.Header.Set("Content-Type", "application/json")
	w := &buffer{header: http.Header{}}
	c.cfg.API.ServeHTTP(w, req)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.status, w.header, w.body.Bytes()
}

// intervalBar places an interval on a 0..300 px axis spanning lo..hi of
// the scale (a percentage-point axis around zero).
type intervalBar struct {
	Lo, Hi, At, Zero float64 // x positions
}

func newIntervalBar(iv campaign.Interval) intervalBar {
	span := math.Max(0.05, math.Max(math.Abs(iv.Lo), math.Abs(iv.Hi))*1.2)
	x := func(v float64) float64 { return math.Round((150+150*v/span)*10) / 10 }
	return intervalBar{Lo: x(iv.Lo), Hi: x(iv.Hi), At: x(iv.Estimate), Zero: 150}
}

type campaignPage struct {
	Campaign campaignJSON
	Results  campaign.Results
	Bar      intervalBar
	CanCSV   bool
}

func (c *Console) campaign(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	var p campaignPage
	if !c.apiPage(w, r, s, "/v1/campaigns/"+url.PathEscape(id), nil, &p.Campaign) {
		return
	}
	if !c.apiPage(w, r, s, "/v1/campaigns/"+url.PathEscape(id)+"/results", nil, &p.Results) {
		return
	}
	if !math.IsNaN(p.Results.Uplift.Estimate) {
		p.Bar = newIntervalBar(p.Results.Uplift)
	}
	p.CanCSV = s.Role.Access(api.OpCampaignContactsCSV) != api.Denied
	c.render(w, r, http.StatusOK, "campaign", c.page(r, &s, p))
}

// campaignCSV is the treated arm's export, as the API answers it for the role.
func (c *Console) campaignCSV(w http.ResponseWriter, r *http.Request) {
	s, ok := c.current(r)
	if !ok {
		http.Error(w, "signed out", http.StatusUnauthorized)
		return
	}
	status, h, body := c.apiGet(r, s, "/v1/campaigns/"+url.PathEscape(r.PathValue("id"))+"/contacts", url.Values{"format": {"csv"}})
	for _, k := range []string{"Content-Type", "Content-Encoding", "Content-Disposition", "Vary"} {
		if v := h.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.WriteHeader(status)
	w.Write(body)
}
