package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/models/features"
)

type factAnswer struct {
	Table    string           `json:"table"`
	Snapshot int64            `json:"snapshot"`
	Dims     []string         `json:"dims"`
	Measures []string         `json:"measures"`
	Rows     int              `json:"rows"`
	Cells    []map[string]any `json:"cells"`
}

func (a factAnswer) cell(t *testing.T, grouping int, keys ...string) map[string]any {
	t.Helper()
	for _, c := range a.Cells {
		if int(c["grouping"].(float64)) != grouping {
			continue
		}
		ok := true
		for i, d := range a.Dims {
			v, _ := c[d].(string)
			ok = ok && v == keys[i]
		}
		if ok {
			return c
		}
	}
	t.Fatalf("no cell %d %v in %v", grouping, keys, a.Cells)
	return nil
}

// TestFactCubes: the stored cubes through the handler, the subtotals and
// the distinct counts included.
func TestFactCubes(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		target string
		check  func(t *testing.T, a factAnswer)
	}{
		{"/v1/cube/usage?dims=call_kind&measures=calls,subscribers,minutes_per_subscriber", func(t *testing.T, a factAnswer) {
			if a.Table != "crm.usage_cube" || a.Snapshot != 42 || a.Rows != 3 {
				t.Errorf("table %s snapshot %d rows %d", a.Table, a.Snapshot, a.Rows)
			}
			if c := a.cell(t, 0, "long_distance"); c["calls"] != 2.0 || c["subscribers"] != 2.0 || c["minutes_per_subscriber"] != 10.0 {
				t.Errorf("long distance %v", c)
			}
			// Two distinct subscribers in all, not 2 + 1.
			if c := a.cell(t, 1, ""); c["calls"] != 3.0 || c["subscribers"] != 2.0 || c["minutes_per_subscriber"] != 15.0 {
				t.Errorf("total %v", c)
			}
		}},
		{"/v1/cube/usage?dims=hour&gender=F&call_kind=long_distance,local", func(t *testing.T, a factAnswer) {
			// Two of the five kinds summed: the distinct count is not known,
			// in any cell (one subscriber may have made both kinds of call).
			if c := a.cell(t, 0, "09"); c["calls"] != 1.0 || c["subscribers"] != nil {
				t.Errorf("09 %v", c)
			}
			if c := a.cell(t, 1, ""); c["calls"] != 2.0 || c["subscribers"] != nil {
				t.Errorf("total %v", c)
			}
		}},
		{"/v1/cube/usage?dims=hour&gender=F&call_kind=long_distance", func(t *testing.T, a factAnswer) {
			if c := a.cell(t, 0, "09"); c["calls"] != 1.0 || c["subscribers"] != 1.0 {
				t.Errorf("09 %v", c)
			}
			if c := a.cell(t, 1, ""); c["calls"] != 1.0 || c["subscribers"] != 1.0 {
				t.Errorf("total %v", c)
			}
		}},
		{"/v1/cube/monthly?dims=month&measures=subscribers,subscriber_months,churned,arpu", func(t *testing.T, a factAnswer) {
			if c := a.cell(t, 0, "2026-05"); c["subscribers"] != 15.0 || c["churned"] != 2.0 || c["arpu"] != 19.99 {
				t.Errorf("May %v", c)
			}
			if c := a.cell(t, 1, ""); c["subscribers"] != nil || c["subscriber_months"] != 24.0 || c["churned"] != 3.0 {
				t.Errorf("total %v", c)
			}
		}},
		{"/v1/cube/monthly?dims=region,plan&month=2026-06&measures=subscribers,revenue", func(t *testing.T, a factAnswer) {
			if len(a.Cells) != 4 {
				t.Errorf("%d cells, want 4: %v", len(a.Cells), a.Cells)
			}
			if c := a.cell(t, 3, "", ""); c["subscribers"] != 9.0 || c["revenue"] != 179.91 {
				t.Errorf("June total %v", c)
			}
		}},
	} {
		t.Run(tc.target, func(t *testing.T) {
			resp := f.get(t, RoleAnalyst, tc.target)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
			}
			var a factAnswer
			if err := json.Unmarshal([]byte(resp.Body), &a); err != nil {
				t.Fatal(err)
			}
			tc.check(t, a)
		})
	}

	resp := f.get(t, RoleAdmin, "/v1/cube/monthly?dims=month&measures=subscribers,churned&format=csv")
	want := "month,grouping,subscribers,churned\n2026-05,0,15,2\n2026-06,0,9,1\n(all),1,,3\n"
	if resp.StatusCode != 200 || resp.Headers["Content-Type"] != ctCSV || resp.Body != want {
		t.Errorf("csv: %d %s %q, want %q", resp.StatusCode, resp.Headers["Content-Type"], resp.Body, want)
	}
}

