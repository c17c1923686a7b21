package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// featureVerdict holds the computed comparison of the feature build.
type featureVerdict struct {
	TL, DK       stats
	Ratio        float64 // telcolake wall / DuckDB wall
	TimeMet      bool
	TLCPU, DKCPU time.Duration // median CPU time (user + system)
	CPURatio     float64       // telcolake CPU / DuckDB CPU
	CPUMet       bool
}

// judgeFeatures compares the feature build with DuckDB's query.
func judgeFeatures(r *featureReport, d *featureData) featureVerdict {
	rows := dataset{Rows: d.TotalCDR()}
	v := featureVerdict{TL: summarize(r.Telcolake, rows), DK: summarize(r.DuckDB, rows)}
	if v.DK.Wall > 0 {
		v.Ratio = v.TL.Wall.Seconds() / v.DK.Wall.Seconds()
	}
	v.TimeMet = v.DK.Wall > 0 && v.Ratio <= targetTimeRatio
	cpu := func(x runResult) float64 { return float64(x.CPU) }
	v.TLCPU, v.DKCPU = time.Duration(median(r.Telcolake, cpu)), time.Duration(median(r.DuckDB, cpu))
	if v.DKCPU > 0 {
		v.CPURatio = v.TLCPU.Seconds() / v.DKCPU.Seconds()
	}
	v.CPUMet = v.DKCPU > 0 && v.CPURatio <= targetTimeRatio
	return v
}

func writeFeatures(b *strings.Builder, rep *report) {
	r, d := rep.Features, rep.FeatureData
	v := judgeFeatures(r, d)
	fmt.Fprintf(b, "## Feature build: crm.features\n\n")
	fmt.Fprintf(b, "`features.Builder.Build` of every month (per subscriber and month: CDR aggregates, the month's bill,\n"+
		"the register as of the month's end; written to the Iceberg table `crm.features`) against DuckDB running\n"+
		"the equivalent GROUP BY and joins on the same Parquet data files.\n\n")
	writeFeatureData(b, d, r)
	fmt.Fprintf(b, "### Results (median of %d runs)\n\n", len(r.Telcolake))
	featureResultsTable(b, v)
	fmt.Fprintf(b, "\ntelcolake / DuckDB CPU time (user + system): **%.2f×**; wall time: %.2f× (on a shared machine the\n"+
		"wall time is mostly waiting for a core: compare the CPU time)\n\n", v.CPURatio, v.Ratio)
	fmt.Fprintf(b, "CDR rows/s = CDR rows read over all months / wall time. Output = the Parquet file DuckDB wrote\n"+
		"(telcolake's feature rows go to one Iceberg data file per month).\n\n")
	fmt.Fprintf(b, "### Targets\n\n")
	fmt.Fprintf(b, "| target | measured | met |\n|---|---:|---|\n")
	fmt.Fprintf(b, "| feature build wall time ≤ %.1f× DuckDB's | %.2f× | %s |\n", targetTimeRatio, v.Ratio, yesNo(v.TimeMet))
	fmt.Fprintf(b, "| feature build CPU time ≤ %.1f× DuckDB's | %.2f× | %s |\n\n", targetTimeRatio, v.CPURatio, yesNo(v.CPUMet))
	writeFeatureCheck(b, r.Check)
	writeFeatureSQLCheck(b, r.SQL)
	writeFeatureRuns(b, r)
	fmt.Fprintf(b, "### Where the time goes\n\n")
	fmt.Fprintf(b, "CPU profile of one extra feature build (`featurebuild build -cpuprofile`, not counted above),\n"+
		"`go tool pprof -top -nodecount=25` (by flat time):\n\n```\n%s\n```\n\n", r.PprofTop)
	fmt.Fprintf(b, "The same profile by cumulative time (`-top -cum -nodecount=25`):\n\n```\n%s\n```\n\n", r.PprofCum)
	writeFeatureNotes(b, rep)
}

