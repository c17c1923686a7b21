package api

import (
	"encoding/json"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/insight"
)

// oaDoc is the part of the OpenAPI document the tests read.
type oaDoc struct {
	OpenAPI string `json:"openapi"`
	Info    struct {
		Description string `json:"description"`
	} `json:"info"`
	Security   []map[string][]string      `json:"security"`
	Paths      map[string]map[string]oaOp `json:"paths"`
	Components struct {
		SecuritySchemes map[string]map[string]string `json:"securitySchemes"`
		Parameters      map[string]oaParam           `json:"parameters"`
	} `json:"components"`
}

type oaOp struct {
	Security   *[]map[string][]string `json:"security"`
	Parameters []oaParam              `json:"parameters"`
	Responses  map[string]any         `json:"responses"`
}

type oaParam struct {
	Ref    string `json:"$ref"`
	Name   string `json:"name"`
	In     string `json:"in"`
	Schema struct {
		Enum    []any    `json:"enum"`
		Maximum *float64 `json:"maximum"`
		Items   struct {
			Enum []any `json:"enum"`
		} `json:"items"`
	} `json:"schema"`
}

func loadOpenAPI(t *testing.T) (oaDoc, map[string]any) {
	t.Helper()
	var doc oaDoc
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(openapiJSON, &raw); err != nil {
		t.Fatal(err)
	}
	return doc, raw
}

func (d oaDoc) resolve(t *testing.T, p oaParam) oaParam {
	t.Helper()
	if p.Ref == "" {
		return p
	}
	name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/")
	q, found := d.Components.Parameters[name]
	if !ok || !found {
		t.Fatalf("unresolved parameter %s", p.Ref)
	}
	return q
}

// TestOpenAPIMatchesHandler: every route the handler serves is in the
// document and vice versa, with the same query and path parameters.
func TestOpenAPIMatchesHandler(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Errorf("openapi %q, want 3.0.x", doc.OpenAPI)
	}
	f := newFixture(t, nil)
	served := map[string]map[string]bool{}
	for _, rt := range f.s.routes {
		method := strings.ToLower(rt.verb())
		if served[rt.pattern] == nil {
			served[rt.pattern] = map[string]bool{}
		}
		served[rt.pattern][method] = true
		item, ok := doc.Paths[rt.pattern]
		if !ok {
			t.Errorf("route %s is not in openapi.json", rt.pattern)
			continue
		}
		op, ok := item[method]
		if !ok {
			t.Errorf("route %s %s is not in openapi.json", rt.verb(), rt.pattern)
			continue
		}
		var query, path []string
		for _, p := range op.Parameters {
			p = doc.resolve(t, p)
			switch p.In {
			case "query":
				query = append(query, p.Name)
			case "path":
				path = append(path, p.Name)
			default:
				t.Errorf("%s: parameter %s in %s", rt.pattern, p.Name, p.In)
			}
		}
		var accepted []string
		for _, p := range rt.params {
			accepted = append(accepted, p.name)
		}
		sort.Strings(query)
		sort.Strings(accepted)
		if !slices.Equal(query, accepted) {
			t.Errorf("%s: documented query parameters %v, handler accepts %v", rt.pattern, query, accepted)
		}
		var wantPath []string
		for _, seg := range strings.Split(rt.pattern, "/") {
			if strings.HasPrefix(seg, "{") {
				wantPath = append(wantPath, strings.Trim(seg, "{}"))
			}
		}
		if !slices.Equal(path, wantPath) {
			t.Errorf("%s: documented path parameters %v, want %v", rt.pattern, path, wantPath)
		}
		perm := permission(rt.op)
		if perm.Public != (op.Security != nil && len(*op.Security) == 0) {
			t.Errorf("%s: public %v, but the document's security is %v", rt.pattern, perm.Public, op.Security)
		}
		want := []string{"200", "400"}
		if rt.verb() == "POST" {
			want[0] = "201"
		}
		if !perm.Public {
			want = append(want, "401", "500")
		}
		for _, r := range Roles {
			if perm.Of(r) == Denied && !perm.Public {
				want = append(want, "403")
				break
			}
		}
		for _, code := range want {
			if _, ok := op.Responses[code]; !ok {
				t.Errorf("%s: response %s not documented", rt.pattern, code)
			}
		}
	}
	for p, item := range doc.Paths {
		for m := range item {
			if !served[p][m] {
				t.Errorf("openapi.json documents %s %s, which the handler does not serve", m, p)
			}
		}
	}
}

