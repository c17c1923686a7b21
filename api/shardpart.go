package api

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"

	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/models/serving"
)

// The shard protocol: what a shard's api instance answers a sharded front
// (NewFront), beside its public API. Each answer is the shard's part of a
// public answer, in a form the front merges exactly; the front never sees
// a row it would not show. The routes live under /shard/v1/ and are not
// part of the public API (openapi.json, the gateway's routes): in AWS a
// front reaches its shards by invoking their functions (IAM-guarded), here
// over HTTP or in process. Every request still carries the caller's
// credentials, which the shard checks itself against the same operation's
// row of the role matrix (a shard route's op is its public route's), so a
// shard reached directly answers nothing a public route would not.

// Shard protocol paths.
const (
	shardPrefix     = "/shard/v1"
	shardCustomers  = shardPrefix + "/customers"
	shardCube       = shardPrefix + "/cube"
	shardTiers      = shardPrefix + "/tiers"
	shardLists      = shardPrefix + "/lists"
	shardList       = shardPrefix + "/lists/{name}"
	shardCount      = shardPrefix + "/count"
	shardNames      = shardPrefix + "/names"
	shardCandidates = shardPrefix + "/candidates"
)

// The shard protocol's own parameters.
const (
	pContacts = "contacts" // a list window as campaign candidates
	pIDs      = "ids"      // subscriber ids, comma-separated
	pSize     = "size"     // how many campaign candidates
)

// shardRoutes are the shard protocol's routes; each op is the public
// route's whose part it answers.
func shardRoutes() []route {
	return []route{
		{pattern: shardCustomers, op: OpCustomers, csvOp: OpCustomersCSV, params: filterParams(), serve: (*Server).partCustomers},
		{pattern: shardCube, op: OpCube, params: cubeParams(), serve: (*Server).partCube},
		{pattern: shardTiers, op: OpValueTiers, params: conditionParams(), serve: (*Server).partTiers},
		{pattern: shardLists, op: OpLists, serve: (*Server).partLists},
		// from= and to= (ingestfiles.go's names): a window of positions.
		{pattern: shardList, op: OpList, params: []paramSpec{{name: pGroup}, {name: pFrom}, {name: pTo}, {name: pContacts}}, serve: (*Server).partList},
		{pattern: shardNames, op: OpCampaignContacts, params: []paramSpec{{name: pIDs, multi: true}}, serve: (*Server).partNames},
		{pattern: shardCount, op: OpGroups, params: savedConditionParams(), serve: (*Server).partCount},
		// A campaign from a saved group: the shard's best candidates.
		{pattern: shardCandidates, op: OpCampaignCreate, params: []paramSpec{{name: pGroup}, {name: pSize}}, serve: (*Server).partCandidates},
	}
}

// customersPart is a shard's part of a page of GET /v1/customers: its
// count, and its first hits in the sort order after the cursor.
type customersPart struct {
	Count int     `json:"count"`
	Field int     `json:"field"`
	Desc  bool    `json:"desc"`
	Hash  [8]byte `json:"hash"`
	Hits  []hit   `json:"hits"`
}

// hit is one customer of a part: its sort key (ascending), sort value (the
// cursor's), id and the item as the caller may see it (CSV: its cells).
type hit struct {
	K    float64  `json:"k"`
	V    float64  `json:"v"`
	ID   string   `json:"id"`
	Item *item    `json:"item,omitempty"`
	Rec  []string `json:"rec,omitempty"`
}

func (s *Server) writePart(r *request, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "internal error", Err: err}
	}
	r.write(http.StatusOK, headers(ctJSON), b)
	return nil
}

// partCustomers answers a page's part: the shard's count and its first
// limit+1 hits after the cursor. With format=csv it streams every hit in
// order as JSON lines after a first line with the count (no hits when even
// this shard's part could not fit an answer).
func (s *Server) partCustomers(r *request) error {
	f, from, err := s.filterStart(r)
	if err != nil {
		return err
	}
	sel, buf := s.ix.match(f.preds)
	defer s.ix.release(buf)
	out := customersPart{Count: len(sel), Field: f.order.field, Desc: f.order.desc, Hash: f.hash, Hits: []hit{}}
	if f.csv {
		return s.streamPart(r, &out, sel, f.order)
	}
	top := s.ix.top(sel, f.order, from, f.limit+1)
	rows := make([]int32, len(top))
	for j, e := range top {
		rows[j] = e.r
	}
	cs, err := s.rows(r, rows)
	if err != nil {
		return err
	}
	for j, e := range top {
		it := newItem(&cs[j], r.access)
		out.Hits = append(out.Hits, hit{K: e.k, V: s.ix.value(f.order, e.r), ID: cs[j].SubscriberID, Item: &it})
	}
	r.rows = len(out.Hits)
	return s.writePart(r, out)
}

