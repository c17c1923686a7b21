package serving_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/models/serving"
)

// sample returns n customers with every field set, money in whole cents.
func sample(n int) []serving.Customer {
	rng := rand.New(rand.NewPCG(3, 4))
	cents := func(max int) float64 { return serving.FromCents(int64(rng.IntN(max))) }
	out := make([]serving.Customer, n)
	for i := range out {
		c := &out[i]
		c.SubscriberID = fmt.Sprintf("S%06d", i*7+3)
		c.MSISDN = fmt.Sprintf("4917%08d", rng.IntN(1e8))
		c.Name = []string{"Anna Schmidt", "Zoë Marie Yılmaz", ""}[i%3]
		c.Gender = []string{"F", "M", "U"}[rng.IntN(3)]
		c.AgeBand = append([]string{""}, serving.AgeBands...)[rng.IntN(7)]
		c.Region = []string{"North", "Île-de-France", ""}[rng.IntN(3)]
		c.Plan = fmt.Sprintf("PLAN%d", rng.IntN(70)) // more than 64 values
		c.PaymentMethod = []string{"card", "cash"}[rng.IntN(2)]
		c.Status = serving.Statuses[rng.IntN(3)]
		c.Lifecycle = serving.Lifecycles[rng.IntN(5)]
		c.ActivationDate, c.StatusDate = "2024-02-29", "2026-10-01"
		c.TenureMonths = int32(rng.IntN(200)) - 1
		c.Probability = rng.Float64() // any float64: kept to 1e-9 (Quantize)
		if i%4 != 0 {
			c.Reasons = []string{"voice use falling (-40%)", "many calls to customer care (6 calls)"}[:1+rng.IntN(2)]
		} else {
			c.Reasons = []string{}
		}
		c.SegmentID = int32(rng.IntN(12)) - 1
		c.SegmentName = fmt.Sprintf("segment %d", c.SegmentID)
		c.MonthlyValue, c.CLV, c.ValueAtRisk = cents(10000), cents(1e7), -cents(1e6)
		c.VoiceMinutes, c.DataMB = rng.Float64()*1000, rng.NormFloat64()*1e4
		c.VoiceCalls, c.SMS, c.RoamingCalls, c.IntlCalls = rng.Int32(), -rng.Int32(), 1, 2
		c.CareCalls, c.DistinctContact, c.MonthsInArrears = 3, 4, 5
		c.AmountDue, c.Arrears = cents(5000), cents(90000)
		c.Occupation = []string{"engineer", "teacher", "", "retired"}[rng.IntN(4)]
		c.Education = []string{"secondary", "bachelor", "master", ""}[rng.IntN(4)]
		c.IncomeBand = []string{"<2000", "2000-4999", "5000-9999", "10000+", ""}[rng.IntN(5)]
		c.District = fmt.Sprintf("D%02d", rng.IntN(90))
		c.ValueTier = serving.Tiers[rng.IntN(len(serving.Tiers))]
		c.Discount, c.CostToServe, c.Profit = cents(3000), cents(4000), -cents(9000)
		c.CreditUse = rng.Float64() * 1.5
		c.VoiceMinutesTrend, c.CallsTrend, c.DataTrend = rng.NormFloat64(), -rng.Float64(), rng.Float64()*3
		c.ContactsTrend, c.SpendTrend = rng.NormFloat64(), rng.NormFloat64()
		c.BestOffer = []string{"", "bonus-data", "discount-10"}[i%3]
		for k := range 1 + i%serving.MaxOffers { // some with trailing offers at 0
			c.OfferUplift[k] = rng.NormFloat64() * 0.05
		}
		c.Uplift, c.ContactValue = rng.Float64()*0.2, cents(5000)
		c.BadDebtProbability = rng.Float64()
		if i%5 == 1 {
			c.BadDebtReasons = []string{"arrears rising (2 months)"}
		}
		c.History = []serving.Month{}
		for m := range rng.IntN(7) {
			c.History = append(c.History, serving.Month{Month: fmt.Sprintf("2026-%02d", m+1), VoiceMinutes: rng.Float64() * 300,
				VoiceCalls: int32(rng.IntN(400)), SMS: -1, DataMB: rng.Float64(), CareCalls: int32(m),
				AmountDue: cents(9000), AmountPaid: cents(9000), Arrears: -cents(100)})
		}
	}
	return out
}

