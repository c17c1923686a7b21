package insight

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// SurvivalData is survival data read from a table: every subject, and the
// subjects of each group (by the values of a column, sorted) when grouped.
type SurvivalData struct {
	All    []Obs
	Names  []string // group values, sorted
	Groups [][]Obs  // Groups[i] has the value Names[i]
}

// MaxSurvivalRows bounds what ReadSurvival keeps (24 bytes a subject).
const MaxSurvivalRows = 20_000_000

// ReadSurvival reads a CSV table with a header row: the duration column
// (a number ≥ 0), the event column (true/false, yes/no, 1/0, any case;
// true: the event happened, false: censored) and, if by is not empty, the
// column whose values make the groups. Other columns are ignored; a bad
// value is an error naming its line and column.
func ReadSurvival(r *csv.Reader, duration, event, by string) (*SurvivalData, error) {
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("insight: read header: %w", err)
	}
	find := func(name string) (int, error) {
		for i, h := range head {
			if strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) == name {
				return i, nil
			}
		}
		return -1, fmt.Errorf("insight: no column %q in the header", name)
	}
	di, err := find(duration)
	if err != nil {
		return nil, err
	}
	ei, err := find(event)
	if err != nil {
		return nil, err
	}
	bi := -1
	if by != "" {
		if bi, err = find(by); err != nil {
			return nil, err
		}
	}
	d := &SurvivalData{}
	group := map[string][]Obs{}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("insight: line %d: %w", line, err)
		}
		if len(d.All) >= MaxSurvivalRows {
			return nil, fmt.Errorf("insight: more than %d rows", MaxSurvivalRows)
		}
		t, err := strconv.ParseFloat(strings.TrimSpace(rec[di]), 64)
		if err != nil || t < 0 || t != t || t > 1e300 {
			return nil, fmt.Errorf("insight: line %d: column %s: %q is not a duration ≥ 0", line, duration, rec[di])
		}
		ev, ok := parseEvent(rec[ei])
		if !ok {
			return nil, fmt.Errorf("insight: line %d: column %s: %q is not true/false, yes/no or 1/0", line, event, rec[ei])
		}
		o := Obs{Time: t, Event: ev}
		d.All = append(d.All, o)
		if bi >= 0 {
			g := strings.TrimSpace(rec[bi])
			group[g] = append(group[g], o)
		}
	}
	if len(d.All) == 0 {
		return nil, ErrNoData
	}
	for g := range group {
		d.Names = append(d.Names, g)
	}
	slices.Sort(d.Names)
	for _, g := range d.Names {
		d.Groups = append(d.Groups, group[g])
	}
	return d, nil
}

func parseEvent(s string) (event, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "1", "y", "t":
		return true, true
	case "false", "no", "0", "n", "f":
		return false, true
	}
	return false, false
}
