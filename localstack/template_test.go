package localstack

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTemplateMatchesFunctions checks infra/template.yaml against
// functions/: every function directory has a resource and vice versa,
// every CodeUri's source (functions/<name> for ../dist/<name>.zip) has a
// main package, and every environment variable the code reads (lake.Env*
// constants and os.Getenv/LookupEnv literals) is set by the template or by
// Lambda itself.
func TestTemplateMatchesFunctions(t *testing.T) {
	tpl, err := LoadTemplate(filepath.Join("..", "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := os.ReadDir(filepath.Join("..", "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk, inTemplate []string
	for _, d := range dirs {
		if d.IsDir() {
			onDisk = append(onDisk, d.Name())
		}
	}
	for _, f := range tpl.Functions {
		if !slices.Contains(inTemplate, f.Package) {
			inTemplate = append(inTemplate, f.Package) // a loop deploys one package several times
		}
		if f.Handler != "bootstrap" || f.Runtime != "provided.al2023" {
			t.Errorf("%s: handler %q runtime %q, want bootstrap on provided.al2023", f.LogicalID, f.Handler, f.Runtime)
		}
		main := filepath.Join("..", f.Source, "main.go")
		if _, err := os.Stat(main); err != nil {
			t.Errorf("%s: CodeUri %s: %s has no main.go: %v", f.LogicalID, f.CodeURI, f.Source, err)
		}
		for _, v := range envReadBy(t, filepath.Join("..", f.Source)) {
			if _, ok := f.Env[v]; !ok && !lambdaSets[v] && !localOnly[v] {
				t.Errorf("%s reads %s, which the template does not set", f.LogicalID, v)
			}
		}
		if f.Env["AWS_LAMBDA_LOG_FORMAT"].Literal != "JSON" {
			t.Errorf("%s: AWS_LAMBDA_LOG_FORMAT should be JSON", f.LogicalID)
		}
	}
	sort.Strings(onDisk)
	sort.Strings(inTemplate)
	if strings.Join(onDisk, ",") != strings.Join(inTemplate, ",") {
		t.Errorf("functions/ has %v, the template %v", onDisk, inTemplate)
	}
	var ingest *FunctionDef
	for i := range tpl.Functions {
		if tpl.Functions[i].Name == "ingest" {
			ingest = &tpl.Functions[i]
		}
	}
	if ingest == nil || len(ingest.SQS) != 1 {
		t.Fatalf("ingest should be triggered by one queue: %+v", ingest)
	}
	notified := false
	for _, bq := range tpl.BucketQueues {
		if bq.Bucket == "LandingBucket" && bq.Queue == ingest.SQS[0].Queue && bq.Prefix == "exports/" && bq.Event == "s3:ObjectCreated:*" {
			notified = true
		}
	}
	if !notified {
		t.Errorf("LandingBucket should notify ingest's queue %s of objects created under exports/: %+v", ingest.SQS[0].Queue, tpl.BucketQueues)
	}
}

// TestTemplateIngestQueue: the ingest queue reports failures per message,
// redrives to a dead-letter queue, hides a message longer than 6 ingest
// timeouts (Lambda's advice for event source mappings), lets the landing
// bucket send to it, and has alarms on its age and its dead letters.
func TestTemplateIngestQueue(t *testing.T) {
	tpl, err := LoadTemplate(filepath.Join("..", "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var in FunctionDef
	for _, f := range tpl.Functions {
		if f.Name == "ingest" {
			in = f
		}
	}
	if len(in.SQS) != 1 {
		t.Fatalf("ingest has %d SQS event sources, want 1", len(in.SQS))
	}
	tr := in.SQS[0]
	if !tr.ReportFailures {
		t.Error("ingest's event source mapping lacks FunctionResponseTypes: [ReportBatchItemFailures]")
	}
	if tr.BatchSize.Ref == "" || tr.Window.Ref == "" || tr.Concurrency.Ref == "" {
		t.Errorf("BatchSize, MaximumBatchingWindowInSeconds and ScalingConfig.MaximumConcurrency should be template parameters: %+v", tr)
	}
	q := tpl.Queues[tr.Queue]
	if q.VisibilityTimeout < 6*in.Timeout {
		t.Errorf("queue %s: visibility timeout %v, want at least 6 × the function's %v", tr.Queue, q.VisibilityTimeout, in.Timeout)
	}
	if tpl.Types[q.DeadLetter] != "AWS::SQS::Queue" || q.MaxReceiveCount < 2 {
		t.Errorf("queue %s: redrive to %q after %d receives, want a dead-letter queue after a few", tr.Queue, q.DeadLetter, q.MaxReceiveCount)
	}
	policy := false
	for id, typ := range tpl.Types {
		if typ != "AWS::SQS::QueuePolicy" {
			continue
		}
		p := get(tpl.resources[id], "Properties")
		for _, st := range seqOf(get(get(p, "PolicyDocument"), "Statement")) {
			if scalar(get(get(st, "Principal"), "Service")) == "s3.amazonaws.com" && logicalID(get(st, "Resource")) == tr.Queue &&
				get(get(st, "Condition"), "ArnLike") != nil {
				policy = true
			}
		}
	}
	if !policy {
		t.Errorf("no queue policy lets s3.amazonaws.com send to %s (with an aws:SourceArn condition)", tr.Queue)
	}
	alarms := map[string]string{} // queue → metrics alarmed
	for id, typ := range tpl.Types {
		if typ != "AWS::CloudWatch::Alarm" {
			continue
		}
		p := get(tpl.resources[id], "Properties")
		for _, d := range seqOf(get(p, "Dimensions")) {
			alarms[logicalID(get(d, "Value"))] += scalar(get(p, "MetricName")) + " "
		}
	}
	if !strings.Contains(alarms[tr.Queue], "ApproximateAgeOfOldestMessage") {
		t.Errorf("no alarm on the age of %s's oldest message", tr.Queue)
	}
	if !strings.Contains(alarms[q.DeadLetter], "ApproximateNumberOfMessagesVisible") {
		t.Errorf("no alarm on the depth of %s", q.DeadLetter)
	}
}

// lambdaSets are variables Lambda provides to every function.
var lambdaSets = map[string]bool{"AWS_REGION": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true, "AWS_ENDPOINT_URL": true}

// localOnly are variables a function reads only to be profiled locally;
// unset in the template, so never in AWS.
var localOnly = map[string]bool{}

// envReadBy lists the environment variables a function reads: string
// literals passed to os.Getenv/os.LookupEnv in its package, plus every
// lake.Env* constant when it calls lake.FromEnv.
func envReadBy(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	usesLakeConfig := false
	for _, p := range pkgs {
		for _, f := range p.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				x, _ := sel.X.(*ast.Ident)
				if x != nil && x.Name == "lake" && sel.Sel.Name == "FromEnv" {
					usesLakeConfig = true
				}
				if x != nil && x.Name == "os" && (sel.Sel.Name == "Getenv" || sel.Sel.Name == "LookupEnv") && len(call.Args) == 1 {
					if lit, ok := call.Args[0].(*ast.BasicLit); ok {
						s, _ := strconv.Unquote(lit.Value)
						seen[s] = true
					}
				}
				return true
			})
		}
	}
	if usesLakeConfig {
		for _, v := range lakeRequired(t) {
			seen[v] = true
		}
	}
	var out []string
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// lakeRequired returns the values of the Env* constants of package lake.
func lakeRequired(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "lake", "config.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if strings.HasPrefix(name.Name, "Env") && i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
						v, _ := strconv.Unquote(lit.Value)
						out = append(out, v)
					}
				}
			}
		}
	}
	return out
}

