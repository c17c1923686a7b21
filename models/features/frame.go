package features

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/dataset"
)

// Spec describes one model feature: how the models use a column of
// crm.features and how a reason about it reads.
type Spec struct {
	Name      string
	Kind      dataset.Kind
	High, Low string // reason phrases when the value is above / below the population's
	Unit      string // how a value reads in a reason (dataset.Column.Unit)
	Behaviour bool   // used for segmentation
}

// Specs are the columns of crm.features the models use, in order.
var Specs = []Spec{
	{Name: "plan", Kind: dataset.Categorical},
	{Name: "region", Kind: dataset.Categorical},
	{Name: "age_band", Kind: dataset.Categorical},
	{Name: "income_band", Kind: dataset.Categorical},
	{Name: "payment_method", Kind: dataset.Categorical},
	{Name: "status", Kind: dataset.Categorical},
	{Name: "tenure_months", High: "long tenure", Low: "short tenure", Unit: "months"},
	{Name: "voice_calls", High: "many calls", Low: "few calls", Behaviour: true, Unit: "calls"},
	{Name: "voice_minutes", High: "many voice minutes", Low: "few voice minutes", Behaviour: true, Unit: "min"},
	{Name: "avg_call_s", High: "long calls", Low: "short calls", Behaviour: true, Unit: "s"},
	{Name: "sms", High: "many SMS", Low: "few SMS", Behaviour: true, Unit: "SMS"},
	{Name: "data_mb", High: "heavy data use", Low: "light data use", Behaviour: true, Unit: "MB"},
	{Name: "distinct_contacts", High: "many contacts", Low: "few contacts", Behaviour: true, Unit: "contacts"},
	{Name: "roaming_calls", High: "heavy roaming", Low: "little roaming", Behaviour: true, Unit: "calls"},
	{Name: "intl_calls", High: "many international calls", Low: "few international calls", Behaviour: true, Unit: "calls"},
	{Name: "peak_share", High: "mostly peak-hour calls", Low: "mostly off-peak calls", Behaviour: true, Unit: "%"},
	{Name: "weekend_share", High: "weekend caller", Low: "weekday caller", Behaviour: true, Unit: "%"},
	{Name: "offnet_share", High: "calls mostly other networks", Low: "calls mostly on-net", Behaviour: true, Unit: "%"},
	{Name: "high_value_calls", High: "many high-value calls", Low: "few high-value calls", Unit: "calls"},
	{Name: "care_calls", High: "many calls to customer care", Low: "few calls to customer care", Unit: "calls"},
	{Name: "active_days", High: "active most days", Low: "active on few days", Unit: "days"},
	{Name: "usage_charge", High: "high usage charges", Low: "low usage charges"},
	{Name: "amount_due", High: "high bill", Low: "low bill"},
	{Name: "paid_ratio", High: "pays bills in full", Low: "pays only part of the bill", Unit: "%"},
	{Name: "arrears", High: "arrears", Low: "no arrears"},
	{Name: "months_in_arrears", High: "months in arrears", Low: "no months in arrears", Unit: "months"},
	{Name: "discount", High: "large discount", Low: "small discount"},
	{Name: "credit_limit", High: "high credit limit", Low: "low credit limit"},
	{Name: "credit_use", High: "bill near the credit limit", Low: "bill far below the credit limit", Unit: "%"},
	{Name: "voice_minutes_trend", High: "voice use rising", Low: "voice use falling", Unit: "%"},
	{Name: "calls_trend", High: "calls rising", Low: "calls falling", Unit: "%"},
	{Name: "data_trend", High: "data use rising", Low: "data use falling", Unit: "%"},
	{Name: "contacts_trend", High: "contacts rising", Low: "fewer contacts than before", Unit: "%"},
	{Name: "spend_trend", High: "spend rising", Low: "spend falling", Unit: "%"},
}

// ValueColumn is the monthly value of a customer: the month's bill.
const ValueColumn = "amount_due"

// Set is feature rows read back from crm.features, ready for the models.
type Set struct {
	*dataset.Frame
	Months []time.Time // feature month per row
}

// Load reads the feature rows of months [from, to] (inclusive) as a frame
// with the columns of Specs; IDs are subscriber ids. opts are added to the
// scan's (lake.CountInto).
func Load(ctx context.Context, tables lake.TableLoader, from, to time.Time, opts ...lake.ScanOption) (*Set, error) {
	return load(ctx, tables, from, to, all, opts...)
}

// LoadBucket is Load of the subscribers of one subscriber-hash bucket
// (lake.SubscriberBucket), for the fan-out scoring run: it reads the
// bucket's files of crm.features alone (lake.InBucket; a month-only
// table of an older lake is read whole and filtered), so memory and reads
// hold one bucket. opts are added to the scan's (lake.CountInto).
func LoadBucket(ctx context.Context, tables lake.TableLoader, from, to time.Time, bucket int, opts ...lake.ScanOption) (*Set, error) {
	if bucket < 0 || bucket >= lake.SubscriberBuckets {
		return nil, fmt.Errorf("features: bucket %d is not in [0, %d)", bucket, lake.SubscriberBuckets)
	}
	return load(ctx, tables, from, to, subset(bucket), opts...)
}

