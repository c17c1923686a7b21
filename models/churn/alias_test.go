package churn

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/telcolake/telcolake/models/dataset"
)

// aliased is planted plus a credit limit that is 0 exactly on the legacy
// plan (as the prepaid plan has no credit) and a payment method that is
// "voucher" exactly on it.
func aliased(n int, seed uint64) *dataset.Frame {
	f := planted(n, seed)
	r := rand.New(rand.NewPCG(seed, 7))
	credit := &dataset.Column{Name: "Credit limit", Kind: dataset.Numeric, Num: make([]float64, n), Low: "low credit limit"}
	pay := &dataset.Column{Name: "Payment", Kind: dataset.Categorical, Cat: make([]string, n)}
	for i, p := range f.Cols[3].Cat {
		credit.Num[i], pay.Cat[i] = float64(100*(1+r.IntN(5))), []string{"card", "debit"}[r.IntN(2)]
		if p == "legacy" {
			credit.Num[i], pay.Cat[i] = 0, "voucher"
		}
	}
	f.Cols = append(f.Cols, credit, pay)
	return f
}

func TestFindAliases(t *testing.T) {
	f := aliased(3000, 1)
	enc, err := fitEncoder(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []Alias{
		{Feature: "Credit limit", Value: 0, Target: "Plan", Category: "legacy"},
		{Feature: "Payment", Level: "voucher", Target: "Plan", Category: "legacy"},
	}
	if !slices.Equal(enc.Aliases, want) {
		t.Errorf("aliases %+v, want %+v", enc.Aliases, want)
	}
	// Break the alias on one row: no alias any more.
	f.Cols[4].Num[slices.Index(f.Cols[3].Cat, "basic")] = 0
	enc, _ = fitEncoder(f)
	if slices.ContainsFunc(enc.Aliases, func(a Alias) bool { return a.Feature == "Credit limit" }) {
		t.Errorf("credit limit still an alias after a basic-plan row got 0: %+v", enc.Aliases)
	}
}

// Legacy-plan churners get "Plan: legacy" as a reason, never the credit
// limit or payment method standing for it; the row's log-odds still add up.
func TestReasonsCreditAliasedCategory(t *testing.T) {
	f := aliased(3000, 2)
	for _, kind := range kinds {
		m := fitKind(t, f, kind)
		_, reasons, err := m.Score(f, 3)
		if err != nil {
			t.Fatal(err)
		}
		named := 0
		for i, rs := range reasons {
			if f.Cols[3].Cat[i] != "legacy" {
				continue
			}
			for _, r := range rs {
				if r.Feature == "Credit limit" || r.Feature == "Payment" {
					t.Fatalf("%s: legacy row %d has reason %q", kind, i, r.Phrase)
				}
				if r.Phrase == "Plan: legacy" {
					named++
				}
			}
		}
		if named == 0 {
			t.Errorf("%s: no legacy row names its plan", kind)
		}
	}
}
