package features

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/lake"
)

// The monthly cube (crm.cube_monthly): customers per month by region,
// plan, segment, lifecycle stage, age band and gender, with the new and
// churned customers, revenue, minutes and data of each cell. It is built
// from the feature rows of every month and the register, by the training
// run once it has a segmentation to assign segments with.
//
// A customer is in one cell per month (their row of the month), so
// subscribers, new and the sums add up over every dimension but month;
// over months subscribers sums to subscriber-months, which the monthly
// cube endpoint reports as such (not as distinct customers).

// Lifecycle is the lifecycle stage of a customer at a month's end, by the
// register status and tenure (the rule scoring uses).
func Lifecycle(status string, tenureMonths int32) string {
	switch {
	case status == "deactivated":
		return "lost"
	case status == "suspended":
		return "suspended"
	case tenureMonths < 3:
		return "new"
	case tenureMonths < 24:
		return "established"
	}
	return "loyal"
}

// monthlyKey is one cell of the monthly cube within a month.
type monthlyKey struct {
	region, plan, segment, lifecycle, ageBand, gender string
}

type monthlySums struct {
	subscribers, new, churned int64
	revenue                   int64 // cents
	minutes, dataMB           float64
}

// MonthlyCubeResult says what BuildMonthlyCube wrote.
type MonthlyCubeResult struct {
	Months     int   `json:"months"`
	Rows       int   `json:"rows"`
	SnapshotID int64 `json:"snapshot_id"`
}

// BuildMonthlyCube computes the monthly cube of set's months from set (the
// feature rows) and segments (each row's segment id; nil: unknown) and
// replaces those months of crm.cube_monthly in one commit. A customer who
// was a customer at the end of month m−1 and was deactivated during m is
// churned in m, in the cell of their m−1 row; the first month of set
// therefore counts no churned customers.
func BuildMonthlyCube(ctx context.Context, tables lake.TableLoader, reg *Register, set *Set, segments []int, built time.Time) (MonthlyCubeResult, error) {
	var res MonthlyCubeResult
	if set.Rows() == 0 {
		return res, nil
	}
	if segments != nil && len(segments) != set.Rows() {
		return res, fmt.Errorf("features: monthly cube: %d segment ids for %d rows", len(segments), set.Rows())
	}
	cols := map[string]*[]string{}
	for _, n := range []string{"plan", "region", "age_band", "status"} {
		c := set.Col(n)
		if c == nil {
			return res, fmt.Errorf("features: monthly cube: column %s missing", n)
		}
		cols[n] = &c.Cat
	}
	num := map[string][]float64{}
	for _, n := range []string{"tenure_months", "voice_minutes", "data_mb", ValueColumn} {
		c := set.Col(n)
		if c == nil {
			return res, fmt.Errorf("features: monthly cube: column %s missing", n)
		}
		num[n] = c.Num
	}
	plan, region, age, status := *cols["plan"], *cols["region"], *cols["age_band"], *cols["status"]

	// Rows by month, and each month's register.
	byMonth := map[time.Time][]int{}
	var months []time.Time
	for i, m := range set.Months {
		if byMonth[m] == nil {
			months = append(months, m)
		}
		byMonth[m] = append(byMonth[m], i)
	}
	slices.SortFunc(months, func(a, b time.Time) int { return a.Compare(b) })
	key := func(i int, prof *profile) monthlyKey {
		k := monthlyKey{region: orUnknown(region[i]), plan: orUnknown(plan[i]), segment: unknownValue,
			lifecycle: Lifecycle(status[i], int32(num["tenure_months"][i])), ageBand: orUnknown(age[i]), gender: unknownValue}
		if segments != nil {
			k.segment = strconv.Itoa(segments[i])
		}
		if prof != nil {
			k.gender = orUnknown(prof.gender)
		}
		return k
	}
	rb, err := lake.NewRowBuilder(lake.CubeMonthlyTable, 0)
	if err != nil {
		return res, err
	}
	defer rb.Release()
	for mi, m := range months {
		first, end := epochDay(m), epochDay(m.AddDate(0, 1, -1))
		profs := reg.asOf(end)
		cells := map[monthlyKey]*monthlySums{}
		cell := func(k monthlyKey) *monthlySums {
			s := cells[k]
			if s == nil {
				s = &monthlySums{}
				cells[k] = s
			}
			return s
		}
		for _, i := range byMonth[m] {
			p := profs[set.IDs[i]]
			s := cell(key(i, p))
			s.subscribers++
			if p != nil && p.activation >= first && p.activation <= end {
				s.new++
			}
			if v := num[ValueColumn][i]; !math.IsNaN(v) {
				s.revenue += int64(math.Round(v * 100))
			}
			if v := num["voice_minutes"][i]; !math.IsNaN(v) {
				s.minutes += v
			}
			if v := num["data_mb"][i]; !math.IsNaN(v) {
				s.dataMB += v
			}
		}
		if mi > 0 && months[mi-1].Equal(m.AddDate(0, -1, 0)) {
			prevProfs := reg.asOf(first - 1)
			for _, i := range byMonth[months[mi-1]] {
				if d, gone := reg.Deactivated[set.IDs[i]]; gone && d >= first && d <= end {
					cell(key(i, prevProfs[set.IDs[i]])).churned++
				}
			}
		}
		keys := make([]monthlyKey, 0, len(cells))
		for k := range cells {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b monthlyKey) int {
			return slices.Compare([]string{a.region, a.plan, a.segment, a.lifecycle, a.ageBand, a.gender},
				[]string{b.region, b.plan, b.segment, b.lifecycle, b.ageBand, b.gender})
		})
		for _, k := range keys {
			s := cells[k]
			rb.Date("month", m)
			rb.String("region", k.region)
			rb.String("plan", k.plan)
			rb.String("segment", k.segment)
			rb.String("lifecycle", k.lifecycle)
			rb.String("age_band", k.ageBand)
			rb.String("gender", k.gender)
			rb.Int64("subscribers", s.subscribers)
			rb.Int64("new", s.new)
			rb.Int64("churned", s.churned)
			rb.Money("revenue", s.revenue)
			rb.Float("minutes", s.minutes)
			rb.Float("data_mb", s.dataMB)
			rb.Time("built_at", built)
			res.Rows++
		}
	}
	rec := rb.Record()
	defer rec.Release()
	replace := iceberg.NewAnd(
		iceberg.GreaterThanEqual(iceberg.Reference("month"), iceberg.Date(epochDay(months[0]))),
		iceberg.LessThanEqual(iceberg.Reference("month"), iceberg.Date(epochDay(months[len(months)-1]))))
	props := iceberg.Properties{"telcolake.cube_monthly.months": months[0].Format("2006-01") + "/" + months[len(months)-1].Format("2006-01")}
	snap, err := lake.ReplaceRows(ctx, tables, lake.CubeMonthlyTable, replace, []arrow.RecordBatch{rec}, props)
	if err != nil {
		return res, fmt.Errorf("features: write monthly cube: %w", err)
	}
	res.Months, res.SnapshotID = len(months), snap
	return res, nil
}
