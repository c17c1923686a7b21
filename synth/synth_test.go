package synth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"compress/gzip"
)

// memSink keeps objects in memory.
type memSink struct {
	mu      sync.Mutex
	objects map[string][]byte
}

func newMemSink() *memSink { return &memSink{objects: map[string][]byte{}} }

type memObject struct {
	bytes.Buffer
	s   *memSink
	key string
}

func (o *memObject) Close() error {
	o.s.mu.Lock()
	defer o.s.mu.Unlock()
	if _, dup := o.s.objects[o.key]; dup {
		return fmt.Errorf("object %s created twice", o.key)
	}
	o.s.objects[o.key] = o.Bytes()
	return nil
}

func (s *memSink) Create(_ context.Context, key string) (io.WriteCloser, error) {
	return &memObject{s: s, key: key}, nil
}

// generate runs Generate into memory and caches the result per config.
var (
	cacheMu sync.Mutex
	cache   = map[Config]*genResult{}
)

type genResult struct {
	m       *Manifest
	objects map[string][]byte
}

func generate(t *testing.T, cfg Config) *genResult {
	t.Helper()
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if r, ok := cache[cfg]; ok {
		return r
	}
	s := newMemSink()
	m, err := Generate(context.Background(), cfg, s)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", cfg, err)
	}
	r := &genResult{m: m, objects: s.objects}
	cache[cfg] = r
	return r
}

// plain returns the object's CSV bytes, decompressed if it is .gz.
func plain(t *testing.T, key string, data []byte) []byte {
	t.Helper()
	if !strings.HasSuffix(key, ".gz") {
		return data
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: gzip: %v", key, err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: gunzip: %v", key, err)
	}
	return out
}

func readCSV(t *testing.T, key string, data []byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(plain(t, key, data)))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: csv: %v", key, err)
	}
	return recs
}

var small = Config{Subscribers: 300, Months: 2, Seed: 7, Mess: true}

func with(c Config, f func(*Config)) Config { f(&c); return c }

func TestDeterminism(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"day plain", small},
		{"day gzip", with(small, func(c *Config) { c.Gzip = true })},
		{"month gzip", with(small, func(c *Config) { c.Gzip, c.CDRFileSpan = true, "month" })},
		{"month plain no mess", with(small, func(c *Config) { c.CDRFileSpan, c.Mess = "month", false })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newMemSink()
			if _, err := Generate(context.Background(), tc.cfg, a); err != nil {
				t.Fatal(err)
			}
			// Same config with a single worker: identical bytes.
			old := runtime.GOMAXPROCS(1)
			b := newMemSink()
			_, err := Generate(context.Background(), tc.cfg, b)
			runtime.GOMAXPROCS(old)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(slices.Sorted(maps.Keys(a.objects)), slices.Sorted(maps.Keys(b.objects))) {
				t.Fatalf("different keys")
			}
			for k, v := range a.objects {
				if !bytes.Equal(v, b.objects[k]) {
					t.Errorf("%s differs between runs with the same seed", k)
				}
			}
			// Another seed: different data.
			c := newMemSink()
			cfg := tc.cfg
			cfg.Seed++
			if _, err := Generate(context.Background(), cfg, c); err != nil {
				t.Fatal(err)
			}
			same := 0
			for k, v := range a.objects {
				if k != ManifestKey && bytes.Equal(v, c.objects[k]) {
					same++
				}
			}
			if same > 0 {
				t.Errorf("%d objects identical with a different seed", same)
			}
		})
	}
}

// docHeaders returns the example header rows of README.md by
// their first column.
func docHeaders(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() != "```csv" {
			continue
		}
		if !sc.Scan() {
			t.Fatal("csv block without header")
		}
		cols := strings.Split(sc.Text(), ",")
		out[cols[0]] = cols
	}
	if len(out) != 4 {
		t.Fatalf("found %d csv examples in the docs, want 4", len(out))
	}
	return out
}

func TestColumnsMatchDocs(t *testing.T) {
	doc := docHeaders(t)
	for _, cols := range [][]string{CDRColumns, BillColumns, SubscriberColumns, ResponseColumns} {
		if !slices.Equal(doc[cols[0]], cols) {
			t.Errorf("columns %v, documented %v", cols, doc[cols[0]])
		}
	}
}

