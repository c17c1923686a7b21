package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/telcolake/telcolake/localstack"
)

// demoQueue says how the uploads reached ingest: through the ingest queue
// in batches, as the template's event source mapping sets them, and when
// each batch was gathered and in the function (seconds since t0, the first
// upload), so the time to the first commit can be read off.
func demoQueue(say func(string, ...any), st *localstack.Stack, t0 time.Time) {
	for _, q := range st.QueueStats() {
		say("    through the queue %s: %d messages in %d batches to %s (batches of up to %d, %s window, %d at once), %.1fs in the function",
			q.Queue, q.Messages, q.Batches, q.Function, q.BatchSize, q.Window, q.Concurrency, q.Busy.Seconds())
		spans := slices.Clone(q.Spans)
		slices.SortFunc(spans, func(a, b localstack.BatchSpan) int { return a.Invoked.Compare(b.Invoked) })
		const most = 6
		for i, s := range spans {
			if i == most {
				say("      ... %d more batches", int(q.Batches)-most)
				break
			}
			say("      %s", batchLine(i+1, s, t0, q.BatchSize, q.Window))
		}
	}
}

// batchLine tells one batch's times since t0: gathered (from its first
// message until it was handed over: when full, or when its window ran out,
// and then perhaps after waiting for a free environment) and in the
// function.
func batchLine(n int, s localstack.BatchSpan, t0 time.Time, size int, window time.Duration) string {
	sec := func(t time.Time) float64 { return t.Sub(t0).Seconds() }
	var b strings.Builder
	fmt.Fprintf(&b, "batch %d: %d files, gathered %.1f–%.1fs", n, s.Messages, sec(s.Received), sec(s.Invoked))
	if end := s.Received.Add(window); s.Messages < size && s.Invoked.Sub(end) > 100*time.Millisecond {
		fmt.Fprintf(&b, " (its window ended at %.1fs; then it waited for a free environment)", sec(end))
	} else if s.Messages < size {
		b.WriteString(" (under the batch size: its window ran out)")
	}
	fmt.Fprintf(&b, ", in the function %.1f–%.1fs", sec(s.Invoked), sec(s.Done))
	return b.String()
}
