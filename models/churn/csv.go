package churn

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/telcolake/telcolake/models/dataset"
)

// LoadCSV reads any churn table with a header row into a frame: target
// names the label column (yes/no, true/false, 1/0, y/n, any case, a
// trailing dot allowed as in "False."). Rows whose target is blank or not
// one of those are skipped. A column whose values (blanks aside) are at
// least 90% numbers is numeric, the rest becoming NaN; other columns are
// categorical. A text column with a different value on every row is an
// identifier: it is not a feature, and the first one fills the frame's IDs.
// Notices say what was skipped, ignored or treated as missing.
func LoadCSV(r io.Reader, target string) (*dataset.Frame, []string, error) {
	return loadCSV(r, target, nil)
}

// LoadCSVLike reads a table to score with a model trained on like (the
// frame LoadCSV returned for the training file): each of like's columns is
// read with its kind there (numeric stays numeric), columns like does not
// have are ignored, and a column like has but the file lacks is reported in
// a notice (the model's Predict then fails naming it).
func LoadCSVLike(r io.Reader, target string, like *dataset.Frame) (*dataset.Frame, []string, error) {
	if like == nil {
		return nil, nil, fmt.Errorf("churn: csv: no training frame to read like")
	}
	return loadCSV(r, target, like)
}

// numericShare is the share of non-blank values that must parse as numbers
// for a column to be numeric.
const numericShare = 0.9

// minIDRows is the fewest rows for which an all-distinct text column is
// taken for an identifier rather than a category.
const minIDRows = 10

func loadCSV(r io.Reader, target string, like *dataset.Frame) (*dataset.Frame, []string, error) {
	header, records, notices, err := readTable(r)
	if err != nil {
		return nil, nil, err
	}
	ti := findColumn(header, target)
	if ti < 0 {
		return nil, nil, fmt.Errorf("churn: csv: target column %q not in the header (columns: %s)", target, strings.Join(header, ", "))
	}

	// Label; rows with an unusable target are dropped.
	var labels []bool
	var keep [][]string
	var blank, unknown int
	example := ""
	for _, rec := range records {
		v := strings.TrimSpace(rec[ti])
		if isBlank(v) {
			blank++
			continue
		}
		l, ok := parseTarget(v)
		if !ok {
			if unknown == 0 {
				example = v
			}
			unknown++
			continue
		}
		labels = append(labels, l)
		keep = append(keep, rec)
	}
	if blank > 0 {
		notices = append(notices, fmt.Sprintf("%s: %d rows skipped: blank target", header[ti], blank))
	}
	if unknown > 0 {
		notices = append(notices, fmt.Sprintf("%s: %d rows skipped: target %q (and any other value not yes/no, true/false, 1/0, y/n)", header[ti], unknown, example))
	}
	if len(keep) == 0 {
		return nil, notices, fmt.Errorf("churn: csv: no row has a usable %s value", header[ti])
	}

	f := &dataset.Frame{Label: labels}
	n := len(keep)
	if like != nil {
		byName := make(map[string]int, len(header))
		for j, h := range header {
			byName[h] = j
		}
		used := map[int]bool{ti: true}
		for _, lc := range like.Cols {
			j, ok := byName[lc.Name]
			if !ok {
				notices = append(notices, fmt.Sprintf("%s: column of the training file missing", lc.Name))
				continue
			}
			used[j] = true
			c := &dataset.Column{Name: lc.Name, Kind: lc.Kind, High: lc.High, Low: lc.Low, Unit: lc.Unit, Behaviour: lc.Behaviour}
			if lc.Kind == dataset.Numeric {
				var bad int
				c.Num, bad = parseNumbers(keep, j)
				if bad > 0 {
					notices = append(notices, fmt.Sprintf("%s: %d values not numbers, treated as missing", lc.Name, bad))
				}
			} else {
				c.Cat = texts(keep, j)
			}
			f.Cols = append(f.Cols, c)
		}
		for j, h := range header {
			if !used[j] {
				notices = append(notices, fmt.Sprintf("%s: not a column of the training file, ignored", h))
			}
		}
		return f, notices, nil
	}

	for j, h := range header {
		if j == ti {
			continue
		}
		var nonBlank, numbers int
		distinct := map[string]struct{}{}
		for _, rec := range keep {
			v := strings.TrimSpace(rec[j])
			if isBlank(v) {
				continue
			}
			nonBlank++
			if _, ok := parseNumber(v); ok {
				numbers++
			}
			distinct[v] = struct{}{}
		}
		switch {
		case nonBlank == 0:
			notices = append(notices, fmt.Sprintf("%s: every value blank, ignored", h))
		case float64(numbers) >= numericShare*float64(nonBlank):
			c := &dataset.Column{Name: h, Kind: dataset.Numeric}
			var bad int
			c.Num, bad = parseNumbers(keep, j)
			if bad > 0 {
				notices = append(notices, fmt.Sprintf("%s: %d values not numbers, treated as missing", h, bad))
			}
			f.Cols = append(f.Cols, c)
		case len(distinct) == n && n >= minIDRows:
			if f.IDs == nil {
				f.IDs = texts(keep, j)
				notices = append(notices, fmt.Sprintf("%s: unique on every row, used as the identifier, not a feature", h))
			} else {
				notices = append(notices, fmt.Sprintf("%s: unique on every row, ignored as an identifier", h))
			}
		default:
			f.Cols = append(f.Cols, &dataset.Column{Name: h, Kind: dataset.Categorical, Cat: texts(keep, j)})
		}
	}
	if len(f.Cols) == 0 {
		return nil, notices, fmt.Errorf("churn: csv: no feature columns besides %s", header[ti])
	}
	return f, notices, nil
}

