// Package api is telcolake's HTTP API for staff and apps: the 360° view of
// one customer, multi-condition counts and pages over all customers, the
// scoring run's named lists, segments, model runs and ingested files. It
// answers from a serving snapshot (models/serving: its columns in memory,
// customer detail read on demand), and from the lake (Sources) for model
// runs and ingested files. Live keeps the newest snapshot loaded for the
// api function: keys are checked before anything loads.
//
// Server is an http.Handler (a ServeMux with method and path patterns);
// the api function serves it from API Gateway v2 and function URL events
// through lambdahttp. Every request but /healthz and /v1/openapi.json
// needs an API key (header X-API-Key, or Authorization: Bearer); the key's
// role decides what it may see (Matrix). Errors are RFC 9457
// application/problem+json. The OpenAPI document is openapi.json in this
// directory, served at /v1/openapi.json.
package api

import (
	"cmp"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/lambdahttp"
	"github.com/telcolake/telcolake/models/serving"
)

//go:embed openapi.json
var openapiJSON []byte

// Defaults of Config.
const (
	defaultPageSize     = 50
	defaultMaxPageSize  = 1000
	defaultMaxBodyBytes = 5 << 20 // under the 6 MB a Lambda response may carry
	defaultIngestLimit  = 100
)

// Config configures a Server.
type Config struct {
	// Keys are the API keys (see LoadKeys). At least one.
	Keys []Key
	// Audit receives one line per request to an operation that returns
	// customer data. nil: Log.
	Audit *slog.Logger
	// Log receives server errors and start-up warnings; never personal
	// data. nil: discarded.
	Log *slog.Logger
	// MaxPageSize is the largest limit= a page may ask for (default 1000).
	MaxPageSize int
	// MaxBodyBytes bounds a response body (default 5 MiB, as a Lambda
	// response carries at most 6 MB); a larger answer, typically a CSV
	// export of too many rows, is refused with 413.
	MaxBodyBytes int
	// CursorKey signs cursors. Default: derived from the key hashes, so
	// every instance with the same keys accepts the others' cursors.
	CursorKey []byte
	// ForwardKey signs the signed-in console user a sharded front
	// forwards to its shards (forward.go). Default: derived from the key
	// hashes (apart from CursorKey), so a front and its shards configured
	// with the same keys agree, and a caller holding one API key cannot
	// forge it.
	ForwardKey []byte
	// Campaigns keeps retention campaigns; nil: /v1/campaigns answers 503.
	Campaigns Campaigns
	// Groups keeps saved customer groups; nil: /v1/groups and group=
	// answer 503.
	Groups Groups
	// Forecasts gives the stored forecast; nil: /v1/forecast and
	// /v1/scenarios answer 503.
	Forecasts Forecasts
	// Scenarios keeps what-if scenarios; nil: /v1/scenarios answers 503.
	Scenarios Scenarios

	groups *groupCache // the groups read last, shared by a Live's servers
	// Now is the clock (time.Now by default).
	Now func() time.Time
}

// Server answers the API's requests from a snapshot. It is safe for
// concurrent use.
type Server struct {
	meta        *serving.Meta
	snap        *serving.Snapshot
	ix          *index
	src         Sources
	cfg         Config
	keys        *keyring
	cursors     cursorCodec
	report      *insight.Report // the run's lifecycle report; nil without one
	segments    map[int32]serving.Segment
	knownSegs   map[int32]bool
	lists       map[string]*serving.List
	listRows    map[string][]int32
	listPos     map[string]map[int32]int // a member's position in its list's ids
	filterSpecs []paramSpec
	routes      []route
	mux         *http.ServeMux
	// load, set on a Live's front server (which has no snapshot), returns
	// the server that answers an admitted request; with refresh false
	// (public routes) only one already loaded, possibly nil, never reading
	// the store.
	load func(ctx context.Context, refresh bool) (*Server, error)
	// reload, set with load, looks for a newer run at once (not waiting
	// for the interval): a shard asked for a run it has not loaded.
	reload func(ctx context.Context) (*Server, error)
	// shards, set on a sharded front (NewFront), answer in its place.
	shards []Shard
	// parts are the shard protocol's routes (shardRoutes).
	parts []route
}

