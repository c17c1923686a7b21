package localstack

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/telcolake/telcolake/infra/langext"
)

// Template is what the local stack needs from infra/template.yaml: the
// functions, their environment and their triggers.
type Template struct {
	Functions []FunctionDef
	// Buckets maps the logical ids of the AWS::S3::Bucket resources to their BucketName.
	Buckets map[string]Value
	// Parameters are the template's parameters that have a default (which
	// may be empty), with it.
	Parameters map[string]string
	// StateMachines are the AWS::StepFunctions::StateMachine resources, by
	// logical id.
	StateMachines map[string]*StateMachineDef
	// Types maps every resource's logical id to its Type.
	Types map[string]string
	// Queues maps the logical ids of the AWS::SQS::Queue resources to them.
	Queues map[string]QueueDef
	// BucketQueues are the buckets' notifications to queues
	// (NotificationConfiguration.QueueConfigurations).
	BucketQueues []BucketQueue
	// resources are the resource nodes, for the template's own tests.
	resources map[string]*yaml.Node
}

// FunctionDef is one AWS::Serverless::Function.
type FunctionDef struct {
	LogicalID string
	// Name is the function's name locally: its Package, or for a copy
	// of an Fn::ForEach loop (which deploys one package several times)
	// its logical id in lower case without "Function" (apishard3).
	Name string
	// Package is the package make package builds, CodeUri
	// ../dist/<package>.zip, from the main package in Source.
	Package string
	// FunctionName is the FunctionName as written; the local stack
	// invokes the function by it too.
	FunctionName Value
	CodeURI      string // as written, relative to the template
	Source       string // functions/<name>, relative to the repository
	Handler      string
	Runtime      string
	Timeout      time.Duration
	Memory       int
	// EphemeralMB is EphemeralStorage.Size, the function's /tmp in MB
	// (Lambda's default 512, at most 10240).
	EphemeralMB int
	Env         map[string]Value
	S3          []S3Trigger
	Sched       []ScheduleTrigger
	HTTP        []HTTPRoute
	SQS         []SQSTrigger
	// Async is how Lambda handles the function's asynchronous invocations
	// (S3 events, schedules): EventInvokeConfig, or Lambda's defaults.
	Async AsyncConfig
	// ReservedConcurrency is ReservedConcurrentExecutions as written (a
	// literal or a !Ref), empty when unset. Locally every function runs one
	// invocation at a time.
	ReservedConcurrency Value
}

// AsyncConfig is a function's EventInvokeConfig.
type AsyncConfig struct {
	Retries int           // MaximumRetryAttempts: Lambda's default is 2
	MaxAge  time.Duration // MaximumEventAgeInSeconds: Lambda's default is 6 hours
	// OnFailure is the logical id of DestinationConfig.OnFailure's
	// destination (a queue), empty when a failed event is dropped.
	OnFailure string
}

// defaultAsync is what Lambda does without an EventInvokeConfig.
var defaultAsync = AsyncConfig{Retries: 2, MaxAge: 6 * time.Hour}

// S3Trigger is an S3 event source: object events in a bucket, filtered by key.
type S3Trigger struct {
	Bucket string // logical id of the bucket
	Events []string
	Prefix string
	Suffix string
}

// QueueDef is an AWS::SQS::Queue.
type QueueDef struct {
	LogicalID         string
	Name              Value
	VisibilityTimeout time.Duration // SQS's default is 30 s
	// DeadLetter is the logical id of the RedrivePolicy's target queue,
	// empty without one; MaxReceiveCount is its maxReceiveCount.
	DeadLetter      string
	MaxReceiveCount int
}

// BucketQueue routes a bucket's object events, filtered by key, to a queue.
type BucketQueue struct {
	Bucket string // logical id of the bucket
	Queue  string // logical id of the queue
	Event  string
	Prefix string
	Suffix string
}

