package synth

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"slices"
	"time"
)

// Uplift kinds: how a customer's churn answers a retention contact. The
// generator plants them; the truth is kept for tests.
const (
	// Persuadable customers are kept by the offer when reached.
	Persuadable = "persuadable"
	// SureThing customers stay or leave as they would have anyway; their
	// risk is low.
	SureThing = "sure_thing"
	// LostCause customers leave anyway; the contact changes nothing.
	LostCause = "lost_cause"
	// SleepingDog customers leave because they were called: the contact
	// reminds them of the contract they meant to leave.
	SleepingDog = "sleeping_dog"
)

// Parameters of the planted effect.
//
// A persuadable contact attempt lowers churn by half on average
// (0.8 × (0.7 × 0.8 + 0.3 × 0.2) = 0.496 of its risk): with about two
// thirds of a demo campaign's customers persuadable, the campaign keeps a
// quarter to a third of those who would leave, a strong but not an
// unheard-of retention offer. A reached sleeping dog's churn rises by 15
// points. At the demo's base (10,000 customers, about 4% of whom leave
// within 60 days) that is about 1 point of churn over a campaign, which a
// two-cell test of 3,500 a side finds about half the time; the demo prints
// each campaign's planted effect and its power.
const (
	reachProb         = 0.8  // share of contact attempts that reach the customer
	persuadedFactor   = 0.2  // churn of an accepting persuadable, × baseline
	persuadableDecl   = 0.8  // churn of a declining persuadable, × baseline
	sleepingDogAdd    = 0.15 // churn added to a reached sleeping dog
	maxChurnOverRange = 0.95
)

var acceptProb = map[string]float64{Persuadable: 0.7, SureThing: 0.25, LostCause: 0.1, SleepingDog: 0.05}

// contactEffect plays one treated customer's contact from two uniform
// draws (uReach: reached when below reachProb; uAccept: accepts when
// below the kind's acceptance): the outcome, and the churn probability
// over the horizon given it. It also returns the expected treated churn
// probability (the truth).
func contactEffect(kind string, p0, uReach, uAccept float64) (outcome string, p, expected float64) {
	a := acceptProb[kind]
	pAccept, pDecline, pReached := p0, p0, p0
	switch kind {
	case Persuadable:
		pAccept, pDecline = p0*persuadedFactor, p0*persuadableDecl
		pReached = a*pAccept + (1-a)*pDecline
	case SleepingDog:
		pAccept = min(1, p0+sleepingDogAdd)
		pDecline, pReached = pAccept, pAccept
	}
	expected = p0 + reachProb*(pReached-p0) // exactly p0 for a kind the contact does not move
	if uReach >= reachProb {
		return "unreachable", p0, expected
	}
	if uAccept < a {
		return "accepted", pAccept, expected
	}
	return "declined", pDecline, expected
}

// CampaignSeed is the seed a campaign is played forward with: from the
// generator's seed and the campaign's name, never its date or id, so a
// demo run tells the same story every time it runs.
func CampaignSeed(seed int64, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	s1, _ := seeds(seed, 0xca3b, h.Sum64(), 0)
	return int64(s1 >> 1)
}

// CampaignTarget is one customer of a campaign as the generator sees it:
// its arm and its churn risk over the horizon without a contact.
type CampaignTarget struct {
	ID      string
	Treated bool
	Risk    float64
	// Traits, when set, decide the customer's uplift kind from its
	// features (kindOf); nil draws it from the risk alone (kindFor).
	Traits *Traits
}

// Traits are the features of a customer's month before a campaign (as in
// crm.features) that its planted uplift kind follows, so that a model on
// those features can find who a contact changes and ranking by churn risk
// cannot: care calls and tenure mark the riskier sleeping dogs, arrears
// the lost causes, a dearer plan with falling usage the persuadables.
type Traits struct {
	Plan              string  // the plan's code (its fee is the generator's)
	TenureMonths      float64 // tenure_months
	CareCalls         float64 // care_calls
	MonthsInArrears   float64 // months_in_arrears
	VoiceMinutesTrend float64 // voice_minutes_trend: this month against the 3 before, -0.2 = 20% less
}