// New builds a server over an open snapshot (serving.Open), answering
// from its columns in place. src may be nil: /v1/models and
// /v1/ingest/files then answer 503.
func New(snap *serving.Snapshot, src Sources, cfg Config) (*Server, error) {
	if snap == nil || snap.Meta == nil {
		return nil, errors.New("api: no snapshot meta")
	}
	s, err := newFront(src, cfg)
	if err != nil {
		return nil, err
	}
	meta := snap.Meta
	ix, err := buildIndex(snap)
	if err != nil {
		return nil, fmt.Errorf("api: snapshot %s: %w", meta.Run, err)
	}
	s.meta, s.snap, s.ix = meta, snap, ix
	if s.report, err = loadReport(meta.Insight); err != nil {
		s.cfg.Log.Warn("api: snapshot's lifecycle report unreadable; its endpoints answer 503", "run", meta.Run, "err", err)
	}
	for _, sg := range meta.Segments {
		s.segments[sg.ID] = sg
		s.knownSegs[sg.ID] = true
	}
	for v := range ix.cats[0].dict { // segment ids in the data
		id, _ := strconv.Atoi(v)
		s.knownSegs[int32(id)] = true
	}
	missing := 0
	for i := range meta.Lists {
		l := &meta.Lists[i]
		if !validID(l.Name) {
			return nil, fmt.Errorf("api: snapshot %s: invalid list name %q", meta.Run, l.Name)
		}
		if _, dup := s.lists[l.Name]; dup {
			return nil, fmt.Errorf("api: snapshot %s: list %s appears twice", meta.Run, l.Name)
		}
		rows := make([]int32, 0, len(l.IDs))
		pos := map[int32]int{}
		for p, id := range l.IDs {
			if r, ok := ix.row(id); ok {
				rows = append(rows, int32(r))
				pos[int32(r)] = p
			} else {
				missing++
			}
		}
		s.lists[l.Name], s.listRows[l.Name], s.listPos[l.Name] = l, rows, pos
	}
	if missing > 0 {
		s.cfg.Log.Warn("api: list members not in the snapshot were dropped", "run", meta.Run, "missing", missing)
	}
	return s, nil
}

// newFront builds what answers without a snapshot: keys, routes,
// parameters, problems and audit.
func newFront(src Sources, cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Audit == nil {
		cfg.Audit = cfg.Log
	}
	if cfg.MaxPageSize <= 0 {
		cfg.MaxPageSize = defaultMaxPageSize
	}
	if cfg.groups == nil {
		cfg.groups = &groupCache{}
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = defaultMaxBodyBytes
	}
	kr, err := newKeyring(cfg.Keys)
	if err != nil {
		return nil, fmt.Errorf("api: keys: %w", err)
	}
	if len(cfg.CursorKey) == 0 {
		hashes := make([]string, len(kr.keys))
		for i, k := range kr.keys {
			hashes[i] = strings.ToLower(k.Hash)
		}
		slices.Sort(hashes)
		sum := sha256.Sum256([]byte("telcolake api cursor v1\x00" + strings.Join(hashes, ",")))
		cfg.CursorKey = sum[:]
		if len(cfg.ForwardKey) == 0 {
			fwd := sha256.Sum256([]byte("telcolake api forwarded user v1\x00" + strings.Join(hashes, ",")))
			cfg.ForwardKey = fwd[:]
		}
	}
	if len(cfg.ForwardKey) == 0 {
		fwd := sha256.Sum256(append([]byte("telcolake api forwarded user v1\x00"), cfg.CursorKey...))
		cfg.ForwardKey = fwd[:]
	}
	s := &Server{
		src: src, cfg: cfg, keys: kr,
		cursors:     cursorCodec{key: cfg.CursorKey},
		segments:    map[int32]serving.Segment{},
		knownSegs:   map[int32]bool{},
		lists:       map[string]*serving.List{},
		listRows:    map[string][]int32{},
		listPos:     map[string]map[int32]int{},
		filterSpecs: filterParams(),
		routes:      routeTable(),
		parts:       shardRoutes(),
	}
	s.mux = s.newMux()
	return s, nil
}

func (s *Server) knownSegment(id int32) bool { return s.knownSegs[id] }

// route is one path the server answers.
type route struct {
	method  string // "" is GET
	pattern string // "/v1/customers/{id}"
	op      Op
	csvOp   Op // the operation with format=csv, if the route has one
	params  []paramSpec
	// serve answers with the server holding the snapshot.
	serve func(*Server, *request) error
}

