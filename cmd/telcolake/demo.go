package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sys/unix"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/localstack"
	"github.com/telcolake/telcolake/models/scoring"
	"github.com/telcolake/telcolake/models/training"
	"github.com/telcolake/telcolake/reconcile"
	"github.com/telcolake/telcolake/synth"
)

// checkNothingLost runs the reconcile function once (every delivery is
// done, so no minimum age is needed) and looks into the dead-letter queue;
// it returns the number of steps that failed.
func checkNothingLost(ctx context.Context, say func(string, ...any), st *localstack.Stack) int {
	failed := 0
	if contains(st.Functions(), "reconcile") {
		out, err := st.Invoke(ctx, "reconcile", []byte(`{"min_age":"0s"}`))
		var rep reconcile.Report
		if err == nil {
			err = json.Unmarshal(out, &rep)
		}
		if err != nil {
			failed++
			say("    reconcile: failed: %v", err)
		} else {
			say("    reconcile: %s", rep.Summary())
			for _, a := range append(rep.Redriven, rep.GivenUp...) {
				say("      %s: %s %s", a.Key, a.Status, a.Message)
			}
		}
	}
	dead, err := st.DeadLetters()
	switch {
	case err != nil:
		failed++
		say("    dead-letter queue: unreadable: %v", err)
	case len(dead) == 0:
		say("    dead-letter queue: empty")
	default:
		failed++
		say("    dead-letter queue: %d event(s) failed for good, in %s", len(dead), relPath(st.DeadLetterDir()))
	}
	return failed
}