// kindOf is the uplift kind that t's features plant: customers of two
// years or more who called customer care at least twice in the month are
// sleeping dogs (reminded of the contract they meant to leave; 2% of the
// demo's active customers, 7% of its riskiest thousand), customers two or
// more months in arrears lost causes, customers on a plan of 19.99 or more
// (a discount is worth having) or whose voice usage fell (shopping
// around) persuadables, the rest (cheap plans, steady use) sure things.
func kindOf(t *Traits) string {
	fee := int64(0)
	for _, p := range plans {
		if p.code == t.Plan {
			fee = p.fee
		}
	}
	switch {
	case t.CareCalls >= 2 && t.TenureMonths >= 24:
		return SleepingDog
	case t.MonthsInArrears >= 2:
		return LostCause
	case fee >= 1999 || t.VoiceMinutesTrend < -0.05:
		return Persuadable
	}
	return SureThing
}

// CampaignOutcome is what happened to one customer of a campaign, with the
// planted truth.
type CampaignOutcome struct {
	ID      string
	Kind    string
	Treated bool
	// Outcome of the contact ("" for control): accepted, declined or
	// unreachable, at ContactedAt (and AnsweredAt when reached).
	Outcome                 string
	ContactedAt, AnsweredAt time.Time
	// PChurnControl and PChurnTreated are the customer's churn
	// probabilities over the horizon without and with the contact (the
	// treated one averaged over reach and acceptance).
	PChurnControl, PChurnTreated float64
	Churned                      bool
	ChurnDate                    time.Time
}

// kindFor draws a customer's uplift kind from its risk: most customers
// are persuadable (the offer lowers their churn in proportion to it), a few
// of the riskier ones are sleeping dogs, and of the rest the high risks
// are lost causes and the others sure things.
func kindFor(risk, u float64) string {
	switch {
	case risk >= 0.2 && u < 0.03:
		return SleepingDog
	case u < 0.63:
		return Persuadable
	case risk > 0.5:
		return LostCause
	}
	return SureThing
}

// SimulateCampaign plays a campaign started at start: treated customers
// are contacted within a day, each answers as its planted kind does (from
// its Traits when given, else drawn from its risk), and every customer
// churns (or not) within horizonDays. Each customer's draws come from its
// own stream (seed and its id), the same whichever arm it is in and
// wherever it stands in targets: its outcome with and without a contact
// is fixed, and the arms differ only by the contact (common random
// numbers). The same seed and targets give the same outcomes.
func SimulateCampaign(targets []CampaignTarget, start time.Time, horizonDays int, seed int64) []CampaignOutcome {
	out := make([]CampaignOutcome, len(targets))
	for i, t := range targets {
		h := fnv.New64a()
		h.Write([]byte(t.ID))
		r := newRand(seed, 0xca3a, h.Sum64(), 0)
		uKind, uReach, uAccept, uChurn := r.Float64(), r.Float64(), r.Float64(), r.Float64()
		contactMin, answerS, churnDay := r.IntN(20*60), r.IntN(600), r.IntN(max(1, horizonDays-2))
		p0 := min(maxChurnOverRange, max(0, t.Risk))
		kind := kindFor(p0, uKind)
		if t.Traits != nil {
			kind = kindOf(t.Traits)
		}
		o := CampaignOutcome{ID: t.ID, Kind: kind, Treated: t.Treated, PChurnControl: p0, PChurnTreated: p0}
		p := p0
		outcome, pt, expected := contactEffect(kind, p0, uReach, uAccept)
		o.PChurnTreated = expected
		if t.Treated {
			p, o.Outcome = pt, outcome
			o.ContactedAt = start.Add(time.Duration(10+contactMin) * time.Minute).Truncate(time.Second)
			if o.Outcome != "unreachable" {
				o.AnsweredAt = o.ContactedAt.Add(time.Duration(30+answerS) * time.Second)
			}
		}
		if uChurn < p {
			o.Churned = true
			o.ChurnDate = start.AddDate(0, 0, 2+churnDay)
		}
		out[i] = o
	}
	return out
}

// ResponseColumns is the header of the responses export (README.md,
// Campaign responses).
var ResponseColumns = []string{"campaign_id", "subscriber_id", "contacted_at", "outcome", "outcome_at"}

