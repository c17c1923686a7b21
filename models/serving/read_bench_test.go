package serving

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

func benchCustomers(n int) []Customer {
	out := make([]Customer, n)
	for i := range out {
		c := &out[i]
		c.SubscriberID = fmt.Sprintf("S%08d", i)
		c.MSISDN = fmt.Sprintf("4917%08d", i)
		c.Name = "Anna Schmidt"
		c.Plan, c.Region, c.Status, c.Lifecycle = "PLUS20", "North", "active", "established"
		c.Probability = float64(i%100) / 100
		c.Reasons = []string{"many calls to customer care (6)", "short tenure (2)", "voice use falling (-0.4)"}
		for m := range 6 {
			c.History = append(c.History, Month{Month: fmt.Sprintf("2026-%02d", m+1), VoiceMinutes: float64(i % 300), AmountDue: 39.9})
		}
	}
	return out
}

// BenchmarkReadCustomers measures a cold start's decode of the snapshot.
func BenchmarkReadCustomers(b *testing.B) {
	cs := benchCustomers(100_000)
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[Customer](&buf, parquet.Compression(&zstd.Codec{}))
	if _, err := w.Write(cs); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		got, err := ReadCustomers(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil || len(got) != len(cs) {
			b.Fatal(err, len(got))
		}
	}
}
