package api

import (
	"crypto/sha256"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// query is a request's query string: parameter name → values in order.
type query map[string][]string

// maxQueryLen bounds the raw query string.
const maxQueryLen = 8192

// parseQuery reads the raw query string, so repeated parameters are seen.
func parseQuery(raw string) (query, error) {
	if len(raw) > maxQueryLen {
		return nil, HTTPError{Code: http.StatusBadRequest, Msg: "query string too long"}
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, HTTPError{Code: http.StatusBadRequest, Msg: "malformed query string", Err: err}
	}
	return query(v), nil
}

// paramSpec is a parameter a route accepts.
type paramSpec struct {
	name  string
	multi bool // may repeat; values are comma lists, merged
}

// check rejects parameters the route does not accept and repeated
// single-valued ones.
func (q query) check(specs []paramSpec) error {
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names) // the same error for the same query
	for _, k := range names {
		i := slices.IndexFunc(specs, func(s paramSpec) bool { return s.name == k })
		if i < 0 {
			return HTTPError{Code: http.StatusBadRequest, Param: cut(k, 64), Msg: "unknown parameter " + quote(k)}
		}
		if len(q[k]) > 1 && !specs[i].multi {
			return badParam(k, "given %d times, allowed once", len(q[k]))
		}
	}
	return nil
}

// one returns the value of a single-valued parameter.
func (q query) one(name string) (string, bool, error) {
	v, ok := q[name]
	if !ok {
		return "", false, nil
	}
	if v[0] == "" {
		return "", false, badParam(name, "empty value")
	}
	return v[0], true, nil
}

// list returns the comma-separated values of a parameter, repeats merged.
func (q query) list(name string) ([]string, bool, error) {
	vs, ok := q[name]
	if !ok {
		return nil, false, nil
	}
	var out []string
	for _, v := range vs {
		parts, ok := splitList(v)
		if !ok {
			return nil, false, badParam(name, "unclosed quote (a value holding a comma is quoted: \"sales, retail\")")
		}
		for _, s := range parts {
			s = strings.TrimSpace(s)
			if s == "" {
				return nil, false, badParam(name, "empty value in the list")
			}
			if len(s) > 64 || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
				return nil, false, badParam(name, "values are at most 64 printable characters")
			}
			out = append(out, s)
		}
	}
	if len(out) > 256 {
		return nil, false, badParam(name, "at most 256 values")
	}
	return out, true, nil
}

