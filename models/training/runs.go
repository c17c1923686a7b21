package training

import (
	"context"
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/registry"
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
	auuc, auucLo, auucHi     float64 // kind uplift: its AUUC, not auc
	auucRisk                 float64
	prAUC, lift10            float64
	k                        int
	silhouette               float64
	artifact, report         string
	promoted                 bool
	decision                 string
	// sample is how a classifier's rows were sampled; nil: not sampled
	// (segmentation and uplift record their rows only).
	sample *SampleReport
}

func (r *Runner) recordRun(ctx context.Context, run modelRun) error {
	b, err := lake.NewRowBuilder(lake.ModelRunsTable, 1)
	if err != nil {
		return err
	}
	defer b.Release()
	churnRun := run.kind != "segment"
	upliftRun := run.kind == registry.KindUplift
	onlyIf := func(ok bool, v float64) float64 {
		if ok {
			return v
		}
		return math.NaN()
	}
	b.String("version", run.version)
	b.String("kind", run.kind)
	b.String("algorithm", run.algorithm)
	b.Time("trained_at", run.trainedAt)
	b.Date("train_from", run.trainFrom)
	b.Date("train_to", run.trainTo)
	if run.hasValid {
		b.Date("valid_month", run.validMonth)
	} else {
		b.Null("valid_month")
	}
	if churnRun {
		b.Int32("horizon_months", int64(run.horizon))
		b.Int64("valid_rows", run.validRows)
		b.Null("k")
	} else {
		b.Null("horizon_months")
		b.Null("valid_rows")
		b.Int32("k", int64(run.k))
	}
	b.Int64("train_rows", run.trainRows)
	classifier := churnRun && !upliftRun
	b.Float("auc", onlyIf(classifier, run.auc))
	b.Float("auc_lo", onlyIf(classifier, run.aucLo))
	b.Float("auc_hi", onlyIf(classifier, run.aucHi))
	b.Float("pr_auc", onlyIf(classifier, run.prAUC))
	b.Float("lift10", onlyIf(classifier, run.lift10))
	b.Float("auuc", onlyIf(upliftRun, run.auuc))
	b.Float("auuc_lo", onlyIf(upliftRun, run.auucLo))
	b.Float("auuc_hi", onlyIf(upliftRun, run.auucHi))
	b.Float("auuc_risk", onlyIf(upliftRun, run.auucRisk))
	b.Float("silhouette", onlyIf(!churnRun, run.silhouette))
	b.String("artifact", run.artifact)
	b.String("report", run.report)
	b.Bool("promoted", run.promoted)
	b.String("decision", run.decision)
	if run.sample != nil {
		b.Int64("train_population", int64(run.sample.TrainPopulation))
		b.Int64("valid_population", int64(run.sample.ValidPopulation))
		b.String("sample", run.sample.Describe())
	} else {
		b.Null("train_population")
		b.Null("valid_population")
		b.Null("sample")
	}
	rec := b.Record()
	defer rec.Release()
	_, err = lake.ReplaceRows(ctx, r.Tables, lake.ModelRunsTable, nil, []arrow.RecordBatch{rec},
		iceberg.Properties{"telcolake.model.version": run.version, "telcolake.model.kind": run.kind})
	return err
}
