package scoring

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/serving"
)

// wholeSurvival is the report's survival as the commit built it before the
// buckets counted it: every subscriber of the whole register in one
// process, each an observation, by plan, region and cohort, and the run's
// customers by segment (insight.SurvivalByGroup over the observations).
func wholeSurvival(t *testing.T, reg *register, cs []serving.Customer) []insight.SurvivalBy {
	t.Helper()
	ids := make([]string, 0, len(reg.people))
	for id := range reg.people {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var obs, segObs []insight.Obs
	keys := map[string][]string{}
	for _, id := range ids {
		p := reg.people[id]
		o, ok := observe(p)
		if !ok {
			continue
		}
		obs = append(obs, o)
		keys["plan"] = append(keys["plan"], orUnknown(p.plan))
		keys["region"] = append(keys["region"], orUnknown(p.region))
		keys["cohort"] = append(keys["cohort"], strconv.Itoa(dayTime(p.activation).Year()))
	}
	for _, c := range cs {
		if p := reg.people[c.SubscriberID]; p != nil {
			if o, ok := observe(p); ok {
				segObs = append(segObs, o)
				keys["segment"] = append(keys["segment"], orUnknown(c.SegmentName))
			}
		}
	}
	var out []insight.SurvivalBy
	for _, by := range insight.SurvivalGroupings {
		o := obs
		if by == "segment" {
			o = segObs
		}
		if len(o) == 0 {
			continue
		}
		sb, err := insight.SurvivalByGroup(by, o, keys[by])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sb)
	}
	return out
}

// TestSurvivalFromBucketsEqualsWhole: the survival curves, medians and
// log-rank tests of the report from the buckets' tallies, added up as the
// rank step does (each bucket's own register rows and customers), equal
// those of the whole register's observations in one process, for
// registers with ties, censoring, small groups pooled as "(other)",
// subscribers without a segment and activation after the export.
func TestSurvivalFromBucketsEqualsWhole(t *testing.T) {
	for _, tc := range []struct {
		name   string
		people int
		plans  int
		seed   uint64
	}{
		{"small groups pooled", 300, 40, 1},
		{"many ties", 5000, 4, 2},
		{"one plan", 800, 1, 3},
		{"larger", 20000, 6, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(tc.seed, 7))
			reg := &register{people: map[string]*person{}, newest: 20400}
			var cs []serving.Customer
			for i := range tc.people {
				id := fmt.Sprintf("S%07d", rng.IntN(10*tc.people)+i*10*tc.people)
				p := &person{export: reg.newest - int32(rng.IntN(3)*30), plan: "plan-" + strconv.Itoa(rng.IntN(tc.plans)),
					region: []string{"north", "south", "", "east"}[rng.IntN(4)], status: "active",
					activation: reg.newest - int32(rng.IntN(3000)) + 5}
				if rng.IntN(4) == 0 {
					p.status = "deactivated"
					p.statusDate = p.activation + int32(rng.IntN(max(1, int(p.export-p.activation)+1)))
				}
				reg.people[id] = p
				if p.status != "deactivated" || rng.IntN(2) == 0 {
					cs = append(cs, serving.Customer{SubscriberID: id, SegmentName: []string{"A", "B", "", "C"}[rng.IntN(4)]})
				}
			}
			want, err := json.Marshal(wholeSurvival(t, reg, cs))
			if err != nil {
				t.Fatal(err)
			}
			// Each bucket counts its own register rows and customers.
			merged := survivalTally{}
			for b := range lake.SubscriberBuckets {
				part := &register{people: map[string]*person{}, newest: reg.newest}
				for id, p := range reg.people {
					if lake.SubscriberBucket(id) == b {
						part.people[id] = p
					}
				}
				var bcs []serving.Customer
				for _, c := range cs {
					if lake.SubscriberBucket(c.SubscriberID) == b {
						bcs = append(bcs, c)
					}
				}
				merged.merge(survivalTallies(part, bcs, b)[b])
			}
			rep := &insight.Report{}
			if err := survivalOf(rep, merged); err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(rep.Survival)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("survival from the buckets' tallies differs from the whole register's:\n got %.600s\nwant %.600s", got, want)
			}
			// And from one tally of everyone, split by bucket (Run's path).
			all := survivalTally{}
			for _, st := range survivalTallies(reg, cs, -1) {
				all.merge(st)
			}
			rep = &insight.Report{}
			if err := survivalOf(rep, all); err != nil {
				t.Fatal(err)
			}
			if got, _ := json.Marshal(rep.Survival); string(got) != string(want) {
				t.Errorf("survival from Run's split tallies differs from the whole register's")
			}
		})
	}
}
