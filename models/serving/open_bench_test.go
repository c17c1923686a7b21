package serving_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/telcolake/telcolake/models/serving"
)

// BenchmarkEncode and BenchmarkOpen: writing and cold-opening a snapshot
// of 200,000 customers with six months of history (from memory, so the
// figures are CPU only).
func benchSnapshot(b *testing.B) ([]serving.Customer, *serving.MemStore) {
	b.Helper()
	cs := make([]serving.Customer, 200_000)
	for i := range cs {
		c := &cs[i]
		c.SubscriberID = fmt.Sprintf("S%08d", i)
		c.MSISDN, c.Name = fmt.Sprintf("4917%08d", i), "Anna Schmidt"
		c.Plan, c.Region, c.Status, c.Lifecycle, c.SegmentID = "PLUS20", "North", "active", "established", int32(i%7)
		c.Probability, c.MonthlyValue = float64(i%100)/100, float64(i%5000)/100
		c.Reasons = []string{"many calls to customer care (6 calls)", "short tenure (2 months)"}
		for m := range 6 {
			c.History = append(c.History, serving.Month{Month: fmt.Sprintf("2026-%02d", m+1), VoiceMinutes: float64(i % 300), AmountDue: 39.9})
		}
	}
	st := serving.NewMemStore()
	if _, err := serving.Write(context.Background(), st, &serving.Meta{Run: "r"}, cs); err != nil {
		b.Fatal(err)
	}
	return cs, st
}

func BenchmarkEncode(b *testing.B) {
	cs, _ := benchSnapshot(b)
	b.ResetTimer()
	for range b.N {
		if _, err := serving.Encode(&serving.Meta{Run: "r"}, cs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	_, st := benchSnapshot(b)
	b.ResetTimer()
	for range b.N {
		snap, err := serving.Load(context.Background(), st, serving.IsNotFound, serving.Options{})
		if err != nil || snap.Len() != 200_000 {
			b.Fatal(err)
		}
	}
}
