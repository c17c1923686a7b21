package api

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/models/serving"
)

// filterCase is a query and the same conditions written naively.
type filterCase struct {
	query string
	keep  func(c *serving.Customer) bool
	sort  string // field; "-" prefix for descending; "" = default
}

func in(v string, set ...string) bool { return slices.Contains(set, v) }

var filterCases = []filterCase{
	{query: "", keep: func(c *serving.Customer) bool { return true }},
	{query: "status=active&churn_min=0.5", keep: func(c *serving.Customer) bool { return c.Status == "active" && c.Probability >= 0.5 }},
	{query: "bad_debt_min=0.4&bad_debt_max=0.8&sort=-bad_debt_probability", sort: "-bad_debt_probability",
		keep: func(c *serving.Customer) bool { return c.BadDebtProbability >= 0.4 && c.BadDebtProbability <= 0.8 }},
	{query: "segment=1,3&region=North,South&sort=-clv", sort: "-clv",
		keep: func(c *serving.Customer) bool {
			return (c.SegmentID == 1 || c.SegmentID == 3) && in(c.Region, "North", "South")
		}},
	{query: "region=North&region=%C3%8Ele-de-France&plan=PLUS20,MAX40&tenure_min=12&tenure_max=60&sort=tenure_months", sort: "tenure_months",
		keep: func(c *serving.Customer) bool {
			return in(c.Region, "North", "Île-de-France") && in(c.Plan, "PLUS20", "MAX40") && c.TenureMonths >= 12 && c.TenureMonths <= 60
		}},
	{query: "lifecycle=loyal,established&age_band=25-34,65%2B&payment_method=card&value_min=20&value_max=60.5&sort=-value_at_risk", sort: "-value_at_risk",
		keep: func(c *serving.Customer) bool {
			return in(c.Lifecycle, "loyal", "established") && in(c.AgeBand, "25-34", "65+") && c.PaymentMethod == "card" && c.MonthlyValue >= 20 && c.MonthlyValue <= 60.5
		}},
	{query: "clv_min=100&clv_max=900&var_min=50&var_max=400&churn_max=0.8&sort=churn_probability", sort: "churn_probability",
		keep: func(c *serving.Customer) bool {
			return c.CLV >= 100 && c.CLV <= 900 && c.ValueAtRisk >= 50 && c.ValueAtRisk <= 400 && c.Probability <= 0.8
		}},
	{query: "arrears_min=0.01&months_in_arrears_min=2&sort=-arrears", sort: "-arrears",
		keep: func(c *serving.Customer) bool { return c.Arrears >= 0.01 && c.MonthsInArrears >= 2 }},
	{query: "roaming_min=2&roaming_max=5&minutes_min=100&minutes_max=500&care_calls_min=2&sort=-care_calls", sort: "-care_calls",
		keep: func(c *serving.Customer) bool {
			return c.RoamingCalls >= 2 && c.RoamingCalls <= 5 && c.VoiceMinutes >= 100 && c.VoiceMinutes <= 500 && c.CareCalls >= 2
		}},
	{query: "data_min=1000&data_max=4000&status=active,suspended&sort=-data_mb", sort: "-data_mb",
		keep: func(c *serving.Customer) bool {
			return c.DataMB >= 1000 && c.DataMB <= 4000 && in(c.Status, "active", "suspended")
		}},
	{query: "status=deactivated&sort=-monthly_value", sort: "-monthly_value", keep: func(c *serving.Customer) bool { return c.Status == "deactivated" }},
	{query: "region=Nowhere", keep: func(c *serving.Customer) bool { return false }},
	{query: "segment=04,%2B0", keep: func(c *serving.Customer) bool { return c.SegmentID == 4 || c.SegmentID == 0 }},
	{query: "sort=-sms", sort: "-sms", keep: func(c *serving.Customer) bool { return true }},
}

// bruteForce filters and sorts naively: by the field's value, ties by
// subscriber id ascending.
func bruteForce(cs []serving.Customer, fc filterCase) []string {
	sortBy := fc.sort
	if sortBy == "" {
		sortBy = defaultSort
	}
	desc := strings.HasPrefix(sortBy, "-")
	value := func(c *serving.Customer) float64 {
		switch strings.TrimPrefix(sortBy, "-") {
		case "churn_probability":
			return c.Probability
		case "clv":
			return c.CLV
		case "tenure_months":
			return float64(c.TenureMonths)
		case "value_at_risk":
			return c.ValueAtRisk
		case "arrears":
			return c.Arrears
		case "care_calls":
			return float64(c.CareCalls)
		case "data_mb":
			return c.DataMB
		case "monthly_value":
			return c.MonthlyValue
		case "sms":
			return float64(c.SMS)
		case "bad_debt_probability":
			return c.BadDebtProbability
		}
		panic("bruteForce: sort " + sortBy)
	}
	var keep []*serving.Customer
	for i := range cs {
		if fc.keep(&cs[i]) {
			keep = append(keep, &cs[i])
		}
	}
	slices.SortFunc(keep, func(a, b *serving.Customer) int {
		c := cmp.Compare(value(a), value(b))
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		return strings.Compare(a.SubscriberID, b.SubscriberID)
	})
	ids := make([]string, len(keep))
	for i, c := range keep {
		ids[i] = c.SubscriberID
	}
	return ids
}

