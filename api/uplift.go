package api

import (
	"cmp"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/models/serving"
)

// Who to contact and with what: GET /v1/customers/{id}/offers ranks the
// offers past campaigns tried by the customer's expected net value of a
// contact (the run's uplift model, serving.Meta.Uplift), and GET
// /v1/campaigns/results sums measured campaigns by channel or offer.

// offerItem is one offer for one customer.
type offerItem struct {
	Rank    int     `json:"rank"`
	Offer   string  `json:"offer"`
	Channel string  `json:"channel"`
	Cost    float64 `json:"cost_per_contact"`
	// Uplift is the expected drop in churn probability a contact with the
	// offer brings; Value is Uplift × CLV − Cost.
	Uplift float64 `json:"uplift"`
	Value  float64 `json:"expected_net_value"`
	Worth  bool    `json:"worth_contacting"` // Value > 0
	// Model is "own" when the offer has its own uplift model, otherwise
	// the stand-in (the pooled model of every offer's campaigns).
	Model string `json:"model"`
}

// customerOffers answers the next-best-offer list of one customer: the
// run's offers, best expected net value first. Roles and masking are the
// 360° view's.
func (s *Server) customerOffers(r *request) error {
	c, err := s.oneCustomer(r)
	if err != nil {
		return err
	}
	out := struct {
		Run          string      `json:"run"`
		SubscriberID string      `json:"subscriber_id"`
		Name         string      `json:"name"`
		MSISDN       string      `json:"msisdn"`
		CLV          float64     `json:"clv"`
		Probability  float64     `json:"churn_probability"`
		UpliftModel  string      `json:"uplift_model"`
		Method       string      `json:"method"`
		Offers       []offerItem `json:"offers"`
		Note         string      `json:"note,omitempty"`
	}{Run: s.meta.Run, SubscriberID: c.SubscriberID, Name: c.Name, MSISDN: c.MSISDN, CLV: money(c.CLV),
		Probability: probability(c.Probability), Offers: []offerItem{}}
	if r.access != Clear {
		out.Name, out.MSISDN = maskName(out.Name), maskMSISDN(out.MSISDN)
	}
	um := s.meta.Uplift
	switch {
	case um == nil:
		out.Note = "run " + s.meta.Run + " has no promoted uplift model (it is promoted only when it beats churn-risk ranking on a held-out campaign): no offer is ranked"
	case c.Status == "deactivated":
		out.UpliftModel, out.Method = um.Model, um.Method
		out.Note = "the customer has left: offers are ranked for active and suspended customers only (see the win-back-candidates list)"
	default:
		out.UpliftModel, out.Method = um.Model, um.Method
		for k, o := range um.Offers {
			up := c.OfferUplift[k]
			v := campaign.ContactValue(up, c.CLV, o.Cost)
			out.Offers = append(out.Offers, offerItem{Offer: o.Offer, Channel: o.Channel, Cost: money(o.Cost),
				Uplift: probability(up), Value: money(v), Worth: v > 0, Model: o.Model})
		}
		slices.SortStableFunc(out.Offers, func(a, b offerItem) int { return cmp.Compare(b.Value, a.Value) })
		for i := range out.Offers {
			out.Offers[i].Rank = i + 1
		}
		if len(um.Dropped) > 0 {
			out.Note = "offers beyond the first " + itoa(serving.MaxOffers) + " the run scores are left out"
		}
	}
	r.rows = 1
	return s.writeJSON(r, out)
}

// customerOffersSharded passes the look-up to the id's shard, as the 360°
// view's.
func (s *Server) customerOffersSharded(r *request) error {
	k := s.shardOf(r.param)
	resp, err := s.call(r, k, "/v1/customers/"+url.PathEscape(r.param)+"/offers", "")
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return shardError(k, resp)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(s.cfg.MaxBodyBytes)+1))
	if err != nil {
		return HTTPError{Code: http.StatusBadGateway, Msg: "a shard's answer is unreadable", Err: err}
	}
	r.rows = 1
	return s.respond(r, http.StatusOK, ctJSON, body)
}

func itoa(n int) string { return inum(int32(n)) }

// maxSummarised bounds the campaigns GET /v1/campaign-results measures
// (each reads its contacts, responses and churn).
const maxSummarised = 200

