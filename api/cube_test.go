package api

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/models/serving"
)

type cubeBody struct {
	Run       string           `json:"run"`
	Dims      []string         `json:"dims"`
	Measures  []string         `json:"measures"`
	Customers int              `json:"customers"`
	Cells     []map[string]any `json:"cells"`
}

func decodeCube(t *testing.T, body string) cubeBody {
	t.Helper()
	var c cubeBody
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		t.Fatalf("cube %q: %v", cut(body, 200), err)
	}
	return c
}

// tenureRange is the tenure_min/tenure_max of a tenure band.
var tenureRange = map[string][2]string{"0-5": {"0", "5"}, "6-11": {"6", "11"}, "12-23": {"12", "23"},
	"24-35": {"24", "35"}, "36-59": {"36", "59"}, "60+": {"60", ""}}

// cubeDimValue is a customer's value of a cube dimension, for the brute force.
func cubeDimValue(c *serving.Customer, dim string) string {
	switch dim {
	case "region":
		return c.Region
	case "plan":
		return c.Plan
	case "segment":
		return strconv.Itoa(int(c.SegmentID))
	case "lifecycle":
		return c.Lifecycle
	case "age_band":
		return c.AgeBand
	case "status":
		return c.Status
	case "payment_method":
		return c.PaymentMethod
	case "tenure_band":
		for band, r := range tenureRange {
			lo, _ := strconv.Atoi(r[0])
			hi, err := strconv.Atoi(r[1])
			if int(c.TenureMonths) >= lo && (err != nil || int(c.TenureMonths) <= hi) {
				return band
			}
		}
	}
	panic("no brute force for " + dim)
}

// TestCubeCountsAreTheFilters: every cell of 2-dimension cubes, under a
// filter, counts what GET /v1/customers counts with the cell's values as
// conditions, and what a brute force over the customers counts; money sums
// are the brute force's to the cent.
func TestCubeCountsAreTheFilters(t *testing.T) {
	f := newFixture(t, nil)
	filters := []struct {
		query string
		keep  func(*serving.Customer) bool
	}{
		{"", func(*serving.Customer) bool { return true }},
		{"status=active&churn_min=0.3&value_max=60", func(c *serving.Customer) bool {
			return c.Status == "active" && c.Probability >= 0.3 && c.MonthlyValue <= 60
		}},
		{"plan=BASIC10,MAX40&tenure_min=12", func(c *serving.Customer) bool {
			return (c.Plan == "BASIC10" || c.Plan == "MAX40") && c.TenureMonths >= 12
		}},
	}
	pairs := [][2]string{{"region", "plan"}, {"segment", "lifecycle"}, {"age_band", "tenure_band"}, {"payment_method", "status"}}
	for _, fl := range filters {
		for _, dims := range pairs {
			t.Run(fl.query+"/"+dims[0]+","+dims[1], func(t *testing.T) {
				target := "/v1/cube?dims=" + dims[0] + "," + dims[1] + "&measures=count,monthly_value_sum,clv_sum"
				if fl.query != "" {
					target += "&" + fl.query
				}
				resp := f.get(t, RoleAnalyst, target)
				if resp.StatusCode != 200 {
					t.Fatalf("GET %s = %d: %s", target, resp.StatusCode, cut(resp.Body, 300))
				}
				cube := decodeCube(t, resp.Body)
				if cube.Run != f.meta.Run || !slices.Equal(cube.Dims, dims[:]) || !slices.Equal(cube.Measures, []string{"count", "monthly_value_sum", "clv_sum"}) {
					t.Fatalf("cube header %+v", cube)
				}
				type acc struct{ n, value, clv int64 }
				brute := map[string]*acc{}
				selected := 0
				for i := range f.customers {
					c := &f.customers[i]
					if !fl.keep(c) {
						continue
					}
					selected++
					for mask := range 4 {
						k := [2]string{cubeDimValue(c, dims[0]), cubeDimValue(c, dims[1])}
						for i := range 2 {
							if mask>>i&1 == 1 {
								k[i] = "\x00"
							}
						}
						key := k[0] + "|" + k[1]
						if brute[key] == nil {
							brute[key] = &acc{}
						}
						a := brute[key]
						a.n++
						a.value += serving.ToCents(c.MonthlyValue)
						a.clv += serving.ToCents(c.CLV)
					}
				}
				if cube.Customers != selected || len(cube.Cells) != len(brute) {
					t.Fatalf("%d customers in %d cells, brute force %d in %d", cube.Customers, len(cube.Cells), selected, len(brute))
				}
				checked := 0
				for _, cell := range cube.Cells {
					k := [2]string{}
					cond := url.Values{}
					for i, d := range dims {
						v, _ := cell[d].(string)
						if cell[d] == nil {
							k[i] = "\x00"
							if g := int(cell["grouping"].(float64)); g>>i&1 != 1 {
								t.Errorf("cell %v: %s null but grouping %d", cell, d, g)
							}
							continue
						}
						k[i] = v
						if d == "tenure_band" {
							r := tenureRange[v]
							cond.Set("tenure_min", r[0])
							if r[1] != "" {
								cond.Set("tenure_max", r[1])
							}
						} else {
							cond.Set(d, v)
						}
					}
					a := brute[k[0]+"|"+k[1]]
					if a == nil {
						t.Errorf("cell %v not in the brute force", cell)
						continue
					}
					if int64(cell["count"].(float64)) != a.n || cell["monthly_value_sum"].(float64) != serving.FromCents(a.value) || cell["clv_sum"].(float64) != serving.FromCents(a.clv) {
						t.Errorf("cell %v, brute force count %d, value %d cents, clv %d cents", cell, a.n, a.value, a.clv)
					}
					if slices.Contains(k[:], "") {
						continue // an empty value is no filter condition; the brute force checked it
					}
					q := cond.Encode()
					if fl.query != "" {
						if strings.Contains(fl.query, "tenure_min") && cond.Has("tenure_min") {
							continue // the filter's tenure_min and the band's would repeat the parameter
						}
						if strings.Contains(fl.query, "plan=") && cond.Has("plan") {
							continue
						}
						q += "&" + fl.query
					}
					page := f.get(t, RoleAnalyst, "/v1/customers?limit=1&"+strings.TrimPrefix(q, "&"))
					if page.StatusCode != 200 {
						t.Fatalf("filter %s = %d: %s", q, page.StatusCode, cut(page.Body, 200))
					}
					if got := decodePage(t, page.Body).Count; int64(got) != a.n {
						t.Errorf("cell %v: /v1/customers?%s counts %d", cell, q, got)
					}
					checked++
				}
				if checked == 0 {
					t.Error("no cell checked against the filter")
				}
			})
		}
	}
}

