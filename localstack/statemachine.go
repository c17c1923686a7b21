package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// The local stack runs the template's Step Functions state machines with
// the subset of the Amazon States Language telcolake uses: Task states
// that invoke a function (arn:aws:states:::lambda:invoke, Parameters
// FunctionName and Payload, the result {"Payload": …}), Map states (inline
// or DISTRIBUTED, ItemsPath, MaxConcurrency, ItemProcessor or Iterator),
// Retry (ErrorEquals, IntervalSeconds, MaxAttempts, BackoffRate), and the
// paths Parameters (keys ending in ".$"), ResultSelector, ResultPath and
// OutputPath with "$" and "$.a.b" references. Anything else is refused
// when the definition is parsed, not half-run.

// LambdaInvoke is the Resource of a Task state that invokes a function.
const LambdaInvoke = "arn:aws:states:::lambda:invoke"

// Invoker runs one synchronous function invocation.
type Invoker interface {
	Invoke(ctx context.Context, function string, payload []byte) ([]byte, error)
}

// Machine is a parsed state machine definition.
type Machine struct {
	StartAt string
	States  map[string]*State
}

// State is one state of the subset.
type State struct {
	Type           string
	Next           string
	End            bool
	Resource       string
	Parameters     any
	ResultSelector any
	ResultPath     *string // nil: "$"; "null" in JSON discards the result
	OutputPath     string
	ItemsPath      string
	MaxConcurrency int
	Processor      *Machine
	Retry          []Retrier
}

// Retrier is one Retry entry.
type Retrier struct {
	ErrorEquals     []string
	IntervalSeconds float64
	MaxAttempts     *int // nil: 3
	BackoffRate     float64
}

// ParseMachine parses an ASL definition (JSON), refusing what the subset
// does not run.
func ParseMachine(def []byte) (*Machine, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(def, &raw); err != nil {
		return nil, fmt.Errorf("state machine: %w", err)
	}
	return parseMachine(raw, "")
}

var stateKeys = []string{"Type", "Next", "End", "Comment", "Resource", "Parameters", "ResultSelector", "ResultPath",
	"OutputPath", "ItemsPath", "MaxConcurrency", "ItemProcessor", "Iterator", "Retry", "TimeoutSeconds"}

func parseMachine(raw map[string]json.RawMessage, where string) (*Machine, error) {
	m := &Machine{States: map[string]*State{}}
	for k := range raw {
		if k != "StartAt" && k != "States" && k != "Comment" && k != "TimeoutSeconds" && k != "ProcessorConfig" {
			return nil, fmt.Errorf("state machine%s: %s is not in the subset the local stack runs", where, k)
		}
	}
	if err := json.Unmarshal(raw["StartAt"], &m.StartAt); err != nil || m.StartAt == "" {
		return nil, fmt.Errorf("state machine%s: StartAt missing", where)
	}
	var states map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw["States"], &states); err != nil || len(states) == 0 {
		return nil, fmt.Errorf("state machine%s: States missing: %v", where, err)
	}
	for name, s := range states {
		st, err := parseState(s, where+" state "+name)
		if err != nil {
			return nil, err
		}
		m.States[name] = st
	}
	if m.States[m.StartAt] == nil {
		return nil, fmt.Errorf("state machine%s: StartAt %q is not a state", where, m.StartAt)
	}
	for name, st := range m.States {
		if st.End == (st.Next != "") {
			return nil, fmt.Errorf("state machine%s: state %s needs exactly one of Next and End", where, name)
		}
		if st.Next != "" && m.States[st.Next] == nil {
			return nil, fmt.Errorf("state machine%s: state %s: Next %q is not a state", where, name, st.Next)
		}
	}
	return m, nil
}