// campaignsResults answers the measured campaigns summed by channel (the
// default) or offer: contact and acceptance rates, uplift with a 95%
// interval stratified by campaign, retained customers and CLV, cost, ROI.
func (s *Server) campaignsResults(r *request) error {
	by, err := oneOf(r.q, pBy, []string{"channel", "offer"})
	if err != nil {
		return err
	}
	if s.cfg.Campaigns == nil {
		return errNoCampaigns
	}
	cs, err := s.cfg.Campaigns.List(r.ctx)
	if err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "could not read the campaigns", Err: err}
	}
	cs = cs[:min(len(cs), maxSummarised)] // newest first
	now := s.now()
	rs := make([]campaign.Results, 0, len(cs))
	for _, c := range cs {
		res, err := s.cfg.Campaigns.Measure(r.ctx, c.ID, now)
		if err != nil {
			return HTTPError{Code: http.StatusInternalServerError, Msg: "could not measure the campaigns", Err: err}
		}
		rs = append(rs, res)
	}
	key := func(x campaign.Results) string { return x.Channel }
	if by == "offer" {
		key = func(x campaign.Results) string { return x.Offer }
	}
	sums := campaign.Summarise(rs, key)
	return s.writeJSON(r, struct {
		By        string             `json:"by"`
		Campaigns int                `json:"campaigns"`
		Method    string             `json:"interval_method"`
		Groups    []campaign.Summary `json:"groups"`
	}{By: by, Campaigns: len(rs), Method: campaign.StratifiedMethod, Groups: sums})
}

// groupCandidates are the campaign candidates of a saved group: its
// active and suspended customers, best first by the expected net value of
// a contact when the run has an uplift model, else by value at risk (on a
// sharded front, the shards' best merged).
func (s *Server) groupCandidates(r *request, id string, size int) ([]campaign.Contact, error) {
	if !validID(id) {
		return nil, badParam("group", "must be a group id (see GET /v1/groups)")
	}
	var hits []candidate
	var err error
	if s.shards != nil {
		hits, err = s.groupCandidatesSharded(r, id, size)
	} else {
		hits, err = s.groupHits(r, id, size)
	}
	if err != nil {
		return nil, err
	}
	cands := make([]campaign.Contact, len(hits))
	for i := range hits {
		cands[i] = hits[i].Contact
	}
	return cands, nil
}

// candidate is a campaign candidate with its sort key (ascending, as a
// hit's): how the shards' best merge into the unsharded order.
type candidate struct {
	K       float64          `json:"k"`
	Contact campaign.Contact `json:"contact"`
}

// groupHits are the first size candidates of saved group id among this
// instance's customers, in order.
func (s *Server) groupHits(r *request, id string, size int) ([]candidate, error) {
	preds, err := s.groupPreds(r, id)
	if err != nil {
		return nil, err
	}
	sel, buf := s.ix.match(preds)
	defer s.ix.release(buf)
	field := "value_at_risk"
	if s.meta.Uplift != nil {
		field = "contact_value"
	}
	// Lost customers are not contacted: read down the ranking in batches,
	// dropping them, until size are taken.
	top := s.ix.top(sel, order{field: numFieldIndex(field), desc: true}, nil, len(sel))
	cands := make([]candidate, 0, min(len(top), size))
	for start := 0; start < len(top) && len(cands) < size; start += exportBatch {
		batch := top[start:min(start+exportBatch, len(top))]
		rows := make([]int32, len(batch))
		for i, e := range batch {
			rows[i] = e.r
		}
		cs, err := s.rows(r, rows)
		if err != nil {
			return nil, err
		}
		for i := range cs {
			if c := &cs[i]; c.Status != "deactivated" && len(cands) < size {
				cands = append(cands, candidate{K: batch[i].k, Contact: contactOf(c)})
			}
		}
	}
	return cands, nil
}

// groupCandidatesSharded merges the shards' first size candidates of a
// saved group by (sort key, id), the unsharded order, and keeps size.
func (s *Server) groupCandidatesSharded(r *request, id string, size int) ([]candidate, error) {
	q := url.Values{pGroup: {id}, pSize: {strconv.Itoa(size)}}
	parts := make([][]candidate, len(s.shards))
	if err := s.fanOut(r, shardCandidates, q.Encode(), func(k int) any { return &parts[k] }); err != nil {
		return nil, err
	}
	var all []candidate
	for _, p := range parts {
		all = append(all, p...)
	}
	slices.SortFunc(all, func(a, b candidate) int {
		if c := cmp.Compare(a.K, b.K); c != 0 {
			return c
		}
		return cmp.Compare(a.Contact.SubscriberID, b.Contact.SubscriberID)
	})
	return all[:min(len(all), size)], nil
}
