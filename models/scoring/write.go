package scoring

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/serving"
)

// writeScores replaces the run's partition of crm.scores with one row per
// customer of the snapshot.
func (r *Runner) writeScores(ctx context.Context, meta *serving.Meta, month time.Time, cs []serving.Customer) (int64, error) {
	sc, err := lake.ScoresTable.ArrowSchema()
	if err != nil {
		return 0, err
	}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer rb.Release()
	rb.Reserve(len(cs))
	f := func(name string) array.Builder {
		idx := sc.FieldIndices(name)
		if len(idx) == 0 {
			panic("scoring: crm.scores has no column " + name) // schema and code disagree
		}
		return rb.Field(idx[0])
	}
	str := func(name, v string) {
		if v == "" {
			f(name).AppendNull()
			return
		}
		f(name).(*array.StringBuilder).Append(v)
	}
	num := func(name string, v float64) { f(name).(*array.Float64Builder).Append(zeroNaN(v)) }
	at := arrow.Timestamp(meta.ScoredAt.UnixMicro())
	day := arrow.Date32FromTime(month)
	for _, c := range cs {
		str("run", meta.Run)
		f("scored_at").(*array.TimestampBuilder).Append(at)
		f("feature_month").(*array.Date32Builder).Append(day)
		str("subscriber_id", c.SubscriberID)
		num("churn_probability", c.Probability)
		for k, name := range []string{"reason_1", "reason_2", "reason_3"} {
			v := ""
			if k < len(c.Reasons) {
				v = c.Reasons[k]
			}
			str(name, v)
		}
		if c.SegmentID == 0 {
			f("segment_id").AppendNull()
		} else {
			f("segment_id").(*array.Int32Builder).Append(c.SegmentID)
		}
		str("segment_name", c.SegmentName)
		f("monthly_value").(*array.Decimal128Builder).Append(decimal128.FromI64(int64(math.Round(zeroNaN(c.MonthlyValue) * 100))))
		num("clv", c.CLV)
		num("value_at_risk", c.ValueAtRisk)
		str("lifecycle", c.Lifecycle)
		str("churn_model", meta.ChurnModel)
		str("segment_model", meta.SegmentModel)
	}
	rec := rb.NewRecordBatch()
	defer rec.Release()
	snap, err := lake.ReplaceRows(ctx, r.Tables, lake.ScoresTable,
		iceberg.EqualTo(iceberg.Reference("run"), meta.Run), []arrow.RecordBatch{rec},
		iceberg.Properties{"telcolake.scoring.run": meta.Run, "telcolake.scoring.feature_month": meta.FeatureMonth})
	if err != nil {
		return 0, fmt.Errorf("scoring: write crm.scores: %w", err)
	}
	return snap, nil
}
