package api

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/lake"
)

// Sources gives the answers that come from the lake rather than the
// snapshot.
type Sources interface {
	// ModelRuns returns crm.model_runs, newest first.
	ModelRuns(ctx context.Context) ([]ModelRun, error)
	// IngestFiles returns crm.ingest_log rows matching q, newest first.
	IngestFiles(ctx context.Context, q IngestQuery) ([]IngestFile, error)
}

// ModelRun is a row of crm.model_runs. Metrics that do not apply to the
// run's kind are null.
type ModelRun struct {
	Version       string    `json:"version"`
	Kind          string    `json:"kind"`
	Algorithm     string    `json:"algorithm"`
	TrainedAt     time.Time `json:"trained_at"`
	TrainFrom     *string   `json:"train_from"`  // YYYY-MM-DD
	TrainTo       *string   `json:"train_to"`    // YYYY-MM-DD
	ValidMonth    *string   `json:"valid_month"` // YYYY-MM-DD
	HorizonMonths *int32    `json:"horizon_months"`
	TrainRows     int64     `json:"train_rows"`
	ValidRows     *int64    `json:"valid_rows"`
	AUC           *float64  `json:"auc"`
	AUCLo         *float64  `json:"auc_lo"`
	AUCHi         *float64  `json:"auc_hi"`
	PRAUC         *float64  `json:"pr_auc"`
	Lift10        *float64  `json:"lift10"`
	K             *int32    `json:"k"`
	Silhouette    *float64  `json:"silhouette"`
	// AUUC, its interval and the churn-risk ranking's AUUC on the same
	// held-out campaign: kind uplift only (its auc is null).
	AUUC     *float64 `json:"auuc"`
	AUUCLo   *float64 `json:"auuc_lo"`
	AUUCHi   *float64 `json:"auuc_hi"`
	AUUCRisk *float64 `json:"auuc_risk"`
	Artifact string   `json:"artifact"`
	Report   *string  `json:"report"`
	Promoted bool     `json:"promoted"`
	Decision string   `json:"decision"`
}

// IngestQuery selects ingest log rows: the days From to To (UTC, both
// included), optionally one status and one target table, in the order
// newest first (started_at descending, then source and etag ascending),
// strictly after After when set, at most Limit rows (Limit ≤ 0: no limit).
type IngestQuery struct {
	From, To time.Time // midnight UTC of the first and last day
	Status   string
	Table    string
	After    *IngestKey
	Limit    int
}

// IngestKey is a row's place in the ingest log's order.
type IngestKey struct {
	StartedAt time.Time
	Source    string
	ETag      string
}

// compareIngest orders newest first, then by source and etag.
func compareIngest(a, b IngestKey) int {
	if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Source, b.Source); c != 0 {
		return c
	}
	return cmp.Compare(a.ETag, b.ETag)
}

// Key is f's place in the order.
func (f IngestFile) Key() IngestKey {
	return IngestKey{StartedAt: f.StartedAt, Source: f.Source, ETag: f.ETag}
}

// IngestFile is a row of crm.ingest_log.
type IngestFile struct {
	Source       string  `json:"source"`
	ETag         string  `json:"etag"`
	SizeBytes    int64   `json:"size_bytes"`
	Table        *string `json:"table"`
	Status       string  `json:"status"`
	RowsOK       int64   `json:"rows_ok"`
	RowsRejected int64   `json:"rows_rejected"`
	// RowsDuplicate counts good rows whose record was already in the table.
	RowsDuplicate int64     `json:"rows_duplicate"`
	SnapshotID    *int64    `json:"snapshot_id"`
	ReportKey     *string   `json:"report_key"`
	Message       *string   `json:"message"`
	StartedAt     time.Time `json:"started_at"`
	DurationMS    int64     `json:"duration_ms"`
}

// ingestStatuses are the final states crm.ingest_log records.
var ingestStatuses = []string{lake.StatusCommitted, lake.StatusReplaced, lake.StatusSuperseded,
	lake.StatusQuarantined, lake.StatusRejected, lake.StatusFailed, lake.StatusGone}