// runDemo implements 'telcolake demo' (make demo): it starts the local
// stack, drops synthetic exports into the landing bucket the way source
// systems do (late files, a duplicate, a broken file), waits until the real
// ingest function has taken them all, runs what exists of train and score,
// and prints a summary. With a terminal on stdin it then keeps the stack up
// until Ctrl-C; otherwise it exits, with status 0 only if every step worked.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var l localFlags
	l.register(fs)
	subs := fs.Int("subs", 10000, "`subscribers` to generate")
	months := fs.Int("months", 7, "`months` of history, ending with last month")
	verbose := fs.Bool("v", false, "show the functions' and the S3 server's logs")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	say := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }
	clock := newDemoClock()
	say("telcolake demo: the whole job on a local AWS stack (no Docker, no AWS account)")
	say("")

	dir, err := filepath.Abs(l.dir)
	if err != nil {
		return err
	}
	clock.mark("cleaning")
	cleaned, err := cleanStackDir(dir)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer cleaned()
	logw := io.Discard
	if *verbose {
		logw = stderr
	}
	clock.mark("stack")
	say("1/6 starting the local stack in %s", l.dir)
	delivered := make(chan localstack.Delivery, 1024)
	st, catalog, err := startLocal(ctx, l, stdout, logw, func(d localstack.Delivery) { delivered <- d })
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer st.Close()
	cat, err := openStackCatalog(ctx, st, catalog)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer cat.Close()

	clock.mark("exports")
	say("2/6 generating exports for %d subscribers over %d months ...", *subs, *months)
	gen := filepath.Join(dir, "generated")
	// The window ends with the last complete month: ingest refuses
	// timestamps from the future.
	start := time.Now().UTC()
	start = time.Date(start.Year(), start.Month()-time.Month(*months), 1, 0, 0, 0, 0, time.UTC)
	man, err := synth.Generate(ctx, synth.Config{Subscribers: *subs, Months: *months, Start: start, Seed: demoSeed, Gzip: true, Mess: true, Truth: true}, synth.DirSink(gen))
	if err != nil {
		return fmt.Errorf("demo: generate: %w", err)
	}
	broken := "exports/cdr/2026/11/01/cdr-20261101-resent.csv"
	if err := plantBrokenExport(gen, broken); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	uploads := append(append([]string{}, man.Deliveries...), broken)
	planted := 0
	for _, f := range man.Files {
		planted += f.BadRows
	}
	say("    %d files: %d malformed rows planted in CDR files, one file delivered twice, late files, one broken file",
		len(man.Files)+1, planted)

	landing := st.Buckets["LandingBucket"]
	say("3/6 dropping %d deliveries into s3://%s/exports/ and waiting for the ingest function ...", len(uploads), landing)
	s3c := st.S3.Client()
	var results []lake.Result
	failed := 0
	collect := func(d localstack.Delivery) {
		var er lake.EventResult
		if d.Err != nil || json.Unmarshal(d.Response, &er) != nil {
			failed++
			fmt.Fprintf(stderr, "telcolake: ingest of %s failed: %v\n", d.Key, d.Err)
			return
		}
		results = append(results, er.Files...)
	}
	clock.mark("ingest")
	t1 := time.Now()
	got := 0
	var firstDone time.Duration // first delivery, since t1
	for _, key := range uploads {
		if err := upload(ctx, s3c, landing, gen, key); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		for drained := false; !drained; { // take what is already done
			select {
			case d := <-delivered:
				collect(d)
				got++
				if got == 1 {
					firstDone = time.Since(t1)
				}
			default:
				drained = true
			}
		}
	}
	uploaded := time.Since(t1)
	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	timeout := time.After(10 * time.Minute)
	shown := -1
	for got < len(uploads) {
		select {
		case d := <-delivered:
			collect(d)
			got++
			if got == 1 {
				firstDone = time.Since(t1)
			}
		case <-tick.C:
			// A line when the count moved (the queue hands ingest whole
			// batches), not one every tick.
			if got != shown {
				say("    %d/%d files ingested, %.0fs", got, len(uploads), time.Since(t1).Seconds())
				shown = got
			}
		case <-timeout:
			return fmt.Errorf("demo: only %d of %d uploads were delivered within 10 minutes", got, len(uploads))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	say("    %d/%d files ingested in %.1fs (uploads done at %.1fs, first file committed at %.1fs)",
		got, len(uploads), time.Since(t1).Seconds(), uploaded.Seconds(), firstDone.Seconds())
	demoQueue(say, st, t1)
	clock.mark("checks")
	failed += checkNothingLost(ctx, say, st)
	failed += demoMaintain(ctx, say, st)

	say("4/6 training and scoring")
	for _, fn := range []string{"train", "score"} {
		if !contains(st.Functions(), fn) {
			say("    %s: not part of the stack yet (infra/template.yaml has no %s function)", fn, fn)
			continue
		}
		clock.mark(fn)
		t2 := time.Now()
		payload := []byte("{}")
		if fn == "train" {
			// The generator's ground truth lies beside the exports (never
			// uploaded): train compares the model with it.
			payload, _ = json.Marshal(map[string]string{"truth": filepath.Join(gen, filepath.FromSlash(man.Truth))})
		}
		invoke, how := st.Invoke, ""
		if fn == "train" && st.Template.StateMachines[monthlyRun] != nil {
			// The monthly state machine: features fan out by subscriber
			// bucket, one commit per month, then train.
			invoke, fn, how = func(ctx context.Context, _ string, p []byte) ([]byte, error) {
				return st.StartExecution(ctx, monthlyRun, p)
			}, "train", fmt.Sprintf(" (state machine %s: features in %d buckets side by side, then train)", monthlyRun, lake.SubscriberBuckets)
		}
		if fn == "score" {
			invoke, how = scoreInvoker(st)
		}
		out, err := invoke(ctx, fn, payload)
		if err != nil {
			failed++
			say("    %s: failed: %v", fn, err)
			continue
		}
		say("    %s: done in %.1fs%s", fn, time.Since(t2).Seconds(), how)
		if fn == "train" {
			var res training.Result
			if err := json.Unmarshal(out, &res); err != nil {
				failed++
				say("    train: unreadable answer: %v", err)
				continue
			}
			res.WriteSummary(stdout, "    ")
			writeForecastSummary(stdout, &res)
			// The local S3 keeps objects as files: show where to open the report.
			if key, ok := strings.CutPrefix(res.Churn.Report, "s3://"); ok {
				if p := filepath.Join(dir, "s3", "data", filepath.FromSlash(key)); fileExists(p) {
					say("      open it locally: %s (charts beside it)", relPath(p))
				}
			}
		}
		if fn == "score" {
			var res scoring.Result
			if err := json.Unmarshal(out, &res); err != nil {
				failed++
				say("    score: unreadable answer: %v", err)
				continue
			}
			res.WriteSummary(stdout, "    ")
		}
	}

	if contains(st.Functions(), "api") {
		say("\n5/6 using it: the HTTP API, the operator's questions, a what-if, the staff console and retention campaigns")
		clock.mark("API")
		if err := tryAPI(ctx, stdout, st.HTTPURL); err != nil {
			failed++
			say("API check failed: %v", err)
		}
		clock.mark("cubes")
		if err := tryCubes(ctx, stdout, st.HTTPURL); err != nil {
			failed++
			say("cube questions failed: %v", err)
		}
		clock.mark("lifecycle")
		if err := tryLifecycle(ctx, stdout, st.HTTPURL); err != nil {
			failed++
			say("lifecycle check failed: %v", err)
		}
		clock.mark("what-ifs")
		if err := tryScenario(ctx, stdout, st.HTTPURL); err != nil {
			failed++
			say("scenario failed: %v", err)
		}
		if err := tryPriceScenario(ctx, stdout, st.HTTPURL); err != nil {
			failed++
			say("price scenario failed: %v", err)
		}
		clock.mark("console")
		if err := tryConsole(ctx, stdout, st.HTTPURL); err != nil {
			failed++
			say("console check failed: %v", err)
		}
		clock.mark("campaigns")
		camps, f := demoCampaign(ctx, stdout, st, cat, gen, man, delivered)
		failed += f
		if f == 0 {
			clock.mark("uplift")
			failed += demoUplift(ctx, stdout, st, camps)
		}
	}
	// The summary comes last, so the tables the campaign and scenario
	// steps write show their rows too.
	clock.mark("summary")
	say("\n6/6 summary")
	if err := summarize(ctx, stdout, st, cat, results, failed); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	printEndpoints(stdout, st)
	if err := cleaned(); err != nil {
		say("(the last run's files were not all removed: %v)", err)
	}
	end := time.Now()
	say("Demo took %.0fs (%s). Each 'make demo' starts from a clean %s (built binaries are kept).",
		end.Sub(clock.start).Seconds(), clock.summary(end), l.dir)
	if failed > 0 {
		return fmt.Errorf("demo: %d step(s) failed", failed)
	}
	if isTerminal(os.Stdin) {
		say("The stack stays up: try the commands above. Ctrl-C stops it.")
		<-ctx.Done()
		say("\nstopping ...")
	}
	return nil
}

// scoreInvoker runs a scoring run: through the daily state machine when
// the template has it (scoring fans out by subscriber bucket, then a rank
// step over all of them, a Map over serving shards and one commit of
// crm.scores and the snapshot), else one invocation.
func scoreInvoker(st *localstack.Stack) (func(ctx context.Context, fn string, payload []byte) ([]byte, error), string) {
	if st.Template.StateMachines[dailyScore] == nil {
		return st.Invoke, ""
	}
	return func(ctx context.Context, _ string, p []byte) ([]byte, error) {
		return st.StartExecution(ctx, dailyScore, p)
	}, fmt.Sprintf(" (state machine %s: %d buckets side by side, a rank step, the serving shards, then one commit)", dailyScore, lake.SubscriberBuckets)
}

// cleanStackDir empties the stack directory but keeps built binaries. The
// old entries are renamed into a trash directory beside them, at once, and
// removed in the background (a run's lake is some 20,000 files; removing
// them took 8-26 s on a loaded disk); removed waits for that removal and
// reports its error. A trash directory a killed run left behind is an
// old entry like any other.
func cleanStackDir(dir string) (removed func() error, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return func() error { return nil }, nil
	}
	if err != nil {
		return nil, err
	}
	trash, err := os.MkdirTemp(dir, ".trash-")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Name() == "bin" {
			continue
		}
		if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(trash, e.Name())); err != nil {
			return nil, err
		}
	}
	done := make(chan error, 1)
	go func() { done <- os.RemoveAll(trash) }()
	return sync.OnceValue(func() error { return <-done }), nil
}

