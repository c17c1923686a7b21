// Command scale is `make scale`: the whole path at operator size on this
// machine, stage by stage, every function invocation a child process so
// that its wall time and peak RSS (wait4) are its own, each checked
// against the function's MemorySize in infra/template.yaml:
//
//  1. gen: 'telcolake gen' writes the exports (CDR one file per day).
//  2. ingest: the files in delivery order, in batches as the ingest queue
//     hands them to the function (lake.Ingester.IngestBatch, one child per
//     batch, in sequence: the queue's batches commit one after another).
//  3. monthly: the template's MonthlyRun state machine run by the local
//     stack's interpreter (localstack.Execution): the features plan, one
//     invocation per subscriber bucket (MaxConcurrency of them at once),
//     the commit, then train.
//  4. score: the template's DailyScore state machine the same way (plan,
//     the buckets, rank, the serving shards, commit).
//  5. api: one api instance (api.Live) cold-started on the newest snapshot,
//     then a burst of look-ups, filtered pages and cube queries.
//
// It writes its section of BENCHMARKS.md between markers, with the
// figures per stage and per invocation and a projection to 100M
// subscribers from the per-bucket figures. Not part of `make test`.
//
// Usage (from bench/): go run ./scale [-subs 1000000] [-months 4] [-batch 30] [-work DIR] [-keep] [-out ../BENCHMARKS.md]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/telcolake/telcolake/bench/proc"
	"github.com/telcolake/telcolake/localstack"
)