func writeFeatureData(b *strings.Builder, d *featureData, r *featureReport) {
	o := d.Months
	fmt.Fprintf(b, "### Data\n\n")
	fmt.Fprintf(b, "`telcolake gen -subs %d -months %d -start %s -cdr-span month -mess=false` (%.1f s, %d files,\n"+
		"%.1f MB of CSV), all ingested into one lake with `telcolake ingest` (%.1f s, peak RSS %.0f MiB; one run,\n"+
		"for context). Rows per month, as generated and as built:\n\n",
		d.Subs, len(o), o[0].Format("2006-01"), d.GenWall.Seconds(), d.Files, float64(d.CSVBytes)/1e6,
		d.Ingest.Wall.Seconds(), kibToMiB(d.Ingest.MaxRSSKiB))
	fmt.Fprintf(b, "| month | CDR rows | feature rows (subscribers) |\n|---|---:|---:|\n")
	var built []monthResult
	if len(r.Built) > 0 {
		built = r.Built[len(r.Built)-1]
	}
	for i, m := range o {
		var rows int64
		if i < len(built) {
			rows = built[i].Rows
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", m.Format("2006-01"), thousands(d.CDRRows[i]), thousands(rows))
	}
	fmt.Fprintf(b, "| **all** | **%s** | **%s** |\n\n", thousands(d.TotalCDR()), thousands(r.RowsOut()))
	fmt.Fprintf(b, "Also in the lake: %s bill rows, %s register rows in %d monthly snapshots. %s subscribers\n"+
		"were generated (including those who join during the window); a month's feature rows are its customers\n"+
		"at the month's end. One month holds at most %s CDR rows (about %s per customer and month), so the\n"+
		"data set spans %d months (`-feature-months`) to reach about 10M rows in all, and every month is built;\n"+
		"4 is also the fewest months a training run accepts with its default 2-month horizon (train on T−3,\n"+
		"validate on T−2).\n\n",
		thousands(d.BillRows), thousands(d.RegisterRow), d.Snapshots, thousands(int64(d.Subs)),
		thousands(slices.Max(d.CDRRows)), thousands(d.TotalCDR()/r.RowsOut()), len(o))
}

// featureResultsTable writes the main comparison table of the feature build.
func featureResultsTable(w io.Writer, v featureVerdict) {
	fmt.Fprintf(w, "| tool | CPU s | wall s | CDR rows/s | peak RSS MiB (median) | peak RSS MiB (max) | output MB |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(w, "| telcolake `features.Builder.Build` | %.2f | %.2f | %s | %.0f | %.0f | – |\n", v.TLCPU.Seconds(), v.TL.Wall.Seconds(),
		thousands(int64(v.TL.RowsPerSec)), v.TL.RSSMiB, v.TL.MaxRSSMiB)
	fmt.Fprintf(w, "| DuckDB GROUP BY + joins → Parquet (zstd) | %.2f | %.2f | %s | %.0f | %.0f | %.1f |\n", v.DKCPU.Seconds(), v.DK.Wall.Seconds(),
		thousands(int64(v.DK.RowsPerSec)), v.DK.RSSMiB, v.DK.MaxRSSMiB, float64(v.DK.OutBytes)/1e6)
}

// checkLine is the one-line verdict of the agreement check.
func checkLine(c featureCheck) string {
	if c.OK() {
		return fmt.Sprintf("agree: %s rows, every compared column equal", thousands(c.Joined))
	}
	return "**MISMATCH**: " + c.Problem()
}

func writeFeatureCheck(b *strings.Builder, c featureCheck) {
	fmt.Fprintf(b, "### Agreement check\n\n")
	fmt.Fprintf(b, "The last run's `crm.features` rows (data files of the table's current snapshot) joined with\n"+
		"DuckDB's last result on (month, subscriber_id): %s.\n\n", checkLine(c))
	fmt.Fprintf(b, "| | telcolake | DuckDB |\n|---|---:|---:|\n")
	fmt.Fprintf(b, "| rows | %s | %s |\n", thousands(c.TelcolakeRows), thousands(c.DuckDBRows))
	fmt.Fprintf(b, "| total voice calls | %s | %s |\n", thousands(c.VoiceCalls[0]), thousands(c.VoiceCalls[1]))
	fmt.Fprintf(b, "| total distinct contacts (summed over subscriber-months) | %s | %s |\n", thousands(c.Contacts[0]), thousands(c.Contacts[1]))
	fmt.Fprintf(b, "| total SMS | %s | %s |\n", thousands(c.SMS[0]), thousands(c.SMS[1]))
	fmt.Fprintf(b, "| total active days | %s | %s |\n\n", thousands(c.ActiveDays[0]), thousands(c.ActiveDays[1]))
	fmt.Fprintf(b, "- rows on one side only: %s\n", thousands(c.OnlyOneSide))
	fmt.Fprintf(b, "- compared exactly, row by row: %s\n", codeList(exactColumns))
	fmt.Fprintf(b, "- compared as floating point (relative difference ≤ %g), row by row: %s\n", checkTolerance, codeList(floatColumns))
	fmt.Fprintf(b, "- rows that differ, per column: %s\n\n", differList(c))
}

// codeList formats names as a comma-separated list of code spans.
func codeList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "`" + n + "`"
	}
	return strings.Join(q, ", ")
}

