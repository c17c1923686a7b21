package api

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
)

const (
	registerHeader = "export_date,subscriber_id,msisdn,name,gender,birth_date,occupation,education,income_band,region,plan,activation_date,status,status_date,payment_method,credit_limit\n"
	registerGood   = registerHeader + `2026-07-31,S1,491700000001,Anna,F,1990-03-01,,,C,North,PLUS20,2025-01-15,active,2025-01-15,direct_debit,150.00
2026-07-31,S2,491700000002,Ben,M,,,,,South,BASIC10,2026-06-10,active,2026-06-10,card,
`
	registerBroken = registerHeader + `2026-08-31,S1,491700000001,Anna,F,1990-03-01,,,C,North,PLUS20,2025-01-15,active,2025-01-15,direct_debit,150.00
2026-08-31,S2,491700000002,Ben,M,not-a-date,,,,South,BASIC10,2026-06-10,active,2026-06-10,card,
`
)

// TestLakeSources reads model runs and the ingest log from a real local
// lake, through the handler.
func TestLakeSources(t *testing.T) {
	l := laketest.New(t)
	ctx := context.Background()
	src := LakeSources{Tables: l.Cat}
	meta, cs := genSnapshot(5, 30, false)
	s, err := newServer(meta, cs, src, Config{Keys: testKeys()})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{s: s}

	// No model trained yet: an empty list, not an error.
	var models struct {
		Runs []ModelRun `json:"runs"`
	}
	resp := f.get(t, RoleAnalyst, "/v1/models")
	if err := json.Unmarshal([]byte(resp.Body), &models); err != nil || resp.StatusCode != 200 || models.Runs == nil || len(models.Runs) != 0 {
		t.Fatalf("models of an empty lake: %d %s", resp.StatusCode, resp.Body)
	}

	good := l.Ingest(t, "exports/subscribers/2026/07/31/subscribers-20260731.csv", registerGood)
	p := filepath.Join(l.Root, laketest.Landing, "exports/subscribers/2026/08/31/subscribers-20260831.csv")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(registerBroken), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	bad, err := l.In.Ingest(ctx, lake.Object{Bucket: laketest.Landing, Key: "exports/subscribers/2026/08/31/subscribers-20260831.csv", ETag: lake.LocalETag(fi), Size: fi.Size()})
	if err != nil {
		t.Fatal(err)
	}
	if bad.Status != lake.StatusQuarantined || bad.ReportKey == "" {
		t.Fatalf("broken file: status %s report %q, want quarantined with a report", bad.Status, bad.ReportKey)
	}

	var files struct {
		Files []IngestFile `json:"files"`
	}
	get := func(target string) []IngestFile {
		t.Helper()
		resp := f.get(t, RoleAdmin, target)
		files.Files = nil
		if err := json.Unmarshal([]byte(resp.Body), &files); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", target, resp.StatusCode, resp.Body)
		}
		return files.Files
	}
	all := get("/v1/ingest/files")
	if len(all) != 2 {
		t.Fatalf("ingest files = %+v, want 2", all)
	}
	if all[0].StartedAt.Before(all[1].StartedAt) {
		t.Errorf("not newest first: %v, %v", all[0].StartedAt, all[1].StartedAt)
	}
	q := get("/v1/ingest/files?status=quarantined")
	if len(q) != 1 || q[0].RowsRejected != 1 || q[0].ReportKey == nil || *q[0].ReportKey != bad.ReportKey || q[0].Source != "s3://landing/exports/subscribers/2026/08/31/subscribers-20260831.csv" {
		t.Errorf("quarantined = %+v, want the broken file with 1 row rejected and report %s", q, bad.ReportKey)
	}
	c := get("/v1/ingest/files?status=committed")
	if len(c) != 1 || c[0].RowsOK != 2 || c[0].Table == nil || *c[0].Table != "crm.subscribers" || c[0].SnapshotID == nil || *c[0].SnapshotID != good.SnapshotID || c[0].SizeBytes != int64(len(registerGood)) {
		t.Errorf("committed = %+v (table %v snapshot %v), want the good file, 2 rows, snapshot %d", c, deref(c[0].Table), deref(c[0].SnapshotID), good.SnapshotID)
	}
	if n := len(get("/v1/ingest/files?status=rejected")); n != 0 {
		t.Errorf("rejected: %d files, want 0", n)
	}
	if n := len(get("/v1/ingest/files?limit=1")); n != 1 {
		t.Errorf("limit=1: %d files", n)
	}
	// The register export sent again under another name: both records are
	// in the table already.
	again := l.Ingest(t, "exports/subscribers/2026/07/31/subscribers-20260731-resent.csv", registerGood)
	if again.RowsOK != 0 || again.RowsDuplicate != 2 {
		t.Fatalf("re-sent register: %+v, want 0 rows and 2 duplicates", again)
	}
	for _, f := range get("/v1/ingest/files?status=committed") {
		want := int64(0)
		if f.Source == again.Source {
			want = 2
		}
		if f.RowsDuplicate != want {
			t.Errorf("%s: rows_duplicate %d, want %d", f.Source, f.RowsDuplicate, want)
		}
	}

	// One model run, written as training writes them.
	writeModelRun(t, l)
	resp = f.get(t, RoleAdmin, "/v1/models")
	if err := json.Unmarshal([]byte(resp.Body), &models); err != nil || len(models.Runs) != 1 {
		t.Fatalf("models: %d %s", resp.StatusCode, resp.Body)
	}
	m := models.Runs[0]
	if m.Version != "churn-20261101T000000Z" || m.Kind != "churn" || !m.Promoted || m.AUC == nil || *m.AUC != 0.8 || m.K != nil ||
		m.TrainFrom == nil || *m.TrainFrom != "2026-01-01" || m.HorizonMonths == nil || *m.HorizonMonths != 2 || m.TrainRows != 1234 ||
		!m.TrainedAt.Equal(time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)) || m.Silhouette != nil {
		t.Errorf("model run = %+v", m)
	}
}