func main() {
	log.SetFlags(log.Ltime)
	log.SetPrefix("scale: ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 2 && os.Args[1] == stepMode {
		if err := runStep(ctx, os.Args[2], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "scale step", os.Args[2]+":", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, os.Args[1:]); err != nil {
		log.Fatal(err)
	}
}

type options struct {
	subs, months, batch     int
	start                   string
	work, out               string
	keep                    bool
	lookups, filters, cubes int
	lambdaConcur            int
	concurrency             int  // the Map states' MaxConcurrency here; 0: the template's
	gzip                    bool // exports as .csv.gz (a quarter of the disk at 1M)
	from, to                string
	cdrEvery                int // ingest every cdrEvery-th CDR file only
}

// stages are the -from names, in order. train is MonthlyRun's last task
// run alone, only as the first stage (-from train): after a monthly run
// whose training failed or was stopped, its features committed.
var stages = []string{"gen", "ingest", "monthly", "train", "score", "api"}

// invocation is one child process: a function invocation (or gen).
type invocation struct {
	Stage, Function, Action string
	Bucket                  int // -1: not a bucket task
	Wall                    time.Duration
	CPU                     time.Duration // user + system
	RSSMiB                  float64
	MemoryMB                int           // the template's MemorySize; 0 for gen
	Timeout                 time.Duration // the template's Timeout; 0 for gen
	Err                     string
	Load                    string // the 1-minute load average as it ended
}

// LambdaTime is the invocation's time at Lambda's CPU: its CPU time here
// divided by the vCPUs its MemorySize gives (0 for gen). Its wall time here
// is not Lambda's: on a shared machine, and at nice 19, it is mostly
// waiting for a core. It is a lower bound where a process cannot keep all
// of those vCPUs busy.
func (v invocation) LambdaTime() time.Duration {
	if v.MemoryMB == 0 {
		return 0
	}
	return time.Duration(float64(v.CPU) / vcpus(v.MemoryMB))
}

// OverTimeout reports whether the invocation's time at Lambda's CPU
// (LambdaTime) is past its function's Timeout. It is not killed at the
// Timeout here: its wall time on a shared machine says nothing of Lambda's.
func (v invocation) OverTimeout() bool { return v.Timeout > 0 && v.LambdaTime() > v.Timeout }

// Within reports whether the invocation stayed within its MemorySize.
func (v invocation) Within() bool { return v.MemoryMB == 0 || v.RSSMiB*1.048576 <= float64(v.MemoryMB) }

type stage struct {
	Name  string
	Wall  time.Duration
	Note  string
	Calls []invocation
	// Files is what the lake directory (warehouse, catalog, model and
	// serving stores) held when the stage ended, and Added how many more
	// files than when it began: the stage's S3 PUTs, had it run on S3.
	Start, Files, Added lakeFiles
}

type runner struct {
	o        options
	self     string
	base     []string // this process's environment
	env      []string // the local lake's settings, in place of the template's references
	tpl      *localstack.Template
	mu       sync.Mutex
	calls    []invocation
	stageNow string
	lake     string // the lake directory
	before   lakeFiles
	// after, when set, runs after each invocation has been recorded: the
	// state machines' stages write the report as each invocation ends.
	after func()
}

func run(ctx context.Context, args []string) error {
	var o options
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.IntVar(&o.subs, "subs", 1_000_000, "synthetic `subscribers`")
	fs.IntVar(&o.months, "months", 4, "`months` of exports (training needs 4 with its 2-month label horizon)")
	fs.StringVar(&o.start, "start", "2025-06", "first `month` of the exports, YYYY-MM")
	fs.IntVar(&o.batch, "batch", 30, "files per ingest invocation (the queue's batch size)")
	fs.IntVar(&o.cdrEvery, "cdr-every", 1, "ingest only every `n`th daily CDR file (every bill and register file): the whole subscriber base with 1/n of the CDR rows, when the time is short")
	fs.StringVar(&o.work, "work", "", "work `dir`ectory (default: a new temporary directory, removed unless -keep)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory")
	fs.StringVar(&o.out, "out", "../BENCHMARKS.md", "`path` of the report whose scale section is replaced")
	fs.IntVar(&o.lookups, "lookups", 2000, "look-ups by id in the api burst")
	fs.IntVar(&o.filters, "filters", 300, "filtered pages in the api burst")
	fs.IntVar(&o.cubes, "cubes", 60, "cube queries in the api burst")
	fs.IntVar(&o.lambdaConcur, "lambda-concurrency", 1000, "Lambda concurrency the 100M projection assumes")
	fs.IntVar(&o.concurrency, "concurrency", 0, "the Map states' MaxConcurrency on this machine (0: the template's); fewer keeps the buckets' memory within the machine's")
	fs.BoolVar(&o.gzip, "gzip", true, "write the exports as .csv.gz")
	fs.StringVar(&o.from, "from", "gen", "first `stage` to run ("+strings.Join(stages, ", ")+"); later than gen needs the -work directory of a kept run")
	fs.StringVar(&o.to, "to", "api", "last `stage` to run; a later run goes on with -from and the same -work (with -keep)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	from, to := slices.Index(stages, o.from), slices.Index(stages, o.to)
	if from < 0 {
		return fmt.Errorf("-from %q: not one of %s", o.from, strings.Join(stages, ", "))
	}
	if to < from {
		return fmt.Errorf("-to %q: not one of %s at or after -from %s", o.to, strings.Join(stages, ", "), o.from)
	}
	if from > 0 && o.work == "" {
		return fmt.Errorf("-from %s needs -work, the directory of a kept run", o.from)
	}
	runs := func(stage string) bool { i := slices.Index(stages, stage); return i >= from && i <= to }
	work := o.work
	if work == "" {
		d, err := os.MkdirTemp("", "telcolake-scale-")
		if err != nil {
			return err
		}
		work = d
		if !o.keep {
			defer os.RemoveAll(d)
		}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tpl, err := localstack.LoadTemplate(filepath.Join(root, "infra", "template.yaml"))
	if err != nil {
		return err
	}
	lakeDir := filepath.Join(work, "lake")
	if err := os.MkdirAll(filepath.Join(lakeDir, "warehouse"), 0o755); err != nil {
		return err
	}
	r := &runner{o: o, self: self, tpl: tpl, lake: lakeDir, base: os.Environ(), env: []string{
		"TELCOLAKE_WAREHOUSE=file://" + filepath.Join(lakeDir, "warehouse"),
		"TELCOLAKE_CATALOG=sqlite://" + filepath.Join(lakeDir, "catalog.db"),
		"TELCOLAKE_LANDING_BUCKET=landing", "AWS_REGION=us-east-1",
		"TELCOLAKE_PSEUDONYM_KEY=scale-key-0123456789", "TELCOLAKE_REJECT_THRESHOLD=0.05"}}
	r.before = countLake(lakeDir)
	rep := &report{Opts: o, Start: time.Now().UTC(), LoadStart: proc.LoadAvg1(), Work: work, Cores: runtime.NumCPU(), Nice: ownNice()}
	if m := tpl.StateMachines["MonthlyRun"]; m != nil && m.Machine.States["Buckets"] != nil {
		rep.TemplateConcurrency = m.Machine.States["Buckets"].MaxConcurrency // the report's before the Map stage
	}
	if from > 0 {
		if rep.Stages, err = earlierStages(work, from); err != nil {
			return err
		}
	}
	cli := filepath.Join(work, "telcolake")
	log.Printf("building %s", cli)
	build := exec.CommandContext(ctx, "go", "build", "-o", cli, "./cmd/telcolake")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	t0 := time.Now()

	// 1. gen
	landing := filepath.Join(work, "landing")
	r.stageNow = "gen"
	ts := time.Now()
	if runs("gen") {
		gen := exec.CommandContext(ctx, cli, "gen", "-subs", strconv.Itoa(o.subs), "-months", strconv.Itoa(o.months),
			"-start", o.start, "-cdr-span", "day", "-mess=false", "-truth=false", "-gzip="+strconv.FormatBool(o.gzip), "-out", landing)
		if _, err := r.child(gen, "gen", "", -1, 0, 0); err != nil {
			return err
		}
	}
	man, err := readManifest(landing)
	if err != nil {
		return err
	}
	rep.CDRRows, rep.Files, rep.CSVBytes, rep.CDRFiles = man.cdrRows(), len(man.Files), man.bytes(), man.cdrFiles()
	if runs("gen") {
		rep.Stages = append(rep.Stages, r.stage("gen", time.Since(ts), fmt.Sprintf("%d files, %.1f GB of %s", len(man.Files), float64(rep.CSVBytes)/1e9, map[bool]string{true: "gzip CSV", false: "CSV"}[o.gzip])))
		rep.flush(o.out, t0)
	}
	log.Printf("gen: %d files, %d CDR rows in %s", len(man.Files), rep.CDRRows, time.Since(ts).Round(time.Second))

	// 2. ingest
	r.stageNow = "ingest"
	ts = time.Now()
	var rows int64
	keys := man.deliveries(o.cdrEvery)
	rep.IngestedCDRRows = man.cdrRowsOf(keys)
	for i := 0; i < len(keys) && runs("ingest"); i += o.batch {
		batch := keys[i:min(len(keys), i+o.batch)]
		ev, _ := json.Marshal(ingestEvent{Landing: landing, Keys: batch})
		out, err := r.invoke(ctx, "ingest", ev)
		if err != nil {
			return fmt.Errorf("ingest batch %d: %w", i/o.batch, err)
		}
		var a ingestAnswer
		if err := json.Unmarshal(out, &a); err != nil || a.Failed > 0 {
			return fmt.Errorf("ingest batch %d: %s (%v)", i/o.batch, out, err)
		}
		rows += a.Rows
		// A cut run keeps the batches done so far.
		rep.flushWith(o.out, t0, r.peek("ingest (still going)", time.Since(ts), fmt.Sprintf("%d of %d files so far", min(len(keys), i+o.batch), len(keys))))
	}
	if runs("ingest") {
		rep.Stages = append(rep.Stages, r.stage("ingest", time.Since(ts), fmt.Sprintf("%d files in batches of %d, %d rows committed", len(keys), o.batch, rows)))
		rep.flush(o.out, t0)
		log.Printf("ingest: %d rows in %s", rows, time.Since(ts).Round(time.Second))
	}

	// MonthlyRun's Train task alone, as the state machine invokes it.
	if o.from == "train" {
		r.stageNow = "train"
		ts = time.Now()
		_, err := r.invoke(ctx, "train", []byte(`{"features_built":true,"truth":""}`))
		note := "MonthlyRun's Train task alone, on the features committed by the monthly run above"
		if err != nil {
			note = "**failed**: " + firstLine(err.Error())
		}
		rep.Stages = append(rep.Stages, r.stage("train (alone)", time.Since(ts), note))
		rep.flush(o.out, t0)
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
	}

	// 3. MonthlyRun, 4. DailyScore
	for _, sm := range []struct{ from, stage, machine, input string }{
		{"monthly", "monthly run (features fan-out, train)", "MonthlyRun", `{"truth":""}`},
		{"score", "daily score (fan-out)", "DailyScore", `{}`},
	} {
		if !runs(sm.from) {
			continue
		}
		def := tpl.StateMachines[sm.machine]
		if def == nil {
			return fmt.Errorf("no %s state machine in the template", sm.machine)
		}
		r.stageNow = sm.stage
		ts = time.Now()
		m := def.Machine
		k := m.States["Buckets"].MaxConcurrency
		rep.TemplateConcurrency = k
		if o.concurrency > 0 {
			m = withMaxConcurrency(m, o.concurrency)
			k = o.concurrency
		}
		rep.Concurrency = k
		x := &localstack.Execution{Invoker: r}
		r.mu.Lock()
		r.after = func() {
			rep.flushWith(o.out, t0, r.peek(sm.stage+" (still going)", time.Since(ts), fmt.Sprintf("state machine %s, Map MaxConcurrency %d", sm.machine, k)))
		}
		r.mu.Unlock()
		_, err := x.Run(ctx, m, []byte(sm.input))
		r.mu.Lock()
		r.after = nil
		r.mu.Unlock()
		if err != nil {
			rep.Stages = append(rep.Stages, r.stage(sm.stage, time.Since(ts), "**failed**: "+firstLine(err.Error())))
			rep.flush(o.out, t0)
			return fmt.Errorf("%s: %w", sm.machine, err)
		}
		rep.Stages = append(rep.Stages, r.stage(sm.stage, time.Since(ts), fmt.Sprintf("state machine %s, Map MaxConcurrency %d", sm.machine, k)))
		rep.Concurrency = k
		rep.flush(o.out, t0)
		log.Printf("%s: %s", sm.machine, time.Since(ts).Round(time.Second))
	}

	// 5. api
	if !runs("api") {
		log.Printf("stopped after stage %s (-to); go on with -from %s -work %s", o.to, stages[to+1], work)
		return nil
	}
	r.stageNow = "api"
	ts = time.Now()
	ev, _ := json.Marshal(apiEvent{Lookups: o.lookups, Filters: o.filters, Cubes: o.cubes, Seed: 1})
	out, err := r.invoke(ctx, "api", ev)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	if err := json.Unmarshal(out, &rep.API); err != nil {
		return fmt.Errorf("api answer %s: %w", out, err)
	}
	rep.Stages = append(rep.Stages, r.stage("api", time.Since(ts), fmt.Sprintf("%d customers served", rep.API.Customers)))
	rep.Total = time.Since(t0)
	rep.LoadEnd = proc.LoadAvg1()
	rep.Done = true
	log.Printf("end to end %s", rep.Total.Round(time.Second))
	section := rep.section()
	fmt.Println(section)
	return mergeSection(o.out, section)
}

// peek is the stage so far, its invocations kept for stage.
func (r *runner) peek(name string, wall time.Duration, note string) stage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return stage{Name: name, Wall: wall, Note: note, Calls: slices.Clone(r.calls)}
}

// stage collects the invocations made since the last stage.
func (r *runner) stage(name string, wall time.Duration, note string) stage {
	files := countLake(r.lake)
	r.mu.Lock()
	defer r.mu.Unlock()
	s := stage{Name: name, Wall: wall, Note: note, Calls: r.calls, Start: r.before, Files: files, Added: files.minus(r.before)}
	r.calls, r.before = nil, files
	return s
}

// Invoke runs one invocation of function as a child process (the
// localstack.Invoker of the state machines); a crash is Runtime.ExitError,
// which the template's Retry lists.
func (r *runner) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	out, err := r.invoke(ctx, function, payload)
	if err != nil {
		return nil, &localstack.FunctionError{ErrorType: "Runtime.ExitError", ErrorMessage: err.Error()}
	}
	return out, nil
}

func (r *runner) invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	mem := 0
	var timeout time.Duration
	var env []string
	for _, f := range r.tpl.Functions {
		if f.Name == function {
			mem, timeout = f.Memory, f.Timeout
			env = childEnv(r.base, f, r.env)
		}
	}
	if mem == 0 {
		return nil, fmt.Errorf("function %s is not in the template", function)
	}
	var task struct {
		Action string   `json:"action"`
		Bucket *int     `json:"bucket"`
		Shard  int      `json:"shard"`
		Keys   []string `json:"keys"` // ingest: the batch's files
	}
	_ = json.Unmarshal(payload, &task)
	if function == "ingest" && len(task.Keys) > 0 {
		task.Action = path.Base(task.Keys[0])
		if len(task.Keys) > 1 {
			task.Action += fmt.Sprintf(" and %d more", len(task.Keys)-1)
		}
	}
	bucket := -1 // the report's bucket column: a bucket's, or a serving shard's
	switch task.Action {
	case "bucket":
		bucket = 0 // features.Task omits a zero bucket
		if task.Bucket != nil {
			bucket = *task.Bucket
		}
	case "shard":
		bucket = task.Shard
	}
	cmd := exec.CommandContext(ctx, r.self, stepMode, function)
	cmd.Stdin = bytes.NewReader(payload)
	cmd.Env = env
	return r.child(cmd, function, task.Action, bucket, mem, timeout)
}

