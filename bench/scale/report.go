package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/telcolake/telcolake/bench/proc"
)

// The scale section sits between these markers in BENCHMARKS.md.
const (
	scaleBegin = "<!-- scale:begin -->"
	scaleEnd   = "<!-- scale:end -->"
)

// Prices of the projection (AWS us-east-1, list prices as of 2026-11):
// Lambda on arm64 per GB-second and per request, Step Functions standard
// workflows per state transition.
const (
	pricePerGBs        = 0.0000133334
	pricePerRequest    = 0.20 / 1e6
	pricePerTransition = 0.025 / 1000
	pricePerPUT        = 0.005 / 1000 // S3 standard, PUT, COPY, POST, LIST
	pricePerGET        = 0.0004 / 1000
	lambdaMaxMB        = 10240
	targetSubs         = 100_000_000
	// targetShards is the serving shards the projection assumes at
	// targetSubs: serving.MaxShards, the most the layout takes.
	targetShards = 256
)

type report struct {
	Opts                options
	Start               time.Time
	LoadStart, LoadEnd  string
	CDRRows             int64
	Files               int
	CSVBytes            int64
	IngestedCDRRows     int64 // with -cdr-every, fewer than CDRRows
	CDRFiles            int   // daily CDR files generated (the window's days)
	Stages              []stage
	Total               time.Duration
	API                 apiAnswer
	Concurrency         int    // the Map states' MaxConcurrency in this run
	TemplateConcurrency int    // the template's
	Work                string // the work directory
	Done                bool   // false: the run stopped (or is still going) after the stages listed
	Cores               int    // the machine's (runtime.NumCPU)
	Nice                int    // the run's nice value (its children's too)

	mu sync.Mutex // flushes: the bucket invocations end concurrently
}

// flush writes the section with the stages done so far, so that a run
// cut short still leaves its figures.
// The stages are also kept in the work directory (stagesFile), for a
// later run with -from.
func (r *report) flush(path string, t0 time.Time) {
	r.flushWith(path, t0)
}

// flushWith writes the section with extra, unfinished stages after the
// finished ones (the stages file keeps the finished only).
func (r *report) flushWith(path string, t0 time.Time, extra ...stage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	done := r.Stages
	r.Stages = append(slices.Clone(done), extra...)
	defer func() { r.Stages = done }()
	r.Total, r.LoadEnd = time.Since(t0), proc.LoadAvg1()
	if err := mergeSection(path, r.section()); err != nil {
		fmt.Fprintln(os.Stderr, "scale: write report:", err)
	}
	if raw, err := json.Marshal(done); err == nil {
		_ = os.WriteFile(filepath.Join(r.Work, stagesFile), raw, 0o644)
	}
}

// stagesFile holds a run's stages in its work directory.
const stagesFile = "stages.json"

// earlierStages are the first n stages of the run kept in work.
func earlierStages(work string, n int) ([]stage, error) {
	raw, err := os.ReadFile(filepath.Join(work, stagesFile))
	if err != nil {
		return nil, fmt.Errorf("the earlier stages: %w", err)
	}
	var st []stage
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("the earlier stages: %w", err)
	}
	return st[:min(n, len(st))], nil
}

