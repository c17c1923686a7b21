package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/iceberg-go/table"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/lake"
)

// GET /v1/cube/monthly and GET /v1/cube/usage: the cubes the feature and
// training runs store (crm.cube_monthly, crm.usage_cube), with the dims
// and measures grammar of /v1/cube and GROUP BY CUBE semantics
// (insight.ComputeFact). Each dimension is also a filter: `<dim>=a,b`
// keeps the rows with one of those values. The tables are read from the
// lake once per table snapshot and kept in memory (they are small).

// FactSources is the optional part of Sources that reads the stored cube
// tables: the table of spec in memory, and the snapshot it was read at (0:
// the table is empty).
type FactSources interface {
	Fact(ctx context.Context, spec insight.FactSpec) (*insight.Fact, int64, error)
}

// Closed value sets of fact dimensions (other dimensions take any value
// and an unknown one matches nothing).
var (
	factMonthRE = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)
	factHours   = func() []string {
		var h []string
		for i := range 24 {
			h = append(h, fmt.Sprintf("%02d", i))
		}
		return h
	}()
	factClosed = map[string][]string{
		"hour":      factHours,
		"day_type":  {"weekday", "weekend"},
		"call_kind": {"local", "long_distance", "international", "roaming", "unknown_area"},
	}
)

func factParams(spec insight.FactSpec) []paramSpec {
	ps := []paramSpec{{name: pDims, multi: true}, {name: pMeasures, multi: true}, {name: pFormat}}
	for _, d := range spec.Dims {
		ps = append(ps, paramSpec{name: d, multi: true})
	}
	return ps
}

// parseFact reads dims=, measures= and the dimension filters of spec.
func parseFact(q query, spec insight.FactSpec) (insight.FactQuery, error) {
	var fq insight.FactQuery
	dims, _, err := q.list(pDims)
	if err != nil {
		return fq, err
	}
	if len(dims) > insight.MaxDims {
		return fq, badParam(pDims, "%d dimensions, at most %d", len(dims), insight.MaxDims)
	}
	for i, d := range dims {
		if !slices.Contains(spec.Dims, d) {
			return fq, badParam(pDims, "unknown dimension %s (allowed: %s)", quote(d), strings.Join(spec.Dims, ", "))
		}
		if slices.Index(dims, d) != i {
			return fq, badParam(pDims, "dimension %s given twice", quote(d))
		}
	}
	measures, _, err := q.list(pMeasures)
	if err != nil {
		return fq, err
	}
	for i, m := range measures {
		if _, ok := spec.MeasureByName(m); !ok {
			var names []string
			for _, x := range spec.Measures {
				names = append(names, x.Name)
			}
			return fq, badParam(pMeasures, "unknown measure %s (allowed: %s)", quote(m), strings.Join(names, ", "))
		}
		if slices.Index(measures, m) != i {
			return fq, badParam(pMeasures, "measure %s given twice", quote(m))
		}
	}
	fq.Dims, fq.Measures = dims, measures
	for _, d := range spec.Dims {
		vals, ok, err := q.list(d)
		if err != nil {
			return fq, err
		}
		if !ok {
			continue
		}
		for _, v := range vals {
			switch closed := factClosed[d]; {
			case d == "month" && !factMonthRE.MatchString(v):
				return fq, badParam(d, "%s is not a month (YYYY-MM)", quote(v))
			case closed != nil && !slices.Contains(closed, v):
				return fq, badParam(d, "unknown value %s (allowed: %s)", quote(v), strings.Join(closed, ", "))
			}
		}
		if fq.Filter == nil {
			fq.Filter = map[string][]string{}
		}
		fq.Filter[d] = vals
	}
	return fq, nil
}

// factCube answers a stored cube of spec.
func (s *Server) factCube(r *request, spec insight.FactSpec) error {
	fq, err := parseFact(r.q, spec)
	if err != nil {
		return err
	}
	csvOut, err := wantsCSV(r.q, r.hr.Header)
	if err != nil {
		return err
	}
	fs, ok := s.src.(FactSources)
	if !ok {
		return errNoSources
	}
	f, snap, err := fs.Fact(r.ctx, spec)
	if err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "could not read " + lake.Namespace + "." + spec.Name, Err: err}
	}
	c, err := insight.ComputeFact(f, fq)
	if errors.Is(err, insight.ErrTooManyCells) {
		return badParam(pDims, "the cube has more than %d cells; use fewer dimensions or narrow the filter", insight.DefaultMaxCells)
	}
	if err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "could not compute the cube", Err: err}
	}
	if csvOut {
		body, err := cubeCSV(c)
		if err != nil {
			return HTTPError{Code: http.StatusInternalServerError, Msg: "internal error", Err: fmt.Errorf("encode cube csv: %w", err)}
		}
		if len(body) > s.cfg.MaxBodyBytes {
			return HTTPError{Code: http.StatusRequestEntityTooLarge, Msg: "the cube is larger than the API returns; use fewer dimensions"}
		}
		h := headers(ctCSV)
		h["Content-Disposition"] = fmt.Sprintf(`attachment; filename="%s-%d.csv"`, spec.Name, snap)
		r.write(http.StatusOK, h, body)
		return nil
	}
	name, _ := json.Marshal(lake.Namespace + "." + spec.Name)
	head := `"table":` + string(name) + `,"snapshot":` + strconv.FormatInt(snap, 10)
	return s.respond(r, http.StatusOK, ctJSON, cubeJSONAs(head, "rows", c))
}

