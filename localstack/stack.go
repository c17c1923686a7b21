package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config configures the local stack.
type Config struct {
	// Dir holds everything the stack keeps: s3/, bin/, the catalog. Absolute or relative to the working directory.
	Dir string
	// Repo is the repository root: infra/template.yaml and functions/ live there.
	Repo string
	// S3Addr, HTTPAddr and LambdaAddr are the listen addresses of the S3
	// server (LocalStack's 127.0.0.1:4566 by default), the HTTP API gateway
	// (127.0.0.1:8080) and the Lambda Invoke API used by 'telcolake invoke'
	// (127.0.0.1:9001). Use 127.0.0.1:0 for free ports.
	S3Addr, HTTPAddr, LambdaAddr string
	// Params are template parameters (CatalogURI, PseudonymKey, ...).
	Params map[string]string
	// Binaries maps function names to prebuilt bootstrap binaries; the
	// others are built by Build.
	Binaries map[string]string
	// Emulator runs every function binary under a command, e.g.
	// [qemu-aarch64-static] for Lambda's arm64 packages (see FunctionConfig).
	Emulator []string
	// Schedules runs rate() schedules of the template on timers.
	Schedules bool
	// Log receives the stack's and the functions' logs.
	Log io.Writer
	// OnDelivery, when set, is told the outcome of every event delivery:
	// for a queue's messages, once per file when its message is deleted
	// (done) or moved to the dead-letter queue (failed for good).
	OnDelivery func(Delivery)
	// SQSAddr is the listen address of the SQS service (127.0.0.1:0 by default).
	SQSAddr string
	// Functions, when set, are the only functions that run (by local
	// name): the others need no binary and get no events. For a test of
	// one part of the stack.
	Functions []string
	// RetryDelay is when a message whose batch item failed comes back
	// locally (1 s by default): the template's visibility timeout is sized
	// for Lambda's timeouts, far too long for a local run.
	RetryDelay time.Duration
}

// Region and account the local stack reports (LocalStack's defaults).
const (
	Region    = "us-east-1"
	AccountID = "000000000000"
)

