package web

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/telcolake/telcolake/api"
)

// apiJSON asks the API for path?q as the session's user and decodes its
// JSON answer into v. A page built from several answers shows what it got
// and says which part is missing.
func (c *Console) apiJSON(r *http.Request, s session, path string, q url.Values, v any) error {
	status, _, body := c.apiGet(r, s, path, q)
	if status != http.StatusOK {
		return fmt.Errorf("web: %s: %d %s", path, status, problemDetail(body))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("web: %s: %w", path, err)
	}
	return nil
}

// cubeAnswer is /v1/cube's JSON: one map per cell, with the dimensions'
// values (nil: rolled up), "grouping" and the measures (nil: no rows).
type cubeAnswer struct {
	Run       string           `json:"run"`
	Customers int              `json:"customers"`
	Cells     []map[string]any `json:"cells"`
}

// num is a measure of a cell, NaN when absent or null.
func num(cell map[string]any, name string) float64 {
	switch v := cell[name].(type) {
	case float64:
		return v
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err == nil {
			return f
		}
	}
	return nan
}

var nan = math.NaN()

// modelRun is a row of /v1/models.
type modelRun = api.ModelRun

// ingestFile is a row of /v1/ingest/files.
type ingestFile = api.IngestFile

// day is t's UTC date.
func day(t time.Time) string { return t.UTC().Format("2006-01-02") }
