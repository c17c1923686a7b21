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

// scoresChunk is the rows of one crm.scores data file the commit writes.
const scoresChunk = 1 << 16

// scoresWriter writes a run's crm.scores rows into data files as they
// come (scoresChunk at a time) and commits them in one snapshot that
// replaces the run's partition (commit); files of a run that does not get
// that far are removed (abandon).
type scoresWriter struct {
	r     *Runner
	meta  *serving.Meta
	month time.Time
	b     *lake.RowBuilder
	n     int
	paths []string
	done  bool
}

func (w *scoresWriter) add(ctx context.Context, c *serving.Customer) error {
	if w.b == nil {
		var err error
		if w.b, err = lake.NewRowBuilder(lake.ScoresTable, scoresChunk); err != nil {
			return err
		}
	}
	scoreRow(w.b, w.meta, w.month, c)
	if w.n++; w.n == scoresChunk {
		return w.flush(ctx)
	}
	return nil
}

func (w *scoresWriter) flush(ctx context.Context) error {
	if w.b == nil {
		return nil
	}
	rec := w.b.Record()
	w.b.Release()
	w.b, w.n = nil, 0
	defer rec.Release()
	paths, err := lake.WriteRows(ctx, w.r.Tables, lake.ScoresTable, []arrow.RecordBatch{rec})
	if err != nil {
		return fmt.Errorf("scoring: write crm.scores: %w", err)
	}
	w.paths = append(w.paths, paths...)
	return nil
}

func (w *scoresWriter) commit(ctx context.Context) error {
	if err := w.flush(ctx); err != nil {
		return err
	}
	if _, err := lake.CommitFiles(ctx, w.r.Tables, lake.ScoresTable,
		iceberg.EqualTo(iceberg.Reference("run"), w.meta.Run), w.paths,
		iceberg.Properties{"telcolake.scoring.run": w.meta.Run, "telcolake.scoring.feature_month": w.meta.FeatureMonth}); err != nil {
		return fmt.Errorf("scoring: write crm.scores: %w", err)
	}
	w.done = true
	return nil
}

// abandon removes the data files of a run that was not committed.
func (w *scoresWriter) abandon(ctx context.Context) {
	if w.b != nil {
		w.b.Release()
		w.b = nil
	}
	if w.done || len(w.paths) == 0 {
		return
	}
	if err := lake.RemoveFiles(ctx, w.r.Tables, lake.ScoresTable, w.paths); err != nil {
		w.r.warn(ctx, "scoring: uncommitted crm.scores files left for maintenance", "files", len(w.paths), "error", err.Error())
	}
}

// scoreRow appends c's crm.scores row.
func scoreRow(b *lake.RowBuilder, meta *serving.Meta, month time.Time, c *serving.Customer) {
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