func upload(ctx context.Context, c *s3.Client, bucket, root, key string) error {
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(key)))
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: f}); err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// summarize prints files by status, rows per table and rejects by reason.
func summarize(ctx context.Context, w io.Writer, st *localstack.Stack, cat lake.TableLoader, results []lake.Result, failed int) error {
	byStatus := map[string]int{}
	for _, r := range results {
		byStatus[r.Status]++
	}
	fmt.Fprintf(w, "\nFiles: %d committed, %d rejected, %d quarantined, %d failed; redeliveries skipped as duplicates: %d\n",
		byStatus[lake.StatusCommitted]+byStatus[lake.StatusReplaced], byStatus[lake.StatusRejected],
		byStatus[lake.StatusQuarantined], failed, byStatus[lake.StatusDuplicate])

	fmt.Fprintln(w, "\nRows per table (Iceberg, read back from the lake bucket):")
	for _, def := range lake.Tables() {
		// Every data file read (its first column), not the snapshot's
		// record counts: the rows are really there.
		var n int64
		for b, err := range lake.Scan(ctx, cat, def, lake.Select(def.Schema.Fields()[0].Name)) {
			if err != nil {
				return err
			}
			n += int64(b.Len())
		}
		fmt.Fprintf(w, "  %-21s %10d\n", lake.Namespace+"."+def.Name, n)
	}

	landing := st.Buckets["LandingBucket"]
	fmt.Fprintf(w, "\nRejected rows and files (reports: s3://%s/reports/):\n", landing)
	reasons := map[string]int64{}
	files, rows := 0, int64(0)
	c := st.S3.Client()
	sort.Slice(results, func(i, j int) bool { return results[i].Source < results[j].Source })
	for _, r := range results {
		if r.ReportKey == "" || r.RowsRejected == 0 {
			continue
		}
		files++
		rows += r.RowsRejected
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(landing), Key: aws.String(r.ReportKey)})
		if err != nil {
			return fmt.Errorf("read report %s: %w", r.ReportKey, err)
		}
		var rep lake.Report
		err = json.NewDecoder(out.Body).Decode(&rep)
		out.Body.Close()
		if err != nil {
			return fmt.Errorf("read report %s: %w", r.ReportKey, err)
		}
		for _, rc := range rep.ByReason {
			col := rc.Column
			if col == "" {
				col = "(row)"
			}
			reasons[col+": "+rc.Reason] += rc.Rows
		}
	}
	fmt.Fprintf(w, "  %d rows rejected in %d files (the other rows of those files were committed):\n", rows, files)
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return reasons[keys[i]] > reasons[keys[j]] })
	for _, k := range keys {
		fmt.Fprintf(w, "    %6d  %s\n", reasons[k], k)
	}
	for _, r := range results {
		if r.Status == lake.StatusRejected || r.Status == lake.StatusQuarantined {
			fmt.Fprintf(w, "  %s: %s\n    %s\n", r.Status, strings.TrimPrefix(r.Source, "s3://"+landing+"/"), r.Message)
		}
	}
	return nil
}