// SQSTrigger is an SQS event source mapping of a function.
type SQSTrigger struct {
	Queue     string // logical id of the queue
	BatchSize Value  // Lambda's default is 10
	// Window is MaximumBatchingWindowInSeconds (default 0).
	Window Value
	// ReportFailures: FunctionResponseTypes holds ReportBatchItemFailures,
	// so the function's answer names the messages that failed.
	ReportFailures bool
	// Concurrency is ScalingConfig.MaximumConcurrency: how many batches
	// of the queue the function works on at once (locally 1 if unset).
	Concurrency Value
}

// ScheduleTrigger is a Schedule/ScheduleV2 event source.
type ScheduleTrigger struct {
	Name       string
	Expression string // rate(1 day), cron(...)
	Input      string
}

// HTTPRoute is an HttpApi event source.
type HTTPRoute struct {
	Method string // GET, POST, ANY
	Path   string // /customers/{id}
}

// Value is a template value: a literal, !Ref, !Sub or !Join.
type Value struct {
	Literal string
	Ref     string
	Sub     string
	// Join, when set, is !Join [Literal, Join]: the separator in Literal;
	// a !Ref among the parts names a list parameter (or a value), whose
	// comma-separated items are joined too.
	Join []Value
}

var subVar = regexp.MustCompile(`\$\{([^}]+)\}`)

// Resolve evaluates the value; lookup answers a Ref or a ${Name} in a Sub
// (including pseudo parameters like AWS::AccountId and Name.Attr forms).
func (v Value) Resolve(lookup func(string) (string, bool)) (string, error) {
	switch {
	case v.Join != nil:
		var items []string
		for _, p := range v.Join {
			s, err := p.Resolve(lookup)
			if err != nil {
				return "", fmt.Errorf("!Join: %w", err)
			}
			if p.Ref != "" {
				items = append(items, strings.Split(s, ",")...)
			} else {
				items = append(items, s)
			}
		}
		return strings.Join(items, v.Literal), nil
	case v.Ref != "":
		s, ok := lookup(v.Ref)
		if !ok {
			return "", fmt.Errorf("!Ref %s: unknown locally", v.Ref)
		}
		return s, nil
	case v.Sub != "":
		var err error
		out := subVar.ReplaceAllStringFunc(v.Sub, func(m string) string {
			name := m[2 : len(m)-1]
			s, ok := lookup(name)
			if !ok && err == nil {
				err = fmt.Errorf("!Sub %q: ${%s} unknown locally", v.Sub, name)
			}
			return s
		})
		return out, err
	}
	return v.Literal, nil
}

// LoadTemplate reads and parses a SAM template file.
func LoadTemplate(path string) (*Template, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	defer f.Close()
	t, err := ParseTemplate(f)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", path, err)
	}
	return t, nil
}

// LoadTemplateWith reads and parses a SAM template file with parameter
// values (params over the Defaults), which decide its Fn::ForEach loops.
func LoadTemplateWith(path string, params map[string]string) (*Template, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	defer f.Close()
	t, err := ParseTemplateWith(f, params)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", path, err)
	}
	return t, nil
}

// ParseTemplate parses a SAM template with its parameters' defaults.
func ParseTemplate(r io.Reader) (*Template, error) { return ParseTemplateWith(r, nil) }

