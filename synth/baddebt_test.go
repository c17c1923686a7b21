package synth

import (
	"bytes"
	"strconv"
	"testing"
	"time"
)

// The planted non-payers: a small minority of postpaid subscribers, more
// often new accounts and cash payers, listed in the truth file; they pay
// nothing from their stop month on, and in their run-up make more
// international calls than before it.
func TestNonPayersArePlantedAndShow(t *testing.T) {
	cfg := Config{Subscribers: 3000, Months: 4, Seed: 11, Truth: true}
	res := generate(t, cfg)
	truth, err := ReadBadDebtTruth(bytes.NewReader(res.objects[BadDebtTruthKey]))
	if err != nil {
		t.Fatal(err)
	}
	if res.m.BadDebtTruth != BadDebtTruthKey {
		t.Errorf("manifest names bad-debt truth %q, want %q", res.m.BadDebtTruth, BadDebtTruthKey)
	}

	// The register's last snapshot: plan and payment per subscriber.
	var last string
	for _, f := range res.m.Files {
		if f.Table == TableSubscribers && f.Key > last {
			last = f.Key
		}
	}
	type sub struct{ plan, pay string }
	subs := map[string]sub{}
	for _, r := range readCSV(t, last, res.objects[last])[1:] {
		subs[r[1]] = sub{plan: r[10], pay: r[14]} // plan, payment_method
	}
	postpaid, byPay, nonByPay := 0, map[string]int{}, map[string]int{}
	for id, s := range subs {
		if s.plan == plans[planPrepaid].code {
			if _, ok := truth[id]; ok {
				t.Errorf("%s is a prepaid non-payer", id)
			}
			continue
		}
		postpaid++
		byPay[s.pay]++
		if _, ok := truth[id]; ok {
			nonByPay[s.pay]++
		}
	}
	share := float64(len(truth)) / float64(postpaid)
	t.Logf("%d non-payers among %d postpaid subscribers (%.1f%%); by payment: %v of %v", len(truth), postpaid, 100*share, nonByPay, byPay)
	if share < 0.01 || share > 0.08 {
		t.Errorf("non-payers are %.1f%% of postpaid subscribers, want a minority of 1–8%%", 100*share)
	}
	rate := func(p string) float64 { return float64(nonByPay[p]) / float64(max(1, byPay[p])) }
	if rate("cash")+rate("bank_transfer") <= 2*rate("direct_debit") {
		t.Errorf("non-payer rate cash %.3f, bank transfer %.3f, direct debit %.3f: want cash and transfer well above debit",
			rate("cash"), rate("bank_transfer"), rate("direct_debit"))
	}

	// Bills: nothing paid from the stop month on.
	checked := 0
	for _, f := range res.m.Files {
		if f.Table != TableBills {
			continue
		}
		for _, r := range readCSV(t, f.Key, res.objects[f.Key])[1:] {
			np, ok := truth[r[0]]
			if !ok || len(r) < 5 {
				continue
			}
			m, err := time.Parse("2006-01", r[1])
			if err != nil {
				continue // a planted malformed row
			}
			if np.Stop.Before(m.AddDate(0, 1, 0)) {
				if paid, _ := strconv.ParseFloat(r[4], 64); paid != 0 {
					t.Errorf("%s paid %s in %s, after stopping on %s", r[0], r[4], r[1], np.Stop.Format(time.DateOnly))
				}
				checked++
			}
		}
	}
	if checked == 0 {
		t.Error("no non-payer bill after a stop day")
	}

	// CDRs: international calls a day in the run-up against before it.
	var before, during, daysBefore, daysDuring float64
	for _, f := range res.m.Files {
		if f.Table != TableCDR {
			continue
		}
		for _, r := range readCSV(t, f.Key, res.objects[f.Key])[1:] {
			np, ok := truth[r[1]]
			if !ok || cdrRowOK(r) != nil {
				continue
			}
			d, _ := time.Parse(time.DateOnly, r[5][:10])
			if r[10] != "true" { // international
				continue
			}
			if d.Before(np.SignsFrom) {
				before++
			} else if d.Before(np.Stop) {
				during++
			}
		}
	}
	start := DefaultStart
	for _, np := range truth {
		daysBefore += max(0, np.SignsFrom.Sub(start).Hours()/24)
		daysDuring += max(0, np.Stop.Sub(maxT(np.SignsFrom, start)).Hours()/24)
	}
	pb, pd := before/max(1, daysBefore), during/max(1, daysDuring)
	t.Logf("non-payers' international calls a day: %.3f before the run-up, %.3f in it", pb, pd)
	if pd < 3*pb || pd < 0.3 {
		t.Errorf("international calls a day %.3f before the run-up, %.3f in it: want a clear rise", pb, pd)
	}
}

func maxT(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
