package api

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/lambdahttp"
	"github.com/telcolake/telcolake/models/serving"
)

// A snapshot of 10M+ customers is split by subscriber hash
// (serving.ShardOf) into shards, each served by an api instance of its
// own; a front (NewFront) answers the public API by fanning a request out
// to every shard over the shard protocol (shardpart.go) in parallel and
// merging the parts exactly:
//
//   - GET /v1/customers: counts add; each shard returns its first limit+1
//     hits after the cursor in the sort order, which merge by (sort key,
//     id) — the unsharded order, as a snapshot's rows are sorted by id. A
//     cursor is (sort value, id), which every shard resolves against its
//     own rows, so cursors from the merged page stay valid;
//   - format=csv: each shard streams its hits in order (JSON lines), the
//     front merges the streams k-way into one CSV, holding one hit per
//     shard at a time;
//   - GET /v1/cube and /v1/value/tiers: each shard computes the finest
//     cells of its customers with exact sums (insight.ComputePartial);
//     insight.Merge adds them and rolls up subtotals and the grand total,
//     so every measure, means and rates included, is the unsharded one;
//   - lists: each shard returns the list positions of its members (after
//     group=), the front merges them into the ranking and asks each shard
//     for the items within the page's window of positions;
//   - group=: every shard applies the group's conditions itself; a
//     group's size is the sum of the shards' counts;
//   - GET /v1/customers/{id} goes to the id's shard alone; what the run's
//     metadata answers (segments, lifecycle, causes, tracking) and what
//     the lake answers (models, ingest files, the monthly and usage cubes,
//     groups, campaigns) the front answers itself.
//
//   - a campaign: its candidates are the list's first members, read from
//     the shards as above; its contacts' names and MSISDNs come from each
//     contact's shard (masked there as the caller's access requires).
//
// A shard is reached through Shard: LocalShard calls a Server in this
// process (tests, and a front with shards in one process), RemoteShard an
// api instance over HTTP, InvokeShard a shard's api function through the
// Lambda Invoke API; the same protocol and the same merge in all three.

// Shard is one shard as a front reaches it: the method of *http.Client.
type Shard interface {
	Do(req *http.Request) (*http.Response, error)
}

// LocalShard reaches h (a Server over one shard's snapshot) in this
// process; a streamed answer flows through a pipe, not a buffer.
func LocalShard(h http.Handler) Shard { return localShard{h} }

type localShard struct{ h http.Handler }

func (l localShard) Do(req *http.Request) (*http.Response, error) {
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			w.WriteHeader(http.StatusOK) // a handler that wrote nothing
			pw.Close()
		}()
		l.h.ServeHTTP(w, req)
	}()
	select {
	case <-w.ready:
	case <-req.Context().Done():
		pr.CloseWithError(req.Context().Err())
		return nil, req.Context().Err()
	}
	return &http.Response{StatusCode: w.status, Header: w.header, Body: pr}, nil
}