// LakeSources reads the Sources from the lake's tables.
type LakeSources struct {
	Tables lake.TableLoader
	// Cost, when set, receives what each IngestFiles call read (tests).
	Cost func(lake.ScanCost)
}

// ModelRuns reads the whole of crm.model_runs (one row per trained
// version: small).
func (ls LakeSources) ModelRuns(ctx context.Context) ([]ModelRun, error) {
	var out []ModelRun
	for b, err := range lake.Scan(ctx, ls.Tables, lake.ModelRunsTable) {
		if err != nil {
			return nil, fmt.Errorf("model runs: %w", err)
		}
		version, kind, algorithm, artifact := b.String("version"), b.String("kind"), b.String("algorithm"), b.String("artifact")
		report, decision, promoted := b.String("report"), b.String("decision"), b.Bool("promoted")
		trainedAt, from, to, valid := b.Time("trained_at"), b.Date("train_from"), b.Date("train_to"), b.Date("valid_month")
		horizon, k, trainRows, validRows := b.Int32("horizon_months"), b.Int32("k"), b.Int64("train_rows"), b.Int64("valid_rows")
		auc, aucLo, aucHi, prAUC := b.Float("auc"), b.Float("auc_lo"), b.Float("auc_hi"), b.Float("pr_auc")
		lift, silhouette := b.Float("lift10"), b.Float("silhouette")
		auuc, auucLo, auucHi, auucRisk := b.Float("auuc"), b.Float("auuc_lo"), b.Float("auuc_hi"), b.Float("auuc_risk")
		if err := b.Err(); err != nil {
			return nil, fmt.Errorf("model runs: %w", err)
		}
		for i := range b.Len() {
			out = append(out, ModelRun{
				Version: strings.Clone(version.Value(i)), Kind: strings.Clone(kind.Value(i)), Algorithm: strings.Clone(algorithm.Value(i)),
				TrainedAt: trainedAt.Value(i),
				TrainFrom: optDate(from, i), TrainTo: optDate(to, i), ValidMonth: optDate(valid, i),
				HorizonMonths: lake.Opt(horizon, i), TrainRows: trainRows.Value(i), ValidRows: lake.Opt(validRows, i),
				AUC: lake.Opt(auc, i), AUCLo: lake.Opt(aucLo, i), AUCHi: lake.Opt(aucHi, i), PRAUC: lake.Opt(prAUC, i),
				Lift10: lake.Opt(lift, i), K: lake.Opt(k, i), Silhouette: lake.Opt(silhouette, i),
				Artifact: strings.Clone(artifact.Value(i)), Report: optString(report, i), Promoted: promoted.Value(i),
				Decision: strings.Clone(decision.Value(i)),
				AUUC:     lake.Opt(auuc, i), AUUCLo: lake.Opt(auucLo, i), AUUCHi: lake.Opt(auucHi, i), AUUCRisk: lake.Opt(auucRisk, i),
			})
			if m := &out[len(out)-1]; m.Kind == "uplift" && m.AUUC == nil {
				// Written before crm.model_runs had auuc: the AUUC is in auc.
				m.AUUC, m.AUUCLo, m.AUUCHi = m.AUC, m.AUCLo, m.AUCHi
				m.AUC, m.AUCLo, m.AUCHi = nil, nil, nil
			}
		}
	}
	slices.SortStableFunc(out, func(a, b ModelRun) int { return b.TrainedAt.Compare(a.TrainedAt) })
	return out, nil
}

