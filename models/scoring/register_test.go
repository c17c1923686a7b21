package scoring_test

import (
	"context"
	"testing"

	"github.com/telcolake/telcolake/lake"
)

// TestLifecycleScanIsFullScansFields: the register scan the lifecycle
// report makes (lake.SubscriberScan.Lifecycle, half the columns) gives
// every row the full scan gives, with the same export and activation and
// status dates, region, plan and status, and nothing else.
func TestLifecycleScanIsFullScansFields(t *testing.T) {
	_, r := trainedLake(t)
	ctx := context.Background()
	read := func(o lake.SubscriberScan) (map[[2]any]lake.SubscriberRow, int32) {
		rows := map[[2]any]lake.SubscriberRow{}
		newest, err := lake.ScanSubscribers(ctx, r.Tables, o, func(row *lake.SubscriberRow) error {
			rows[[2]any{row.ID, row.ExportDate}] = *row
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return rows, newest
	}
	full, fullNewest := read(lake.SubscriberScan{})
	lean, leanNewest := read(lake.SubscriberScan{Lifecycle: true})
	if len(full) == 0 || len(lean) != len(full) || leanNewest != fullNewest {
		t.Fatalf("lifecycle scan: %d rows (newest %d), full scan %d (newest %d)", len(lean), leanNewest, len(full), fullNewest)
	}
	gender := 0
	for k, f := range full {
		want := lake.SubscriberRow{ExportDate: f.ExportDate, ID: f.ID, Region: f.Region, Plan: f.Plan, Status: f.Status,
			Activation: f.Activation, StatusDate: f.StatusDate, CreditLimit: -1}
		if got := lean[k]; got != want {
			t.Fatalf("lifecycle scan row %v = %+v, want %+v", k, got, want)
		}
		if f.Gender != "" {
			gender++
		}
	}
	if gender == 0 {
		t.Error("the full scan read no gender: the test compares nothing beyond the lifecycle fields")
	}
}