// differList lists the columns with differing rows, or says there are none.
func differList(c featureCheck) string {
	var p []string
	for _, col := range append(append([]string{}, exactColumns...), floatColumns...) {
		if n := c.Differ[col]; n != 0 {
			p = append(p, fmt.Sprintf("`%s` %s", col, thousands(n)))
		}
	}
	if len(p) == 0 {
		return "none"
	}
	return "**" + strings.Join(p, ", ") + "**"
}

func writeFeatureRuns(b *strings.Builder, r *featureReport) {
	fmt.Fprintf(b, "### Individual runs\n\n")
	fmt.Fprintf(b, "Each run: telcolake rebuilds every month (replacing the months it built before), then DuckDB.\n"+
		"Per-month seconds are the builder's own timings (`MonthResult.Seconds`), inside the telcolake wall time.\n\n")
	fmt.Fprintf(b, "| run | telcolake CPU s | telcolake s | per month s | telcolake RSS MiB | DuckDB CPU s | DuckDB s | DuckDB RSS MiB | DuckDB rows |\n")
	fmt.Fprintf(b, "|---:|---:|---:|---|---:|---:|---:|---:|---:|\n")
	for i := range r.Telcolake {
		t, d := r.Telcolake[i], r.DuckDB[i]
		var per []string
		for _, m := range r.Built[i] {
			per = append(per, fmt.Sprintf("%.2f", m.Seconds))
		}
		fmt.Fprintf(b, "| %d | %.2f | %.2f | %s | %.0f | %.2f | %.2f | %.0f | %s |\n", i+1, t.CPU.Seconds(), t.Wall.Seconds(), strings.Join(per, " / "),
			kibToMiB(t.MaxRSSKiB), d.CPU.Seconds(), d.Wall.Seconds(), kibToMiB(d.MaxRSSKiB), thousands(r.DuckRows[i]))
	}
	b.WriteString("\n")
}

func writeFeatureNotes(b *strings.Builder, rep *report) {
	fmt.Fprintf(b, "### How it is measured\n\n")
	fmt.Fprintf(b, "- Both sides run as child processes of the bench program (wall time from start to exit, peak RSS\n"+
		"  from wait4), with all %d cores: telcolake with the default GOMAXPROCS, DuckDB with its default threads (%d).\n",
		rep.Machine.CPUs, rep.DuckDBThreads)
	fmt.Fprintf(b, "- telcolake: `bench/featurebuild` opens the lake from the environment as `telcolake train` does\n"+
		"  (`lake.FromEnv`, `lake.Open`; file warehouse, SQLite catalog) and calls `features.Builder.Build` with every\n"+
		"  month that has bills (`features.BillMonths`). Its wall time includes opening the catalog, reading the register\n"+
		"  and the bills, scanning crm.cdr month by month, and committing one snapshot per month. Each month must report\n"+
		"  exactly the CDR rows generated for it.\n")
	fmt.Fprintf(b, "- DuckDB (in-process, duckdb-go) runs one `COPY (…) TO out.parquet (FORMAT parquet, COMPRESSION zstd)` over\n"+
		"  `read_parquet` of the data files of crm.cdr, crm.bills and crm.subscribers listed from each table's current\n"+
		"  snapshot with iceberg-go (`featurebuild files`, before the timed run; no table has delete files). The query\n"+
		"  (`featureQuery` in `bench/duckdb_features.go`) groups the CDR by subscriber and month with the same filters\n"+
		"  as the Go code (voice/SMS/data, care line, Mon–Fri 08:00–19:59 UTC peak, charge ≥ 1.00, COUNT(DISTINCT\n"+
		"  other_party_hash) over voice and SMS without the care line, distinct days), joins the month's bill and the\n"+
		"  register as of the month's end, and keeps the month's customers. It does not compute the trends against\n"+
		"  earlier months, months in arrears, age band or tenure, which telcolake also writes.\n")
	fmt.Fprintf(b, "- The data files were written just before the runs, so both read them from the page cache.\n\n")
}