// ParseTemplateWith parses a SAM template; params (over the Defaults)
// decide its Fn::ForEach loops.
func ParseTemplateWith(r io.Reader, params map[string]string) (*Template, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a template: top level is not a mapping")
	}
	root := doc.Content[0]
	looped, err := langext.Expand(root, params)
	if err != nil {
		return nil, err
	}
	t := &Template{Parameters: map[string]string{}, Buckets: map[string]Value{}, Types: map[string]string{}, resources: map[string]*yaml.Node{},
		Queues: map[string]QueueDef{}}
	for name, p := range mapOf(get(root, "Parameters")) {
		if d := get(p, "Default"); d != nil {
			t.Parameters[name] = scalar(d)
		}
	}
	globals := get(get(root, "Globals"), "Function")
	resources := get(root, "Resources")
	if resources == nil {
		return nil, fmt.Errorf("no Resources")
	}
	for id, res := range mapOf(resources) {
		t.Types[id] = scalar(get(res, "Type"))
		t.resources[id] = res
		switch scalar(get(res, "Type")) {
		case "AWS::S3::Bucket":
			t.Buckets[id] = valueOf(get(get(res, "Properties"), "BucketName"))
			for _, qc := range seqOf(get(get(get(res, "Properties"), "NotificationConfiguration"), "QueueConfigurations")) {
				bq := BucketQueue{Bucket: id, Queue: logicalID(get(qc, "Queue")), Event: scalar(get(qc, "Event"))}
				bq.Prefix, bq.Suffix = keyRules(get(get(qc, "Filter"), "S3Key"))
				if bq.Queue == "" {
					return nil, fmt.Errorf("resource %s: a QueueConfiguration's Queue should be !GetAtt <Queue>.Arn", id)
				}
				t.BucketQueues = append(t.BucketQueues, bq)
			}
		case "AWS::SQS::Queue":
			q, err := parseQueue(id, get(res, "Properties"))
			if err != nil {
				return nil, fmt.Errorf("resource %s: %w", id, err)
			}
			t.Queues[id] = q
		case "AWS::Serverless::Function":
			fd, err := parseFunction(id, get(res, "Properties"), globals)
			if err != nil {
				return nil, fmt.Errorf("resource %s: %w", id, err)
			}
			if looped[id] != "" {
				fd.Name = strings.ToLower(strings.TrimSuffix(id, "Function"))
			}
			t.Functions = append(t.Functions, fd)
		}
	}
	sort.Slice(t.Functions, func(i, j int) bool { return t.Functions[i].Name < t.Functions[j].Name })
	t.StateMachines = map[string]*StateMachineDef{}
	for id, res := range mapOf(resources) {
		if scalar(get(res, "Type")) != "AWS::StepFunctions::StateMachine" {
			continue
		}
		sm, err := parseStateMachine(id, get(res, "Properties"), t.Functions)
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", id, err)
		}
		t.StateMachines[id] = sm
	}
	return t, nil
}

// StateMachineDef is one state machine of the template, its definition
// with the substitutions made: each function's ARN becomes its name.
type StateMachineDef struct {
	LogicalID  string
	Definition []byte // JSON
	Machine    *Machine
}

func parseStateMachine(id string, props *yaml.Node, fns []FunctionDef) (*StateMachineDef, error) {
	def := get(props, "Definition")
	if def == nil {
		return nil, fmt.Errorf("the local stack runs only an inline Definition")
	}
	var v any
	if err := def.Decode(&v); err != nil {
		return nil, fmt.Errorf("Definition: %w", err)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("Definition: %w", err)
	}
	text := string(raw)
	for name, n := range mapOf(get(props, "DefinitionSubstitutions")) {
		ref := strings.TrimSuffix(scalar(n), ".Arn") // !GetAtt Fn.Arn
		val := ""
		for _, f := range fns {
			if f.LogicalID == ref {
				val = f.Name
			}
		}
		if val == "" {
			return nil, fmt.Errorf("substitution %s: only !GetAtt <function>.Arn runs locally", name)
		}
		text = strings.ReplaceAll(text, "${"+name+"}", val)
	}
	m, err := ParseMachine([]byte(text))
	if err != nil {
		return nil, err
	}
	return &StateMachineDef{LogicalID: id, Definition: []byte(text), Machine: m}, nil
}