func routeTable() []route {
	paging := []paramSpec{{name: pLimit}, {name: pCursor}, {name: pFormat}}
	return []route{
		{pattern: "/healthz", op: OpHealth, serve: (*Server).health},
		{pattern: "/v1/openapi.json", op: OpOpenAPI, serve: (*Server).openapi},
		{pattern: "/v1/customers", op: OpCustomers, csvOp: OpCustomersCSV, params: filterParams(), serve: (*Server).filterCustomers},
		{pattern: "/v1/customers/{id}", op: OpCustomer, serve: (*Server).customer},
		{pattern: "/v1/customers/{id}/offers", op: OpCustomerOffers, serve: (*Server).customerOffers},
		{pattern: "/v1/lists", op: OpLists, serve: (*Server).listIndex},
		{pattern: "/v1/lists/{name}", op: OpList, csvOp: OpListCSV, params: append(paging, paramSpec{name: pGroup}), serve: (*Server).list},
		{pattern: "/v1/segments", op: OpSegments, serve: (*Server).segmentsList},
		{pattern: "/v1/cube", op: OpCube, params: cubeParams(), serve: (*Server).cube},
		{pattern: "/v1/cube/monthly", op: OpCubeMonthly, params: factParams(insight.MonthlyCubeSpec), serve: func(s *Server, r *request) error { return s.factCube(r, insight.MonthlyCubeSpec) }},
		{pattern: "/v1/cube/usage", op: OpCubeUsage, params: factParams(insight.UsageCubeSpec), serve: func(s *Server, r *request) error { return s.factCube(r, insight.UsageCubeSpec) }},
		{pattern: "/v1/lifecycle/survival", op: OpSurvival, params: []paramSpec{{name: pBy}}, serve: (*Server).survival},
		{pattern: "/v1/lifecycle/transitions", op: OpTransitions, params: []paramSpec{{name: pMonth}}, serve: (*Server).transitions},
		{pattern: "/v1/churn/causes", op: OpCauses, params: []paramSpec{{name: pBy}}, serve: (*Server).causes},
		{pattern: "/v1/models/tracking", op: OpTracking, serve: (*Server).tracking},
		{pattern: "/v1/models", op: OpModels, params: []paramSpec{{name: "kind"}}, serve: (*Server).models},
		{pattern: "/v1/ingest/files", op: OpIngestFiles, params: ingestParams(), serve: (*Server).ingestFiles},
		{method: http.MethodPost, pattern: "/v1/campaigns", op: OpCampaignCreate, serve: (*Server).createCampaign},
		{pattern: "/v1/campaigns", op: OpCampaigns, serve: (*Server).campaigns},
		{method: http.MethodPost, pattern: "/v1/groups", op: OpGroupCreate, serve: (*Server).createGroup},
		{pattern: "/v1/groups", op: OpGroups, serve: (*Server).groupIndex},
		{pattern: "/v1/groups/{id}", op: OpGroup, serve: (*Server).group},
		{method: http.MethodDelete, pattern: "/v1/groups/{id}", op: OpGroupDelete, serve: (*Server).deleteGroup},
		{pattern: "/v1/value/tiers", op: OpValueTiers, params: conditionParams(), serve: (*Server).valueTiers},
		{pattern: "/v1/campaigns/{id}", op: OpCampaign, serve: (*Server).campaign},
		{pattern: "/v1/campaigns/{id}/contacts", op: OpCampaignContacts, csvOp: OpCampaignContactsCSV, params: append(paging, paramSpec{name: "arm"}), serve: (*Server).campaignContacts},
		{pattern: "/v1/campaigns/{id}/results", op: OpCampaignResults, serve: (*Server).campaignResults},
		{pattern: "/v1/forecast", op: OpForecast, params: forecastParams(), serve: (*Server).forecast},
		{method: http.MethodPost, pattern: "/v1/scenarios", op: OpScenarioCreate, serve: (*Server).createScenario},
		{pattern: "/v1/scenarios", op: OpScenarios, params: []paramSpec{{name: "ids"}}, serve: (*Server).scenarios},
		{pattern: "/v1/scenarios/{id}", op: OpScenario, serve: (*Server).scenario},
		{pattern: "/v1/campaign-results", op: OpCampaignsResults, params: []paramSpec{{name: pBy}}, serve: (*Server).campaignsResults},
	}
}

// verb is the route's method.
func (rt *route) verb() string {
	if rt.method == "" {
		return http.MethodGet
	}
	return rt.method
}