// quantized is a copy of cs as a snapshot gives them back (Quantize).
func quantized(cs []serving.Customer) []serving.Customer {
	out := append([]serving.Customer(nil), cs...)
	for i := range out {
		serving.Quantize(&out[i])
	}
	return out
}

func allRows(n int) []int32 {
	rows := make([]int32, n)
	for i := range rows {
		rows[i] = int32(i)
	}
	return rows
}

func TestWriteOpenRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := serving.NewMemStore()
	if _, err := serving.Load(ctx, st, serving.IsNotFound, serving.Options{}); !errors.Is(err, serving.ErrNoSnapshot) {
		t.Fatalf("Load of an empty store: %v, want ErrNoSnapshot", err)
	}
	for _, n := range []int{0, 1, 1500} {
		cs := sample(n)
		meta := &serving.Meta{Run: fmt.Sprintf("run-%d", n), FeatureMonth: "2026-10", Customers: n,
			Lists: []serving.List{{Name: "churn-risk", IDs: []string{"S000003"}}}}
		if _, err := serving.Write(ctx, st, meta, cs); err != nil {
			t.Fatal(err)
		}
		snap, err := serving.Load(ctx, st, serving.IsNotFound, serving.Options{})
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if snap.Meta.Run != meta.Run || snap.Len() != n || len(snap.Meta.Lists) != 1 {
			t.Errorf("n=%d: meta %+v, %d rows", n, snap.Meta, snap.Len())
		}
		got, err := snap.Customers(ctx, allRows(n))
		if err != nil {
			t.Fatal(err)
		}
		for i := range cs {
			want := cs[i]
			serving.Quantize(&want)
			if !reflect.DeepEqual(got[i], want) {
				t.Fatalf("n=%d row %d round trip:\n got %+v\nwant %+v", n, i, got[i], want)
			}
			if r, ok := snap.Find(cs[i].SubscriberID); !ok || r != i {
				t.Fatalf("Find(%s) = %d, %v", cs[i].SubscriberID, r, ok)
			}
		}
		if _, ok := snap.Find("S0000000"); ok && n > 0 {
			t.Error("Find of a missing id succeeded")
		}
	}
}

