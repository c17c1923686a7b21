package web

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/insight"
)

// The cube page (/console/cube): the API's three cubes (customers, the
// stored monthly cube, the usage cube) as a table with subtotals and the
// grand total, a bar chart for one dimension and a cubeHeatmap for two. The
// URL holds the query in the API's grammar (cube=, dims=, measures= and
// the filters), so a cube can be bookmarked; clicking a row or a cubeHeatmap
// cell drills down: its values become filters and the next dimension is
// offered. Roles are the API's (analysts and admins; agents get 403);
// the answers are aggregates, so nothing on the page is masked, and
// "list these customers" opens the search, where the API masks the rows
// (district included) for the role.

func init() {
	en := map[string]string{
		"cubeNav": "Cube", "cubeTitle": "Data cube", "cubeKind": "Cube", "cube_customers": "Customers (scoring run)",
		"cube_monthly": "Months (trend)", "cube_usage": "Calls (usage)", "cubeDims": "Dimension", "cubeMeasures": "Measures",
		"cubeShow": "Show", "cubeTotal": "Grand total", "cubeSubtotal": "subtotal", "cubeAll": "all",
		"cubeDrill": "Drill down", "cubeNext": "then by", "cubeFilters": "Filters", "cubeActive": "Filtered by", "cubeRemove": "remove",
		"cubeExamples": "The operator's questions",
		"exRoamers":    "Traits of heavy roamers (5+ roaming calls), by plan", "exWomen": "Women around 30 in income bands A-B: long-distance calls, by hour",
		"exWeekend": "Weekend against weekday: long-distance and roaming calls", "exTrend": "Customers, new, churned, revenue and ARPU by month and segment",
		"cubeList": "List these customers", "cubeTruncated": "rows shown; export CSV for all", "cubeHeat": "Heatmap",
		"cubeNote": "Aggregates only; subtotals and the grand total follow GROUP BY CUBE.", "cubeCounted": "rows counted",
		"m_count": "Customers", "m_churn_rate": "Churn rate (mean predicted)", "m_bad_debt_rate": "Bad-debt rate (mean predicted)", "m_monthly_value_sum": "Monthly value, sum",
		"m_monthly_value_mean": "Monthly value, mean", "m_clv_sum": "CLV, sum", "m_value_at_risk_sum": "Value at risk, sum",
		"m_voice_minutes_mean": "Voice minutes, mean", "m_data_mb_mean": "Data MB, mean", "m_arrears_mean": "Arrears, mean",
		"m_profit_sum": "Profit, sum", "m_profit_mean": "Profit, mean", "m_expected_arrears_sum": "Expected arrears, sum",
		"m_subscribers": "Subscribers", "m_subscriber_months": "Subscriber-months", "m_new": "New", "m_churned": "Churned",
		"m_revenue": "Revenue", "m_arpu": "ARPU", "m_minutes": "Voice minutes", "m_data_mb": "Data (MB)", "m_calls": "Calls",
		"m_minutes_per_subscriber": "Minutes per subscriber", "m_minutes_per_call": "Minutes per call",
		"m_calls_per_subscriber": "Calls per subscriber",
	}
	zh := map[string]string{
		"cubeNav": "多维分析", "cubeTitle": "数据立方", "cubeKind": "立方", "cube_customers": "客户（本次评分）",
		"cube_monthly": "月度（趋势）", "cube_usage": "通话（用量）", "cubeDims": "维度", "cubeMeasures": "指标",
		"cubeShow": "显示", "cubeTotal": "总计", "cubeSubtotal": "小计", "cubeAll": "全部",
		"cubeDrill": "下钻", "cubeNext": "再按", "cubeFilters": "筛选", "cubeActive": "筛选条件", "cubeRemove": "移除",
		"cubeExamples": "运营方提出的问题",
		"exRoamers":    "重度漫游用户（漫游通话 5 次以上）的特征，按套餐", "exWomen": "30 岁左右、收入 A-B 档女性的长途通话，按小时",
		"exWeekend": "周末与工作日：长途与漫游通话", "exTrend": "按月份与客户群：客户数、新增、流失、收入与 ARPU",
		"cubeList": "列出这些客户", "cubeTruncated": "行已显示；全部数据请导出 CSV", "cubeHeat": "热力图",
		"cubeNote": "仅含汇总数据；小计与总计遵循 GROUP BY CUBE。", "cubeCounted": "行计入",
		"m_count": "客户数", "m_churn_rate": "流失率（预测均值）", "m_bad_debt_rate": "坏账率（预测均值）", "m_monthly_value_sum": "月价值合计",
		"m_monthly_value_mean": "月价值均值", "m_clv_sum": "CLV 合计", "m_value_at_risk_sum": "风险价值合计",
		"m_voice_minutes_mean": "通话分钟均值", "m_data_mb_mean": "流量 MB 均值", "m_arrears_mean": "欠费均值",
		"m_profit_sum": "利润合计", "m_profit_mean": "利润均值", "m_expected_arrears_sum": "预期欠费合计",
		"m_subscribers": "用户数", "m_subscriber_months": "用户·月", "m_new": "新增", "m_churned": "流失",
		"m_revenue": "收入", "m_arpu": "ARPU", "m_minutes": "通话分钟", "m_data_mb": "流量 (MB)", "m_calls": "通话次数",
		"m_minutes_per_subscriber": "人均分钟", "m_minutes_per_call": "次均分钟",
		"m_calls_per_subscriber": "人均通话次数",
	}
	for k, v := range en {
		dicts["en"][k] = v
	}
	for k, v := range zh {
		dicts["zh"][k] = v
	}
}