// childEnv is a function's environment here as Lambda would give it: this
// process's environment, then the template's literal values for the
// function (GOMEMLIMIT, AWS_LAMBDA_LOG_FORMAT, ...), which win over this
// process's, then local, the local lake's settings that stand for the
// template's references (!Ref, !Sub). A variable set twice keeps its last
// value, as exec.Cmd does.
func childEnv(base []string, f localstack.FunctionDef, local []string) []string {
	var lits []string
	for k, v := range f.Env {
		if v.Ref == "" && v.Sub == "" && v.Join == nil {
			lits = append(lits, k+"="+v.Literal)
		}
	}
	sort.Strings(lits)
	env := make([]string, 0, len(base)+len(lits)+len(local))
	env = append(append(append(env, base...), lits...), local...)
	seen := make(map[string]int, len(env))
	out := env[:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := seen[k]; ok {
			out[i] = kv
			continue
		}
		seen[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// child runs cmd and records it; a command without its own environment
// gets this process's with the local lake's settings.
func (r *runner) child(cmd *exec.Cmd, function, action string, bucket, mem int, timeout time.Duration) ([]byte, error) {
	if cmd.Env == nil {
		cmd.Env = append(append([]string(nil), r.base...), r.env...)
	}
	res, stdout, stderr, err := proc.Run(cmd)
	v := invocation{Stage: r.stageNow, Function: function, Action: action, Bucket: bucket, Wall: res.Wall,
		CPU: res.CPU, RSSMiB: res.RSSMiB(), MemoryMB: mem, Timeout: timeout}
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == exitNotJSON {
		v.Err = "answer not encodable as JSON: " + strings.TrimSpace(proc.Tail(string(stderr), 200))
		stdout = []byte("{}")
		err = nil
	}
	if err != nil {
		v.Err = err.Error()
		err = fmt.Errorf("%s %s: %w\n%s", function, action, err, proc.Tail(string(stderr), 3000))
	}
	v.Load = proc.LoadAvg1()
	r.mu.Lock()
	r.calls = append(r.calls, v)
	after := r.after
	r.mu.Unlock()
	if after != nil {
		after()
	}
	log.Printf("  %s %s%s: %.1f s, CPU %.1f s (%.1f s at Lambda's CPU), %.0f MiB%s%s", function, action, bucketLabel(bucket), v.Wall.Seconds(), v.CPU.Seconds(), v.LambdaTime().Seconds(), v.RSSMiB,
		map[bool]string{true: "", false: " OVER MemorySize"}[v.Within()], map[bool]string{true: " OVER Timeout", false: ""}[v.OverTimeout()])
	return stdout, err
}

func bucketLabel(b int) string {
	if b < 0 {
		return ""
	}
	return " " + strconv.Itoa(b)
}

// withMaxConcurrency is a copy of m whose Map states run at most k
// iterations at once.
func withMaxConcurrency(m *localstack.Machine, k int) *localstack.Machine {
	c := &localstack.Machine{StartAt: m.StartAt, States: make(map[string]*localstack.State, len(m.States))}
	for name, st := range m.States {
		cp := *st
		if cp.Type == "Map" {
			cp.MaxConcurrency = k
		}
		c.States[name] = &cp
	}
	return c
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

type manifest struct {
	Files []struct {
		Key   string `json:"key"`
		Table string `json:"table"`
		Rows  int64  `json:"rows"`
		Bytes int64  `json:"bytes"`
	} `json:"files"`
	Deliveries []string `json:"deliveries"`
}

func readManifest(landing string) (*manifest, error) {
	raw, err := os.ReadFile(filepath.Join(landing, "manifest.json"))
	if err != nil {
		return nil, err
	}
	m := &manifest{}
	if err := json.Unmarshal(raw, m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return m, nil
}

func (m *manifest) cdrRows() int64 {
	var n int64
	for _, f := range m.Files {
		if f.Table == "cdr" {
			n += f.Rows
		}
	}
	return n
}

// deliveries are the keys in delivery order, with only every n-th CDR
// file.
func (m *manifest) deliveries(n int) []string {
	table := map[string]string{}
	for _, f := range m.Files {
		table[f.Key] = f.Table
	}
	var out []string
	k := 0
	for _, key := range m.Deliveries {
		if table[key] == "cdr" {
			k++
			if n > 1 && (k-1)%n != 0 {
				continue
			}
		}
		out = append(out, key)
	}
	return out
}

// cdrRowsOf is the CDR rows of keys.
func (m *manifest) cdrRowsOf(keys []string) int64 {
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	var n int64
	for _, f := range m.Files {
		if f.Table == "cdr" && want[f.Key] {
			n += f.Rows
		}
	}
	return n
}

func (m *manifest) cdrFiles() int {
	n := 0
	for _, f := range m.Files {
		if f.Table == "cdr" {
			n++
		}
	}
	return n
}

func (m *manifest) bytes() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Bytes
	}
	return n
}