// IngestFiles reads crm.ingest_log day by day, newest day first, and
// stops as soon as the page is full. Each day is one scan whose filter
// (started_at within the day, and the status and table asked for) lets
// Iceberg skip the manifests of other days by their partition ranges and
// the data files of other days by their column bounds: a page costs the
// rows of the days it spans, however long the history.
func (ls LakeSources) IngestFiles(ctx context.Context, q IngestQuery) ([]IngestFile, error) {
	var cost lake.ScanCost
	if ls.Cost != nil {
		defer func() { ls.Cost(cost) }()
	}
	from, to := q.From.UTC().Truncate(24*time.Hour), q.To.UTC().Truncate(24*time.Hour)
	if q.After != nil {
		if d := q.After.StartedAt.UTC().Truncate(24 * time.Hour); d.Before(to) {
			to = d
		}
	}
	var out []IngestFile
	for day := to; !day.Before(from); day = day.AddDate(0, 0, -1) {
		rows, err := ls.ingestDay(ctx, day, q, &cost)
		if err != nil {
			return nil, fmt.Errorf("ingest files of %s: %w", day.Format(time.DateOnly), err)
		}
		slices.SortFunc(rows, func(a, b IngestFile) int { return compareIngest(a.Key(), b.Key()) })
		for _, f := range rows {
			if q.After != nil && compareIngest(f.Key(), *q.After) <= 0 {
				continue
			}
			out = append(out, f)
			if q.Limit > 0 && len(out) == q.Limit {
				return out, nil
			}
		}
	}
	return out, nil
}

// ingestDay reads the log rows of one day that match q's status and table
// (and that are not later than q.After).
func (ls LakeSources) ingestDay(ctx context.Context, day time.Time, q IngestQuery, cost *lake.ScanCost) ([]IngestFile, error) {
	started := iceberg.Reference("started_at")
	end := day.AddDate(0, 0, 1)
	opts := []lake.ScanOption{lake.CountInto(cost), lake.Parallel(1),
		lake.Where(iceberg.GreaterThanEqual(started, iceberg.Timestamp(day.UnixMicro()))),
		lake.Where(iceberg.LessThan(started, iceberg.Timestamp(end.UnixMicro())))}
	if q.After != nil && q.After.StartedAt.Before(end) {
		opts = append(opts, lake.Where(iceberg.LessThanEqual(started, iceberg.Timestamp(q.After.StartedAt.UnixMicro()))))
	}
	if q.Status != "" {
		opts = append(opts, lake.Where(iceberg.EqualTo(iceberg.Reference("status"), q.Status)))
	}
	if q.Table != "" {
		opts = append(opts, lake.Where(iceberg.EqualTo(iceberg.Reference("table_name"), q.Table)))
	}
	var out []IngestFile
	for b, err := range lake.Scan(ctx, ls.Tables, lake.IngestLogTable, opts...) {
		if err != nil {
			return nil, err
		}
		source, etag, size, tableName := b.String("source"), b.String("etag"), b.Int64("size_bytes"), b.String("table_name")
		status, ok, rejected, dup := b.String("status"), b.Int64("rows_ok"), b.Int64("rows_rejected"), b.Int64("rows_duplicate")
		snap, report, msg := b.Int64("snapshot_id"), b.String("report_key"), b.String("message")
		at, dur := b.Time("started_at"), b.Int64("duration_ms")
		if err := b.Err(); err != nil {
			return nil, err
		}
		for i := range b.Len() {
			f := IngestFile{
				Source: strings.Clone(source.Value(i)), ETag: strings.Clone(etag.Value(i)), SizeBytes: size.Value(i),
				Table: optString(tableName, i), Status: strings.Clone(status.Value(i)), RowsOK: ok.Value(i),
				RowsRejected: rejected.Value(i),
				SnapshotID:   lake.Opt(snap, i), ReportKey: optString(report, i), Message: optString(msg, i),
				StartedAt: at.Value(i), DurationMS: dur.Value(i),
			}
			if !dup.IsNull(i) { // null in rows logged before the column
				f.RowsDuplicate = dup.Value(i)
			}
			// The scan filters by file bounds; the rows are checked here.
			if f.StartedAt.Before(day) || !f.StartedAt.Before(end) ||
				(q.Status != "" && f.Status != q.Status) || (q.Table != "" && (f.Table == nil || *f.Table != q.Table)) {
				continue
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// optString is row i of c cloned, nil when null.
func optString(c lake.Strings, i int) *string {
	if c.IsNull(i) {
		return nil
	}
	v := strings.Clone(c.Value(i))
	return &v
}

// optDate is row i of c as YYYY-MM-DD, nil when null.
func optDate(c lake.Dates, i int) *string {
	if c.IsNull(i) {
		return nil
	}
	v := c.Time(i).Format(time.DateOnly)
	return &v
}
