package scoring_test

import (
	"context"
	"errors"
	"github.com/apache/iceberg-go"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/models/churn/liblinear"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/scoring"
	"github.com/telcolake/telcolake/models/serving"
	"github.com/telcolake/telcolake/models/training"
	"github.com/telcolake/telcolake/synth"
)

// lateBills is the bill file held back until after training: scoring must
// build its feature month rather than score the month before.
const lateBills = "exports/bills/2026/06/"

// trainedLake ingests synthetic exports (1,500 subscribers, 2026-01 …
// 2026-06) except June's bills, trains once, then ingests June's bills.
func trainedLake(t *testing.T) (*laketest.Lake, *scoring.Runner) {
	t.Helper()
	return newTrainedLake(t, false)
}

// newTrainedLake is trainedLake; monthOnly gives it the crm.features of an
// older lake, partitioned by month alone (laketest.MonthOnlyFeatures).
func newTrainedLake(t *testing.T, monthOnly bool) (*laketest.Lake, *scoring.Runner) {
	t.Helper()
	ctx := context.Background()
	l := laketest.New(t)
	if monthOnly {
		l.MonthOnlyFeatures(t)
	}
	landing := filepath.Join(l.Root, laketest.Landing)
	man, err := synth.Generate(ctx, synth.Config{Subscribers: 1500, Months: 6, Seed: 7,
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), CDRFileSpan: "month"}, synth.DirSink(landing))
	if err != nil {
		t.Fatal(err)
	}
	ingest := func(key string) {
		body, err := os.ReadFile(filepath.Join(landing, filepath.FromSlash(key)))
		if err != nil {
			t.Fatal(err)
		}
		l.Ingest(t, key, string(body))
	}
	var late []string
	for _, key := range man.Deliveries {
		if strings.HasPrefix(key, lateBills) {
			late = append(late, key)
			continue
		}
		ingest(key)
	}
	if len(late) == 0 {
		t.Fatalf("no delivery under %s", lateBills)
	}
	models, err := lake.OpenBlobs(l.Cfg, nil, "models")
	if err != nil {
		t.Fatal(err)
	}
	reg := &registry.Registry{Store: models}
	tr := &training.Runner{Tables: l.Cat, Registry: reg, Logistic: liblinear.Fit}
	trained := time.Date(2026, 6, 3, 4, 0, 0, 0, time.UTC)
	if _, err := tr.Run(ctx, training.Options{Seed: 1, Now: func() time.Time { return trained }}); err != nil {
		t.Fatal(err)
	}
	for _, key := range late {
		ingest(key)
	}
	snap, err := lake.OpenBlobs(l.Cfg, nil, "serving")
	if err != nil {
		t.Fatal(err)
	}
	return l, &scoring.Runner{Tables: l.Cat, Models: reg, Serving: snap}
}

