package lake

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A line reader's chunk is read into again once its lines were returned
// (see lineReader), so a value any format keeps past its row without a
// copy would change under it. Every format's export, parsed with chunks
// of a few hundred bytes (each reused thousands of times), gives the
// batches, counts and reported values it gives with chunks of 1 MiB: good
// rows of every length, quoted values, rejected values that the report
// keeps, lines past the limit, blank lines, CRLF.
func TestParserSameWithChunksReused(t *testing.T) {
	rowsOf := func(header string, row func(i int) string) []byte {
		var b bytes.Buffer
		b.WriteString(header)
		for i := range 6000 {
			switch {
			case i%997 == 5:
				b.WriteString(strings.Repeat("x,", 200) + "\n") // past MaxLineBytes below
			case i%401 == 7:
				b.WriteString("\r\n")
			default:
				b.WriteString(row(i))
				if i%5 == 0 {
					b.WriteString("\r")
				}
				b.WriteString("\n")
			}
		}
		return b.Bytes()
	}
	pad := func(i int) string { return strings.Repeat("q", i%23) }
	tests := []struct {
		name string
		f    *Format
		in   []byte
	}{
		{"cdr", CDRFormat, rowsOf(cdrAreaHeader, func(i int) string {
			charge := fmt.Sprintf("%d.%04d", i%9, i%10000)
			if i%211 == 0 {
				charge = "12,5" // the comma splits it: a row with a field too many
			}
			other := fmt.Sprintf("4930%06d", i%900+i%7)
			if i%173 == 0 {
				other = "49x" + pad(i) // rejected, its value masked in the report
			}
			return fmt.Sprintf("C%07d%s,S%05d,4917%08d,%s,offnet,2026-10-%02dT%02d:%02d:%02dZ,%d,voice,out,false,%t,CELL%d,\"Region %s, %d\",%d,%s,A%d",
				i, pad(i), i%700, i%500, other, 1+i%20, i%24, i%60, (i*7)%60, 1+i%600, i%9 == 0, i%40, pad(i), i%3, i%3*100, charge, i%11)
		})},
		{"bills", BillsFormat, rowsOf("subscriber_id,bill_month,plan,amount_due,amount_paid,arrears,discount,payment_method,credit_limit\n", func(i int) string {
			due := fmt.Sprintf("%d.%02d", 10+i%90, i%100)
			if i%149 == 0 {
				due = "ten" + pad(i)
			}
			return fmt.Sprintf("S%06d%s,2026-%02d,PLAN%s,%s,12.50,0.00,,cash,", i, pad(i), 1+i%12, pad(i+3), due)
		})},
		{"subscribers", SubscribersFormat, rowsOf("export_date,subscriber_id,msisdn,name,gender,plan,activation_date,status,status_date,payment_method,region\n", func(i int) string {
			status := "active"
			if i%157 == 0 {
				status = "gone" + pad(i)
			}
			return fmt.Sprintf("2026-11-01,S%06d,4917%08d,\"Name %s, Jr.\",U,BASIC%d,2025-01-%02d,%s,2025-02-01,cash,Region%s",
				i, i, pad(i), i%9, 1+i%28, status, pad(i+5))
		})},
		{"responses", ResponsesFormat, rowsOf("campaign_id,subscriber_id,contacted_at,outcome,outcome_at\n", func(i int) string {
			outcome := "unreachable"
			if i%163 == 0 {
				outcome = "maybe" + pad(i)
			}
			return fmt.Sprintf("CMP%s,S%07d,2026-11-%02dT10:%02d:00Z,%s,", pad(i), i, 1+i%20, i%60, outcome)
		})},
	}
	type result struct {
		Rows  []string
		Parts []int64
		Stats ParseStats
	}
	parse := func(t *testing.T, f *Format, in []byte) result {
		p := newParser(f, fileContext{source: "s3://landing/exports/x.csv", ingestedAt: 1_700_000_000_000_000,
			now: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), pseudonym: []byte("test-pseudonym-key-0123456789")})
		p.BatchRows = 500
		p.Limits.MaxLineBytes = 300
		p.Limits.ReportEntriesPerReason = 1000
		var r result
		for pb, err := range p.Batches(bytes.NewReader(in)) {
			if err != nil {
				t.Fatal(err)
			}
			r.Parts = append(r.Parts, pb.Part)
			for i := range int(pb.Rec.NumRows()) {
				var row []string
				for _, col := range pb.Rec.Columns() {
					row = append(row, col.ValueStr(i))
				}
				r.Rows = append(r.Rows, strings.Join(row, "|"))
			}
			pb.Rec.Release()
		}
		r.Stats = p.Stats
		r.Stats.byReason = nil
		return r
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := parse(t, tc.f, tc.in)
			if want.Stats.RowsOK < 5000 || want.Stats.RowsRejected < 20 || len(want.Stats.Errors) < 20 {
				t.Fatalf("the input should have many good rows and some rejected: %d good, %d rejected, %d report entries (first %+v)",
					want.Stats.RowsOK, want.Stats.RowsRejected, len(want.Stats.Errors), want.Stats.Errors[:min(3, len(want.Stats.Errors))])
			}
			saved := chunkBytes
			chunkBytes = 0 // chunks of 2 × (MaxLineBytes + 2) bytes
			defer func() { chunkBytes = saved }()
			got := parse(t, tc.f, tc.in)
			if !reflect.DeepEqual(got.Parts, want.Parts) || !reflect.DeepEqual(got.Stats, want.Stats) {
				t.Fatalf("with small chunks: partitions %v, stats %+v\nwith 1 MiB chunks: %v, %+v", got.Parts, got.Stats, want.Parts, want.Stats)
			}
			for i := range max(len(got.Rows), len(want.Rows)) {
				if i >= len(got.Rows) || i >= len(want.Rows) || got.Rows[i] != want.Rows[i] {
					t.Fatalf("%d rows with small chunks, %d with 1 MiB chunks; row %d differs:\n got %s\nwant %s", len(got.Rows), len(want.Rows), i,
						at(got.Rows, i), at(want.Rows, i))
				}
			}
		})
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}