// openStackCatalog opens the stack's Iceberg catalog for the demo's own
// reads (rows per table, the campaigns' customer features).
func openStackCatalog(ctx context.Context, st *localstack.Stack, catalog string) (*sqlcat.Catalog, error) {
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": localstack.LocalAccessKey, "AWS_SECRET_ACCESS_KEY": localstack.LocalSecretKey} {
		os.Setenv(k, v)
	}
	cfg := lake.Config{
		Warehouse: "s3://" + st.Buckets["LakeBucket"] + "/warehouse", Catalog: catalog,
		Region: localstack.Region, EndpointURL: st.S3.Endpoint(),
	}
	return lake.OpenCatalog(ctx, cfg)
}

// plantBrokenExport writes a CDR file whose header a misconfigured
// mediation system mangled.
func plantBrokenExport(root, key string) error {
	p := filepath.Join(root, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	body := "CALLID;SUBSCRIBER;MSISDN;START;DURATION\nC1;S0000001;491700000001;2026-11-01 10:00:00;60\n"
	return os.WriteFile(p, []byte(body), 0o644)
}

// isTerminal reports whether f is an interactive terminal (not /dev/null, a pipe or a file).
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// relPath shortens p relative to the working directory when it is inside.
func relPath(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return p
}

// monthlyRun is the template's monthly state machine (features fan-out,
// training).
const (
	monthlyRun = "MonthlyRun"
	dailyScore = "DailyScore"
)