// Stack is the running local AWS.
type Stack struct {
	cfg       Config
	Template  *Template
	S3        *S3Server
	Buckets   map[string]string // logical id → bucket name
	functions map[string]*Function
	aliases   map[string]string // a function's FunctionName, resolved → its local name
	configs   map[string]FunctionConfig
	pool      *functionPool
	notifier  *notifier
	// SQS is the queue service; SQSURL its endpoint.
	SQS        *SQS
	SQSURL     string
	queueNames map[string]string // logical id → queue name
	pollers    []*poller
	servers    []*http.Server
	HTTPURL    string
	LambdaURL  string
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

// Build compiles each package of the template's functions into
// dir/bin/host/<package>, the same binary 'make package' zips for Lambda
// (as bootstrap), and returns them by package. One go build for all of
// them: with a warm build cache it checks them in about a second, where
// one go build a package took 5 s of CPU (18 s at load 18) to find the
// same seven binaries up to date.
func Build(ctx context.Context, repo, dir string, tpl *Template) (map[string]string, error) {
	out := map[string]string{}
	bin, err := filepath.Abs(filepath.Join(dir, "bin", "host"))
	if err != nil {
		return nil, err
	}
	args := []string{"build", "-o", bin + string(filepath.Separator)}
	for _, f := range tpl.Functions {
		if _, built := out[f.Package]; built {
			continue // a package several functions deploy
		}
		if filepath.Base(f.Source) != f.Package {
			return nil, fmt.Errorf("build %s: its source %s does not end in the package's name", f.Package, f.Source)
		}
		out[f.Package] = filepath.Join(bin, f.Package)
		args = append(args, "./"+f.Source)
	}
	if len(out) == 0 {
		return out, nil
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build %v: %v\n%s", slices.Sorted(maps.Keys(out)), err, b)
	}
	return out, nil
}

// Start starts the stack. Functions must be built (cfg.Binaries) already.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	cfg.Dir = dir
	tpl, err := LoadTemplateWith(filepath.Join(cfg.Repo, "infra", "template.yaml"), cfg.Params)
	if err != nil {
		return nil, err
	}
	if cfg.Functions != nil {
		var only []FunctionDef
		for _, f := range tpl.Functions {
			if slices.Contains(cfg.Functions, f.Name) {
				only = append(only, f)
			}
		}
		if len(only) != len(cfg.Functions) {
			return nil, fmt.Errorf("local stack: functions %v, of which the template has %d", cfg.Functions, len(only))
		}
		tpl.Functions = only
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Stack{cfg: cfg, Template: tpl, functions: map[string]*Function{}, configs: map[string]FunctionConfig{},
		Buckets: map[string]string{}, cancel: cancel,
		queueNames: map[string]string{}, aliases: map[string]string{}}
	s.pool = &functionPool{start: func(name string) (*Function, error) {
		fc, ok := s.configs[name]
		if !ok {
			return nil, fmt.Errorf("no function %q in the template", name)
		}
		return StartFunction(fc)
	}}
	fail := func(err error) (*Stack, error) {
		s.Close()
		return nil, err
	}

	// Names of buckets: the template's BucketName, resolved locally.
	for id, v := range tpl.Buckets {
		name, err := v.Resolve(s.lookup)
		if err != nil || name == "" {
			name = strings.ToLower(strings.TrimSuffix(id, "Bucket"))
		}
		s.Buckets[id] = name
	}

	if err := s.startQueues(); err != nil {
		return fail(err)
	}

	// The notification receiver listens before the S3 server starts.
	var subs []subscription
	for _, f := range tpl.Functions {
		for _, tr := range f.S3 {
			subs = append(subs, subscription{function: f.Name, bucket: s.Buckets[tr.Bucket], prefix: tr.Prefix, suffix: tr.Suffix})
		}
	}
	for _, bq := range tpl.BucketQueues {
		subs = append(subs, subscription{queue: s.queueNames[bq.Queue], bucket: s.Buckets[bq.Bucket], prefix: bq.Prefix, suffix: bq.Suffix})
	}
	s.notifier = newNotifier(runCtx, subs, s.Invoke, cfg.Log)
	s.notifier.enqueue = func(queue string, payload []byte) error {
		_, _, err := s.SQS.Send(queue, string(payload), 0)
		return err
	}
	s.notifier.onDone = cfg.OnDelivery
	s.notifier.async = map[string]AsyncConfig{}
	for _, f := range tpl.Functions {
		s.notifier.async[f.Name] = f.Async
	}
	s.notifier.deadLetter = s.writeDeadLetter
	hookURL, err := s.serve("127.0.0.1:0", s.notifier)
	if err != nil {
		return fail(fmt.Errorf("notification receiver: %w", err))
	}

	var buckets []string
	for _, b := range s.Buckets {
		buckets = append(buckets, b)
	}
	s.S3, err = StartS3(ctx, S3Config{Root: filepath.Join(dir, "s3"), Addr: orDefault(cfg.S3Addr, "127.0.0.1:4566"),
		Region: Region, Buckets: buckets, WebhookURL: hookURL}, cfg.Log)
	if err != nil {
		return fail(err)
	}
	sweep := s.notifier.sweep(runCtx, s.S3, s.S3.Client(), 5*time.Second)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		sweep()
	}()

	// The Lambda Invoke API listens before the functions start: a function
	// may invoke another (the api function its shards).
	if s.LambdaURL, err = s.serve(orDefault(cfg.LambdaAddr, "127.0.0.1:9001"), http.HandlerFunc(s.serveInvoke)); err != nil {
		return fail(fmt.Errorf("Lambda API: %w", err))
	}
	for _, f := range tpl.Functions {
		if n, err := f.FunctionName.Resolve(s.lookup); err == nil && n != "" && n != f.Name {
			s.aliases[n] = f.Name
		}
	}
	for _, f := range tpl.Functions {
		bin := cfg.Binaries[f.Package]
		if bin == "" {
			return fail(fmt.Errorf("function %s (package %s) is not built", f.Name, f.Package))
		}
		env, err := s.functionEnv(f)
		if err != nil {
			return fail(fmt.Errorf("function %s: %w", f.Name, err))
		}
		fc := FunctionConfig{Name: f.Name, Binary: bin, Emulator: cfg.Emulator, Env: env, Timeout: f.Timeout, Memory: f.Memory, Region: Region, Log: cfg.Log}
		fn, err := StartFunction(fc)
		if err != nil {
			return fail(err)
		}
		s.functions[f.Name], s.configs[f.Name] = fn, fc
	}

	gw := &gateway{invoke: s.Invoke}
	for _, f := range tpl.Functions {
		for _, r := range f.HTTP {
			gw.routes = append(gw.routes, newRoute(r.Method, r.Path, f.Name))
		}
	}
	if s.HTTPURL, err = s.serve(orDefault(cfg.HTTPAddr, "127.0.0.1:8080"), gw); err != nil {
		return fail(fmt.Errorf("HTTP gateway: %w", err))
	}
	if cfg.Schedules {
		s.startSchedules(runCtx)
	}
	if err := s.startPollers(runCtx); err != nil {
		return fail(err)
	}
	return s, nil
}