// TestModelRunsAUUC: an uplift run's AUUC is read from crm.model_runs'
// auuc columns, and from auc for a row written before those columns
// existed (its auuc null); either way the API answers it as auuc, with a
// null auc. kind=uplift selects them; an unknown kind is a 400.
func TestModelRunsAUUC(t *testing.T) {
	l := laketest.New(t)
	writeModelRows(t, l, []map[string]any{
		{"version": "20261001T030000Z", "auc": 0.011, "auc_lo": 0.004, "auc_hi": 0.019},
		{"version": "20261101T030000Z", "auuc": 0.021, "auuc_lo": 0.012, "auuc_hi": 0.03, "auuc_risk": -0.004},
	})
	meta, cs := genSnapshot(5, 30, false)
	s, err := newServer(meta, cs, LakeSources{Tables: l.Cat}, Config{Keys: testKeys()})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{s: s}
	var models struct {
		Runs []ModelRun `json:"runs"`
	}
	resp := f.get(t, RoleAnalyst, "/v1/models?kind=uplift")
	if err := json.Unmarshal([]byte(resp.Body), &models); err != nil || len(models.Runs) != 2 {
		t.Fatalf("models: %d %s", resp.StatusCode, resp.Body)
	}
	for _, tt := range []struct {
		version            string
		auuc, lo, hi, risk any
	}{{"20261101T030000Z", 0.021, 0.012, 0.03, -0.004}, {"20261001T030000Z", 0.011, 0.004, 0.019, nil}} {
		var m *ModelRun
		for i := range models.Runs {
			if models.Runs[i].Version == tt.version {
				m = &models.Runs[i]
			}
		}
		if m == nil {
			t.Fatalf("run %s missing", tt.version)
		}
		if m.AUC != nil || m.AUCLo != nil || m.AUCHi != nil || deref(m.AUUC) != tt.auuc || deref(m.AUUCLo) != tt.lo ||
			deref(m.AUUCHi) != tt.hi || deref(m.AUUCRisk) != tt.risk {
			t.Errorf("%s: auc %v, auuc %v (%v…%v), risk %v; want auc null, auuc %v (%v…%v), risk %v", tt.version, deref(m.AUC),
				deref(m.AUUC), deref(m.AUUCLo), deref(m.AUUCHi), deref(m.AUUCRisk), tt.auuc, tt.lo, tt.hi, tt.risk)
		}
	}
	if resp := f.get(t, RoleAnalyst, "/v1/models?kind=propensity"); resp.StatusCode != 400 || !strings.Contains(resp.Body, `"parameter":"kind"`) {
		t.Errorf("kind=propensity: %d %s, want 400 naming kind", resp.StatusCode, resp.Body)
	}
}

