package features

import (
	"context"
	"fmt"
	"math"

	"github.com/telcolake/telcolake/lake"
)

// Register is what the subscriber register's snapshots say about every
// subscriber: the snapshots in date order, and when (if ever) each
// subscriber was first seen deactivated.
type Register struct {
	snaps []snapshot
	// Deactivated maps subscriber id → deactivation date (days since the
	// epoch) from the first snapshot that shows the subscriber deactivated.
	Deactivated map[string]int32
	// LastExport is the date of the newest snapshot (days since the epoch),
	// up to which deactivations are known.
	LastExport int32
}

type snapshot struct {
	date int32
	rows map[string]*profile
}

// profile is one subscriber's row of one snapshot.
type profile struct {
	gender, income, region, plan, status, payment string
	birth, activation, statusDate                 int32 // days; birth 0 with hasBirth false
	hasBirth                                      bool
	creditLimit                                   int64 // cents; -1 none
}

// LoadRegister reads every snapshot of crm.subscribers.
func LoadRegister(ctx context.Context, tables lake.TableLoader) (*Register, error) {
	return loadRegister(ctx, tables, all)
}

// loadRegister reads every snapshot of crm.subscribers
// (lake.ScanSubscribers, without the personal columns), keeping the
// subscribers of subset keep.
func loadRegister(ctx context.Context, tables lake.TableLoader, keep subset) (*Register, error) {
	reg := &Register{Deactivated: map[string]int32{}}
	byDate := map[int32]*snapshot{}
	_, err := lake.ScanSubscribers(ctx, tables, lake.SubscriberScan{Keep: keep.has}, func(r *lake.SubscriberRow) error {
		s := byDate[r.ExportDate]
		if s == nil {
			s = &snapshot{date: r.ExportDate, rows: map[string]*profile{}}
			byDate[r.ExportDate] = s
		}
		s.rows[r.ID] = &profile{
			gender: r.Gender, income: r.IncomeBand, region: r.Region, plan: r.Plan, status: r.Status, payment: r.Payment,
			birth: r.BirthDate, hasBirth: r.HasBirth, activation: r.Activation, statusDate: r.StatusDate,
			creditLimit: r.CreditLimit,
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	for _, s := range byDate {
		reg.snaps = append(reg.snaps, *s)
	}
	sortSnaps(reg.snaps)
	for _, s := range reg.snaps {
		reg.LastExport = s.date
		for id, p := range s.rows {
			if p.status != "deactivated" {
				continue
			}
			if _, seen := reg.Deactivated[id]; !seen {
				reg.Deactivated[id] = p.statusDate
			}
		}
	}
	return reg, nil
}

func sortSnaps(s []snapshot) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].date < s[j-1].date; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// asOf returns each subscriber's profile as of day end: from the newest
// snapshot on or before end, or, for subscribers not in it, the oldest
// snapshot after end that lists them (a register export can be late).
func (reg *Register) asOf(end int32) map[string]*profile {
	out := map[string]*profile{}
	for i := len(reg.snaps) - 1; i >= 0; i-- {
		if reg.snaps[i].date <= end {
			for id, p := range reg.snaps[i].rows {
				out[id] = p
			}
			break
		}
	}
	for _, s := range reg.snaps {
		if s.date <= end {
			continue
		}
		for id, p := range s.rows {
			if _, ok := out[id]; !ok {
				out[id] = p
			}
		}
	}
	return out
}

// ageBand of someone born on birth, at day.
func ageBand(birth, day int32) string {
	b, d := dayTime(birth), dayTime(day)
	age := d.Year() - b.Year()
	if d.YearDay() < b.YearDay() {
		age--
	}
	switch {
	case age < 18:
		return "<18"
	case age < 25:
		return "18-24"
	case age < 35:
		return "25-34"
	case age < 45:
		return "35-44"
	case age < 55:
		return "45-54"
	case age < 65:
		return "55-64"
	}
	return "65+"
}

// wholeMonths between two days (b ≥ a): calendar months, minus one if the
// day of month of b is before a's.
func wholeMonths(a, b int32) int32 {
	ta, tb := dayTime(a), dayTime(b)
	m := int32(tb.Year()-ta.Year())*12 + int32(tb.Month()-ta.Month())
	if tb.Day() < ta.Day() {
		m--
	}
	return int32(math.Max(0, float64(m)))
}
