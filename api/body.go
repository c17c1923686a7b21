package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// readJSONBody decodes the request's body, one JSON object of at most max
// bytes with no unknown fields, into v: 400 for a wrong content type, a
// malformed body or more than one object, 413 for a body over max.
func readJSONBody(r *request, max int, v any) error {
	if ct := r.hr.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return HTTPError{Code: http.StatusBadRequest, Msg: "the body must be application/json"}
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.hr.Body, int64(max)+1))
	if err != nil {
		return HTTPError{Code: http.StatusBadRequest, Msg: "could not read the body", Err: err}
	}
	if len(body) > max {
		return HTTPError{Code: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("the body is larger than %d bytes", max)}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if dec.More() {
		return HTTPError{Code: http.StatusBadRequest, Msg: "the body must hold one JSON object"}
	}
	return nil
}
