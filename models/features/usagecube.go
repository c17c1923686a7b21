package features

import (
	"math/bits"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/telcolake/telcolake/lake"
)

// The usage cube (crm.usage_cube): a month's voice calls by hour of day,
// weekday or weekend, call kind, and the caller's gender, age band and
// income band, with the number of distinct subscribers of every cell. It
// is summed in the same CDR pass as the features.
//
// Distinct subscribers cannot be added up over hours, day types or call
// kinds (one subscriber calls at many hours), so every subscriber keeps a
// 240-bit set of the (hour, day type, kind) buckets they called in; at the
// end each subscriber is counted once in every cell of every grouping of
// those three columns (2³ groupings, rolled-up columns null), and the
// table holds the exact distinct count of each. Over the demographic
// columns the counts add up exactly: a subscriber has one gender, age band
// and income band in a month.

// CallKinds are the usage cube's call kinds, in code order.
var CallKinds = []string{"local", "long_distance", "international", "roaming", "unknown_area"}

// DayTypes are the usage cube's day types, in code order.
var DayTypes = []string{"weekday", "weekend"}

const (
	kindLocal = iota
	kindLongDistance
	kindInternational
	kindRoaming
	kindUnknownArea
	nKinds
	nDayTypes = 2
	nHours    = 24
	// fineBuckets is hour × day type × kind.
	fineBuckets = nHours * nDayTypes * nKinds
	// coarse buckets add a rolled-up value to each of the three.
	coarseBuckets = (nHours + 1) * (nDayTypes + 1) * (nKinds + 1)
)

// unknownValue stands for a demographic the register does not give.
const unknownValue = "unknown"

// fineBucket is the bucket of a call by hour (0–23), day type and kind.
func fineBucket(hour, dayType, kind int) int { return (hour*nDayTypes+dayType)*nKinds + kind }

// coarseBucket is a bucket with any of the three rolled up (the value one
// past the last).
func coarseBucket(hour, dayType, kind int) int {
	return (hour*(nDayTypes+1)+dayType)*(nKinds+1) + kind
}

// usageCubeAcc is one CDR worker's part of the usage cube.
type usageCubeAcc struct {
	home  []string // home region per subscriber index
	demo  []int32  // demographic cell per subscriber index
	nDemo int
	seen  [][4]uint64 // per subscriber: fine buckets called in
	calls []int64     // [fine*nDemo + demo]
	secs  []int64
}

// demographics assigns each row its (gender, age band, income band) cell.
type demographics struct {
	keys  [][3]string
	codes []int32 // per row
}

func newDemographics(rows []row, end int32) demographics {
	var d demographics
	ids := map[[3]string]int32{}
	d.codes = make([]int32, len(rows))
	for i := range rows {
		p := rows[i].p
		k := [3]string{orUnknown(p.gender), unknownValue, orUnknown(p.income)}
		if p.hasBirth {
			k[1] = ageBand(p.birth, end)
		}
		id, ok := ids[k]
		if !ok {
			id = int32(len(d.keys))
			ids[k] = id
			d.keys = append(d.keys, k)
		}
		d.codes[i] = id
	}
	return d
}

func orUnknown(s string) string {
	if s == "" {
		return unknownValue
	}
	return s
}

func newUsageCubeAcc(home []string, d demographics) *usageCubeAcc {
	n := len(d.keys)
	return &usageCubeAcc{home: home, demo: d.codes, nDemo: n, seen: make([][4]uint64, len(home)),
		calls: make([]int64, fineBuckets*n), secs: make([]int64, fineBuckets*n)}
}

// add counts one voice call of subscriber si.
func (c *usageCubeAcc) add(si int32, hour, dayType, kind int, secs int64) {
	f := fineBucket(hour, dayType, kind)
	c.seen[si][f>>6] |= 1 << (f & 63)
	k := f*c.nDemo + int(c.demo[si])
	c.calls[k]++
	c.secs[k] += secs
}

// merge adds o into c.
func (c *usageCubeAcc) merge(o *usageCubeAcc) {
	for i := range c.seen {
		for w := range c.seen[i] {
			c.seen[i][w] |= o.seen[i][w]
		}
	}
	for i := range c.calls {
		c.calls[i] += o.calls[i]
		c.secs[i] += o.secs[i]
	}
}

