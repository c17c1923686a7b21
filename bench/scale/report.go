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
	"strings"
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
	lambdaMaxMB        = 10240
	targetSubs         = 100_000_000
)

type report struct {
	Opts                options
	Start               time.Time
	LoadStart, LoadEnd  string
	CDRRows             int64
	Files               int
	CSVBytes            int64
	IngestedCDRRows     int64 // with -cdr-every, fewer than CDRRows
	Stages              []stage
	Total               time.Duration
	API                 apiAnswer
	Concurrency         int    // the Map states' MaxConcurrency in this run
	TemplateConcurrency int    // the template's
	Work                string // the work directory
	Done                bool   // false: the run stopped (or is still going) after the stages listed
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
	p("Run %s UTC on %d cores (load average %s at the start, %s at the end: the machine is shared with\n"+
		"other work, so times are upper bounds). `telcolake gen -subs %d -months %d -start %s -cdr-span day`:\n"+
		"%s CDR rows in %d files (%.1f GB of %s). Every function invocation is a child process running the\n"+
		"handler its `main` hands to `lambda.Start` (`bench/scale`, hidden `-step` mode), with the file warehouse\n"+
		"and the SQLite catalog; the state machines are the template's definitions run by the local stack's\n"+
		"interpreter (`localstack.Execution`), Map at MaxConcurrency %d. Peak RSS is wait4's for that child alone;\n"+
		"MemorySize is the function's in `infra/template.yaml`.\n\n",
		r.Start.Format("2006-01-02 15:04"), runtime.NumCPU(), r.LoadStart, r.LoadEnd, r.Opts.subs, r.Opts.months, r.Opts.start,
		thousands(r.CDRRows), r.Files, float64(r.CSVBytes)/1e9, map[bool]string{true: "gzip CSV", false: "CSV"}[r.Opts.gzip], r.Concurrency)
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
	switch {
	case r.Done && r.Opts.from != "" && r.Opts.from != "gen":
		var before time.Duration
		for _, s := range r.Stages[:slices.Index(stages, r.Opts.from)] {
			before += s.Wall
		}
		p("From the %s stage to the last api request: **%.1f s** (%.1f min); with the earlier run's stages, %.1f min\n"+
			"(target < 15 min at 1M subscribers).\n\n", r.Opts.from, r.Total.Seconds(), r.Total.Minutes(), (r.Total + before).Minutes())
	case r.Done:
		p("End to end (gen to the last api request): **%.1f s** (%.1f min; target < 15 min at 1M subscribers).\n\n", r.Total.Seconds(), r.Total.Minutes())
	default:
		p("**Partial run**: only the stages below ran (%.1f s so far); the run stopped or was still going when this was written.\n\n", r.Total.Seconds())
	}
	if r.Concurrency > 0 && r.TemplateConcurrency > 0 && r.Concurrency != r.TemplateConcurrency {
		p("The Map states ran at MaxConcurrency %d here (the template's is %d), so that the buckets' memory fits this\n"+
			"shared machine's; the per-bucket figures are what the projection uses.\n\n", r.Concurrency, r.TemplateConcurrency)
	}
	p("| stage | wall s | invocations | slowest invocation s | CPU s (all invocations) | peak RSS MiB (largest) | MemorySize MB | all within | note |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, s := range r.Stages {
		var slow, cpu, rss float64
		mem, within := 0, true
		for _, c := range s.Calls {
			slow, cpu, rss = max(slow, c.Wall.Seconds()), cpu+c.CPU.Seconds(), max(rss, c.RSSMiB)
			mem = max(mem, c.MemoryMB)
			within = within && c.Within()
		}
		memS := "–"
		if mem > 0 {
			memS = fmt.Sprint(mem)
		}
		p("| %s | %.1f | %d | %.1f | %.1f | %.0f | %s | %s | %s |\n", s.Name, s.Wall.Seconds(), len(s.Calls), slow, cpu, rss, memS, yesNo(within), s.Note)
	}
	p("\nPer invocation of the state machines (bucket tasks by bucket):\n\n")
	p("| stage | function | action | bucket | wall s | CPU s | peak RSS MiB | MemorySize MB | within |\n|---|---|---|---:|---:|---:|---:|---:|---|\n")
	for _, s := range r.Stages {
		if !strings.HasPrefix(s.Name, "monthly") && !strings.HasPrefix(s.Name, "daily") {
			continue
		}
		for _, c := range s.Calls {
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
			if c.OverTimeout() {
				act += fmt.Sprintf(" (**wall over the %.0f s Timeout**)", c.Timeout.Seconds())
			}
			p("| %s | %s | %s | %s | %.1f | %.1f | %.0f | %d | %s |\n", s.Name, c.Function, act, bk, c.Wall.Seconds(), c.CPU.Seconds(), c.RSSMiB, c.MemoryMB, yesNo(c.Within()))
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
// from the per-bucket figures.
func (r *report) projection(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	if !slices.ContainsFunc(r.Stages, func(s stage) bool { return strings.HasPrefix(s.Name, "monthly") }) {
		return // no bucket figures yet
	}
	perBucketSubs := float64(r.Opts.subs) / 8
	buckets := int(math.Ceil(targetSubs / perBucketSubs))
	waves := int(math.Ceil(float64(buckets) / float64(r.Opts.lambdaConcur)))
	p("### Projection to %s subscribers\n\n", thousands(targetSubs))
	p("Assumptions: buckets of the size measured here (%s subscribers each), so %s buckets (crm.cdr's partition\n"+
		"spec would evolve from bucket(8) to bucket(%d) — an Iceberg partition evolution, not done); %d invocations at\n"+
		"once (the account's Lambda concurrency), so %d wave(s); a bucket's time in Lambda is its CPU time here\n"+
		"divided by the vCPUs its MemorySize gives (1 vCPU per 1,769 MB), not its wall time here, which 8 buckets\n"+
		"sharing 2 loaded cores inflate; a commit's CPU time and memory above a plan invocation's (a process that\n"+
		"opens the lake) grow in proportion to the subscribers (measured here at %s). Prices: Lambda arm64 $%.10f per GB-s, $0.20 per million requests, Step Functions $0.025 per\n"+
		"1,000 state transitions (about 3 per bucket: the child execution's start, task, end).\n\n",
		thousands(int64(perBucketSubs)), thousands(int64(buckets)), buckets, r.Opts.lambdaConcur, waves, thousands(int64(r.Opts.subs)), pricePerGBs)
	p("| stage | per bucket: CPU s (max) | per bucket: peak RSS MiB (max) | MemorySize MB | buckets at 100M | time at 100M (min) | commit at 100M: s / RSS MiB | fits in Lambda | cost per run $ |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---|---:|\n")
	scaleUp := targetSubs / float64(r.Opts.subs)
	for _, s := range r.Stages {
		if !strings.HasPrefix(s.Name, "monthly") && !strings.HasPrefix(s.Name, "daily") {
			continue
		}
		var cpu, rss, gbs, commitS, commitRSS, other float64
		mem, commitMem := 0, 0
		// A process's fixed cost (start, open the lake): the plan's.
		var baseS, baseRSS float64
		for _, c := range s.Calls {
			if c.Action == "plan" {
				baseS, baseRSS = c.CPU.Seconds(), c.RSSMiB
			}
		}
		for _, c := range s.Calls {
			switch {
			case c.Action == "bucket":
				cpu, rss, mem = max(cpu, c.CPU.Seconds()), max(rss, c.RSSMiB), c.MemoryMB
				gbs += c.CPU.Seconds() / vcpus(c.MemoryMB) * float64(c.MemoryMB) / 1024 * float64(buckets) / 8
			case c.Action == "commit":
				// The fixed part as measured, the rest in proportion.
				commitS = baseS + max(0, c.CPU.Seconds()-baseS)*scaleUp/vcpus(c.MemoryMB)
				commitRSS = baseRSS + max(0, c.RSSMiB-baseRSS)*scaleUp
				commitMem = c.MemoryMB
				gbs += commitS * float64(c.MemoryMB) / 1024
			default: // plan, train: as measured (train reads a sample)
				other += c.Wall.Seconds()
				gbs += c.Wall.Seconds() * float64(c.MemoryMB) / 1024
			}
		}
		t := other + float64(waves)*cpu/vcpus(mem) + commitS
		fits := rss*1.048576 <= float64(mem) && commitRSS*1.048576 <= lambdaMaxMB && commitS <= 900
		cost := gbs*pricePerGBs + float64(buckets+3)*pricePerRequest + float64(3*buckets+8)*pricePerTransition
		p("| %s | %.1f | %.0f | %d | %s | %.1f | %.0f / %.0f (MemorySize %d) | %s | %.2f |\n", s.Name, cpu, rss, mem,
			thousands(int64(buckets)), t/60, commitS, commitRSS, commitMem, yesNo(fits), cost)
	}
	p("\nWhat does not scale as built: the score commit merges every bucket's customers (stripped of their detail,\n" +
		"which the buckets encode) in one process and writes one snapshot, so its memory still grows with the customer\n" +
		"base; at 100M it is past Lambda's 10,240 MB and 15 minutes (\"fits\" is no when the projection says so). The\n" +
		"next step is a snapshot written per bucket (the sharded serving layout) with only the ranks (tiers, lists'\n" +
		"top k) computed over all buckets' partial results.\n\n")
}

// vcpus is the vCPUs Lambda gives a function of mem MB (1 per 1,769 MB,
// at most 6).
func vcpus(mem int) float64 { return min(6, max(float64(mem)/1769, 0.1)) }

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
