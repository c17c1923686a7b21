package lake_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

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

// addCampaigns writes rows of crm.campaigns for ids, as campaign.LakeStore
// does when a campaign is created.
func addCampaigns(t *testing.T, tl *testLake, ids ...string) {
	t.Helper()
	rb, err := lake.NewRowBuilder(lake.CampaignsTable, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Release()
	for _, id := range ids {
		rb.String("campaign_id", id)
		for _, c := range []string{"name", "offer", "channel", "source_kind", "source_name", "run", "created_by"} {
			rb.String(c, "x")
		}
		rb.Money("cost_per_contact", 300)
		for _, c := range []string{"size", "treated", "control", "horizon_days"} {
			rb.Int32(c, 10)
		}
		rb.Float("control_share", 0.2)
		rb.Int64("seed", 1)
		rb.Time("created_at", time.Date(2026, 10, 30, 9, 0, 0, 0, time.UTC))
	}
	rec := rb.Record()
	defer rec.Release()
	if _, err := lake.ReplaceRows(context.Background(), tl.cat, lake.CampaignsTable, nil, []arrow.RecordBatch{rec}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestResponsesToUnknownCampaign: a response naming a campaign that
// crm.campaigns does not hold is rejected, its reason naming the id, in
// the reject report and the ingest log, never committed where no
// campaign's results would count it; a file of nothing but such lines is
// quarantined with that reason.
func TestResponsesToUnknownCampaign(t *testing.T) {
	tl := newTestLake(t, false)
	addCampaigns(t, tl, "cmp-a")
	body := respCSV("cmp-a", 200, func(i int) string {
		if i%50 == 7 {
			return fmt.Sprintf("cmp-gone,S%07d,2026-11-03T10:00:00Z,accepted,2026-11-03T10:01:00Z", i)
		}
		return ""
	})
	key := "exports/responses/2026/11/21/mixed.csv"
	res := tl.mustIngest(tl.put(key, body))
	if res.Status != lake.StatusCommitted || res.RowsOK != 196 || res.RowsRejected != 4 {
		t.Fatalf("ingest: status %s rows %d rejected %d; want committed, 196, 4 (%s)", res.Status, res.RowsOK, res.RowsRejected, res.Message)
	}
	rep := tl.report(key)
	if len(rep.Errors) != 4 {
		t.Fatalf("report lists %d rows, want 4", len(rep.Errors))
	}
	for _, e := range rep.Errors {
		if e.Column != "campaign_id" || e.Value != "cmp-gone" || !strings.Contains(e.Reason, "unknown campaign cmp-gone") || (e.Line-2)%50 != 7 {
			t.Errorf("line %d: column %q value %q reason %q; want campaign_id, cmp-gone, unknown campaign cmp-gone", e.Line, e.Column, e.Value, e.Reason)
		}
	}
	if len(rep.ByReason) != 1 || rep.ByReason[0].Rows != 4 || !strings.Contains(rep.ByReason[0].Reason, "cmp-gone") {
		t.Errorf("rejected by reason = %+v, want 4 rows of unknown campaign cmp-gone", rep.ByReason)
	}
	if n := tl.count(lake.ResponsesTable); n != 196 {
		t.Errorf("crm.responses has %d rows, want 196", n)
	}

	// The same check on the queue's path (a batch of files): a file for
	// an unknown campaign beside one for a known campaign.
	only := "exports/responses/2026/11/22/other-system.csv"
	outs := tl.in.IngestBatch(context.Background(), []lake.Object{objectOf(tl.put(only, respCSV("cmp-elsewhere", 30, nil))),
		objectOf(tl.put("exports/responses/2026/11/22/more.csv", respCSV("cmp-a", 10, func(i int) string {
			return fmt.Sprintf("cmp-a,S%07d,2026-11-25T10:00:00Z,unreachable,", 900+i)
		})))})
	if len(outs) != 2 || outs[0].Err != nil || outs[1].Err != nil {
		t.Fatalf("batch: %+v", outs)
	}
	if res := outs[0]; res.Status != lake.StatusQuarantined || res.RowsOK != 0 || res.RowsRejected != 30 {
		t.Errorf("file for an unknown campaign: status %s ok %d rejected %d; want quarantined, 0, 30", res.Status, res.RowsOK, res.RowsRejected)
	}
	if res := outs[1]; res.Status != lake.StatusCommitted || res.RowsOK != 10 || res.RowsRejected != 0 {
		t.Errorf("file for cmp-a in the batch: status %s ok %d rejected %d; want committed, 10, 0", res.Status, res.RowsOK, res.RowsRejected)
	}
	if rep := tl.report(only); len(rep.ByReason) != 1 || !strings.Contains(rep.ByReason[0].Reason, "unknown campaign cmp-elsewhere") {
		t.Errorf("quarantined file's reasons = %+v", rep.ByReason)
	}
	if n := tl.count(lake.ResponsesTable); n != 206 {
		t.Errorf("crm.responses has %d rows after the batch, want 206", n)
	}
}

// TestResponsesIngest: the responses export goes through the same ingest
// as every export: bad rows rejected with line, column and reason, good
// rows committed once, a redelivery a no-op, and a second file repeating
// a contact attempt counted as a duplicate record.
func TestResponsesIngest(t *testing.T) {
	tl := newTestLake(t, false)
	addCampaigns(t, tl, "cmp-a", "cmp-b")
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