// cubeMeasure is a measure of a cube and how people read it.
type cubeMeasure struct {
	Name  string
	Money bool // to the cent
	Rate  bool // a probability, as a percentage
	Whole bool // a count
}

func (m cubeMeasure) format(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case m.Rate:
		return grouped(v*100, 1) + "%"
	case m.Money:
		return grouped(v, 2)
	case m.Whole:
		return grouped(v, 0)
	}
	return grouped(v, 1)
}

// cubeKind is one of the API's cubes.
type cubeKind struct {
	Name     string // cube= value
	Path     string // the API's path
	Dims     []string
	Measures []cubeMeasure
	Default  []string // measures shown when none is chosen
	// Customers: the filter is the customer search's conditions;
	// otherwise each dimension is a filter.
	Customers bool
}

func (k *cubeKind) measure(name string) (cubeMeasure, bool) {
	i := slices.IndexFunc(k.Measures, func(m cubeMeasure) bool { return m.Name == name })
	if i < 0 {
		return cubeMeasure{}, false
	}
	return k.Measures[i], true
}

// cubeKinds are the cubes in the order the page offers them.
var cubeKinds = func() []*cubeKind {
	cust := &cubeKind{Name: "customers", Path: "/v1/cube", Customers: true, Default: []string{"count", "churn_rate", "monthly_value_mean"}}
	for _, d := range insight.Dimensions {
		cust.Dims = append(cust.Dims, d.Name)
	}
	for _, m := range insight.Measures {
		cust.Measures = append(cust.Measures, cubeMeasure{Name: m.Name, Money: m.Money, Rate: m.Name == "churn_rate" || m.Name == "bad_debt_rate", Whole: m.Name == "count"})
	}
	fact := func(name, path string, spec insight.FactSpec, def []string) *cubeKind {
		k := &cubeKind{Name: name, Path: path, Dims: spec.Dims, Default: def}
		for _, m := range spec.Measures {
			whole := m.Den == "" && slices.Contains([]string{"calls", "subscribers", "subscriber_months", "new", "churned"}, m.Name)
			k.Measures = append(k.Measures, cubeMeasure{Name: m.Name, Money: m.Money, Whole: whole})
		}
		return k
	}
	return []*cubeKind{cust,
		fact("monthly", "/v1/cube/monthly", insight.MonthlyCubeSpec, []string{"subscribers", "new", "churned", "revenue", "arpu"}),
		fact("usage", "/v1/cube/usage", insight.UsageCubeSpec, []string{"calls", "minutes", "subscribers"})}
}()

func cubeKindOf(name string) *cubeKind {
	for _, k := range cubeKinds {
		if k.Name == name {
			return k
		}
	}
	return cubeKinds[0]
}

// cubeQuery is the page's query: the cube, its dims and measures, and the
// filter in the API's grammar.
type cubeQuery struct {
	Kind     *cubeKind
	Dims     []string
	Measures []string
	Filter   url.Values
}