// streamPart writes a CSV export's part: the head (count), then one line
// per hit in order, read in batches.
func (s *Server) streamPart(r *request, head *customersPart, sel []int32, o order) error {
	if len(sel)*minGzipCSVRow > s.cfg.MaxBodyBytes {
		sel = nil // the whole cannot fit either; the front says so
	}
	sorted := s.ix.sorted(sel, o)
	rows := make([]int32, len(sorted))
	for i, e := range sorted {
		rows[i] = e.r
	}
	for k, v := range headers(ctJSONLines) {
		r.w.Header().Set(k, v)
	}
	r.w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(r.w, 64<<10)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(head); err != nil {
		return nil // the front went away
	}
	var rec []string
	err := s.eachRow(r, rows, func(j int, c *serving.Customer) bool {
		it := newItem(c, r.access)
		rec = csvRow(rec[:0], &it)
		return enc.Encode(hit{K: sorted[j].k, V: s.ix.value(o, sorted[j].r), ID: c.SubscriberID, Rec: rec}) == nil
	})
	bw.Flush()
	r.rows = len(rows)
	if err != nil {
		s.cfg.Log.ErrorContext(r.ctx, "api: shard export failed mid-stream", "err", err)
	}
	return nil
}

// cubePart is a shard's part of a cube (or of the value tiers): the
// partial cube and, for the tiers, each tier's CLV range in cents.
type cubePart struct {
	Partial *insight.Partial `json:"partial"`
	CLVMin  map[string]int64 `json:"clv_min,omitempty"`
	CLVMax  map[string]int64 `json:"clv_max,omitempty"`
}

func (s *Server) partCube(r *request) error {
	dims, measures, err := parseCube(r.q)
	if err != nil {
		return err
	}
	if _, err := wantsCSV(r.q, r.hr.Header); err != nil {
		return err
	}
	sel, buf, err := s.selectRows(r)
	if err != nil {
		return err
	}
	defer s.ix.release(buf)
	p, err := insight.ComputePartial(s.snap, insight.Query{Dims: dims, Measures: measures, Rows: sel})
	if err != nil {
		return cubeError(err)
	}
	return s.writePart(r, cubePart{Partial: p})
}

// cubeError is the answer to a cube that could not be computed.
func cubeError(err error) error {
	if errors.Is(err, insight.ErrTooManyCells) {
		return badParam(pDims, "the cube has more than %d cells; use fewer dimensions or narrow the filter", insight.DefaultMaxCells)
	}
	return HTTPError{Code: http.StatusInternalServerError, Msg: "could not compute the cube", Err: err}
}

// selectRows is the selection of a request's conditions and group=.
func (s *Server) selectRows(r *request) ([]int32, *[]int32, error) {
	preds, err := s.parseConditions(r.q, io.Discard)
	if err != nil {
		return nil, nil, err
	}
	gp, err := s.groupConditions(r, io.Discard)
	if err != nil {
		return nil, nil, err
	}
	sel, buf := s.ix.match(append(preds, gp...))
	return sel, buf, nil
}

// tierMeasures are the measures of the value tiers.
var tierMeasures = []string{"count", "churn_rate", "clv_sum", "profit_sum", "monthly_value_sum", "value_at_risk_sum"}

func (s *Server) partTiers(r *request) error {
	sel, buf, err := s.selectRows(r)
	if err != nil {
		return err
	}
	defer s.ix.release(buf)
	p, err := insight.ComputePartial(s.snap, insight.Query{Dims: []string{"value_tier"}, Measures: tierMeasures, Rows: sel})
	if err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "could not compute the tiers", Err: err}
	}
	lo, hi := s.clvRanges(sel)
	out := cubePart{Partial: p, CLVMin: map[string]int64{}, CLVMax: map[string]int64{}}
	tiers := s.snap.Dict("value_tier")
	for code, t := range tiers.Values {
		if lo[code] <= hi[code] {
			out.CLVMin[t], out.CLVMax[t] = lo[code], hi[code]
		}
	}
	return s.writePart(r, out)
}