// startQueues serves the SQS service and creates the template's queues,
// dead-letter queues first.
func (s *Stack) startQueues() error {
	ln, err := net.Listen("tcp", orDefault(s.cfg.SQSAddr, "127.0.0.1:0"))
	if err != nil {
		return fmt.Errorf("SQS: %w", err)
	}
	s.SQSURL = "http://" + ln.Addr().String()
	s.SQS = NewSQS(s.SQSURL)
	s.SQS.onDeadLetter = s.queueDeadLetter
	srv := &http.Server{Handler: s.SQS, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go srv.Serve(ln)
	for id, q := range s.Template.Queues {
		name, err := q.Name.Resolve(s.lookup)
		if err != nil || name == "" {
			name = id
		}
		s.queueNames[id] = name
	}
	ids := make([]string, 0, len(s.Template.Queues))
	for id := range s.Template.Queues {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { // dead-letter queues first
		di, dj := s.Template.Queues[ids[i]].DeadLetter == "", s.Template.Queues[ids[j]].DeadLetter == ""
		if di != dj {
			return di
		}
		return ids[i] < ids[j]
	})
	for _, id := range ids {
		q := s.Template.Queues[id]
		attrs := map[string]string{"VisibilityTimeout": strconv.Itoa(int(q.VisibilityTimeout / time.Second))}
		if q.DeadLetter != "" {
			dlq, ok := s.queueNames[q.DeadLetter]
			if !ok {
				return fmt.Errorf("queue %s: its dead-letter queue %s is not in the template", id, q.DeadLetter)
			}
			attrs["RedrivePolicy"] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, QueueARN(dlq), q.MaxReceiveCount)
		}
		if _, err := s.SQS.CreateQueue(s.queueNames[id], attrs); err != nil {
			return fmt.Errorf("queue %s: %w", id, err)
		}
	}
	return nil
}

// startPollers runs the functions' SQS event source mappings.
func (s *Stack) startPollers(ctx context.Context) error {
	retry := s.cfg.RetryDelay
	if retry <= 0 {
		retry = time.Second
	}
	for _, f := range s.Template.Functions {
		for _, tr := range f.SQS {
			name, ok := s.queueNames[tr.Queue]
			if !ok {
				return fmt.Errorf("function %s: queue %s is not in the template", f.Name, tr.Queue)
			}
			p := &poller{sqs: s.SQS, queue: name, queueURL: name, function: f.Name, batchSize: 10, report: tr.ReportFailures,
				retryDelay: retry, invoke: s.Invoke, onDone: s.cfg.OnDelivery,
				log: func(format string, a ...any) { fmt.Fprintf(s.cfg.Log, format+"\n", a...) }}
			if v, err := tr.BatchSize.Resolve(s.lookup); err != nil {
				return fmt.Errorf("function %s: BatchSize: %w", f.Name, err)
			} else if v != "" {
				if p.batchSize, err = strconv.Atoi(v); err != nil || p.batchSize < 1 || p.batchSize > 10000 {
					return fmt.Errorf("function %s: BatchSize %q: want 1 to 10000", f.Name, v)
				}
			}
			if v, err := tr.Window.Resolve(s.lookup); err != nil {
				return fmt.Errorf("function %s: MaximumBatchingWindowInSeconds: %w", f.Name, err)
			} else if v != "" {
				sec, err := strconv.Atoi(v)
				if err != nil || sec < 0 || sec > 300 {
					return fmt.Errorf("function %s: MaximumBatchingWindowInSeconds %q: want 0 to 300", f.Name, v)
				}
				p.window = time.Duration(sec) * time.Second
			}
			if p.batchSize > 10 && p.window == 0 {
				return fmt.Errorf("function %s: a BatchSize above 10 needs MaximumBatchingWindowInSeconds of at least 1 (as Lambda requires)", f.Name)
			}
			p.concurrency = 1
			if v, err := tr.Concurrency.Resolve(s.lookup); err != nil {
				return fmt.Errorf("function %s: ScalingConfig.MaximumConcurrency: %w", f.Name, err)
			} else if v != "" {
				// Lambda requires 2 to 1000; 1 (one environment) is accepted
				// locally, to compare.
				if p.concurrency, err = strconv.Atoi(v); err != nil || p.concurrency < 1 || p.concurrency > 1000 {
					return fmt.Errorf("function %s: ScalingConfig.MaximumConcurrency %q: want 2 to 1000 (1 locally)", f.Name, v)
				}
			}
			s.pollers = append(s.pollers, p)
			for i := range p.concurrency {
				// The first environment is the function's own (which direct
				// invocations share); the others come from the pool.
				invoke := p.invoke
				if i > 0 {
					invoke = s.pool.Invoke
				}
				s.wg.Add(1)
				go func() {
					defer s.wg.Done()
					p.run(ctx, invoke)
				}()
			}
		}
	}
	return nil
}

