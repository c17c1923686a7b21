package training

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/telcolake/telcolake/models/dataset"
	"github.com/telcolake/telcolake/models/features"
)

// sampleRows is a seeded base: subscribers over months, 1 in every
// churnEvery churned, in an order shuffled by order.
func sampleRows(subs, months, churnEvery int, order uint64) (ids []string, ms []time.Time, churned map[string]bool) {
	churned = map[string]bool{}
	for s := range subs {
		id := fmt.Sprintf("S%07d", s)
		if s%churnEvery == 0 {
			churned[id] = true
		}
		for m := range months {
			ids = append(ids, id)
			ms = append(ms, time.Date(2026, time.Month(1+m), 1, 0, 0, 0, 0, time.UTC))
		}
	}
	r := rand.New(rand.NewPCG(order, 1))
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i]; ms[i], ms[j] = ms[j], ms[i] })
	return ids, ms, churned
}

// drawSample runs the sampler's two passes over the rows as the split
// does over crm.features and returns the sample's (month, id) keys in
// order, with its report.
func drawSample(t *testing.T, ids []string, ms []time.Time, churned map[string]bool, valid time.Time, seed uint64, trainCap, validCap int) ([]string, *SampleReport) {
	t.Helper()
	part := func(m time.Time) (bool, bool) { return m.Equal(valid), !m.After(valid) }
	s := newSampler(seed, trainCap, validCap, part, func(id string, _ time.Time) bool { return churned[id] })
	for i := range ids {
		if err := s.count(ids[i], ms[i]); err != nil {
			t.Fatal(err)
		}
	}
	s.plan()
	set := &features.Set{Frame: &dataset.Frame{}}
	for i := range ids {
		if s.keep(ids[i], ms[i]) {
			set.IDs, set.Months = append(set.IDs, ids[i]), append(set.Months, ms[i])
		}
	}
	rows := s.cut(set)
	var keys []string
	for _, i := range rows {
		keys = append(keys, set.Months[i].Format("2006-01")+"/"+set.IDs[i])
	}
	return keys, s.report(set, rows, seed, func(c bool) string { return map[bool]string{true: "churned", false: "stayed"}[c] })
}

func TestSampleIsStratifiedAndDeterministic(t *testing.T) {
	valid := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name                     string
		subs, churnEvery         int
		trainCap, validCap       int
		wantSampled              bool
		wantTrainRows, wantValid int
	}{
		{"under the caps: every row", 2000, 10, 10_000, 5_000, false, 6000, 2000},
		{"past the caps", 20_000, 10, 9_000, 4_000, true, 9000, 4000},
		{"rare class", 20_000, 97, 6_000, 2_000, true, 6000, 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, ms, churned := sampleRows(tc.subs, 4, tc.churnEvery, 1)
			keys, rep := drawSample(t, ids, ms, churned, valid, 7, tc.trainCap, tc.validCap)
			if rep.Sampled != tc.wantSampled || rep.TrainRows != tc.wantTrainRows || rep.ValidRows != tc.wantValid {
				t.Fatalf("sampled %v, %d train and %d valid rows; want %v, %d and %d",
					rep.Sampled, rep.TrainRows, rep.ValidRows, tc.wantSampled, tc.wantTrainRows, tc.wantValid)
			}
			if rep.TrainPopulation != 3*tc.subs || rep.ValidPopulation != tc.subs || len(keys) != rep.TrainRows+rep.ValidRows {
				t.Errorf("populations %d and %d, %d keys; want %d, %d and %d", rep.TrainPopulation, rep.ValidPopulation, len(keys),
					3*tc.subs, tc.subs, rep.TrainRows+rep.ValidRows)
			}
			// Stratified: every stratum keeps its share of its part's rows
			// to within one row (rounding), so the class rate of every
			// month is the population's.
			for _, st := range rep.Strata {
				cap, pop := tc.trainCap, rep.TrainPopulation
				if st.Part == "valid" {
					cap, pop = tc.validCap, rep.ValidPopulation
				}
				want := float64(st.Population)
				if pop > cap {
					want = float64(cap) * float64(st.Population) / float64(pop)
				}
				if d := float64(st.Rows) - want; d > 0.5 || d < -0.5 {
					t.Errorf("stratum %+v keeps %d rows, want %.1f", st, st.Rows, want)
				}
			}
			// Deterministic: the same rows read in another order give the
			// same sample (in month and id order once sampled; every row in
			// the order read otherwise); another seed another one.
			ids2, ms2, _ := sampleRows(tc.subs, 4, tc.churnEvery, 99)
			again, _ := drawSample(t, ids2, ms2, churned, valid, 7, tc.trainCap, tc.validCap)
			if !tc.wantSampled {
				keys, again = slices.Sorted(slices.Values(keys)), slices.Sorted(slices.Values(again))
			}
			if !slices.Equal(keys, again) {
				t.Errorf("the same rows in another order gave another sample")
			}
			other, _ := drawSample(t, ids, ms, churned, valid, 8, tc.trainCap, tc.validCap)
			if !tc.wantSampled {
				other = slices.Sorted(slices.Values(other))
			}
			if tc.wantSampled == slices.Equal(keys, other) {
				t.Errorf("seed 8 against seed 7: same sample %v, want %v", slices.Equal(keys, other), !tc.wantSampled)
			}
		})
	}
}
