package main

import "github.com/telcolake/telcolake/localstack"

// demoQueue says how the uploads reached ingest: through the ingest queue
// in batches, as the template's event source mapping sets them.
func demoQueue(say func(string, ...any), st *localstack.Stack) {
	for _, q := range st.QueueStats() {
		say("    through the queue %s: %d messages in %d batches to %s (batches of up to %d, %s window, %d at once), %.1fs in the function",
			q.Queue, q.Messages, q.Batches, q.Function, q.BatchSize, q.Window, q.Concurrency, q.Busy.Seconds())
	}
}