// lookup resolves !Ref and ${...} locally.
func (s *Stack) lookup(name string) (string, bool) {
	switch name {
	case "AWS::AccountId":
		return AccountID, true
	case "AWS::Region":
		return Region, true
	case "AWS::Partition":
		return "aws", true
	case "AWS::StackName":
		return "telcolake-local", true
	case "AWS::URLSuffix":
		return "amazonaws.com", true
	}
	if v, ok := s.cfg.Params[name]; ok {
		return v, true
	}
	if v, ok := s.Template.Parameters[name]; ok {
		return v, true
	}
	id, attr, _ := strings.Cut(name, ".")
	if q, ok := s.queueNames[id]; ok {
		switch attr {
		case "":
			return s.SQS.queueURL(q), true
		case "Arn":
			return QueueARN(q), true
		case "QueueName":
			return q, true
		}
	}
	if b, ok := s.Buckets[id]; ok {
		switch attr {
		case "":
			return b, true
		case "Arn":
			return "arn:aws:s3:::" + b, true
		}
	}
	return "", false
}

// functionEnv is the template's environment, resolved locally, plus what
// reaches the local S3 server.
func (s *Stack) functionEnv(f FunctionDef) ([]string, error) {
	var env []string
	for k, v := range f.Env {
		val, err := v.Resolve(s.lookup)
		if err != nil {
			return nil, fmt.Errorf("environment variable %s: %w", k, err)
		}
		env = append(env, k+"="+val)
	}
	return append(env,
		"AWS_ENDPOINT_URL="+s.S3.Endpoint(),
		"AWS_ENDPOINT_URL_LAMBDA="+s.LambdaURL,
		"AWS_ENDPOINT_URL_SQS="+s.SQSURL,
		"AWS_ACCESS_KEY_ID="+LocalAccessKey,
		"AWS_SECRET_ACCESS_KEY="+LocalSecretKey,
		"AWS_SESSION_TOKEN=",
	), nil
}

func (s *Stack) serve(addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

// Invoke runs a function synchronously; name is its local name or its
// FunctionName.
func (s *Stack) Invoke(ctx context.Context, name string, payload []byte) ([]byte, error) {
	if local, ok := s.aliases[name]; ok {
		name = local
	}
	f, ok := s.functions[name]
	if !ok {
		return nil, fmt.Errorf("no function %q in the template", name)
	}
	return f.Invoke(ctx, payload)
}

// Functions lists the function names.
func (s *Stack) Functions() []string {
	var out []string
	for _, f := range s.Template.Functions {
		out = append(out, f.Name)
	}
	return out
}

// serveInvoke is the Lambda Invoke API: POST /2015-03-31/functions/{name}/invocations.
func (s *Stack) serveInvoke(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, "/2015-03-31/functions/")
	name, ok2 := strings.CutSuffix(name, "/invocations")
	if r.Method != http.MethodPost || !ok || !ok2 {
		http.Error(w, `{"message":"use POST /2015-03-31/functions/{name}/invocations"}`, http.StatusNotFound)
		return
	}
	if i := strings.LastIndex(name, ":function:"); i >= 0 { // an ARN
		name = name[i+len(":function:"):]
	}
	if local, ok := s.aliases[name]; ok {
		name = local
	}
	if _, known := s.functions[name]; !known {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"Type":"User","message":"Function not found: %s"}`, name)
		return
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, 6<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	out, err := s.Invoke(r.Context(), name, payload)
	w.Header().Set("Content-Type", "application/json")
	var fe *FunctionError
	switch {
	case errors.As(err, &fe):
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		json.NewEncoder(w).Encode(fe)
	case err != nil:
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]string{"message": err.Error()})
	default:
		w.Write(out)
	}
}

var rateExpr = regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$`)