func (r *report) section() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("%s\n## `make scale`: the whole path at %s subscribers\n\n", scaleBegin, thousands(int64(r.Opts.subs)))
	p("Run %s UTC on %d cores (load average %s at the start, %s at the end%s). `telcolake gen -subs %d -months %d -start %s -cdr-span day`:\n"+
		"%s CDR rows in %d files (%.1f GB of %s). Every function invocation is a child process running the\n"+
		"handler its `main` hands to `lambda.Start` (`bench/scale`, hidden `-step` mode), with the file warehouse\n"+
		"and the SQLite catalog; the state machines are the template's definitions run by the local stack's\n"+
		"interpreter (`localstack.Execution`), Map at MaxConcurrency %d. Peak RSS is wait4's for that child alone;\n"+
		"MemorySize is the function's in `infra/template.yaml`.\n\n",
		r.Start.Format("2006-01-02 15:04"), r.cores(), r.LoadStart, r.LoadEnd,
		map[bool]string{true: "", false: ": the machine is shared with\nother work, so times are upper bounds"}[r.Nice > 0], r.Opts.subs, r.Opts.months, r.Opts.start,
		thousands(r.CDRRows), r.Files, float64(r.CSVBytes)/1e9, map[bool]string{true: "gzip CSV", false: "CSV"}[r.Opts.gzip], r.mapConcurrency())
	if r.Nice > 0 {
		p("The machine is shared with other sessions and this run ran at nice %d: it took only the CPU they left idle, so\n"+
			"its wall times are neither this machine's nor Lambda's. What counts is each invocation's CPU time (user + system),\n"+
			"its peak RSS against its MemorySize, and its time at Lambda's CPU (its CPU s ÷ the vCPUs its MemorySize gives,\n"+
			"1 per 1,769 MB: a lower bound where a process cannot keep them all busy) against its Timeout.\n\n", r.Nice)
	}
	if r.Opts.cdrEvery > 1 {
		p("To fit the session's time, the ingest took every bill and register file but only every %d%s daily CDR file\n"+
			"(`-cdr-every %d`): %s of the %s CDR rows, so every later stage runs over the whole subscriber base with\n"+
			"about 1/%d of the usage.\n\n", r.Opts.cdrEvery, ordinalSuffix(r.Opts.cdrEvery), r.Opts.cdrEvery,
			thousands(r.IngestedCDRRows), thousands(r.CDRRows), r.Opts.cdrEvery)
	}
	if r.Opts.from != "" && r.Opts.from != "gen" {
		p("This run began at stage %s on the work directory of an earlier one (`-from %s`); the earlier stages' figures\n"+
			"are that run's.\n\n", r.Opts.from, r.Opts.from)
	}
	wallBold := "**"
	if r.Nice > 0 {
		wallBold = "" // not the figure that counts
	}
	switch {
	case r.Done && r.Opts.from != "" && r.Opts.from != "gen":
		var before time.Duration
		for _, s := range r.Stages[:slices.Index(stages, r.Opts.from)] {
			before += s.Wall
		}
		p("Wall time from the %s stage to the last api request: %s%.1f s%s (%.1f min); with the earlier run's stages, %.1f min\n"+
			"(target < 15 min at 1M subscribers).\n\n", r.Opts.from, wallBold, r.Total.Seconds(), wallBold, r.Total.Minutes(), (r.Total + before).Minutes())
	case r.Done:
		p("Wall time end to end (gen to the last api request): %s%.1f s%s (%.1f min; target < 15 min at 1M subscribers).\n\n", wallBold, r.Total.Seconds(), wallBold, r.Total.Minutes())
	default:
		p("**Partial run**: only the stages below ran (%.1f s so far); the run stopped or was still going when this was written.\n\n", r.Total.Seconds())
	}
	r.cpuBound(&b)
	if r.Concurrency > 0 && r.TemplateConcurrency > 0 && r.Concurrency != r.TemplateConcurrency {
		p("The Map states ran at MaxConcurrency %d here (the template's is %d), so that the buckets' memory fits this\n"+
			"shared machine's; the per-bucket figures are what the projection uses.\n\n", r.Concurrency, r.TemplateConcurrency)
	}
	p("| stage | wall s | invocations | slowest invocation s | CPU s (all invocations) | CPU-bound s on %d idle cores | slowest at Lambda's CPU s | peak RSS MiB (largest) | MemorySize MB | all within MemorySize | all within Timeout (at Lambda's CPU) | files written (data / metadata / other) | note |\n", r.cores())
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---|\n")
	for _, s := range r.Stages {
		var slow, cpu, rss, lambda float64
		mem, within, inTime := 0, true, true
		lo, hi := r.stageCPUBound(s)
		for _, c := range s.Calls {
			slow, cpu, rss = max(slow, c.Wall.Seconds()), cpu+c.CPU.Seconds(), max(rss, c.RSSMiB)
			lambda = max(lambda, c.LambdaTime().Seconds())
			mem = max(mem, c.MemoryMB)
			within = within && c.Within()
			inTime = inTime && !c.OverTimeout()
		}
		memS := "–"
		if mem > 0 {
			memS = fmt.Sprint(mem)
		}
		files := "–"
		if a := s.Added; a.Files() > 0 {
			files = fmt.Sprintf("%d / %d / %d", a.Data, a.Meta, a.Other)
		}
		lambdaS := "–"
		if mem > 0 {
			lambdaS = fmt.Sprintf("%.1f", lambda)
		}
		p("| %s | %.1f | %d | %.1f | %.1f | %s | %s | %.0f | %s | %s | %s | %s | %s |\n", s.Name, s.Wall.Seconds(), len(s.Calls), slow, cpu, rangeS(lo, hi), lambdaS, rss, memS, yesNo(within), yesNo(inTime), files, s.Note)
	}
	r.perFunction(&b)
	p("\nEvery invocation (load: the 1-minute load average as it ended; at Lambda's CPU: CPU s ÷ the vCPUs of its MemorySize):\n\n")
	p("| stage | function | action | bucket | wall s | CPU s | at Lambda's CPU s | peak RSS MiB | MemorySize MB | within MemorySize | within Timeout | load |\n")
	p("|---|---|---|---:|---:|---:|---:|---:|---:|---|---|---:|\n")
	for _, s := range r.Stages {
		for _, c := range s.Calls {
			if c.MemoryMB == 0 {
				continue // gen: its row above
			}
			bk := "–"
			if c.Bucket >= 0 {
				bk = fmt.Sprint(c.Bucket)
			}
			act := c.Action
			if act == "" {
				act = "–"
			}
			if c.Err != "" {
				act += " (**" + c.Err + "**)"
			}
			p("| %s | %s | %s | %s | %.1f | %.1f | %.1f | %.0f | %d | %s | %s | %s |\n", s.Name, c.Function, act, bk, c.Wall.Seconds(), c.CPU.Seconds(), c.LambdaTime().Seconds(), c.RSSMiB,
				c.MemoryMB, yesNo(c.Within()), yesNo(!c.OverTimeout()), orDash(c.Load))
		}
	}
	if a := r.API; a.Customers > 0 {
		p("\nThe api burst (one instance, `api.Live` in one child process; milliseconds): first request (key check,\n"+
			"snapshot load, a page of 500) **%.0f ms**; %d look-ups p50 %.2f p99 %.2f; %d filtered pages p50 %.2f p99 %.2f;\n"+
			"%d cube queries p50 %.2f p99 %.2f; %d errors; %s customers.\n\n",
			a.ColdMS, a.Lookups, a.LookupP50, a.LookupP99, a.Filters, a.FilterP50, a.FilterP99, a.Cubes, a.CubeP50, a.CubeP99, a.Errs, thousands(int64(a.Customers)))
	}
	r.projection(&b)
	p("%s\n", scaleEnd)
	return b.String()
}

