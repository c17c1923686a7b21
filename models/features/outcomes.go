package features

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/telcolake/telcolake/lake"
)

// Outcomes is what the training run reads of the register, kept
// compactly: when each subscriber was first seen deactivated (the churn
// label), the newest export, and per export each subscriber's gender
// and activation date (the monthly cube's "new" and gender). A Register
// holds a full profile per subscriber and export; Outcomes holds a dense
// index per subscriber and five bytes per subscriber and export.
type Outcomes struct {
	// Deactivated maps subscriber id → deactivation date (days since the
	// epoch) from the first export that shows the subscriber deactivated.
	Deactivated map[string]int32
	// LastExport is the newest export's date (days since the epoch).
	LastExport int32

	index   map[string]int32 // subscriber id → dense index
	genders []string         // gender code → gender; code 0 is ""
	snaps   []outcomeSnap    // in date order
}

type outcomeSnap struct {
	date       int32
	gender     []uint8 // by dense index; absentGender: not in this export
	activation []int32
}

const absentGender = 0xFF

// LoadOutcomes reads the register's exports into Outcomes, reading only
// the columns it keeps.
func LoadOutcomes(ctx context.Context, tables lake.TableLoader) (*Outcomes, error) {
	o := &Outcomes{Deactivated: map[string]int32{}, index: map[string]int32{}, genders: []string{""}}
	type gone struct{ export, date int32 }
	first := map[string]gone{}
	byDate := map[int32]*outcomeSnap{}
	genderCode := map[string]uint8{"": 0}
	cols := lake.Select("export_date", "subscriber_id", "gender", "activation_date", "status", "status_date")
	for b, err := range lake.Scan(ctx, tables, lake.SubscribersTable, cols) {
		if err != nil {
			return nil, fmt.Errorf("features: register outcomes: %w", err)
		}
		export, ids, gender := b.Date("export_date"), b.String("subscriber_id"), b.String("gender")
		act, status, sd := b.Date("activation_date"), b.String("status"), b.Date("status_date")
		if err := b.Err(); err != nil {
			return nil, fmt.Errorf("features: register outcomes: %w", err)
		}
		for i := range b.Len() {
			d := export.Value(i)
			s := byDate[d]
			if s == nil {
				s = &outcomeSnap{date: d}
				byDate[d] = s
			}
			id := ids.Value(i)
			k, ok := o.index[id]
			if !ok {
				id = strings.Clone(id)
				k = int32(len(o.index))
				o.index[id] = k
			}
			for int(k) >= len(s.gender) {
				s.gender = append(s.gender, absentGender)
				s.activation = append(s.activation, 0)
			}
			g := ""
			if !gender.IsNull(i) {
				g = gender.Value(i)
			}
			code, ok := genderCode[g]
			if !ok {
				if len(o.genders) >= absentGender {
					return nil, fmt.Errorf("features: register outcomes: more than %d genders", absentGender-1)
				}
				code = uint8(len(o.genders))
				g = strings.Clone(g)
				genderCode[g] = code
				o.genders = append(o.genders, g)
			}
			s.gender[k], s.activation[k] = code, act.Value(i)
			if !status.IsNull(i) && status.Value(i) == "deactivated" {
				if f, seen := first[id]; !seen || d < f.export {
					first[strings.Clone(id)] = gone{export: d, date: sd.Value(i)}
				}
			}
		}
	}
	for id, g := range first {
		o.Deactivated[id] = g.date
	}
	for _, s := range byDate {
		o.snaps = append(o.snaps, *s)
		o.LastExport = max(o.LastExport, s.date)
	}
	for i := 1; i < len(o.snaps); i++ {
		for j := i; j > 0 && o.snaps[j].date < o.snaps[j-1].date; j-- {
			o.snaps[j], o.snaps[j-1] = o.snaps[j-1], o.snaps[j]
		}
	}
	return o, nil
}

// LastExportDate is the date of the register's newest export.
func (o *Outcomes) LastExportDate() time.Time { return dayTime(o.LastExport) }

// Label is a row's churn label: whether the subscriber was deactivated
// within horizon months after the end of month, and whether that is
// known yet (the newest export covers the whole horizon).
func (o *Outcomes) Label(id string, month time.Time, horizon int) (label, known bool) {
	return churnLabel(o.Deactivated, o.LastExport, id, month, horizon)
}

// Labels is Label for every row of set.
func (o *Outcomes) Labels(set *Set, horizon int) (label, known []bool) {
	return churnLabels(o.Deactivated, o.LastExport, set, horizon)
}

// at is a subscriber's gender and activation date as of day end, by the
// rule of Register.asOf: the newest export on or before end, or, for a
// subscriber not in it, the oldest later export that lists them.
func (o *Outcomes) at(id string, end int32) (gender string, activation int32, ok bool) {
	k, ok := o.index[id]
	if !ok {
		return "", 0, false
	}
	get := func(s *outcomeSnap) bool {
		if int(k) < len(s.gender) && s.gender[k] != absentGender {
			gender, activation = o.genders[s.gender[k]], s.activation[k]
			return true
		}
		return false
	}
	newest := -1
	for i := len(o.snaps) - 1; i >= 0; i-- {
		if o.snaps[i].date <= end {
			newest = i
			break
		}
	}
	if newest >= 0 && get(&o.snaps[newest]) {
		return gender, activation, true
	}
	for i := newest + 1; i < len(o.snaps); i++ {
		if get(&o.snaps[i]) {
			return gender, activation, true
		}
	}
	return "", 0, false
}