// TestFilterMatchesBruteForce pages through every match with the cursor and
// compares with the naive answer; the CSV export has the same rows in the
// same order, and count equals its number of data rows.
func TestFilterMatchesBruteForce(t *testing.T) {
	f := newFixture(t, nil)
	for _, fc := range filterCases {
		t.Run(fc.query, func(t *testing.T) {
			want := bruteForce(f.customers, fc)
			conditions := fc.query != "" && !strings.HasPrefix(fc.query, "sort=") && fc.query != "region=Nowhere"
			if conditions && (len(want) == 0 || len(want) == len(f.customers)) {
				t.Fatalf("case selects %d of %d customers: not a useful test", len(want), len(f.customers))
			}
			var got []string
			cursor := ""
			pages := 0
			for {
				q := fc.query + "&limit=7"
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				resp := f.get(t, RoleAdmin, "/v1/customers?"+strings.TrimPrefix(q, "&"))
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("page %d: status %d: %s", pages, resp.StatusCode, resp.Body)
				}
				p := decodePage(t, resp.Body)
				if p.Count != len(want) {
					t.Fatalf("count = %d, want %d", p.Count, len(want))
				}
				if len(p.Items) > 7 || (p.NextCursor != nil && len(p.Items) != 7) {
					t.Fatalf("page of %d items (next cursor %v), want 7 per full page", len(p.Items), p.NextCursor != nil)
				}
				for _, it := range p.Items {
					got = append(got, it["subscriber_id"].(string))
				}
				pages++
				if p.NextCursor == nil {
					break
				}
				cursor = *p.NextCursor
				if pages > len(f.customers) {
					t.Fatal("paging does not end")
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("paged ids (%d) differ from brute force (%d)\n got %v\nwant %v", len(got), len(want), head(got), head(want))
			}
			resp := f.get(t, RoleAdmin, "/v1/customers?"+strings.TrimPrefix(fc.query+"&format=csv", "&"))
			if resp.StatusCode != http.StatusOK || resp.Headers["Content-Type"] != ctCSV {
				t.Fatalf("csv: status %d, type %s: %s", resp.StatusCode, resp.Headers["Content-Type"], cut(resp.Body, 200))
			}
			h, rows := readCSV(t, resp.Body)
			if !slices.Equal(h, csvHeader) {
				t.Errorf("csv header %v, want %v", h, csvHeader)
			}
			if len(rows) != len(want) {
				t.Fatalf("csv has %d data rows, count says %d", len(rows), len(want))
			}
			for i, r := range rows {
				if r[0] != want[i] {
					t.Fatalf("csv row %d is %s, want %s", i, r[0], want[i])
				}
			}
		})
	}
}

func head(s []string) []string { return s[:min(len(s), 12)] }

// TestFirstPageIsTopK checks the page for several limits against brute
// force, with the default sort and without paging.
func TestFirstPageIsTopK(t *testing.T) {
	f := newFixture(t, nil)
	want := bruteForce(f.customers, filterCases[0])
	for _, limit := range []int{1, 2, 50, 100} {
		resp := f.get(t, RoleAnalyst, fmt.Sprintf("/v1/customers?limit=%d", limit))
		p := decodePage(t, resp.Body)
		var got []string
		for _, it := range p.Items {
			got = append(got, it["subscriber_id"].(string))
		}
		if !slices.Equal(got, want[:limit]) {
			t.Errorf("limit=%d: %v, want %v", limit, head(got), head(want[:limit]))
		}
	}
	p := decodePage(t, f.get(t, RoleAnalyst, "/v1/customers").Body)
	if len(p.Items) != defaultPageSize || p.Count != len(f.customers) || p.Run != f.meta.Run || p.NextCursor == nil {
		t.Errorf("default page: %d items, count %d, run %s, next %v; want %d, %d, %s, a cursor", len(p.Items), p.Count, p.Run, p.NextCursor, defaultPageSize, len(f.customers), f.meta.Run)
	}
}

