package features

import (
	"context"
	"fmt"
	"time"

	"github.com/telcolake/telcolake/lake"
)

// Task is the features function's event, one step of the monthly run's
// state machine: "plan" lists the months to build and one bucket task per
// bucket, "bucket" builds one bucket of those months (BuildBucket),
// "commit" commits every bucket's files (CommitMonths).
type Task struct {
	Action string `json:"action"`
	// Months are the months to build, "2006-01" (bucket).
	Months []string `json:"months,omitempty"`
	Bucket int      `json:"bucket,omitempty"`
	// Parts are the buckets' results (commit): the Map state's output.
	Parts []BucketResult `json:"parts,omitempty"`
	// Rebuild plans every month with bills, not only the missing ones and
	// the newest (plan).
	Rebuild bool `json:"rebuild,omitempty"`
}

// Plan is the plan action's answer.
type Plan struct {
	Months  []string `json:"months"`
	Buckets []Task   `json:"buckets"`
}

// Handle runs one task. Its answer is a *Plan, a *BucketResult or the
// committed months ([]MonthResult).
func (b *Builder) Handle(ctx context.Context, t Task) (any, error) {
	switch t.Action {
	case "plan":
		months, err := MonthsToBuild(ctx, b.Tables, t.Rebuild)
		if err != nil {
			return nil, err
		}
		p := &Plan{Months: []string{}}
		for _, m := range months {
			p.Months = append(p.Months, m.Format("2006-01"))
		}
		for k := range lake.SubscriberBuckets {
			p.Buckets = append(p.Buckets, Task{Action: "bucket", Bucket: k, Months: p.Months})
		}
		return p, nil
	case "bucket":
		var months []time.Time
		for _, s := range t.Months {
			m, err := time.Parse("2006-01", s)
			if err != nil {
				return nil, fmt.Errorf("features: task months: %q is not a month (2006-01)", s)
			}
			months = append(months, m)
		}
		return b.BuildBucket(ctx, months, t.Bucket)
	case "commit":
		return b.CommitMonths(ctx, t.Parts)
	}
	return nil, fmt.Errorf("features: task action %q: want plan, bucket or commit", t.Action)
}

// MonthsToBuild are the bill months without features, plus the newest
// (its register or late CDR files may have arrived since); all of them
// when all is set.
func MonthsToBuild(ctx context.Context, tables lake.TableLoader, all bool) ([]time.Time, error) {
	months, err := BillMonths(ctx, tables)
	if err != nil || all {
		return months, err
	}
	have, err := BuiltMonths(ctx, tables)
	if err != nil {
		return nil, err
	}
	var out []time.Time
	for i, m := range months {
		if i == len(months)-1 || !have[m] {
			out = append(out, m)
		}
	}
	return out, nil
}