// projection extrapolates the fan-out stages to targetSubs subscribers
// from the per-bucket figures, and the daily ingest from the ingest's CPU
// per row.
func (r *report) projection(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	if !slices.ContainsFunc(r.Stages, func(s stage) bool { return strings.HasPrefix(s.Name, "monthly") }) {
		return // no bucket figures yet
	}
	perBucketSubs := float64(r.Opts.subs) / 8
	buckets := int(math.Ceil(targetSubs / perBucketSubs))
	waves := int(math.Ceil(float64(buckets) / float64(r.Opts.lambdaConcur)))
	scaleUp := targetSubs / float64(r.Opts.subs)
	usage := float64(max(1, r.Opts.cdrEvery))
	p("\n### Projection to %s subscribers\n\n", thousands(targetSubs))
	p("Computed by `bench/scale` from this run's figures. Assumptions:\n\n")
	p("- Buckets of the size measured here (%s subscribers each), so %s buckets (crm.cdr's partition spec would\n"+
		"  evolve from bucket(8) to bucket(%d): an Iceberg partition evolution, not done); %d invocations at once (the\n"+
		"  account's Lambda concurrency), so %d wave(s) of buckets.\n", thousands(int64(perBucketSubs)), thousands(int64(buckets)), buckets, r.Opts.lambdaConcur, waves)
	p("- A bucket's time in Lambda is its CPU time here divided by the vCPUs its MemorySize gives (1 per 1,769 MB),\n" +
		"  not its wall time here, which buckets sharing 2 loaded cores inflate.\n")
	if usage > 1 {
		p("- The feature buckets here read 1/%.0f of the CDR rows (`-cdr-every %.0f`); their CPU is multiplied by %.0f (an upper\n"+
			"  bound: part of a bucket's work is per subscriber, not per row). Their peak RSS is as measured, so whether\n"+
			"  a bucket with every row fits its MemorySize is **not shown** by this run.\n", usage, usage, usage)
	}
	p("- A commit's CPU time and memory above a plan invocation's (a process that opens the lake) grow in proportion\n" +
		"  to the subscribers; plan and train take what they took here (train fits on a sample). The score run's commit\n" +
		"  is the exception for memory: it adds up the buckets' lifecycle report parts (counts, exact sums and samples\n" +
		"  of a fixed number of subscribers), so its peak RSS is taken as measured; its CPU is scaled all the same (an\n" +
		"  upper bound: the crm.scores commit reads each data file's footer, the report one part per bucket).\n")
	p("- S3 (the file warehouse here makes no requests, so they are estimated from its files): PUTs are the files the\n" +
		"  stage wrote, its data and other files times the growth in subscribers, its metadata files as many; GETs are,\n" +
		"  for each invocation, every metadata file the lake held at the stage's start (an upper bound: an invocation\n" +
		"  reads only its tables'), plus two range GETs (footer, columns) per data file, times the growth.\n")
	p("- Prices (us-east-1, list, 2026-11): Lambda arm64 $%.10f per GB-s and $0.20 per million requests; Step\n"+
		"  Functions $0.025 per 1,000 state transitions (about 3 per bucket: the child execution's start, task, end);\n"+
		"  S3 $0.005 per 1,000 PUTs and $0.0004 per 1,000 GETs.\n", pricePerGBs)
	p("- The score run's rank step reads every bucket's rank rows (a few numbers per customer, one bucket at a time):\n" +
		"  its CPU above a plan invocation's grows with the subscribers, its memory (one bucket's rows, fixed-size\n" +
		"  histograms and top-k lists) with the bucket, which stays the size measured here.\n")
	p("- The score run's shard steps at 100M: %d serving shards (serving.MaxShards), each holding %s subscribers'\n"+
		"  rows; a shard's CPU and memory above a plan invocation's are the largest measured shard's times the ratio of\n"+
		"  its subscribers (the merge is linear in the shard's rows; each shard reads one piece per bucket, %s at 100M,\n"+
		"  whose per-request cost is not measured here); min(%d, the Lambda concurrency) shards at once.\n\n",
		targetShards, thousands(int64(targetSubs/targetShards)), thousands(int64(buckets)), targetShards)
	p("| stage | per bucket here: CPU s (max) | per bucket in Lambda at 100M: s | per bucket: peak RSS MiB (max) | MemorySize MB | buckets at 100M | rank at 100M: s / RSS MiB | shards at 100M: n × s / RSS MiB | time at 100M (min) | commit at 100M: s / RSS MiB | fits in Lambda | Lambda GB-s | S3 PUTs / GETs | cost per run $ |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|\n")
	for _, s := range r.Stages {
		if !strings.HasPrefix(s.Name, "monthly") && !strings.HasPrefix(s.Name, "daily") || strings.HasSuffix(s.Name, "(still going)") {
			continue
		}
		rowFactor := 1.0
		if strings.HasPrefix(s.Name, "monthly") {
			rowFactor = usage
			s.Calls = r.withTrainAlone(s.Calls)
		}
		var cpu, rss, gbs, commitS, commitRSS, other, bucketS float64
		mem, commitMem, calls := 0, 0, 0
		// A process's fixed cost (start, open the lake): the plan's.
		var baseS, baseRSS float64
		var shardCPU, shardRSS float64
		shardsHere, shardMem := 0, 0
		var rankCPU, rankRSS float64
		rankMem := 0
		for _, c := range s.Calls {
			switch c.Action {
			case "plan":
				baseS, baseRSS = c.CPU.Seconds(), c.RSSMiB
			case "shard":
				shardsHere++
				shardCPU, shardRSS, shardMem = max(shardCPU, c.CPU.Seconds()), max(shardRSS, c.RSSMiB), c.MemoryMB
			case "rank":
				rankCPU, rankRSS, rankMem = c.CPU.Seconds(), c.RSSMiB, c.MemoryMB
			}
		}
		for _, c := range s.Calls {
			switch {
			case c.Action == "bucket":
				cpu, rss, mem = max(cpu, c.CPU.Seconds()), max(rss, c.RSSMiB), c.MemoryMB
				t := c.CPU.Seconds() * rowFactor / vcpus(c.MemoryMB)
				bucketS = max(bucketS, t)
				gbs += t * float64(c.MemoryMB) / 1024 * float64(buckets) / 8
			case c.Action == "commit":
				// The fixed part as measured, the rest in proportion. The
				// score run's commit holds the buckets' report parts added
				// up (counts, sums and a sample of a fixed size) and lists
				// of the shards' files: its memory is as measured.
				commitS = baseS + max(0, c.CPU.Seconds()-baseS)*scaleUp/vcpus(c.MemoryMB)
				commitRSS = baseRSS + max(0, c.RSSMiB-baseRSS)*scaleUp
				if strings.HasPrefix(s.Name, "daily") {
					commitRSS = c.RSSMiB
				}
				commitMem = c.MemoryMB
				gbs += commitS * float64(c.MemoryMB) / 1024
				calls++
			case c.Action == "shard", c.Action == "rank":
				// Below, from the largest shard and the rank step.
			default: // plan, train: as measured
				other += c.Wall.Seconds()
				gbs += c.Wall.Seconds() * float64(c.MemoryMB) / 1024
				calls++
			}
		}
		calls += buckets
		t := other + float64(waves)*bucketS + commitS
		fits := rss*1.048576 <= float64(mem) && commitRSS*1.048576 <= lambdaMaxMB && commitS <= 900 && bucketS <= 900
		rankCol, shardCol := "–", "–"
		if rankMem > 0 {
			rankS := (baseS + max(0, rankCPU-baseS)*scaleUp) / vcpus(rankMem)
			t += rankS
			gbs += rankS * float64(rankMem) / 1024
			calls++
			fits = fits && rankRSS*1.048576 <= float64(rankMem) && rankS <= 900
			rankCol = fmt.Sprintf("%.0f / %.0f", rankS, rankRSS)
		}
		if shardsHere > 0 {
			// The largest shard here, scaled by the ratio of its
			// subscribers at 100M to here.
			ratio := (targetSubs / targetShards) / (float64(r.Opts.subs) / float64(shardsHere))
			shardS := (baseS + max(0, shardCPU-baseS)*ratio) / vcpus(shardMem)
			shardRSSAt := baseRSS + max(0, shardRSS-baseRSS)*ratio
			shardWaves := math.Ceil(float64(targetShards) / float64(min(targetShards, r.Opts.lambdaConcur)))
			t += shardWaves * shardS
			gbs += shardS * float64(shardMem) / 1024 * targetShards
			calls += targetShards
			fits = fits && shardRSSAt*1.048576 <= float64(shardMem) && shardS <= 900
			shardCol = fmt.Sprintf("%d × %.0f / %.0f", targetShards, shardS, shardRSSAt)
		}
		puts := float64(s.Added.Data+s.Added.Other)*scaleUp + float64(s.Added.Meta)
		gets := float64(calls)*float64(s.Start.Meta) + 2*float64(s.Start.Data)*scaleUp
		cost := gbs*pricePerGBs + float64(calls)*pricePerRequest + float64(3*buckets+3*targetShards*min(1, shardsHere)+8)*pricePerTransition + puts*pricePerPUT + gets*pricePerGET
		// A commit past its MemorySize fits Lambda only with a larger one:
		// say which, rather than a bare yes.
		fitsCol := yesNo(fits)
		if need := commitRSS * 1.048576; fits && need > float64(commitMem) {
			fitsCol = fmt.Sprintf("yes, with the commit's MemorySize raised to %d MB", int(math.Ceil(need/64))*64)
		}
		p("| %s | %.1f | %.0f | %.0f | %d | %s | %s | %s | %.1f | %.0f / %.0f (MemorySize %d) | %s | %s | %s / %s | %.2f |\n", s.Name, cpu, bucketS, rss, mem,
			thousands(int64(buckets)), rankCol, shardCol, t/60, commitS, commitRSS, commitMem, fitsCol, thousands(int64(gbs)), thousands(int64(puts)), thousands(int64(gets)), cost)
	}
	r.ingestProjection(b, scaleUp)
	p("\nWhat does not scale as built: the score run's rank step reads every customer's rank row (one bucket at a time,\n" +
		"fixed memory, time in proportion to the base); a score bucket reads only its own files of crm.features\n" +
		"(partitioned by month and bucket(8, subscriber_id)) and of crm.scores' chosen history runs (by run and\n" +
		"bucket(8, subscriber_id)); a lake made before those layouts has a month-only crm.features and a run-only\n" +
		"crm.scores, read whole and filtered, which the per-bucket figures above, scaled as one bucket's, do not show.\n" +
		"\"fits\" is no when the projection says so.\n\n")
}

