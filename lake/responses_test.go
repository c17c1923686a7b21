package lake_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/telcolake/telcolake/lake"
)

const respHeader = "campaign_id,subscriber_id,contacted_at,outcome,outcome_at\n"

// respCSV returns a responses export of n good rows for campaign c; bad(i)
// may replace row i.
func respCSV(c string, n int, bad func(i int) string) []byte {
	var b bytes.Buffer
	b.WriteString(respHeader)
	for i := 0; i < n; i++ {
		if bad != nil {
			if row := bad(i); row != "" {
				b.WriteString(row + "\n")
				continue
			}
		}
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "%s,S%07d,2026-11-%02dT10:%02d:00Z,accepted,2026-11-%02dT10:%02d:30Z\n", c, i, 1+i%20, i%60, 1+i%20, i%60)
		case 1:
			fmt.Fprintf(&b, "%s,S%07d,2026-11-%02dT11:%02d:00Z,declined,2026-11-%02dT11:%02d:30Z\n", c, i, 1+i%20, i%60, 1+i%20, i%60)
		default:
			fmt.Fprintf(&b, "%s,S%07d,2026-11-%02dT12:%02d:00Z,unreachable,\n", c, i, 1+i%20, i%60)
		}
	}
	return b.Bytes()
}

// TestResponsesIngest: the responses export goes through the same ingest
// as every export: bad rows rejected with line, column and reason, good
// rows committed once, a redelivery a no-op, and a second file repeating
// a contact attempt counted as a duplicate record.
func TestResponsesIngest(t *testing.T) {
	tl := newTestLake(t, false)
	bad := map[int]struct{ row, column, reason string }{
		3:  {"cmp-a,S0000003,2026-11-04T10:00:00Z,maybe,2026-11-04T10:01:00Z", "outcome", "must be one of accepted, declined, unreachable"},
		7:  {"cmp-a,S0000007,2026-11-08T10:00:00Z,accepted,", "outcome_at", "required for accepted and declined"},
		11: {"cmp-a,S0000011,2026-11-12T10:00:00Z,unreachable,2026-11-12T10:00:00Z", "outcome_at", "must be empty for an unreachable"},
		15: {"cmp-a,S0000015,2026-11-16T10:00:00Z,declined,2026-11-16T09:00:00Z", "outcome_at", "must not be before contacted_at"},
		19: {"cmp-a,,2026-11-20T10:00:00Z,declined,2026-11-20T10:01:00Z", "subscriber_id", "required value is empty"},
		23: {"cmp-a,S0000023,yesterday,accepted,2026-11-04T10:01:00Z", "contacted_at", "must be a timestamp"},
	}
	body := respCSV("cmp-a", 300, func(i int) string { return bad[i].row })
	key := "exports/responses/2026/11/21/cmp-a-callcentre.csv"
	rec := tl.put(key, body)
	res := tl.mustIngest(rec)
	if res.Status != lake.StatusCommitted || res.RowsOK != 300-int64(len(bad)) || res.RowsRejected != int64(len(bad)) {
		t.Fatalf("ingest: status %s rows %d rejected %d; want committed, %d, %d (%s)", res.Status, res.RowsOK, res.RowsRejected, 300-len(bad), len(bad), res.Message)
	}
	rep := tl.report(key)
	if len(rep.Errors) != len(bad) {
		t.Fatalf("report lists %d rows, want %d", len(rep.Errors), len(bad))
	}
	for _, e := range rep.Errors {
		i := int(e.Line) - 2 // line 1 is the header
		want, ok := bad[i]
		if !ok {
			t.Errorf("report rejects line %d, a good row", e.Line)
			continue
		}
		if e.Column != want.column || !bytes.Contains([]byte(e.Reason), []byte(want.reason)) {
			t.Errorf("line %d: column %q reason %q; want %q, %q", e.Line, e.Column, e.Reason, want.column, want.reason)
		}
	}
	if n := tl.count(lake.ResponsesTable); n != res.RowsOK {
		t.Errorf("crm.responses has %d rows, want %d", n, res.RowsOK)
	}
	// Redelivery of the same version: a no-op.
	if again := tl.mustIngest(rec); again.Status != lake.StatusDuplicate {
		t.Errorf("redelivery: status %s, want duplicate", again.Status)
	}
	// Another file repeating 50 of the attempts (same campaign, customer
	// and day) and adding 20 new ones: only the new ones are added.
	var b bytes.Buffer
	b.WriteString(respHeader)
	all := respCSV("cmp-a", 50, nil)
	b.Write(all[len(respHeader):])
	b.Write(respCSV("cmp-b", 20, nil)[len(respHeader):])
	res2 := tl.mustIngest(tl.put("exports/responses/2026/11/22/cmp-a-resend.csv", b.Bytes()))
	wantDup := int64(50)
	for i := range bad {
		if i < 50 {
			wantDup-- // rejected in the first file, so new in this one
		}
	}
	if res2.Status != lake.StatusCommitted || res2.RowsDuplicate != wantDup || res2.RowsOK != 70-wantDup {
		t.Errorf("second file: status %s ok %d duplicate %d; want committed, %d, %d", res2.Status, res2.RowsOK, res2.RowsDuplicate, 70-wantDup, wantDup)
	}
	if n, want := tl.count(lake.ResponsesTable), res.RowsOK+res2.RowsOK; n != want {
		t.Errorf("crm.responses has %d rows, want %d", n, want)
	}
}