// newMux registers the routes: "METHOD pattern" serves one; the bare
// pattern takes the other methods (405), "/" every other path (404), both
// as problem+json.
func (s *Server) newMux() *http.ServeMux {
	mux := http.NewServeMux()
	bare := map[string]bool{}
	for i := range s.routes {
		h := http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) { s.handle(w, hr, &s.routes[i]) })
		mux.Handle(s.routes[i].verb()+" "+s.routes[i].pattern, h)
		if !bare[s.routes[i].pattern] {
			bare[s.routes[i].pattern] = true
			mux.Handle(s.routes[i].pattern, h)
		}
	}
	for i := range s.parts {
		mux.Handle(s.parts[i].verb()+" "+s.parts[i].pattern, http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) { s.handle(w, hr, &s.parts[i]) }))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, hr *http.Request) { s.handle(w, hr, nil) })
	return mux
}

// request is one request being served.
type request struct {
	ctx    context.Context
	hr     *http.Request
	w      *statusWriter
	q      query
	op     Op
	param  string // the path parameter, once validated
	key    Key
	access Access
	rows   int    // customer rows returned, for the audit line
	allow  string // the methods of the path, for a 405
}

// statusWriter remembers the status written, for the audit line.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// customerData lists the operations whose answers hold customer rows: they
// are audited.
var customerData = map[Op]bool{OpCustomer: true, OpCustomers: true, OpCustomersCSV: true, OpList: true, OpListCSV: true,
	OpCampaignCreate: true, OpCampaignContacts: true, OpCampaignContactsCSV: true}

// ServeHTTP serves one request. Every failure is a problem+json answer.
func (s *Server) ServeHTTP(w http.ResponseWriter, hr *http.Request) { s.mux.ServeHTTP(w, hr) }

// handle serves a request on rt (nil: no route has its path).
func (s *Server) handle(w http.ResponseWriter, hr *http.Request, rt *route) {
	start := time.Now()
	r := &request{ctx: hr.Context(), hr: hr, w: &statusWriter{ResponseWriter: w}}
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Log.ErrorContext(r.ctx, "api: panic", "op", string(r.op), "panic", fmt.Sprint(p))
			if r.w.status == 0 {
				s.problem(r, HTTPError{Code: http.StatusInternalServerError, Msg: "internal error"})
			}
		}
		if customerData[r.op] {
			s.audit(r, r.w.status, time.Since(start))
		}
	}()
	if err := s.serve(r, rt); err != nil {
		s.problem(r, err)
	}
}

func (s *Server) serve(r *request, rt *route) error {
	if rt == nil {
		return HTTPError{Code: http.StatusNotFound, Msg: "no such resource (see /v1/openapi.json)"}
	}
	r.op = rt.op
	if r.hr.Method != rt.verb() {
		r.allow = s.allowed(rt.pattern)
		return HTTPError{Code: http.StatusMethodNotAllowed, Msg: "only " + r.allow + " allowed"}
	}
	q, qErr := parseQuery(r.hr.URL.RawQuery) // reported after authentication
	r.q = q
	if rt.csvOp != "" {
		if f := q[pFormat]; len(f) == 1 && f[0] == "csv" {
			r.op = rt.csvOp
		}
	}
	perm := permission(r.op)
	if !perm.Public {
		key, ok := userOf(r.ctx)
		if !ok {
			key, ok = s.forwardedUser(r.hr.Header)
		}
		if !ok {
			key, ok = s.authenticate(r.hr.Header)
		}
		if !ok {
			return HTTPError{Code: http.StatusUnauthorized, Msg: "a valid API key is required (header X-API-Key, or Authorization: Bearer)"}
		}
		r.key = key
		r.access = perm.Of(key.Role)
		if r.access == Denied {
			return HTTPError{Code: http.StatusForbidden, Msg: fmt.Sprintf("role %s may not use %s", key.Role, r.op)}
		}
	}
	if qErr != nil {
		return qErr
	}
	if err := q.check(rt.params); err != nil {
		return err
	}
	if i := strings.LastIndex(rt.pattern, "{"); i >= 0 {
		name, _, _ := strings.Cut(rt.pattern[i+1:], "}")
		p := r.hr.PathValue(name)
		if !validID(p) {
			return HTTPError{Code: http.StatusBadRequest, Param: name, Msg: name + " must be 1-64 printable ASCII characters without spaces"}
		}
		r.param = p
	}
	if s.load == nil {
		return s.route(r, rt)
	}
	// A Live's front: only now, admitted, does the request reach the store.
	switch rt.op {
	case OpOpenAPI:
		return rt.serve(s, r)
	case OpHealth:
		srv, _ := s.load(r.ctx, false)
		if srv == nil {
			srv = s
		}
		return srv.route(r, rt)
	}
	srv, err := s.load(r.ctx, true)
	if want := r.hr.Header.Get(runHeader); err == nil && want != "" && want != srv.meta.Run && s.reload != nil {
		srv, err = s.reload(r.ctx) // the front has a run this shard has not seen yet
	}
	if err != nil {
		if errors.Is(err, serving.ErrNoSnapshot) {
			return HTTPError{Code: http.StatusServiceUnavailable, Msg: "no scores yet: the score function has not run", Err: err}
		}
		return HTTPError{Code: http.StatusServiceUnavailable, Msg: "the serving snapshot could not be loaded", Err: err}
	}
	return srv.route(r, rt)
}

