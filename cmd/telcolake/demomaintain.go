package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/localstack"
)

// demoMaintain runs the maintain function once, as its daily schedule
// would, and says what it did; it returns the number of steps that failed.
func demoMaintain(ctx context.Context, say func(string, ...any), st *localstack.Stack) int {
	if !contains(st.Functions(), "maintain") {
		return 0
	}
	t := time.Now()
	out, err := st.Invoke(ctx, "maintain", []byte("{}"))
	var rep lake.MaintainReport
	if err == nil {
		err = json.Unmarshal(out, &rep)
	}
	if err != nil {
		say("    maintenance: failed: %v", err)
		return 1
	}
	say("    maintenance (the daily run: snapshots kept %s and at least %d per table, orphans after %s) in %.1fs:",
		rep.SnapshotAge, rep.KeepSnapshots, rep.OrphanAge, time.Since(t).Seconds())
	say("      %s", rep.Summary())
	return 0
}
