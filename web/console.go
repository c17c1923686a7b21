// Package web is telcolake's staff console: sign-in against a local users
// file, sessions in signed cookies, CSRF tokens on every state-changing
// request, and pages (customer search with a live count, the 360° view)
// rendered with html/template from embedded files. The pages take their
// data from the API handler itself, asked on the signed-in user's behalf
// (api.WithUser): the role matrix, the masking and the audit line are the
// API's, not a copy.
package web

import (
	"bytes"
	"cmp"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/telcolake/telcolake/api"
)

//go:embed templates/*.html templates/parts/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Config configures a Console.
type Config struct {
	// API answers the data (an *api.Server or *api.Live).
	API http.Handler
	// Users may sign in.
	Users *Users
	// Key signs session cookies and CSRF tokens; at least 32 bytes. Every
	// instance with the same key accepts the others' sessions.
	Key []byte
	// TTL is a session's lifetime (default 8 hours).
	TTL time.Duration
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Models reads the model registry (models/<kind>/<version>/report.json
	// under the lake); nil: the models page lists the runs without reports.
	Models Files
	// Landing reads the landing bucket's reject reports
	// (reports/<key>.errors.json); nil: the ingest monitor shows the log
	// without them.
	Landing Files
	// Revoked records sign-outs for every instance; nil: a sign-out is
	// known to this instance only.
	Revoked Revocations
	// OIDC, when set, signs staff in at a provider's hosted page (Cognito
	// in AWS); Users may then be nil.
	OIDC *OIDC
	// Log receives sign-in outcomes (user names, never passwords) and
	// errors; nil: discarded.
	Log *slog.Logger
}

// Console serves the staff console under /console/. It is safe for
// concurrent use.
type Console struct {
	cfg  Config
	ss   *sessions
	tmpl map[string]*template.Template
	mux  *http.ServeMux
	// passwords: users may sign in with a password (Config.Users given).
	passwords bool
	// reports are the model reports read so far, by version: a version's
	// report.json is written once by its training run, so the dashboard
	// and the model pages read each from the registry once.
	reportsMu sync.Mutex
	reports   map[string]*modelReportJSON
}

// New checks the configuration and builds the console.
func New(cfg Config) (*Console, error) {
	if cfg.API == nil || cfg.Users == nil && cfg.OIDC == nil {
		return nil, errors.New("web: console needs the API and the users or a sign-in provider")
	}
	if cfg.OIDC != nil && (cfg.OIDC.Issuer == "" || cfg.OIDC.ClientID == "" || cfg.OIDC.RedirectURL == "") {
		return nil, errors.New("web: a sign-in provider needs its issuer, client id and redirect URL")
	}
	passwords := cfg.Users != nil
	if !passwords {
		cfg.Users = &Users{byName: map[string]User{}}
	}
	if len(cfg.Key) < 32 {
		return nil, errors.New("web: session key must be at least 32 bytes")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 8 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	tmpl, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, ss: &sessions{key: cfg.Key, ttl: cfg.TTL, now: cfg.Now, revoked: map[string]time.Time{},
		store: cfg.Revoked, log: cfg.Log.ErrorContext}, tmpl: tmpl, passwords: passwords}
	assets, _ := fs.Sub(assetFS, "assets")
	m := http.NewServeMux()
	m.Handle("GET /console/assets/", http.StripPrefix("/console/assets/", assetHandler(http.FileServerFS(assets))))
	m.HandleFunc("GET /console/{$}", c.home)
	m.HandleFunc("GET /console/signin", c.signinForm)
	m.HandleFunc("POST /console/signin", c.signin)
	m.HandleFunc("POST /console/signout", c.signout)
	if cfg.OIDC != nil {
		m.HandleFunc("GET /console/auth/start", c.ssoStart)
		m.HandleFunc("GET /console/auth/callback", c.ssoCallback)
	}
	m.HandleFunc("GET /console/search", c.search)
	m.HandleFunc("GET /console/data/customers", c.dataCustomers)
	m.HandleFunc("POST /console/groups", c.saveGroup)
	m.HandleFunc("GET /console/lookup", c.lookup)
	m.HandleFunc("GET /console/customers/{id}", c.customer)
	m.HandleFunc("GET /console/lists", c.lists)
	m.HandleFunc("GET /console/lists/{name}", c.list)
	m.HandleFunc("GET /console/data/lists/{name}", c.listCSV)
	m.HandleFunc("GET /console/dashboard", c.dashboard)
	m.HandleFunc("GET /console/cube", c.cube)
	m.HandleFunc("GET /console/data/cube", c.cubeCSV)
	m.HandleFunc("GET /console/segments", c.segments)
	m.HandleFunc("GET /console/models", c.models)
	m.HandleFunc("GET /console/models/{version}", c.modelReport)
	m.HandleFunc("GET /console/ingest", c.ingest)
	m.HandleFunc("GET /console/lifecycle", c.lifecycle)
	m.HandleFunc("GET /console/causes", c.causes)
	m.HandleFunc("GET /console/value", c.value)
	m.HandleFunc("GET /console/tracking", c.tracking)
	m.HandleFunc("GET /console/ingest/report", c.ingestReport)
	m.HandleFunc("GET /console/campaigns", c.campaigns)
	m.HandleFunc("GET /console/forecast", c.forecastPage)
	m.HandleFunc("GET /console/scenarios", c.scenarios)
	m.HandleFunc("POST /console/scenarios", c.createScenario)
	m.HandleFunc("POST /console/campaigns", c.createCampaign)
	m.HandleFunc("GET /console/campaigns/{id}", c.campaign)
	m.HandleFunc("GET /console/data/campaigns/{id}", c.campaignCSV)
	m.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			c.fail(w, r, http.StatusMethodNotAllowed, "method")
			return
		}
		c.fail(w, r, http.StatusNotFound, "notfound")
	})
	c.mux = m
	return c, nil
}

