package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// featureData describes the data set of the features and train parts: a
// lake with crm.cdr, crm.bills and crm.subscribers ingested from one
// 'telcolake gen' run.
type featureData struct {
	Subs        int
	Months      []time.Time // first days, in order
	CDRRows     []int64     // per month, from the generator's manifest
	BillRows    int64
	RegisterRow int64 // rows over all register snapshots
	Snapshots   int   // register snapshots
	Files       int
	CSVBytes    int64
	GenWall     time.Duration
	Ingest      runResult // one ingest of every file, for context only
	lake        lakeDirs
}

// TotalCDR is the number of CDR rows over all months.
func (d *featureData) TotalCDR() int64 {
	var n int64
	for _, r := range d.CDRRows {
		n += r
	}
	return n
}

// manifest is the part of the generator's manifest.json the bench reads.
type manifest struct {
	Files []struct {
		Key   string `json:"key"`
		Table string `json:"table"`
		Rows  int64  `json:"rows"`
		Bytes int64  `json:"bytes"`
	} `json:"files"`
	Deliveries []string `json:"deliveries"`
}

// prepareFeatureData generates the exports of -feature-months months from
// -feature-start into WORK/features/landing and ingests all of them, in
// delivery order, into the lake WORK/features/lake.
func (b *bench) prepareFeatureData(ctx context.Context) (*featureData, error) {
	o := b.opts
	d := &featureData{Subs: o.subs, lake: lakeDir(filepath.Join(b.work, "features", "lake"))}
	for m := range o.featureMonths {
		d.Months = append(d.Months, o.featureStart.AddDate(0, m, 0))
	}
	landing := filepath.Join(b.work, "features", "landing")
	if err := resetDirs(filepath.Join(b.work, "features")); err != nil {
		return nil, err
	}
	log.Printf("generating %d subscribers × %d months from %s (features data set)", o.subs, o.featureMonths, o.featureStart.Format("2006-01"))
	start := time.Now()
	cmd := exec.CommandContext(ctx, b.telcolake, "gen",
		"-subs", strconv.Itoa(o.subs), "-months", strconv.Itoa(o.featureMonths),
		"-start", o.featureStart.Format("2006-01"), "-cdr-span", "month", "-mess=false", "-out", landing)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("telcolake gen: %w\n%s", err, out)
	}
	d.GenWall = time.Since(start)
	raw, err := os.ReadFile(filepath.Join(landing, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var man manifest
	if err := json.Unmarshal(raw, &man); err != nil {
		return nil, fmt.Errorf("parse manifest: %w", err)
	}
	want := map[string]int64{}
	d.CDRRows = make([]int64, len(d.Months))
	for _, f := range man.Files {
		want[f.Key] = f.Rows
		d.Files++
		d.CSVBytes += f.Bytes
		switch f.Table {
		case "cdr":
			i, err := d.monthOfKey(f.Key)
			if err != nil {
				return nil, err
			}
			d.CDRRows[i] += f.Rows
		case "bills":
			d.BillRows += f.Rows
		case "subscribers":
			d.RegisterRow += f.Rows
			d.Snapshots++
		}
	}
	if len(want) != len(man.Deliveries) {
		return nil, fmt.Errorf("manifest: %d files but %d deliveries; the bench wants no duplicate deliveries", len(want), len(man.Deliveries))
	}
	log.Printf("ingesting %d files (%d CDR rows) into %s", d.Files, d.TotalCDR(), d.lake.warehouse)
	if d.Ingest, err = b.ingest(ctx, landing, d.lake, want, man.Deliveries, ""); err != nil {
		return nil, fmt.Errorf("ingest features data set: %w", err)
	}
	log.Printf("ingested: %s", d.Ingest)
	return d, b.dropUnlessKept(filepath.Join(landing, "exports"))
}

// monthOfKey finds the month of a monthly CDR file key
// (exports/cdr/YYYY/MM/cdr-YYYYMM.csv).
func (d *featureData) monthOfKey(key string) (int, error) {
	base := filepath.Base(key)
	if len(base) < len("cdr-200601") {
		return 0, fmt.Errorf("manifest: CDR key %s is not a monthly file", key)
	}
	t, err := time.Parse("200601", base[len("cdr-"):len("cdr-200601")])
	if err != nil {
		return 0, fmt.Errorf("manifest: CDR key %s is not a monthly file", key)
	}
	for i, m := range d.Months {
		if m.Equal(t) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("manifest: CDR file %s is outside the months generated", key)
}

// featureReport is the features part's measurements.
type featureReport struct {
	Telcolake []runResult
	Built     [][]monthResult // per telcolake run
	DuckDB    []runResult
	DuckRows  []int64 // rows DuckDB wrote, per run
	Check     featureCheck
	SQL       sqlCheck // models/features/features.sql against the builder
	PprofTop  string
	PprofCum  string
}

// monthResult is features.MonthResult as the featurebuild child prints it.
type monthResult struct {
	Month   time.Time `json:"month"`
	Rows    int64     `json:"rows"`
	CDRRows int64     `json:"cdr_rows"`
	Seconds float64   `json:"seconds"`
}

// RowsOut is the number of feature rows the last run wrote.
func (r *featureReport) RowsOut() int64 {
	if len(r.Built) == 0 {
		return 0
	}
	var n int64
	for _, m := range r.Built[len(r.Built)-1] {
		n += m.Rows
	}
	return n
}

// measureFeatures is the features part: per run, features.Builder.Build of
// every month and DuckDB's equivalent query; then the agreement check and
// one profiled build.
func (b *bench) measureFeatures(ctx context.Context, d *featureData) (*featureReport, error) {
	rep := &featureReport{}
	files, err := b.tableFiles(ctx, d.lake, "cdr", "bills", "subscribers")
	if err != nil {
		return nil, err
	}
	spec := featureSpec{CDR: files["cdr"], Bills: files["bills"], Subscribers: files["subscribers"]}
	for _, m := range d.Months {
		spec.Months = append(spec.Months, m.Format(time.DateOnly))
	}
	log.Printf("features: %d CDR, %d bill and %d register data files", len(spec.CDR), len(spec.Bills), len(spec.Subscribers))
	for i := 1; i <= b.opts.runs; i++ {
		tl, built, err := b.featureRun(ctx, d, "")
		if err != nil {
			return nil, fmt.Errorf("feature build run %d: %w", i, err)
		}
		log.Printf("run %d feature build: %s", i, tl)
		rep.Telcolake = append(rep.Telcolake, tl)
		rep.Built = append(rep.Built, built)
		spec.Out = filepath.Join(b.work, "features", fmt.Sprintf("duckdb-run%d.parquet", i))
		dk, rows, err := b.duckdbFeatureRun(ctx, spec)
		if err != nil {
			return nil, fmt.Errorf("duckdb feature run %d: %w", i, err)
		}
		log.Printf("run %d duckdb features: %s, %d rows", i, dk, rows)
		rep.DuckDB = append(rep.DuckDB, dk)
		rep.DuckRows = append(rep.DuckRows, rows)
		if i < b.opts.runs {
			if err := b.dropUnlessKept(spec.Out); err != nil {
				return nil, err
			}
		}
	}
	// The features table now holds the last run's months; compare them
	// with the last DuckDB result.
	ff, err := b.tableFiles(ctx, d.lake, "features")
	if err != nil {
		return nil, err
	}
	if rep.Check, err = compareFeatures(ctx, ff["features"], spec.Out); err != nil {
		return nil, err
	}
	if rep.Check.OK() {
		log.Printf("features check: %d rows agree", rep.Check.Joined)
	} else {
		log.Printf("FEATURES CHECK FAILED: %s", rep.Check.Problem())
	}
	if rep.SQL, err = checkFeatureSQL(ctx, files, ff["features"]); err != nil {
		return nil, err
	}
	if rep.SQL.OK() {
		log.Printf("features.sql check: %d rows agree in every column (%.2f s in DuckDB)", rep.SQL.SQLRows, rep.SQL.Seconds)
	} else {
		log.Printf("FEATURES.SQL CHECK FAILED: %d vs %d rows, %d on one side; differ %v", rep.SQL.TelcolakeRows, rep.SQL.SQLRows, rep.SQL.OnlyOneSide, rep.SQL.Differ)
	}
	if err := b.dropUnlessKept(spec.Out); err != nil {
		return nil, err
	}
	prof := filepath.Join(b.work, "features.pprof")
	res, _, err := b.featureRun(ctx, d, prof)
	if err != nil {
		return nil, fmt.Errorf("profiled feature build: %w", err)
	}
	log.Printf("profiled feature build: %s", res)
	if rep.PprofTop, err = pprofTop(ctx, b.featurebuild, prof); err != nil {
		return nil, err
	}
	if rep.PprofCum, err = pprofTop(ctx, b.featurebuild, prof, "-cum"); err != nil {
		return nil, err
	}
	return rep, nil
}

// featureRun runs 'featurebuild build' on the lake and checks that it built
// every month from every CDR row.
func (b *bench) featureRun(ctx context.Context, d *featureData, cpuprofile string) (runResult, []monthResult, error) {
	args := []string{"build"}
	if cpuprofile != "" {
		args = append(args, "-cpuprofile", cpuprofile)
	}
	cmd := exec.CommandContext(ctx, b.featurebuild, args...)
	cmd.Env = d.lake.env()
	res, out, err := runChild(cmd)
	if err != nil {
		return res, nil, err
	}
	var built []monthResult
	if err := json.Unmarshal(out, &built); err != nil {
		return res, nil, fmt.Errorf("parse featurebuild output %q: %w", tail(string(out), 4000), err)
	}
	if len(built) != len(d.Months) {
		return res, nil, fmt.Errorf("featurebuild built %d months, want %d", len(built), len(d.Months))
	}
	for i, m := range built {
		if !m.Month.Equal(d.Months[i]) || m.CDRRows != d.CDRRows[i] || m.Rows == 0 {
			return res, nil, fmt.Errorf("featurebuild month %d: %s from %d CDR rows into %d rows, want %s from %d CDR rows",
				i+1, m.Month.Format("2006-01"), m.CDRRows, m.Rows, d.Months[i].Format("2006-01"), d.CDRRows[i])
		}
	}
	return res, built, nil
}

// tableFiles lists the data files of the tables' current snapshots with
// 'featurebuild files'.
func (b *bench) tableFiles(ctx context.Context, l lakeDirs, tables ...string) (map[string][]string, error) {
	if b.featurebuild == "" {
		return nil, fmt.Errorf("list data files: featurebuild not built")
	}
	cmd := exec.CommandContext(ctx, b.featurebuild, append([]string{"files"}, tables...)...)
	cmd.Env = l.env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("featurebuild files: %w\n%s", err, tail(stderr.String(), 4000))
	}
	files := map[string][]string{}
	if err := json.Unmarshal(out, &files); err != nil {
		return nil, fmt.Errorf("parse featurebuild files output: %w", err)
	}
	for _, t := range tables {
		if len(files[t]) == 0 {
			return nil, fmt.Errorf("table %s has no data files", t)
		}
	}
	return files, nil
}

// duckdbFeatureRun runs the feature query in a DuckDB child process and
// returns its measurements and the number of rows it wrote.
func (b *bench) duckdbFeatureRun(ctx context.Context, spec featureSpec) (runResult, int64, error) {
	self, err := os.Executable()
	if err != nil {
		return runResult{}, 0, fmt.Errorf("find own binary: %w", err)
	}
	if err := os.Remove(spec.Out); err != nil && !os.IsNotExist(err) {
		return runResult{}, 0, fmt.Errorf("remove old parquet: %w", err)
	}
	specPath := spec.Out + ".json"
	raw, err := json.Marshal(spec)
	if err != nil {
		return runResult{}, 0, fmt.Errorf("encode feature spec: %w", err)
	}
	if err := os.WriteFile(specPath, raw, 0o644); err != nil {
		return runResult{}, 0, fmt.Errorf("write feature spec: %w", err)
	}
	res, out, err := runChild(exec.CommandContext(ctx, self, featuresMode, specPath))
	if err != nil {
		return res, 0, err
	}
	rows, err := strconv.ParseInt(string(bytes.TrimSpace(out)), 10, 64)
	if err != nil {
		return res, 0, fmt.Errorf("parse row count %q: %w", out, err)
	}
	fi, err := os.Stat(spec.Out)
	if err != nil {
		return res, 0, fmt.Errorf("stat parquet: %w", err)
	}
	res.OutBytes = fi.Size()
	return res, rows, nil
}

// trainReport is the train part's measurements.
type trainReport struct {
	Runs    []runResult
	Results []trainResult
}

// trainResult is the part of 'telcolake train -json' the report quotes.
type trainResult struct {
	Version     string        `json:"version"`
	Months      []monthResult `json:"feature_months"`
	TrainWindow string        `json:"train_window"`
	ValidMonth  string        `json:"valid_month"`
	TrainRows   int           `json:"train_rows"`
	ValidRows   int           `json:"valid_rows"`
	Churn       struct {
		Kind       string     `json:"kind"`
		AUC        float64    `json:"auc"`
		AUCCI      [2]float64 `json:"auc_ci95"`
		PRAUC      float64    `json:"pr_auc"`
		Lift10     float64    `json:"lift10"`
		Promoted   bool       `json:"promoted"`
		Candidates []struct {
			Kind         string  `json:"Kind"`
			ValidAUC     float64 `json:"ValidAUC"`
			TrainSeconds float64 `json:"TrainSeconds"`
		} `json:"candidates"`
	} `json:"churn"`
	K          int     `json:"k"`
	Silhouette float64 `json:"silhouette"`
	Seconds    float64 `json:"seconds"`
}

// FeatureSeconds is the time the run spent building feature months.
func (r trainResult) FeatureSeconds() float64 {
	var s float64
	for _, m := range r.Months {
		s += m.Seconds
	}
	return s
}

// trainRepeatBelow is the wall time under which a training run is repeated
// to report a median of three instead of one run.
const trainRepeatBelow = time.Minute

// measureTrain is the train part: 'telcolake train -json' on the features
// lake, once, or three times when one run takes less than a minute.
func (b *bench) measureTrain(ctx context.Context, d *featureData) (*trainReport, error) {
	rep := &trainReport{}
	for i := 1; i <= 3; i++ {
		res, tr, err := b.trainRun(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("training run %d: %w", i, err)
		}
		log.Printf("training run %d: %s; AUC %.4f (%s), %d feature month(s) built",
			i, res, tr.Churn.AUC, tr.Churn.Kind, len(tr.Months))
		rep.Runs = append(rep.Runs, res)
		rep.Results = append(rep.Results, tr)
		if i == 1 && res.Wall >= trainRepeatBelow {
			break
		}
	}
	return rep, nil
}

// trainRun runs 'telcolake train -json' on the features lake.
func (b *bench) trainRun(ctx context.Context, d *featureData) (runResult, trainResult, error) {
	cmd := exec.CommandContext(ctx, b.telcolake, "train", "-json")
	cmd.Env = d.lake.env()
	res, out, err := runChild(cmd)
	if err != nil {
		return res, trainResult{}, err
	}
	var tr trainResult
	if err := json.Unmarshal(out, &tr); err != nil {
		return res, tr, fmt.Errorf("parse train output %q: %w", tail(string(out), 4000), err)
	}
	if tr.Version == "" || tr.ValidRows == 0 || tr.TrainRows == 0 {
		return res, tr, fmt.Errorf("train output without a model: %s", tail(string(out), 4000))
	}
	return res, tr, nil
}