// readTable reads the header and the records; every record is padded or
// checked to the header's width (rows of another width are skipped with a
// notice). CRLF line ends and a UTF-8 byte-order mark are accepted.
func readTable(r io.Reader) (header []string, records [][]string, notices []string, err error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("churn: csv: %w", err)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	header, err = cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, nil, fmt.Errorf("churn: csv: empty file, no header")
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("churn: csv: header: %w", err)
	}
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if h == "" {
			h = fmt.Sprintf("column %d", i+1)
		}
		if seen[h] {
			return nil, nil, nil, fmt.Errorf("churn: csv: column %q appears twice in the header", h)
		}
		seen[h] = true
		header[i] = h
	}
	var ragged, firstRagged int
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("churn: csv: %w", err)
		}
		if len(rec) != len(header) {
			if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
				continue // a line of spaces
			}
			if ragged == 0 {
				firstRagged, _ = cr.FieldPos(0)
			}
			ragged++
			continue
		}
		records = append(records, rec)
	}
	if ragged > 0 {
		notices = append(notices, fmt.Sprintf("%d rows skipped: not %d fields (first on line %d)", ragged, len(header), firstRagged))
	}
	return header, records, notices, nil
}

// findColumn returns the index of name in header: an exact match, else the
// only case-insensitive one; -1 when there is none.
func findColumn(header []string, name string) int {
	name = strings.TrimSpace(name)
	for i, h := range header {
		if h == name {
			return i
		}
	}
	at := -1
	for i, h := range header {
		if strings.EqualFold(h, name) {
			if at >= 0 {
				return -1
			}
			at = i
		}
	}
	return at
}

// isBlank reports whether a trimmed value means "no value".
func isBlank(v string) bool {
	switch strings.ToLower(v) {
	case "", "na", "n/a", "nan", "null", "none", "?", "-":
		return true
	}
	return false
}

// parseTarget reads a churn label.
func parseTarget(v string) (bool, bool) {
	v = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(v)), ".")
	switch v {
	case "yes", "y", "true", "t", "1", "1.0", "churn", "churned":
		return true, true
	case "no", "n", "false", "f", "0", "0.0":
		return false, true
	}
	return false, false
}

// parseNumber reads a trimmed, non-blank number.
func parseNumber(v string) (float64, bool) {
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		return 0, false
	}
	return x, true
}

// parseNumbers reads column j; blanks and values that are not numbers are
// NaN, and the latter are counted.
func parseNumbers(records [][]string, j int) ([]float64, int) {
	out := make([]float64, len(records))
	bad := 0
	for i, rec := range records {
		v := strings.TrimSpace(rec[j])
		if isBlank(v) {
			out[i] = math.NaN()
			continue
		}
		x, ok := parseNumber(v)
		if !ok {
			bad++
			x = math.NaN()
		}
		out[i] = x
	}
	return out, bad
}

// texts reads column j as categories; blanks are "".
func texts(records [][]string, j int) []string {
	out := make([]string, len(records))
	for i, rec := range records {
		if v := strings.TrimSpace(rec[j]); !isBlank(v) {
			out[i] = v
		}
	}
	return out
}