// Validators for the documented value syntax.
var (
	reMoney2 = regexp.MustCompile(`^\d+\.\d{2}$`)
	reMoney4 = regexp.MustCompile(`^\d+\.\d{4}$`)
	reMsisdn = regexp.MustCompile(`^4917\d{8}$`)
	reDigits = regexp.MustCompile(`^\d{3,20}$`)
	reSubID  = regexp.MustCompile(`^S\d{7}$`)
	reMonth  = regexp.MustCompile(`^\d{4}-\d{2}$`)
)

func isDate(s string) bool { _, err := time.Parse(time.DateOnly, s); return err == nil }

// cdrRowOK reports whether a CDR row is valid per the documented rules.
func cdrRowOK(r []string) error {
	if len(r) != len(CDRColumns) {
		return fmt.Errorf("%d fields", len(r))
	}
	ts, err := time.Parse(time.RFC3339, r[5])
	if err != nil || !strings.HasSuffix(r[5], "Z") {
		return fmt.Errorf("start_time %q", r[5])
	}
	_ = ts
	d, err := strconv.Atoi(r[6])
	if err != nil || d < 0 || d > 86400 {
		return fmt.Errorf("duration %q", r[6])
	}
	if !slices.Contains([]string{"voice", "sms", "data"}, r[7]) {
		return fmt.Errorf("call_type %q", r[7])
	}
	if !reMoney4.MatchString(r[14]) {
		return fmt.Errorf("charge %q", r[14])
	}
	if !reSubID.MatchString(r[1]) || !reMsisdn.MatchString(r[2]) {
		return fmt.Errorf("ids %q %q", r[1], r[2])
	}
	if r[7] != "data" && !reDigits.MatchString(r[3]) {
		return fmt.Errorf("other_party %q", r[3])
	}
	if r[7] == "sms" && d != 0 {
		return fmt.Errorf("sms with duration %d", d)
	}
	if !slices.Contains([]string{"onnet", "offnet", "fixed", "international", "care", ""}, r[4]) {
		return fmt.Errorf("other_network %q", r[4])
	}
	if r[8] != "in" && r[8] != "out" {
		return fmt.Errorf("direction %q", r[8])
	}
	for _, b := range r[9:11] {
		if b != "true" && b != "false" {
			return fmt.Errorf("bool %q", b)
		}
	}
	if kb, err := strconv.Atoi(r[13]); err != nil || kb < 0 || kb > 100_000_000 {
		return fmt.Errorf("data_kb %q", r[13])
	}
	return nil
}

func billRowOK(r []string) error {
	if len(r) != len(BillColumns) {
		return fmt.Errorf("%d fields", len(r))
	}
	if !reSubID.MatchString(r[0]) || !reMonth.MatchString(r[1]) {
		return fmt.Errorf("id/month %q %q", r[0], r[1])
	}
	for _, i := range []int{3, 4, 5, 6, 8} {
		if !reMoney2.MatchString(r[i]) {
			return fmt.Errorf("%s %q", BillColumns[i], r[i])
		}
	}
	if !slices.Contains(payMethods, r[7]) {
		return fmt.Errorf("payment_method %q", r[7])
	}
	return nil
}

func subscriberRowOK(r []string) error {
	if len(r) != len(SubscriberColumns) {
		return fmt.Errorf("%d fields", len(r))
	}
	for _, i := range []int{0, 5, 11, 13} {
		if !isDate(r[i]) {
			return fmt.Errorf("%s %q", SubscriberColumns[i], r[i])
		}
	}
	if !(r[11] <= r[13] && r[13] <= r[0] && r[5] < r[0]) {
		return fmt.Errorf("date order: activation %s status %s export %s", r[11], r[13], r[0])
	}
	if !reSubID.MatchString(r[1]) || !reMsisdn.MatchString(r[2]) {
		return fmt.Errorf("ids %q %q", r[1], r[2])
	}
	if !slices.Contains(genders, r[4]) || !slices.Contains([]string{"active", "suspended", "deactivated"}, r[12]) {
		return fmt.Errorf("gender/status %q %q", r[4], r[12])
	}
	if !slices.Contains(payMethods, r[14]) || !reMoney2.MatchString(r[15]) {
		return fmt.Errorf("payment %q %q", r[14], r[15])
	}
	return nil
}

