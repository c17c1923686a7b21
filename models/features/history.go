package features

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/lake"
)

// history is one earlier feature month of a subscriber, for trends.
type history struct {
	month                                   int32   // days since the epoch
	minutes, calls, dataMB, contacts, spend float64 // spend NaN: no bill
}

type histories []history

// mean of f over the months where it is known; NaN when none is. The
// months are summed in calendar order, so the result does not depend on the
// order the rows were read in.
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

var historyColumns = []string{"month", "subscriber_id", "voice_minutes", "voice_calls", "data_mb", "distinct_contacts", "amount_due"}

// loadHistory reads the feature rows of months [from, to] per subscriber of
// subset keep, in month order; months in skip are left out (the caller has
// them already, built in this run).
func loadHistory(ctx context.Context, tables lake.TableLoader, from, to time.Time, keep subset, skip map[int32]bool) (map[string]histories, error) {
	filter := iceberg.NewAnd(
		iceberg.GreaterThanEqual(iceberg.Reference("month"), iceberg.Date(epochDay(from))),
		iceberg.LessThanEqual(iceberg.Reference("month"), iceberg.Date(epochDay(to))))
	out := map[string]histories{}
	opts := append([]lake.ScanOption{lake.Select(historyColumns...), lake.Where(filter)}, keep.scan()...)
	for b, err := range lake.Scan(ctx, tables, lake.FeaturesTable, opts...) {
		if err != nil {
			return nil, fmt.Errorf("features: earlier months: %w", err)
		}
		if err := addHistory(out, b, keep, skip); err != nil {
			return nil, err
		}
	}
	sortHistories(out)
	return out, nil
}

// addHistory adds the rows of b (feature rows) to out.
func addHistory(out map[string]histories, b *lake.Batch, keep subset, skip map[int32]bool) error {
	ids, months := b.String("subscriber_id"), b.Date("month")
	var num [5]lake.Numbers
	for j, n := range historyColumns[2:] {
		num[j] = b.Number(n)
	}
	if err := b.Err(); err != nil {
		return fmt.Errorf("features: %w", err)
	}
	for i := range b.Len() {
		m := months.Value(i)
		id := ids.Value(i)
		if skip[m] || !keep.has(id) {
			continue
		}
		if _, ok := out[id]; !ok {
			id = strings.Clone(id)
		}
		out[id] = append(out[id], history{month: m,
			minutes: num[0].Value(i), calls: num[1].Value(i), dataMB: num[2].Value(i),
			contacts: num[3].Value(i), spend: num[4].Value(i),
		})
	}
	return nil
}

func sortHistories(out map[string]histories) {
	for _, h := range out {
		slices.SortStableFunc(h, func(a, b history) int { return cmp.Compare(a.month, b.month) })
	}
}

// subset is the subscribers of one bucket (lake.SubscriberBucket), or all.
type subset int

// all is every subscriber.
const all subset = -1

func (s subset) has(id string) bool { return s < 0 || lake.SubscriberBucket(id) == int(s) }

// scan is the scan option that reads the subset's rows alone (its
// bucket's files of a bucket-partitioned table): none for all.
func (s subset) scan() []lake.ScanOption {
	if s < 0 {
		return nil
	}
	return []lake.ScanOption{lake.InBucket(int(s))}
}
