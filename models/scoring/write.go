package scoring

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/serving"
)

// writeScores replaces the run's partition of crm.scores with one row per
// customer of the snapshot.
func (r *Runner) writeScores(ctx context.Context, meta *serving.Meta, month time.Time, cs []serving.Customer) (int64, error) {
	b, err := lake.NewRowBuilder(lake.ScoresTable, len(cs))
	if err != nil {
		return 0, err
	}
	defer b.Release()
	for _, c := range cs {
		b.String("run", meta.Run)
		b.Time("scored_at", meta.ScoredAt)
		b.Date("feature_month", month)
		b.String("subscriber_id", c.SubscriberID)
		b.Float("churn_probability", zeroNaN(c.Probability))
		for k, name := range []string{"reason_1", "reason_2", "reason_3"} {
			v := ""
			if k < len(c.Reasons) {
				v = c.Reasons[k]
			}
			b.String(name, v)
		}
		if c.SegmentID == 0 {
			b.Null("segment_id")
		} else {
			b.Int32("segment_id", int64(c.SegmentID))
		}
		b.String("segment_name", c.SegmentName)
		b.Money("monthly_value", int64(math.Round(zeroNaN(c.MonthlyValue)*100)))
		b.Float("clv", zeroNaN(c.CLV))
		b.Float("value_at_risk", zeroNaN(c.ValueAtRisk))
		b.String("lifecycle", c.Lifecycle)
		b.String("churn_model", meta.ChurnModel)
		b.String("segment_model", meta.SegmentModel)
		b.String("value_tier", c.ValueTier)
		b.Money("profit", int64(math.Round(zeroNaN(c.Profit)*100)))
		b.Money("cost_to_serve", int64(math.Round(zeroNaN(c.CostToServe)*100)))
		if meta.BadDebtModel == "" {
			b.Null("bad_debt_probability")
		} else {
			b.Float("bad_debt_probability", zeroNaN(c.BadDebtProbability))
		}
		for k, name := range []string{"bad_debt_reason_1", "bad_debt_reason_2", "bad_debt_reason_3"} {
			if k < len(c.BadDebtReasons) {
				b.String(name, c.BadDebtReasons[k])
			} else {
				b.Null(name)
			}
		}
		b.String("bad_debt_model", meta.BadDebtModel)
	}
	rec := b.Record()
	defer rec.Release()
	snap, err := lake.ReplaceRows(ctx, r.Tables, lake.ScoresTable,
		iceberg.EqualTo(iceberg.Reference("run"), meta.Run), []arrow.RecordBatch{rec},
		iceberg.Properties{"telcolake.scoring.run": meta.Run, "telcolake.scoring.feature_month": meta.FeatureMonth})
	if err != nil {
		return 0, fmt.Errorf("scoring: write crm.scores: %w", err)
	}
	return snap, nil
}