func TestRateInterval(t *testing.T) {
	tests := []struct {
		expr string
		want time.Duration
		ok   bool
	}{
		{"rate(1 day)", 24 * time.Hour, true},
		{"rate(30 days)", 30 * 24 * time.Hour, true},
		{"rate(5 minutes)", 5 * time.Minute, true},
		{"rate(1 hour)", time.Hour, true},
		{"rate(1 days)", 0, false}, // EventBridge rejects the plural for 1
		{"rate(2 hour)", 0, false},
		{"rate(0 minutes)", 0, false},
		{"cron(0 3 1 * ? *)", 0, false},
	}
	for _, tc := range tests {
		got, err := rateInterval(tc.expr)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("rateInterval(%q) = %v, %v; want %v, ok=%v", tc.expr, got, err, tc.want, tc.ok)
		}
	}
}

// TestTemplateLosesNoEvents: ingest has reserved concurrency, bounded
// retries and event age, an SQS dead-letter queue as its on-failure
// destination with an alarm on its depth that notifies a topic, and a
// scheduled reconcile runs locally (a rate() schedule).
func TestTemplateLosesNoEvents(t *testing.T) {
	tpl, err := LoadTemplate(filepath.Join("..", "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fns := map[string]FunctionDef{}
	for _, f := range tpl.Functions {
		fns[f.Name] = f
	}
	in := fns["ingest"]
	if in.ReservedConcurrency.Literal == "" && in.ReservedConcurrency.Ref == "" {
		t.Error("ingest has no ReservedConcurrentExecutions")
	}
	if in.Async.Retries != 2 || in.Async.MaxAge <= 0 || in.Async.MaxAge > 6*time.Hour {
		t.Errorf("ingest EventInvokeConfig %+v, want 2 retries and a maximum event age", in.Async)
	}
	q := in.Async.OnFailure
	if tpl.Types[q] != "AWS::SQS::Queue" {
		t.Fatalf("ingest's on-failure destination %q is a %q, want an AWS::SQS::Queue", q, tpl.Types[q])
	}
	alarmed := false
	for id, typ := range tpl.Types {
		if typ != "AWS::CloudWatch::Alarm" {
			continue
		}
		p := get(tpl.resources[id], "Properties")
		dims := get(p, "Dimensions")
		if dims == nil || scalar(get(p, "Namespace")) != "AWS/SQS" || len(get(p, "AlarmActions").Content) == 0 {
			continue
		}
		for _, d := range dims.Content {
			if logicalID(get(d, "Value")) == q {
				alarmed = true
				for _, a := range get(p, "AlarmActions").Content {
					if tpl.Types[logicalID(a)] != "AWS::SNS::Topic" {
						t.Errorf("alarm %s notifies %q, want an AWS::SNS::Topic", id, logicalID(a))
					}
				}
			}
		}
	}
	if !alarmed {
		t.Errorf("no AWS/SQS alarm with actions watches %s", q)
	}
	rc, ok := fns["reconcile"]
	if !ok || len(rc.Sched) != 1 {
		t.Fatalf("reconcile should run on one schedule: %+v", rc)
	}
	if _, err := rateInterval(rc.Sched[0].Expression); err != nil {
		t.Errorf("reconcile's schedule does not run locally: %v", err)
	}
	if rc.ReservedConcurrency.Literal != "1" {
		t.Errorf("reconcile ReservedConcurrentExecutions %+v, want 1 (one run at a time)", rc.ReservedConcurrency)
	}
}

// TestTemplateRoutesEveryAPIPath checks that every path of the API's OpenAPI
// document (kept in step with the router by api's TestOpenAPIMatchesHandler)
// has an HttpApi route to the api function in the template: a path the router
// serves but the gateway does not route answers 404 in AWS and locally.
func TestTemplateRoutesEveryAPIPath(t *testing.T) {
	tpl, err := LoadTemplate(filepath.Join("..", "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("..", "api", "openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("api/openapi.json: %v", err)
	}
	routed := map[string]bool{}
	for _, f := range tpl.Functions {
		if f.Name != "api" {
			continue
		}
		for _, r := range f.HTTP {
			routed[r.Method+" "+r.Path] = true
		}
	}
	if len(doc.Paths) == 0 || len(routed) == 0 {
		t.Fatalf("%d OpenAPI paths, %d template routes for the api function", len(doc.Paths), len(routed))
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			m := strings.ToUpper(method)
			if m != "GET" && m != "POST" && m != "PUT" && m != "PATCH" && m != "DELETE" {
				continue // parameters, summary, …
			}
			if !routed[m+" "+path] && !routed["ANY "+path] {
				t.Errorf("the API serves %s %s, but infra/template.yaml routes no HttpApi event for it to the api function", m, path)
			}
		}
	}
}

// TestTemplateIngestTmp checks that the functions running ingest (the
// queue's and the reconcile's) give the suspect spill (lake/suspects.go)
// Lambda's largest /tmp: the spill grows with the decompressed bytes of the
// files checked, which the limits allow past 10 GB (512 MB by default).
func TestTemplateIngestTmp(t *testing.T) {
	tpl, err := LoadTemplate(filepath.Join("..", "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"ingest": true, "reconcile": true}
	for _, f := range tpl.Functions {
		if !want[f.Name] {
			continue
		}
		delete(want, f.Name)
		if f.EphemeralMB != 10240 {
			t.Errorf("%s: EphemeralStorage.Size %d MB, want 10240 (the suspect spill's /tmp)", f.Name, f.EphemeralMB)
		}
	}
	for name := range want {
		t.Errorf("no function %s in the template", name)
	}
}

func TestParseEphemeralStorage(t *testing.T) {
	for _, tc := range []struct {
		size    string
		want    int
		wantErr bool
	}{
		{"", 512, false},
		{"2048", 2048, false},
		{"10240", 10240, false},
		{"256", 0, true},
		{"10241", 0, true},
		{"big", 0, true},
	} {
		eph := ""
		if tc.size != "" {
			eph = "      EphemeralStorage:\n        Size: " + tc.size + "\n"
		}
		src := "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: ../dist/f.zip\n" + eph
		path := filepath.Join(t.TempDir(), "template.yaml")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		tpl, err := LoadTemplate(path)
		if tc.wantErr {
			if err == nil {
				t.Errorf("Size %q: no error", tc.size)
			}
			continue
		}
		if err != nil {
			t.Errorf("Size %q: %v", tc.size, err)
			continue
		}
		if len(tpl.Functions) != 1 || tpl.Functions[0].EphemeralMB != tc.want {
			t.Errorf("Size %q: got %+v, want %d MB", tc.size, tpl.Functions, tc.want)
		}
	}
}
