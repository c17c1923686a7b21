package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/telcolake/telcolake/insight"
)

// GET /v1/cube: the data cube over customers (insight.Compute) of the
// customers the filter's conditions select, exactly as GET /v1/customers
// selects them. The answer is aggregates only. Cells are not suppressed
// below a minimum count: the roles allowed (analyst, admin) may list the
// same customers through /v1/customers, and suppression would make the
// subtotals no longer add up.

// The cube's own parameters.
const (
	pDims     = "dims"
	pMeasures = "measures"
)

// rolledUp is the CSV cell of a rolled-up dimension (null in JSON).
const rolledUp = "(all)"

func cubeParams() []paramSpec {
	return append(conditionParams(), paramSpec{name: pDims, multi: true}, paramSpec{name: pMeasures, multi: true}, paramSpec{name: pFormat})
}

// parseCube reads dims= and measures=: known names, no repeats, at most
// insight.MaxDims dimensions.
func parseCube(q query) (dims, measures []string, err error) {
	dims, _, err = q.list(pDims)
	if err != nil {
		return nil, nil, err
	}
	if len(dims) > insight.MaxDims {
		return nil, nil, badParam(pDims, "%d dimensions, at most %d", len(dims), insight.MaxDims)
	}
	for i, d := range dims {
		if _, ok := insight.DimensionByName(d); !ok {
			var names []string
			for _, x := range insight.Dimensions {
				names = append(names, x.Name)
			}
			return nil, nil, badParam(pDims, "unknown dimension %s (allowed: %s)", quote(d), strings.Join(names, ", "))
		}
		if slices.Index(dims, d) != i {
			return nil, nil, badParam(pDims, "dimension %s given twice", quote(d))
		}
	}
	measures, _, err = q.list(pMeasures)
	if err != nil {
		return nil, nil, err
	}
	for i, m := range measures {
		if _, ok := insight.MeasureByName(m); !ok {
			var names []string
			for _, x := range insight.Measures {
				names = append(names, x.Name)
			}
			return nil, nil, badParam(pMeasures, "unknown measure %s (allowed: %s)", quote(m), strings.Join(names, ", "))
		}
		if slices.Index(measures, m) != i {
			return nil, nil, badParam(pMeasures, "measure %s given twice", quote(m))
		}
	}
	return dims, measures, nil
}

// wantsCSV reports whether the answer is CSV: format=csv, or without
// format= an Accept header that names text/csv.
func wantsCSV(q query, h http.Header) (bool, error) {
	format, ok, err := q.one(pFormat)
	if err != nil {
		return false, err
	}
	if ok {
		if format != "json" && format != "csv" {
			return false, badParam(pFormat, "must be json or csv")
		}
		return format == "csv", nil
	}
	for _, v := range h.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/csv" {
				return true, nil
			}
		}
	}
	return false, nil
}

func (s *Server) cube(r *request) error {
	dims, measures, err := parseCube(r.q)
	if err != nil {
		return err
	}
	csvOut, err := wantsCSV(r.q, r.hr.Header)
	if err != nil {
		return err
	}
	sel, buf, err := s.selectRows(r)
	if err != nil {
		return err
	}
	defer s.ix.release(buf)
	c, err := insight.Compute(s.snap, insight.Query{Dims: dims, Measures: measures, Rows: sel})
	if err != nil {
		return cubeError(err)
	}
	return s.writeCube(r, c, csvOut)
}

// writeCube answers a computed cube as JSON or CSV.
func (s *Server) writeCube(r *request, c *insight.Cube, csvOut bool) error {
	if csvOut {
		body, err := cubeCSV(c)
		if err != nil {
			return HTTPError{Code: http.StatusInternalServerError, Msg: "internal error", Err: fmt.Errorf("encode cube csv: %w", err)}
		}
		if len(body) > s.cfg.MaxBodyBytes {
			return HTTPError{Code: http.StatusRequestEntityTooLarge, Msg: "the cube is larger than the API returns; use fewer dimensions"}
		}
		h := headers(ctCSV)
		h["Content-Disposition"] = fmt.Sprintf(`attachment; filename="cube-%s.csv"`, fileSafe(s.meta.Run))
		r.write(http.StatusOK, h, body)
		return nil
	}
	return s.respond(r, http.StatusOK, ctJSON, cubeJSON(s.meta.Run, c))
}

// cubeJSON encodes a cube: its dims and measures, the customers counted,
// and one object per cell with the dimensions' values (null: rolled up),
// grouping (bit i set: dims[i] rolled up, SQL's GROUPING_ID with dims[0]
// as bit 0) and the measures (null for a mean of no customers).
func cubeJSON(run string, c *insight.Cube) []byte {
	v, _ := json.Marshal(run)
	return cubeJSONAs(`"run":`+string(v), "customers", c)
}

// cubeJSONAs encodes a cube after the fields of head (JSON members),
// naming its Rows rowsName.
func cubeJSONAs(head, rowsName string, c *insight.Cube) []byte {
	var b bytes.Buffer
	b.Grow(64 + len(c.Cells)*(16+16*(len(c.Dims)+len(c.Measures))))
	str := func(s string) {
		if jsonPlain(s) { // what json.Marshal would write, without its allocation
			b.WriteByte('"')
			b.WriteString(s)
			b.WriteByte('"')
			return
		}
		v, _ := json.Marshal(s)
		b.Write(v)
	}
	list := func(ss []string) {
		b.WriteByte('[')
		for i, s := range ss {
			if i > 0 {
				b.WriteByte(',')
			}
			str(s)
		}
		b.WriteByte(']')
	}
	b.WriteString("{" + head + `,"dims":`)
	list(c.Dims)
	b.WriteString(`,"measures":`)
	list(c.Measures)
	b.WriteString(`,"` + rowsName + `":` + strconv.Itoa(c.Rows) + `,"cells":[`)
	for k := range c.Cells {
		cell := &c.Cells[k]
		if k > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		for i, d := range c.Dims {
			str(d)
			b.WriteByte(':')
			if cell.IsRolled(i) {
				b.WriteString("null")
			} else {
				str(cell.Keys[i])
			}
			b.WriteByte(',')
		}
		b.WriteString(`"grouping":` + strconv.Itoa(int(cell.Rolled)))
		for j, m := range c.Measures {
			b.WriteByte(',')
			str(m)
			b.WriteByte(':')
			b.WriteString(cubeNum(cell.Values[j], "null"))
		}
		b.WriteByte('}')
	}
	b.WriteString("]}")
	return b.Bytes()
}

// jsonPlain reports whether s is printable ASCII that json.Marshal writes
// as is between quotes (no quote, backslash, or the <, >, & it escapes).
func jsonPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

func cubeNum(v float64, nan string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nan
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// cubeCSV writes a cube as CSV: the dims, grouping, the measures; a
// rolled-up dimension reads "(all)", a mean of no customers is empty.
func cubeCSV(c *insight.Cube) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(append(append(slices.Clone(c.Dims), "grouping"), c.Measures...))
	rec := make([]string, 0, len(c.Dims)+1+len(c.Measures))
	for k := range c.Cells {
		cell := &c.Cells[k]
		rec = rec[:0]
		for i := range c.Dims {
			v := rolledUp
			if !cell.IsRolled(i) {
				v = csvText(cell.Keys[i])
			}
			rec = append(rec, v)
		}
		rec = append(rec, strconv.Itoa(int(cell.Rolled)))
		for j := range c.Measures {
			rec = append(rec, cubeNum(cell.Values[j], ""))
		}
		w.Write(rec)
	}
	w.Flush()
	return b.Bytes(), w.Error()
}