// pipeWriter is a ResponseWriter whose body goes into a pipe.
type pipeWriter struct {
	header http.Header
	pw     *io.PipeWriter
	status int
	once   sync.Once
	ready  chan struct{}
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	w.once.Do(func() {
		w.status = code
		w.header = w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(b)
}

// RemoteShard reaches the api instance at base (e.g.
// "http://127.0.0.1:9001") through client.
func RemoteShard(base string, client *http.Client) (Shard, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("api: shard address %q is not an absolute URL", base)
	}
	return remoteShard{base: u, c: client}, nil
}

type remoteShard struct {
	base *url.URL
	c    *http.Client
}

func (rs remoteShard) Do(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	u := *rs.base
	u.Path = strings.TrimSuffix(u.Path, "/") + req.URL.Path
	u.RawPath, u.RawQuery = "", req.URL.RawQuery
	out.URL = &u
	out.Host, out.RequestURI = "", ""
	return rs.c.Do(out)
}

// Invoker invokes a shard's api function with an event payload and
// returns its answer: the Lambda Invoke API (the AWS SDK's lambda client,
// or the local stack's Invoke) with the function's name bound.
type Invoker func(ctx context.Context, payload []byte) ([]byte, error)

// InvokeShard reaches a shard's api function by invoking it with the API
// Gateway v2 event the gateway would send (the function's lambdahttp
// handler serves it as any request): the AWS form of a shard, where the
// front's IAM role alone may invoke the shard functions. A function's
// answer is buffered (at most 6 MB in Lambda), so a streamed export part
// is bounded by it.
func InvokeShard(invoke Invoker) Shard { return invokeShard{invoke} }

type invokeShard struct{ invoke Invoker }

func (is invokeShard) Do(req *http.Request) (*http.Response, error) {
	ev, err := lambdahttp.Event(req, "$default", nil, 6<<20)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	out, err := is.invoke(req.Context(), payload)
	if err != nil {
		return nil, err
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, fmt.Errorf("shard function's answer: %w", err)
	}
	w := &bufferWriter{header: http.Header{}}
	lambdahttp.Write(w, resp)
	return &http.Response{StatusCode: w.status, Header: w.header, Body: io.NopCloser(&w.body)}, nil
}

// bufferWriter is a ResponseWriter into a buffer.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *bufferWriter) Header() http.Header { return w.header }
func (w *bufferWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *bufferWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// NewSharded builds a front over shard snapshots served in this process:
// snaps[k] holds the customers with serving.ShardOf(id, len(snaps)) == k,
// all of one run.
func NewSharded(snaps []*serving.Snapshot, src Sources, cfg Config) (*Server, error) {
	if len(snaps) == 0 {
		return nil, errors.New("api: no shards")
	}
	if cfg.groups == nil {
		cfg.groups = &groupCache{} // one cache: a group saved through the front is at once the shards'
	}
	var shards []Shard
	for k, snap := range snaps {
		s, err := New(snap, src, cfg)
		if err != nil {
			return nil, fmt.Errorf("api: shard %d: %w", k, err)
		}
		if s.meta.Run != snaps[0].Meta.Run {
			return nil, fmt.Errorf("api: shard %d has run %s, shard 0 run %s", k, s.meta.Run, snaps[0].Meta.Run)
		}
		shards = append(shards, LocalShard(s))
	}
	return NewFront(snaps[0].Meta, shards, src, cfg)
}

// NewFront builds a front over shards of the run meta describes (the
// run's metadata, which every shard's snapshot carries): shards[k] serves
// the customers with serving.ShardOf(id, len(shards)) == k.
func NewFront(meta *serving.Meta, shards []Shard, src Sources, cfg Config) (*Server, error) {
	if len(shards) == 0 {
		return nil, errors.New("api: no shards")
	}
	if meta == nil {
		return nil, errors.New("api: no snapshot meta")
	}
	s, err := newFront(src, cfg)
	if err != nil {
		return nil, err
	}
	s.meta, s.shards = meta, shards
	if s.report, err = loadReport(meta.Insight); err != nil {
		s.cfg.Log.Warn("api: snapshot's lifecycle report unreadable; its endpoints answer 503", "run", meta.Run, "err", err)
	}
	for _, sg := range meta.Segments {
		s.segments[sg.ID] = sg
		s.knownSegs[sg.ID] = true
	}
	for i := range meta.Lists {
		l := &meta.Lists[i]
		if !validID(l.Name) {
			return nil, fmt.Errorf("api: snapshot %s: invalid list name %q", meta.Run, l.Name)
		}
		if _, dup := s.lists[l.Name]; dup {
			return nil, fmt.Errorf("api: snapshot %s: list %s appears twice", meta.Run, l.Name)
		}
		s.lists[l.Name] = l
	}
	return s, nil
}

// sharded are the front's own answers to the routes that need the
// shards; the other routes the front answers from the run's metadata and
// the lake, as one instance does.
var sharded = map[Op]func(*Server, *request) error{
	OpHealth:         (*Server).healthSharded,
	OpCustomer:       (*Server).customerSharded,
	OpCustomerOffers: (*Server).customerOffersSharded,
	OpCustomers:      (*Server).filterSharded,
	OpCustomersCSV:   (*Server).filterSharded,
	OpLists:          (*Server).listIndexSharded,
	OpList:           (*Server).listSharded,
	OpListCSV:        (*Server).listSharded,
	OpCube:           (*Server).cubeSharded,
	OpValueTiers:     (*Server).tiersSharded,
}

// forwarded are the request headers a shard needs: the credentials, which
// it checks itself (a console user's are forwarded signed: forward.go).
var forwarded = []string{"X-Api-Key", "Authorization"}

// call sends one request of the shard protocol (or of the public API) to
// shard k.
func (s *Server) call(r *request, k int, path, rawQuery string) (*http.Response, error) {
	u := &url.URL{Path: path, RawQuery: rawQuery}
	req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(r.key.Name, "user:") {
		req.Header.Set(userHeader, s.signUser(r.key)) // a console user: no key to pass on
	} else {
		for _, h := range forwarded {
			for _, v := range r.hr.Header.Values(h) {
				req.Header.Add(h, v)
			}
		}
	}
	req.Header.Set(runHeader, s.meta.Run)
	resp, err := s.shards[k].Do(req)
	if err != nil {
		return nil, HTTPError{Code: http.StatusBadGateway, Msg: "a shard did not answer", Err: fmt.Errorf("shard %d: %w", k, err)}
	}
	return resp, nil
}

// shardError is a shard's answer other than 200 as the front's error: the
// same problem, so the client sees what one instance would have said.
func shardError(k int, resp *http.Response) error {
	defer resp.Body.Close()
	var p Problem
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(b, &p); err != nil || p.Status != resp.StatusCode {
		return HTTPError{Code: http.StatusBadGateway, Msg: "a shard failed", Err: fmt.Errorf("shard %d: status %d: %.200s", k, resp.StatusCode, b)}
	}
	return HTTPError{Code: p.Status, Msg: p.Detail, Param: p.Parameter, Err: fmt.Errorf("shard %d answered %d", k, p.Status)}
}

// fanOut sends the request to every shard in parallel and decodes each
// 200 answer into into(k); the first shard's failure (by shard number)
// fails the whole.
func (s *Server) fanOut(r *request, path, rawQuery string, into func(k int) any) error {
	errs := make([]error, len(s.shards))
	var wg sync.WaitGroup
	for k := range s.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := s.call(r, k, path, rawQuery)
			if err != nil {
				errs[k] = err
				return
			}
			if resp.StatusCode != http.StatusOK {
				errs[k] = shardError(k, resp)
				return
			}
			defer resp.Body.Close()
			if err := json.NewDecoder(resp.Body).Decode(into(k)); err != nil {
				errs[k] = HTTPError{Code: http.StatusBadGateway, Msg: "a shard's answer is unreadable", Err: fmt.Errorf("shard %d: %w", k, err)}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// shardOf is the shard that holds customer id.
func (s *Server) shardOf(id string) int { return serving.ShardOf(id, len(s.shards)) }

func (s *Server) healthSharded(r *request) error {
	parts := make([]struct {
		Run       string `json:"run"`
		Customers int    `json:"customers"`
	}, len(s.shards))
	if err := s.fanOut(r, "/healthz", "", func(k int) any { return &parts[k] }); err != nil {
		return err
	}
	n := 0
	for _, p := range parts {
		n += p.Customers
	}
	return s.writeJSON(r, map[string]any{"status": "ok", "run": s.meta.Run, "customers": n})
}

// customerSharded passes a look-up to the id's shard and its answer back.
func (s *Server) customerSharded(r *request) error {
	resp, err := s.call(r, s.shardOf(r.param), "/v1/customers/"+url.PathEscape(r.param), "")
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return shardError(s.shardOf(r.param), resp)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(s.cfg.MaxBodyBytes)+1))
	if err != nil {
		return HTTPError{Code: http.StatusBadGateway, Msg: "a shard's answer is unreadable", Err: err}
	}
	r.rows = 1
	return s.respond(r, http.StatusOK, ctJSON, body)
}

// mergeHits sorts hits by (key, id): the unsharded order.
func mergeHits(hits []hit) {
	slices.SortFunc(hits, func(a, b hit) int {
		if c := cmp.Compare(a.K, b.K); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

func (s *Server) filterSharded(r *request) error {
	if f := r.q[pFormat]; len(f) == 1 && f[0] == "csv" {
		return s.exportSharded(r)
	}
	parts := make([]customersPart, len(s.shards))
	if err := s.fanOut(r, shardCustomers, r.hr.URL.RawQuery, func(k int) any { return &parts[k] }); err != nil {
		return err
	}
	var limit int
	var cursor string
	var csvOut bool
	if err := s.parsePaging(r.q, &limit, &cursor, &csvOut); err != nil { // valid: the shards checked
		return err
	}
	out := page[item]{Items: []item{}, Run: s.meta.Run}
	var all []hit
	for _, p := range parts {
		out.Count += p.Count
		all = append(all, p.Hits...)
	}
	mergeHits(all)
	if len(all) > limit {
		last := all[limit-1]
		p := parts[0]
		c := s.cursors.encodeFilter(filterCursor{field: p.Field, desc: p.Desc, query: p.Hash, value: last.V, id: last.ID})
		out.NextCursor = &c
		all = all[:limit]
	}
	for _, h := range all {
		out.Items = append(out.Items, *h.Item)
	}
	r.rows = len(out.Items)
	return s.writeJSON(r, out)
}

// stream is one shard's export part being read.
type stream struct {
	dec *json.Decoder
	cur hit
}

// streams is a heap of streams by their current hit.
type streams []*stream

func (h streams) Len() int { return len(h) }
func (h streams) Less(i, j int) bool {
	a, b := &h[i].cur, &h[j].cur
	return a.K < b.K || a.K == b.K && a.ID < b.ID
}
func (h streams) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *streams) Push(x any)   { *h = append(*h, x.(*stream)) }
func (h *streams) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// exportSharded merges the shards' streamed export parts into one CSV.
func (s *Server) exportSharded(r *request) error {
	resps := make([]*http.Response, len(s.shards))
	errs := make([]error, len(s.shards))
	var wg sync.WaitGroup
	for k := range s.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resps[k], errs[k] = s.call(r, k, shardCustomers, r.hr.URL.RawQuery)
		}()
	}
	wg.Wait()
	defer func() {
		for _, resp := range resps {
			if resp != nil {
				resp.Body.Close()
			}
		}
	}()
	for k, resp := range resps {
		if errs[k] == nil && resp.StatusCode != http.StatusOK {
			errs[k] = shardError(k, resp)
		}
	}
	if err := errors.Join(errs...); err != nil {
		for _, e := range errs {
			if e != nil {
				return e
			}
		}
	}
	total := 0
	var h streams
	for k, resp := range resps {
		st := &stream{dec: json.NewDecoder(resp.Body)}
		var head customersPart
		if err := st.dec.Decode(&head); err != nil {
			return HTTPError{Code: http.StatusBadGateway, Msg: "a shard's answer is unreadable", Err: fmt.Errorf("shard %d: %w", k, err)}
		}
		total += head.Count
		h = append(h, st)
	}
	gz := acceptsGzip(r.hr.Header)
	if minRow := map[bool]int{false: minCSVRow, true: minGzipCSVRow}[gz]; total*minRow > s.cfg.MaxBodyBytes {
		return tooManyRows(total, s.cfg.MaxBodyBytes)
	}
	next := func(st *stream) (bool, error) {
		st.cur = hit{}
		err := st.dec.Decode(&st.cur)
		if err == io.EOF {
			return false, nil
		}
		return err == nil, err
	}
	live := h[:0]
	for k, st := range h {
		ok, err := next(st)
		if err != nil {
			return HTTPError{Code: http.StatusBadGateway, Msg: "a shard's answer is unreadable", Err: fmt.Errorf("shard %d: %w", k, err)}
		}
		if ok {
			live = append(live, st)
		}
	}
	h = live
	heap.Init(&h)
	cw := newCSV(s.cfg.MaxBodyBytes, false, gz)
	for h.Len() > 0 {
		st := h[0]
		if !cw.addRecord(st.cur.Rec) {
			return tooManyRows(total, s.cfg.MaxBodyBytes)
		}
		ok, err := next(st)
		if err != nil {
			return HTTPError{Code: http.StatusBadGateway, Msg: "a shard's answer is unreadable", Err: err}
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	if cw.rows != total {
		return HTTPError{Code: http.StatusBadGateway, Msg: "a shard's export ended early", Err: fmt.Errorf("%d of %d rows", cw.rows, total)}
	}
	return s.writeCSV(r, "customers", cw)
}

func (s *Server) cubeSharded(r *request) error {
	parts := make([]cubePart, len(s.shards))
	if err := s.fanOut(r, shardCube, r.hr.URL.RawQuery, func(k int) any { return &parts[k] }); err != nil {
		return err
	}
	csvOut, err := wantsCSV(r.q, r.hr.Header) // valid: the shards checked
	if err != nil {
		return err
	}
	ps := make([]*insight.Partial, len(parts))
	for k := range parts {
		ps[k] = parts[k].Partial
	}
	c, err := insight.Merge(ps, 0)
	if err != nil {
		return cubeError(err)
	}
	return s.writeCube(r, c, csvOut)
}

func (s *Server) tiersSharded(r *request) error {
	parts := make([]cubePart, len(s.shards))
	if err := s.fanOut(r, shardTiers, r.hr.URL.RawQuery, func(k int) any { return &parts[k] }); err != nil {
		return err
	}
	ps := make([]*insight.Partial, len(parts))
	lo, hi := map[string]int64{}, map[string]int64{}
	for k, p := range parts {
		ps[k] = p.Partial
		for t, v := range p.CLVMin {
			if old, ok := lo[t]; !ok || v < old {
				lo[t] = v
			}
		}
		for t, v := range p.CLVMax {
			if old, ok := hi[t]; !ok || v > old {
				hi[t] = v
			}
		}
	}
	c, err := insight.Merge(ps, 0)
	if err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "could not compute the tiers", Err: err}
	}
	return s.writeTiers(r, c, lo, hi)
}

func (s *Server) listIndexSharded(r *request) error {
	parts := make([]map[string]int, len(s.shards))
	if err := s.fanOut(r, shardLists, "", func(k int) any { return &parts[k] }); err != nil {
		return err
	}
	out := struct {
		Run   string     `json:"run"`
		Lists []listInfo `json:"lists"`
	}{Run: s.meta.Run, Lists: []listInfo{}}
	for _, l := range s.meta.Lists {
		n := 0
		for _, p := range parts {
			n += p[l.Name]
		}
		out.Lists = append(out.Lists, listInfo{Name: l.Name, Title: l.Title, Description: l.Description, Size: n})
	}
	return s.writeJSON(r, out)
}

// listSharded merges the shards' members of a list into its ranking, then
// reads the items of the page (or, for CSV, all) from the shards.
func (s *Server) listSharded(r *request) error {
	l, ok := s.lists[r.param]
	if !ok {
		return HTTPError{Code: http.StatusNotFound, Msg: "no list " + quote(r.param) + " in run " + s.meta.Run + " (see /v1/lists)"}
	}
	positions, q, _, err := s.listMembers(r, l.Name, true)
	if err != nil {
		return err
	}
	var limit int
	var cursor string
	var csvOut bool
	if err := s.parsePaging(r.q, &limit, &cursor, &csvOut); err != nil {
		return err
	}
	offset, end := 0, len(positions)
	if !csvOut {
		if cursor != "" {
			o, err := s.cursors.decodeList(cursor, l.Name)
			if err != nil {
				return badParam(pCursor, "invalid (pass next_cursor of the previous page of this list unchanged)")
			}
			offset = min(o, len(positions))
		}
		end = min(offset+limit, len(positions))
	}
	items, _, err := s.listWindow(r, l.Name, q, positions[offset:end], false)
	if err != nil {
		return err
	}
	if csvOut {
		cw := newCSV(s.cfg.MaxBodyBytes, true, acceptsGzip(r.hr.Header))
		for j := range items {
			if !cw.add(j+1, &items[j]) {
				return tooManyRows(len(items), s.cfg.MaxBodyBytes)
			}
		}
		return s.writeCSV(r, l.Name, cw)
	}
	out := struct {
		Name        string `json:"name"`
		Title       string `json:"title"`
		Description string `json:"description"`
		page[listItem]
	}{Name: l.Name, Title: l.Title, Description: l.Description,
		page: page[listItem]{Count: len(positions), Items: make([]listItem, 0, end-offset), Run: s.meta.Run}}
	for j := range items {
		out.Items = append(out.Items, listItem{Rank: offset + j + 1, item: items[j]})
	}
	if end < len(positions) {
		c := s.cursors.encodeList(l.Name, end)
		out.NextCursor = &c
	}
	r.rows = len(out.Items)
	return s.writeJSON(r, out)
}

// countSharded is how many customers meet conditions (a saved group's),
// over every shard; a shard's 400 (conditions that do not apply to the
// run) is the error.
func (s *Server) countSharded(r *request, conditions string) (int, error) {
	parts := make([]struct {
		Count int `json:"count"`
	}, len(s.shards))
	if err := s.fanOut(r, shardCount, conditions, func(k int) any { return &parts[k] }); err != nil {
		return 0, err
	}
	n := 0
	for _, p := range parts {
		n += p.Count
	}
	return n, nil
}

// listMembers merges the shards' members of list name (after the
// request's group=, if withGroup) into the ranking: their positions,
// sorted.
func (s *Server) listMembers(r *request, name string, withGroup bool) ([]int, url.Values, []listPart, error) {
	path := strings.Replace(shardList, "{name}", url.PathEscape(name), 1)
	q := url.Values{}
	if g, ok := r.q[pGroup]; ok && withGroup {
		q[pGroup] = g
	}
	parts := make([]listPart, len(s.shards))
	if err := s.fanOut(r, path, q.Encode(), func(k int) any { return &parts[k] }); err != nil {
		return nil, nil, nil, err
	}
	var positions []int
	for _, p := range parts {
		positions = append(positions, p.Positions...)
	}
	slices.Sort(positions)
	return positions, q, parts, nil
}

// listWindow reads from the shards the members of list name at
// positions (consecutive members of the ranking), in that order: their
// items, or with contacts their campaign candidates.
func (s *Server) listWindow(r *request, name string, q url.Values, positions []int, contacts bool) ([]item, []campaign.Contact, error) {
	if len(positions) == 0 {
		return nil, nil, nil
	}
	path := strings.Replace(shardList, "{name}", url.PathEscape(name), 1)
	lo, hi := positions[0], positions[len(positions)-1]
	q.Set(pFrom, strconv.Itoa(lo))
	q.Set(pTo, strconv.Itoa(hi))
	if contacts {
		q.Set(pContacts, "1")
	}
	parts := make([]listPart, len(s.shards))
	if err := s.fanOut(r, path, q.Encode(), func(k int) any { return &parts[k] }); err != nil {
		return nil, nil, err
	}
	itemAt, contactAt := map[int]*item{}, map[int]*campaign.Contact{}
	for k := range parts {
		p := &parts[k]
		var inWindow []int
		for _, pos := range p.Positions {
			if pos >= lo && pos <= hi {
				inWindow = append(inWindow, pos)
			}
		}
		if len(inWindow) != len(p.Items)+len(p.Contacts) {
			return nil, nil, HTTPError{Code: http.StatusBadGateway, Msg: "a shard's list changed between reads", Err: fmt.Errorf("shard %d", k)}
		}
		for j, pos := range inWindow {
			if contacts {
				contactAt[pos] = &p.Contacts[j]
			} else {
				itemAt[pos] = &p.Items[j]
			}
		}
	}
	var items []item
	var cands []campaign.Contact
	for _, pos := range positions {
		if contacts {
			cands = append(cands, *contactAt[pos])
		} else {
			items = append(items, *itemAt[pos])
		}
	}
	return items, cands, nil
}

// listContactsSharded is listContacts over the shards.
func (s *Server) listContactsSharded(r *request, name string, size int) ([]campaign.Contact, error) {
	positions, q, _, err := s.listMembers(r, name, false)
	if err != nil {
		return nil, err
	}
	_, cands, err := s.listWindow(r, name, q, positions[:min(len(positions), size)], true)
	if cands == nil {
		cands = []campaign.Contact{}
	}
	return cands, err
}

// namesBatch is how many ids a names request to a shard carries.
const namesBatch = 200

// contactItemsSharded is contactItems with the names and MSISDNs read
// from each contact's shard, which masks them as the caller's access
// requires.
func (s *Server) contactItemsSharded(r *request, cs []campaign.Contact) ([]contactItem, error) {
	byShard := make([][]string, len(s.shards))
	for _, ct := range cs {
		k := s.shardOf(ct.SubscriberID)
		byShard[k] = append(byShard[k], ct.SubscriberID)
	}
	names := map[string][2]string{}
	var mu sync.Mutex
	errs := make([]error, len(s.shards))
	var wg sync.WaitGroup
	for k, ids := range byShard {
		if len(ids) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := 0; start < len(ids); start += namesBatch {
				q := url.Values{pIDs: {strings.Join(ids[start:min(start+namesBatch, len(ids))], ",")}}
				resp, err := s.call(r, k, shardNames, q.Encode())
				if err != nil {
					errs[k] = err
					return
				}
				if resp.StatusCode != http.StatusOK {
					errs[k] = shardError(k, resp)
					return
				}
				var part map[string][2]string
				err = json.NewDecoder(resp.Body).Decode(&part)
				resp.Body.Close()
				if err != nil {
					errs[k] = HTTPError{Code: http.StatusBadGateway, Msg: "a shard's answer is unreadable", Err: err}
					return
				}
				mu.Lock()
				for id, v := range part {
					names[id] = v
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	out := make([]contactItem, len(cs))
	for i, ct := range cs {
		it := contactItem{Rank: ct.Rank, Arm: ct.Arm, SubscriberID: ct.SubscriberID, Probability: ct.Probability,
			Reasons: ct.Reasons, Segment: ct.Segment, MonthlyValue: ct.MonthlyValue, CLV: ct.CLV, ValueAtRisk: ct.ValueAtRisk}
		if it.Reasons == nil {
			it.Reasons = []string{}
		}
		if v, ok := names[ct.SubscriberID]; ok {
			it.Name, it.MSISDN = v[0], v[1] // as the shard masked them
		} else if r.access != Clear {
			it.Name, it.MSISDN = maskName(""), maskMSISDN("")
		}
		out[i] = it
	}
	return out, nil
}