func TestFactCubeBadParameters(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct{ target, param string }{
		{"/v1/cube/usage?dims=region", "dims"},
		{"/v1/cube/usage?dims=hour,hour", "dims"},
		{"/v1/cube/usage?dims=month,hour,day_type,call_kind,gender", "dims"},
		{"/v1/cube/usage?measures=count", "measures"},
		{"/v1/cube/usage?hour=9", "hour"},
		{"/v1/cube/usage?call_kind=video", "call_kind"},
		{"/v1/cube/usage?day_type=holiday", "day_type"},
		{"/v1/cube/monthly?month=2026-13", "month"},
		{"/v1/cube/monthly?hour=09", "hour"}, // not a dimension of the monthly cube
		{"/v1/cube/monthly?region=", "region"},
		{"/v1/cube/monthly?format=xml", "format"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			resp := f.get(t, RoleAnalyst, tc.target)
			if p := problemOfBody(t, resp.Body); resp.StatusCode != http.StatusBadRequest || p.Parameter != tc.param {
				t.Errorf("GET %s = %d %+v, want 400 naming %s", tc.target, resp.StatusCode, p, tc.param)
			}
		})
	}
	// Without the lake's tables: 503, not an empty cube.
	meta, cs := genSnapshot(5, 30, false)
	s, err := newServer(meta, cs, nil, Config{Keys: testKeys()})
	if err != nil {
		t.Fatal(err)
	}
	if resp := (&fixture{s: s, allow5xx: true}).get(t, RoleAnalyst, "/v1/cube/usage"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("without sources: %d %s", resp.StatusCode, resp.Body)
	}
}

// TestLakeSourcesFact reads crm.usage_cube built by the features from a
// real lake, once per snapshot.
func TestLakeSourcesFact(t *testing.T) {
	l := laketest.New(t)
	ctx := context.Background()
	l.Ingest(t, "exports/subscribers/2026/07/31/subscribers-20260731.csv", registerGood)
	cdr := "call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge,other_area\n" +
		"C1,S1,491700000001,4930123456,onnet,2026-07-04T09:15:00Z,120,voice,out,false,false,,North,0,0.10,South\n" + // Saturday
		"C2,S1,491700000001,4930123456,onnet,2026-07-06T09:15:00Z,60,voice,out,false,false,,North,0,0.10,North\n" +
		"C3,S2,491700000002,4930123457,onnet,2026-07-06T09:45:00Z,30,voice,out,false,false,,,0,0.10,North\n"
	l.Ingest(t, "exports/cdr/2026/07/cdr.csv", cdr)
	b := &features.Builder{Tables: l.Cat}
	if _, err := b.Build(ctx, []time.Time{time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	src := LakeSources{Tables: l.Cat}
	fact, snap, err := src.Fact(ctx, insight.UsageCubeSpec)
	if err != nil || snap == 0 {
		t.Fatalf("Fact: %v (snapshot %d)", err, snap)
	}
	again, snap2, err := src.Fact(ctx, insight.UsageCubeSpec)
	if err != nil || again != fact || snap2 != snap {
		t.Errorf("second read: %p %d %v, want the cached %p %d", again, snap2, err, fact, snap)
	}
	c, err := insight.ComputeFact(fact, insight.FactQuery{Dims: []string{"call_kind", "gender"}, Measures: []string{"calls", "minutes", "subscribers"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, cell := range c.Cells {
		got = append(got, fmt.Sprintf("%s %v", strings.Join(cell.Keys, "/"), cell.Values))
	}
	want := []string{
		// S2's call has no serving region: their home region (South) is
		// the caller's area, so a call to North is long distance.
		"local/F [1 1 1]", "long_distance/F [1 2 1]", "long_distance/M [1 0.5 1]",
		"/F [2 3 1]", "/M [1 0.5 1]",
		"local/ [1 1 1]", "long_distance/ [2 2.5 2]",
		"/ [3 3.5 2]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("cube\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestJSONPlain(t *testing.T) {
	for _, s := range []string{"", "North", "25-34", "a\"b", "a\\b", "<x>", "a&b", "Zürich", "tab\there", "\x7f"} {
		v, _ := json.Marshal(s)
		plain := `"` + s + `"`
		// Plain must be exact; not plain only costs the slower path.
		if jsonPlain(s) && string(v) != plain {
			t.Errorf("jsonPlain(%q) = true, but json.Marshal writes %s", s, v)
		}
	}
	for _, s := range []string{"", "North", "25-34", "long_distance"} {
		if !jsonPlain(s) {
			t.Errorf("jsonPlain(%q) = false, want true", s)
		}
	}
}