func TestBadParameters(t *testing.T) {
	f := newFixture(t, nil)
	p := decodePage(t, f.get(t, RoleAdmin, "/v1/customers?status=active&limit=5").Body)
	cursor := *p.NextCursor
	listCursor := *decodePage(t, f.get(t, RoleAdmin, "/v1/lists/churn-risk?limit=5").Body).NextCursor
	tampered := []byte(cursor)
	tampered[len(tampered)/2] ^= 1
	if tampered[len(tampered)/2] == '-' || tampered[len(tampered)/2] == '_' {
		tampered[len(tampered)/2] = 'A'
	}
	tests := []struct {
		target string
		param  string
	}{
		{"/v1/customers?colour=red", "colour"},
		{"/v1/customers?Status=active", "Status"},
		{"/v1/customers?tenure_min=abc", "tenure_min"},
		{"/v1/customers?tenure_min=2.5", "tenure_min"},
		{"/v1/customers?tenure_min=-1", "tenure_min"},
		{"/v1/customers?churn_min=1.5", "churn_min"},
		{"/v1/customers?churn_max=NaN", "churn_max"},
		{"/v1/customers?churn_max=Inf", "churn_max"},
		{"/v1/customers?value_min=", "value_min"},
		{"/v1/customers?churn_min=0.8&churn_max=0.2", "churn_min"},
		{"/v1/customers?tenure_min=30&tenure_max=10", "tenure_min"},
		{"/v1/customers?limit=5&limit=6", "limit"},
		{"/v1/customers?churn_min=0.1&churn_min=0.2", "churn_min"},
		{"/v1/customers?sort=-clv&sort=clv", "sort"},
		{"/v1/customers?limit=0", "limit"},
		{"/v1/customers?limit=101", "limit"}, // above MaxPageSize (100 in the fixture)
		{"/v1/customers?limit=1000000", "limit"},
		{"/v1/customers?limit=ten", "limit"},
		{"/v1/customers?sort=name", "sort"},
		{"/v1/customers?sort=%2Bclv", "sort"},
		{"/v1/customers?sort=--clv", "sort"},
		{"/v1/customers?status=gone", "status"},
		{"/v1/customers?lifecycle=ACTIVE", "lifecycle"},
		{"/v1/customers?age_band=17", "age_band"},
		{"/v1/customers?segment=x", "segment"},
		{"/v1/customers?segment=99", "segment"},
		{"/v1/customers?segment=1,,2", "segment"},
		{"/v1/customers?format=xml", "format"},
		{"/v1/customers?format=csv&limit=5", "limit"},
		{"/v1/customers?format=csv&cursor=" + cursor, "cursor"},
		{"/v1/customers?status=active&cursor=garbage", "cursor"},
		{"/v1/customers?status=active&cursor=", "cursor"},
		{"/v1/customers?status=active&cursor=" + string(tampered), "cursor"},
		{"/v1/customers?status=suspended&cursor=" + cursor, "cursor"},       // another query
		{"/v1/customers?status=active&sort=clv&cursor=" + cursor, "cursor"}, // another sort
		{"/v1/customers?status=active&cursor=" + listCursor, "cursor"},      // a list's cursor
		{"/v1/lists/value-at-risk?cursor=" + listCursor, "cursor"},          // another list's
		{"/v1/lists/churn-risk?cursor=" + cursor, "cursor"},                 // a filter's cursor
		{"/v1/lists/churn-risk?limit=101", "limit"},                         // above max
		{"/v1/lists/churn-risk?segment=1", "segment"},                       // not a list parameter
		{"/v1/customers/S0000001?limit=1", "limit"},                         // the look-up takes none
		{"/v1/customers?region=" + strings.Repeat("x", 65), "region"},       // very long value
		{"/v1/customers?" + url.QueryEscape("<script>alert(1)</script>") + "=1", "<script>alert(1)</script>"},
		{"/v1/customers/a%20b", "id"},
		{"/v1/customers/" + strings.Repeat("9", 65), "id"},
		{"/v1/customers/%C3%A9t%C3%A9", "id"},
		{"/v1/models?kind=forest", "kind"},
		{"/v1/ingest/files?status=lost", "status"},
		{"/v1/ingest/files?limit=0", "limit"},
		{"/v1/ingest/files?limit=101", "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			resp := f.get(t, RoleAdmin, tt.target)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("GET %s = %d, want 400: %s", tt.target, resp.StatusCode, resp.Body)
			}
			p := problemOfBody(t, resp.Body)
			if p.Parameter != tt.param || p.Type != problemBase+"invalid-parameter" {
				t.Errorf("GET %s: parameter %q, type %s, want %q, invalid-parameter (%s)", tt.target, p.Parameter, p.Type, tt.param, p.Detail)
			}
			if strings.Contains(resp.Body, "<script>") {
				t.Errorf("GET %s: answer reflects markup unescaped: %s", tt.target, resp.Body)
			}
		})
	}
}