func TestFilesAndManifest(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		cdrFiles  int
		wantMess  bool
		keySuffix string
	}{
		{"day plain mess", small, 61, true, ".csv"},
		{"day gzip clean", with(small, func(c *Config) { c.Gzip, c.Mess = true, false }), 61, false, ".csv.gz"},
		{"month gzip mess", with(small, func(c *Config) { c.Gzip, c.CDRFileSpan = true, "month" }), 2, true, ".csv.gz"},
		{"month plain 1 month", with(small, func(c *Config) { c.CDRFileSpan, c.Months = "month", 1 }), 1, true, ".csv"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := generate(t, tc.cfg)
			m := res.m
			var fromSink Manifest
			if err := json.Unmarshal(res.objects[ManifestKey], &fromSink); err != nil {
				t.Fatalf("manifest.json: %v", err)
			}
			if !slices.Equal(fromSink.Files, m.Files) || !slices.Equal(fromSink.Deliveries, m.Deliveries) || fromSink.Churners != m.Churners {
				t.Errorf("manifest.json differs from the returned manifest")
			}
			if len(m.Files) != len(res.objects)-1 {
				t.Errorf("manifest lists %d files, %d objects written besides the manifest", len(m.Files), len(res.objects)-1)
			}
			perTable := map[string]int{}
			totalBad := 0
			for _, f := range m.Files {
				perTable[f.Table]++
				totalBad += f.BadRows
				data, ok := res.objects[f.Key]
				if !ok {
					t.Fatalf("%s in manifest but not written", f.Key)
				}
				if !strings.HasPrefix(f.Key, "exports/"+f.Table+"/") || !strings.HasSuffix(f.Key, tc.keySuffix) {
					t.Errorf("key %s for table %s", f.Key, f.Table)
				}
				if f.Bytes != int64(len(data)) {
					t.Errorf("%s: manifest says %d bytes, written %d", f.Key, f.Bytes, len(data))
				}
				recs := readCSV(t, f.Key, data)
				cols, check := map[string][]string{"cdr": CDRColumns, "bills": BillColumns, "subscribers": SubscriberColumns}[f.Table],
					map[string]func([]string) error{"cdr": cdrRowOK, "bills": billRowOK, "subscribers": subscriberRowOK}[f.Table]
				if !slices.Equal(recs[0], cols) {
					t.Fatalf("%s: header %v", f.Key, recs[0])
				}
				rows := recs[1:]
				bad := 0
				for i, r := range rows {
					if err := check(r); err != nil {
						bad++
						if f.Table != "cdr" || !strings.HasSuffix(r[0], "X") {
							t.Errorf("%s line %d: unplanted bad row: %v", f.Key, i+2, err)
						}
					}
				}
				if len(rows) != f.Rows || bad != f.BadRows {
					t.Errorf("%s: read %d rows (%d bad), manifest %d (%d bad)", f.Key, len(rows), bad, f.Rows, f.BadRows)
				}
				if f.Rows > 0 && float64(f.BadRows)/float64(f.Rows) >= 0.05 {
					t.Errorf("%s: %d of %d rows bad, would be quarantined", f.Key, f.BadRows, f.Rows)
				}
			}
			if perTable["cdr"] != tc.cdrFiles || perTable["bills"] != tc.cfg.Months || perTable["subscribers"] != tc.cfg.Months {
				t.Errorf("files per table %v", perTable)
			}
			dups := len(m.Deliveries) - len(m.Files)
			late := lateCDR(m.Deliveries)
			if tc.wantMess {
				if dups != 1 || totalBad == 0 || (tc.cdrFiles > 1 && late == 0) {
					t.Errorf("mess: %d duplicate deliveries, %d bad rows, %d late files", dups, totalBad, late)
				}
			} else if dups != 0 || totalBad != 0 || late != 0 {
				t.Errorf("no mess wanted: %d duplicate deliveries, %d bad rows, %d late files", dups, totalBad, late)
			}
			for _, k := range m.Deliveries {
				if _, ok := res.objects[k]; !ok {
					t.Errorf("delivery of unwritten %s", k)
				}
			}
		})
	}
}