// TestOptionalColumnsMissing: a columns.bin written before the optional
// columns existed opens, and reads them as zero and "".
func TestOptionalColumnsMissing(t *testing.T) {
	ctx := context.Background()
	cs := sample(40)
	files, err := serving.Encode(&serving.Meta{Run: "old"}, cs)
	if err != nil {
		t.Fatal(err)
	}
	// Rename the optional columns in the directory (same length): the
	// file then lacks them, as an old writer's did.
	old := files.Columns
	for _, col := range serving.Columns {
		if !col.Optional {
			continue
		}
		name := []byte(`"name":"` + col.Name + `"`)
		hidden := []byte(`"name":"` + strings.ToUpper(col.Name) + `"`)
		dl := int(binary.LittleEndian.Uint32(old[8:]))
		dir := old[12 : 12+dl]
		i := strings.Index(string(dir), string(name))
		if i < 0 {
			t.Fatalf("column %s not in the directory", col.Name)
		}
		copy(dir[i:], hidden)
	}
	resum(old, true)
	st := serving.NewMemStore()
	st.Put(ctx, "c", old)
	st.Put(ctx, "d", files.Detail)
	st.Put(ctx, "m", files.Meta)
	snap, err := serving.Open(ctx, st, serving.Pointer{Format: serving.FormatColumns, Run: "old", Columns: "c", ColumnsBytes: int64(len(old)),
		Detail: "d", DetailBytes: int64(len(files.Detail)), Meta: "m"}, serving.Options{})
	if err != nil {
		t.Fatalf("open a snapshot without the optional columns: %v", err)
	}
	got, err := snap.Customers(ctx, allRows(len(cs)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range cs {
		want := cs[i]
		serving.Quantize(&want)
		want.Occupation, want.Education, want.IncomeBand, want.District, want.ValueTier = "", "", "", "", ""
		want.Discount, want.CreditUse, want.CostToServe, want.Profit = 0, 0, 0, 0
		want.VoiceMinutesTrend, want.CallsTrend, want.DataTrend, want.ContactsTrend, want.SpendTrend = 0, 0, 0, 0, 0
		want.Uplift, want.ContactValue, want.BadDebtProbability = 0, 0, 0
		if !reflect.DeepEqual(got[i], want) {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, got[i], want)
		}
	}
	if d := snap.Dict("district"); d == nil || len(d.Values) != 1 || d.Counts[0] != len(cs) {
		t.Errorf("district of an old snapshot = %+v, want one value \"\" on every row", d)
	}
}

func TestMoneyIsCents(t *testing.T) {
	ctx := context.Background()
	st := serving.NewMemStore()
	cs := []serving.Customer{{SubscriberID: "A", MonthlyValue: 39.9, CLV: 1234.567, ValueAtRisk: 0.005, AmountDue: 12.3 + 5, Arrears: 0.1 + 0.2}}
	if _, err := serving.Write(ctx, st, &serving.Meta{Run: "r"}, cs); err != nil {
		t.Fatal(err)
	}
	snap, err := serving.Load(ctx, st, serving.IsNotFound, serving.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int32{"monthly_value": 3990, "clv": 123457, "value_at_risk": 1, "amount_due": 1730, "arrears": 30} {
		if got := snap.Cents(name)[0]; got != want {
			t.Errorf("%s = %d cents, want %d", name, got, want)
		}
	}
	got, _ := snap.Customers(ctx, []int32{0})
	if got[0].MonthlyValue != 39.9 || got[0].AmountDue != 17.3 || got[0].Arrears != 0.3 {
		t.Errorf("money read back = %v %v %v, want 39.9 17.3 0.3", got[0].MonthlyValue, got[0].AmountDue, got[0].Arrears)
	}
}

func TestWriteRejects(t *testing.T) {
	good := sample(5)
	tests := []struct {
		name string
		mod  func([]serving.Customer)
		want string
	}{
		{"unsorted", func(c []serving.Customer) { c[1], c[2] = c[2], c[1] }, "not sorted"},
		{"duplicate", func(c []serving.Customer) { c[2].SubscriberID = c[1].SubscriberID }, "not sorted"},
		{"bad id", func(c []serving.Customer) { c[0].SubscriberID = "A B" }, "invalid subscriber id"},
		{"NaN", func(c []serving.Customer) { c[3].Probability = 0 / zero() }, "churn_probability is NaN"},
		{"history NaN", func(c []serving.Customer) { c[3].History = []serving.Month{{DataMB: 0 / zero()}} }, "history"},
		{"money past int32 cents", func(c []serving.Customer) { c[2].CLV = 21474836.48 }, "clv 2.147483648e+07 is out of the range"},
		{"negative money past int32 cents", func(c []serving.Customer) { c[2].Arrears = -21474836.48 }, "arrears -2.147483648e+07 is out of the range"},
		{"probability past the fixed range", func(c []serving.Customer) { c[4].Probability = 2.5 }, "churn_probability 2.5 is out of the range"},
		{"uplift past the fixed range", func(c []serving.Customer) { c[4].Uplift = -3 }, "uplift -3 is out of the range"},
	}
	for _, tt := range tests {
		cs := append([]serving.Customer(nil), good...)
		tt.mod(cs)
		if _, err := serving.Encode(&serving.Meta{Run: "r"}, cs); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Encode(%s) = %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}

func zero() float64 { return 0 }

// TestOpenRefusesCorrupt: a damaged or truncated columns.bin, or a detail
// record that does not match, is refused with ErrCorrupt, never panics.
func TestOpenRefusesCorrupt(t *testing.T) {
	ctx := context.Background()
	cs := sample(300)
	files, err := serving.Encode(&serving.Meta{Run: "r"}, cs)
	if err != nil {
		t.Fatal(err)
	}
	dirLen := int(binary.LittleEndian.Uint32(files.Columns[8:]))
	tests := []struct {
		name   string
		cols   func([]byte) []byte
		detail func([]byte) []byte
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }, nil},
		{"empty", func(b []byte) []byte { return b[:0] }, nil},
		{"flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 1; return b }, nil},
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }, nil},
		{"directory past end", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 1<<30); return b }, nil},
		{"directory garbage", func(b []byte) []byte { b[12+dirLen/2] = '{'; return b }, nil},
		{"detail truncated", nil, func(b []byte) []byte { return b[:len(b)-10] }},
		{"detail header", nil, func(b []byte) []byte { b[0] = 'X'; return b }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cols, det := append([]byte(nil), files.Columns...), append([]byte(nil), files.Detail...)
			if tt.cols != nil {
				cols = resum(tt.cols(cols), tt.name != "flipped byte")
			}
			if tt.detail != nil {
				det = tt.detail(det)
			}
			st := serving.NewMemStore()
			st.Put(ctx, "c", cols)
			st.Put(ctx, "d", det)
			st.Put(ctx, "m", files.Meta)
			p := serving.Pointer{Format: serving.FormatColumns, Run: "r", Columns: "c", ColumnsBytes: int64(len(cols)),
				Detail: "d", DetailBytes: int64(len(det)), Meta: "m"}
			_, err := serving.Open(ctx, st, p, serving.Options{})
			if !errors.Is(err, serving.ErrCorrupt) {
				t.Errorf("Open = %v, want ErrCorrupt", err)
			}
		})
	}
	// A detail record damaged in place (sizes intact) fails at its read.
	st := serving.NewMemStore()
	st.Put(ctx, "c", files.Columns)
	det := append([]byte(nil), files.Detail...)
	det[len(det)-3] ^= 0xff // the last record's checksum
	st.Put(ctx, "d", det)
	st.Put(ctx, "m", files.Meta)
	snap, err := serving.Open(ctx, st, serving.Pointer{Format: serving.FormatColumns, Run: "r", Columns: "c", ColumnsBytes: int64(len(files.Columns)),
		Detail: "d", DetailBytes: int64(len(det)), Meta: "m"}, serving.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snap.Customers(ctx, []int32{int32(len(cs) - 1)}); !errors.Is(err, serving.ErrCorrupt) {
		t.Errorf("damaged record: %v, want ErrCorrupt", err)
	}
	if _, err := snap.Customers(ctx, []int32{0}); err != nil {
		t.Errorf("an intact record: %v", err)
	}
}