// route serves an admitted request on rt from s's snapshot, or on a
// sharded front from its shards.
func (s *Server) route(r *request, rt *route) error {
	if want := r.hr.Header.Get(runHeader); want != "" && s.meta != nil && want != s.meta.Run {
		return HTTPError{Code: http.StatusServiceUnavailable, Msg: "this shard serves run " + s.meta.Run + ", the front run " + want + ": try again shortly"}
	}
	if s.shards != nil {
		if strings.HasPrefix(rt.pattern, shardPrefix+"/") {
			return HTTPError{Code: http.StatusNotFound, Msg: "no such resource (see /v1/openapi.json)"} // a front is no shard
		}
		if h, ok := sharded[r.op]; ok {
			return h(s, r)
		}
	}
	return rt.serve(s, r) // one instance; on a front the run's metadata and the lake
}

// allowed lists the methods routes answer on pattern, e.g. "GET, POST".
func (s *Server) allowed(pattern string) string {
	var ms []string
	for i := range s.routes {
		if s.routes[i].pattern == pattern && !slices.Contains(ms, s.routes[i].verb()) {
			ms = append(ms, s.routes[i].verb())
		}
	}
	slices.Sort(ms)
	return strings.Join(ms, ", ")
}

// authenticate finds the key a request presents.
func (s *Server) authenticate(h http.Header) (Key, bool) {
	secret := strings.TrimSpace(h.Get("X-Api-Key"))
	if secret == "" {
		a := strings.TrimSpace(h.Get("Authorization"))
		if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			secret = strings.TrimSpace(a[7:])
		}
	}
	if secret == "" || len(secret) > 1024 {
		return Key{}, false
	}
	return s.keys.match(secret)
}

// headers are every response's headers.
func headers(contentType string) map[string]string {
	return map[string]string{
		"Content-Type":              contentType,
		"Cache-Control":             "no-store",
		"X-Content-Type-Options":    "nosniff",
		"X-Frame-Options":           "DENY",
		"Content-Security-Policy":   "default-src 'none'; frame-ancestors 'none'",
		"Referrer-Policy":           "no-referrer",
		"Strict-Transport-Security": "max-age=31536000",
	}
}

const (
	ctJSON    = "application/json; charset=utf-8"
	ctProblem = "application/problem+json; charset=utf-8"
	ctCSV     = "text/csv; charset=utf-8"
	// ctJSONLines is a shard's streamed export part (shard protocol).
	ctJSONLines = "application/jsonl"
)

// write writes an answer: headers, status, body.
func (r *request) write(status int, h map[string]string, body []byte) {
	for k, v := range h {
		r.w.Header().Set(k, v)
	}
	r.w.WriteHeader(status)
	r.w.Write(body)
}

// respond writes an answer of at most MaxBodyBytes.
func (s *Server) respond(r *request, status int, contentType string, body []byte) error {
	if len(body) > s.cfg.MaxBodyBytes {
		return HTTPError{Code: http.StatusRequestEntityTooLarge,
			Msg: fmt.Sprintf("the answer is larger than the %d bytes the API returns; narrow the filter or page with a smaller limit", s.cfg.MaxBodyBytes)}
	}
	r.write(status, headers(contentType), body)
	return nil
}

func (s *Server) writeJSON(r *request, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "internal error", Err: fmt.Errorf("encode answer: %w", err)}
	}
	return s.respond(r, http.StatusOK, ctJSON, b)
}

