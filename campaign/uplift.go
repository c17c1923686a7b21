package campaign

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/telcolake/telcolake/models/churn"
	"github.com/telcolake/telcolake/models/dataset"
)

// UpliftMethod names how Uplift is fitted.
const UpliftMethod = "two-model: boosted-tree churn models (models/churn) fitted on the treated and on the control customers of past campaigns; the contact's effect is their difference in log-odds, applied to the customer's churn score p: uplift = p − σ(logit p + logit P(churn | treated) − logit P(churn | control)), so the untreated churn probability is the churn score, the treated one lies in [0, 1] and uplift in [p − 1, p]"

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
// contact with the offer brings (negative: the contact drives them away),
// for customers whose churn probability without a contact is risk (the
// churn score): Bounded(risk, Shift), so no uplift exceeds the risk nor
// falls below risk − 1.
func (u *Uplift) Predict(f *dataset.Frame, risk []float64) ([]float64, error) {
	shift, err := u.Shift(f)
	if err != nil {
		return nil, err
	}
	if len(risk) != len(shift) {
		return nil, fmt.Errorf("campaign: uplift %s: %d rows, %d churn scores", u.Offer, len(shift), len(risk))
	}
	out := make([]float64, len(shift))
	for i := range out {
		out[i] = Bounded(risk[i], shift[i])
	}
	return out, nil
}

// Raw returns the two models' plain difference, P(churn | control) −
// P(churn | treated), which is not tied to the churn score and may exceed
// it: what the report counts as incoherent, never what is served.
func (u *Uplift) Raw(f *dataset.Frame) ([]float64, error) {
	pt, pc, err := u.both(f)
	if err != nil {
		return nil, err
	}
	for i := range pc {
		pc[i] -= pt[i]
	}
	return pc, nil
}

// Shift returns each customer's change in the log-odds of churn a contact
// brings, logit P(churn | treated) − logit P(churn | control), the two
// probabilities kept within [MinModelProb, 1 − MinModelProb] so the shift
// is finite (at most about ±18.4).
func (u *Uplift) Shift(f *dataset.Frame) ([]float64, error) {
	pt, pc, err := u.both(f)
	if err != nil {
		return nil, err
	}
	for i := range pt {
		pt[i] = logit(pt[i]) - logit(pc[i])
	}
	return pt, nil
}

func (u *Uplift) both(f *dataset.Frame) (pt, pc []float64, err error) {
	if pt, err = u.Treated.Predict(f); err != nil {
		return nil, nil, fmt.Errorf("campaign: uplift %s: %w", u.Offer, err)
	}
	if pc, err = u.Control.Predict(f); err != nil {
		return nil, nil, fmt.Errorf("campaign: uplift %s: %w", u.Offer, err)
	}
	return pt, pc, nil
}

// MinModelProb bounds the arm models' probabilities away from 0 and 1
// before their log-odds are taken.
const MinModelProb = 1e-4

// logit is the log-odds of p kept within [MinModelProb, 1 − MinModelProb]
// (NaN: 0.5, no effect).
func logit(p float64) float64 {
	if p != p {
		p = 0.5
	}
	p = min(1-MinModelProb, max(MinModelProb, p))
	return math.Log(p / (1 - p))
}

// Bounded is the uplift of a customer whose churn probability without a
// contact is p when the contact shifts its log-odds by shift: p − σ(logit
// p + shift). The treated probability σ(…) lies in [0, 1], so the result
// lies in [p − 1, p]: a contact cannot keep more than the customer's own
// risk of leaving, nor drive away more than its chance of staying. p is
// at face value: a customer certain to stay (p ≤ 0) or to leave (p ≥ 1)
// is not moved, and a NaN p or shift brings no effect (0).
func Bounded(p, shift float64) float64 {
	if p != p || shift != shift || p <= 0 || p >= 1 {
		return 0
	}
	// p − σ(logit p + s) = −p(1 − p)(e^s − 1) / (1 + p(e^s − 1)): the
	// sign is that of −s exactly, and no 1 − p is divided by. Beyond ±40
	// σ is 0 or 1 to float precision; the clamp keeps rounding inside the
	// bound.
	e := math.Expm1(min(40, max(-40, shift)))
	u := -p * (1 - p) * e / (1 + p*e)
	return min(p, max(p-1, u))
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

// NextBestOffers picks, per customer (churn score risk), the offer of
// models with the highest ContactValue (costs by offer); none when every
// value is ≤ 0.
func NextBestOffers(models []*Uplift, f *dataset.Frame, risk, clv []float64, cost map[string]float64) ([]Offer, error) {
	out := make([]Offer, f.Rows())
	for _, m := range models {
		up, err := m.Predict(f, risk)
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
