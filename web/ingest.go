package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/lake"
)

// statuses are the ingest log's outcomes in the order the monitor shows
// them.
var statuses = []string{lake.StatusCommitted, lake.StatusReplaced, lake.StatusSuperseded,
	lake.StatusQuarantined, lake.StatusRejected, lake.StatusFailed, lake.StatusGone}

type dayRow struct {
	Day      string
	ByStatus []int // in statuses' order
	Files    int
	Rejected int64
}

type reasonRow struct {
	Column, Reason string
	Rows           int64
	Files          int
}

type ingestPage struct {
	Statuses []string
	Days     []dayRow
	Reasons  []reasonRow
	// ReasonsFrom is how many reports were read for Reasons, of
	// WithRejects files with rejected rows in the window.
	ReasonsFrom, WithRejects int
	Landing                  bool
	Files                    []ingestFile // the newest, with rejects first
	Window                   int
}

// maxReports bounds the reject reports the monitor reads per view.
const maxReports = 20

func (c *Console) ingest(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	var files struct {
		Files []ingestFile `json:"files"`
	}
	if !c.apiPage(w, r, s, "/v1/ingest/files", url.Values{"limit": {"1000"}}, &files) {
		return
	}
	d := ingestPage{Statuses: statuses, Landing: c.cfg.Landing != nil, Window: ingestWindow}
	byDay := map[string]*dayRow{}
	reasons := map[[2]string]*reasonRow{}
	for _, f := range files.Files {
		k := day(f.StartedAt)
		row := byDay[k]
		if row == nil {
			row = &dayRow{Day: k, ByStatus: make([]int, len(statuses))}
			byDay[k] = row
		}
		if i := slices.Index(statuses, f.Status); i >= 0 {
			row.ByStatus[i]++
		}
		row.Files++
		row.Rejected += f.RowsRejected
		if f.RowsRejected == 0 && f.Status != lake.StatusQuarantined {
			continue
		}
		d.WithRejects++
		if c.cfg.Landing == nil || d.ReasonsFrom == maxReports || f.ReportKey == nil {
			continue
		}
		rep, err := c.rejectReport(r, *f.ReportKey)
		if err != nil {
			continue
		}
		d.ReasonsFrom++
		for _, rc := range rep.ByReason {
			key := [2]string{rc.Column, rc.Reason}
			if reasons[key] == nil {
				reasons[key] = &reasonRow{Column: rc.Column, Reason: rc.Reason}
			}
			reasons[key].Rows += rc.Rows
			reasons[key].Files++
		}
	}
	for _, row := range byDay {
		d.Days = append(d.Days, *row)
	}
	slices.SortFunc(d.Days, func(a, b dayRow) int { return strings.Compare(b.Day, a.Day) })
	for _, rr := range reasons {
		d.Reasons = append(d.Reasons, *rr)
	}
	slices.SortFunc(d.Reasons, func(a, b reasonRow) int {
		if a.Rows != b.Rows {
			return int(b.Rows - a.Rows)
		}
		return strings.Compare(a.Column+a.Reason, b.Column+b.Reason)
	})
	d.Files = files.Files[:min(len(files.Files), 50)]
	c.render(w, r, http.StatusOK, "ingest", c.page(r, &s, d))
}

// rejectReport reads a reject report from the landing bucket.
func (c *Console) rejectReport(r *http.Request, key string) (*lake.Report, error) {
	b, err := c.cfg.Landing.Get(r.Context(), key)
	if err != nil {
		return nil, err
	}
	var rep lake.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// ingestReport is one file's report: its log row and, when the landing
// bucket is readable, its reject report (already masked by ingest). Only
// a file in the ingest log's window can be asked for.
func (c *Console) ingestReport(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	if s.Role.Access(api.OpIngestFiles) == api.Denied {
		c.fail(w, r, http.StatusForbidden, "forbidden")
		return
	}
	source := r.URL.Query().Get("source")
	var files struct {
		Files []ingestFile `json:"files"`
	}
	if !c.apiPage(w, r, s, "/v1/ingest/files", url.Values{"limit": {"1000"}}, &files) {
		return
	}
	i := slices.IndexFunc(files.Files, func(f ingestFile) bool { return f.Source == source })
	if source == "" || i < 0 {
		c.fail(w, r, http.StatusNotFound, "notfound")
		return
	}
	d := struct {
		F      ingestFile
		Report *lake.Report
		Errors []lake.RowError
		More   int
	}{F: files.Files[i]}
	if f := d.F; c.cfg.Landing != nil && f.ReportKey != nil {
		if rep, err := c.rejectReport(r, *f.ReportKey); err == nil {
			d.Report = rep
			d.Errors = rep.Errors[:min(len(rep.Errors), 100)]
			d.More = len(rep.Errors) - len(d.Errors)
		}
	}
	c.render(w, r, http.StatusOK, "ingestfile", c.page(r, &s, d))
}