// problem writes an error as a problem+json answer; server errors are
// logged with their cause, which the client never sees.
func (s *Server) problem(r *request, err error) {
	p := problemOf(err)
	if p.Status >= 500 {
		s.cfg.Log.ErrorContext(r.ctx, "api: request failed", "op", string(r.op), "status", p.Status, "err", err)
	}
	b, _ := json.Marshal(p)
	h := headers(ctProblem)
	switch p.Status {
	case http.StatusUnauthorized:
		h["WWW-Authenticate"] = `Bearer realm="telcolake"`
	case http.StatusMethodNotAllowed:
		h["Allow"] = cmp.Or(r.allow, http.MethodGet)
	}
	r.write(p.Status, h, b)
}

// audit writes the audit line of a customer-data request: who, what, how
// many rows, never names or MSISDNs. Query values are logged cut to 64
// bytes; cursors, being opaque, only as present.
func (s *Server) audit(r *request, status int, d time.Duration) {
	names := make([]string, 0, len(r.q))
	for k := range r.q {
		names = append(names, k)
	}
	slices.Sort(names)
	qa := make([]any, 0, len(names))
	for _, k := range names {
		v := strings.Join(r.q[k], ",")
		if k == pCursor {
			v = "(opaque)"
		}
		qa = append(qa, slog.String(cut(k, 64), cut(v, 64)))
	}
	s.cfg.Audit.InfoContext(r.ctx, "api access",
		"key", r.key.Name, "role", string(r.key.Role), "op", string(r.op),
		"method", cut(r.hr.Method, 16), "path", cut(r.hr.URL.EscapedPath(), 160), slog.Group("query", qa...),
		"rows", r.rows, "status", status, "duration_ms", float64(d.Microseconds())/1000,
		"request_id", lambdahttp.RequestID(r.ctx))
}

func (s *Server) health(r *request) error {
	run, n := "", 0 // a Live that has not loaded a snapshot yet
	if s.snap != nil {
		run, n = s.meta.Run, s.snap.Len()
	}
	return s.writeJSON(r, map[string]any{"status": "ok", "run": run, "customers": n})
}

func (s *Server) openapi(r *request) error {
	return s.respond(r, http.StatusOK, ctJSON, openapiJSON)
}

// oneCustomer is the customer the request's path names, read with its
// detail; 404 when the run has no such customer.
func (s *Server) oneCustomer(r *request) (*serving.Customer, error) {
	row, ok := s.ix.row(r.param)
	if !ok {
		return nil, HTTPError{Code: http.StatusNotFound, Msg: "no customer with id " + quote(r.param) + " in run " + s.meta.Run}
	}
	cs, err := s.rows(r, []int32{int32(row)})
	if err != nil {
		return nil, err
	}
	return &cs[0], nil
}

func (s *Server) customer(r *request) error {
	c, err := s.oneCustomer(r)
	if err != nil {
		return err
	}
	d := detail{item: newItem(c, r.access), ActivationDate: c.ActivationDate, StatusDate: c.StatusDate,
		SegmentProfile: s.segments[c.SegmentID].Profile, History: roundedHistory(c.History)}
	if d.History == nil {
		d.History = []serving.Month{}
	}
	r.rows = 1
	return s.writeJSON(r, struct {
		Run          string    `json:"run"`
		ScoredAt     time.Time `json:"scored_at"`
		FeatureMonth string    `json:"feature_month"`
		Customer     detail    `json:"customer"`
	}{s.meta.Run, s.meta.ScoredAt, s.meta.FeatureMonth, d})
}

// page is the answer of the filter and of a list.
type page[T any] struct {
	Count      int     `json:"count"`
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
	Run        string  `json:"run"`
}

// filterStart parses a customer filter request (its conditions, group=,
// sort, paging) and resolves its cursor against this instance's rows:
// where a page starts (nil: the first page). The start of GET
// /v1/customers and of a shard's part of it.
func (s *Server) filterStart(r *request) (*filter, *entry, error) {
	f, err := s.parseFilterWith(r.q, func(h io.Writer) ([]pred, error) { return s.groupConditions(r, h) })
	if err != nil {
		return nil, nil, err
	}
	if f.cursor == "" {
		return f, nil, nil
	}
	c, err := s.cursors.decodeFilter(f.cursor)
	if err != nil {
		return nil, nil, badParam(pCursor, "invalid (pass next_cursor of the previous page unchanged)")
	}
	if c.field != f.order.field || c.desc != f.order.desc || c.query != f.hash {
		return nil, nil, badParam(pCursor, "belongs to another query (keep the conditions and sort of the first page)")
	}
	return f, &entry{k: f.order.sign() * c.value, r: s.ix.after(c.id)}, nil
}