// factCache holds the stored cube tables read, by table and the metadata
// file of the snapshot they were read at (unique to a table version).
var factCache struct {
	sync.Mutex
	m map[string]cachedFact
}

type cachedFact struct {
	metadata string
	snap     int64
	fact     *insight.Fact
}

// Fact reads the cube table of spec (lake.UsageCubeTable or
// lake.CubeMonthlyTable) at its current snapshot, from memory when that
// snapshot was read before.
func (ls LakeSources) Fact(ctx context.Context, spec insight.FactSpec) (*insight.Fact, int64, error) {
	var def lake.TableDef
	switch spec.Name {
	case lake.UsageCubeTable.Name:
		def = lake.UsageCubeTable
	case lake.CubeMonthlyTable.Name:
		def = lake.CubeMonthlyTable
	default:
		return nil, 0, fmt.Errorf("api: no stored cube %s", spec.Name)
	}
	tbl, err := ls.Tables.LoadTable(ctx, def.Ident())
	if err != nil {
		return nil, 0, fmt.Errorf("load %s.%s: %w", lake.Namespace, def.Name, err)
	}
	cur := tbl.CurrentSnapshot()
	if cur == nil {
		return insight.NewFact(spec), 0, nil
	}
	key := strings.Join(tbl.Identifier(), ".") + " " + tbl.MetadataLocation()
	factCache.Lock()
	c, ok := factCache.m[def.Name]
	factCache.Unlock()
	if ok && c.metadata == key {
		return c.fact, c.snap, nil
	}
	f, err := readFact(ctx, tbl, spec)
	if err != nil {
		return nil, 0, err
	}
	factCache.Lock()
	if factCache.m == nil {
		factCache.m = map[string]cachedFact{}
	}
	factCache.m[def.Name] = cachedFact{metadata: key, snap: cur.SnapshotID, fact: f}
	factCache.Unlock()
	return f, cur.SnapshotID, nil
}

// readFact scans a cube table into a Fact: months as YYYY-MM, hours as
// two digits, money in currency units.
func readFact(ctx context.Context, tbl *table.Table, spec insight.FactSpec) (*insight.Fact, error) {
	f := insight.NewFact(spec)
	dims := make([]string, len(spec.Dims))
	nums := make([]float64, len(spec.Columns))
	zeroNaN := func(v float64) float64 {
		if math.IsNaN(v) {
			return 0
		}
		return v
	}
	for b, err := range lake.ScanTable(ctx, tbl, spec.Name) {
		if err != nil {
			return nil, err
		}
		var month lake.Dates
		var hour lake.Int32s
		strs := make([]lake.Strings, len(spec.Dims))
		for i, d := range spec.Dims {
			switch d {
			case "month":
				month = b.Date("month")
			case "hour":
				hour = b.Int32("hour")
			default:
				strs[i] = b.String(d)
			}
		}
		cols := make([]lake.Numbers, len(spec.Columns)) // null reads as 0
		for j, c := range spec.Columns {
			cols[j] = b.Number(c)
		}
		var grouping lake.Numbers
		if len(spec.Rollable) > 0 {
			grouping = b.Number("grouping")
		}
		if err := b.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", spec.Name, err)
		}
		for r := range b.Len() {
			for i, d := range spec.Dims {
				switch d {
				case "month":
					dims[i] = ""
					if !month.IsNull(r) {
						dims[i] = month.Time(r).Format("2006-01")
					}
				case "hour":
					dims[i] = ""
					if !hour.IsNull(r) {
						dims[i] = fmt.Sprintf("%02d", hour.Value(r))
					}
				default:
					dims[i] = strs[i].Value(r)
				}
			}
			for j := range spec.Columns {
				nums[j] = zeroNaN(cols[j].Value(r))
			}
			var g uint8
			if len(spec.Rollable) > 0 {
				g = uint8(zeroNaN(grouping.Value(r)))
			}
			if err := f.Append(dims, g, nums); err != nil {
				return nil, fmt.Errorf("read %s: %w", spec.Name, err)
			}
		}
	}
	return f, nil
}
