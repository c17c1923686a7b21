package web

import (
	"encoding/json"
	"net/http"
)

// The console's create forms (campaigns, scenarios, saved groups) post
// to the API as the signed-in user and answer alike: the new object's
// page, or the form again with the API's reason.

// formPost parses r's form and checks its CSRF token, answering a bad
// form (400) or a bad token (403) itself; false: the caller stops.
func (c *Console) formPost(w http.ResponseWriter, r *http.Request, s session) bool {
	if r.ParseForm() != nil {
		c.fail(w, r, http.StatusBadRequest, "badForm")
		return false
	}
	if !c.ss.validCSRF(s.ID, r.PostForm.Get("csrf")) {
		c.fail(w, r, http.StatusForbidden, "csrf")
		return false
	}
	return true
}

// createThrough POSTs body to the API's path as s's user: created (201,
// an answer with an "id"), it redirects to next(id); refused (400, 413),
// again shows the form with the API's reason; forbidden (403) and
// anything else get the console's error page.
func (c *Console) createThrough(w http.ResponseWriter, r *http.Request, s session, path string, body []byte,
	next func(id string) string, again func(detail string)) {
	status, _, ans := c.apiCall(r, s, http.MethodPost, path, body)
	switch status {
	case http.StatusCreated:
		var created struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(ans, &created) != nil || created.ID == "" {
			c.fail(w, r, http.StatusBadGateway, "internal")
			return
		}
		http.Redirect(w, r, next(created.ID), http.StatusSeeOther)
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		again(problemDetail(ans))
	case http.StatusForbidden:
		c.fail(w, r, http.StatusForbidden, "forbidden")
	default:
		c.fail(w, r, http.StatusBadGateway, "internal")
	}
}
