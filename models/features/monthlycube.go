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

// BuildMonthlyCube computes the monthly cube of the feature months from
// … to and replaces those months of crm.cube_monthly in one commit. The
// feature rows are read a month at a time and a scan batch at a time
// (Stream), so memory holds one batch, the month's cells and the cells
// of the customers who leave the next month, whatever the size of the
// base. segments gives a batch's segment ids (nil: unknown). A customer
// who was a customer at the end of month m−1 and was deactivated during
// m is churned in m, in the cell of their m−1 row; the first month
// therefore counts no churned customers.
func BuildMonthlyCube(ctx context.Context, tables lake.TableLoader, reg *Outcomes, from, to time.Time, segments func(*Set) ([]int, error), built time.Time) (MonthlyCubeResult, error) {
	var res MonthlyCubeResult
	rb, err := lake.NewRowBuilder(lake.CubeMonthlyTable, 0)
	if err != nil {
		return res, err
	}
	defer rb.Release()
	var months []time.Time
	var leaving map[monthlyKey]int64 // cells of last month's customers who leave in m
	for m := MonthStart(from); !m.After(MonthStart(to)); m = m.AddDate(0, 1, 0) {
		first, end := epochDay(m), epochDay(m.AddDate(0, 1, -1))
		nextFirst, nextEnd := epochDay(m.AddDate(0, 1, 0)), epochDay(m.AddDate(0, 2, -1))
		cells := map[monthlyKey]*monthlySums{}
		cell := func(k monthlyKey) *monthlySums {
			s := cells[k]
			if s == nil {
				s = &monthlySums{}
				cells[k] = s
			}
			return s
		}
		rows := 0
		next := map[monthlyKey]int64{}
		err := Stream(ctx, tables, m, m, nil, func(set *Set) error {
			c, err := newCubeColumns(set)
			if err != nil {
				return err
			}
			var segs []int
			if segments != nil {
				if segs, err = segments(set); err != nil {
					return fmt.Errorf("features: monthly cube: %w", err)
				}
				if len(segs) != set.Rows() {
					return fmt.Errorf("features: monthly cube: %d segment ids for %d rows", len(segs), set.Rows())
				}
			}
			rows += set.Rows()
			for i, id := range set.IDs {
				gender, activation, ok := reg.at(id, end)
				k := c.key(i, segs, gender, ok)
				s := cell(k)
				s.subscribers++
				if ok && activation >= first && activation <= end {
					s.new++
				}
				if v := c.value[i]; !math.IsNaN(v) {
					s.revenue += int64(math.Round(v * 100))
				}
				if v := c.minutes[i]; !math.IsNaN(v) {
					s.minutes += v
				}
				if v := c.dataMB[i]; !math.IsNaN(v) {
					s.dataMB += v
				}
				if d, gone := reg.Deactivated[id]; gone && d >= nextFirst && d <= nextEnd {
					next[k]++
				}
			}
			return nil
		})
		if err != nil {
			return res, err
		}
		if rows == 0 {
			leaving = nil
			continue
		}
		months = append(months, m)
		for k, n := range leaving {
			cell(k).churned += n
		}
		leaving = next
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
	if len(months) == 0 {
		return res, nil
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

// cubeColumns are the columns of a batch the monthly cube reads.
type cubeColumns struct {
	plan, region, age, status      []string
	tenure, minutes, dataMB, value []float64
}

func newCubeColumns(set *Set) (*cubeColumns, error) {
	cat := func(n string) ([]string, error) {
		c := set.Col(n)
		if c == nil {
			return nil, fmt.Errorf("features: monthly cube: column %s missing", n)
		}
		return c.Cat, nil
	}
	num := func(n string) ([]float64, error) {
		c := set.Col(n)
		if c == nil {
			return nil, fmt.Errorf("features: monthly cube: column %s missing", n)
		}
		return c.Num, nil
	}
	var c cubeColumns
	var err error
	for _, f := range []struct {
		name string
		to   *[]string
	}{{"plan", &c.plan}, {"region", &c.region}, {"age_band", &c.age}, {"status", &c.status}} {
		if *f.to, err = cat(f.name); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		name string
		to   *[]float64
	}{{"tenure_months", &c.tenure}, {"voice_minutes", &c.minutes}, {"data_mb", &c.dataMB}, {ValueColumn, &c.value}} {
		if *f.to, err = num(f.name); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

// key is row i's cell; gender is the register's (known: ok).
func (c *cubeColumns) key(i int, segs []int, gender string, ok bool) monthlyKey {
	k := monthlyKey{region: orUnknown(c.region[i]), plan: orUnknown(c.plan[i]), segment: unknownValue,
		lifecycle: Lifecycle(c.status[i], int32(c.tenure[i])), ageBand: orUnknown(c.age[i]), gender: unknownValue}
	if segs != nil {
		k.segment = strconv.Itoa(segs[i])
	}
	if ok {
		k.gender = orUnknown(gender)
	}
	return k
}