func (s *Server) filterCustomers(r *request) error {
	f, from, err := s.filterStart(r)
	if err != nil {
		return err
	}
	sel, buf := s.ix.match(f.preds)
	defer s.ix.release(buf)
	if f.csv {
		return s.exportCSV(r, "customers", sel, f.order)
	}
	top := s.ix.top(sel, f.order, from, f.limit+1)
	out := page[item]{Count: len(sel), Items: make([]item, 0, min(len(top), f.limit)), Run: s.meta.Run}
	rows := make([]int32, 0, len(top))
	for j, e := range top {
		if j == f.limit {
			last := top[j-1].r
			c := s.cursors.encodeFilter(filterCursor{field: f.order.field, desc: f.order.desc, query: f.hash,
				value: s.ix.value(f.order, last), id: s.ix.id(last)})
			out.NextCursor = &c
			break
		}
		rows = append(rows, e.r)
	}
	cs, err := s.rows(r, rows)
	if err != nil {
		return err
	}
	for i := range cs {
		out.Items = append(out.Items, newItem(&cs[i], r.access))
	}
	r.rows = len(out.Items)
	return s.writeJSON(r, out)
}

// minCSVRow is a lower bound of a CSV row's size, to refuse hopeless
// exports before sorting them.
const minCSVRow = 60

// minGzipCSVRow is the same bound for a gzip-compressed export.
const minGzipCSVRow = 8

// acceptsGzip reports whether the client takes a gzip-encoded answer.
func acceptsGzip(h http.Header) bool {
	for _, v := range h.Values("Accept-Encoding") {
		for _, enc := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(enc), ";")
			if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(params, " ", "") != "q=0" {
				return true
			}
		}
	}
	return false
}

func (s *Server) exportCSV(r *request, name string, sel []int32, o order) error {
	gz := acceptsGzip(r.hr.Header)
	if minRow := map[bool]int{false: minCSVRow, true: minGzipCSVRow}[gz]; len(sel)*minRow > s.cfg.MaxBodyBytes {
		return tooManyRows(len(sel), s.cfg.MaxBodyBytes)
	}
	cw := newCSV(s.cfg.MaxBodyBytes, false, gz)
	sorted := s.ix.sorted(sel, o)
	rows := make([]int32, len(sorted))
	for i, e := range sorted {
		rows[i] = e.r
	}
	if err := s.eachRow(r, rows, func(_ int, c *serving.Customer) bool {
		it := newItem(c, r.access)
		return cw.add(0, &it)
	}); err != nil {
		return err
	}
	return s.writeCSV(r, name, cw)
}

// rows reads the full customers of rows (detail from the snapshot's
// detail file, cached).
func (s *Server) rows(r *request, rows []int32) ([]serving.Customer, error) {
	cs, err := s.snap.Customers(r.ctx, rows)
	if err != nil {
		return nil, HTTPError{Code: http.StatusInternalServerError, Msg: "could not read customer details", Err: err}
	}
	return cs, nil
}

// exportBatch is how many customers an export reads at once.
const exportBatch = 4096

// eachRow calls add with the customers of rows in order, reading them in
// batches, until add returns false (the answer is full: 413).
func (s *Server) eachRow(r *request, rows []int32, add func(int, *serving.Customer) bool) error {
	for start := 0; start < len(rows); start += exportBatch {
		cs, err := s.rows(r, rows[start:min(start+exportBatch, len(rows))])
		if err != nil {
			return err
		}
		for i := range cs {
			if !add(start+i, &cs[i]) {
				return tooManyRows(len(rows), s.cfg.MaxBodyBytes)
			}
		}
	}
	return nil
}

func tooManyRows(n, max int) HTTPError {
	return HTTPError{Code: http.StatusRequestEntityTooLarge,
		Msg: fmt.Sprintf("an export of %d rows is larger than the %d bytes the API returns; ask for it gzip-compressed (Accept-Encoding: gzip, e.g. curl --compressed), narrow the filter, or page through the JSON answer", n, max)}
}

func (s *Server) writeCSV(r *request, name string, cw *csvWriter) error {
	body, ok := cw.bytes()
	if !ok {
		return tooManyRows(cw.rows, s.cfg.MaxBodyBytes)
	}
	h := headers(ctCSV)
	if cw.gz != nil {
		// The limit of a gzip body leaves room for base64 in a Lambda answer.
		h["Content-Encoding"] = "gzip"
		h["Vary"] = "Accept-Encoding"
	} else if len(body) > s.cfg.MaxBodyBytes {
		return tooManyRows(cw.rows, s.cfg.MaxBodyBytes)
	}
	r.rows = cw.rows
	h["Content-Disposition"] = fmt.Sprintf(`attachment; filename="%s-%s.csv"`, fileSafe(name), fileSafe(s.meta.Run))
	r.write(http.StatusOK, h, body)
	return nil
}