func writeTrain(b *strings.Builder, rep *report) {
	r, d := rep.Train, rep.FeatureData
	fmt.Fprintf(b, "## Training run\n\n")
	fmt.Fprintf(b, "`telcolake train -json` (`training.Runner.Run`, wired as in `cmd/telcolake/train.go`: `lake.Open`,\n"+
		"`conn.Blobs(\"models\")`, `registry.Registry`; default options: 2-month horizon, seed 1) on the lake of the\n"+
		"feature build above: %s subscribers, %d months (%s … %s), %s CDR rows.\n\n",
		thousands(int64(d.Subs)), len(d.Months), d.Months[0].Format("2006-01"), d.Months[len(d.Months)-1].Format("2006-01"),
		thousands(d.TotalCDR()))
	if len(r.Runs) > 1 {
		fmt.Fprintf(b, "One run took under %.0f s, so it ran %d times; the wall time is the median.\n\n",
			trainRepeatBelow.Seconds(), len(r.Runs))
	} else {
		fmt.Fprintf(b, "One run (it took %.0f s or more).\n\n", trainRepeatBelow.Seconds())
	}
	trainTable(b, r)
	fmt.Fprintf(b, "\n")
	fmt.Fprintf(b, "| run | wall s | peak RSS MiB | feature months rebuilt (s) | train window | valid month | train rows | valid rows | model | valid AUC | promoted |\n")
	fmt.Fprintf(b, "|---:|---:|---:|---|---|---|---:|---:|---|---:|---|\n")
	for i, run := range r.Runs {
		t := r.Results[i]
		var months []string
		for _, m := range t.Months {
			months = append(months, fmt.Sprintf("%s (%.2f)", m.Month.Format("2006-01"), m.Seconds))
		}
		fmt.Fprintf(b, "| %d | %.2f | %.0f | %s | %s | %s | %s | %s | %s | %.4f | %v |\n", i+1, run.Wall.Seconds(),
			kibToMiB(run.MaxRSSKiB), strings.Join(months, ", "), t.TrainWindow, t.ValidMonth,
			thousands(int64(t.TrainRows)), thousands(int64(t.ValidRows)), t.Churn.Kind, t.Churn.AUC, t.Churn.Promoted)
	}
	if rep.Features != nil {
		fmt.Fprintf(b, "\n- The features part built every month before, so a run rebuilds only the newest month (as the\n"+
			"  monthly run does), ")
	} else {
		fmt.Fprintf(b, "\n- No feature months were built before, so the first run builds every month; a run ")
	}
	fmt.Fprintf(b, "then loads the feature months, labels them from the register, segments the validation\n"+
		"  month, trains the churn candidates, writes artifacts and report, and records the run in crm.model_runs.\n")
	fmt.Fprintf(b, "- AUC is the selected churn model's out-of-time validation AUC as the run reports it (quoted, not a target).\n")
	if t := r.Results[0]; len(t.Churn.Candidates) > 0 {
		var c []string
		for _, k := range t.Churn.Candidates {
			c = append(c, fmt.Sprintf("%s AUC %.4f in %.1f s", k.Kind, k.ValidAUC, k.TrainSeconds))
		}
		fmt.Fprintf(b, "- Candidates of run 1: %s.\n", strings.Join(c, "; "))
	}
	b.WriteString("\n")
}

// trainTable writes the headline numbers of the training runs.
func trainTable(w io.Writer, r *trainReport) {
	wall := time.Duration(median(r.Runs, func(x runResult) float64 { return float64(x.Wall) }))
	rss := kibToMiB(int64(median(r.Runs, func(x runResult) float64 { return float64(x.MaxRSSKiB) })))
	var maxRSS float64
	for _, x := range r.Runs {
		maxRSS = max(maxRSS, kibToMiB(x.MaxRSSKiB))
	}
	t := r.Results[0]
	fmt.Fprintf(w, "| runs | wall s (median) | peak RSS MiB (median) | peak RSS MiB (max) | churn model | valid AUC (95%% CI) | PR-AUC | lift@10%% | segments (k) | silhouette |\n")
	fmt.Fprintf(w, "|---:|---:|---:|---:|---|---|---:|---:|---:|---:|\n")
	fmt.Fprintf(w, "| %d | %.2f | %.0f | %.0f | %s | %.4f (%.4f–%.4f) | %.4f | %.2f | %d | %.3f |\n", len(r.Runs),
		wall.Seconds(), rss, maxRSS, t.Churn.Kind, t.Churn.AUC, t.Churn.AUCCI[0], t.Churn.AUCCI[1], t.Churn.PRAUC,
		t.Churn.Lift10, t.K, t.Silhouette)
}
