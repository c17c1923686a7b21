package features

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/lake"
)

// history is one earlier feature month of a subscriber, for trends.
type history struct {
	minutes, calls, dataMB, contacts, spend float64 // spend NaN: no bill
}

type histories []history

// mean of f over the months where it is known; NaN when none is.
func (h histories) mean(f func(history) float64) float64 {
	var sum float64
	n := 0
	for _, x := range h {
		if v := f(x); !math.IsNaN(v) {
			sum += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// loadHistory reads the feature rows of months [from, to] per subscriber.
func loadHistory(ctx context.Context, tables lake.TableLoader, from, to time.Time) (map[string]histories, error) {
	tbl, err := tables.LoadTable(ctx, lake.FeaturesTable.Ident())
	if err != nil {
		return nil, fmt.Errorf("features: load features: %w", err)
	}
	filter := iceberg.NewAnd(
		iceberg.GreaterThanEqual(iceberg.Reference("month"), iceberg.Date(epochDay(from))),
		iceberg.LessThanEqual(iceberg.Reference("month"), iceberg.Date(epochDay(to))))
	cols := []string{"subscriber_id", "voice_minutes", "voice_calls", "data_mb", "distinct_contacts", "amount_due"}
	_, recs, err := tbl.Scan(append(tableSelect(cols), tableFilter(filter))...).ToArrowRecords(ctx)
	if err != nil {
		return nil, fmt.Errorf("features: scan earlier months: %w", err)
	}
	out := map[string]histories{}
	for rec, err := range recs {
		if err != nil {
			return nil, fmt.Errorf("features: scan earlier months: %w", err)
		}
		ids, err := strColumn(rec, "subscriber_id")
		if err != nil {
			rec.Release()
			return nil, err
		}
		var num [5]numColumn
		for j, n := range cols[1:] {
			if num[j], err = numericColumn(rec, n); err != nil {
				rec.Release()
				return nil, err
			}
		}
		for i := range int(rec.NumRows()) {
			id := ids.Value(i)
			if _, ok := out[id]; !ok {
				id = strings.Clone(id)
			}
			out[id] = append(out[id], history{
				minutes: num[0].get(i), calls: num[1].get(i), dataMB: num[2].get(i),
				contacts: num[3].get(i), spend: num[4].get(i),
			})
		}
		rec.Release()
	}
	return out, nil
}
