package features

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

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

var registerColumns = []string{"export_date", "subscriber_id", "gender", "birth_date", "income_band", "region",
	"plan", "activation_date", "status", "status_date", "payment_method", "credit_limit"}

// LoadRegister reads every snapshot of crm.subscribers.
func LoadRegister(ctx context.Context, tables lake.TableLoader) (*Register, error) {
	return loadRegister(ctx, tables, all)
}

// loadRegister reads every snapshot of crm.subscribers, keeping the
// subscribers of subset keep.
func loadRegister(ctx context.Context, tables lake.TableLoader, keep subset) (*Register, error) {
	tbl, err := tables.LoadTable(ctx, lake.SubscribersTable.Ident())
	if err != nil {
		return nil, fmt.Errorf("features: load subscribers: %w", err)
	}
	_, recs, err := tbl.Scan(tableSelect(registerColumns)...).ToArrowRecords(ctx)
	if err != nil {
		return nil, fmt.Errorf("features: scan subscribers: %w", err)
	}
	reg := &Register{Deactivated: map[string]int32{}}
	byDate := map[int32]*snapshot{}
	for rec, err := range recs {
		if err != nil {
			return nil, fmt.Errorf("features: scan subscribers: %w", err)
		}
		err = reg.add(rec, byDate, keep)
		rec.Release()
		if err != nil {
			return nil, err
		}
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

func (reg *Register) add(rec arrow.RecordBatch, byDate map[int32]*snapshot, keep subset) error {
	var errs error
	must := func(c strCol, err error) strCol {
		if err != nil && errs == nil {
			errs = err
		}
		return c
	}
	ids := must(strColumn(rec, "subscriber_id"))
	gender := must(strColumn(rec, "gender"))
	income := must(strColumn(rec, "income_band"))
	region := must(strColumn(rec, "region"))
	plan := must(strColumn(rec, "plan"))
	status := must(strColumn(rec, "status"))
	payment := must(strColumn(rec, "payment_method"))
	dates := map[string]*array.Date32{}
	for _, n := range []string{"export_date", "birth_date", "activation_date", "status_date"} {
		c, err := typedColumn[*array.Date32](rec, n)
		if err != nil {
			return err
		}
		dates[n] = c
	}
	credit, err := decimalUnits(rec, "credit_limit", 2)
	if err != nil {
		return err
	}
	if errs != nil {
		return errs
	}
	str := func(c strCol, i int) string {
		if c.IsNull(i) {
			return ""
		}
		return strings.Clone(c.Value(i))
	}
	for i := range int(rec.NumRows()) {
		if !keep.has(ids.Value(i)) {
			continue
		}
		d := int32(dates["export_date"].Value(i))
		s := byDate[d]
		if s == nil {
			s = &snapshot{date: d, rows: map[string]*profile{}}
			byDate[d] = s
		}
		p := &profile{
			gender: str(gender, i), income: str(income, i), region: str(region, i), plan: str(plan, i),
			status: str(status, i), payment: str(payment, i),
			activation: int32(dates["activation_date"].Value(i)), statusDate: int32(dates["status_date"].Value(i)),
			creditLimit: -1,
		}
		if b := dates["birth_date"]; !b.IsNull(i) {
			p.birth, p.hasBirth = int32(b.Value(i)), true
		}
		if v, ok := credit(i); ok {
			p.creditLimit = v
		}
		s.rows[strings.Clone(ids.Value(i))] = p
	}
	return nil
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
