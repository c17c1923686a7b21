package features

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/synth"
)

// TestDirectCDRReadEqualsArrowScan: the direct Parquet reader of crm.cdr
// (readCDRFile) gives every subscriber the same totals, contacts and usage
// cube sums as iceberg-go's Arrow scan with addBatch, for all
// subscribers and for one bucket, over generated exports with their mess
// (malformed rows rejected, a file delivered twice, late files; nulls in
// the optional columns).
func TestDirectCDRReadEqualsArrowScan(t *testing.T) {
	l := laketest.New(t)
	landing := filepath.Join(l.Root, laketest.Landing)
	man, err := synth.Generate(context.Background(), synth.Config{Subscribers: 300, Months: 2, Seed: 5,
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), CDRFileSpan: "day", Mess: true}, synth.DirSink(landing))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range man.Deliveries {
		body, err := os.ReadFile(filepath.Join(landing, filepath.FromSlash(key)))
		if err != nil {
			t.Fatal(err)
		}
		l.Ingest(t, key, string(body))
	}
	ctx := context.Background()
	reg, err := LoadRegister(ctx, l.Cat)
	if err != nil {
		t.Fatal(err)
	}
	month := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	end := epochDay(month.AddDate(0, 1, -1))
	for _, keep := range []subset{all, 3} {
		var rows []row
		for id, p := range reg.asOf(end) {
			if keep.has(id) {
				rows = append(rows, row{id: id, p: p})
			}
		}
		index := map[string]int32{}
		home := make([]string, len(rows))
		for i, r := range rows {
			index[r.id] = int32(i)
			home[i] = r.p.region
		}
		demo := newDemographics(rows, end)
		type result struct {
			u    []usage
			cube *usageCubeAcc
			n    int64
		}
		read := func(direct bool) result {
			readDirect = direct
			defer func() { readDirect = true }()
			u, cube, n, err := aggregateUsage(ctx, l.Cat, month, index, home, demo, keep)
			if err != nil {
				t.Fatal(err)
			}
			return result{u, cube, n}
		}
		arrow, direct := read(false), read(true)
		if arrow.n == 0 || len(rows) == 0 {
			t.Fatalf("subset %d: %d CDR rows for %d subscribers: nothing to compare", keep, arrow.n, len(rows))
		}
		if direct.n != arrow.n {
			t.Errorf("subset %d: direct read %d CDR rows, the Arrow scan %d", keep, direct.n, arrow.n)
		}
		var voice int64
		for i := range rows {
			voice += arrow.u[i].voiceCalls
			if !reflect.DeepEqual(direct.u[i], arrow.u[i]) {
				t.Errorf("subset %d: %s: direct %+v, Arrow scan %+v", keep, rows[i].id, direct.u[i], arrow.u[i])
			}
		}
		if voice == 0 {
			t.Fatalf("subset %d: no voice calls", keep)
		}
		if !reflect.DeepEqual(direct.cube.cells(), arrow.cube.cells()) {
			t.Errorf("subset %d: the usage cube's cells differ", keep)
		}
	}
}

// TestSpreadAndBigEndian: packed values of an optional column land on
// their rows (zero where null), and decimals stored big-endian in any
// width decode to their unscaled value.
func TestSpreadAndBigEndian(t *testing.T) {
	dst := make([]int64, 5)
	spread(dst, []int64{7, 8, 9}, []int16{1, 0, 1, 1, 0}, 1, 5)
	if want := []int64{7, 0, 8, 9, 0}; !reflect.DeepEqual(dst, want) {
		t.Errorf("spread: %v, want %v", dst, want)
	}
	for _, c := range []struct {
		b    []byte
		want int64
		bad  bool
	}{
		{nil, 0, false},
		{[]byte{0x01, 0x00}, 256, false},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}, -2, false},
		{[]byte{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x27, 0x10}, 10000, false},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x9c}, -100, false},
		{[]byte{0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, 0, true},
	} {
		got, err := bigEndian(c.b)
		if (err != nil) != c.bad || (!c.bad && got != c.want) {
			t.Errorf("bigEndian(% x) = %d, %v; want %d (error %v)", c.b, got, err, c.want, c.bad)
		}
	}
}
