package localstack

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/scoring"
)

// TestDailyScoreFansOut runs the template's DailyScore definition with a
// score function that answers as the real one does (scoring.Task in,
// Planned, Part, Ranked, ShardDone and Result out, all JSON): the plan
// reaches every bucket, each bucket is invoked once, the rank step gets
// every bucket's part, each serving shard is invoked (one crashed attempt
// retried), and the commit gets the plan, the ranks' key and every
// shard's answer; the execution's output is the commit's answer.
func TestDailyScoreFansOut(t *testing.T) {
	tpl, err := LoadTemplate(filepath.Join("..", "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sm := tpl.StateMachines["DailyScore"]
	if sm == nil {
		t.Fatal("no DailyScore state machine in the template")
	}
	const shards = 5
	plan := &scoring.Plan{Run: "20260703T050000Z", FeatureMonth: "2026-06", ListSize: 7, Shards: shards}
	ranked := scoring.RankedKey(plan.Run)
	var mu sync.Mutex
	buckets, shardCalls := map[int]int{}, map[int]int{}
	var rank, commit scoring.Task
	inv := invokerFunc(func(_ context.Context, fn string, payload []byte) ([]byte, error) {
		if fn != "score" {
			t.Errorf("invoked %s, want score", fn)
		}
		var task scoring.Task
		if err := json.Unmarshal(payload, &task); err != nil {
			t.Errorf("payload %s: %v", payload, err)
		}
		if task.Action != "plan" && task.Action != "shard" && (task.Plan == nil || !reflect.DeepEqual(*task.Plan, *plan)) {
			t.Errorf("%s task got plan %+v, want %+v", task.Action, task.Plan, plan)
		}
		mu.Lock()
		defer mu.Unlock()
		switch task.Action {
		case "plan":
			p := scoring.Planned{Plan: plan}
			for k := range lake.SubscriberBuckets {
				p.Buckets = append(p.Buckets, scoring.Task{Action: "bucket", Plan: plan, Bucket: k})
			}
			return json.Marshal(p)
		case "bucket":
			buckets[task.Bucket]++
			return json.Marshal(scoring.Part{Bucket: task.Bucket, Key: scoring.PartKey(plan.Run, task.Bucket), Customers: 10 + task.Bucket})
		case "rank":
			rank = task
			out := scoring.Ranked{Key: ranked}
			for s := range shards {
				out.Shards = append(out.Shards, scoring.Task{Action: "shard", Ranked: ranked, Shard: s})
			}
			return json.Marshal(out)
		case "shard":
			if task.Ranked != ranked {
				t.Errorf("shard %d got ranks %q, want %q", task.Shard, task.Ranked, ranked)
			}
			if shardCalls[task.Shard]++; task.Shard == 2 && shardCalls[task.Shard] == 1 {
				return nil, &FunctionError{ErrorType: "Runtime.ExitError", ErrorMessage: "killed"}
			}
			return json.Marshal(scoring.ShardDone{Shard: task.Shard, Key: scoring.ShardKey(plan.Run, task.Shard), Rows: 100 + task.Shard})
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
	if len(rank.Parts) != lake.SubscriberBuckets {
		t.Fatalf("rank got %d parts, want %d", len(rank.Parts), lake.SubscriberBuckets)
	}
	for i, p := range rank.Parts {
		if p.Bucket != i || p.Key != scoring.PartKey(plan.Run, i) || p.Customers != 10+i {
			t.Errorf("rank part %d = %+v, want bucket %d's answer", i, p, i)
		}
	}
	for s := range shards {
		if want := map[bool]int{true: 2, false: 1}[s == 2]; shardCalls[s] != want {
			t.Errorf("shard %d invoked %d times, want %d", s, shardCalls[s], want)
		}
	}
	if commit.Plan == nil || !reflect.DeepEqual(*commit.Plan, *plan) || commit.Ranked != ranked || len(commit.Shards) != shards || len(commit.Parts) != 0 {
		t.Fatalf("commit got plan %+v, ranks %q, %d shards and %d parts, want the plan, %q, %d shards and no parts",
			commit.Plan, commit.Ranked, len(commit.Shards), len(commit.Parts), ranked, shards)
	}
	for i, sd := range commit.Shards {
		if sd.Shard != i || sd.Key != scoring.ShardKey(plan.Run, i) || sd.Rows != 100+i {
			t.Errorf("commit shard %d = %+v, want shard %d's answer", i, sd, i)
		}
	}
}