// ServeHTTP serves /console/... .
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	if r.Method == http.MethodPost && !sameOrigin(r) {
		c.fail(w, r, http.StatusForbidden, "crossSite")
		return
	}
	c.mux.ServeHTTP(w, r)
}

func assetHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// sameOrigin refuses cross-site POSTs: an Origin header must be this
// host's, and a browser's Sec-Fetch-Site must not say cross-site.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true // older clients; the CSRF token still decides
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// current returns the request's session, checked against the users file
// (a removed user or a changed role ends it).
func (c *Console) current(r *http.Request) (session, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	s, ok := c.ss.check(r.Context(), ck.Value)
	if !ok {
		return session{}, false
	}
	if s.SSO {
		if c.cfg.OIDC == nil {
			return session{}, false
		}
		return s, true // the role is the ID token's, until the session ends with it
	}
	if u, ok := c.cfg.Users.lookup(s.User); !ok || u.Role != s.Role {
		return session{}, false
	}
	return s, true
}

// page is what every template gets.
type page struct {
	T       dict
	Lang    string
	Other   string // the other language
	Path    string // this page with the query, for the language switch
	Session *session
	CSRF    string
	Can     map[string]bool
	Nav     []navEntry
	Data    any
}

func (c *Console) page(r *http.Request, s *session, data any) page {
	lang := language(r)
	p := page{T: dicts[lang], Lang: lang, Other: map[string]string{"en": "zh", "zh": "en"}[lang], Session: s, Data: data}
	q := r.URL.Query()
	q.Del("lang")
	p.Path = r.URL.Path + "?" + q.Encode()
	if s != nil {
		p.CSRF = c.ss.csrf(s.ID)
		p.Nav = navFor(s.Role)
		p.Can = map[string]bool{
			"search": s.Role.Access(api.OpCustomers) != api.Denied,
			"csv":    s.Role.Access(api.OpCustomersCSV) != api.Denied,
			"lists":  s.Role.Access(api.OpLists) != api.Denied,
			"cube":   s.Role.Access(api.OpCube) != api.Denied,
			"groups": s.Role.Access(api.OpGroupCreate) != api.Denied,
		}
	}
	return p
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	var b bytes.Buffer
	if err := c.tmpl[name].Execute(&b, p); err != nil {
		c.cfg.Log.ErrorContext(r.Context(), "web: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", map[string]string{"en": "en", "zh": "zh-Hans"}[p.Lang])
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// fail renders an error page with a message key of the dictionary.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s, ok := c.current(r)
	var sp *session
	if ok {
		sp = &s
	}
	c.render(w, r, status, "error", c.page(r, sp, struct {
		Status int
		Msg    string
	}{status, msg}))
}

// signedIn returns the session, or redirects to the sign-in page.
func (c *Console) signedIn(w http.ResponseWriter, r *http.Request) (session, bool) {
	s, ok := c.current(r)
	if !ok {
		http.Redirect(w, r, "/console/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	}
	return s, ok
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	http.Redirect(w, r, homeOf(s), http.StatusSeeOther)
}

func homeOf(s session) string {
	if s.Role.Access(api.OpCustomers) == api.Denied {
		return "/console/lookup"
	}
	return "/console/search"
}

const preCookie = "tl_signin"

func (c *Console) signinForm(w http.ResponseWriter, r *http.Request) {
	nonce := randomID()
	http.SetCookie(w, c.ss.cookie(r, preCookie, nonce, c.cfg.Now().Add(30*time.Minute)))
	c.render(w, r, http.StatusOK, "signin", c.page(r, nil, struct {
		Token, Next, Error string
		Passwords, SSO     bool
	}{c.ss.csrf("signin|" + nonce), safeNext(r.URL.Query().Get("next")), r.URL.Query().Get("error"), c.passwords, c.cfg.OIDC != nil}))
}

// safeNext keeps a redirect target inside the console.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/console/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") {
		return next
	}
	return ""
}

func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, http.StatusBadRequest, "badForm")
		return
	}
	pre, err := r.Cookie(preCookie)
	if err != nil || !c.ss.validCSRF("signin|"+pre.Value, r.PostForm.Get("csrf")) {
		c.fail(w, r, http.StatusForbidden, "csrf")
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("user"))
	u, ok := c.cfg.Users.Check(name, r.PostForm.Get("password"))
	ok = ok && c.passwords
	if !ok {
		c.cfg.Log.InfoContext(r.Context(), "web: sign-in refused", "user", cutName(name))
		http.Redirect(w, r, "/console/signin?error=bad&next="+url.QueryEscape(safeNext(r.PostForm.Get("next"))), http.StatusSeeOther)
		return
	}
	s, v := c.ss.issue(u)
	c.cfg.Log.InfoContext(r.Context(), "web: signed in", "user", u.Name, "role", string(u.Role))
	http.SetCookie(w, c.ss.cookie(r, preCookie, "", time.Time{}))
	http.SetCookie(w, c.ss.cookie(r, sessionCookie, v, s.Exp))
	next := safeNext(r.PostForm.Get("next"))
	if next == "" {
		next = homeOf(s)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// cutName logs at most 64 name-safe characters of a typed user name.
func cutName(s string) string {
	if !validName(s) {
		return "(invalid)"
	}
	return s
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	s, ok := c.current(r)
	if !ok {
		http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
		return
	}
	if r.ParseForm() != nil || !c.ss.validCSRF(s.ID, r.PostForm.Get("csrf")) {
		c.fail(w, r, http.StatusForbidden, "csrf")
		return
	}
	if err := c.ss.revoke(r.Context(), s); err != nil {
		c.cfg.Log.ErrorContext(r.Context(), "web: sign-out", "err", err)
		c.fail(w, r, http.StatusServiceUnavailable, "internal")
		return
	}
	http.SetCookie(w, c.ss.cookie(r, sessionCookie, "", time.Time{}))
	if s.SSO {
		http.Redirect(w, r, c.cfg.OIDC.ssoLogout(), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
}

// apiGet asks the API for path?query as the session's user.
func (c *Console) apiGet(r *http.Request, s session, path string, q url.Values) (int, http.Header, []byte) {
	u := &url.URL{Path: path, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(api.WithUser(r.Context(), s.User, s.Role), http.MethodGet, u.String(), nil)
	if err != nil {
		return http.StatusBadRequest, http.Header{}, nil
	}
	req.Header.Set("Accept-Encoding", r.Header.Get("Accept-Encoding"))
	w := &buffer{header: http.Header{}}
	c.cfg.API.ServeHTTP(w, req)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.status, w.header, w.body.Bytes()
}

// conditions are the filter's conditions and sort of a search URL, empty
// values dropped (the form sends every field).
func conditions(in url.Values) url.Values {
	allowed := append(api.FilterConditions(), "group", "sort", "cursor")
	out := url.Values{}
	for k, vs := range in {
		// not.<field> negates a condition, as in the API.
		if !slices.Contains(allowed, k) && !slices.Contains(api.FilterConditions(), strings.TrimPrefix(k, "not.")) {
			continue
		}
		for _, v := range vs {
			if v = strings.TrimSpace(v); v != "" {
				out.Add(k, v)
			}
		}
	}
	return out
}

// problemDetail is the detail of an API problem answer.
func problemDetail(body []byte) string {
	var p api.Problem
	if json.Unmarshal(body, &p) != nil {
		return ""
	}
	return p.Detail
}

// dataCustomers is the search's data: the API's /v1/customers answer for
// the same conditions (JSON for the live count, CSV for the export).
func (c *Console) dataCustomers(w http.ResponseWriter, r *http.Request) {
	s, ok := c.current(r)
	if !ok {
		http.Error(w, `{"detail":"signed out"}`, http.StatusUnauthorized)
		return
	}
	q := conditions(r.URL.Query())
	switch r.URL.Query().Get("format") {
	case "csv":
		q.Set("format", "csv")
	default:
		q.Set("limit", "1")
	}
	status, h, body := c.apiGet(r, s, "/v1/customers", q)
	for _, k := range []string{"Content-Type", "Content-Encoding", "Content-Disposition", "Vary"} {
		if v := h.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.WriteHeader(status)
	w.Write(body)
}

// searchPage is the search page's data.
type searchPage struct {
	Fields  []field
	Query   string // the conditions as a query string
	Sort    string
	Sorts   []string
	Cols    []sortCol // the table's headers
	Count   int
	Items   []customerJSON
	Next    string // the next page's URL, if any
	Problem string
	// Groups are the saved groups the user may use (the group filter's
	// choices); CanSave: the role may save the conditions as one.
	Groups  []groupJSON
	CanSave bool
	Saved   string // the group just saved
}

type field struct {
	Name, Value string
}

// sortCol is a header of the search's table: a sortable one links to
// the same search sorted by it (descending first, then ascending).
type sortCol struct {
	Key   string // dictionary key
	Field string // the API's sort field; "" not sortable
	Num   bool
	URL   string
	Dir   string // aria-sort: ascending, descending or ""
}

var sorts = []string{"-churn_probability", "-value_at_risk", "-clv", "-monthly_value", "tenure_months", "-tenure_months"}

// searchCols are the table's columns.
var searchCols = []sortCol{{Key: "subscriberID"}, {Key: "name"}, {Key: "msisdn"}, {Key: "plan"}, {Key: "segment"},
	{Key: "tenure", Field: "tenure_months", Num: true}, {Key: "churn", Field: "churn_probability", Num: true},
	{Key: "value", Field: "monthly_value", Num: true}, {Key: "var", Field: "value_at_risk", Num: true}}

func (c *Console) search(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	c.searchPage(w, r, s, r.URL.Query(), http.StatusOK, "", r.URL.Query().Get("saved"))
}

// searchPage renders the search of the query in, with a problem to show
// (from saving a group) or the id of a group just saved.
func (c *Console) searchPage(w http.ResponseWriter, r *http.Request, s session, in url.Values, status int, problem, saved string) {
	if s.Role.Access(api.OpCustomers) == api.Denied {
		c.fail(w, r, http.StatusForbidden, "forbidden")
		return
	}
	q := conditions(in)
	data := searchPage{Sort: q.Get("sort"), Sorts: sorts, Problem: problem, Saved: saved,
		CanSave: s.Role.Access(api.OpGroupCreate) != api.Denied}
	for _, name := range append(api.FilterConditions(), "group") {
		data.Fields = append(data.Fields, field{Name: name, Value: strings.Join(q[name], ",")})
	}
	cond := url.Values{}
	for k, v := range q {
		if k != "cursor" {
			cond[k] = v
		}
	}
	data.Query = cond.Encode()
	current := cmp.Or(q.Get("sort"), "-churn_probability")
	for _, col := range searchCols {
		if col.Field != "" {
			next := url.Values{}
			for k, v := range cond {
				next[k] = v
			}
			switch current {
			case "-" + col.Field:
				col.Dir = "descending"
				next.Set("sort", col.Field)
			case col.Field:
				col.Dir = "ascending"
				next.Set("sort", "-"+col.Field)
			default:
				next.Set("sort", "-"+col.Field)
			}
			col.URL = "/console/search?" + next.Encode()
		}
		data.Cols = append(data.Cols, col)
	}
	data.Groups = c.groupChoices(r, s)
	q.Set("limit", "25")
	st, _, body := c.apiGet(r, s, "/v1/customers", q)
	if st != http.StatusOK {
		data.Problem = cmp.Or(data.Problem, problemDetail(body))
		c.render(w, r, status, "search", c.page(r, &s, data))
		return
	}
	var pg struct {
		Count      int            `json:"count"`
		Items      []customerJSON `json:"items"`
		NextCursor *string        `json:"next_cursor"`
	}
	if err := json.Unmarshal(body, &pg); err != nil {
		c.fail(w, r, http.StatusInternalServerError, "internal")
		return
	}
	data.Count, data.Items = pg.Count, pg.Items
	if pg.NextCursor != nil {
		next := url.Values{}
		for k, v := range cond {
			next[k] = v
		}
		next.Set("cursor", *pg.NextCursor)
		data.Next = "/console/search?" + next.Encode()
	}
	c.render(w, r, status, "search", c.page(r, &s, data))
}

func (c *Console) lookup(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	if id := strings.TrimSpace(r.URL.Query().Get("id")); id != "" {
		http.Redirect(w, r, "/console/customers/"+url.PathEscape(id), http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "lookup", c.page(r, &s, nil))
}

// customerJSON is a customer as the API answers it.
type customerJSON struct {
	SubscriberID     string   `json:"subscriber_id"`
	Name             string   `json:"name"`
	MSISDN           string   `json:"msisdn"`
	Status           string   `json:"status"`
	Lifecycle        string   `json:"lifecycle"`
	Plan             string   `json:"plan"`
	Region           string   `json:"region"`
	AgeBand          string   `json:"age_band"`
	PaymentMethod    string   `json:"payment_method"`
	TenureMonths     int      `json:"tenure_months"`
	SegmentID        int      `json:"segment_id"`
	SegmentName      string   `json:"segment_name"`
	SegmentProfile   string   `json:"segment_profile"`
	ChurnProbability float64  `json:"churn_probability"`
	Reasons          []string `json:"reasons"`
	// BadDebtProbability and BadDebtReasons: the bad-debt model's score.
	BadDebtProbability float64  `json:"bad_debt_probability"`
	BadDebtReasons     []string `json:"bad_debt_reasons"`
	MonthlyValue       float64  `json:"monthly_value"`
	CLV                float64  `json:"clv"`
	ValueAtRisk        float64  `json:"value_at_risk"`
	Gender             string   `json:"gender"`
	ActivationDate     string   `json:"activation_date"`
	History            []month  `json:"history"`
}

type month struct {
	Month        string  `json:"month"`
	VoiceMinutes float64 `json:"voice_minutes"`
	DataMB       float64 `json:"data_mb"`
	AmountDue    float64 `json:"amount_due"`
	AmountPaid   float64 `json:"amount_paid"`
}

func (c *Console) customer(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	status, _, body := c.apiGet(r, s, "/v1/customers/"+url.PathEscape(r.PathValue("id")), nil)
	switch status {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusBadRequest:
		c.fail(w, r, http.StatusNotFound, "noCustomer")
		return
	case http.StatusForbidden:
		c.fail(w, r, http.StatusForbidden, "forbidden")
		return
	default:
		c.fail(w, r, http.StatusBadGateway, "internal")
		return
	}
	var d struct {
		Run      string       `json:"run"`
		Customer customerJSON `json:"customer"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		c.fail(w, r, http.StatusInternalServerError, "internal")
		return
	}
	cu := d.Customer
	data := struct {
		Run     string
		C       customerJSON
		Charts  []chart
		Reasons []string
		Offers  customerOffers
	}{Run: d.Run, C: cu}
	data.Charts = charts(cu.History)
	data.Offers = c.customerOffers(r, s, cu.SubscriberID)
	c.render(w, r, http.StatusOK, "customer", c.page(r, &s, data))
}

// buffer is the ResponseWriter the console gives the API.
type buffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *buffer) Header() http.Header { return b.header }
func (b *buffer) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *buffer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// apiPage asks the API for path as the session's user and decodes its
// JSON answer into v, or renders the failure.
func (c *Console) apiPage(w http.ResponseWriter, r *http.Request, s session, path string, q url.Values, v any) bool {
	status, _, body := c.apiGet(r, s, path, q)
	switch {
	case status == http.StatusOK:
		if err := json.Unmarshal(body, v); err != nil {
			c.cfg.Log.ErrorContext(r.Context(), "web: api answer", "path", path, "err", err)
			c.fail(w, r, http.StatusInternalServerError, "internal")
			return false
		}
		return true
	case status == http.StatusForbidden:
		c.fail(w, r, http.StatusForbidden, "forbidden")
	case status == http.StatusNotFound || status == http.StatusBadRequest:
		c.fail(w, r, http.StatusNotFound, "notfound")
	default:
		c.fail(w, r, http.StatusBadGateway, "internal")
	}
	return false
}

func (c *Console) lists(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	var idx struct {
		Run   string `json:"run"`
		Lists []struct {
			Name        string `json:"name"`
			Title       string `json:"title"`
			Description string `json:"description"`
			Size        int    `json:"size"`
		} `json:"lists"`
	}
	if c.apiPage(w, r, s, "/v1/lists", nil, &idx) {
		c.render(w, r, http.StatusOK, "lists", c.page(r, &s, idx))
	}
}

func (c *Console) list(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	q := url.Values{"limit": {"50"}}
	if cur := r.URL.Query().Get("cursor"); cur != "" {
		q.Set("cursor", cur)
	}
	name := r.PathValue("name")
	var l struct {
		Name        string `json:"name"`
		Title       string `json:"title"`
		Description string `json:"description"`
		Count       int    `json:"count"`
		Items       []struct {
			Rank int `json:"rank"`
			customerJSON
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
		Run        string  `json:"run"`
		Next       string  `json:"-"`
	}
	if !c.apiPage(w, r, s, "/v1/lists/"+url.PathEscape(name), q, &l) {
		return
	}
	if l.NextCursor != nil {
		l.Next = "/console/lists/" + url.PathEscape(name) + "?cursor=" + url.QueryEscape(*l.NextCursor)
	}
	c.render(w, r, http.StatusOK, "list", c.page(r, &s, l))
}

// listCSV is a list's CSV export, as the API answers it for the role.
func (c *Console) listCSV(w http.ResponseWriter, r *http.Request) {
	s, ok := c.current(r)
	if !ok {
		http.Error(w, "signed out", http.StatusUnauthorized)
		return
	}
	status, h, body := c.apiGet(r, s, "/v1/lists/"+url.PathEscape(r.PathValue("name")), url.Values{"format": {"csv"}})
	for _, k := range []string{"Content-Type", "Content-Encoding", "Content-Disposition", "Vary"} {
		if v := h.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.WriteHeader(status)
	w.Write(body)
}
