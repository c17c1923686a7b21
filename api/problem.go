package api

import (
	"errors"
	"fmt"
	"net/http"
)

// HTTPError is an error with what the client may see: Code and Msg go into
// the problem+json answer, Err only into the log. Param names the query
// parameter at fault, if any.
type HTTPError struct {
	Code  int
	Msg   string
	Param string
	Err   error
}

func (e HTTPError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Code, e.Msg, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Code, e.Msg)
}

func (e HTTPError) Unwrap() error { return e.Err }

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Parameter string `json:"parameter,omitempty"` // the query parameter at fault
}

// problemBase prefixes the problem type names.
const problemBase = "urn:telcolake:problem:"

// Problem types, one per kind of failure.
var problemTypes = map[int]string{
	http.StatusBadRequest:            "invalid-request",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not-found",
	http.StatusMethodNotAllowed:      "method-not-allowed",
	http.StatusRequestEntityTooLarge: "too-large",
	http.StatusInternalServerError:   "internal",
	http.StatusServiceUnavailable:    "unavailable",
}

func problemOf(err error) Problem {
	var he HTTPError
	if !errors.As(err, &he) {
		he = HTTPError{Code: http.StatusInternalServerError, Msg: "internal error", Err: err}
	}
	if he.Code == 0 {
		he.Code = http.StatusInternalServerError
	}
	typ, ok := problemTypes[he.Code]
	if !ok {
		typ = "error"
	}
	if he.Code == http.StatusBadRequest && he.Param != "" {
		typ = "invalid-parameter"
	}
	return Problem{Type: problemBase + typ, Title: http.StatusText(he.Code), Status: he.Code, Detail: he.Msg, Parameter: he.Param}
}

// badParam is a 400 about one query parameter.
func badParam(name, format string, args ...any) HTTPError {
	return HTTPError{Code: http.StatusBadRequest, Param: name, Msg: fmt.Sprintf("parameter %s: ", name) + fmt.Sprintf(format, args...)}
}

// quote quotes client input for an error message: escaped, and cut short.
func quote(s string) string {
	const max = 40
	r := []rune(s)
	if len(r) > max {
		return fmt.Sprintf("%q…", string(r[:max]))
	}
	return fmt.Sprintf("%q", s)
}