// rateInterval is the period of an EventBridge rate() expression; cron()
// expressions are not run locally.
func rateInterval(expr string) (time.Duration, error) {
	m := rateExpr.FindStringSubmatch(strings.TrimSpace(expr))
	if m == nil {
		return 0, fmt.Errorf("schedule %q: only rate(N minutes|hours|days) runs locally", expr)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 {
		return 0, fmt.Errorf("schedule %q: the rate must be a positive number", expr)
	}
	if (n == 1) != !strings.HasSuffix(m[2], "s") {
		return 0, fmt.Errorf("schedule %q: EventBridge wants %q for 1 and plural units otherwise", expr, "rate(1 day)")
	}
	unit := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[strings.TrimSuffix(m[2], "s")]
	return time.Duration(n) * unit, nil
}

func (s *Stack) startSchedules(ctx context.Context) {
	for _, f := range s.Template.Functions {
		for _, sc := range f.Sched {
			every, err := rateInterval(sc.Expression)
			if err != nil {
				fmt.Fprintf(s.cfg.Log, "[schedule] %s: %v; run it with 'telcolake invoke %s'\n", f.Name, err, f.Name)
				continue
			}
			input := sc.Input
			if input == "" {
				b, _ := json.Marshal(map[string]any{"version": "0", "id": newRequestID(), "detail-type": "Scheduled Event",
					"source": "aws.events", "account": AccountID, "region": Region, "detail": map[string]any{}})
				input = string(b)
			}
			name := f.Name
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				t := time.NewTicker(every)
				defer t.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-t.C:
						if _, err := s.Invoke(ctx, name, []byte(input)); err != nil {
							fmt.Fprintf(s.cfg.Log, "[schedule] %s: %v\n", name, err)
						}
					}
				}
			}()
		}
	}
}

// DeadLetterDir is where the local stack keeps the messages an on-failure
// destination (the template's dead-letter queue) received: one JSON file
// each, in Lambda's destination record format, under <Dir>/dlq/<queue>/.
func (s *Stack) DeadLetterDir() string { return filepath.Join(s.cfg.Dir, "dlq") }

// DeadLetters lists the dead-letter messages, oldest first.
func (s *Stack) DeadLetters() ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(s.DeadLetterDir(), "*", "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(matches) // names start with the time
	return matches, nil
}

// writeDeadLetter delivers an event that failed for good to the function's
// on-failure destination, or says that it is dropped when there is none.
func (s *Stack) writeDeadLetter(fn string, payload []byte, d Delivery, condition string) {
	var dest string
	for _, f := range s.Template.Functions {
		if f.Name == fn {
			dest = f.Async.OnFailure
		}
	}
	if dest == "" {
		fmt.Fprintf(s.cfg.Log, "[notify] %s for %s failed %d time(s) and has no on-failure destination: the event is dropped\n", fn, d.Key, d.Attempts)
		return
	}
	resp := map[string]string{"errorMessage": "", "errorType": ""}
	var fe *FunctionError
	if errors.As(d.Err, &fe) {
		resp["errorMessage"], resp["errorType"] = fe.ErrorMessage, fe.ErrorType
	} else {
		resp["errorMessage"], resp["errorType"] = d.Err.Error(), "Invoke"
	}
	now := time.Now().UTC()
	id := newRequestID()
	rec := map[string]any{
		"version":   "1.0",
		"timestamp": now.Format(time.RFC3339Nano),
		"requestContext": map[string]any{"requestId": id, "functionArn": s.functions[fn].ARN() + ":$LATEST",
			"condition": condition, "approximateInvokeCount": d.Attempts},
		"requestPayload":  json.RawMessage(payload),
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
		"responsePayload": resp,
	}
	body, _ := json.MarshalIndent(rec, "", "  ")
	dir := filepath.Join(s.DeadLetterDir(), dest)
	name := filepath.Join(dir, now.Format("20060102T150405.000000000Z")+"-"+id[:8]+".json")
	err := os.MkdirAll(dir, 0o755)
	if err == nil {
		err = os.WriteFile(name, body, 0o644)
	}
	if err != nil {
		fmt.Fprintf(s.cfg.Log, "[notify] %s for %s: dead letter not written (%v): the event is lost\n", fn, d.Key, err)
		return
	}
	fmt.Fprintf(s.cfg.Log, "[notify] %s for %s failed %d time(s) (%s): dead letter %s\n", fn, d.Key, d.Attempts, condition, name)
}

// Close stops everything; the data stays in Dir.
func (s *Stack) Close() error {
	s.cancel()
	for _, srv := range s.servers {
		srv.Close()
	}
	for _, f := range s.functions {
		f.Close()
	}
	s.pool.close()
	if s.S3 != nil {
		s.S3.Close()
	}
	s.wg.Wait()
	return nil
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