func parseFunction(id string, props, globals *yaml.Node) (FunctionDef, error) {
	prop := func(k string) *yaml.Node {
		if n := get(props, k); n != nil {
			return n
		}
		return get(globals, k)
	}
	fd := FunctionDef{
		LogicalID: id,
		CodeURI:   scalar(prop("CodeUri")),
		Handler:   scalar(prop("Handler")),
		Runtime:   scalar(prop("Runtime")),
		Timeout:   3 * time.Second,
		Memory:    128,
		Env:       map[string]Value{},

		EphemeralMB: 512,
	}
	if fd.CodeURI == "" {
		return fd, fmt.Errorf("no CodeUri")
	}
	fd.Package = strings.TrimSuffix(filepath.Base(filepath.Clean(fd.CodeURI)), ".zip")
	fd.Name, fd.Source = fd.Package, "functions/"+fd.Package
	fd.FunctionName = valueOf(get(props, "FunctionName"))
	if s := scalar(prop("Timeout")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fd, fmt.Errorf("Timeout %q: %w", s, err)
		}
		fd.Timeout = time.Duration(n) * time.Second
	}
	if s := scalar(prop("MemorySize")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fd, fmt.Errorf("MemorySize %q: %w", s, err)
		}
		fd.Memory = n
	}
	if s := scalar(get(prop("EphemeralStorage"), "Size")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 512 || n > 10240 {
			return fd, fmt.Errorf("EphemeralStorage.Size %q: want 512 to 10240 MB", s)
		}
		fd.EphemeralMB = n
	}
	fd.ReservedConcurrency = valueOf(get(props, "ReservedConcurrentExecutions"))
	var err error
	if fd.Async, err = parseAsync(prop("EventInvokeConfig")); err != nil {
		return fd, fmt.Errorf("EventInvokeConfig: %w", err)
	}
	for _, src := range []*yaml.Node{globals, props} { // function variables override globals
		for k, v := range mapOf(get(get(src, "Environment"), "Variables")) {
			fd.Env[k] = valueOf(v)
		}
	}
	for name, ev := range mapOf(get(props, "Events")) {
		p := get(ev, "Properties")
		switch typ := scalar(get(ev, "Type")); typ {
		case "S3":
			tr := S3Trigger{Bucket: valueOf(get(p, "Bucket")).Ref}
			if evs := get(p, "Events"); evs != nil {
				if evs.Kind == yaml.SequenceNode {
					for _, e := range evs.Content {
						tr.Events = append(tr.Events, e.Value)
					}
				} else {
					tr.Events = []string{evs.Value}
				}
			}
			tr.Prefix, tr.Suffix = keyRules(get(get(p, "Filter"), "S3Key"))
			fd.S3 = append(fd.S3, tr)
		case "SQS":
			tr := SQSTrigger{Queue: logicalID(get(p, "Queue")), BatchSize: valueOf(get(p, "BatchSize")), Window: valueOf(get(p, "MaximumBatchingWindowInSeconds")),
				Concurrency: valueOf(get(get(p, "ScalingConfig"), "MaximumConcurrency"))}
			if tr.Queue == "" {
				return fd, fmt.Errorf("event %s: Queue should be !GetAtt <Queue>.Arn", name)
			}
			for _, t := range seqOf(get(p, "FunctionResponseTypes")) {
				tr.ReportFailures = tr.ReportFailures || scalar(t) == "ReportBatchItemFailures"
			}
			fd.SQS = append(fd.SQS, tr)
		case "Schedule", "ScheduleV2":
			expr := scalar(get(p, "Schedule"))
			if expr == "" {
				expr = scalar(get(p, "ScheduleExpression"))
			}
			fd.Sched = append(fd.Sched, ScheduleTrigger{Name: name, Expression: expr, Input: scalar(get(p, "Input"))})
		case "HttpApi":
			fd.HTTP = append(fd.HTTP, HTTPRoute{Method: strings.ToUpper(scalar(get(p, "Method"))), Path: scalar(get(p, "Path"))})
		default:
			return fd, fmt.Errorf("event %s: type %s is not supported by the local stack", name, typ)
		}
	}
	return fd, nil
}

// keyRules reads an S3Key filter's prefix and suffix rules.
func keyRules(s3key *yaml.Node) (prefix, suffix string) {
	for _, r := range seqOf(get(s3key, "Rules")) {
		switch strings.ToLower(scalar(get(r, "Name"))) {
		case "prefix":
			prefix = scalar(get(r, "Value"))
		case "suffix":
			suffix = scalar(get(r, "Value"))
		}
	}
	return prefix, suffix
}