// clvRanges are the smallest and largest CLV (cents) of sel per value
// tier code; lo > hi for a tier with none.
func (s *Server) clvRanges(sel []int32) (lo, hi []int64) {
	tiers := s.snap.Dict("value_tier")
	clv := s.snap.Cents("clv")
	lo = make([]int64, len(tiers.Values))
	hi = make([]int64, len(tiers.Values))
	for i := range lo {
		lo[i], hi[i] = math.MaxInt64, math.MinInt64
	}
	for _, row := range sel {
		code := tiers.Codes[row]
		v := int64(clv[row])
		lo[code], hi[code] = min(lo[code], v), max(hi[code], v)
	}
	return lo, hi
}

// partLists answers the shard's members per list.
func (s *Server) partLists(r *request) error {
	out := map[string]int{}
	for name, rows := range s.listRows {
		out[name] = len(rows)
	}
	return s.writePart(r, out)
}

// listPart is a shard's part of a list: the positions (in the list's
// ranked ids) of its members that meet group=, and the items of those
// within [from, to].
type listPart struct {
	Positions []int              `json:"positions"`
	Items     []item             `json:"items"`
	Contacts  []campaign.Contact `json:"contacts,omitempty"`
}

func (s *Server) partList(r *request) error {
	l, ok := s.lists[r.param]
	if !ok {
		return HTTPError{Code: http.StatusNotFound, Msg: "no list " + quote(r.param) + " in run " + s.meta.Run + " (see /v1/lists)"}
	}
	from, _, err := r.q.intParam(pFrom, 0, math.MaxInt32)
	if err != nil {
		return err
	}
	to, hasTo, err := r.q.intParam(pTo, 0, math.MaxInt32)
	if err != nil {
		return err
	}
	if !hasTo {
		to = -1 // positions only
	}
	rows := s.listRows[l.Name]
	gp, err := s.groupConditions(r, io.Discard)
	if err != nil {
		return err
	}
	if gp != nil {
		rows = s.ix.keep(rows, gp)
	}
	// A member's position: its index in the list's ids.
	pos := s.listPos[l.Name]
	out := listPart{Positions: make([]int, len(rows)), Items: []item{}}
	var window []int32
	for j, row := range rows {
		out.Positions[j] = pos[row]
		if p := pos[row]; p >= from && p <= to {
			window = append(window, row)
		}
	}
	cs, err := s.rows(r, window)
	if err != nil {
		return err
	}
	_, contacts := r.q[pContacts]
	for j := range cs {
		if contacts {
			out.Contacts = append(out.Contacts, contactOf(&cs[j]))
		} else {
			out.Items = append(out.Items, newItem(&cs[j], r.access))
		}
	}
	r.rows = len(out.Items)
	return s.writePart(r, out)
}

// partNames answers the names and MSISDNs of the shard's customers among
// ids=, masked unless the caller's access is clear.
func (s *Server) partNames(r *request) error {
	ids, _, err := r.q.list(pIDs)
	if err != nil {
		return err
	}
	var rows []int32
	for _, id := range ids {
		if row, ok := s.ix.row(id); ok {
			rows = append(rows, int32(row))
		}
	}
	cs, err := s.rows(r, rows)
	if err != nil {
		return err
	}
	out := make(map[string][2]string, len(cs))
	for i := range cs {
		name, msisdn := cs[i].Name, cs[i].MSISDN
		if r.access != Clear {
			name, msisdn = maskName(name), maskMSISDN(msisdn)
		}
		out[cs[i].SubscriberID] = [2]string{name, msisdn}
	}
	r.rows = len(out)
	return s.writePart(r, out)
}

// partCount answers how many of the shard's customers meet the
// conditions (a saved group's).
func (s *Server) partCount(r *request) error {
	preds, err := s.parseConditions(r.q, io.Discard)
	if err != nil {
		return err
	}
	sel, buf := s.ix.match(preds)
	defer s.ix.release(buf)
	return s.writePart(r, map[string]int{"count": len(sel)})
}

// partCandidates answers the shard's first size= campaign candidates of
// saved group group=, in order, with their sort keys.
func (s *Server) partCandidates(r *request) error {
	size, ok, err := r.q.intParam(pSize, 1, math.MaxInt32)
	if err != nil {
		return err
	}
	if !ok {
		return badParam(pSize, "is required")
	}
	id, _, err := r.q.one(pGroup)
	if err != nil {
		return err
	}
	if !validID(id) {
		return badParam("group", "must be a group id (see GET /v1/groups)")
	}
	hits, err := s.groupHits(r, id, size)
	if err != nil {
		return err
	}
	r.rows = len(hits)
	return s.writePart(r, hits)
}
