package localstack

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/scoring"
)

// TestDailyScoreFansOut runs the template's DailyScore definition with a
// score function that answers as the real one does (scoring.Task in,
// Planned, Part and Result out, all JSON): the plan reaches every bucket,
// each bucket is invoked once, and the commit gets the plan and every
// bucket's part; the execution's output is the commit's answer.
func TestDailyScoreFansOut(t *testing.T) {
	tpl, err := LoadTemplate(filepath.Join("..", "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sm := tpl.StateMachines["DailyScore"]
	if sm == nil {
		t.Fatal("no DailyScore state machine in the template")
	}
	plan := &scoring.Plan{Run: "20260703T050000Z", FeatureMonth: "2026-06", ListSize: 7}
	var mu sync.Mutex
	buckets := map[int]int{}
	var commit scoring.Task
	inv := invokerFunc(func(_ context.Context, fn string, payload []byte) ([]byte, error) {
		if fn != "score" {
			t.Errorf("invoked %s, want score", fn)
		}
		var task scoring.Task
		if err := json.Unmarshal(payload, &task); err != nil {
			t.Errorf("payload %s: %v", payload, err)
		}
		switch task.Action {
		case "plan":
			p := scoring.Planned{Plan: plan}
			for k := range lake.SubscriberBuckets {
				p.Buckets = append(p.Buckets, scoring.Task{Action: "bucket", Plan: plan, Bucket: k})
			}
			return json.Marshal(p)
		case "bucket":
			if task.Plan == nil || *task.Plan != *plan {
				t.Errorf("bucket %d got plan %+v, want %+v", task.Bucket, task.Plan, plan)
			}
			mu.Lock()
			buckets[task.Bucket]++
			mu.Unlock()
			return json.Marshal(scoring.Part{Bucket: task.Bucket, Key: scoring.PartKey(plan.Run, task.Bucket), Customers: 10 + task.Bucket})
		case "commit":
			commit = task
			return json.Marshal(scoring.Result{Run: plan.Run, Scored: 42})
		}
		t.Errorf("action %q", task.Action)
		return nil, nil
	})
	x := &Execution{Invoker: inv, Sleep: func(context.Context, time.Duration) error { return nil }}
	out, err := x.Run(context.Background(), sm.Machine, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var res scoring.Result
	if err := json.Unmarshal(out, &res); err != nil || res.Run != plan.Run || res.Scored != 42 {
		t.Errorf("output %s, want the commit's answer", out)
	}
	for k := range lake.SubscriberBuckets {
		if buckets[k] != 1 {
			t.Errorf("bucket %d invoked %d times, want once", k, buckets[k])
		}
	}
	if commit.Plan == nil || *commit.Plan != *plan || len(commit.Parts) != lake.SubscriberBuckets {
		t.Fatalf("commit got plan %+v and %d parts, want the plan and %d parts", commit.Plan, len(commit.Parts), lake.SubscriberBuckets)
	}
	for i, p := range commit.Parts {
		if p.Bucket != i || p.Key != scoring.PartKey(plan.Run, i) || p.Customers != 10+i {
			t.Errorf("commit part %d = %+v, want bucket %d's answer", i, p, i)
		}
	}
}