// lateCDR counts CDR keys delivered after a CDR key of a later period.
func lateCDR(deliveries []string) int {
	late := 0
	seen := map[string]bool{}
	maxKey := ""
	for _, k := range deliveries {
		if !strings.HasPrefix(k, "exports/cdr/") || seen[k] {
			continue
		}
		seen[k] = true
		if k < maxKey {
			late++
		}
		maxKey = max(maxKey, k)
	}
	return late
}

func TestDirSink(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Subscribers: 50, Months: 1, Seed: 3, Gzip: true, CDRFileSpan: "month"}
	m, err := Generate(context.Background(), cfg, DirSink(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(m.Files, File{Key: ManifestKey}) {
		st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f.Key)))
		if err != nil {
			t.Fatal(err)
		}
		if f.Key != ManifestKey && st.Size() != f.Bytes {
			t.Errorf("%s: %d bytes on disk, manifest %d", f.Key, st.Size(), f.Bytes)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "exports", "cdr", "2026", "08", "cdr-202608.csv.gz")); err != nil {
		t.Error(err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Subscribers: 0, Months: 1},
		{Subscribers: 10, Months: 0},
		{Subscribers: 10, Months: 1, CDRFileSpan: "week"},
	} {
		if _, err := Generate(context.Background(), cfg, newMemSink()); err == nil {
			t.Errorf("Generate(%+v) succeeded", cfg)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, small, newMemSink()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Generate: %v", err)
	}
}

