package lake_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
)

// s3Counter counts the S3 requests a test lake's server answers, by kind.
type s3Counter struct {
	mu sync.Mutex
	n  map[string]int
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (c *s3Counter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		k := r.Method + " " + s3Kind(r)
		if sw.code == http.StatusNotFound {
			k += " (404)"
		}
		c.mu.Lock()
		c.n[k]++
		c.mu.Unlock()
	})
}

// s3Kind names what a request of the test lake is about.
func s3Kind(r *http.Request) string {
	p := r.URL.Path
	switch {
	case r.URL.Query().Has("list-type") || (r.Method == http.MethodGet && strings.HasSuffix(p, "/")):
		return "list"
	case strings.HasPrefix(p, "/"+landingBucket+"/reports/"):
		return "report"
	case strings.HasPrefix(p, "/"+landingBucket+"/"):
		return "landing object"
	case strings.Contains(p, "/_ledger/") && strings.Contains(p, "/batches/"):
		return "batch ledger"
	case strings.Contains(p, "/_ledger/"):
		return "ledger object"
	case strings.Contains(p, "/data/"):
		return "data file"
	case strings.HasSuffix(p, ".metadata.json"):
		return "table metadata"
	case strings.Contains(p, "/snap-"):
		return "manifest list"
	case strings.HasSuffix(p, ".avro"):
		return "manifest"
	}
	return p
}

func (c *s3Counter) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.n
	c.n = map[string]int{}
	return out
}

// TestBatchS3Requests counts the S3 requests a warm batch of first
// versions makes, by kind (the queue's steady state: 100 files of one
// switch slot each, one day), and holds them to what the design costs:
// per file its landing object, the look-ups of its source's ledger
// objects (crm.cdr's and crm.ingest_log's, missing for a new file) and
// the ledger object written after the commit; per batch a few data
// files, the commits' metadata, and a plan of the day that reads only the
// manifests committed since the last batch (dayPlans), not all the day's.
func TestBatchS3Requests(t *testing.T) {
	c := &s3Counter{n: map[string]int{}}
	tl := newTestLakeWith(t, false, c.wrap)
	const files, rows, rounds = 100, 200, 6
	batch := func(from int) []lake.Object {
		objs := make([]lake.Object, files)
		for i := range objs {
			n := from + i
			start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n/files) * 15 * time.Minute)
			key := fmt.Sprintf("exports/cdr/%s/switch%03d-%06d.csv", start.Format("2006/01/02"), n%files, n)
			objs[i] = objectOf(tl.put(key, laketest.SlotCSV(fmt.Sprintf("R%06d", n), n, start, rows)))
		}
		return objs
	}
	var got map[string]int
	for round := range rounds {
		objs := batch(round * files)
		c.reset()
		for _, o := range tl.in.IngestBatch(context.Background(), objs) {
			if o.Err != nil || o.Status != lake.StatusCommitted {
				t.Fatalf("%s: %s %v", o.Source, o.Status, o.Err)
			}
		}
		got = c.reset()
	}
	total := 0
	var lines []string
	for k, n := range got {
		total += n
		lines = append(lines, fmt.Sprintf("%-28s %5d (%.2f per file)", k, n, float64(n)/files))
	}
	slices.Sort(lines)
	t.Logf("batch %d of %d files: %d S3 requests (%.2f per file)\n%s", rounds, files, total, float64(total)/files, strings.Join(lines, "\n"))
	perFile := map[string]int{"GET landing object": 1, "GET ledger object (404)": 2, "PUT ledger object": 1}
	for k, want := range perFile {
		if got[k] != want*files {
			t.Errorf("%s: %d requests for %d files, want %d a file", k, got[k], files, want)
		}
	}
	// The batch's own: its data files (a few per day and subscriber
	// bucket), two commits, two plans of the day.
	if n := total - 4*files; n > 40 {
		t.Errorf("a warm batch of %d files made %d S3 requests besides the %d per file, want at most 40", files, n, 4)
	}
	if n := got["GET manifest"]; n > 2 {
		t.Errorf("the %dth batch of the day read %d manifests, want at most 2 (those of the commits since the last batch)", rounds, n)
	}
}

// TestScanReadsSmallDataFilesWhole: a scan of a few columns reads each
// small data file with one GET (the whole object, by the GET its open
// starts), not that GET left unread plus ranged GETs for the footer and
// each column chunk; the rows are all there.
func TestScanReadsSmallDataFilesWhole(t *testing.T) {
	c := &s3Counter{n: map[string]int{}}
	tl := newTestLakeWith(t, false, c.wrap)
	const files, rows = 6, 50
	objs := make([]lake.Object, files)
	for i := range objs {
		start := time.Date(2026, 10, 1+i, 0, 0, 0, 0, time.UTC)
		key := fmt.Sprintf("exports/cdr/%s/switch%03d.csv", start.Format("2006/01/02"), i)
		objs[i] = objectOf(tl.put(key, laketest.SlotCSV(fmt.Sprintf("R%06d", i), i, start, rows)))
	}
	for _, o := range tl.in.IngestBatch(context.Background(), objs) {
		if o.Err != nil || o.Status != lake.StatusCommitted {
			t.Fatalf("%s: %s %v", o.Source, o.Status, o.Err)
		}
	}
	c.reset()
	var cost lake.ScanCost
	n := 0
	for b, err := range lake.Scan(context.Background(), tl.cat, lake.CDRTable,
		lake.Select("subscriber_id", "start_time", "duration_s", "call_type", "charge"), lake.CountInto(&cost)) {
		if err != nil {
			t.Fatal(err)
		}
		n += b.Len()
	}
	got := c.reset()
	if n != files*rows {
		t.Fatalf("scan returned %d rows, want %d", n, files*rows)
	}
	if cost.DataFiles == 0 || int64(got["GET data file"]) != cost.DataFiles {
		t.Errorf("%d GETs of data files for %d data files scanned, want one each (all requests: %v)", got["GET data file"], cost.DataFiles, got)
	}
}