// withTrainAlone is the monthly run's invocations with its training
// replaced by the one of a train (alone) stage, when a later run (-from
// train) trained again.
func (r *report) withTrainAlone(calls []invocation) []invocation {
	var alone []invocation
	for _, s := range r.Stages {
		if strings.HasPrefix(s.Name, "train") {
			alone = s.Calls
		}
	}
	if len(alone) == 0 {
		return calls
	}
	out := slices.DeleteFunc(slices.Clone(calls), func(c invocation) bool { return c.Function == "train" })
	return append(out, alone...)
}

// ingestProjection is a day's CDR ingest at targetSubs subscribers: the
// CPU per CDR row of this run's ingest invocations (bills and register
// files included, so an upper bound) times a day's rows at 100M.
func (r *report) ingestProjection(b *strings.Builder, scaleUp float64) {
	var cpu, rss float64
	var mem, n int
	for _, s := range r.Stages {
		if s.Name != "ingest" {
			continue
		}
		for _, c := range s.Calls {
			cpu, rss, mem, n = cpu+c.CPU.Seconds(), max(rss, c.RSSMiB), c.MemoryMB, n+1
		}
	}
	if n == 0 || r.IngestedCDRRows == 0 || r.CDRFiles == 0 {
		return
	}
	perRow := cpu / float64(r.IngestedCDRRows)
	perFile := float64(r.IngestedCDRRows) / float64(n) // rows per invocation here
	day := float64(r.CDRRows) / float64(r.CDRFiles) * scaleUp
	inv := math.Ceil(day / perFile)
	s := day * perRow / vcpus(mem)
	gbs := s * float64(mem) / 1024
	fmt.Fprintf(b, "\nIngest: a day of CDRs at 100M subscribers is %s rows. At this run's %.2f µs of CPU per row (%s rows in %d\n"+
		"invocations, %.1f s of CPU; bills and register files included) and %.0f rows per invocation (peak RSS here %.0f MiB of\n"+
		"%d MB), that is %s invocations a day (mediation delivering files of that size), %s s in Lambda in all, %s GB-s,\n"+
		"**$%.2f a day** in Lambda (invocations and GB-s; the commits' serialisation at that rate is not measured).\n",
		thousands(int64(day)), perRow*1e6, thousands(r.IngestedCDRRows), n, cpu, perFile, rss, mem, thousands(int64(inv)), thousands(int64(s)),
		thousands(int64(gbs)), gbs*pricePerGBs+inv*pricePerRequest)
}

