package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/telcolake/telcolake/lake"
)

// Targets telcolake is held to.
const (
	targetTimeRatio = 0.8 // ingest and feature build wall time ≤ this × DuckDB's
	targetRSSMiB    = 512 // peak RSS of the ingest process
)

// stats summarises the runs of one tool.
type stats struct {
	Wall       time.Duration // median
	RSSMiB     float64       // median peak RSS
	MaxRSSMiB  float64       // highest peak RSS of any run
	OutBytes   int64         // median output size
	RowsPerSec float64
	MBPerSec   float64
}

// verdict holds the computed comparison and target checks.
type verdict struct {
	TL, DK stats
	Ratio  float64 // telcolake wall / DuckDB wall
	// DJ are DuckDB's runs of the same job (none in reports from before
	// it), JobRatio telcolake's wall over theirs (0 without).
	DJ        stats
	JobRatio  float64
	TimeMet   bool
	MemoryMet bool
}

// summarize computes the medians and throughputs of runs over d.
func summarize(runs []runResult, d dataset) stats {
	var s stats
	s.Wall = time.Duration(median(runs, func(r runResult) float64 { return float64(r.Wall) }))
	s.RSSMiB = kibToMiB(int64(median(runs, func(r runResult) float64 { return float64(r.MaxRSSKiB) })))
	s.OutBytes = int64(median(runs, func(r runResult) float64 { return float64(r.OutBytes) }))
	for _, r := range runs {
		s.MaxRSSMiB = max(s.MaxRSSMiB, kibToMiB(r.MaxRSSKiB))
	}
	if sec := s.Wall.Seconds(); sec > 0 {
		s.RowsPerSec = float64(d.Rows) / sec
		s.MBPerSec = float64(d.Bytes) / 1e6 / sec
	}
	return s
}

// judge compares the two tools' ingest and checks the targets.
func judge(rep *ingestReport) verdict {
	v := verdict{TL: summarize(rep.Telcolake, rep.Data), DK: summarize(rep.DuckDB, rep.Data)}
	if v.DK.Wall > 0 {
		v.Ratio = v.TL.Wall.Seconds() / v.DK.Wall.Seconds()
	}
	if len(rep.DuckDBJob) > 0 {
		v.DJ = summarize(rep.DuckDBJob, rep.Data)
		if v.DJ.Wall > 0 {
			v.JobRatio = v.TL.Wall.Seconds() / v.DJ.Wall.Seconds()
		}
	}
	v.TimeMet = v.DK.Wall > 0 && v.Ratio <= targetTimeRatio
	v.MemoryMet = v.TL.MaxRSSMiB <= targetRSSMiB
	return v
}

// median returns the median of f over runs (the mean of the middle two for
// an even count).
func median(runs []runResult, f func(runResult) float64) float64 {
	if len(runs) == 0 {
		return 0
	}
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = f(r)
	}
	slices.Sort(xs)
	mid := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[mid]
	}
	return (xs[mid-1] + xs[mid]) / 2
}

