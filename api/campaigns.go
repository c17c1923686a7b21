package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/models/serving"
)

// Campaigns keeps retention campaigns (campaign.LakeStore in the lake).
type Campaigns interface {
	Save(ctx context.Context, c campaign.Campaign, contacts []campaign.Contact) error
	List(ctx context.Context) ([]campaign.Campaign, error)
	Get(ctx context.Context, id string) (campaign.Campaign, error)
	Contacts(ctx context.Context, id string) ([]campaign.Contact, error)
	Measure(ctx context.Context, id string, now time.Time) (campaign.Results, error)
}

// maxCampaignBody bounds the body of POST /v1/campaigns.
const maxCampaignBody = 16 << 10

var errNoCampaigns = HTTPError{Code: http.StatusServiceUnavailable, Msg: "campaigns are not configured for this API"}

// campaignInfo is a campaign as the API shows it.
type campaignInfo struct {
	campaign.Campaign
	HorizonEnd time.Time `json:"horizon_end"`
	Links      struct {
		Contacts string `json:"contacts"`
		Export   string `json:"export"`
		Results  string `json:"results"`
	} `json:"links"`
}

func newCampaignInfo(c campaign.Campaign) campaignInfo {
	ci := campaignInfo{Campaign: c, HorizonEnd: c.HorizonEnd()}
	base := "/v1/campaigns/" + c.ID
	ci.Links.Contacts, ci.Links.Export, ci.Links.Results = base+"/contacts", base+"/contacts?format=csv", base+"/results"
	return ci
}

// createCampaign draws a campaign from a list of the current run: the top
// size customers, a seeded control group, frozen into the lake.
func (s *Server) createCampaign(r *request) error {
	if s.cfg.Campaigns == nil {
		return errNoCampaigns
	}
	var spec campaign.Spec
	if err := readJSONBody(r, maxCampaignBody, &spec); err != nil {
		return err
	}
	if err := spec.Validate(); err != nil {
		var fe *campaign.FieldError
		if errors.As(err, &fe) {
			return badParam(fe.Field, "%s", fe.Msg)
		}
		return HTTPError{Code: http.StatusBadRequest, Msg: err.Error()}
	}
	var cands []campaign.Contact
	var err error
	if spec.Group != "" {
		if cands, err = s.groupCandidates(r, spec.Group, spec.Size); err != nil {
			return err
		}
	} else {
		l, ok := s.lists[spec.List]
		if !ok {
			return badParam("list", "no list %s in run %s (see /v1/lists)", quote(spec.List), s.meta.Run)
		}
		if cands, err = s.listContacts(r, l.Name, spec.Size); err != nil {
			return err
		}
	}
	now := s.now()
	c, contacts, err := campaign.Freeze(campaign.NewID(now), spec, s.meta.Run, now, r.key.Name, cands)
	if err != nil {
		var fe *campaign.FieldError
		if errors.As(err, &fe) {
			return badParam(fe.Field, "%s", fe.Msg)
		}
		return err
	}
	if err := s.cfg.Campaigns.Save(r.ctx, c, contacts); err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "could not save the campaign", Err: err}
	}
	b, err := json.Marshal(newCampaignInfo(c))
	if err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "internal error", Err: err}
	}
	r.w.Header().Set("Location", "/v1/campaigns/"+c.ID)
	return s.respond(r, http.StatusCreated, ctJSON, b)
}

// listContacts are the first size members of list name as campaign
// candidates (on a sharded front, from the shards).
func (s *Server) listContacts(r *request, name string, size int) ([]campaign.Contact, error) {
	if s.shards != nil {
		return s.listContactsSharded(r, name, size)
	}
	rows := s.listRows[name]
	rows = rows[:min(len(rows), size)]
	cands := make([]campaign.Contact, 0, len(rows))
	if err := s.eachRow(r, rows, func(_ int, c *serving.Customer) bool {
		cands = append(cands, contactOf(c))
		return true
	}); err != nil {
		return nil, err
	}
	return cands, nil
}

