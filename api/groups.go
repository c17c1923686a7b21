package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/telcolake/telcolake/groups"
)

// Saved customer groups: POST /v1/groups saves a named set of the
// /v1/customers conditions (validated exactly as that query validates
// them), GET /v1/groups lists the groups the caller may use, GET and
// DELETE /v1/groups/{id} read and remove one. /v1/customers, /v1/cube,
// /v1/value/tiers and /v1/lists/{name} take group=<id>: the group's
// conditions AND the request's own.
//
// Who may do what: analysts and admins save groups; a group belongs to
// the key (or console user) that saved it. A private group is visible to
// its owner and to admins only; a shared one to every analyst and admin.
// Only the owner or an admin deletes a group. A group the caller may not
// see answers 404, as a missing one does, so ids do not leak.

// Groups keeps saved customer groups (groups.LakeStore in the lake).
type Groups interface {
	Save(ctx context.Context, g groups.Group) error
	Delete(ctx context.Context, id string) error
	List(ctx context.Context) ([]groups.Group, error)
}

// groupsTTL is how long a server uses the groups it read before reading
// them again: a group saved or deleted through another instance reaches
// this one within it (its own writes at once).
const groupsTTL = 30 * time.Second

// maxGroupBody bounds the body of POST /v1/groups.
const maxGroupBody = 16 << 10

var errNoGroups = HTTPError{Code: http.StatusServiceUnavailable, Msg: "saved customer groups are not configured for this API"}

// groupCache holds the groups read last, shared by a Live's servers.
type groupCache struct {
	mu   sync.Mutex
	at   time.Time
	list []groups.Group
}

// groupList returns every group, from the cache while it is fresh.
func (s *Server) groupList(ctx context.Context) ([]groups.Group, error) {
	if s.cfg.Groups == nil {
		return nil, errNoGroups
	}
	gc := s.cfg.groups
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.list != nil && time.Since(gc.at) < groupsTTL {
		return gc.list, nil
	}
	list, err := s.cfg.Groups.List(ctx)
	if err != nil {
		return nil, HTTPError{Code: http.StatusInternalServerError, Msg: "could not read the saved groups", Err: err}
	}
	if list == nil {
		list = []groups.Group{}
	}
	gc.list, gc.at = list, time.Now()
	return list, nil
}

// forgetGroups makes the next groupList read the store.
func (s *Server) forgetGroups() {
	gc := s.cfg.groups
	gc.mu.Lock()
	gc.list = nil
	gc.mu.Unlock()
}

// visible reports whether key may see (and use) g (see canSee).
func visible(g groups.Group, key Key) bool { return canSee(g.Owner, g.Shared, key) }

// findGroup returns the group id names if the caller may see it.
func (s *Server) findGroup(r *request, id string) (groups.Group, bool, error) {
	list, err := s.groupList(r.ctx)
	if err != nil {
		return groups.Group{}, false, err
	}
	i := slices.IndexFunc(list, func(g groups.Group) bool { return g.ID == id })
	if i < 0 || !visible(list[i], r.key) {
		return groups.Group{}, false, nil
	}
	return list[i], true, nil
}

// groupConditions returns the conditions of the request's group=, if any,
// writing the group's id to h (which binds cursors).
func (s *Server) groupConditions(r *request, h io.Writer) ([]pred, error) {
	id, ok, err := r.q.one(pGroup)
	if err != nil || !ok {
		return nil, err
	}
	if !validID(id) {
		return nil, badParam(pGroup, "must be a group id (see GET /v1/groups)")
	}
	preds, err := s.groupPreds(r, id)
	if err != nil {
		return nil, err
	}
	h.Write([]byte(pGroup + "=" + id + "\x00"))
	return preds, nil
}

// groupPreds are the conditions of saved group id, one the request's
// user may use, against this run; a problem names the group= parameter.
func (s *Server) groupPreds(r *request, id string) ([]pred, error) {
	g, ok, err := s.findGroup(r, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, badParam(pGroup, "no group %s you may use (see GET /v1/groups)", quote(id))
	}
	q, err := parseQuery(g.Conditions)
	if err == nil {
		err = q.check(savedConditionParams())
	}
	var preds []pred
	if err == nil {
		preds, err = s.parseConditions(q, io.Discard)
	}
	if err != nil {
		// Saved valid; a later snapshot may lack e.g. a segment it names.
		return nil, badParam(pGroup, "group %s no longer applies to run %s: %s", id, s.meta.Run, problemOf(err).Detail)
	}
	return preds, nil
}

// groupSpec is the body of POST /v1/groups.
type groupSpec struct {
	Name       string `json:"name"`
	Shared     bool   `json:"shared"`
	Conditions string `json:"conditions"`
}

// groupInfo is a group as the API shows it, with its size in this run.
type groupInfo struct {
	groups.Group
	Customers int    `json:"customers"`
	Run       string `json:"run"`
}

func (s *Server) groupInfo(r *request, g groups.Group) groupInfo {
	gi := groupInfo{Group: g, Customers: -1, Run: s.meta.Run}
	if s.shards != nil {
		if n, err := s.countSharded(r, g.Conditions); err == nil {
			gi.Customers = n
		}
		return gi
	}
	if q, err := parseQuery(g.Conditions); err == nil {
		if preds, err := s.parseConditions(q, io.Discard); err == nil {
			sel, buf := s.ix.match(preds)
			gi.Customers = len(sel)
			s.ix.release(buf)
		}
	}
	return gi
}