// writeModelRows writes uplift rows of crm.model_runs: each row's columns
// as given, the required ones filled.
func writeModelRows(t *testing.T, l *laketest.Lake, rows []map[string]any) {
	t.Helper()
	sc, err := lake.ModelRunsTable.ArrowSchema()
	if err != nil {
		t.Fatal(err)
	}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer rb.Release()
	for _, row := range rows {
		for i, fd := range sc.Fields() {
			b := rb.Field(i)
			v, ok := row[fd.Name]
			switch {
			case fd.Name == "version":
				b.(*array.StringBuilder).Append(v.(string))
			case ok:
				b.(*array.Float64Builder).Append(v.(float64))
			case fd.Name == "kind":
				b.(*array.StringBuilder).Append("uplift")
			case fd.Name == "algorithm" || fd.Name == "artifact" || fd.Name == "decision":
				b.(*array.StringBuilder).Append("x")
			case fd.Name == "trained_at":
				b.(*array.TimestampBuilder).Append(arrow.Timestamp(time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC).UnixMicro()))
			case fd.Name == "train_rows":
				b.(*array.Int64Builder).Append(100)
			case fd.Name == "promoted":
				b.(*array.BooleanBuilder).Append(false)
			default:
				b.AppendNull()
			}
		}
	}
	rec := rb.NewRecordBatch()
	defer rec.Release()
	if _, err := lake.ReplaceRows(context.Background(), l.Cat, lake.ModelRunsTable, nil, []arrow.RecordBatch{rec}, nil); err != nil {
		t.Fatal(err)
	}
}

func writeModelRun(t *testing.T, l *laketest.Lake) {
	t.Helper()
	sc, err := lake.ModelRunsTable.ArrowSchema()
	if err != nil {
		t.Fatal(err)
	}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer rb.Release()
	for i, fd := range sc.Fields() {
		b := rb.Field(i)
		switch fd.Name {
		case "version":
			b.(*array.StringBuilder).Append("churn-20261101T000000Z")
		case "kind":
			b.(*array.StringBuilder).Append("churn")
		case "algorithm":
			b.(*array.StringBuilder).Append("logistic")
		case "trained_at":
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC).UnixMicro()))
		case "train_from":
			b.(*array.Date32Builder).Append(arrow.Date32FromTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
		case "horizon_months":
			b.(*array.Int32Builder).Append(2)
		case "train_rows":
			b.(*array.Int64Builder).Append(1234)
		case "auc":
			b.(*array.Float64Builder).Append(0.8)
		case "artifact":
			b.(*array.StringBuilder).Append("s3://lake/models/churn/20261101T000000Z/model.json")
		case "promoted":
			b.(*array.BooleanBuilder).Append(true)
		case "decision":
			b.(*array.StringBuilder).Append("better than the current model")
		default:
			b.AppendNull()
		}
	}
	rec := rb.NewRecordBatch()
	defer rec.Release()
	if _, err := lake.ReplaceRows(context.Background(), l.Cat, lake.ModelRunsTable, nil, []arrow.RecordBatch{rec}, nil); err != nil {
		t.Fatal(err)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