// contactOf is customer c as a campaign candidate.
func contactOf(c *serving.Customer) campaign.Contact {
	return campaign.Contact{SubscriberID: c.SubscriberID, Probability: c.Probability, Reasons: c.Reasons,
		Segment: c.SegmentName, MonthlyValue: c.MonthlyValue, CLV: c.CLV, ValueAtRisk: c.ValueAtRisk}
}

// bodyError turns a JSON decoding error into a 400 naming the field.
func bodyError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return badParam(te.Field, "must be a JSON %s", te.Type.Kind())
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		f := strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
		return badParam(f, "is not a campaign field (name, offer, channel, cost_per_contact, size, control_share, list, group, horizon_days)")
	}
	return HTTPError{Code: http.StatusBadRequest, Msg: "the body is not a JSON object: " + err.Error()}
}

func (s *Server) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

func (s *Server) campaigns(r *request) error {
	if s.cfg.Campaigns == nil {
		return errNoCampaigns
	}
	cs, err := s.cfg.Campaigns.List(r.ctx)
	if err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "could not read the campaigns", Err: err}
	}
	out := make([]campaignInfo, len(cs))
	for i, c := range cs {
		out[i] = newCampaignInfo(c)
	}
	return s.writeJSON(r, struct {
		Campaigns []campaignInfo `json:"campaigns"`
	}{out})
}

// getCampaign reads the campaign of the path.
func (s *Server) getCampaign(r *request) (campaign.Campaign, error) {
	if s.cfg.Campaigns == nil {
		return campaign.Campaign{}, errNoCampaigns
	}
	c, err := s.cfg.Campaigns.Get(r.ctx, r.param)
	if errors.Is(err, campaign.ErrNotFound) {
		return c, HTTPError{Code: http.StatusNotFound, Msg: "no campaign " + quote(r.param) + " (see /v1/campaigns)"}
	}
	if err != nil {
		return c, HTTPError{Code: http.StatusInternalServerError, Msg: "could not read the campaign", Err: err}
	}
	return c, nil
}

func (s *Server) campaign(r *request) error {
	c, err := s.getCampaign(r)
	if err != nil {
		return err
	}
	return s.writeJSON(r, newCampaignInfo(c))
}

func (s *Server) campaignResults(r *request) error {
	if _, err := s.getCampaign(r); err != nil {
		return err
	}
	res, err := s.cfg.Campaigns.Measure(r.ctx, r.param, s.now())
	if err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "could not measure the campaign", Err: err}
	}
	return s.writeJSON(r, res)
}

// contactItem is one contact of a campaign: frozen scores and value, with
// the name and MSISDN of the current snapshot, masked as the role says.
type contactItem struct {
	Rank         int      `json:"rank"`
	Arm          string   `json:"arm"`
	SubscriberID string   `json:"subscriber_id"`
	Name         string   `json:"name"`
	MSISDN       string   `json:"msisdn"`
	Probability  float64  `json:"churn_probability"`
	Reasons      []string `json:"reasons"`
	Segment      string   `json:"segment_name"`
	MonthlyValue float64  `json:"monthly_value"`
	CLV          float64  `json:"clv"`
	ValueAtRisk  float64  `json:"value_at_risk"`
}

// contactArms are the values of arm=: treated (the default, what the call
// centre gets), control, or all.
var contactArms = []string{campaign.ArmTreated, campaign.ArmControl, "all"}

