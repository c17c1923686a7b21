package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSaveAsGroup: the search's conditions are saved as a group through
// the API (CSRF checked), the search then filters by it with the same
// count, the group is a choice of the group filter, a bad name is the
// API's problem on the page, and agents cannot save.
func TestSaveAsGroup(t *testing.T) {
	f := newFixture(t)
	c := f.client("127.0.0.1")
	c.signIn(t, "ana", password("ana"))
	const cond = "region=North,South&churn_min=0.4&sort=-clv"
	page := text(t, c.do("GET", "/console/search?"+cond, nil))
	token := c.csrf(t, page)
	want := f.apiCount(t, mustQuery(t, "region=North,South&churn_min=0.4"))

	if resp := c.do("POST", "/console/groups", url.Values{"csrf": {"forged"}, "name": {"x"}, "conditions": {cond}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("forged CSRF token: %d, want 403", resp.StatusCode)
	}
	resp := c.do("POST", "/console/groups", url.Values{"csrf": {token}, "name": {"North and South at risk"}, "shared": {"1"}, "conditions": {cond}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d %s", resp.StatusCode, text(t, resp))
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	id := loc.Query().Get("group")
	if id == "" {
		t.Fatalf("save redirects to %s, without the group", loc)
	}
	body := text(t, c.do("GET", loc.RequestURI(), nil))
	if got := atoi(t, strings.Fields(textOf(t, body, "count"))[0]); got != want {
		t.Errorf("search by the group counts %d, the API counts the conditions %d", got, want)
	}
	if !strings.Contains(body, `id="group-saved"`) || !strings.Contains(body, `<option value="`+id+`" selected>North and South at risk (`) {
		t.Errorf("the saved group is not the selected choice of the group filter")
	}
	// The cube takes the group too.
	cube := text(t, c.do("GET", "/console/cube?group="+id, nil))
	rows := tableRows(t, cube, "cube-table")
	if last := rows[len(rows)-1]; atoi(t, last[1]) != want {
		t.Errorf("cube of the group: %v, want %d", last, want)
	}
	resp = c.do("POST", "/console/groups", url.Values{"csrf": {token}, "name": {""}, "conditions": {cond}})
	if body := text(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(textOf(t, body, "search-problem"), "name") {
		t.Errorf("empty name: %d, problem %q", resp.StatusCode, textOf(t, body, "search-problem"))
	}
	ada := f.client("127.0.0.1")
	ada.signIn(t, "ada", password("ada"))
	lookup := text(t, ada.do("GET", "/console/lookup", nil))
	if resp := ada.do("POST", "/console/groups", url.Values{"csrf": {ada.csrf(t, lookup)}, "name": {"mine"}, "conditions": {cond}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("agent saves a group: %d, want 403", resp.StatusCode)
	}
}
