package campaign

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/telcolake/telcolake/models/churn"
	"github.com/telcolake/telcolake/models/dataset"
)

// UpliftMethod names how Uplift is fitted.
const UpliftMethod = "two-model: boosted-tree churn models (models/churn) fitted on the treated and on the control customers of past campaigns; uplift = P(churn | control) − P(churn | treated)"

// Uplift is a two-model uplift model for one offer: the project's own
// boosted-tree churn model fitted on treated customers, and another on
// control customers. The two-model form was chosen over the class
// transformation because it reuses the churn model unchanged (encoding,
// trees, early stopping) and needs no equal arms; its known weakness, two
// models' errors adding up in the difference, is what the held-out Qini
// comparison with risk ranking is there to catch.
type Uplift struct {
	Offer   string
	Treated *churn.Model
	Control *churn.Model
}

// upliftBoost is the tree configuration of both models: shallow trees,
// as campaign samples are small.
var upliftBoost = churn.BoostOptions{MaxDepth: 3, LearningRate: 0.1, MaxTrees: 300, Patience: 30, MinLeaf: 30}

// FitUplift fits an uplift model on a past campaign: f holds the
// customers' features at the time and Label whether they churned within
// the horizon; treated says each one's arm.
func FitUplift(ctx context.Context, offer string, f *dataset.Frame, treated []bool, seed uint64) (*Uplift, error) {
	if len(treated) != f.Rows() || len(f.Label) != f.Rows() {
		return nil, fmt.Errorf("campaign: uplift: %d rows, %d arms, %d labels", f.Rows(), len(treated), len(f.Label))
	}
	var tRows, cRows []int
	for i, t := range treated {
		if t {
			tRows = append(tRows, i)
		} else {
			cRows = append(cRows, i)
		}
	}
	fit := func(rows []int, arm string, s uint64) (*churn.Model, error) {
		r := rand.New(rand.NewPCG(seed, s))
		r.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		cut := len(rows) * 4 / 5
		opt := churn.Options{Seed: seed + s, NoLogistic: true, Boosted: []churn.BoostOptions{upliftBoost}}
		m, _, err := churn.Train(ctx, f.Subset(rows[:cut]), f.Subset(rows[cut:]), opt)
		if err != nil {
			return nil, fmt.Errorf("campaign: uplift: %s model: %w", arm, err)
		}
		return m, nil
	}
	mt, err := fit(tRows, ArmTreated, 1)
	if err != nil {
		return nil, err
	}
	mc, err := fit(cRows, ArmControl, 2)
	if err != nil {
		return nil, err
	}
	return &Uplift{Offer: offer, Treated: mt, Control: mc}, nil
}

// Predict returns each customer's uplift: the drop in churn probability a
// contact with the offer brings (negative: the contact drives them away).
func (u *Uplift) Predict(f *dataset.Frame) ([]float64, error) {
	pt, err := u.Treated.Predict(f)
	if err != nil {
		return nil, fmt.Errorf("campaign: uplift %s: %w", u.Offer, err)
	}
	pc, err := u.Control.Predict(f)
	if err != nil {
		return nil, fmt.Errorf("campaign: uplift %s: %w", u.Offer, err)
	}
	out := make([]float64, len(pt))
	for i := range out {
		out[i] = pc[i] - pt[i]
	}
	return out, nil
}

// ContactValue is what contacting a customer is expected to bring:
// incremental retention × CLV − the cost of the contact. A customer whose
// CLV is negative counts as worth nothing to keep (CLV 0): a retention
// contact is never the way to be rid of an unprofitable customer, so such
// a customer is worth −cost whatever the uplift, not a positive value from
// a negative uplift times a negative CLV (which ranked customers whom the
// call drives away at the top of best-to-contact).
func ContactValue(uplift, clv, cost float64) float64 { return uplift*max(clv, 0) - cost }

// Offer is what a customer is best contacted with.
type Offer struct {
	Offer string  `json:"offer"` // "" when no offer is worth its cost
	Value float64 `json:"value"` // ContactValue of the offer
}

// NextBestOffers picks, per customer, the offer of models with the
// highest ContactValue (costs by offer); none when every value is ≤ 0.
func NextBestOffers(models []*Uplift, f *dataset.Frame, clv []float64, cost map[string]float64) ([]Offer, error) {
	out := make([]Offer, f.Rows())
	for _, m := range models {
		up, err := m.Predict(f)
		if err != nil {
			return nil, err
		}
		for i, u := range up {
			if v := ContactValue(u, clv[i], cost[m.Offer]); v > out[i].Value {
				out[i] = Offer{Offer: m.Offer, Value: v}
			}
		}
	}
	return out, nil
}
