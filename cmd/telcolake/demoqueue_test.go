package main

import (
	"testing"
	"time"

	"github.com/telcolake/telcolake/localstack"
)

func TestBatchLine(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	for _, c := range []struct {
		span localstack.BatchSpan
		want string
	}{
		{localstack.BatchSpan{Messages: 100, Received: at(0), Invoked: at(0.2), Done: at(12.6)},
			"batch 1: 100 files, gathered 0.0–0.2s, in the function 0.2–12.6s"},
		{localstack.BatchSpan{Messages: 30, Received: at(0.6), Invoked: at(5.6), Done: at(7)},
			"batch 1: 30 files, gathered 0.6–5.6s (under the batch size: its window ran out), in the function 5.6–7.0s"},
		{localstack.BatchSpan{Messages: 30, Received: at(0.6), Invoked: at(12.6), Done: at(14.3)},
			"batch 1: 30 files, gathered 0.6–12.6s (its window ended at 5.6s; then it waited for a free environment), in the function 12.6–14.3s"},
	} {
		if got := batchLine(1, c.span, t0, 100, 5*time.Second); got != c.want {
			t.Errorf("batchLine(%+v) =\n%q, want\n%q", c.span, got, c.want)
		}
	}
}
