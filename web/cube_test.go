package web

import (
	"encoding/json"
	"html"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	rowRE   = regexp.MustCompile(`(?s)<tr[^>]*>(.*?)</tr>`)
	cellRE  = regexp.MustCompile(`(?s)<t[dh][^>]*>(.*?)</t[dh]>`)
	drillRE = regexp.MustCompile(`class="drill" href="([^"]+)"`)
)

// tableRows are the rows of the table with id, each as its cells' text.
func tableRows(t *testing.T, body, id string) [][]string {
	t.Helper()
	i := strings.Index(body, `<table id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no table #%s", id)
	}
	end := strings.Index(body[i:], "</table>") + i
	var out [][]string
	for _, m := range rowRE.FindAllStringSubmatch(body[i:end], -1) {
		var row []string
		for _, c := range cellRE.FindAllStringSubmatch(m[1], -1) {
			row = append(row, html.UnescapeString(strings.TrimSpace(tagRE.ReplaceAllString(c[1], ""))))
		}
		out = append(out, row)
	}
	return out
}

// apiCount is the API's count of customers for the conditions q.
func (f *fixture) apiCount(t *testing.T, q url.Values) int {
	t.Helper()
	r := httptest.NewRequest("GET", "/v1/customers?"+q.Encode(), nil)
	r.Header.Set("X-API-Key", adminKey)
	w := httptest.NewRecorder()
	f.api.ServeHTTP(w, r)
	var ans struct{ Count int }
	if err := json.NewDecoder(w.Body).Decode(&ans); err != nil || w.Code != 200 {
		t.Fatalf("/v1/customers?%s: %d %v", q.Encode(), w.Code, err)
	}
	return ans.Count
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	if err != nil {
		t.Fatalf("not a count: %q", s)
	}
	return n
}

// TestCubePage: a two-dimension customer cube's rows, subtotals and
// grand total are the customers' counts (the API's count for the
// total), the heatmap holds the same cells, and a drill-down narrows the
// filter to the row and offers the next dimension.
func TestCubePage(t *testing.T) {
	f := newFixture(t)
	c := f.client("127.0.0.1")
	c.signIn(t, "ana", password("ana"))
	resp := c.do("GET", "/console/cube?cube=customers&dims=region&dims=plan&churn_min=0.3&measures=count,churn_rate", nil)
	body := text(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("cube page: %d\n%s", resp.StatusCode, body)
	}
	want := map[string]int{}
	for _, cu := range f.customers {
		if cu.Probability < 0.3 {
			continue
		}
		for _, k := range []string{cu.Region + "|" + cu.Plan, cu.Region + "|all", "all|all"} {
			want[k]++
		}
	}
	got := map[string]int{}
	rows := tableRows(t, body, "cube-table")
	for _, row := range rows[1:] { // the header first
		switch {
		case row[0] == "Grand total":
			got["all|all"] = atoi(t, row[1])
			if !strings.HasSuffix(row[2], "%") {
				t.Errorf("churn rate %q is not a percentage", row[2])
			}
		case len(row) >= 3:
			got[row[0]+"|"+row[1]] = atoi(t, row[2])
		}
	}
	if len(got) != len(want) {
		t.Errorf("table has %d rows (%v), want %d (%v)", len(got), got, len(want), want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("row %s = %d, want %d", k, got[k], n)
		}
	}
	if api := f.apiCount(t, url.Values{"churn_min": {"0.3"}}); got["all|all"] != api {
		t.Errorf("grand total %d, the API counts %d", got["all|all"], api)
	}
	heat := tableRows(t, body, "cube-heat")
	if len(heat) != 1+3+1 { // header, three regions, the totals
		t.Fatalf("heatmap has %d rows: %v", len(heat), heat)
	}
	for _, row := range heat[1:4] {
		for j, plan := range heat[0][1:4] {
			if n := atoi(t, row[1+j]); n != want[row[0]+"|"+plan] {
				t.Errorf("heatmap %s × %s = %d, want %d", row[0], plan, n, want[row[0]+"|"+plan])
			}
		}
	}
	if n := atoi(t, heat[4][4]); n != want["all|all"] {
		t.Errorf("heatmap total %d, want %d", n, want["all|all"])
	}

	// Drill into the first leaf row: both its values become filters and
	// the next dimension (segment, the first unused) is offered.
	m := drillRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no drill-down link")
	}
	link, _ := url.Parse(html.UnescapeString(m[1]))
	lq := link.Query()
	first := rows[1]
	if lq.Get("region") != first[0] || lq.Get("plan") != first[1] || lq.Get("churn_min") != "0.3" || lq.Get("dims") != "segment" {
		t.Fatalf("drill link of %v: %s", first, link)
	}
	body = text(t, c.do("GET", link.RequestURI(), nil))
	total := tableRows(t, body, "cube-table")
	last := total[len(total)-1]
	if last[0] != "Grand total" || atoi(t, last[1]) != want[first[0]+"|"+first[1]] {
		t.Errorf("drilled page's total %v, want %d", last, want[first[0]+"|"+first[1]])
	}
	if !strings.Contains(textOf(t, body, "cube-active"), "Region = "+first[0]) {
		t.Errorf("drilled page does not show the filter: %s", textOf(t, body, "cube-active"))
	}
}

// TestCubeDrillFilters: a tenure band drills into a tenure range, a
// value with a comma is quoted, an unknown ("") value offers no drill.
func TestCubeDrillFilters(t *testing.T) {
	q := cubeQuery{Kind: cubeKindOf("customers"), Dims: []string{"tenure_band", "occupation"}, Measures: []string{"count"}, Filter: url.Values{}}
	for _, tt := range []struct {
		keys []cellKey
		want url.Values // nil: no drill
	}{
		{[]cellKey{{"12-23", true}, {}}, url.Values{"tenure_min": {"12"}, "tenure_max": {"23"}, "dims": {"occupation"}}},
		{[]cellKey{{"60+", true}, {"sales, retail", true}}, url.Values{"tenure_min": {"60"}, "occupation": {`"sales, retail"`}, "dims": {"region"}}},
		{[]cellKey{{}, {"", true}}, nil},
		{[]cellKey{{}, {}}, nil},
	} {
		link, _, ok := q.drill(tt.keys)
		if ok != (tt.want != nil) {
			t.Errorf("drill(%v) ok = %v", tt.keys, ok)
			continue
		}
		if !ok {
			continue
		}
		u, _ := url.Parse(link)
		for k, v := range tt.want {
			if got := u.Query()[k]; strings.Join(got, "|") != strings.Join(v, "|") {
				t.Errorf("drill(%v): %s = %v, want %v (%s)", tt.keys, k, got, v, link)
			}
		}
	}
}

// TestCubePageRolesAndKinds: agents are refused; the stored cubes and the
// examples answer; a bad dimension is the API's problem, named; the CSV
// is the API's.
func TestCubePageRolesAndKinds(t *testing.T) {
	f := newFixture(t)
	ada := f.client("127.0.0.1")
	ada.signIn(t, "ada", password("ada"))
	if resp := ada.do("GET", "/console/cube", nil); resp.StatusCode != 403 {
		t.Errorf("agent: cube page %d, want 403", resp.StatusCode)
	}
	if resp := ada.do("GET", "/console/data/cube?dims=region", nil); resp.StatusCode != 403 {
		t.Errorf("agent: cube CSV %d, want 403", resp.StatusCode)
	}
	for _, user := range []string{"ana", "adm"} {
		c := f.client("127.0.0.1")
		c.signIn(t, user, password(user))
		body := text(t, c.do("GET", "/console/cube?cube=monthly&dims=month&measures=subscribers,churned", nil))
		rows := tableRows(t, body, "cube-table")
		if len(rows) != 1+7+1 || rows[1][0] != "2026-05" || atoi(t, rows[1][2]) != 15 {
			t.Errorf("%s: monthly cube rows %v", user, rows)
		}
		if !strings.Contains(body, `id="cube-chart"`) {
			t.Errorf("%s: one dimension and no bar chart", user)
		}
		if zh := text(t, c.do("GET", "/console/cube?dims=region&lang=zh", nil)); !strings.Contains(zh, "数据立方") || !strings.Contains(zh, "总计") {
			t.Errorf("%s: the cube page in Simplified Chinese lacks its title or grand total", user)
		}
		body = text(t, c.do("GET", "/console/cube?dims=region,nope", nil))
		if p := textOf(t, body, "cube-problem"); !strings.Contains(p, "nope") {
			t.Errorf("%s: bad dimension's problem %q", user, p)
		}
		resp := c.do("GET", "/console/data/cube?cube=customers&dims=plan&format=csv", nil)
		csv := text(t, resp)
		if resp.StatusCode != 200 || !strings.HasPrefix(csv, "plan,grouping,count") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
			t.Errorf("%s: CSV %d %q", user, resp.StatusCode, csv)
		}
		for _, m := range regexp.MustCompile(`<li><a href="([^"]+)"`).FindAllStringSubmatch(textBetween(body, `id="cube-examples"`, "</ul>"), -1) {
			u := html.UnescapeString(m[1])
			resp := c.do("GET", u, nil)
			page := text(t, resp)
			if resp.StatusCode != 200 || strings.Contains(page, `id="cube-problem"`) {
				t.Errorf("%s: example %s: %d %s", user, u, resp.StatusCode, page)
			}
		}
	}
}

func textBetween(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	j := strings.Index(s[i:], to)
	if j < 0 {
		return s[i:]
	}
	return s[i : i+j]
}