// usageCell is one row of crm.usage_cube.
type usageCell struct {
	grouping              int // bit 0 hour, 1 day type, 2 kind rolled up
	hour, dayType, kind   int // -1 when rolled up
	demo                  int
	calls, secs, distinct int64
}

// cells rolls the fine buckets into every grouping and counts distinct
// subscribers exactly per cell; cells without calls are left out.
func (c *usageCubeAcc) cells() []usageCell {
	n := c.nDemo
	calls := make([]int64, coarseBuckets*n)
	secs := make([]int64, coarseBuckets*n)
	distinct := make([]int64, coarseBuckets*n)
	for f := range fineBuckets {
		h, dt, k := f/(nDayTypes*nKinds), f/nKinds%nDayTypes, f%nKinds
		for g := range 8 {
			cb := coarseOf(g, h, dt, k)
			for d := range n {
				calls[cb*n+d] += c.calls[f*n+d]
				secs[cb*n+d] += c.secs[f*n+d]
			}
		}
	}
	var mark [(coarseBuckets + 63) / 64]uint64
	for si, seen := range c.seen {
		if seen == [4]uint64{} {
			continue
		}
		d := int(c.demo[si])
		mark = [len(mark)]uint64{}
		for w, word := range seen {
			for word != 0 {
				f := w*64 + bits.TrailingZeros64(word)
				word &= word - 1
				h, dt, k := f/(nDayTypes*nKinds), f/nKinds%nDayTypes, f%nKinds
				for g := range 8 {
					cb := coarseOf(g, h, dt, k)
					if mark[cb>>6]>>(cb&63)&1 == 0 {
						mark[cb>>6] |= 1 << (cb & 63)
						distinct[cb*n+d]++
					}
				}
			}
		}
	}
	var out []usageCell
	for cb := range coarseBuckets {
		h, dt, k := cb/((nDayTypes+1)*(nKinds+1)), cb/(nKinds+1)%(nDayTypes+1), cb%(nKinds+1)
		g := 0
		if h == nHours {
			g, h = g|1, -1
		}
		if dt == nDayTypes {
			g, dt = g|2, -1
		}
		if k == nKinds {
			g, k = g|4, -1
		}
		for d := range n {
			if calls[cb*n+d] == 0 {
				continue
			}
			out = append(out, usageCell{grouping: g, hour: h, dayType: dt, kind: k, demo: d,
				calls: calls[cb*n+d], secs: secs[cb*n+d], distinct: distinct[cb*n+d]})
		}
	}
	return out
}

// coarseOf is fine bucket (h, dt, k)'s coarse bucket in grouping g.
func coarseOf(g, h, dt, k int) int {
	if g&1 != 0 {
		h = nHours
	}
	if g&2 != 0 {
		dt = nDayTypes
	}
	if g&4 != 0 {
		k = nKinds
	}
	return coarseBucket(h, dt, k)
}

// usageCubeRecord turns the cells into rows of crm.usage_cube.
func usageCubeRecord(cells []usageCell, d demographics, month, built time.Time) (arrow.RecordBatch, error) {
	rb, err := lake.NewRowBuilder(lake.UsageCubeTable, len(cells))
	if err != nil {
		return nil, err
	}
	defer rb.Release()
	for _, c := range cells {
		rb.Date("month", month)
		rb.Int32("grouping", int64(c.grouping))
		if c.hour < 0 {
			rb.Null("hour")
		} else {
			rb.Int32("hour", int64(c.hour))
		}
		if c.dayType < 0 {
			rb.Null("day_type")
		} else {
			rb.String("day_type", DayTypes[c.dayType])
		}
		if c.kind < 0 {
			rb.Null("call_kind")
		} else {
			rb.String("call_kind", CallKinds[c.kind])
		}
		k := d.keys[c.demo]
		rb.String("gender", k[0])
		rb.String("age_band", k[1])
		rb.String("income_band", k[2])
		rb.Int64("calls", c.calls)
		rb.Float("minutes", float64(c.secs)/60)
		rb.Int64("subscribers", c.distinct)
		rb.Time("built_at", built)
	}
	return rb.Record(), nil
}