// resum rewrites columns.bin's checksum (when the file still has room for
// one), so the test reaches the checks behind it.
func resum(b []byte, fix bool) []byte {
	if !fix || len(b) < 8 || string(b[len(b)-4:]) != "TLCE" {
		return b
	}
	body := len(b) - 8
	binary.LittleEndian.PutUint32(b[body:], crc32c(b[:body]))
	return b
}

// TestDetailCache: a look-up reads its record once; the second answer
// comes from memory; a page's records are read in merged ranges.
func TestDetailCache(t *testing.T) {
	ctx := context.Background()
	st := serving.NewMemStore()
	cs := sample(2000)
	if _, err := serving.Write(ctx, st, &serving.Meta{Run: "r"}, cs); err != nil {
		t.Fatal(err)
	}
	snap, err := serving.Load(ctx, st, serving.IsNotFound, serving.Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := st.Reads()
	for range 3 {
		got, err := snap.Customers(ctx, []int32{1234})
		if err != nil || got[0].SubscriberID != cs[1234].SubscriberID || got[0].Name != cs[1234].Name {
			t.Fatalf("look-up: %v %+v", err, got)
		}
	}
	if n := st.Reads() - before; n != 1 {
		t.Errorf("three look-ups of one customer read %d ranges, want 1", n)
	}
	page := []int32{10, 11, 12, 500, 13, 1999, 10}
	before = st.Reads()
	got, err := snap.Customers(ctx, page)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range page {
		if got[i].SubscriberID != cs[r].SubscriberID || !reflect.DeepEqual(got[i].History, cs[r].History) {
			t.Errorf("page item %d = %s, want %s", i, got[i].SubscriberID, cs[r].SubscriberID)
		}
	}
	if n := st.Reads() - before; n != 3 {
		t.Errorf("a page of rows 10-13, 500, 1999 read %d ranges, want 3 (neighbours merged)", n)
	}
	if _, err := snap.Customers(ctx, []int32{2000}); err == nil {
		t.Error("row past the end accepted")
	}
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

// TestQuantize: money keeps whole cents up to the int32 limit, a Fixed
// column its scale's decimals (a value with no more of them exactly), a
// saturating one stops at its range's end; and what Quantize gives is
// what the snapshot gives back.
func TestQuantize(t *testing.T) {
	type field struct {
		set func(*serving.Customer, float64)
		get func(*serving.Customer) float64
	}
	clv := field{func(c *serving.Customer, v float64) { c.CLV = v }, func(c *serving.Customer) float64 { return c.CLV }}
	arrears := field{func(c *serving.Customer, v float64) { c.Arrears = v }, func(c *serving.Customer) float64 { return c.Arrears }}
	prob := field{func(c *serving.Customer, v float64) { c.Probability = v }, func(c *serving.Customer) float64 { return c.Probability }}
	trend := field{func(c *serving.Customer, v float64) { c.DataTrend = v }, func(c *serving.Customer) float64 { return c.DataTrend }}
	minutes := field{func(c *serving.Customer, v float64) { c.VoiceMinutes = v }, func(c *serving.Customer) float64 { return c.VoiceMinutes }}
	mb := field{func(c *serving.Customer, v float64) { c.DataMB = v }, func(c *serving.Customer) float64 { return c.DataMB }}
	for _, tt := range []struct {
		name     string
		f        field
		in, want float64
	}{
		{"cents", clv, 1234.567, 1234.57},
		{"largest money", clv, 21474836.47, 21474836.47},
		{"smallest money", arrears, -21474836.47, -21474836.47},
		{"probability, 9 decimals", prob, 0.123456789, 0.123456789},
		{"probability, more", prob, 0.1234567891, 0.123456789},
		{"probability 1", prob, 1, 1},
		{"trend", trend, -0.3, -0.3},
		{"trend past the range", trend, 1e7, 21474.83647},
		{"trend below the range", trend, -1e7, -21474.83647},
		{"minutes", minutes, 44640.3, 44640.3},
		{"MB", mb, 1536.256, 1536.26},
	} {
		c := serving.Customer{SubscriberID: "A"}
		tt.f.set(&c, tt.in)
		serving.Quantize(&c)
		got := tt.f.get(&c)
		if got != tt.want {
			t.Errorf("%s: Quantize(%v) = %v, want %v", tt.name, tt.in, got, tt.want)
		}
		c = serving.Customer{SubscriberID: "A"}
		tt.f.set(&c, tt.in)
		st := serving.NewMemStore()
		if _, err := serving.Write(context.Background(), st, &serving.Meta{Run: "r"}, []serving.Customer{c}); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		snap, err := serving.Load(context.Background(), st, serving.IsNotFound, serving.Options{})
		if err != nil {
			t.Fatal(err)
		}
		back, err := snap.Customers(context.Background(), []int32{0})
		if err != nil {
			t.Fatal(err)
		}
		if v := tt.f.get(&back[0]); v != tt.want {
			t.Errorf("%s: the snapshot gives back %v, want %v", tt.name, v, tt.want)
		}
	}
}
