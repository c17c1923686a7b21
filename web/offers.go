package web

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/telcolake/telcolake/campaign"
)

// Who to contact, in the console: the 360° page's next-best offers (GET
// /v1/customers/{id}/offers, the same roles and masking as the page) and
// the campaigns page's results by channel (GET /v1/campaign-results).

func init() {
	for lang, d := range map[string]dict{
		"en": {"nextOffers": "Next-best offers", "expectedValue": "Expected net value", "worth": "Worth a contact",
			"offerModel": "Model", "byChannel": "Results by channel, all campaigns", "campaignCount": "Campaigns",
			"savedGroup": "Saved group", "noGroup": "(none: use the list)", "stratified": "Uplift pooled by campaign (each campaign's uplift weighted by its treated customers), 95% interval.",
			"yes": "yes", "no": "no"},
		"zh": {"nextOffers": "最佳推荐优惠", "expectedValue": "预期净值", "worth": "值得接触",
			"offerModel": "模型", "byChannel": "各渠道结果（全部活动）", "campaignCount": "活动数",
			"savedGroup": "已保存客户群", "noGroup": "（无：使用名单）", "stratified": "按活动分层合并提升（各活动提升按干预组人数加权），95% 区间。",
			"yes": "是", "no": "否"},
	} {
		for k, v := range d {
			dicts[lang][k] = v
		}
	}
}

// customerOffers is the API's next-best-offer answer for one customer.
type customerOffers struct {
	Model  string `json:"uplift_model"`
	Offers []struct {
		Rank    int     `json:"rank"`
		Offer   string  `json:"offer"`
		Channel string  `json:"channel"`
		Cost    float64 `json:"cost_per_contact"`
		Uplift  float64 `json:"uplift"`
		Value   float64 `json:"expected_net_value"`
		Worth   bool    `json:"worth_contacting"`
		Model   string  `json:"model"`
	} `json:"offers"`
	Note string `json:"note"`
}

// customerOffers reads a customer's offers; an empty answer when the API
// refuses or fails (the rest of the page still shows).
func (c *Console) customerOffers(r *http.Request, s session, id string) customerOffers {
	var o customerOffers
	if status, _, body := c.apiGet(r, s, "/v1/customers/"+url.PathEscape(id)+"/offers", nil); status == http.StatusOK {
		json.Unmarshal(body, &o)
	}
	return o
}

// channelResults reads the campaigns' results by channel; nil when the
// API refuses or fails.
func (c *Console) channelResults(r *http.Request, s session) []campaign.Summary {
	var ans struct {
		Groups []campaign.Summary `json:"groups"`
	}
	if status, _, body := c.apiGet(r, s, "/v1/campaign-results", url.Values{"by": {"channel"}}); status == http.StatusOK {
		json.Unmarshal(body, &ans)
	}
	return ans.Groups
}

// groupOptions are the saved groups the user may draw a campaign from.
func (c *Console) groupOptions(r *http.Request, s session) []struct {
	ID   string `json:"id"`
	Name string `json:"name"`
} {
	var ans struct {
		Groups []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"groups"`
	}
	if status, _, body := c.apiGet(r, s, "/v1/groups", nil); status == http.StatusOK {
		json.Unmarshal(body, &ans)
	}
	return ans.Groups
}