// TestOpenAPIValues: enumerations and bounds in the document are the
// handler's.
func TestOpenAPIValues(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	params := doc.Components.Parameters
	var sorts []any
	for _, f := range numFields {
		sorts = append(sorts, f.name, "-"+f.name)
	}
	if got := params["sort"].Schema.Enum; !sameSet(got, sorts) {
		t.Errorf("sort enum %v, want %v", got, sorts)
	}
	for _, cf := range catFields {
		if cf.closed == nil {
			continue
		}
		var want []any
		for _, v := range cf.closed {
			want = append(want, v)
		}
		if got := params[cf.param].Schema.Items.Enum; !sameSet(got, want) {
			t.Errorf("%s enum %v, want %v", cf.param, got, want)
		}
	}
	var statuses []any
	for _, s := range ingestStatuses {
		statuses = append(statuses, s)
	}
	if got := params["ingest_status"].Schema.Enum; !sameSet(got, statuses) {
		t.Errorf("ingest status enum %v, want %v", got, statuses)
	}
	for _, rp := range rangeParams {
		names := []string{rp.prefix + "_min"}
		if !rp.noMax {
			names = append(names, rp.prefix+"_max")
		}
		for _, n := range names {
			p, ok := params[n]
			if !ok || p.Schema.Maximum == nil || *p.Schema.Maximum != rp.max {
				t.Errorf("parameter %s: maximum %v, want %v", n, p.Schema.Maximum, rp.max)
			}
		}
	}
	var dims, measures []any
	for _, d := range insight.Dimensions {
		dims = append(dims, d.Name)
	}
	for _, m := range insight.Measures {
		measures = append(measures, m.Name)
	}
	if got := params["cube_dims"].Schema.Items.Enum; !sameSet(got, dims) {
		t.Errorf("cube dims enum %v, want %v", got, dims)
	}
	if got := params["cube_measures"].Schema.Items.Enum; !sameSet(got, measures) {
		t.Errorf("cube measures enum %v, want %v", got, measures)
	}
	if got := params["limit"].Schema.Maximum; got == nil || *got != defaultMaxPageSize {
		t.Errorf("limit maximum %v, want %d", got, defaultMaxPageSize)
	}
	if !strings.Contains(doc.Info.Description, MatrixMarkdown()) {
		t.Errorf("info.description lacks the role matrix; paste:\n%s", MatrixMarkdown())
	}
	ss := doc.Components.SecuritySchemes
	if k := ss["ApiKeyHeader"]; k["type"] != "apiKey" || k["in"] != "header" || k["name"] != "X-API-Key" {
		t.Errorf("ApiKeyHeader scheme %v", k)
	}
	if b := ss["BearerKey"]; b["type"] != "http" || b["scheme"] != "bearer" {
		t.Errorf("BearerKey scheme %v", b)
	}
	if len(doc.Security) != 2 {
		t.Errorf("global security %v, want the two schemes as alternatives", doc.Security)
	}
}

// TestOpenAPIRefs: every $ref resolves.
func TestOpenAPIRefs(t *testing.T) {
	_, raw := loadOpenAPI(t)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok {
				var cur any = raw
				for _, part := range strings.Split(strings.TrimPrefix(r, "#/"), "/") {
					m, _ := cur.(map[string]any)
					cur = m[part]
				}
				if cur == nil {
					t.Errorf("$ref %s does not resolve", r)
				}
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(raw)
}

// TestOpenAPIServed: the endpoint serves the file kept in the repository.
func TestOpenAPIServed(t *testing.T) {
	f := newFixture(t, nil)
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	resp := f.get(t, "", "/v1/openapi.json")
	if resp.StatusCode != 200 || resp.Body != string(file) || resp.Headers["Content-Type"] != ctJSON {
		t.Errorf("GET /v1/openapi.json: %d, %s, %d bytes, want 200 and the file's %d", resp.StatusCode, resp.Headers["Content-Type"], len(resp.Body), len(file))
	}
}

func sameSet(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
