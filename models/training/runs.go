package training

import (
	"context"
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/lake"
)

// modelRun is one row of crm.model_runs.
type modelRun struct {
	version, kind, algorithm string
	trainedAt                time.Time
	trainFrom, trainTo       time.Time
	validMonth               time.Time
	hasValid                 bool
	horizon                  int
	trainRows, validRows     int64
	auc, aucLo, aucHi        float64
	prAUC, lift10            float64
	k                        int
	silhouette               float64
	artifact, report         string
	promoted                 bool
	decision                 string
}

func (r *Runner) recordRun(ctx context.Context, run modelRun) error {
	sc, err := lake.ModelRunsTable.ArrowSchema()
	if err != nil {
		return err
	}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer rb.Release()
	f := func(name string) array.Builder { return rb.Field(sc.FieldIndices(name)[0]) }
	str := func(name, v string) {
		if v == "" {
			f(name).AppendNull()
			return
		}
		f(name).(*array.StringBuilder).Append(v)
	}
	date := func(name string, t time.Time, ok bool) {
		if !ok || t.IsZero() {
			f(name).AppendNull()
			return
		}
		f(name).(*array.Date32Builder).Append(arrow.Date32FromTime(t))
	}
	num := func(name string, v float64, ok bool) {
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			f(name).AppendNull()
			return
		}
		f(name).(*array.Float64Builder).Append(v)
	}
	churnRun := run.kind != "segment"
	str("version", run.version)
	str("kind", run.kind)
	str("algorithm", run.algorithm)
	f("trained_at").(*array.TimestampBuilder).Append(arrow.Timestamp(run.trainedAt.UnixMicro()))
	date("train_from", run.trainFrom, true)
	date("train_to", run.trainTo, true)
	date("valid_month", run.validMonth, run.hasValid)
	if churnRun {
		f("horizon_months").(*array.Int32Builder).Append(int32(run.horizon))
		f("valid_rows").(*array.Int64Builder).Append(run.validRows)
		f("k").AppendNull()
	} else {
		f("horizon_months").AppendNull()
		f("valid_rows").AppendNull()
		f("k").(*array.Int32Builder).Append(int32(run.k))
	}
	f("train_rows").(*array.Int64Builder).Append(run.trainRows)
	num("auc", run.auc, churnRun)
	num("auc_lo", run.aucLo, churnRun)
	num("auc_hi", run.aucHi, churnRun)
	num("pr_auc", run.prAUC, churnRun)
	num("lift10", run.lift10, churnRun)
	num("silhouette", run.silhouette, !churnRun)
	str("artifact", run.artifact)
	str("report", run.report)
	f("promoted").(*array.BooleanBuilder).Append(run.promoted)
	str("decision", run.decision)
	rec := rb.NewRecordBatch()
	defer rec.Release()
	_, err = lake.ReplaceRows(ctx, r.Tables, lake.ModelRunsTable, nil, []arrow.RecordBatch{rec},
		iceberg.Properties{"telcolake.model.version": run.version, "telcolake.model.kind": run.kind})
	return err
}