// campaignContacts answers the frozen contact list (JSON or CSV). The
// export for the call centre or SMS platform is the treated arm only, by
// default: the control group must not be contacted, so it is not handed
// over unless arm=control or arm=all asks for it (for analysis).
func (s *Server) campaignContacts(r *request) error {
	arm, ok, err := r.q.one("arm")
	if err != nil {
		return err
	}
	if !ok {
		arm = campaign.ArmTreated
	} else if arm != campaign.ArmTreated && arm != campaign.ArmControl && arm != "all" {
		return badParam("arm", "must be one of %s", strings.Join(contactArms, ", "))
	}
	var limit int
	var cursor string
	var csvOut bool
	if err := s.parsePaging(r.q, &limit, &cursor, &csvOut); err != nil {
		return err
	}
	offset := 0
	if cursor != "" {
		o, err := s.cursors.decodeList(cursor, "campaign:"+r.param+":"+arm)
		if err != nil {
			return badParam(pCursor, "invalid (pass next_cursor of the previous page unchanged)")
		}
		offset = o
	}
	c, err := s.getCampaign(r)
	if err != nil {
		return err
	}
	all, err := s.cfg.Campaigns.Contacts(r.ctx, c.ID)
	if err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "could not read the contacts", Err: err}
	}
	var sel []campaign.Contact
	for _, ct := range all {
		if arm == "all" || ct.Arm == arm {
			sel = append(sel, ct)
		}
	}
	if !csvOut {
		offset = min(offset, len(sel))
		end := min(offset+limit, len(sel))
		items, err := s.contactItems(r, sel[offset:end])
		if err != nil {
			return err
		}
		out := struct {
			CampaignID string        `json:"campaign_id"`
			Arm        string        `json:"arm"`
			Count      int           `json:"count"`
			Items      []contactItem `json:"items"`
			NextCursor *string       `json:"next_cursor"`
		}{CampaignID: c.ID, Arm: arm, Count: len(sel), Items: items}
		if end < len(sel) {
			cur := s.cursors.encodeList("campaign:"+c.ID+":"+arm, end)
			out.NextCursor = &cur
		}
		r.rows = len(items)
		return s.writeJSON(r, out)
	}
	if len(sel)*minCSVRow/2 > s.cfg.MaxBodyBytes {
		return tooManyRows(len(sel), s.cfg.MaxBodyBytes)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"campaign_id", "offer", "channel", "rank", "arm", "subscriber_id", "name", "msisdn",
		"churn_probability", "reasons", "segment_name", "monthly_value", "clv", "value_at_risk"})
	for start := 0; start < len(sel); start += exportBatch {
		items, err := s.contactItems(r, sel[start:min(start+exportBatch, len(sel))])
		if err != nil {
			return err
		}
		for _, it := range items {
			w.Write([]string{c.ID, c.Offer, c.Channel, strconv.Itoa(it.Rank), it.Arm, csvText(it.SubscriberID), csvText(it.Name),
				csvText(it.MSISDN), fnum(it.Probability), csvText(strings.Join(it.Reasons, "; ")), csvText(it.Segment),
				fnum(it.MonthlyValue), fnum(it.CLV), fnum(it.ValueAtRisk)})
		}
		w.Flush()
		if buf.Len() > s.cfg.MaxBodyBytes {
			return tooManyRows(len(sel), s.cfg.MaxBodyBytes)
		}
	}
	h := headers(ctCSV)
	h["Content-Disposition"] = fmt.Sprintf(`attachment; filename="%s-%s.csv"`, fileSafe(c.ID), fileSafe(arm))
	r.rows = len(sel)
	r.write(http.StatusOK, h, buf.Bytes())
	return nil
}

// contactItems joins contacts with the snapshot's names and MSISDNs.
func (s *Server) contactItems(r *request, cs []campaign.Contact) ([]contactItem, error) {
	if s.shards != nil {
		return s.contactItemsSharded(r, cs)
	}
	rows := make([]int32, 0, len(cs))
	at := make([]int, len(cs))
	for i, ct := range cs {
		at[i] = -1
		if row, ok := s.ix.row(ct.SubscriberID); ok {
			at[i] = len(rows)
			rows = append(rows, int32(row))
		}
	}
	custs, err := s.rows(r, rows)
	if err != nil {
		return nil, err
	}
	out := make([]contactItem, len(cs))
	for i, ct := range cs {
		it := contactItem{Rank: ct.Rank, Arm: ct.Arm, SubscriberID: ct.SubscriberID, Probability: ct.Probability,
			Reasons: ct.Reasons, Segment: ct.Segment, MonthlyValue: ct.MonthlyValue, CLV: ct.CLV, ValueAtRisk: ct.ValueAtRisk}
		if it.Reasons == nil {
			it.Reasons = []string{}
		}
		if at[i] >= 0 {
			it.Name, it.MSISDN = custs[at[i]].Name, custs[at[i]].MSISDN
		}
		if r.access != Clear {
			it.Name, it.MSISDN = maskName(it.Name), maskMSISDN(it.MSISDN)
		}
		out[i] = it
	}
	return out, nil
}