func TestRun(t *testing.T) {
	l, r := trainedLake(t)
	ctx := context.Background()
	clock := time.Date(2026, 7, 3, 5, 0, 0, 0, time.UTC)
	const listSize = 40
	opt := scoring.Options{Now: func() time.Time { return clock }, ListSize: listSize}
	promoteUplift(t, r.Models)
	res, err := r.Run(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.FeatureMonth != "2026-06" || len(res.Built) != 1 {
		t.Fatalf("scored %s after building %d month(s); want 2026-06, built by the run", res.FeatureMonth, len(res.Built))
	}
	var sum strings.Builder
	res.WriteSummary(&sum, "")
	if !strings.Contains(sum.String(), res.Run) || !strings.Contains(sum.String(), scoring.ListWinBack) {
		t.Errorf("summary lacks the run or the lists:\n%s", sum.String())
	}
	t.Log("\n" + sum.String())
	meta, cs := readSnapshot(t, r.Serving)
	if meta.Run != res.Run || res.Snapshot.Run != res.Run || meta.Customers != len(cs) || len(cs) != res.Scored+res.WinBack {
		t.Fatalf("snapshot run %s with %d (meta %d) customers; result run %s, %d scored + %d win-back",
			meta.Run, len(cs), meta.Customers, res.Run, res.Scored, res.WinBack)
	}
	if !slices.IsSortedFunc(cs, func(a, b serving.Customer) int { return strings.Compare(a.SubscriberID, b.SubscriberID) }) {
		t.Error("snapshot customers not sorted by id")
	}
	checkInsight(t, l, meta, res, cs)
	byID := map[string]*serving.Customer{}
	for i := range cs {
		if byID[cs[i].SubscriberID] != nil {
			t.Errorf("%s in the snapshot twice", cs[i].SubscriberID)
		}
		byID[cs[i].SubscriberID] = &cs[i]
	}

	// Who: read the lake independently.
	june := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	feat := featureRows(t, l, june.AddDate(0, -3, 0))
	newest, status, statusDate := newestRegister(t, l)
	wantScored, wantLost := map[string]bool{}, map[string]bool{}
	for id, months := range feat {
		switch {
		case months[june] && status[id] != "deactivated":
			wantScored[id] = true
		case status[id] == "deactivated" && statusDate[id].After(newest.AddDate(0, -3, 0)):
			wantLost[id] = true
		}
	}
	if len(wantScored) == 0 || len(wantLost) == 0 {
		t.Fatalf("test data: %d current and %d recently lost customers; want both", len(wantScored), len(wantLost))
	}
	scored, lost := 0, 0
	for _, c := range cs {
		switch {
		case c.Status == "deactivated":
			lost++
			if !wantLost[c.SubscriberID] || c.Lifecycle != "lost" || c.Probability != 0 || len(c.Reasons) != 0 || c.ValueAtRisk != 0 {
				t.Errorf("lost %s: lifecycle %s, p %v, reasons %q, VaR %v; want a recent loss, lost, 0, none, 0",
					c.SubscriberID, c.Lifecycle, c.Probability, c.Reasons, c.ValueAtRisk)
			}
		case wantScored[c.SubscriberID]:
			scored++
		default:
			t.Errorf("%s (%s) scored but not a current customer of 2026-06", c.SubscriberID, c.Status)
		}
	}
	if scored != len(wantScored) || lost != len(wantLost) || res.Scored != scored || res.WinBack != lost {
		t.Errorf("scored %d (result %d), win-back %d (result %d); want %d and %d",
			scored, res.Scored, lost, res.WinBack, len(wantScored), len(wantLost))
	}

	// Scores, lifecycle, value.
	due := billsSince(t, l, june.AddDate(0, -2, 0))
	checkedCLV := 0
	for _, c := range cs {
		if c.Probability < 0 || c.Probability > 1 || math.IsNaN(c.Probability) {
			t.Errorf("%s: probability %v", c.SubscriberID, c.Probability)
		}
		if c.Status != "deactivated" {
			want := "loyal"
			switch {
			case c.Status == "suspended":
				want = "suspended"
			case c.TenureMonths < 3:
				want = "new"
			case c.TenureMonths < 24:
				want = "established"
			}
			if c.Lifecycle != want {
				t.Errorf("%s: %s, tenure %d: lifecycle %s, want %s", c.SubscriberID, c.Status, c.TenureMonths, c.Lifecycle, want)
			}
			if got, want := c.MonthlyValue, meanCents(due[c.SubscriberID]); math.Abs(got-want) > 0.005 {
				t.Errorf("%s: monthly value %.2f, want mean bill of 2026-04 … 06 %.2f", c.SubscriberID, got, want)
			}
			if c.SegmentID == 0 || c.SegmentName == "" {
				t.Errorf("%s: no segment", c.SubscriberID)
			}
		}
		if len(c.History) == 0 || len(c.History) > 6 || c.History[len(c.History)-1].Month > "2026-06" {
			t.Errorf("%s: history %d months ending %v", c.SubscriberID, len(c.History), c.History)
		}
		if math.Abs(c.ValueAtRisk-c.Probability*c.CLV) > 0.005+1e-9*math.Max(1, c.CLV) { // to the cent
			t.Errorf("%s: value at risk %v, want %v × %v", c.SubscriberID, c.ValueAtRisk, c.Probability, c.CLV)
		}
		if c.Status != "deactivated" && checkedCLV < 25 && c.MonthlyValue > 0 {
			checkedCLV++
			// To the cent, from the probability as served (rounded to 1e-9:
			// CLV moves by at most ~1,000 × profit × 5e-10 before its own
			// rounding, so a value at a half cent may round either way;
			// seen once: 367.79 for 367.78499855).
			if want := clv(meta.Value, c.Profit, c.Probability); math.Abs(c.CLV-want) > 0.005+1e-9*math.Abs(want)+1e-6*math.Max(1, math.Abs(c.Profit)) {
				t.Errorf("%s: CLV %v, want %v (profit %.2f, p %.4f)", c.SubscriberID, c.CLV, want, c.Profit, c.Probability)
			}
			if math.Abs(c.MonthlyValue+c.Discount-c.CostToServe-c.Profit) > 0.005 {
				t.Errorf("%s: profit %.2f, want value %.2f + discount %.2f - cost %.2f", c.SubscriberID, c.Profit, c.MonthlyValue, c.Discount, c.CostToServe)
			}
		}
	}
	checkTiers(t, cs)
	v := meta.Value
	if v.Costs != serving.DefaultCosts || v.AnnualDiscountRate != scoring.DefaultAnnualDiscount ||
		v.HorizonMonths != scoring.DefaultHorizonMonths || v.LabelHorizonMonths != 2 {
		t.Errorf("value model %+v; want the defaults and the trained label horizon 2", v)
	}

	checkLists(t, meta, byID, listSize)
	checkUplift(t, meta, cs)

	// crm.scores: one row per snapshot customer, replaced on rerun.
	if n := scoreRows(t, l, res.Run); n != len(cs) {
		t.Errorf("crm.scores has %d rows for run %s, want %d", n, res.Run, len(cs))
	}
	again, err := r.Run(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	if again.Run != res.Run || len(again.Built) != 0 {
		t.Errorf("rerun: run %s, built %d months; want %s, none", again.Run, len(again.Built), res.Run)
	}
	if n, total := scoreRows(t, l, res.Run), scoreRows(t, l, ""); n != len(cs) || total != len(cs) {
		t.Errorf("after the rerun crm.scores has %d rows for the run, %d in all; want %d (replaced, not duplicated)", n, total, len(cs))
	}
	if meta.TierMigration != nil {
		t.Errorf("tier migration %+v without a run of 2026-05", meta.TierMigration)
	}
	var occ, dist int
	for _, c := range cs {
		occ += b2i(c.Occupation != "")
		dist += b2i(strings.HasPrefix(c.District, c.Region+"-"))
	}
	if occ < len(cs)/2 || dist != len(cs) {
		t.Errorf("%d of %d customers with an occupation, %d with a district of their region", occ, len(cs), dist)
	}

	// Tier migration: two earlier runs of 2026-05 in crm.scores; the newer
	// one is compared.
	var ids []string
	for _, c := range cs[:6] {
		ids = append(ids, c.SubscriberID)
	}
	ids = append(ids, "S9999999") // gone since
	fromTiers := []string{"top1", "rest", "top20", "none", "top5", "rest", "top1"}
	may := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	writePastScores(t, l, "20260601T000000Z", may, ids, []string{"rest", "rest", "rest", "rest", "rest", "rest", "rest"})
	writePastScores(t, l, "20260602T000000Z", may, ids, fromTiers)
	if _, err := r.Run(ctx, opt); err != nil {
		t.Fatal(err)
	}
	meta, cs = readSnapshot(t, r.Serving)
	m := meta.TierMigration
	if m == nil || m.FromRun != "20260602T000000Z" || m.FromMonth != "2026-05" {
		t.Fatalf("tier migration %+v, want from run 20260602T000000Z of 2026-05", m)
	}
	want := make([][]int64, len(serving.Tiers))
	for i := range want {
		want[i] = make([]int64, len(serving.Tiers))
	}
	ti := func(s string) int { return slices.Index(serving.Tiers, s) }
	before := map[string]string{}
	for i, id := range ids {
		before[id] = fromTiers[i]
	}
	for _, c := range cs {
		from := "none"
		if b, ok := before[c.SubscriberID]; ok {
			from = b
		}
		want[ti(from)][ti(c.ValueTier)]++
	}
	want[ti("top1")][ti("none")]++ // S9999999
	if !reflect.DeepEqual(m.Counts, want) {
		t.Errorf("tier migration counts %v, want %v", m.Counts, want)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// writePastScores writes a run of crm.scores with the given customers and
// tiers (the other columns filler).
func writePastScores(t *testing.T, l *laketest.Lake, run string, month time.Time, ids, tiers []string) {
	t.Helper()
	b, err := lake.NewRowBuilder(lake.ScoresTable, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	for i, id := range ids {
		b.String("run", run)
		b.Time("scored_at", month)
		b.Date("feature_month", month)
		b.String("subscriber_id", id)
		b.Float("churn_probability", 0.1)
		for _, n := range []string{"reason_1", "reason_2", "reason_3", "segment_id", "segment_name"} {
			b.Null(n)
		}
		b.Money("monthly_value", 1000)
		b.Float("clv", 1)
		b.Float("value_at_risk", 0.1)
		b.String("lifecycle", "loyal")
		b.String("churn_model", "m")
		b.String("segment_model", "s")
		b.String("value_tier", tiers[i])
		b.Money("profit", 100)
		b.Money("cost_to_serve", 900)
		for _, n := range []string{"bad_debt_probability", "bad_debt_reason_1", "bad_debt_reason_2", "bad_debt_reason_3", "bad_debt_model"} {
			b.Null(n)
		}
	}
	rec := b.Record()
	defer rec.Release()
	if _, err := lake.ReplaceRows(context.Background(), l.Cat, lake.ScoresTable,
		iceberg.EqualTo(iceberg.Reference("run"), run), []arrow.RecordBatch{rec}, nil); err != nil {
		t.Fatal(err)
	}
}

// checkLists checks every list's length, membership and order by its key.
func checkLists(t *testing.T, meta *serving.Meta, byID map[string]*serving.Customer, size int) {
	t.Helper()
	var scored []*serving.Customer
	for _, c := range byID {
		if c.Status != "deactivated" {
			scored = append(scored, c)
		}
	}
	prob := func(c *serving.Customer) float64 { return c.Probability }
	keys := map[string]func(*serving.Customer) float64{
		scoring.ListChurnRisk:       prob,
		scoring.ListValueAtRisk:     func(c *serving.Customer) float64 { return c.ValueAtRisk },
		scoring.ListHighValueAtRisk: prob,
		scoring.ListWinBack:         func(c *serving.Customer) float64 { return c.MonthlyValue },
		scoring.ListBestToContact:   func(c *serving.Customer) float64 { return c.ContactValue },
		scoring.ListBadDebtRisk:     func(c *serving.Customer) float64 { return c.BadDebtProbability },
	}
	seen := map[string]bool{}
	for _, l := range meta.Lists {
		seen[l.Name] = true
		if len(l.IDs) > size || l.Title == "" || l.Description == "" {
			t.Errorf("list %s: %d ids (max %d), title %q, description %q", l.Name, len(l.IDs), size, l.Title, l.Description)
		}
		key, ok := keys[l.Name]
		var segID int
		if !ok {
			id, err := strconv.Atoi(strings.TrimPrefix(l.Name, scoring.SegmentListPrefix))
			if err != nil || !strings.HasPrefix(l.Name, scoring.SegmentListPrefix) {
				t.Errorf("unexpected list %s", l.Name)
				continue
			}
			key, segID = prob, id
		}
		for i, id := range l.IDs {
			c := byID[id]
			if c == nil {
				t.Fatalf("list %s: %s not in the snapshot", l.Name, id)
			}
			if (l.Name == scoring.ListWinBack) != (c.Status == "deactivated") {
				t.Errorf("list %s holds %s (%s)", l.Name, id, c.Status)
			}
			if segID != 0 && int(c.SegmentID) != segID {
				t.Errorf("list %s holds %s of segment %d", l.Name, id, c.SegmentID)
			}
			if i > 0 && key(byID[l.IDs[i-1]]) < key(c) {
				t.Errorf("list %s not sorted at %d: %v then %v", l.Name, i, key(byID[l.IDs[i-1]]), key(c))
			}
		}
		if l.Name == scoring.ListHighValueAtRisk {
			checkHighValue(t, l, byID, scored)
		}
	}
	// The training run promoted a bad-debt model: its list is full and
	// scored customers carry a probability with reasons.
	if meta.BadDebtModel == "" || meta.BadDebtHorizonMonths != 3 {
		t.Errorf("snapshot's bad-debt model %q, horizon %d; want the promoted one, 3 months", meta.BadDebtModel, meta.BadDebtHorizonMonths)
	}
	for _, l := range meta.Lists {
		if l.Name != scoring.ListBadDebtRisk {
			continue
		}
		if len(l.IDs) != min(size, len(scored)) {
			t.Errorf("list %s has %d ids, want %d", l.Name, len(l.IDs), min(size, len(scored)))
		}
		if top := byID[l.IDs[0]]; top.BadDebtProbability <= 0 || len(top.BadDebtReasons) == 0 {
			t.Errorf("top of %s: bad-debt probability %v, reasons %v", l.Name, top.BadDebtProbability, top.BadDebtReasons)
		}
	}
	for _, name := range []string{scoring.ListChurnRisk, scoring.ListValueAtRisk, scoring.ListHighValueAtRisk, scoring.ListWinBack, scoring.ListBestToContact, scoring.ListBadDebtRisk} {
		if !seen[name] {
			t.Errorf("no list %s", name)
		}
	}
	for _, s := range meta.Segments {
		if !seen[scoring.SegmentListPrefix+strconv.Itoa(int(s.ID))] {
			t.Errorf("no list for segment %d", s.ID)
		}
	}

	// churn-risk is the top of all scored customers, not just sorted.
	for _, l := range meta.Lists {
		if l.Name != scoring.ListChurnRisk {
			continue
		}
		if len(l.IDs) != min(size, len(scored)) {
			t.Errorf("churn-risk has %d ids, want %d", len(l.IDs), min(size, len(scored)))
		}
		in := map[string]bool{}
		for _, id := range l.IDs {
			in[id] = true
		}
		floor := byID[l.IDs[len(l.IDs)-1]].Probability
		for _, c := range scored {
			if !in[c.SubscriberID] && c.Probability > floor {
				t.Errorf("churn-risk misses %s (p %v above the list's lowest %v)", c.SubscriberID, c.Probability, floor)
			}
		}
		for _, id := range l.IDs[:10] {
			rs := byID[id].Reasons
			if len(rs) == 0 {
				t.Errorf("churn-risk %s has no reasons", id)
			}
			for _, s := range rs {
				if s == "" || strings.Contains(strings.ToLower(s), "nan") {
					t.Errorf("churn-risk %s: unreadable reason %q", id, s)
				}
			}
		}
	}
}

// checkHighValue: members are in the top fifth by value with an above-median
// probability.
func checkHighValue(t *testing.T, l serving.List, byID map[string]*serving.Customer, scored []*serving.Customer) {
	t.Helper()
	var values, probs []float64
	for _, c := range scored {
		values = append(values, c.MonthlyValue)
		probs = append(probs, c.Probability)
	}
	slices.Sort(values)
	slices.Sort(probs)
	valueCut := values[int(math.Ceil(0.8*float64(len(values))))-1]
	probCut := probs[int(math.Ceil(0.5*float64(len(probs))))-1]
	if len(l.IDs) == 0 {
		t.Error("high-value-at-risk is empty")
	}
	for _, id := range l.IDs {
		if c := byID[id]; c.MonthlyValue < valueCut || c.Probability <= probCut {
			t.Errorf("high-value-at-risk holds %s: value %.2f (cut %.2f), p %.4f (median %.4f)", id, c.MonthlyValue, valueCut, c.Probability, probCut)
		}
	}
}

// clv recomputes the documented formula term by term.
func clv(v serving.ValueModel, value, p float64) float64 {
	hazard := 1 - math.Pow(1-p, 1/float64(v.LabelHorizonMonths))
	monthlyDiscount := math.Pow(1+v.AnnualDiscountRate, 1.0/12) - 1
	var sum float64
	for m := 1; m <= v.HorizonMonths; m++ {
		sum += math.Pow(1-hazard, float64(m)) / math.Pow(1+monthlyDiscount, float64(m))
	}
	return value * sum
}

// checkTiers: the scored customers' tiers are the CLV ranks' tiers (top
// ⌈1%⌉, ⌈5%⌉, ⌈20%⌉), the lost ones none, and no tier holds a customer
// of lower CLV than a lower tier's.
func checkTiers(t *testing.T, cs []serving.Customer) {
	t.Helper()
	var ranked []serving.Customer
	for _, c := range cs {
		if c.Status == "deactivated" {
			if c.ValueTier != serving.TierNone {
				t.Errorf("%s: lost, tier %s, want none", c.SubscriberID, c.ValueTier)
			}
			continue
		}
		ranked = append(ranked, c)
	}
	sort.SliceStable(ranked, func(i, j int) bool {
		if ranked[i].CLV != ranked[j].CLV {
			return ranked[i].CLV > ranked[j].CLV
		}
		return ranked[i].SubscriberID < ranked[j].SubscriberID
	})
	n := len(ranked)
	for k, c := range ranked {
		want := serving.TierRest
		switch {
		case k < (n+99)/100:
			want = serving.TierTop1
		case k < (n+19)/20:
			want = serving.TierTop5
		case k < (n+4)/5:
			want = serving.TierTop20
		}
		if c.ValueTier != want {
			t.Errorf("%s: rank %d of %d by CLV: tier %s, want %s", c.SubscriberID, k, n, c.ValueTier, want)
		}
	}
}

func meanCents(cents []int64) float64 {
	if len(cents) == 0 {
		return 0
	}
	var s int64
	for _, c := range cents {
		s += c
	}
	return math.Round(float64(s)/float64(len(cents))) / 100
}

// featureRows: subscriber → months with a feature row, from month on.
func featureRows(t *testing.T, l *laketest.Lake, from time.Time) map[string]map[time.Time]bool {
	t.Helper()
	at := readTable(t, l, lake.FeaturesTable, "month", "subscriber_id")
	out := map[string]map[time.Time]bool{}
	eachRow(at, func(rec arrow.RecordBatch, i int) {
		m := rec.Column(0).(*array.Date32).Value(i).ToTime()
		if m.Before(from) {
			return
		}
		id := rec.Column(1).(*array.String).Value(i)
		if out[id] == nil {
			out[id] = map[time.Time]bool{}
		}
		out[id][m] = true
	})
	return out
}

// billsSince: subscriber → amount_due (cents) of feature months from on.
func billsSince(t *testing.T, l *laketest.Lake, from time.Time) map[string][]int64 {
	t.Helper()
	at := readTable(t, l, lake.FeaturesTable, "month", "subscriber_id", "amount_due")
	out := map[string][]int64{}
	eachRow(at, func(rec arrow.RecordBatch, i int) {
		due := rec.Column(2).(*array.Decimal128)
		if rec.Column(0).(*array.Date32).Value(i).ToTime().Before(from) || due.IsNull(i) {
			return
		}
		id := rec.Column(1).(*array.String).Value(i)
		out[id] = append(out[id], int64(due.Value(i).LowBits()))
	})
	return out
}

// newestRegister: the newest export date, and each subscriber's status and
// status date in it.
func newestRegister(t *testing.T, l *laketest.Lake) (time.Time, map[string]string, map[string]time.Time) {
	t.Helper()
	at := readTable(t, l, lake.SubscribersTable, "export_date", "subscriber_id", "status", "status_date")
	var newest time.Time
	eachRow(at, func(rec arrow.RecordBatch, i int) {
		if d := rec.Column(0).(*array.Date32).Value(i).ToTime(); d.After(newest) {
			newest = d
		}
	})
	status, date := map[string]string{}, map[string]time.Time{}
	eachRow(at, func(rec arrow.RecordBatch, i int) {
		if !rec.Column(0).(*array.Date32).Value(i).ToTime().Equal(newest) {
			return
		}
		id := rec.Column(1).(*array.String).Value(i)
		status[id] = rec.Column(2).(*array.String).Value(i)
		date[id] = rec.Column(3).(*array.Date32).Value(i).ToTime()
	})
	return newest, status, date
}

// scoreRows counts crm.scores rows of run ("" all).
func scoreRows(t *testing.T, l *laketest.Lake, run string) int {
	t.Helper()
	at := readTable(t, l, lake.ScoresTable, "run")
	n := 0
	eachRow(at, func(rec arrow.RecordBatch, i int) {
		if run == "" || rec.Column(0).(*array.String).Value(i) == run {
			n++
		}
	})
	return n
}

func readTable(t *testing.T, l *laketest.Lake, def lake.TableDef, cols ...string) arrow.Table {
	t.Helper()
	at, err := lake.ReadTable(context.Background(), l.Cat, def, cols...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(at.Release)
	return at
}

func eachRow(at arrow.Table, fn func(rec arrow.RecordBatch, i int)) {
	tr := array.NewTableReader(at, 0)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		for i := range int(rec.NumRows()) {
			fn(rec, i)
		}
	}
}

func TestRunNeedsPromotedModels(t *testing.T) {
	l := laketest.New(t)
	models, _ := lake.OpenBlobs(l.Cfg, nil, "models")
	snap, _ := lake.OpenBlobs(l.Cfg, nil, "serving")
	r := &scoring.Runner{Tables: l.Cat, Models: &registry.Registry{Store: models}, Serving: snap}
	_, err := r.Run(context.Background(), scoring.Options{})
	if !errors.Is(err, scoring.ErrNoModel) || !strings.Contains(err.Error(), "no promoted churn model: run train first") {
		t.Errorf("Run without models: %v, want ErrNoModel naming churn", err)
	}
}

func TestCLV(t *testing.T) {
	v := serving.ValueModel{AnnualDiscountRate: 0, HorizonMonths: 12, LabelHorizonMonths: 3}
	tests := []struct {
		name     string
		value, p float64
		want     float64
	}{
		{"no churn, no discount: profit × months", 50, 0, 50 * 12},
		{"loss-making: negative", -10, 0, -10 * 12},
		{"certain churn", 100, 1, 0},
		{"no value", 0, 0.3, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := scoring.CLV(v, tc.value, tc.p); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("CLV(%v, %v) = %v, want %v", tc.value, tc.p, got, tc.want)
			}
		})
	}
	// p over the 3-month horizon equals 1 − survival of three monthly hazards.
	p := 0.271
	hazard := 1 - math.Pow(1-p, 1.0/3)
	if got, want := scoring.CLV(serving.ValueModel{HorizonMonths: 3, LabelHorizonMonths: 3}, 1, p),
		(1-hazard)+(1-hazard)*(1-hazard)+(1-p); math.Abs(got-want) > 1e-12 {
		t.Errorf("CLV over the label horizon = %v, want %v", got, want)
	}
	// Discounting lowers the value.
	if a, b := scoring.CLV(serving.ValueModel{HorizonMonths: 60, LabelHorizonMonths: 2}, 10, 0.2),
		scoring.CLV(serving.ValueModel{AnnualDiscountRate: 0.1, HorizonMonths: 60, LabelHorizonMonths: 2}, 10, 0.2); b >= a {
		t.Errorf("discounted CLV %v ≥ undiscounted %v", b, a)
	}
}

// TestProfitByHand prices one customer with the defaults, item by item.
func TestProfitByHand(t *testing.T) {
	u := scoring.Usage{MonthlyValue: 40, Discount: 5, VoiceMinutes: 300, OffnetShare: 0.4, IntlCalls: 3, AvgCallS: 200,
		CareCalls: 2, Arrears: 60}
	// gross 45: network 0.25 × 45 = 11.25; off-net 0.015 × 300 × 0.4 = 1.80;
	// international 0.12 × 3 × 200/60 = 1.20; care 2.50 × 2 = 5.00;
	// discount 5.00; bad debt 0.05 × 60 = 3.00. Cost 27.25, profit 17.75.
	got := scoring.CostToServe(serving.DefaultCosts, u)
	want := scoring.Cost{Network: 11.25, Interconnect: 1.80, International: 1.20, Care: 5, Discount: 5, BadDebt: 3}
	if got != want {
		t.Errorf("CostToServe = %+v, want %+v", got, want)
	}
	cost, profit := scoring.Profit(serving.DefaultCosts, u)
	if cost != 27.25 || profit != 17.75 {
		t.Errorf("Profit = cost %v, profit %v; want 27.25, 17.75", cost, profit)
	}
	// No usage, no bill: no cost, no profit; bad input counts as nothing.
	if c, p := scoring.Profit(serving.DefaultCosts, scoring.Usage{OffnetShare: math.NaN(), Arrears: -3}); c != 0 || p != 0 {
		t.Errorf("Profit of nothing = %v, %v", c, p)
	}
	for _, bad := range []serving.CostModel{{NetworkShare: 1.5}, {CarePerCall: -1}, {BadDebtRate: math.NaN()}, {IntlPerMinute: 1e6}} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", bad)
		}
	}
	if err := serving.DefaultCosts.Validate(); err != nil {
		t.Errorf("the defaults: %v", err)
	}
}

func TestTierBounds(t *testing.T) {
	for _, tc := range []struct{ n, top1, top5, top20 int }{
		{0, 0, 0, 0}, {1, 1, 1, 1}, {7, 1, 1, 2}, {100, 1, 5, 20}, {101, 2, 6, 21}, {1000, 10, 50, 200}, {999_999, 10_000, 50_000, 200_000},
	} {
		a, b, c := scoring.TierBounds(tc.n)
		if a != tc.top1 || b != tc.top5 || c != tc.top20 {
			t.Errorf("TierBounds(%d) = %d, %d, %d; want %d, %d, %d", tc.n, a, b, c, tc.top1, tc.top5, tc.top20)
		}
	}
}

// readSnapshot opens the newest snapshot and reads every customer back.
func readSnapshot(t *testing.T, st serving.Store) (*serving.Meta, []serving.Customer) {
	t.Helper()
	ctx := context.Background()
	src, ok := st.(serving.Source)
	if !ok {
		t.Fatalf("the scoring store %T cannot read ranges", st)
	}
	snap, err := serving.Load(ctx, src, func(err error) bool { return errors.Is(err, lake.ErrNotFound) }, serving.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := snap.AllCustomers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return snap.Meta, cs
}
