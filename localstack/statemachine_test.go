package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/models/features"
	"github.com/telcolake/telcolake/synth"
)

// fanOutInvoker runs the functions of the monthly state machine in
// process: features through the real builder (its JSON in and out, as the
// function sees them), train as a stub. The first K bucket invocations
// wait until K are running at once, so a Map that runs fewer side by side
// fails the test (by its deadline) instead of passing; the first
// invocation of bucket 3 crashes, as a killed process would.
type fanOutInvoker struct {
	b        *features.Builder
	k        int
	mu       sync.Mutex
	running  int
	started  int
	max      int
	full     chan struct{}
	crashed  bool
	calls    []string
	commitIn []byte
	trainIn  []byte
}

func (f *fanOutInvoker) Invoke(ctx context.Context, fn string, payload []byte) ([]byte, error) {
	var task features.Task
	_ = json.Unmarshal(payload, &task)
	f.mu.Lock()
	f.calls = append(f.calls, fn+":"+task.Action)
	f.mu.Unlock()
	switch {
	case fn == "train":
		f.trainIn = payload
		return []byte(`{"version":"v1"}`), nil
	case fn != "features":
		return nil, errors.New("no function " + fn)
	case task.Action == "commit":
		f.commitIn = payload
	case task.Action == "bucket":
		f.mu.Lock()
		if task.Bucket == 3 && !f.crashed {
			f.crashed = true
			f.mu.Unlock()
			return nil, &FunctionError{ErrorType: "Runtime.ExitError", ErrorMessage: "signal: killed"}
		}
		f.running++
		f.started++
		f.max = max(f.max, f.running)
		if f.running == f.k {
			close(f.full)
		}
		wait := f.started <= f.k
		f.mu.Unlock()
		defer func() { f.mu.Lock(); f.running--; f.mu.Unlock() }()
		if wait {
			select {
			case <-f.full:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	out, err := f.b.Handle(ctx, task)
	if err != nil {
		return nil, &FunctionError{ErrorType: "errorString", ErrorMessage: err.Error()}
	}
	return json.Marshal(out)
}

// TestMonthlyRunFansOut runs the template's MonthlyRun definition: its
// feature rows equal the single-process build's, row by row; the Map runs
// its MaxConcurrency buckets at once; a crashed bucket is retried.
func TestMonthlyRunFansOut(t *testing.T) {
	tpl, err := LoadTemplate(filepath.Join("..", "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sm := tpl.StateMachines["MonthlyRun"]
	if sm == nil {
		t.Fatal("no MonthlyRun state machine in the template")
	}
	k := sm.Machine.States["Buckets"].MaxConcurrency
	if k < 2 || k > lake.SubscriberBuckets {
		t.Fatalf("Buckets MaxConcurrency %d, want 2…%d", k, lake.SubscriberBuckets)
	}

	l := laketest.New(t)
	landing := filepath.Join(l.Root, laketest.Landing)
	man, err := synth.Generate(context.Background(), synth.Config{Subscribers: 300, Months: 3, Seed: 5,
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), CDRFileSpan: "month"}, synth.DirSink(landing))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range man.Deliveries {
		body, err := os.ReadFile(filepath.Join(landing, filepath.FromSlash(key)))
		if err != nil {
			t.Fatal(err)
		}
		l.Ingest(t, key, string(body))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := &features.Builder{Tables: l.Cat, Now: func() time.Time { return time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC) }}
	months, err := features.BillMonths(ctx, l.Cat)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Build(ctx, months); err != nil {
		t.Fatal(err)
	}
	want := tableRows(t, l)

	inv := &fanOutInvoker{b: b, k: k, full: make(chan struct{})}
	var slept []time.Duration
	x := &Execution{Invoker: inv, Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	out, err := x.Run(ctx, sm.Machine, []byte(`{"truth":""}`))
	if err != nil {
		t.Fatalf("MonthlyRun: %v (calls %v)", err, inv.calls)
	}
	if string(out) != `{"version":"v1"}` {
		t.Errorf("output %s, want the train function's answer", out)
	}
	if inv.max != k {
		t.Errorf("at most %d bucket invocations ran at once, want MaxConcurrency %d", inv.max, k)
	}
	if len(slept) != 1 || slept[0] != 2*time.Second {
		t.Errorf("retries waited %v, want one wait of 2s (IntervalSeconds) for the crashed bucket", slept)
	}
	if n := len(inv.calls); n != 1+lake.SubscriberBuckets+1+1+1 || inv.calls[0] != "features:plan" ||
		inv.calls[n-2] != "features:commit" || inv.calls[n-1] != "train:" {
		t.Errorf("calls %v: want plan, %d buckets and a retry, commit, train", inv.calls, lake.SubscriberBuckets)
	}
	var tr struct {
		FeaturesBuilt bool `json:"features_built"`
	}
	if err := json.Unmarshal(inv.trainIn, &tr); err != nil || !tr.FeaturesBuilt {
		t.Errorf("train payload %s: want features_built true", inv.trainIn)
	}
	if got := tableRows(t, l); !slices.Equal(got, want) {
		t.Errorf("fan-out rows differ from the single-process build: %d rows vs %d", len(got), len(want))
	}
}

// TestMachineStopsOnUnretriedError: a bucket's handled error is not in the
// Retry list, so the Map fails and nothing is committed.
func TestMachineStopsOnUnretriedError(t *testing.T) {
	def := `{"StartAt":"Fan","States":{
	  "Fan":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":2,"ItemProcessor":{"StartAt":"T","States":{
	    "T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f","Payload.$":"$"},
	         "OutputPath":"$.Payload","Retry":[{"ErrorEquals":["Runtime.ExitError"],"MaxAttempts":2}],"End":true}}},
	    "Next":"Commit"},
	  "Commit":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"commit","Payload":{"parts.$":"$"}},"End":true}}}`
	m, err := ParseMachine([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var calls []string
	inv := invokerFunc(func(_ context.Context, fn string, payload []byte) ([]byte, error) {
		mu.Lock()
		calls = append(calls, fn+string(payload))
		mu.Unlock()
		if strings.Contains(string(payload), "bad") {
			return nil, &FunctionError{ErrorType: "errorString", ErrorMessage: "bad item"}
		}
		return payload, nil
	})
	x := &Execution{Invoker: inv, Sleep: func(context.Context, time.Duration) error { return nil }}
	_, err = x.Run(context.Background(), m, []byte(`{"items":["a","bad","c"]}`))
	var se *StateError
	if !errors.As(err, &se) || se.Name != "errorString" || se.State != "T" {
		t.Fatalf("Run = %v, want the item's errorString from state T", err)
	}
	for _, c := range calls {
		if strings.HasPrefix(c, "commit") {
			t.Errorf("commit ran after a failed Map: %v", calls)
		}
	}
	// The same machine on good items: the Map's output, in item order, is
	// the commit's input.
	calls = nil
	out, err := x.Run(context.Background(), m, []byte(`{"items":["a","b","c"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"Payload":{"parts":["a","b","c"]}`) {
		t.Errorf("output %s, want the commit's answer to the Map's results in order", out)
	}
}

func TestParseMachineRefusesWhatItCannotRun(t *testing.T) {
	for _, tc := range []struct{ name, def, want string }{
		{"choice", `{"StartAt":"A","States":{"A":{"Type":"Choice","Choices":[]}}}`, "Choices"},
		{"resource", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage","End":true}}}`, "sqs"},
		{"next", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Next":"B"}}}`, `Next "B"`},
		{"path", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","OutputPath":"$.a[0]","End":true}}}`, "$.a[0]"},
		{"start", `{"StartAt":"Z","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","End":true}}}`, `StartAt "Z"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMachine([]byte(tc.def))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseMachine = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

type invokerFunc func(ctx context.Context, fn string, payload []byte) ([]byte, error)

func (f invokerFunc) Invoke(ctx context.Context, fn string, payload []byte) ([]byte, error) {
	return f(ctx, fn, payload)
}

// tableRows reads crm.features and crm.usage_cube whole, one line per row,
// sorted.
func tableRows(t *testing.T, l *laketest.Lake) []string {
	t.Helper()
	return append(rowsOf(t, l, lake.FeaturesTable), rowsOf(t, l, lake.UsageCubeTable)...)
}

func rowsOf(t *testing.T, l *laketest.Lake, def lake.TableDef) []string {
	t.Helper()
	ctx := context.Background()
	tbl, err := l.Cat.LoadTable(ctx, def.Ident())
	if err != nil {
		t.Fatal(err)
	}
	_, recs, err := tbl.Scan().ToArrowRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rec, err := range recs {
		if err != nil {
			t.Fatal(err)
		}
		for i := range int(rec.NumRows()) {
			var b strings.Builder
			for c, col := range rec.Columns() {
				b.WriteString(def.Name + "." + rec.ColumnName(c) + "=" + col.ValueStr(i) + " ")
			}
			out = append(out, b.String())
		}
		rec.Release()
	}
	slices.Sort(out)
	if len(out) == 0 {
		t.Fatalf("crm.%s is empty", def.Name)
	}
	return out
}