func parseState(s map[string]json.RawMessage, where string) (*State, error) {
	for k := range s {
		if !slices.Contains(stateKeys, k) {
			return nil, fmt.Errorf("%s: %s is not in the subset the local stack runs", where, k)
		}
	}
	st := &State{OutputPath: "$", ItemsPath: "$"}
	fields := []struct {
		key string
		dst any
	}{{"Type", &st.Type}, {"Next", &st.Next}, {"End", &st.End}, {"Resource", &st.Resource},
		{"Parameters", &st.Parameters}, {"ResultSelector", &st.ResultSelector}, {"OutputPath", &st.OutputPath},
		{"ItemsPath", &st.ItemsPath}, {"MaxConcurrency", &st.MaxConcurrency}, {"Retry", &st.Retry}}
	for _, f := range fields {
		if v, ok := s[f.key]; ok {
			if err := json.Unmarshal(v, f.dst); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", where, f.key, err)
			}
		}
	}
	if v, ok := s["ResultPath"]; ok {
		var p *string
		if err := json.Unmarshal(v, &p); err != nil {
			return nil, fmt.Errorf("%s: ResultPath: %w", where, err)
		}
		if p == nil {
			p = new(string) // null: discard the result
		}
		st.ResultPath = p
	}
	for _, r := range st.Retry {
		if len(r.ErrorEquals) == 0 {
			return nil, fmt.Errorf("%s: a Retry entry without ErrorEquals", where)
		}
	}
	for _, p := range []string{st.OutputPath, st.ItemsPath} {
		if _, err := splitPath(p); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	switch st.Type {
	case "Task":
		if st.Resource != LambdaInvoke {
			return nil, fmt.Errorf("%s: Resource %q: the local stack runs only %s tasks", where, st.Resource, LambdaInvoke)
		}
	case "Map":
		if st.Parameters != nil {
			return nil, fmt.Errorf("%s: a Map's Parameters (ItemSelector) are not in the subset the local stack runs", where)
		}
		proc := s["ItemProcessor"]
		if proc == nil {
			proc = s["Iterator"]
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(proc, &raw); err != nil || raw == nil {
			return nil, fmt.Errorf("%s: a Map needs an ItemProcessor", where)
		}
		sub, err := parseMachine(raw, " ("+where+")")
		if err != nil {
			return nil, err
		}
		st.Processor = sub
	default:
		return nil, fmt.Errorf("%s: Type %q: the local stack runs only Task and Map states", where, st.Type)
	}
	return st, nil
}

// Execution runs machines. Sleep waits between retries (nil: time.Sleep
// honouring ctx), so tests need not wait.
type Execution struct {
	Invoker Invoker
	Sleep   func(ctx context.Context, d time.Duration) error
	// OnInvoke, if set, is told of every invocation's start and end.
	OnInvoke func(function string, start bool)
}

// StateError is a failed state: Name is the error name Retry matches
// (a function's errorType, States.TaskFailed, ...).
type StateError struct {
	State, Name, Cause string
}

func (e *StateError) Error() string { return fmt.Sprintf("state %s: %s: %s", e.State, e.Name, e.Cause) }

// Run runs m on input (JSON) and returns its output (JSON).
func (x *Execution) Run(ctx context.Context, m *Machine, input []byte) ([]byte, error) {
	var in any
	if err := json.Unmarshal(input, &in); err != nil {
		return nil, fmt.Errorf("state machine input: %w", err)
	}
	out, err := x.run(ctx, m, in)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

func (x *Execution) run(ctx context.Context, m *Machine, in any) (any, error) {
	name := m.StartAt
	for {
		st := m.States[name]
		out, err := x.state(ctx, name, st, in)
		if err != nil {
			return nil, err
		}
		if st.End {
			return out, nil
		}
		name, in = st.Next, out
	}
}

func (x *Execution) state(ctx context.Context, name string, st *State, in any) (any, error) {
	effective := in
	if st.Parameters != nil && st.Type == "Task" {
		p, err := fill(st.Parameters, in)
		if err != nil {
			return nil, &StateError{name, "States.Runtime", err.Error()}
		}
		effective = p
	}
	var result any
	var err error
	for attempt := 0; ; attempt++ {
		result, err = x.attempt(ctx, name, st, effective)
		if err == nil {
			break
		}
		var se *StateError
		if !errors.As(err, &se) {
			return nil, err
		}
		wait, ok := retryAfter(st.Retry, se.Name, attempt)
		if !ok {
			return nil, err
		}
		if err := x.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
	if st.ResultSelector != nil {
		if result, err = fill(st.ResultSelector, result); err != nil {
			return nil, &StateError{name, "States.Runtime", err.Error()}
		}
	}
	out := result
	if st.ResultPath != nil {
		if out, err = setPath(in, *st.ResultPath, result); err != nil {
			return nil, &StateError{name, "States.Runtime", err.Error()}
		}
	}
	if out, err = getPath(out, st.OutputPath); err != nil {
		return nil, &StateError{name, "States.Runtime", err.Error()}
	}
	return out, nil
}

// retryAfter is how long to wait before attempt+1 for an error, if a
// retrier matches and has attempts left. attempt counts failures so far
// minus one, which is how the retrier's counter works: each matching
// retrier counts its own, but telcolake's states have one retrier each.
func retryAfter(rs []Retrier, errName string, attempt int) (time.Duration, bool) {
	for _, r := range rs {
		if !matches(r.ErrorEquals, errName) {
			continue
		}
		maxAttempts, interval, rate := 3, r.IntervalSeconds, r.BackoffRate
		if r.MaxAttempts != nil {
			maxAttempts = *r.MaxAttempts
		}
		if interval == 0 {
			interval = 1
		}
		if rate == 0 {
			rate = 2
		}
		if attempt >= maxAttempts {
			return 0, false
		}
		d := interval
		for range attempt {
			d *= rate
		}
		return time.Duration(d * float64(time.Second)), true
	}
	return 0, false
}

func matches(names []string, errName string) bool {
	for _, n := range names {
		if n == "States.ALL" || n == errName || (n == "States.TaskFailed" && errName != "States.Timeout") {
			return true
		}
	}
	return false
}

func (x *Execution) sleep(ctx context.Context, d time.Duration) error {
	if x.Sleep != nil {
		return x.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (x *Execution) attempt(ctx context.Context, name string, st *State, in any) (any, error) {
	switch st.Type {
	case "Task":
		return x.task(ctx, name, in)
	default:
		return x.mapState(ctx, name, st, in)
	}
}

func (x *Execution) task(ctx context.Context, name string, in any) (any, error) {
	p, ok := in.(map[string]any)
	fn, _ := p["FunctionName"].(string)
	if !ok || fn == "" {
		return nil, &StateError{name, "States.Runtime", "lambda:invoke needs Parameters.FunctionName"}
	}
	fn = fn[strings.LastIndex(fn, ":")+1:] // an ARN's last part is the name
	payload, err := json.Marshal(p["Payload"])
	if err != nil {
		return nil, &StateError{name, "States.Runtime", err.Error()}
	}
	if x.OnInvoke != nil {
		x.OnInvoke(fn, true)
		defer x.OnInvoke(fn, false)
	}
	res, err := x.Invoker.Invoke(ctx, fn, payload)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var fe *FunctionError
		if errors.As(err, &fe) {
			if fe.ErrorType == "Sandbox.Timedout" {
				return nil, &StateError{name, "States.Timeout", fe.ErrorMessage}
			}
			return nil, &StateError{name, fe.ErrorType, fe.ErrorMessage}
		}
		return nil, &StateError{name, "Lambda.ServiceException", err.Error()}
	}
	var out any
	if len(res) > 0 {
		if err := json.Unmarshal(res, &out); err != nil {
			return nil, &StateError{name, "States.Runtime", "the function's answer is not JSON: " + err.Error()}
		}
	}
	return map[string]any{"Payload": out, "StatusCode": 200, "ExecutedVersion": "$LATEST"}, nil
}

func (x *Execution) mapState(ctx context.Context, name string, st *State, in any) (any, error) {
	v, err := getPath(in, st.ItemsPath)
	if err != nil {
		return nil, &StateError{name, "States.Runtime", err.Error()}
	}
	items, ok := v.([]any)
	if !ok {
		return nil, &StateError{name, "States.Runtime", fmt.Sprintf("ItemsPath %s is not an array", st.ItemsPath)}
	}
	k := st.MaxConcurrency
	if k <= 0 || k > len(items) {
		k = len(items)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make([]any, len(items))
	errs := make([]error, len(items))
	next := make(chan int)
	var wg sync.WaitGroup
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if out[i], errs[i] = x.run(ctx, st.Processor, items[i]); errs[i] != nil {
					cancel() // a failed iteration fails the Map
				}
			}
		}()
	}
feed:
	for i := range items {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fill evaluates a Parameters template: keys ending in ".$" take the value
// at their path in in.
func fill(tpl, in any) (any, error) {
	switch t := tpl.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, v := range t {
			if key, ok := strings.CutSuffix(k, ".$"); ok {
				p, _ := v.(string)
				val, err := getPath(in, p)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				out[key] = val
				continue
			}
			val, err := fill(v, in)
			if err != nil {
				return nil, err
			}
			out[k] = val
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, v := range t {
			val, err := fill(v, in)
			if err != nil {
				return nil, err
			}
			out[i] = val
		}
		return out, nil
	}
	return tpl, nil
}

func splitPath(p string) ([]string, error) {
	if p == "$" {
		return nil, nil
	}
	rest, ok := strings.CutPrefix(p, "$.")
	if !ok || rest == "" || strings.ContainsAny(rest, "[]*$@") {
		return nil, fmt.Errorf("path %q: the local stack takes only $ and $.a.b", p)
	}
	return strings.Split(rest, "."), nil
}

func getPath(v any, p string) (any, error) {
	parts, err := splitPath(p)
	if err != nil {
		return nil, err
	}
	for _, k := range parts {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("path %s: %s is not in an object", p, k)
		}
		if v, ok = m[k]; !ok {
			return nil, fmt.Errorf("path %s: no field %s", p, k)
		}
	}
	return v, nil
}

// setPath returns in with val at p ("" discards val: in unchanged).
func setPath(in any, p string, val any) (any, error) {
	if p == "" {
		return in, nil
	}
	parts, err := splitPath(p)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return val, nil
	}
	root, _ := in.(map[string]any)
	out := cloneMap(root)
	cur := out
	for _, k := range parts[:len(parts)-1] {
		sub, _ := cur[k].(map[string]any)
		sub = cloneMap(sub)
		cur[k] = sub
		cur = sub
	}
	cur[parts[len(parts)-1]] = val
	return out, nil
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// StartExecution runs the template's state machine (by logical id) on
// input to its end and returns its output: StartSyncExecution, locally.
// Its invocations run on a pool of function instances, one more started
// whenever all are busy, so a Map with MaxConcurrency K runs K processes
// of the same function side by side as K Lambda environments would.
func (s *Stack) StartExecution(ctx context.Context, logicalID string, input []byte) ([]byte, error) {
	sm := s.Template.StateMachines[logicalID]
	if sm == nil {
		return nil, fmt.Errorf("no state machine %q in the template", logicalID)
	}
	x := &Execution{Invoker: s.pool}
	return x.Run(ctx, sm.Machine, input)
}

// functionPool hands out idle instances of a function, starting new ones.
type functionPool struct {
	start  func(name string) (*Function, error)
	mu     sync.Mutex
	idle   map[string][]*Function
	all    []*Function
	closed bool
}

func (p *functionPool) Invoke(ctx context.Context, name string, payload []byte) ([]byte, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("the local stack is closed")
	}
	var f *Function
	if n := len(p.idle[name]); n > 0 {
		f = p.idle[name][n-1]
		p.idle[name] = p.idle[name][:n-1]
	}
	p.mu.Unlock()
	if f == nil {
		var err error
		if f, err = p.start(name); err != nil {
			return nil, err
		}
		p.mu.Lock()
		p.all = append(p.all, f)
		p.mu.Unlock()
	}
	defer func() {
		p.mu.Lock()
		if p.idle == nil {
			p.idle = map[string][]*Function{}
		}
		p.idle[name] = append(p.idle[name], f)
		p.mu.Unlock()
	}()
	return f.Invoke(ctx, payload)
}

func (p *functionPool) close() {
	p.mu.Lock()
	p.closed = true
	all := p.all
	p.mu.Unlock()
	for _, f := range all {
		f.Close()
	}
}