// canonicalConditions validates conditions as GET /v1/customers would and
// returns them in a canonical form: parameters sorted by name, each once,
// list values comma-joined in the order given.
func (s *Server) canonicalConditions(r *request, conditions string) (string, error) {
	q, err := parseQuery(conditions)
	if err != nil {
		return "", HTTPError{Code: http.StatusBadRequest, Param: "conditions", Msg: "conditions: " + problemOf(err).Detail}
	}
	if len(q) == 0 {
		return "", badParam("conditions", "at least one condition, e.g. region=North&churn_min=0.5")
	}
	if _, nested := q[pGroup]; nested {
		return "", badParam("conditions", "a group holds conditions, not another group")
	}
	if err := q.check(savedConditionParams()); err != nil {
		return "", err
	}
	if s.shards != nil {
		if _, err := s.countSharded(r, conditions); err != nil { // the shards validate
			return "", err
		}
	} else if _, err := s.parseConditions(q, io.Discard); err != nil {
		return "", err
	}
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names)
	multi := map[string]bool{}
	for _, p := range savedConditionParams() {
		multi[p.name] = p.multi
	}
	var parts []string
	for _, k := range names {
		vals := q[k]
		if multi[k] {
			vals, _, _ = q.list(k)
		}
		esc := make([]string, len(vals))
		for i, v := range vals {
			if multi[k] {
				v = quoteListValue(v)
			}
			esc[i] = url.QueryEscape(v)
		}
		parts = append(parts, url.QueryEscape(k)+"="+strings.Join(esc, ","))
	}
	return strings.Join(parts, "&"), nil
}

func (s *Server) createGroup(r *request) error {
	if s.cfg.Groups == nil {
		return errNoGroups
	}
	if ct := r.hr.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return HTTPError{Code: http.StatusBadRequest, Msg: "the body must be application/json"}
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.hr.Body, maxGroupBody+1))
	if err != nil {
		return HTTPError{Code: http.StatusBadRequest, Msg: "could not read the body", Err: err}
	}
	if len(body) > maxGroupBody {
		return HTTPError{Code: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("the body is larger than %d bytes", maxGroupBody)}
	}
	var spec groupSpec
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return badParam(te.Field, "must be a JSON %s", te.Type.Kind())
		}
		if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
			return badParam(strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`), "is not a group field (name, shared, conditions)")
		}
		return HTTPError{Code: http.StatusBadRequest, Msg: "the body is not a JSON object: " + err.Error()}
	}
	if dec.More() {
		return HTTPError{Code: http.StatusBadRequest, Msg: "the body must hold one JSON object"}
	}
	name := strings.TrimSpace(spec.Name)
	if name == "" || utf8.RuneCountInString(name) > 100 || !utf8.ValidString(name) ||
		strings.ContainsFunc(name, func(c rune) bool { return c < ' ' || c == 0x7f }) {
		return badParam("name", "1-100 printable characters")
	}
	cond, err := s.canonicalConditions(r, spec.Conditions)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	g := groups.Group{ID: groups.NewID(now), Name: name, Owner: r.key.Name, Shared: spec.Shared, Conditions: cond,
		CreatedAt: now.Truncate(time.Microsecond)}
	if err := s.cfg.Groups.Save(r.ctx, g); err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "could not save the group", Err: err}
	}
	s.forgetGroups()
	b, err := json.Marshal(s.groupInfo(r, g))
	if err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "internal error", Err: err}
	}
	h := headers(ctJSON)
	h["Location"] = "/v1/groups/" + g.ID
	r.write(http.StatusCreated, h, b)
	return nil
}

func (s *Server) groupIndex(r *request) error {
	list, err := s.groupList(r.ctx)
	if err != nil {
		return err
	}
	out := struct {
		Run    string      `json:"run"`
		Groups []groupInfo `json:"groups"`
	}{Run: s.meta.Run, Groups: []groupInfo{}}
	for _, g := range list {
		if visible(g, r.key) {
			out.Groups = append(out.Groups, s.groupInfo(r, g))
		}
	}
	return s.writeJSON(r, out)
}

func (s *Server) group(r *request) error {
	g, ok, err := s.findGroup(r, r.param)
	if err != nil {
		return err
	}
	if !ok {
		return HTTPError{Code: http.StatusNotFound, Msg: "no group " + quote(r.param) + " (see GET /v1/groups)"}
	}
	return s.writeJSON(r, s.groupInfo(r, g))
}

func (s *Server) deleteGroup(r *request) error {
	s.forgetGroups() // decide on the store's current groups
	g, ok, err := s.findGroup(r, r.param)
	if err != nil {
		return err
	}
	if !ok {
		return HTTPError{Code: http.StatusNotFound, Msg: "no group " + quote(r.param) + " (see GET /v1/groups)"}
	}
	if !canChange(g.Owner, r.key) {
		return HTTPError{Code: http.StatusForbidden, Msg: "only the group's owner or an admin may delete it"}
	}
	if err := s.cfg.Groups.Delete(r.ctx, g.ID); err != nil && !errors.Is(err, groups.ErrNotFound) {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "could not delete the group", Err: err}
	}
	s.forgetGroups()
	return s.writeJSON(r, map[string]string{"deleted": g.ID})
}
