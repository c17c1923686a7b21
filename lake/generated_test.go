package lake_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/synth"
)

// TestIngestGeneratedExports generates 2k subscribers × 3 months, delivers
// every file as a source system would (with its duplicate and late files)
// through the Lambda handler, and checks each table against totals computed
// straight from the CSV files.
func TestIngestGeneratedExports(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and ingests ~200k rows")
	}
	dir := t.TempDir()
	man, err := synth.Generate(context.Background(), synth.Config{Subscribers: 2000, Months: 3, Seed: 7, Gzip: true, Mess: true}, synth.DirSink(dir))
	if err != nil {
		t.Fatal(err)
	}
	tl := newTestLake(t, false)
	statuses := map[string]int{}
	var planted int64
	for _, f := range man.Files {
		planted += int64(f.BadRows)
	}
	var rejected int64
	for _, key := range man.Deliveries {
		body, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(key)))
		if err != nil {
			t.Fatal(err)
		}
		res := tl.mustIngest(tl.put(key, body))
		statuses[res.Status]++
		rejected += res.RowsRejected
	}
	t.Logf("deliveries %d, statuses %v", len(man.Deliveries), statuses)
	if statuses[lake.StatusCommitted] != len(man.Files) || statuses[lake.StatusDuplicate] != len(man.Deliveries)-len(man.Files) {
		t.Errorf("statuses %v: want %d committed and %d duplicate", statuses, len(man.Files), len(man.Deliveries)-len(man.Files))
	}
	if rejected != planted {
		t.Errorf("rejected %d rows, generator planted %d bad ones", rejected, planted)
	}

	want := expectedTotals(t, dir, man)
	got := map[string]totals{
		"cdr":         tableTotals(t, tl, lake.CDRTable, "charge", "duration_s"),
		"bills":       tableTotals(t, tl, lake.BillsTable, "amount_due", ""),
		"subscribers": tableTotals(t, tl, lake.SubscribersTable, "credit_limit", ""),
	}
	for name, w := range want {
		if g := got[name]; g.rows != w.rows || g.money.Cmp(w.money) != 0 || g.ints != w.ints {
			t.Errorf("%s: table has %d rows, money %s, ints %d; CSV has %d, %s, %d", name, g.rows, g.money, g.ints, w.rows, w.money, w.ints)
		}
	}
	if n := tl.count(lake.IngestLogTable); n != int64(len(man.Files)) {
		t.Errorf("crm.ingest_log has %d rows, want %d", n, len(man.Files))
	}
}

type totals struct {
	rows  int64
	money *big.Rat // sum of the money column
	ints  int64    // sum of the int column
}

// expectedTotals reads the generated CSVs with encoding/csv: the generator
// marks each planted bad row by an X after its call_id.
func expectedTotals(t *testing.T, dir string, man *synth.Manifest) map[string]totals {
	t.Helper()
	moneyCol := map[string]string{"cdr": "charge", "bills": "amount_due", "subscribers": "credit_limit"}
	out := map[string]totals{}
	for _, f := range man.Files {
		raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Key)))
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = bytes.NewReader(raw)
		if strings.HasSuffix(f.Key, ".gz") {
			if r, err = gzip.NewReader(r); err != nil {
				t.Fatal(err)
			}
		}
		cr := csv.NewReader(r)
		cr.FieldsPerRecord = -1
		header, err := cr.Read()
		if err != nil {
			t.Fatal(err)
		}
		col := map[string]int{}
		for i, h := range header {
			col[h] = i
		}
		tot := out[f.Table]
		if tot.money == nil {
			tot.money = new(big.Rat)
		}
		for {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f.Key, err)
			}
			if f.Table == "cdr" && strings.HasSuffix(rec[col["call_id"]], "X") {
				continue // planted bad row
			}
			tot.rows++
			if v := rec[col[moneyCol[f.Table]]]; v != "" {
				m, ok := new(big.Rat).SetString(v)
				if !ok {
					t.Fatalf("%s: money %q", f.Key, v)
				}
				tot.money.Add(tot.money, m)
			}
			if f.Table == "cdr" {
				d, ok := new(big.Int).SetString(rec[col["duration_s"]], 10)
				if !ok {
					t.Fatalf("%s: duration %q", f.Key, rec[col["duration_s"]])
				}
				tot.ints += d.Int64()
			}
		}
		out[f.Table] = tot
	}
	return out
}

// tableTotals sums a decimal and an int column of a table.
func tableTotals(t *testing.T, tl *testLake, def lake.TableDef, moneyCol, intCol string) totals {
	t.Helper()
	cols := []string{moneyCol}
	if intCol != "" {
		cols = append(cols, intCol)
	}
	at, err := lake.ReadTable(context.Background(), tl.cat, def, cols...)
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	tot := totals{rows: at.NumRows(), money: new(big.Rat)}
	tr := array.NewTableReader(at, 1<<16)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		for i, f := range rec.Schema().Fields() {
			switch c := rec.Column(i).(type) {
			case *array.Decimal128:
				scale := f.Type.(*arrow.Decimal128Type).Scale
				for j := 0; j < c.Len(); j++ {
					if c.IsValid(j) {
						tot.money.Add(tot.money, decRat(c.Value(j), scale))
					}
				}
			case *array.Int32:
				for _, v := range c.Int32Values() {
					tot.ints += int64(v)
				}
			}
		}
	}
	return tot
}

func decRat(n decimal128.Num, scale int32) *big.Rat {
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)
	return new(big.Rat).SetFrac(n.BigInt(), den)
}
