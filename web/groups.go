package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/telcolake/telcolake/api"
)

// Saved customer groups in the console: the search page saves its
// conditions as a group (POST /console/groups, CSRF-checked, sent to the
// API's POST /v1/groups as the signed-in user), and the search and cube
// pages offer the groups the user may use (GET /v1/groups) as the group
// filter's choices.

func init() {
	for k, v := range map[string]string{
		"saveGroup": "Save as group", "groupName": "Group name", "groupShared": "Shared with analysts and admins",
		"groupSaved": "Group saved; it is now the search's group filter.", "anyGroup": "(no group)",
	} {
		dicts["en"][k] = v
	}
	for k, v := range map[string]string{
		"saveGroup": "保存为客户组", "groupName": "客户组名称", "groupShared": "与分析员和管理员共享",
		"groupSaved": "客户组已保存，并已作为本次查询的客户组条件。", "anyGroup": "（不限客户组）",
	} {
		dicts["zh"][k] = v
	}
}

// groupJSON is a saved group as the API lists it.
type groupJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Owner     string `json:"owner"`
	Shared    bool   `json:"shared"`
	Customers int    `json:"customers"`
}

// groupChoices are the groups the user may use, or none if the role may
// not list them or the API cannot answer (the field then takes an id).
func (c *Console) groupChoices(r *http.Request, s session) []groupJSON {
	if s.Role.Access(api.OpGroups) == api.Denied {
		return nil
	}
	status, _, body := c.apiGet(r, s, "/v1/groups", nil)
	var ans struct {
		Groups []groupJSON `json:"groups"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &ans) != nil {
		return nil
	}
	return ans.Groups
}

// saveGroup saves the search's conditions as a group and shows the
// search filtered by it; the API's refusal (a bad name, bad conditions)
// is shown on the search page, the form kept.
func (c *Console) saveGroup(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	s, ok := c.current(r)
	if !ok {
		http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
		return
	}
	if !c.formPost(w, r, s) {
		return
	}
	in, err := url.ParseQuery(r.PostForm.Get("conditions"))
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, "badForm")
		return
	}
	cond := conditions(in)
	for _, k := range []string{"sort", "cursor", "group"} {
		cond.Del(k) // groups hold conditions only, and do not nest
	}
	body, _ := json.Marshal(struct {
		Name       string `json:"name"`
		Shared     bool   `json:"shared"`
		Conditions string `json:"conditions"`
	}{strings.TrimSpace(r.PostForm.Get("name")), r.PostForm.Get("shared") != "", cond.Encode()})
	c.createThrough(w, r, s, "/v1/groups", body,
		func(id string) string {
			return "/console/search?" + url.Values{"group": {id}, "saved": {id}, "lang": {language(r)}}.Encode()
		},
		func(detail string) { c.searchPage(w, r, s, in, http.StatusBadRequest, detail, "") })
}