// TestHostileValues: injection-looking and odd values are answered 400 or
// with an empty result, never 500, never reflected unescaped.
func TestHostileValues(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		query string
		want  int // status
	}{
		{"region=" + url.QueryEscape("' OR 1=1 --"), http.StatusOK},
		{"region=" + url.QueryEscape("North' OR '1'='1"), http.StatusOK},
		{"plan=" + url.QueryEscape("<script>alert(1)</script>"), http.StatusOK},
		{"payment_method=" + url.QueryEscape("card; DROP TABLE customers"), http.StatusOK},
		{"region=" + url.QueryEscape("日本語"), http.StatusOK},
		{"region=" + url.QueryEscape("\u202eNorth"), http.StatusOK},
		{"region=" + url.QueryEscape("North\x00"), http.StatusBadRequest},
		{"region=" + url.QueryEscape("a\nb"), http.StatusBadRequest},
		{"region=" + strings.Repeat("%F0%9F%98%80", 40), http.StatusBadRequest},
		{"region=%ff%fe", http.StatusBadRequest},
		{"churn_min=" + url.QueryEscape("0.5 OR 1=1"), http.StatusBadRequest},
		{"churn_min=0x1p-2", http.StatusBadRequest},
		{"churn_min=5e-1", http.StatusOK},
		{"churn_min=" + strings.Repeat("0", 100) + "1", http.StatusBadRequest},
		{"sort=" + url.QueryEscape("<script>"), http.StatusBadRequest},
		{"a;b=1", http.StatusBadRequest},
		{"status=active;x=1", http.StatusBadRequest},
		{"%=1", http.StatusBadRequest},
		{strings.Repeat("region=North&", 800), http.StatusBadRequest},
		{"segment=" + strings.Repeat("1,", 300) + "1", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(cut(tt.query, 40), func(t *testing.T) {
			resp := f.get(t, RoleAnalyst, "/v1/customers?"+tt.query)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, cut(resp.Body, 300))
			}
			if strings.Contains(resp.Body, "<script>") || strings.Contains(resp.Body, "' OR") {
				t.Errorf("answer reflects the value: %s", cut(resp.Body, 300))
			}
			if resp.StatusCode == http.StatusOK && !strings.HasPrefix(tt.query, "churn_min") {
				if p := decodePage(t, resp.Body); p.Count != 0 || len(p.Items) != 0 {
					t.Errorf("count %d, want 0", p.Count)
				}
			}
		})
	}
}

func TestRepeatedViaGatewayJoin(t *testing.T) {
	// Without a raw query string, API Gateway's comma-joined map is used: a
	// repeated single-valued parameter then fails its type check.
	f := newFixture(t, nil)
	ev := gatewayEvent("GET", "/v1/customers", "X-API-Key", adminSecret)
	ev.QueryStringParameters = map[string]string{"limit": "5,6", "region": "North,South"}
	resp := f.doEvent(t, ev)
	if p := problemOfBody(t, resp.Body); resp.StatusCode != http.StatusBadRequest || p.Parameter != "limit" {
		t.Fatalf("status %d parameter %q, want 400 limit", resp.StatusCode, p.Parameter)
	}
	ev.QueryStringParameters = map[string]string{"region": "North,South", "limit": "5"}
	resp = f.doEvent(t, ev)
	want := bruteForce(f.customers, filterCase{keep: func(c *serving.Customer) bool { return in(c.Region, "North", "South") }})
	if p := decodePage(t, resp.Body); p.Count != len(want) || len(p.Items) != 5 {
		t.Fatalf("count %d items %d, want %d 5", p.Count, len(p.Items), len(want))
	}
}

func TestOversized(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxBodyBytes = 10000 })
	resp := f.get(t, RoleAdmin, "/v1/customers?format=csv")
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("csv of everything with a 10 kB limit: %d, want 413", resp.StatusCode)
	}
	resp = f.get(t, RoleAdmin, "/v1/customers?format=csv&status=deactivated")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("small csv: %d, want 200: %s", resp.StatusCode, cut(resp.Body, 200))
	}
	resp = f.get(t, RoleAdmin, "/v1/lists/segment-2?format=csv")
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("csv of a long list with a 10 kB limit: %d, want 413", resp.StatusCode)
	}
}