// splitNames reads a parameter given as comma lists, repeated or both;
// blanks dropped.
func splitNames(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

func parseCubeQuery(in url.Values) cubeQuery {
	q := cubeQuery{Kind: cubeKindOf(in.Get("cube")), Dims: splitNames(in["dims"]), Measures: splitNames(in["measures"])}
	if q.Kind.Customers {
		q.Filter = conditions(in)
		q.Filter.Del("sort")
		q.Filter.Del("cursor")
	} else {
		q.Filter = url.Values{}
		for _, d := range q.Kind.Dims {
			for _, v := range in[d] {
				if v = strings.TrimSpace(v); v != "" {
					q.Filter.Add(d, v)
				}
			}
		}
	}
	if len(q.Measures) == 0 {
		q.Measures = q.Kind.Default
	}
	return q
}

// api is the query the API answers.
func (q cubeQuery) api() url.Values {
	v := url.Values{}
	for k, vs := range q.Filter {
		v[k] = vs
	}
	if len(q.Dims) > 0 {
		v.Set("dims", strings.Join(q.Dims, ","))
	}
	v.Set("measures", strings.Join(q.Measures, ","))
	return v
}

// url is the console's URL of q.
func (q cubeQuery) url() string {
	v := q.api()
	v.Set("cube", q.Kind.Name)
	return "/console/cube?" + v.Encode()
}

// quoteValue writes a value as one item of the API's comma lists.
func quoteValue(s string) string {
	if strings.ContainsAny(s, `,"`) {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// drill is q narrowed to the cell's values (dims[i] = keys[i] for the
// set ones), by the dimensions left, or the next one if none is.
func (q cubeQuery) drill(keys []cellKey) (string, string, bool) {
	n := cubeQuery{Kind: q.Kind, Measures: q.Measures, Filter: url.Values{}}
	for k, vs := range q.Filter {
		n.Filter[k] = slices.Clone(vs)
	}
	var used []string
	for i, k := range keys {
		if !k.Set {
			n.Dims = append(n.Dims, q.Dims[i])
			continue
		}
		if k.Text == "" {
			return "", "", false // an unknown value is no filter
		}
		used = append(used, q.Dims[i])
		if !n.filterOn(q.Dims[i], k.Text) {
			return "", "", false
		}
	}
	if len(used) == 0 {
		return "", "", false
	}
	next := ""
	if len(n.Dims) > 0 {
		next = n.Dims[0]
	} else {
		for _, d := range q.Kind.Dims {
			if !slices.Contains(q.Dims, d) && !n.filtered(d) {
				next = d
				n.Dims = []string{d}
				break
			}
		}
	}
	return n.url(), next, true
}

// filterOn narrows the filter to dim = value.
func (q cubeQuery) filterOn(dim, value string) bool {
	if !q.Kind.Customers || dim != "tenure_band" {
		q.Filter.Set(dim, quoteValue(value))
		q.Filter.Del("not." + dim)
		return true
	}
	lo, hi, ok := strings.Cut(value, "-")
	if !ok {
		lo, ok = strings.CutSuffix(value, "+")
	}
	a, err := strconv.Atoi(lo)
	if !ok || err != nil {
		return false
	}
	q.Filter.Set("tenure_min", strconv.Itoa(a))
	q.Filter.Del("tenure_max")
	if hi != "" {
		q.Filter.Set("tenure_max", hi)
	}
	return true
}

func (q cubeQuery) filtered(dim string) bool {
	if q.Kind.Customers && dim == "tenure_band" {
		return q.Filter.Has("tenure_min") || q.Filter.Has("tenure_max")
	}
	return q.Filter.Has(dim)
}

// cellKey is one dimension's value in a cell: Set false is rolled up.
type cellKey struct {
	Text string
	Set  bool
}

// cubeCell is a cell of the API's answer.
type cubeCell struct {
	Keys     []cellKey
	Grouping int
	Values   []float64 // NaN: null
}

// parseCube reads the API's cube answer.
func parseCubeAnswer(body []byte) (dims, measures []string, rows int, cells []cubeCell, err error) {
	var ans struct {
		Dims      []string                     `json:"dims"`
		Measures  []string                     `json:"measures"`
		Customers *int                         `json:"customers"`
		Rows      *int                         `json:"rows"`
		Cells     []map[string]json.RawMessage `json:"cells"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, nil, 0, nil, fmt.Errorf("web: cube answer: %w", err)
	}
	if ans.Customers != nil {
		rows = *ans.Customers
	} else if ans.Rows != nil {
		rows = *ans.Rows
	}
	for _, raw := range ans.Cells {
		c := cubeCell{}
		for _, d := range ans.Dims {
			var s *string
			if err := json.Unmarshal(raw[d], &s); err != nil {
				return nil, nil, 0, nil, fmt.Errorf("web: cube cell %s: %w", d, err)
			}
			if s == nil {
				c.Keys = append(c.Keys, cellKey{})
			} else {
				c.Keys = append(c.Keys, cellKey{Text: *s, Set: true})
			}
		}
		json.Unmarshal(raw["grouping"], &c.Grouping)
		for _, m := range ans.Measures {
			var v *float64
			if err := json.Unmarshal(raw[m], &v); err != nil {
				return nil, nil, 0, nil, fmt.Errorf("web: cube cell %s: %w", m, err)
			}
			if v == nil {
				c.Values = append(c.Values, math.NaN())
			} else {
				c.Values = append(c.Values, *v)
			}
		}
		cells = append(cells, c)
	}
	return ans.Dims, ans.Measures, rows, cells, nil
}

// compareKeys orders values as people count: numbers by value, text by
// its bytes.
func compareKeys(a, b string) int {
	x, ea := strconv.ParseFloat(a, 64)
	y, eb := strconv.ParseFloat(b, 64)
	if ea == nil && eb == nil {
		return cmp.Compare(x, y)
	}
	return strings.Compare(a, b)
}

// level is how many leading dimensions a cell sets, if every later one
// is rolled up (the rows of a table with subtotals); -1 otherwise.
func (c cubeCell) level() int {
	n := 0
	for n < len(c.Keys) && c.Keys[n].Set {
		n++
	}
	for _, k := range c.Keys[n:] {
		if k.Set {
			return -1
		}
	}
	return n
}

// cubeRow is a row of the page's table.
type cubeRow struct {
	Keys   []cellKey
	Values []string
	Drill  string
	Next   string // the dimension the drill offers, if it adds one
	Level  int
	Sub    bool // a subtotal
	Total  bool // the grand total
}

// cubeHeatmap is two dimensions' leaf cells of the first measure, with their
// totals in the margins.
type cubeHeatmap struct {
	Measure        string
	RowDim, ColDim string
	Cols           []string
	Rows           []cubeHeatRow
	ColTotals      []string
	Total          string
}

type cubeHeatRow struct {
	Key   string
	Cells []cubeHeatCell
	Total string
}

type cubeHeatCell struct {
	Text  string
	Class string // h0..h9 by value, "" empty
	Drill string
}

// cubePage is the cube page's data.
type cubePage struct {
	Kind      string
	Kinds     []string
	Dims      []string // the four selects' values
	DimChoice []string
	Measures  []measureChoice
	Fields    []field // the customer filter builder, or the dimension filters
	Active    []activeFilter
	Query     string // the API query, for the CSV link
	Head      []string
	MHead     []string
	Rows      []cubeRow
	Total     *cubeRow
	Shown     int
	Truncated bool
	Counted   int
	Chart     template.HTML
	Heat      *cubeHeatmap
	Problem   string
	Examples  []example
	Search    string // the search of the same customers
	Groups    []groupJSON
}

type measureChoice struct {
	Name string
	On   bool
}

type activeFilter struct {
	Name, Value, Remove string
}

type example struct {
	Key, URL string
}

// maxCubeRows bounds the table's rows; the CSV has every cell.
const maxCubeRows = 500

func (c *Console) cube(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	if s.Role.Access(api.OpCube) == api.Denied {
		c.fail(w, r, http.StatusForbidden, "forbidden")
		return
	}
	q := parseCubeQuery(r.URL.Query())
	d := cubePage{Kind: q.Kind.Name, DimChoice: q.Kind.Dims, Query: q.api().Encode()}
	for _, k := range cubeKinds {
		d.Kinds = append(d.Kinds, k.Name)
	}
	d.Dims = append(slices.Clone(q.Dims), make([]string, max(0, insight.MaxDims-len(q.Dims)))...)
	for _, m := range q.Kind.Measures {
		d.Measures = append(d.Measures, measureChoice{m.Name, slices.Contains(q.Measures, m.Name)})
	}
	if q.Kind.Customers {
		for _, name := range append(api.FilterConditions(), "group") {
			d.Fields = append(d.Fields, field{Name: name, Value: strings.Join(q.Filter[name], ",")})
		}
		d.Search = "/console/search?" + q.Filter.Encode()
		d.Groups = c.groupChoices(r, s)
	} else {
		for _, name := range q.Kind.Dims {
			d.Fields = append(d.Fields, field{Name: name, Value: strings.Join(q.Filter[name], ",")})
		}
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range q.Filter {
			if !yield(k) {
				return
			}
		}
	}) {
		rest := cubeQuery{Kind: q.Kind, Dims: q.Dims, Measures: q.Measures, Filter: url.Values{}}
		for k2, vs := range q.Filter {
			if k2 != k {
				rest.Filter[k2] = vs
			}
		}
		d.Active = append(d.Active, activeFilter{Name: k, Value: strings.Join(q.Filter[k], ","), Remove: rest.url()})
	}
	d.Examples = c.cubeExamples(r, s)
	status, _, body := c.apiGet(r, s, q.Kind.Path, q.api())
	switch status {
	case http.StatusOK:
	case http.StatusForbidden:
		c.fail(w, r, http.StatusForbidden, "forbidden")
		return
	case http.StatusBadRequest:
		d.Problem = problemDetail(body)
		c.render(w, r, http.StatusOK, "cube", c.page(r, &s, d))
		return
	default:
		d.Problem = problemDetail(body)
		if d.Problem == "" {
			d.Problem = dicts[language(r)]["internal"]
		}
		c.render(w, r, http.StatusBadGateway, "cube", c.page(r, &s, d))
		return
	}
	dims, measures, counted, cells, err := parseCubeAnswer(body)
	if err != nil {
		c.cfg.Log.ErrorContext(r.Context(), "web: cube", "err", err)
		c.fail(w, r, http.StatusInternalServerError, "internal")
		return
	}
	q.Dims = dims
	d.Counted = counted
	d.Head, d.MHead = dims, measures
	ms := make([]cubeMeasure, len(measures))
	for j, name := range measures {
		ms[j], _ = q.Kind.measure(name)
	}
	format := func(vals []float64) []string {
		out := make([]string, len(vals))
		for j, v := range vals {
			out[j] = ms[j].format(v)
		}
		return out
	}
	var table []cubeCell
	for _, cell := range cells {
		if cell.level() >= 0 {
			table = append(table, cell)
		}
	}
	slices.SortStableFunc(table, func(a, b cubeCell) int {
		for i := range a.Keys {
			switch ka, kb := a.Keys[i], b.Keys[i]; {
			case !ka.Set && !kb.Set:
				return 0
			case !ka.Set:
				return 1 // a subtotal follows its rows
			case !kb.Set:
				return -1
			default:
				if x := compareKeys(ka.Text, kb.Text); x != 0 {
					return x
				}
			}
		}
		return 0
	})
	for _, cell := range table {
		lv := cell.level()
		row := cubeRow{Keys: cell.Keys, Values: format(cell.Values), Level: lv, Sub: lv > 0 && lv < len(dims), Total: lv == 0}
		row.Drill, row.Next, _ = q.drill(cell.Keys)
		if row.Total {
			d.Total = &row
			continue
		}
		if len(d.Rows) >= maxCubeRows {
			d.Truncated = true
			continue
		}
		d.Rows = append(d.Rows, row)
	}
	d.Shown = len(d.Rows)
	if len(measures) > 0 {
		switch len(dims) {
		case 1:
			d.Chart = cubeBars(dims[0], ms[0], cells)
		case 2:
			d.Heat = cubeHeat(q, ms[0], cells)
		}
	}
	c.render(w, r, http.StatusOK, "cube", c.page(r, &s, d))
}

// cubeBars is the one-dimension cube's first measure as bars.
func cubeBars(dim string, m cubeMeasure, cells []cubeCell) template.HTML {
	var rows []hbar
	for _, cell := range cells {
		if cell.Keys[0].Set && len(rows) < 40 {
			rows = append(rows, hbar{Label: cell.Keys[0].Text, Value: nz(cell.Values[0]), Text: m.format(cell.Values[0])})
		}
	}
	slices.SortFunc(rows, func(a, b hbar) int { return compareKeys(a.Label, b.Label) })
	return hbars(m.Name+" by "+dim, rows)
}

// cubeHeat lays the two-dimension cube out as a grid, at most 40 × 60.
func cubeHeat(q cubeQuery, m cubeMeasure, cells []cubeCell) *cubeHeatmap {
	var rowKeys, colKeys []string
	leaf := map[[2]string]float64{}
	rowTot, colTot := map[string]float64{}, map[string]float64{}
	total := math.NaN()
	lo, top := math.Inf(1), math.Inf(-1)
	for _, cell := range cells {
		a, b := cell.Keys[0], cell.Keys[1]
		v := cell.Values[0]
		switch {
		case a.Set && b.Set:
			leaf[[2]string{a.Text, b.Text}] = v
			if !slices.Contains(rowKeys, a.Text) {
				rowKeys = append(rowKeys, a.Text)
			}
			if !slices.Contains(colKeys, b.Text) {
				colKeys = append(colKeys, b.Text)
			}
			if !math.IsNaN(v) {
				lo, top = math.Min(lo, v), math.Max(top, v)
			}
		case a.Set:
			rowTot[a.Text] = v
		case b.Set:
			colTot[b.Text] = v
		default:
			total = v
		}
	}
	if len(rowKeys) == 0 || len(rowKeys) > 60 || len(colKeys) > 40 {
		return nil
	}
	slices.SortFunc(rowKeys, compareKeys)
	slices.SortFunc(colKeys, compareKeys)
	h := &cubeHeatmap{Measure: m.Name, RowDim: q.Dims[0], ColDim: q.Dims[1], Cols: colKeys, Total: m.format(total)}
	for _, ck := range colKeys {
		v, ok := colTot[ck]
		if !ok {
			v = math.NaN()
		}
		h.ColTotals = append(h.ColTotals, m.format(v))
	}
	for _, rk := range rowKeys {
		v, ok := rowTot[rk]
		if !ok {
			v = math.NaN()
		}
		hr := cubeHeatRow{Key: rk, Total: m.format(v)}
		for _, ck := range colKeys {
			v, ok := leaf[[2]string{rk, ck}]
			cell := cubeHeatCell{Text: "", Class: ""}
			if ok {
				cell.Text = m.format(v)
				if !math.IsNaN(v) {
					cell.Class = "h" + strconv.Itoa(heatClass(v, lo, top))
				}
				cell.Drill, _, _ = q.drill([]cellKey{{rk, true}, {ck, true}})
			}
			hr.Cells = append(hr.Cells, cell)
		}
		h.Rows = append(h.Rows, hr)
	}
	return h
}

// heatClass places v between lo and hi in ten steps (0 lightest).
func heatClass(v, lo, hi float64) int {
	if hi <= lo {
		return 5
	}
	return min(9, int((v-lo)/(hi-lo)*10))
}

// cubeExamples are the operator's questions from the README as links;
// the usage questions ask for the newest month the usage cube has.
func (c *Console) cubeExamples(r *http.Request, s session) []example {
	month := ""
	if status, _, body := c.apiGet(r, s, "/v1/cube/usage", url.Values{"dims": {"month"}, "measures": {"calls"}}); status == http.StatusOK {
		if dims, _, _, cells, err := parseCubeAnswer(body); err == nil && len(dims) == 1 {
			for _, cell := range cells {
				if cell.Keys[0].Set && compareKeys(cell.Keys[0].Text, month) > 0 {
					month = cell.Keys[0].Text
				}
			}
		}
	}
	withMonth := func(v url.Values) url.Values {
		if month != "" {
			v.Set("month", month)
		}
		return v
	}
	mk := func(key, kind string, v url.Values) example {
		v.Set("cube", kind)
		return example{Key: key, URL: "/console/cube?" + v.Encode()}
	}
	return []example{
		mk("exRoamers", "customers", url.Values{"dims": {"plan"}, "roaming_min": {"5"}, "measures": {"count,voice_minutes_mean,monthly_value_mean,churn_rate"}}),
		mk("exWomen", "usage", withMonth(url.Values{"dims": {"gender,age_band,hour"}, "income_band": {"A,B"}, "call_kind": {"long_distance"},
			"measures": {"calls,subscribers,calls_per_subscriber"}})),
		mk("exWeekend", "usage", withMonth(url.Values{"dims": {"day_type,call_kind"}, "call_kind": {"long_distance,roaming"},
			"measures": {"calls,minutes,subscribers,minutes_per_call"}})),
		mk("exTrend", "monthly", url.Values{"dims": {"month,segment"}, "measures": {"subscribers,new,churned,revenue,arpu"}}),
	}
}

// cubeCSV is the cube's CSV export, as the API answers it for the role.
func (c *Console) cubeCSV(w http.ResponseWriter, r *http.Request) {
	s, ok := c.current(r)
	if !ok {
		http.Error(w, "signed out", http.StatusUnauthorized)
		return
	}
	q := parseCubeQuery(r.URL.Query())
	v := q.api()
	v.Set("format", "csv")
	status, h, body := c.apiGet(r, s, q.Kind.Path, v)
	for _, k := range []string{"Content-Type", "Content-Encoding", "Content-Disposition", "Vary"} {
		if x := h.Get(k); x != "" {
			w.Header().Set(k, x)
		}
	}
	w.WriteHeader(status)
	w.Write(body)
}