// parseQueue reads an AWS::SQS::Queue's properties.
func parseQueue(id string, p *yaml.Node) (QueueDef, error) {
	q := QueueDef{LogicalID: id, Name: valueOf(get(p, "QueueName")), VisibilityTimeout: 30 * time.Second}
	if s := scalar(get(p, "VisibilityTimeout")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 43200 {
			return q, fmt.Errorf("VisibilityTimeout %q: want 0 to 43200 seconds", s)
		}
		q.VisibilityTimeout = time.Duration(n) * time.Second
	}
	if rp := get(p, "RedrivePolicy"); rp != nil {
		q.DeadLetter = logicalID(get(rp, "deadLetterTargetArn"))
		n, err := strconv.Atoi(scalar(get(rp, "maxReceiveCount")))
		if q.DeadLetter == "" || err != nil || n < 1 || n > 1000 {
			return q, fmt.Errorf("RedrivePolicy: want deadLetterTargetArn: !GetAtt <Queue>.Arn and maxReceiveCount 1 to 1000")
		}
		q.MaxReceiveCount = n
	}
	return q, nil
}

// seqOf is the items of a sequence node (nil for anything else).
func seqOf(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// parseAsync reads an EventInvokeConfig; nil gives Lambda's defaults.
func parseAsync(n *yaml.Node) (AsyncConfig, error) {
	a := defaultAsync
	if n == nil {
		return a, nil
	}
	if s := scalar(get(n, "MaximumRetryAttempts")); s != "" {
		r, err := strconv.Atoi(s)
		if err != nil || r < 0 || r > 2 {
			return a, fmt.Errorf("MaximumRetryAttempts %q: want 0, 1 or 2", s)
		}
		a.Retries = r
	}
	if s := scalar(get(n, "MaximumEventAgeInSeconds")); s != "" {
		sec, err := strconv.Atoi(s)
		if err != nil || sec < 60 || sec > 21600 {
			return a, fmt.Errorf("MaximumEventAgeInSeconds %q: want 60 to 21600", s)
		}
		a.MaxAge = time.Duration(sec) * time.Second
	}
	if d := get(get(get(n, "DestinationConfig"), "OnFailure"), "Destination"); d != nil {
		a.OnFailure = logicalID(d)
		if a.OnFailure == "" {
			return a, fmt.Errorf("OnFailure destination: want !GetAtt <Queue>.Arn or !Ref <Queue>")
		}
	}
	return a, nil
}

// logicalID is the resource a !Ref, !GetAtt X.Arn or Fn::GetAtt [X, Arn] names.
func logicalID(n *yaml.Node) string {
	switch n.Tag {
	case "!Ref":
		return n.Value
	case "!GetAtt":
		if n.Kind == yaml.SequenceNode && len(n.Content) > 0 {
			return n.Content[0].Value
		}
		id, _, _ := strings.Cut(n.Value, ".")
		return id
	}
	if r := get(n, "Ref"); r != nil {
		return r.Value
	}
	if g := get(n, "Fn::GetAtt"); g != nil {
		if g.Kind == yaml.SequenceNode && len(g.Content) > 0 {
			return g.Content[0].Value
		}
		id, _, _ := strings.Cut(g.Value, ".")
		return id
	}
	return ""
}

// get returns the value of key in a mapping node (nil when absent).
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func mapOf(n *yaml.Node) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if n == nil || n.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		out[n.Content[i].Value] = n.Content[i+1]
	}
	return out
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func valueOf(n *yaml.Node) Value {
	if n == nil {
		return Value{}
	}
	switch n.Tag {
	case "!Ref":
		return Value{Ref: n.Value}
	case "!Sub":
		return Value{Sub: n.Value}
	case "!Join":
		if n.Kind == yaml.SequenceNode && len(n.Content) == 2 {
			parts := n.Content[1]
			v := Value{Literal: n.Content[0].Value, Join: []Value{}}
			if parts.Kind == yaml.SequenceNode && parts.Tag != "!Ref" {
				for _, e := range parts.Content {
					v.Join = append(v.Join, valueOf(e))
				}
			} else {
				v.Join = append(v.Join, valueOf(parts))
			}
			return v
		}
	}
	if n.Kind == yaml.MappingNode {
		if r := get(n, "Ref"); r != nil {
			return Value{Ref: r.Value}
		}
		if s := get(n, "Fn::Sub"); s != nil {
			return Value{Sub: s.Value}
		}
	}
	return Value{Literal: n.Value}
}