// TestWideDictionary covers categories with more than 64 values (masks of
// several words), first and later in the evaluation order.
func TestWideDictionary(t *testing.T) {
	meta, cs := genSnapshot(11, 600, false)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range cs {
		cs[i].Region = fmt.Sprintf("R%03d", rng.IntN(150))
	}
	s, err := newServer(meta, cs, nil, Config{Keys: testKeys(), MaxPageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{s: s, customers: stored(t, s)}
	var many []string // two thirds of the regions: less selective than status=deactivated
	for i := 0; i < 100; i++ {
		many = append(many, fmt.Sprintf("R%03d", i))
	}
	for _, fc := range []filterCase{
		{query: "status=deactivated&region=" + strings.Join(many, ","), keep: func(c *serving.Customer) bool {
			return c.Status == "deactivated" && in(c.Region, many...)
		}},
		{query: "region=R005,R077,R149", keep: func(c *serving.Customer) bool { return in(c.Region, "R005", "R077", "R149") }},
		{query: "region=R005,R077,R149,R100,R101,R102,R103,R104,R105,R106,R107&status=active&sort=-clv", sort: "-clv",
			keep: func(c *serving.Customer) bool {
				return in(c.Region, "R005", "R077", "R149", "R100", "R101", "R102", "R103", "R104", "R105", "R106", "R107") && c.Status == "active"
			}},
		{query: "region=R070,R140&churn_min=0.1&tenure_min=3", keep: func(c *serving.Customer) bool {
			return in(c.Region, "R070", "R140") && c.Probability >= 0.1 && c.TenureMonths >= 3
		}},
	} {
		want := bruteForce(cs, fc)
		if len(want) == 0 {
			t.Fatalf("%s selects nothing", fc.query)
		}
		_, rows := readCSV(t, f.get(t, RoleAdmin, "/v1/customers?"+fc.query+"&format=csv").Body)
		var got []string
		for _, r := range rows {
			got = append(got, r[0])
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", fc.query, head(got), head(want))
		}
	}
}

// TestCursorAcrossInstances: two servers with the same keys (two Lambda
// instances) accept each other's cursors; other keys do not.
func TestCursorAcrossInstances(t *testing.T) {
	a, b := newFixture(t, nil), newFixture(t, nil)
	p := decodePage(t, a.get(t, RoleAdmin, "/v1/customers?region=North&limit=5").Body)
	next := "/v1/customers?region=North&limit=5&cursor=" + url.QueryEscape(*p.NextCursor)
	if resp := b.get(t, RoleAdmin, next); resp.StatusCode != http.StatusOK {
		t.Errorf("other instance: %d %s", resp.StatusCode, resp.Body)
	}
	c := newFixture(t, func(cfg *Config) { cfg.Keys = cfg.Keys[1:] })
	if resp := c.get(t, RoleAdmin, next); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("instance with other keys: %d, want 400", resp.StatusCode)
	}
}

// TestGzipExport: a client that accepts gzip gets exports too large as
// plain text, compressed, whole.
func TestGzipExport(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxBodyBytes = 60000 })
	if resp := f.get(t, RoleAdmin, "/v1/customers?format=csv"); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("plain csv of everything with a 60 kB limit: %d, want 413", resp.StatusCode)
	}
	for _, enc := range []string{"gzip", "deflate, gzip;q=0.8", "br, GZIP"} {
		resp := f.doEvent(t, gatewayEvent("GET", "/v1/customers?format=csv", "X-API-Key", secretOf[RoleAdmin], "Accept-Encoding", enc))
		if resp.StatusCode != http.StatusOK || !resp.IsBase64Encoded || resp.Headers["Content-Encoding"] != "gzip" {
			t.Fatalf("Accept-Encoding %q: status %d, base64 %v, encoding %q: %s", enc, resp.StatusCode, resp.IsBase64Encoded, resp.Headers["Content-Encoding"], cut(resp.Body, 200))
		}
		if len(resp.Body) > 60000 {
			t.Errorf("body of %d bytes is over the 60 kB limit", len(resp.Body))
		}
		raw, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if _, rows := readCSV(t, string(plain)); len(rows) != len(f.customers) {
			t.Errorf("gzip export has %d rows, want all %d", len(rows), len(f.customers))
		}
	}
	resp := f.do(t, event("GET", "/v1/customers?format=csv", "X-API-Key", secretOf[RoleAdmin], "Accept-Encoding", "gzip;q=0"))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("gzip;q=0 (refused): %d, want 413", resp.StatusCode)
	}
}