// vcpus is the vCPUs Lambda gives a function of mem MB (1 per 1,769 MB,
// at most 6).
func vcpus(mem int) float64 { return min(6, max(float64(mem)/1769, 0.1)) }

// perFunction is the invocations by function and action: how many, and
// the range of their wall time, CPU time and peak RSS against the
// function's MemorySize and Timeout.
func (r *report) perFunction(b *strings.Builder) {
	type key struct{ fn, action string }
	type agg struct {
		n                      int
		wall, cpu, rss, lambda [2]float64 // min, max
		mem                    int
		timeout                time.Duration
		overMem, overTime, err int
	}
	var order []key
	aggs := map[key]*agg{}
	for _, s := range r.Stages {
		for _, c := range s.Calls {
			if c.MemoryMB == 0 {
				continue
			}
			k := key{c.Function, c.group()}
			a := aggs[k]
			if a == nil {
				a = &agg{wall: [2]float64{math.Inf(1), 0}, cpu: [2]float64{math.Inf(1), 0}, rss: [2]float64{math.Inf(1), 0}, lambda: [2]float64{math.Inf(1), 0}}
				aggs[k] = a
				order = append(order, k)
			}
			a.n++
			for i, v := range []float64{c.Wall.Seconds(), c.CPU.Seconds(), c.RSSMiB, c.LambdaTime().Seconds()} {
				rg := [](*[2]float64){&a.wall, &a.cpu, &a.rss, &a.lambda}[i]
				rg[0], rg[1] = min(rg[0], v), max(rg[1], v)
			}
			a.mem, a.timeout = c.MemoryMB, c.Timeout
			if !c.Within() {
				a.overMem++
			}
			if c.OverTimeout() {
				a.overTime++
			}
			if c.Err != "" {
				a.err++
			}
		}
	}
	if len(order) == 0 {
		return
	}
	rng := func(v [2]float64, format string) string {
		if fmt.Sprintf(format, v[0]) == fmt.Sprintf(format, v[1]) {
			return fmt.Sprintf(format, v[1])
		}
		return fmt.Sprintf(format+"–"+format, v[0], v[1])
	}
	within := func(over, n int) string {
		if over == 0 {
			return "yes"
		}
		return fmt.Sprintf("**no** (%d of %d)", over, n)
	}
	fmt.Fprintf(b, "\nBy function and action (ranges over the invocations):\n\n")
	fmt.Fprintf(b, "| function | action | invocations | wall s | CPU s | at Lambda's CPU s | peak RSS MiB | MemorySize MB | Timeout s | within MemorySize | within Timeout (at Lambda's CPU) | failed |\n")
	fmt.Fprintf(b, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|\n")
	for _, k := range order {
		a := aggs[k]
		act := k.action
		if act == "" {
			act = "–"
		}
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s | %s | %d | %.0f | %s | %s | %d |\n", k.fn, act, a.n, rng(a.wall, "%.1f"), rng(a.cpu, "%.1f"),
			rng(a.lambda, "%.1f"), rng(a.rss, "%.0f"), a.mem, a.timeout.Seconds(), within(a.overMem, a.n), within(a.overTime, a.n), a.err)
	}
}

