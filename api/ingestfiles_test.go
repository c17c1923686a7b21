package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
)

// logDay commits n crm.ingest_log rows started on day, one commit per row
// as ingest writes them; every third row of a day shares its predecessor's
// started_at, so the order's tie-break (source) is exercised.
func logDay(t *testing.T, l *laketest.Lake, day time.Time, n int) {
	t.Helper()
	statuses := []string{lake.StatusCommitted, lake.StatusQuarantined, lake.StatusCommitted}
	tables := []string{"crm.cdr", "crm.bills", "crm.cdr"}
	at := day.Add(time.Hour)
	for i := range n {
		if i%3 != 2 {
			at = at.Add(time.Duration(i+1) * time.Minute)
		}
		rb, err := lake.NewRowBuilder(lake.IngestLogTable, 1)
		if err != nil {
			t.Fatal(err)
		}
		rb.String("source", fmt.Sprintf("s3://landing/exports/cdr/%s/f%03d.csv", day.Format("2006/01/02"), n-i))
		rb.String("etag", fmt.Sprintf("e%d", i))
		rb.Int64("size_bytes", int64(100+i))
		rb.String("table_name", tables[i%3])
		rb.String("status", statuses[i%3])
		rb.Int64("rows_ok", int64(i))
		rb.Int64("rows_rejected", 0)
		rb.Null("snapshot_id")
		rb.Null("report_key")
		rb.Null("message")
		rb.Time("started_at", at)
		rb.Int64("duration_ms", 5)
		rb.Int64("rows_duplicate", 0)
		rec := rb.Record()
		_, err = lake.ReplaceRows(context.Background(), l.Cat, lake.IngestLogTable, nil, []arrow.RecordBatch{rec}, nil)
		rec.Release()
		rb.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestIngestFilesCostIsBoundedByDays: a page of the recent days reads the
// same manifests, files and rows whether 2 or 12 older days precede them,
// and paging with any limit returns every row of the range once, in order.
func TestIngestFilesCostIsBoundedByDays(t *testing.T) {
	l := laketest.New(t)
	today := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	var cost lake.ScanCost
	src := LakeSources{Tables: l.Cat, Cost: func(c lake.ScanCost) { cost = c }}
	meta, cs := genSnapshot(5, 30, false)
	s, err := newServer(meta, cs, src, Config{Keys: testKeys(), Now: func() time.Time { return today.Add(15 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{s: s}
	type page struct {
		From, To   string
		Files      []IngestFile
		NextCursor *string `json:"next_cursor"`
	}
	get := func(target string) page {
		t.Helper()
		resp := f.get(t, RoleAnalyst, target)
		var p page
		if err := json.Unmarshal([]byte(resp.Body), &p); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", target, resp.StatusCode, resp.Body)
		}
		return p
	}

	recent := []int{3, 5, 4} // rows of today-2, today-1, today
	for i := 0; i < 2; i++ {
		logDay(t, l, today.AddDate(0, 0, -20+i), 2)
	}
	for i, n := range recent {
		logDay(t, l, today.AddDate(0, 0, i-2), n)
	}
	const q = "/v1/ingest/files?from=2026-11-28&to=2026-11-30&limit=100"
	first := get(q)
	if len(first.Files) != 12 || first.From != "2026-11-28" || first.To != "2026-11-30" || first.NextCursor != nil {
		t.Fatalf("%s: %d files %s..%s next %v, want 12 files of 3 days, no next page", q, len(first.Files), first.From, first.To, first.NextCursor)
	}
	before := cost
	if before.Rows != 12 || before.DataFiles != 12 || before.Scans != 3 {
		t.Errorf("cost with 2 older days = %+v, want 12 rows from 12 files in 3 day scans", before)
	}

	for i := 2; i < 12; i++ {
		logDay(t, l, today.AddDate(0, 0, -20+i), 2)
	}
	again := get(q)
	after := cost
	if len(again.Files) != 12 {
		t.Fatalf("after 10 more older days: %d files, want 12", len(again.Files))
	}
	if after.ManifestsScanned != before.ManifestsScanned || after.DataFiles != before.DataFiles || after.Rows != before.Rows {
		t.Errorf("cost grew with the history: %+v with 2 older days, %+v with 12", before, after)
	}
	if after.ManifestsSkipped <= before.ManifestsSkipped {
		t.Errorf("manifests skipped %d then %d: the older days' manifests were not pruned", before.ManifestsSkipped, after.ManifestsSkipped)
	}

	// Default range: the last 7 days up to today (the clock's).
	if d := get("/v1/ingest/files"); d.From != "2026-11-24" || d.To != "2026-11-30" || len(d.Files) != 12 {
		t.Errorf("default range %s..%s with %d files, want 2026-11-24..2026-11-30 with 12", d.From, d.To, len(d.Files))
	}

	for _, filter := range []string{"", "&status=committed", "&table=crm.bills", "&status=quarantined&table=bills"} {
		want := get(q + filter).Files
		for _, limit := range []int{1, 2, 5} {
			var got []IngestFile
			target := fmt.Sprintf("/v1/ingest/files?from=2026-11-28&to=2026-11-30&limit=%d%s", limit, filter)
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatalf("%s: more than 20 pages", target)
				}
				p := get(target)
				if len(p.Files) > limit {
					t.Fatalf("%s: %d files on a page", target, len(p.Files))
				}
				got = append(got, p.Files...)
				if p.NextCursor == nil {
					break
				}
				target = fmt.Sprintf("/v1/ingest/files?from=2026-11-28&to=2026-11-30&limit=%d%s&cursor=%s", limit, filter, url.QueryEscape(*p.NextCursor))
			}
			if len(got) != len(want) {
				t.Fatalf("filter %q limit %d: %d rows over the pages, want %d", filter, limit, len(got), len(want))
			}
			seen := map[string]bool{}
			for i := range got {
				k := got[i].Source + " " + got[i].ETag
				if seen[k] || got[i].Key() != want[i].Key() {
					t.Fatalf("filter %q limit %d: row %d is %s, want %s (or seen twice)", filter, limit, i, k, want[i].Source)
				}
				seen[k] = true
				if i > 0 && compareIngest(got[i-1].Key(), got[i].Key()) >= 0 {
					t.Fatalf("filter %q limit %d: rows %d and %d out of order", filter, limit, i-1, i)
				}
			}
		}
	}
	if n := len(get(q + "&status=quarantined").Files); n != 4 {
		t.Errorf("quarantined in the range: %d, want 4", n)
	}
}

// TestIngestFilesParams: every bad parameter is a 400 that names it.
func TestIngestFilesParams(t *testing.T) {
	today := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	meta, cs := genSnapshot(5, 30, false)
	s, err := newServer(meta, cs, sampleSources(), Config{Keys: testKeys(), Now: func() time.Time { return today }})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{s: s}
	other, _ := newServer(meta, cs, sampleSources(), Config{Keys: testKeys(), CursorKey: []byte("another key")})
	foreign := other.cursors.encodeIngest(ingestCursor{query: ingestHash("", "", "", ""), from: 1, to: 2})
	own := s.cursors.encodeIngest(ingestCursor{query: ingestHash("committed", "", "", ""), from: 20000, to: 20001,
		after: IngestKey{StartedAt: today, Source: "s3://landing/x", ETag: "e"}})
	for _, tc := range []struct{ query, param string }{
		{"from=2026-13-01", pFrom},
		{"to=yesterday", pTo},
		{"from=2026-12-01&to=2026-11-30", pFrom},
		{"from=2026-10-01&to=2026-11-30", pFrom},
		{"from=2026-11-01&from=2026-11-02", pFrom},
		{"table=CDR", "table"},
		{"table=crm.", "table"},
		{"status=done", "status"},
		{"limit=0", pLimit},
		{"cursor=abc", pCursor},
		{"cursor=" + foreign, pCursor},
		{"cursor=" + own, pCursor}, // made for status=committed
		{"day=2026-11-30", "day"},
	} {
		resp := f.get(t, RoleAdmin, "/v1/ingest/files?"+tc.query)
		var p struct{ Parameter string }
		_ = json.Unmarshal([]byte(resp.Body), &p)
		if resp.StatusCode != 400 || p.Parameter != tc.param {
			t.Errorf("?%s = %d parameter %q, want 400 naming %q", tc.query, resp.StatusCode, p.Parameter, tc.param)
		}
	}
	resp := f.get(t, RoleAdmin, "/v1/ingest/files?status=committed&cursor="+url.QueryEscape(own))
	if resp.StatusCode != 200 {
		t.Errorf("own cursor with its status: %d %s", resp.StatusCode, resp.Body)
	}
}
