package web

import (
	"context"
	"fmt"
	"html/template"
	"io/fs"
	"strings"

	"github.com/telcolake/telcolake/api"
)

// Adding a page to the console takes three things, each in its own place:
//
//  1. a template templates/<name>.html defining "main" (and optionally
//     "title"); every file there except layout.html is parsed as a page;
//  2. a handler in its own file, registered with one line in New, that
//     renders it with c.render(w, r, status, "<name>", c.page(r, &s, data));
//     Pieces several pages share (the filter builder) are templates in
//     templates/parts/, parsed with every page;
//  3. one entry in nav below (path, dictionary key, the API operation the
//     role needs).

// navEntry is one link of the console's header.
type navEntry struct {
	Path string // under /console/
	Key  string // dictionary key of the label
	// Op is the API operation a role must be allowed to see the link; ""
	// shows it to everyone signed in.
	Op api.Op
}

// nav is the console's navigation, in order.
var nav = []navEntry{
	{Path: "/console/dashboard", Key: "dashboard", Op: api.OpCube},
	{Path: "/console/search", Key: "search", Op: api.OpCustomers},
	{Path: "/console/lists", Key: "lists", Op: api.OpLists},
	{Path: "/console/cube", Key: "cubeNav", Op: api.OpCube},
	{Path: "/console/segments", Key: "segments", Op: api.OpSegments},
	{Path: "/console/models", Key: "models", Op: api.OpModels},
	{Path: "/console/lifecycle", Key: "lifecycleNav", Op: api.OpSurvival},
	{Path: "/console/causes", Key: "causesNav", Op: api.OpCauses},
	{Path: "/console/tracking", Key: "trackingNav", Op: api.OpTracking},
	{Path: "/console/value", Key: "valueNav", Op: api.OpValueTiers},
	{Path: "/console/ingest", Key: "ingest", Op: api.OpIngestFiles},
	{Path: "/console/campaigns", Key: "campaigns", Op: api.OpCampaigns},
	{Path: "/console/forecast", Key: "forecastNav", Op: api.OpForecast},
	{Path: "/console/scenarios", Key: "scenariosNav", Op: api.OpScenarios},
	{Path: "/console/lookup", Key: "lookup"},
}

// navFor is the navigation a role sees.
func navFor(role api.Role) []navEntry {
	var out []navEntry
	for _, e := range nav {
		if e.Op == "" || role.Access(e.Op) != api.Denied {
			out = append(out, e)
		}
	}
	return out
}

// parsePages parses every page template with the layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	out := map[string]*template.Template{}
	for _, file := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(file, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts/*.html", file)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// Files reads whole files by key, such as the model registry's reports or
// the landing bucket's reject reports.
type Files interface {
	Get(ctx context.Context, key string) ([]byte, error)
}