// TestCubeCSV: format=csv and Accept: text/csv give the JSON answer's
// cells as rows, rolled-up dimensions as (all).
func TestCubeCSV(t *testing.T) {
	f := newFixture(t, nil)
	const target = "/v1/cube?dims=plan,status&measures=count,churn_rate,value_at_risk_sum&region=North"
	cube := decodeCube(t, f.get(t, RoleAdmin, target).Body)
	for _, how := range []string{"format", "accept"} {
		t.Run(how, func(t *testing.T) {
			var resp response
			if how == "format" {
				resp = f.get(t, RoleAdmin, target+"&format=csv")
			} else {
				resp = f.do(t, event("GET", target, "X-API-Key", adminSecret, "Accept", "text/csv;q=0.9, application/json;q=0.5"))
			}
			if resp.StatusCode != 200 || resp.Headers["Content-Type"] != ctCSV {
				t.Fatalf("status %d, %s: %s", resp.StatusCode, resp.Headers["Content-Type"], cut(resp.Body, 200))
			}
			h, rows := readCSV(t, resp.Body)
			if want := []string{"plan", "status", "grouping", "count", "churn_rate", "value_at_risk_sum"}; !slices.Equal(h, want) {
				t.Fatalf("header %v, want %v", h, want)
			}
			if len(rows) != len(cube.Cells) {
				t.Fatalf("%d rows, %d cells", len(rows), len(cube.Cells))
			}
			for i, cell := range cube.Cells {
				var want []string
				for _, d := range cube.Dims {
					v, _ := cell[d].(string)
					if cell[d] == nil {
						v = "(all)"
					}
					want = append(want, v)
				}
				want = append(want, fmt.Sprint(cell["grouping"]))
				for _, m := range cube.Measures {
					want = append(want, strconv.FormatFloat(cell[m].(float64), 'f', -1, 64))
				}
				if !slices.Equal(rows[i], want) {
					t.Errorf("row %d = %v, want %v", i, rows[i], want)
				}
			}
			if last := rows[len(rows)-1]; last[0] != "(all)" || last[1] != "(all)" || last[2] != "3" {
				t.Errorf("last row %v, want the grand total", last)
			}
		})
	}
}

// TestCubeParameters: bad parameters are 400s naming the parameter,
// without echoing long input.
func TestCubeParameters(t *testing.T) {
	f := newFixture(t, nil)
	long := strings.Repeat("x", 5000)
	tests := []struct {
		query, param, detail string
	}{
		{"dims=region,month", "dims", "unknown dimension"},
		{"dims=region,plan,status,lifecycle,gender", "dims", "at most 4"},
		{"dims=region&dims=plan,region", "dims", "twice"},
		{"dims=region,", "dims", "empty value"},
		{"dims=" + long, "dims", "at most 64"},
		{"measures=count,profit", "measures", "unknown measure"},
		{"measures=count,count", "measures", "twice"},
		{"format=xml", "format", "json or csv"},
		{"format=csv&format=json", "format", "allowed once"},
		{"status=gone", "status", "unknown value"},
		{"churn_min=2", "churn_min", "between"},
		{"sort=clv", "sort", "unknown parameter"},
		{"limit=5", "limit", "unknown parameter"},
		{long[:100] + "=1", long[:64] + "…", "unknown parameter"},
	}
	for _, tt := range tests {
		t.Run(cut(tt.query, 40), func(t *testing.T) {
			resp := f.get(t, RoleAnalyst, "/v1/cube?"+tt.query)
			if resp.StatusCode != 400 {
				t.Fatalf("status %d, want 400: %s", resp.StatusCode, cut(resp.Body, 200))
			}
			p := problemOfBody(t, resp.Body)
			if p.Parameter != tt.param || !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("problem %+v, want parameter %q and %q", p, tt.param, tt.detail)
			}
			if len(resp.Body) > 1000 {
				t.Errorf("problem of %d bytes echoes the input", len(resp.Body))
			}
		})
	}
}

// TestCubeNoMatch: a filter nobody meets gives only the grand total, with
// count 0 and null means.
func TestCubeNoMatch(t *testing.T) {
	f := newFixture(t, nil)
	resp := f.get(t, RoleAnalyst, "/v1/cube?dims=region&region=Atlantis&measures=count,churn_rate")
	cube := decodeCube(t, resp.Body)
	if resp.StatusCode != 200 || cube.Customers != 0 || len(cube.Cells) != 1 {
		t.Fatalf("status %d, cube %+v", resp.StatusCode, cube)
	}
	if c := cube.Cells[0]; c["region"] != nil || c["count"] != 0.0 || c["churn_rate"] != nil || c["grouping"] != 1.0 {
		t.Errorf("cell %v, want region null, count 0, churn_rate null, grouping 1", c)
	}
}