// WriteResponses writes the treated outcomes as a responses export (the
// format of exports/responses/).
func WriteResponses(w io.Writer, campaignID string, outs []CampaignOutcome) error {
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	cw.Write(ResponseColumns)
	for _, o := range outs {
		if !o.Treated {
			continue
		}
		at := ""
		if o.Outcome != "unreachable" {
			at = o.AnsweredAt.UTC().Format(time.RFC3339)
		}
		cw.Write([]string{campaignID, o.ID, o.ContactedAt.UTC().Format(time.RFC3339), o.Outcome, at})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("synth: responses: %w", err)
	}
	return bw.Flush()
}

// RegisterAfter copies a subscriber register export (the format of
// exports/subscribers/) as the register of a later day: every row gets
// exportDate, and the customers in left are deactivated on their date.
func RegisterAfter(w io.Writer, prev io.Reader, exportDate time.Time, left map[string]time.Time) error {
	cr := csv.NewReader(bufio.NewReader(prev))
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return fmt.Errorf("synth: register: header: %w", err)
	}
	col := func(name string) int { return slices.Index(head, name) }
	iExport, iID, iStatus, iDate := col("export_date"), col("subscriber_id"), col("status"), col("status_date")
	if iExport < 0 || iID < 0 || iStatus < 0 || iDate < 0 {
		return fmt.Errorf("synth: register: header %v lacks export_date, subscriber_id, status or status_date", head)
	}
	cw := csv.NewWriter(w)
	cw.Write(head)
	day := exportDate.UTC().Format(time.DateOnly)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("synth: register: %w", err)
		}
		rec[iExport] = day
		if d, ok := left[rec[iID]]; ok && rec[iStatus] != "deactivated" {
			rec[iStatus], rec[iDate] = "deactivated", d.UTC().Format(time.DateOnly)
		}
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// UpliftRow is one customer of a synthetic campaign for the uplift model:
// a few features the planted kind depends on, its arm, its outcome and
// the truth.
type UpliftRow struct {
	TenureMonths, CareCalls, ArrearsMonths, UsageTrend, PlanPrice float64
	// Risk is the churn probability without contact: a perfect churn
	// model's score.
	Risk    float64
	Kind    string
	Treated bool
	Churned bool
	// Effect is the planted reduction in churn probability a contact
	// brings (negative for sleeping dogs).
	Effect float64
}

// UpliftCampaign draws a synthetic campaign of n customers, controlShare
// of them control, where the uplift kind follows the features: sleeping
// dogs are long-tenure customers with many care calls (high risk), lost
// causes are deep in arrears (high risk), persuadables are on dearer plans
// with falling usage (middling risk), the rest are sure things. Ranking
// by risk therefore contacts sleeping dogs and lost causes first.
func UpliftCampaign(n int, controlShare float64, seed int64) []UpliftRow {
	out := make([]UpliftRow, n)
	prices := []float64{10, 20, 30, 45}
	for i := range out {
		r := newRand(seed, 0x0b1f, uint64(i), 0)
		x := UpliftRow{
			TenureMonths:  float64(1 + r.IntN(84)),
			CareCalls:     float64(poisson(r, 1.2)),
			ArrearsMonths: float64(pick(r, []float64{0.7, 0.15, 0.1, 0.05})),
			UsageTrend:    math.Round(r.NormFloat64()*0.3*100) / 100,
			PlanPrice:     prices[r.IntN(len(prices))],
		}
		logit := -2.3 + 0.45*x.CareCalls + 0.8*x.ArrearsMonths - 0.012*x.TenureMonths - 1.6*x.UsageTrend + 0.01*x.PlanPrice
		x.Risk = min(maxChurnOverRange, 1/(1+math.Exp(-logit)))
		switch {
		case x.CareCalls >= 3 && x.TenureMonths >= 24:
			x.Kind = SleepingDog
		case x.ArrearsMonths >= 2:
			x.Kind = LostCause
		case x.PlanPrice >= 20 && x.UsageTrend < -0.05:
			x.Kind = Persuadable
		default:
			x.Kind = SureThing
		}
		x.Treated = r.Float64() >= controlShare
		p := x.Risk
		uReach, uAccept := r.Float64(), 0.0
		if uReach < reachProb {
			uAccept = r.Float64()
		}
		_, pt, expected := contactEffect(x.Kind, x.Risk, uReach, uAccept)
		if x.Treated {
			p = pt
		}
		x.Effect = x.Risk - expected
		x.Churned = r.Float64() < p
		out[i] = x
	}
	return out
}