// fileSafe keeps letters, digits, '.', '_' and '-'.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// listInfo describes a named list in the index.
type listInfo struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Size        int    `json:"size"`
}

func (s *Server) listIndex(r *request) error {
	out := struct {
		Run   string     `json:"run"`
		Lists []listInfo `json:"lists"`
	}{Run: s.meta.Run, Lists: []listInfo{}}
	for _, l := range s.meta.Lists {
		out.Lists = append(out.Lists, listInfo{Name: l.Name, Title: l.Title, Description: l.Description, Size: len(s.listRows[l.Name])})
	}
	return s.writeJSON(r, out)
}

func (s *Server) list(r *request) error {
	l, ok := s.lists[r.param]
	if !ok {
		return HTTPError{Code: http.StatusNotFound, Msg: "no list " + quote(r.param) + " in run " + s.meta.Run + " (see /v1/lists)"}
	}
	rows := s.listRows[l.Name]
	gp, err := s.groupConditions(r, io.Discard)
	if err != nil {
		return err
	}
	if gp != nil {
		rows = s.ix.keep(rows, gp)
	}
	var limit int
	var cursor string
	var csvOut bool
	if err := s.parsePaging(r.q, &limit, &cursor, &csvOut); err != nil {
		return err
	}
	if csvOut {
		cw := newCSV(s.cfg.MaxBodyBytes, true, acceptsGzip(r.hr.Header))
		if err := s.eachRow(r, rows, func(j int, c *serving.Customer) bool {
			it := newItem(c, r.access)
			return cw.add(j+1, &it)
		}); err != nil {
			return err
		}
		return s.writeCSV(r, l.Name, cw)
	}
	offset := 0
	if cursor != "" {
		o, err := s.cursors.decodeList(cursor, l.Name)
		if err != nil {
			return badParam(pCursor, "invalid (pass next_cursor of the previous page of this list unchanged)")
		}
		offset = min(o, len(rows))
	}
	end := min(offset+limit, len(rows))
	out := struct {
		Name        string `json:"name"`
		Title       string `json:"title"`
		Description string `json:"description"`
		page[listItem]
	}{Name: l.Name, Title: l.Title, Description: l.Description,
		page: page[listItem]{Count: len(rows), Items: make([]listItem, 0, end-offset), Run: s.meta.Run}}
	cs, err := s.rows(r, rows[offset:end])
	if err != nil {
		return err
	}
	for j := range cs {
		out.Items = append(out.Items, listItem{Rank: offset + j + 1, item: newItem(&cs[j], r.access)})
	}
	if end < len(rows) {
		c := s.cursors.encodeList(l.Name, end)
		out.NextCursor = &c
	}
	r.rows = len(out.Items)
	return s.writeJSON(r, out)
}

func (s *Server) segmentsList(r *request) error {
	segs := s.meta.Segments
	if segs == nil {
		segs = []serving.Segment{}
	}
	return s.writeJSON(r, struct {
		Run      string            `json:"run"`
		Segments []serving.Segment `json:"segments"`
	}{s.meta.Run, segs})
}

var errNoSources = HTTPError{Code: http.StatusServiceUnavailable, Msg: "the lake is not configured for this API"}

// modelKinds are the kinds of crm.model_runs (registry.Kind*).
var modelKinds = []string{"churn", "segment", "bad-debt", "uplift"}

func (s *Server) models(r *request) error {
	kind, ok, err := r.q.one("kind")
	if err != nil {
		return err
	}
	if ok && !slices.Contains(modelKinds, kind) {
		return badParam("kind", "must be churn, segment, bad-debt or uplift")
	}
	if s.src == nil {
		return errNoSources
	}
	runs, err := s.src.ModelRuns(r.ctx)
	if err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "could not read the model runs", Err: err}
	}
	out := make([]ModelRun, 0, len(runs))
	for _, m := range runs {
		if !ok || m.Kind == kind {
			out = append(out, m)
		}
	}
	return s.writeJSON(r, struct {
		Runs []ModelRun `json:"runs"`
	}{out})
}