func load(ctx context.Context, tables lake.TableLoader, from, to time.Time, keep subset, opts ...lake.ScanOption) (*Set, error) {
	set := newSet()
	intern := map[string]string{}
	err := scanFeatures(ctx, tables, from, to, featureColumns(), func(b *lake.Batch) error {
		return set.add(b, intern, nil)
	}, append(keep.scan(), opts...)...)
	if err != nil {
		return nil, err
	}
	return set, nil
}

// RowFilter says whether to keep a feature row, by its subscriber and
// month; nil keeps every row.
type RowFilter func(id string, month time.Time) bool

// LoadRows is Load of the rows keep accepts (a sample, a bucket): rows
// are dropped as they arrive, so memory holds only the rows kept.
func LoadRows(ctx context.Context, tables lake.TableLoader, from, to time.Time, keep RowFilter) (*Set, error) {
	set := newSet()
	intern := map[string]string{}
	err := scanFeatures(ctx, tables, from, to, featureColumns(), func(b *lake.Batch) error {
		return set.add(b, intern, keep)
	})
	if err != nil {
		return nil, err
	}
	return set, nil
}

// Stream reads the feature rows of months [from, to] one scan batch at a
// time: fn gets each batch's rows (those keep accepts) as a Set of its
// own, so memory holds one batch whatever the size of the base. fn must
// not keep the Set's columns past its return unless it copies them.
func Stream(ctx context.Context, tables lake.TableLoader, from, to time.Time, keep RowFilter, fn func(*Set) error) error {
	intern := map[string]string{}
	return scanFeatures(ctx, tables, from, to, featureColumns(), func(b *lake.Batch) error {
		set := newSet()
		if err := set.add(b, intern, keep); err != nil {
			return err
		}
		if set.Rows() == 0 {
			return nil
		}
		return fn(set)
	})
}

// Keys calls fn with the subscriber and month of every feature row of
// months [from, to], reading those two columns only (a sample's first
// pass).
func Keys(ctx context.Context, tables lake.TableLoader, from, to time.Time, fn func(id string, month time.Time) error) error {
	return scanFeatures(ctx, tables, from, to, []string{"month", "subscriber_id"}, func(b *lake.Batch) error {
		months, ids := b.Date("month"), b.String("subscriber_id")
		if err := b.Err(); err != nil {
			return fmt.Errorf("features: %w", err)
		}
		for i := range b.Len() {
			if err := fn(ids.Value(i), months.Time(i)); err != nil {
				return err
			}
		}
		return nil
	})
}

func featureColumns() []string {
	cols := []string{"month", "subscriber_id"}
	for _, s := range Specs {
		cols = append(cols, s.Name)
	}
	return cols
}

func newSet() *Set {
	set := &Set{Frame: &dataset.Frame{}}
	for _, s := range Specs {
		set.Cols = append(set.Cols, &dataset.Column{Name: s.Name, Kind: s.Kind, High: s.High, Low: s.Low, Unit: s.Unit, Behaviour: s.Behaviour})
	}
	return set
}

// scanFeatures scans cols of crm.features for months [from, to], with
// opts added to the scan's.
func scanFeatures(ctx context.Context, tables lake.TableLoader, from, to time.Time, cols []string, fn func(*lake.Batch) error, opts ...lake.ScanOption) error {
	filter := iceberg.NewAnd(
		iceberg.GreaterThanEqual(iceberg.Reference("month"), iceberg.Date(epochDay(MonthStart(from)))),
		iceberg.LessThanEqual(iceberg.Reference("month"), iceberg.Date(epochDay(MonthStart(to)))))
	opts = append([]lake.ScanOption{lake.Select(cols...), lake.Where(filter)}, opts...)
	for b, err := range lake.Scan(ctx, tables, lake.FeaturesTable, opts...) {
		if err != nil {
			return fmt.Errorf("features: %w", err)
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

func (set *Set) add(b *lake.Batch, intern map[string]string, keep RowFilter) error {
	months, ids := b.Date("month"), b.String("subscriber_id")
	if err := b.Err(); err != nil {
		return fmt.Errorf("features: %w", err)
	}
	rows := make([]int, 0, b.Len())
	for i := range b.Len() {
		if keep == nil || keep(ids.Value(i), months.Time(i)) {
			rows = append(rows, i)
		}
	}
	for _, i := range rows {
		set.Months = append(set.Months, months.Time(i))
		set.IDs = append(set.IDs, strings.Clone(ids.Value(i)))
	}
	for _, c := range set.Cols {
		if c.Kind == dataset.Categorical {
			s := b.String(c.Name)
			if err := b.Err(); err != nil {
				return fmt.Errorf("features: %w", err)
			}
			for _, i := range rows {
				v := ""
				if !s.IsNull(i) {
					v = s.Value(i)
					if iv, ok := intern[v]; ok {
						v = iv
					} else {
						v = strings.Clone(v)
						intern[v] = v
					}
				}
				c.Cat = append(c.Cat, v)
			}
			continue
		}
		num := b.Number(c.Name)
		if err := b.Err(); err != nil {
			return fmt.Errorf("features: %w", err)
		}
		for _, i := range rows {
			c.Num = append(c.Num, num.Value(i))
		}
	}
	return nil
}

// Value returns each row's monthly value (the month's bill, 0 without one).
func (set *Set) Value() []float64 {
	c := set.Col(ValueColumn)
	out := make([]float64, set.Rows())
	for i := range out {
		if v := c.Num[i]; !math.IsNaN(v) {
			out[i] = v
		}
	}
	return out
}