// writeReport merges the sections of the parts that ran (ingest,
// features, train) into the report at path, each between its own
// markers, and leaves every other section of the file as it was; the
// head (title and machine) is rewritten with them.
func writeReport(path string, rep *report) error {
	var head strings.Builder
	writeHeader(&head, rep)
	writeMachine(&head, rep)
	sections := []struct{ name, text string }{{sectionHead, head.String()}}
	if r := rep.Ingest; r != nil {
		var b strings.Builder
		v := judge(r)
		fmt.Fprintf(&b, "## Ingest: CSV → crm.cdr\n\n")
		job := ""
		if len(r.DuckDBJob) > 0 {
			job = ", and against DuckDB doing the same job\n(the other party's number hashed, a file per day × bucket: see How it is measured)"
		}
		fmt.Fprintf(&b, "`telcolake ingest` of one large CDR export (CSV → Iceberg table `crm.cdr`) against DuckDB\n"+
			"converting the same CSV to one zstd Parquet file%s. %s\n\n", job, measuredLine(rep, r.Load+" at the start, "+r.LoadEnd+" at the end"))
		writeData(&b, r)
		writeResults(&b, r, v)
		writeTargets(&b, v)
		writeRuns(&b, r)
		writeProfile(&b, r)
		writeNotes(&b, rep)
		sections = append(sections, struct{ name, text string }{sectionIngest, b.String()})
	}
	if rep.Features != nil {
		var b strings.Builder
		writeFeatures(&b, rep)
		sections = append(sections, struct{ name, text string }{sectionFeatures, afterHeading(b.String(), measuredLine(rep, rep.Load))})
	}
	if rep.Train != nil {
		var b strings.Builder
		writeTrain(&b, rep)
		sections = append(sections, struct{ name, text string }{sectionTrain, afterHeading(b.String(), measuredLine(rep, rep.Load))})
	}
	for _, sec := range sections {
		if err := mergeSection(path, sec.name, sec.text); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}

// Names of the report's sections written by writeReport.
const (
	sectionHead     = "bench:head"
	sectionIngest   = "bench:ingest"
	sectionFeatures = "bench:features"
	sectionTrain    = "bench:train"
)

// mergeSection puts text between the markers <!-- name:begin --> and
// <!-- name:end --> of the markdown file at path: in place of what was
// between them, or at the end of the file (the head at its start) when
// the markers are not there yet. The rest of the file is kept byte for byte.
func mergeSection(path, name, text string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	block := begin + "\n" + strings.TrimRight(text, "\n") + "\n" + end
	s := string(old)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	switch {
	case i >= 0 && j > i:
		s = s[:i] + block + s[j+len(end):]
	case name == sectionHead:
		s = block + "\n\n" + s
	case strings.TrimSpace(s) == "":
		s = block + "\n"
	default:
		s = strings.TrimRight(s, "\n") + "\n\n" + block + "\n"
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// measuredLine says when, at which commit and at what load a section's
// figures were measured (sections of other runs may be older).
func measuredLine(rep *report, load string) string {
	return fmt.Sprintf("Measured %s at commit `%s`, load average %s (1, 5, 15 min; the machine is shared).",
		rep.Date.Format("2006-01-02 15:04 UTC"), rep.Commit, load)
}

// afterHeading inserts the paragraph p after the first line (a heading) of text.
func afterHeading(text, p string) string {
	h, rest, _ := strings.Cut(text, "\n")
	return h + "\n\n" + p + "\n" + rest
}

// loadAverage is the machine's load average now, as /proc/loadavg gives it.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func writeHeader(b *strings.Builder, rep *report) {
	fmt.Fprintf(b, "# Benchmarks\n\n")
	fmt.Fprintf(b, "telcolake against DuckDB on the same data. Written by the bench program (`bench/`): each part\n"+
		"(`-parts ingest,features,train,api,cube,console,queue,ledger,shards`) replaces only its own section, which\n"+
		"says when and at which commit it was measured. Do not edit by hand: rerun it.\n\n")
	fmt.Fprintf(b, "Reproduce the last run of the ingest, feature and training parts from the repository root:\n\n```sh\n%s\n```\n\n", reproduceCommand(rep.Opts))
}

// joinAnd joins words as "a, b and c".
func joinAnd(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// reproduceCommand is the command line that repeats the run.
func reproduceCommand(o options) string {
	def, err := parseFlags(nil, io.Discard)
	if err != nil {
		panic(err) // the defaults parse: a programming error otherwise
	}
	cmd := fmt.Sprintf("cd bench && go run . -subs %d -months %d -runs %d", o.subs, o.months, o.runs)
	if o.has(partFeatures) || o.has(partTrain) {
		cmd += fmt.Sprintf(" -feature-months %d -feature-start %s", o.featureMonths, o.featureStart.Format("2006-01"))
	}
	if !slices.Equal(o.parts, allParts) {
		cmd += " -parts " + strings.Join(o.parts, ",")
	}
	if o.subs == def.subs && o.months == def.months && o.runs == def.runs && slices.Equal(o.parts, def.parts) &&
		o.featureMonths == def.featureMonths && o.featureStart.Equal(def.featureStart) {
		return "make bench   # = " + cmd
	}
	return cmd
}

func writeMachine(b *strings.Builder, rep *report) {
	m := rep.Machine
	fmt.Fprintf(b, "## Machine\n\n")
	fmt.Fprintf(b, "| | |\n|---|---|\n")
	fmt.Fprintf(b, "| CPUs (nproc) | %d |\n", m.CPUs)
	fmt.Fprintf(b, "| CPU model | %s |\n", m.CPUModel)
	fmt.Fprintf(b, "| memory | %.1f GiB |\n", float64(m.MemKiB)/(1<<20))
	fmt.Fprintf(b, "| OS/arch | %s |\n", m.OS)
	fmt.Fprintf(b, "| Go | %s |\n", m.GoVersion)
	fmt.Fprintf(b, "| DuckDB | %s (duckdb-go driver), threads = %d (its default: all cores) |\n", rep.DuckDBVersion, rep.DuckDBThreads)
	fmt.Fprintf(b, "| telcolake | commit %s, GOMAXPROCS default (%d) |\n\n", rep.Commit, m.CPUs)
}

func writeData(b *strings.Builder, rep *ingestReport) {
	d := rep.Data
	fmt.Fprintf(b, "### Data\n\n")
	fmt.Fprintf(b, "`telcolake gen -subs %d -months %d -cdr-span month -mess=false` (%.1f s), then its %d monthly CDR\n"+
		"files concatenated under one header into `landing/%s`:\n\n", d.Subs, d.Months, d.GenWall.Seconds(), d.Files, cdrKey)
	fmt.Fprintf(b, "| subscribers | months | rows | size |\n|---:|---:|---:|---:|\n")
	fmt.Fprintf(b, "| %s | %d | %s | %.1f MB (%.1f MiB) |\n\n", thousands(int64(d.Subs)), d.Months, thousands(d.Rows),
		float64(d.Bytes)/1e6, float64(d.Bytes)/(1<<20))
}

func writeResults(b *strings.Builder, rep *ingestReport, v verdict) {
	fmt.Fprintf(b, "### Results (median of %d runs)\n\n", len(rep.Telcolake))
	resultsTable(b, v)
	fmt.Fprintf(b, "\ntelcolake / DuckDB wall time: **%.2f×**\n\n", v.Ratio)
	if v.JobRatio > 0 {
		fmt.Fprintf(b, "telcolake / DuckDB doing the same job (numbers hashed, files per day × bucket): **%.2f×**\n\n", v.JobRatio)
	}
	fmt.Fprintf(b, "MB = 10⁶ bytes of CSV input; MiB = 2²⁰ bytes. Output = bytes written: the Iceberg table directory\n"+
		"(data + metadata) for telcolake, the Parquet file (or files) for DuckDB.\n\n")
}

// resultsTable writes the main comparison table.
func resultsTable(w io.Writer, v verdict) {
	fmt.Fprintf(w, "| tool | wall s | rows/s | MB/s | peak RSS MiB (median) | peak RSS MiB (max) | output MB |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|\n")
	row := func(name string, s stats) {
		fmt.Fprintf(w, "| %s | %.2f | %s | %.1f | %.0f | %.0f | %.1f |\n", name, s.Wall.Seconds(),
			thousands(int64(s.RowsPerSec)), s.MBPerSec, s.RSSMiB, s.MaxRSSMiB, float64(s.OutBytes)/1e6)
	}
	row("telcolake ingest (CSV → Iceberg)", v.TL)
	row("DuckDB CSV → Parquet (zstd)", v.DK)
	if v.DJ.Wall > 0 {
		row("DuckDB, the same job: number hashed, Parquet per day × bucket", v.DJ)
	}
}

func writeTargets(b *strings.Builder, v verdict) {
	fmt.Fprintf(b, "### Targets\n\n")
	targetsTable(b, v)
	b.WriteString("\n")
}

// targetsTable writes the computed target checks.
func targetsTable(w io.Writer, v verdict) {
	fmt.Fprintf(w, "| target | measured | met |\n|---|---:|---|\n")
	fmt.Fprintf(w, "| ingest wall time ≤ %.1f× DuckDB's | %.2f× | %s |\n", targetTimeRatio, v.Ratio, yesNo(v.TimeMet))
	fmt.Fprintf(w, "| ingest peak RSS ≤ %d MiB (max over runs) | %.0f MiB | %s |\n", targetRSSMiB, v.TL.MaxRSSMiB, yesNo(v.MemoryMet))
}

func writeRuns(b *strings.Builder, rep *ingestReport) {
	fmt.Fprintf(b, "### Individual runs\n\n")
	job := len(rep.DuckDBJob) == len(rep.Telcolake)
	if job {
		fmt.Fprintf(b, "Each run: telcolake into a fresh warehouse and catalog, then DuckDB, then DuckDB's same job.\n\n")
	} else {
		fmt.Fprintf(b, "Each run: telcolake into a fresh warehouse and catalog, then DuckDB.\n\n")
	}
	fmt.Fprintf(b, "| run | telcolake s | telcolake CPU s | telcolake RSS MiB | telcolake output MB | DuckDB s | DuckDB CPU s | DuckDB RSS MiB | DuckDB output MB | CPU ratio |")
	if job {
		fmt.Fprintf(b, " same job s | same job CPU s | same job RSS MiB | same job output MB | CPU ratio to it |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	} else {
		fmt.Fprintf(b, "\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	}
	cpuRatio := func(t, d runResult) float64 {
		if d.CPU > 0 {
			return t.CPU.Seconds() / d.CPU.Seconds()
		}
		return 0
	}
	for i := range rep.Telcolake {
		t, d := rep.Telcolake[i], rep.DuckDB[i]
		fmt.Fprintf(b, "| %d | %.2f | %.2f | %.0f | %.1f | %.2f | %.2f | %.0f | %.1f | %.2f× |", i+1,
			t.Wall.Seconds(), t.CPU.Seconds(), kibToMiB(t.MaxRSSKiB), float64(t.OutBytes)/1e6,
			d.Wall.Seconds(), d.CPU.Seconds(), kibToMiB(d.MaxRSSKiB), float64(d.OutBytes)/1e6, cpuRatio(t, d))
		if job {
			j := rep.DuckDBJob[i]
			fmt.Fprintf(b, " %.2f | %.2f | %.0f | %.1f | %.2f× |", j.Wall.Seconds(), j.CPU.Seconds(),
				kibToMiB(j.MaxRSSKiB), float64(j.OutBytes)/1e6, cpuRatio(t, j))
		}
		b.WriteString("\n")
	}
	b.WriteString("\nCPU s = the child's user + system time (wait4): on a shared machine the fairer figure, since wall time\n" +
		"depends on the share of the cores each tool got.\n\n")
}

func writeProfile(b *strings.Builder, rep *ingestReport) {
	fmt.Fprintf(b, "### Where the time goes\n\n")
	fmt.Fprintf(b, "CPU profile of one extra ingest (`telcolake ingest -cpuprofile`, not counted above),\n"+
		"`go tool pprof -top -nodecount=25` (by flat time):\n\n```\n%s\n```\n\n", rep.PprofTop)
	fmt.Fprintf(b, "The same profile by cumulative time (`-top -cum -nodecount=25`):\n\n```\n%s\n```\n\n", rep.PprofCum)
}

func writeNotes(b *strings.Builder, rep *report) {
	fmt.Fprintf(b, "### How it is measured\n\n")
	fmt.Fprintf(b, "- Both tools run as child processes of the bench program; wall time is from start to exit,\n"+
		"  peak RSS is that child's `ru_maxrss` as reported by wait4.\n")
	fmt.Fprintf(b, "- Both use all %d cores: telcolake with the default GOMAXPROCS, DuckDB with its default threads (%d).\n",
		rep.Machine.CPUs, rep.DuckDBThreads)
	fmt.Fprintf(b, "- The CSV was written just before the runs, so both read it from the page cache.\n")
	fmt.Fprintf(b, "- DuckDB runs `COPY (SELECT * FROM read_csv(in, header=true, auto_detect=true)) TO out (FORMAT parquet, COMPRESSION zstd)`\n"+
		"  in-process (duckdb-go); its row count is checked on the Parquet file afterwards. telcolake must report\n"+
		"  `committed` with every row ok and none rejected.\n")
	fmt.Fprintf(b, "- The work differs: telcolake also validates every value, pseudonymises numbers, and commits an Iceberg\n"+
		"  snapshot to its catalog; DuckDB only parses and writes. The ratio target accounts for that.\n")
	if len(rep.Ingest.DuckDBJob) > 0 {
		fmt.Fprintf(b, "- DuckDB's same job is as much of telcolake's as SQL says: the other party's number replaced by\n"+
			"  `left(hex(sha256(key || other_party)), 32)` (one SHA-256 block where telcolake's HMAC hashes two) and the\n"+
			"  rows written `PARTITION_BY (start_day, bucket)` with `hash(subscriber_id) %% %d` as the bucket, one\n"+
			"  zstd Parquet file per day and bucket as crm.cdr has; not the checks of every value, the rejects report,\n"+
			"  the de-duplication of call ids or the commit. The target stays the ratio to the plain conversion.\n", lake.SubscriberBuckets)
	}
	b.WriteString("\n")
}

// printSummary prints the headline numbers to w.
func printSummary(w io.Writer, rep *report) {
	if r := rep.Ingest; r != nil {
		v := judge(r)
		fmt.Fprintf(w, "\nIngest: %s rows, %.1f MB CSV, median of %d runs:\n\n", thousands(r.Data.Rows), float64(r.Data.Bytes)/1e6, len(r.Telcolake))
		resultsTable(w, v)
		fmt.Fprintf(w, "\ntelcolake / DuckDB wall time: %.2f×\n", v.Ratio)
		if v.JobRatio > 0 {
			fmt.Fprintf(w, "telcolake / DuckDB doing the same job: %.2f×\n", v.JobRatio)
		}
		fmt.Fprintln(w)
		targetsTable(w, v)
	}
	if r := rep.Features; r != nil {
		v := judgeFeatures(r, rep.FeatureData)
		fmt.Fprintf(w, "\nFeature build: %s CDR rows → %s feature rows, median of %d runs:\n\n",
			thousands(rep.FeatureData.TotalCDR()), thousands(r.RowsOut()), len(r.Telcolake))
		featureResultsTable(w, v)
		fmt.Fprintf(w, "\ntelcolake / DuckDB wall time: %.2f×\n", v.Ratio)
		fmt.Fprintf(w, "agreement check: %s\n", checkLine(r.Check))
	}
	if r := rep.Train; r != nil {
		fmt.Fprintf(w, "\nTraining run:\n\n")
		trainTable(w, r)
	}
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func kibToMiB(kib int64) float64 { return float64(kib) / 1024 }

// thousands formats n with comma separators.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// mergeMarked puts section, which starts with begin and ends with end (a
// bench part's own markers), into the report at path: in place of the
// text between the markers, or appended; a missing report starts with the
// heading. The rest of the report is left as it is.
func mergeMarked(path, begin, end, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	switch {
	case i >= 0 && j > i:
		s = s[:i] + strings.TrimSuffix(section, "\n") + s[j+len(end):]
	case s == "":
		s = "# Benchmarks\n\n" + section
	default:
		s = strings.TrimRight(s, "\n") + "\n\n" + section
	}
	return os.WriteFile(path, []byte(s), 0o644)
}
