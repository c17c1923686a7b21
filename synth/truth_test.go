package synth

import (
	"bytes"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

var truthCfg = Config{Subscribers: 4000, Months: 5, Seed: 11, Gzip: true, Truth: true}

func truthRows(t *testing.T, cfg Config) (map[string]TruthRow, *genResult) {
	t.Helper()
	res := generate(t, cfg)
	data, ok := res.objects[TruthKey]
	if !ok || res.m.Truth != TruthKey {
		t.Fatalf("no %s written (manifest says %q)", TruthKey, res.m.Truth)
	}
	rows, err := ReadTruth(bytes.NewReader(data), "")
	if err != nil {
		t.Fatalf("ReadTruth: %v", err)
	}
	return rows, res
}

func TestTruthRoundTripsAndIsDeterministic(t *testing.T) {
	rows, res := truthRows(t, truthCfg)
	lines := bytes.Count(plain(t, TruthKey, res.objects[TruthKey]), []byte{'\n'}) - 1
	if len(rows) != lines || lines == 0 {
		t.Fatalf("ReadTruth gave %d rows from %d lines", len(rows), lines)
	}
	again := newMemSink()
	if _, err := Generate(t.Context(), truthCfg, again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain(t, TruthKey, again.objects[TruthKey]), plain(t, TruthKey, res.objects[TruthKey])) {
		t.Errorf("two runs with the same config wrote different truth files")
	}
	month, err := ReadTruth(bytes.NewReader(res.objects[TruthKey]), "2026-09")
	if err != nil {
		t.Fatal(err)
	}
	for id, r := range month {
		if r.Month != "2026-09" || rows[id+" 2026-09"].SubscriberID != id {
			t.Fatalf("ReadTruth(month) row %s = %+v, not the month's row", id, r)
		}
	}
	if n := countMonth(rows, "2026-09"); n != len(month) {
		t.Errorf("ReadTruth(2026-09) gave %d rows, the whole file has %d of that month", len(month), n)
	}
	if _, err := ReadTruth(strings.NewReader("subscriber_id,month\nS1,2026-08\n"), ""); err == nil {
		t.Errorf("ReadTruth accepted a file with the wrong header")
	}
	without := generate(t, with(truthCfg, func(c *Config) { c.Truth = false }))
	if _, ok := without.objects[TruthKey]; ok || without.m.Truth != "" {
		t.Errorf("Truth false still wrote %s", TruthKey)
	}
	if !bytes.Equal(without.objects["exports/bills/2026/08/bills-202608.csv.gz"], res.objects["exports/bills/2026/08/bills-202608.csv.gz"]) {
		t.Errorf("writing the truth changed the exports")
	}
}

func countMonth(rows map[string]TruthRow, m string) int {
	n := 0
	for _, r := range rows {
		if r.Month == m {
			n++
		}
	}
	return n
}

// Every churner in the truth deactivates in the register export of the
// stated month, on the stated day, and is still a customer the month
// before; every deactivation in the register is in the truth.
func TestTruthAgreesWithRegister(t *testing.T) {
	rows, res := truthRows(t, truthCfg)
	status := map[string]map[string][2]string{} // month → id → status, status date
	for _, f := range res.m.Files {
		if f.Table != TableSubscribers {
			continue
		}
		recs := readCSV(t, f.Key, res.objects[f.Key])
		month := recs[1][0][:7]
		status[month] = map[string][2]string{}
		for _, r := range recs[1:] {
			status[month][r[1]] = [2]string{r[12], r[13]}
		}
	}
	churners := map[string]bool{}
	for _, r := range rows {
		if r.ChurnDate == "" {
			if st, ok := status[r.Month][r.SubscriberID]; !ok || st[0] == "deactivated" || st[0] != r.Status {
				t.Fatalf("%s %s: truth says %s, never churns; register says %v", r.SubscriberID, r.Month, r.Status, st)
			}
			continue
		}
		churners[r.SubscriberID] = true
		st := status[r.ChurnMonth][r.SubscriberID]
		if st != [2]string{"deactivated", r.ChurnDate} {
			t.Fatalf("%s churns %s in the truth; register of %s says %v", r.SubscriberID, r.ChurnDate, r.ChurnMonth, st)
		}
		prev := monthBefore(t, r.ChurnMonth)
		if st, ok := status[prev][r.SubscriberID]; ok && st[0] == "deactivated" {
			t.Fatalf("%s churns %s in the truth; register of %s already says %v", r.SubscriberID, r.ChurnDate, prev, st)
		}
		wantStatus := "active"
		if r.Month == r.ChurnMonth {
			wantStatus = "deactivated"
		}
		if r.Status != wantStatus && r.Status != "suspended" {
			t.Fatalf("%s %s: status %s, want %s", r.SubscriberID, r.Month, r.Status, wantStatus)
		}
	}
	if len(churners) != res.m.Churners {
		t.Errorf("truth has %d churners, the manifest %d", len(churners), res.m.Churners)
	}
}

func monthBefore(t *testing.T, m string) string {
	d, err := time.Parse("2006-01", m)
	if err != nil {
		t.Fatal(err)
	}
	return d.AddDate(0, -1, 0).Format("2006-01")
}

// The oracle is the exact posterior: over many customers its probabilities
// sum to the number who churn (within sampling error), for every horizon,
// and it ranks better than the hazard alone.
func TestOracleIsCalibratedAndBeatsHazard(t *testing.T) {
	rows, _ := truthRows(t, truthCfg)
	months := []string{"2026-08", "2026-09", "2026-10", "2026-11", "2026-12"}
	for h := 1; h <= 3; h++ {
		var sumP, sumVar float64
		var pos int
		var oracle, hazard []float64
		var label []bool
		for _, r := range rows {
			m := slices.Index(months, r.Month)
			if r.Status == "deactivated" || m+h >= len(months) {
				continue
			}
			y := r.ChurnMonth != "" && slices.Index(months, r.ChurnMonth) <= m+h
			p := r.Oracle[h-1]
			if math.IsNaN(p) || p < 0 || p > 1 {
				t.Fatalf("%s %s: oracle_%dm = %v", r.SubscriberID, r.Month, h, p)
			}
			sumP += p
			sumVar += p * (1 - p)
			if y {
				pos++
			}
			oracle, hazard, label = append(oracle, p), append(hazard, r.Hazard), append(label, y)
		}
		if d := math.Abs(sumP - float64(pos)); d > 4*math.Sqrt(sumVar) {
			t.Errorf("horizon %d: oracle probabilities sum to %.1f, %d churned (%.1f standard errors)", h, sumP, pos, d/math.Sqrt(sumVar))
		}
		ao, ah := aucOf(oracle, label), aucOf(hazard, label)
		t.Logf("horizon %d: %d rows, %d churners, oracle AUC %.3f, hazard-only AUC %.3f", h, len(label), pos, ao, ah)
		if ao <= ah+0.05 {
			t.Errorf("horizon %d: oracle AUC %.3f not clearly above the hazard's %.3f", h, ao, ah)
		}
	}
}

// aucOf is the rank-sum ROC AUC (ties count half).
func aucOf(s []float64, y []bool) float64 {
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return s[idx[a]] < s[idx[b]] })
	var rankSum, pos float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && s[idx[j]] == s[idx[i]] {
			j++
		}
		for k := i; k < j; k++ {
			if y[idx[k]] {
				rankSum += float64(i+j+1) / 2
				pos++
			}
		}
		i = j
	}
	neg := float64(len(s)) - pos
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}