// TestChurnSignal checks that the planted churn is there and learnable:
// churn rate, no usage after deactivation, more care calls and offnet
// contacts and less usage before leaving, more unpaid bills.
func TestChurnSignal(t *testing.T) {
	cfg := Config{Subscribers: 2000, Months: 3, Seed: 42, Mess: true}
	res := generate(t, cfg)
	start := DefaultStart
	day := func(s string) int {
		d, err := time.Parse(time.DateOnly, s[:10])
		if err != nil {
			t.Fatalf("date %q", s)
		}
		return int(d.Sub(start).Hours() / 24)
	}

	// Register at the end of the window.
	type sub struct {
		act, churn int // days since start; churn -1 = none
		status     string
	}
	subs := map[string]*sub{}
	var lastSnap string
	for _, f := range res.m.Files {
		if f.Table == TableSubscribers && f.Key > lastSnap {
			lastSnap = f.Key
		}
	}
	for _, r := range readCSV(t, lastSnap, res.objects[lastSnap])[1:] {
		s := &sub{act: day(r[11]), churn: -1, status: r[12]}
		if r[12] == "deactivated" {
			s.churn = day(r[13])
		}
		subs[r[1]] = s
	}
	churners := 0
	for _, s := range subs {
		if s.churn >= 0 {
			churners++
		}
	}
	if churners != res.m.Churners {
		t.Errorf("register has %d deactivated, manifest %d churners", churners, res.m.Churners)
	}
	perMonth := float64(churners) / float64(len(subs)) / float64(cfg.Months)
	if perMonth < 0.015 || perMonth > 0.045 {
		t.Errorf("churn %.2f%% per month, want about 2-4%%", 100*perMonth)
	}

	// Per subscriber and day: events, care calls, offnet and all calls.
	const nDays = 92
	type daily struct{ events, care, offnet, calls [nDays]int }
	use := map[string]*daily{}
	for _, f := range res.m.Files {
		if f.Table != TableCDR {
			continue
		}
		for _, r := range readCSV(t, f.Key, res.objects[f.Key])[1:] {
			if cdrRowOK(r) != nil {
				continue
			}
			d := day(r[5])
			s := subs[r[1]]
			if s == nil {
				t.Fatalf("CDR of unknown subscriber %s", r[1])
			}
			if s.churn >= 0 && d >= s.churn {
				t.Fatalf("CDR of %s on day %d, deactivated on day %d", r[1], d, s.churn)
			}
			if d < s.act {
				t.Fatalf("CDR of %s on day %d, activated on day %d", r[1], d, s.act)
			}
			u := use[r[1]]
			if u == nil {
				u = &daily{}
				use[r[1]] = u
			}
			u.events[d]++
			if r[4] == "care" {
				u.care[d]++
			}
			if r[7] != "data" {
				u.calls[d]++
				if r[4] == "offnet" {
					u.offnet[d]++
				}
			}
		}
	}
	sum := func(a *[nDays]int, from, to int) int {
		n := 0
		for d := max(0, from); d < min(nDays, to); d++ {
			n += a[d]
		}
		return n
	}

	// The 30 days before leaving (churners who leave after day 60) against
	// the last 30 days of active long-standing subscribers.
	var cCare, cOff, cCalls, cFirst, cLast, nChurn int
	var nCare, nOff, nCalls, nFirst, nLast, nActive int
	for id, s := range subs {
		u := use[id]
		if u == nil || s.act > 0 {
			continue
		}
		switch {
		case s.churn >= 60:
			nChurn++
			cCare += sum(&u.care, s.churn-30, s.churn)
			cOff += sum(&u.offnet, s.churn-30, s.churn)
			cCalls += sum(&u.calls, s.churn-30, s.churn)
			cFirst += sum(&u.events, 0, 30)
			cLast += sum(&u.events, s.churn-30, s.churn)
		case s.status == "active":
			nActive++
			nCare += sum(&u.care, nDays-30, nDays)
			nOff += sum(&u.offnet, nDays-30, nDays)
			nCalls += sum(&u.calls, nDays-30, nDays)
			nFirst += sum(&u.events, 0, 30)
			nLast += sum(&u.events, nDays-30, nDays)
		}
	}
	if nChurn < 20 || nActive < 1000 {
		t.Fatalf("too few subscribers to compare: %d churners, %d active", nChurn, nActive)
	}
	careC, careN := float64(cCare)/float64(nChurn), float64(nCare)/float64(nActive)
	offC, offN := float64(cOff)/float64(cCalls), float64(nOff)/float64(nCalls)
	dropC, dropN := float64(cLast)/float64(cFirst), float64(nLast)/float64(nFirst)
	t.Logf("care calls per 30 days: churners %.2f, others %.2f", careC, careN)
	t.Logf("offnet share of calls: churners %.3f, others %.3f", offC, offN)
	t.Logf("last/first month usage: churners %.2f, others %.2f", dropC, dropN)
	if careC < 2*careN {
		t.Errorf("churners' care-call rate %.2f not well above others' %.2f", careC, careN)
	}
	if offC <= offN {
		t.Errorf("churners' offnet share %.3f not above others' %.3f", offC, offN)
	}
	if dropC > 0.9 || dropC >= dropN {
		t.Errorf("churners' usage ratio last/first month %.2f, others %.2f", dropC, dropN)
	}

	// Bills: churners pay short more often than others in their last bill month.
	var cShort, cBills, nShort, nBills int
	for _, f := range res.m.Files {
		if f.Table != TableBills {
			continue
		}
		for _, r := range readCSV(t, f.Key, res.objects[f.Key])[1:] {
			due, _ := strconv.ParseFloat(r[3], 64)
			paid, _ := strconv.ParseFloat(r[4], 64)
			s := subs[r[0]]
			short := paid < due
			mStart := day(r[1] + "-01")
			switch {
			case s.churn >= 0 && s.churn >= mStart && s.churn < mStart+31:
				cBills++
				if short {
					cShort++
				}
			case s.status == "active":
				nBills++
				if short {
					nShort++
				}
			}
		}
	}
	shortC, shortN := float64(cShort)/float64(cBills), float64(nShort)/float64(nBills)
	t.Logf("bills paid short: churners' final %.3f, others %.3f", shortC, shortN)
	if shortC < 2*shortN {
		t.Errorf("churners' short-payment rate %.3f not well above others' %.3f", shortC, shortN)
	}
}
