package web

import (
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/api"
)

// TestSortByHeader: a sortable header links to the same search sorted
// by its field, descending first and ascending on the second click, and
// the rows come back in the API's order.
func TestSortByHeader(t *testing.T) {
	f := newFixture(t)
	c := f.client("127.0.0.1")
	c.signIn(t, "ana", password("ana"))
	body := text(t, c.do("GET", "/console/search?region=North", nil))
	hrefRE := regexp.MustCompile(`id="sort-tenure_months"|href="([^"]+)" id="sort-tenure_months"`)
	m := hrefRE.FindStringSubmatch(body)
	if m == nil || m[1] == "" {
		t.Fatal("no sort link on the tenure header")
	}
	for _, want := range []string{"-tenure_months", "tenure_months"} {
		u, _ := url.Parse(html.UnescapeString(m[1]))
		if u.Query().Get("sort") != want || u.Query().Get("region") != "North" {
			t.Fatalf("tenure header links to %s, want sort=%s and the conditions kept", u, want)
		}
		body = text(t, c.do("GET", u.RequestURI(), nil))
		var got []int
		for _, row := range tableRows(t, body, "results")[1:] {
			got = append(got, atoi(t, row[5]))
		}
		if len(got) < 2 || !slices.IsSortedFunc(got, func(a, b int) int {
			if want[0] == '-' {
				return b - a
			}
			return a - b
		}) {
			t.Errorf("sort=%s: tenures %v", want, got)
		}
		if dir := map[bool]string{true: "descending", false: "ascending"}[want[0] == '-']; !strings.Contains(body, `aria-sort="`+dir+`"`) {
			t.Errorf("sort=%s: the header does not say %s", want, dir)
		}
		m = hrefRE.FindStringSubmatch(body)
	}
}

// TestEveryFilterHasALabel: each condition the API has, negations and the
// group included, is named for people in both languages, not by its
// parameter.
func TestEveryFilterHasALabel(t *testing.T) {
	names := append(api.FilterConditions(), "group")
	for _, d := range cubeKinds {
		names = append(names, d.Dims...)
	}
	for _, lang := range []string{"en", "zh"} {
		seen := map[string]string{}
		for _, name := range names {
			l := fieldLabel(dicts[lang], name)
			base := strings.TrimPrefix(name, "not.")
			if _, ok := fieldNames[base]; !ok {
				base = strings.TrimSuffix(strings.TrimSuffix(base, "_min"), "_max")
			}
			if l == "" || strings.Contains(l, "_") || strings.HasPrefix(l, strings.ReplaceAll(base, "_", " ")) {
				t.Errorf("%s: %s is labelled %q", lang, name, l)
			}
			if other, ok := seen[l]; ok && other != name {
				t.Errorf("%s: %s and %s are both %q", lang, other, name, l)
			}
			seen[l] = name
		}
	}
	for _, k := range cubeKinds {
		for _, m := range k.Measures {
			for _, lang := range []string{"en", "zh"} {
				if dicts[lang]["m_"+m.Name] == "" {
					t.Errorf("%s: measure %s has no label", lang, m.Name)
				}
			}
		}
	}
}