// splitList splits a comma list. A value holding a comma (or a quote) is
// enclosed in double quotes, a quote inside doubled: "sales, retail",clerk
// is two values. ok is false for an unclosed quote.
func splitList(v string) ([]string, bool) {
	if !strings.Contains(v, `"`) {
		return strings.Split(v, ","), true
	}
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case quoted && c == '"' && i+1 < len(v) && v[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"' && (quoted || strings.TrimSpace(cur.String()) == ""):
			if !quoted {
				cur.Reset()
			}
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if quoted {
		return nil, false
	}
	return append(out, cur.String()), true
}

// quoteListValue writes v as splitList reads it back.
func quoteListValue(v string) string {
	if !strings.ContainsAny(v, `,"`) {
		return v
	}
	return `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
}

// intParam parses a non-negative integer at most max.
func (q query) intParam(name string, min, max int) (int, bool, error) {
	s, ok, err := q.one(name)
	if !ok || err != nil {
		return 0, false, err
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, false, badParam(name, "must be an integer")
	}
	if v < min || v > max {
		return 0, false, badParam(name, "must be between %d and %d", min, max)
	}
	return v, true, nil
}

// floatParam parses a finite decimal number within [min, max].
func (q query) floatParam(name string, min, max float64) (float64, bool, error) {
	s, ok, err := q.one(name)
	if !ok || err != nil {
		return 0, false, err
	}
	plain := !strings.ContainsFunc(s, func(r rune) bool { return !strings.ContainsRune("0123456789.eE+-", r) })
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !plain || math.IsNaN(v) || math.IsInf(v, 0) || len(s) > 32 {
		return 0, false, badParam(name, "must be a number")
	}
	if v < min || v > max {
		return 0, false, badParam(name, "must be between %s and %s", fmtNum(min), fmtNum(max))
	}
	return v, true, nil
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// rangeParam is a pair of range parameters <prefix>_min and <prefix>_max
// on a numeric field.
type rangeParam struct {
	prefix string
	field  string
	max    float64 // largest value allowed
	lo     float64 // smallest value allowed (0 unless set)
	noMax  bool    // only <prefix>_min exists
}

// rangeParams are the numeric conditions of the filter.
var rangeParams = []rangeParam{
	{prefix: "tenure", field: "tenure_months", max: 1200},
	{prefix: "churn", field: "churn_probability", max: 1},
	{prefix: "bad_debt", field: "bad_debt_probability", max: 1},
	{prefix: "value", field: "monthly_value", max: 1e12},
	{prefix: "clv", field: "clv", lo: -1e12, max: 1e12},
	{prefix: "var", field: "value_at_risk", lo: -1e12, max: 1e12},
	{prefix: "arrears", field: "arrears", max: 1e12},
	{prefix: "months_in_arrears", field: "months_in_arrears", max: 1200, noMax: true},
	{prefix: "roaming", field: "roaming_calls", max: 1e9},
	{prefix: "minutes", field: "voice_minutes", max: 1e9},
	{prefix: "data", field: "data_mb", max: 1e12},
	{prefix: "care_calls", field: "care_calls", max: 1e9, noMax: true},
	{prefix: "sms", field: "sms", max: 1e9},
	{prefix: "contacts", field: "distinct_contacts", max: 1e9},
	{prefix: "intl", field: "intl_calls", max: 1e9},
	{prefix: "discount", field: "discount", max: 1e12},
	{prefix: "credit_use", field: "credit_use", max: 1e6},
	{prefix: "minutes_trend", field: "voice_minutes_trend", lo: -1, max: 1e6},
	{prefix: "calls_trend", field: "calls_trend", lo: -1, max: 1e6},
	{prefix: "data_trend", field: "data_trend", lo: -1, max: 1e6},
	{prefix: "contacts_trend", field: "contacts_trend", lo: -1, max: 1e6},
	{prefix: "spend_trend", field: "spend_trend", lo: -1, max: 1e6},
	{prefix: "profit", field: "profit", lo: -1e12, max: 1e12},
	{prefix: "uplift", field: "uplift", lo: -1, max: 1},
	{prefix: "contact_value", field: "contact_value", lo: -1e12, max: 1e12},
}

// notPrefix negates a categorical condition: not.region=North,South keeps
// the customers whose region is neither.
const notPrefix = "not."

// pGroup names a saved customer group whose conditions apply too (AND).
const pGroup = "group"

// The paging and format parameters.
const (
	pSort   = "sort"
	pLimit  = "limit"
	pCursor = "cursor"
	pFormat = "format"
)

// filterParams are the parameters of GET /v1/customers.
func filterParams() []paramSpec {
	return append(conditionParams(), paramSpec{name: pSort}, paramSpec{name: pLimit}, paramSpec{name: pCursor}, paramSpec{name: pFormat})
}

// conditionParams are the filter's conditions, shared by every route that
// selects customers as GET /v1/customers does.
func conditionParams() []paramSpec {
	ps := savedConditionParams()
	return append(ps, paramSpec{name: pGroup})
}

// savedConditionParams are the conditions a group may hold (all but
// group= itself: groups do not nest).
func savedConditionParams() []paramSpec {
	var ps []paramSpec
	for _, f := range catFields {
		ps = append(ps, paramSpec{name: f.param, multi: true}, paramSpec{name: notPrefix + f.param, multi: true})
	}
	for _, r := range rangeParams {
		ps = append(ps, paramSpec{name: r.prefix + "_min"})
		if !r.noMax {
			ps = append(ps, paramSpec{name: r.prefix + "_max"})
		}
	}
	return ps
}

// filter is a parsed GET /v1/customers query.
type filter struct {
	preds  []pred
	order  order
	limit  int
	cursor string
	csv    bool
	hash   [8]byte // of the conditions, binds cursors to them
}

// defaultSort is the order without sort=.
const defaultSort = "-churn_probability"

func (s *Server) parseFilter(q query) (*filter, error) {
	return s.parseFilterWith(q, nil)
}

// parseFilterWith parses a filter whose conditions are q's and those
// more returns (a group's), all ANDed.
func (s *Server) parseFilterWith(q query, more func(h io.Writer) ([]pred, error)) (*filter, error) {
	if err := q.check(s.filterSpecs); err != nil {
		return nil, err
	}
	f := &filter{}
	h := sha256.New()
	preds, err := s.parseConditions(q, h)
	if err != nil {
		return nil, err
	}
	if more != nil {
		extra, err := more(h)
		if err != nil {
			return nil, err
		}
		preds = append(preds, extra...)
	}
	f.preds = preds
	sortBy, ok, err := q.one(pSort)
	if err != nil {
		return nil, err
	}
	if !ok {
		sortBy = defaultSort
	}
	name := strings.TrimPrefix(sortBy, "-")
	f.order = order{field: numFieldIndex(name), desc: len(name) < len(sortBy)}
	if f.order.field < 0 {
		return nil, badParam(pSort, "unknown field %s (allowed: a numeric field name, - in front for descending)", quote(sortBy))
	}
	copy(f.hash[:], h.Sum(nil))
	if err := s.parsePaging(q, &f.limit, &f.cursor, &f.csv); err != nil {
		return nil, err
	}
	return f, nil
}

// parseConditions reads the filter's conditions (conditionParams) into
// predicates, writing their canonical form to h (which binds cursors).
func (s *Server) parseConditions(q query, h io.Writer) ([]pred, error) {
	var preds []pred
	for j, cf := range catFields {
		for _, neg := range []bool{false, true} {
			name := cf.param
			if neg {
				name = notPrefix + cf.param
			}
			vals, ok, err := q.list(name)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			for i, v := range vals {
				if cf.closed != nil && !slices.Contains(cf.closed, v) {
					return nil, badParam(name, "unknown value %s (allowed: %s)", quote(v), strings.Join(cf.closed, ", "))
				}
				if cf.param == "segment" {
					id, err := strconv.Atoi(v)
					if err != nil {
						return nil, badParam(name, "segment ids are integers")
					}
					if id < math.MinInt32 || id > math.MaxInt32 || !s.knownSegment(int32(id)) {
						return nil, badParam(name, "unknown segment %d (see /v1/segments)", id)
					}
					vals[i] = strconv.Itoa(id) // as the index spells it: 01 is 1
				}
			}
			p := s.ix.catPred(j, vals)
			if neg {
				p = s.ix.negate(j, p)
			}
			preds = append(preds, p)
			h.Write([]byte(name + "=" + strings.Join(vals, ",") + "\x00"))
		}
	}
	for _, rp := range rangeParams {
		j := numFieldIndex(rp.field)
		lo, hi := math.Inf(-1), math.Inf(1)
		var hasLo, hasHi bool
		var err error
		minName, maxName := rp.prefix+"_min", rp.prefix+"_max"
		if numFields[j].isInt {
			var a, b int
			a, hasLo, err = q.intParam(minName, int(rp.lo), int(rp.max))
			if err != nil {
				return nil, err
			}
			if !rp.noMax {
				b, hasHi, err = q.intParam(maxName, int(rp.lo), int(rp.max))
				if err != nil {
					return nil, err
				}
			}
			if hasLo {
				lo = float64(a)
			}
			if hasHi {
				hi = float64(b)
			}
		} else {
			var a, b float64
			a, hasLo, err = q.floatParam(minName, rp.lo, rp.max)
			if err != nil {
				return nil, err
			}
			if !rp.noMax {
				b, hasHi, err = q.floatParam(maxName, rp.lo, rp.max)
				if err != nil {
					return nil, err
				}
			}
			if hasLo {
				lo = a
			}
			if hasHi {
				hi = b
			}
		}
		if !hasLo && !hasHi {
			continue
		}
		if lo > hi {
			return nil, badParam(minName, "%s is greater than %s", minName, maxName)
		}
		preds = append(preds, s.ix.rangePred(j, lo, hi))
		h.Write([]byte(rp.field + "=" + fmtNum(lo) + ".." + fmtNum(hi) + "\x00"))
	}
	return preds, nil
}

// parsePaging reads limit, cursor and format, shared by the filter and
// the lists. A CSV export has every row: limit and cursor are refused.
func (s *Server) parsePaging(q query, limit *int, cursor *string, csv *bool) error {
	format, ok, err := q.one(pFormat)
	if err != nil {
		return err
	}
	if ok && format != "json" && format != "csv" {
		return badParam(pFormat, "must be json or csv")
	}
	*csv = format == "csv"
	n, ok, err := q.intParam(pLimit, 1, s.cfg.MaxPageSize)
	if err != nil {
		return err
	}
	if !ok {
		n = min(defaultPageSize, s.cfg.MaxPageSize)
	} else if *csv {
		return badParam(pLimit, "not allowed with format=csv (the export has every row)")
	}
	*limit = n
	c, ok, err := q.one(pCursor)
	if err != nil {
		return err
	}
	if ok && *csv {
		return badParam(pCursor, "not allowed with format=csv (the export has every row)")
	}
	*cursor = c
	return nil
}

// cut shortens client input for logs and messages.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// FilterConditions lists the condition parameters of GET /v1/customers in
// order, for the console's filter builder: the categories (comma lists of
// values) and the ranges (_min, _max); sort, limit, cursor and format are
// not conditions.
func FilterConditions() []string {
	var out []string
	for _, p := range filterParams() {
		switch p.name {
		case pSort, pLimit, pCursor, pFormat, pGroup:
			continue
		}
		out = append(out, p.name)
	}
	return out
}