// group is the invocation's row in the table by function and action: an
// ingest invocation's action names its file, grouped by table.
func (v invocation) group() string {
	if v.Function == "ingest" {
		if t, _, ok := strings.Cut(v.Action, "-"); ok {
			return t + " files"
		}
		return "files"
	}
	return v.Action
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func ordinalSuffix(n int) string {
	switch {
	case n%100 >= 11 && n%100 <= 13:
		return "th"
	case n%10 == 1:
		return "st"
	case n%10 == 2:
		return "nd"
	case n%10 == 3:
		return "rd"
	}
	return "th"
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "**no**"
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 && s[0] != '-' {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out)
}

// mergeSection replaces the scale section between its markers, or appends
// it.
func mergeSection(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, scaleBegin), strings.Index(s, scaleEnd)
	switch {
	case i >= 0 && j > i:
		s = s[:i] + strings.TrimSuffix(section, "\n") + s[j+len(scaleEnd):]
	case s == "":
		s = "# Benchmarks\n\n" + section
	default:
		s = strings.TrimRight(s, "\n") + "\n\n" + section
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// cores is the machine's cores (runtime.NumCPU unless set).
func (r *report) cores() int {
	if r.Cores > 0 {
		return r.Cores
	}
	return runtime.NumCPU()
}

// mapConcurrency is how many buckets run at once here: the Map stage's,
// or before it -concurrency or the template's.
func (r *report) mapConcurrency() int {
	switch {
	case r.Concurrency > 0:
		return r.Concurrency
	case r.Opts.concurrency > 0:
		return r.Opts.concurrency
	case r.TemplateConcurrency > 0:
		return r.TemplateConcurrency
	}
	return 1
}

// stageCPUBound is the stage's time on the machine's cores had they been
// idle, from its invocations' CPU time and its parallelism: lo if every
// process kept all the cores busy (its CPU ÷ cores), hi if every process
// ran on one core, the invocations one after another but the Map's
// buckets min(MaxConcurrency, cores) at once. Waiting on the disk is in
// neither.
func (r *report) stageCPUBound(s stage) (lo, hi float64) {
	cores := float64(r.cores())
	par := min(float64(r.mapConcurrency()), cores)
	var buckets float64
	for _, c := range s.Calls {
		cpu := c.CPU.Seconds()
		lo += cpu / cores
		if c.Action == "bucket" || c.Action == "shard" {
			buckets += cpu
		} else {
			hi += cpu
		}
	}
	return lo, hi + buckets/par
}

// cpuBound is the run's CPU-bound end to end on idle cores: the stages'
// stageCPUBound summed, from gen and from ingest (gen writes the synthetic
// exports: it is not the product's path).
func (r *report) cpuBound(b *strings.Builder) {
	var lo, hi, loGen, hiGen, cpu float64
	for _, s := range r.Stages {
		l, h := r.stageCPUBound(s)
		lo, hi = lo+l, hi+h
		if s.Name == "gen" {
			loGen, hiGen = l, h
		}
		for _, c := range s.Calls {
			cpu += c.CPU.Seconds()
		}
	}
	if len(r.Stages) == 0 {
		return
	}
	so := ""
	if !r.Done {
		so = ", so far (the stages below)"
	}
	fmt.Fprintf(b, "CPU-bound end to end on %d idle cores%s: **%s min** from ingest to the last api request, %s min\n"+
		"with gen (%.1f s of CPU in all invocations; target < 15 min at 1M subscribers). The low end is the stages' CPU ÷ %d\n"+
		"(every process keeping the %d cores busy), the high end every process on one core, one after another but the\n"+
		"Map's buckets %d at once (MaxConcurrency %d here); waiting on the disk is in neither.\n\n",
		r.cores(), so, rangeS((lo-loGen)/60, (hi-hiGen)/60), rangeS(lo/60, hi/60), cpu, r.cores(), r.cores(),
		min(r.mapConcurrency(), r.cores()), r.mapConcurrency())
}

// rangeS is lo–hi to one decimal, or one figure when they print alike.
func rangeS(lo, hi float64) string {
	l, h := fmt.Sprintf("%.1f", lo), fmt.Sprintf("%.1f", hi)
	if l == h {
		return h
	}
	return l + "–" + h
}

// ownNice is this process's nice value (/proc/self/stat), 0 if unknown.
func ownNice() int {
	raw, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// The fields after the command's closing parenthesis start at the
	// state (field 3); nice is field 19.
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 17 {
		return 0
	}
	n, err := strconv.Atoi(f[16])
	if err != nil {
		return 0
	}
	return n
}
