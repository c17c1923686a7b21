// Package scoring is the scoring run: it scores every current customer of
// the newest feature month with the promoted churn model and segmentation,
// values them (monthly value, lifetime value, value at risk), lists the
// recently lost for win-back, ranks the named lists, and writes the result
// twice: as one partition of crm.scores (the history of runs, for SQL) and
// as the serving snapshot the API loads (serving.Write, latest.json last).
//
// Who is in a run: every subscriber with a feature row in the newest
// feature month who is active or suspended in the newest register snapshot
// that lists them (scored), and every subscriber that snapshot shows
// deactivated in the three months before its date who has a feature row in
// the scored month or the three before it (win-back: lifecycle "lost",
// probability, CLV and value at risk 0, the last month's figures). Monthly
// value, CLV and the lists are defined at CLV, monthlyValue and lists.
//
// A run's id is its clock time (registry.NewVersion); running again with
// the same clock replaces that run's rows and snapshot, so a retried run
// never duplicates.
package scoring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/churn"
	"github.com/telcolake/telcolake/models/dataset"
	"github.com/telcolake/telcolake/models/features"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/segment"
	"github.com/telcolake/telcolake/models/serving"
)

// Runner holds a run's dependencies.
type Runner struct {
	Tables  lake.TableLoader
	Models  *registry.Registry
	Serving serving.Store
	Log     *slog.Logger
	// Shards is how many shards the serving snapshot is written in
	// (serving.ShardsFromEnv: the template's ServingShards); 0 or 1 is one
	// unsharded snapshot.
	Shards int

	costs serving.CostModel // of the run in progress
}

// Options tune a run. Zero values take the defaults.
type Options struct {
	// Now is the clock: the run's id and scored_at (default time.Now).
	Now func() time.Time
	// ListSize caps every list (default 1000).
	ListSize int
	// Costs are the rates of the cost to serve, for profit and CLV
	// (nil: serving.DefaultCosts).
	Costs *serving.CostModel
	// AnnualDiscount is the annual discount rate of CLV (default 0.10).
	AnnualDiscount float64
	// HorizonMonths is how many months CLV sums (default 60).
	HorizonMonths int
}

// Defaults of Options.
const (
	DefaultListSize       = 1000
	DefaultAnnualDiscount = 0.10
	DefaultHorizonMonths  = 60
	defaultLabelHorizon   = 2 // when the churn model's run does not say
	badDebtDefaultHorizon = 3 // when the bad-debt model's run does not say
	reasonsPerCustomer    = 3
	winBackMonths         = 3
)

func (o Options) withDefaults() (Options, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ListSize == 0 {
		o.ListSize = DefaultListSize
	}
	if o.Costs == nil {
		c := serving.DefaultCosts
		o.Costs = &c
	}
	if err := o.Costs.Validate(); err != nil {
		return o, fmt.Errorf("scoring: %w", err)
	}
	if o.AnnualDiscount == 0 {
		o.AnnualDiscount = DefaultAnnualDiscount
	}
	if o.HorizonMonths == 0 {
		o.HorizonMonths = DefaultHorizonMonths
	}
	switch {
	case o.ListSize < 0:
		return o, fmt.Errorf("scoring: list size %d, want a positive number", o.ListSize)
	case o.AnnualDiscount < 0:
		return o, fmt.Errorf("scoring: annual discount %v, want a rate ≥ 0", o.AnnualDiscount)
	case o.HorizonMonths < 0:
		return o, fmt.Errorf("scoring: horizon %d months, want a positive number", o.HorizonMonths)
	}
	return o, nil
}

// Result summarises a run for logs, the demo and the function's answer.
type Result struct {
	Run          string `json:"run"`
	FeatureMonth string `json:"feature_month"`
	// Built are the feature months this run had to build first.
	Built        []features.MonthResult `json:"feature_months_built,omitempty"`
	Scored       int                    `json:"scored"`
	WinBack      int                    `json:"win_back"`
	ChurnModel   string                 `json:"churn_model"`
	SegmentModel string                 `json:"segment_model"`
	// BadDebtModel is the bad-debt model's version, "" without one;
	// MeanBadDebt the scored customers' mean bad-debt probability.
	BadDebtModel     string             `json:"bad_debt_model,omitempty"`
	MeanBadDebt      float64            `json:"mean_bad_debt_probability"`
	MeanProbability  float64            `json:"mean_probability"`
	TotalValueAtRisk float64            `json:"total_value_at_risk"`
	TotalProfit      float64            `json:"total_monthly_profit"` // of the scored customers
	Value            serving.ValueModel `json:"value_model"`
	Lists            []ListSummary      `json:"lists"`
	Seconds          float64            `json:"seconds"`
	Snapshot         serving.Pointer    `json:"snapshot"`
	// Held is the most the commit held at once of the buckets' parts.
	Held *Held `json:"commit_held,omitempty"`
}

// Held is what a commit held at once: the rank rows of one bucket, the
// serving pieces of one shard, and of the ranks' inputs the numbers of the
// histogram bins where the quantiles and cut-offs are (RankedNumbers).
// TestCommitHoldsOneBucket checks that the first two do not grow with the
// run beyond a bucket and a shard, and the third stays under one number
// per customer.
type Held struct {
	RankRows      int   `json:"rank_rows"`
	PieceBytes    int64 `json:"piece_bytes"`
	RankedNumbers int   `json:"ranked_numbers"`
}

// ErrNoModel means train has not promoted a model of a kind yet.
var ErrNoModel = errors.New("run train first")

// ErrNoFeatures means there is nothing to score: no bills, hence no
// feature month.
var ErrNoFeatures = errors.New("scoring: no feature month to score (no bills in crm.bills yet)")

// Lifecycle stages.
const (
	lifecycleNew         = "new"         // tenure under 3 months
	lifecycleEstablished = "established" // 3 to 23 months
	lifecycleLoyal       = "loyal"       // 24 months or more
	lifecycleSuspended   = "suspended"   // suspended in the register
	lifecycleLost        = "lost"        // deactivated
)

// Run does one scoring run in one process: the plan, every subscriber
// in one pass (what a bucket of the fan-out does for its subscribers),
// split into the buckets' parts, the rank step, each serving shard and
// the commit. The DailyScore state machine runs the same steps with one
// invocation per bucket and per shard (Handle); both give the same rows
// and files.
func (r *Runner) Run(ctx context.Context, opt Options) (*Result, error) {
	t0 := time.Now()
	p, built, err := r.Plan(ctx, opt)
	if err != nil {
		return nil, err
	}
	m, err := r.models(ctx, p)
	if err != nil {
		return nil, err
	}
	all, err := r.scorePart(ctx, p, m, -1)
	if err != nil {
		return nil, err
	}
	prev, err := r.prevTiers(ctx, p, -1)
	if err != nil {
		return nil, err
	}
	var parts []Part
	for _, part := range all.split() {
		pt, err := r.storeBucket(ctx, p, part, prev)
		if err != nil {
			return nil, err
		}
		parts = append(parts, *pt)
	}
	all = nil
	rk, err := r.Rank(ctx, p, parts)
	if err != nil {
		return nil, err
	}
	var shards []ShardDone
	for _, t := range rk.Shards {
		sd, err := r.Shard(ctx, t.Ranked, t.Shard)
		if err != nil {
			return nil, err
		}
		shards = append(shards, *sd)
	}
	res, err := r.Commit(ctx, p, rk.Key, shards)
	if err != nil {
		return nil, err
	}
	res.Built = built
	res.Seconds = time.Since(t0).Seconds()
	return res, nil
}

// rowGroup is a rank row's group in a grouping of the causes report.
func rowGroup(by string, r *rankRow) string {
	switch by {
	case "region":
		return orUnknown(r.Region)
	case "plan":
		return orUnknown(r.Plan)
	}
	return orUnknown(r.SegmentName)
}

// featureMonth returns the month to score: the newest feature month (and
// every feature month, oldest first), after
// building the bill months that have no features yet (so a month whose
// bills arrived after the last training run is scored, not its
// predecessor).
func (r *Runner) featureMonth(ctx context.Context, opt Options, res *Result) (time.Time, []time.Time, error) {
	bills, err := features.BillMonths(ctx, r.Tables)
	if err != nil {
		return time.Time{}, nil, err
	}
	have, err := features.BuiltMonths(ctx, r.Tables)
	if err != nil {
		return time.Time{}, nil, err
	}
	var build []time.Time
	for _, m := range bills {
		if !have[m] {
			build = append(build, m)
		}
	}
	if len(build) > 0 {
		b := &features.Builder{Tables: r.Tables, Log: r.Log, Now: opt.Now}
		if res.Built, err = b.Build(ctx, build); err != nil {
			return time.Time{}, nil, err
		}
		for _, m := range build {
			have[m] = true
		}
	}
	months := slices.SortedFunc(maps.Keys(have), time.Time.Compare)
	if len(months) == 0 {
		return time.Time{}, nil, ErrNoFeatures
	}
	return months[len(months)-1], months, nil
}

// scorePart scores the feature month's current customers of one
// subscriber bucket (all of them when bucket < 0) and adds its recently
// lost ones; the part is sorted by subscriber id. Value tiers are left
// for the commit (they rank every bucket's customers).
func (r *Runner) scorePart(ctx context.Context, p *Plan, m *models, bucket int) (*partial, error) {
	month, err := time.Parse("2006-01", p.FeatureMonth)
	if err != nil {
		return nil, fmt.Errorf("scoring: plan's feature month %q: %w", p.FeatureMonth, err)
	}
	r.costs = p.Value.Costs
	keep := func(string) bool { return true }
	var set *features.Set
	from := month.AddDate(0, -winBackMonths, 0)
	var read lake.ScanCost // of crm.features
	if bucket < 0 {
		set, err = features.Load(ctx, r.Tables, from, month, lake.CountInto(&read))
	} else {
		keep = func(id string) bool { return lake.SubscriberBucket(id) == bucket }
		set, err = features.LoadBucket(ctx, r.Tables, from, month, bucket, lake.CountInto(&read))
	}
	if err != nil {
		return nil, err
	}
	// The three months before month hold the win-back candidates' last
	// rows; history goes back six months.
	reg, err := loadRegister(ctx, r.Tables, keep)
	if err != nil {
		return nil, err
	}
	// One scan of crm.features for the history and the lifecycle report's
	// share (every month).
	rs, err := r.newReportScan(p, reg, bucket)
	if err != nil {
		return nil, err
	}
	hist, err := loadHistory(ctx, r.Tables, month.AddDate(0, -5, 0), month, bucket, reportColumns, rs.features, lake.CountInto(&read))
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cm, sm := m.churn, m.segment

	// Who: month's rows of customers still active or suspended; the
	// newest row of each customer deactivated in the last three months
	// before the newest register snapshot (of every bucket: loadRegister
	// sees every row's export date).
	last := map[string]int{}
	seen := map[string]bool{}
	var current []int
	for i, id := range set.IDs {
		if j, ok := last[id]; !ok || set.Months[j].Before(set.Months[i]) {
			last[id] = i
		}
		if !set.Months[i].Equal(month) || seen[id] {
			continue
		}
		seen[id] = true
		if p := reg.people[id]; p != nil && p.status == "deactivated" {
			continue
		}
		current = append(current, i)
	}
	cutoff := epochDay(dayTime(reg.newest).AddDate(0, -winBackMonths, 0))
	var lost []int
	for id, ps := range reg.people {
		if ps.status != "deactivated" || ps.statusDate <= cutoff || ps.statusDate > reg.newest {
			continue
		}
		if i, ok := last[id]; ok {
			lost = append(lost, i)
		}
	}

	out := &partial{Bucket: bucket, Customers: make([]serving.Customer, 0, len(current)+len(lost)), read: read}
	if len(current) > 0 {
		cur := set.Subset(current)
		probs, reasons, err := cm.Score(cur, reasonsPerCustomer)
		if err != nil {
			return nil, fmt.Errorf("scoring: %w", err)
		}
		segs, err := sm.Assign(cur)
		if err != nil {
			return nil, fmt.Errorf("scoring: %w", err)
		}
		// Bad debt beside churn, on the same rows, with its own reasons.
		var debt []float64
		var debtReasons [][]churn.Reason
		if m.badDebt != nil {
			if debt, debtReasons, err = m.badDebt.Score(cur, reasonsPerCustomer); err != nil {
				return nil, fmt.Errorf("scoring: bad debt: %w", err)
			}
		}
		for k, i := range current {
			bd, bdReasons := 0.0, []string{}
			if debt != nil {
				bd = debt[k]
				for _, rs := range debtReasons[k] {
					bdReasons = append(bdReasons, rs.Phrase)
				}
			}
			c := r.customer(set, i, reg, hist, sm, segs[k], bd)
			c.BadDebtProbability, c.BadDebtReasons = bd, bdReasons
			c.Probability = probs[k]
			c.Reasons = make([]string, 0, len(reasons[k]))
			for _, rs := range reasons[k] {
				c.Reasons = append(c.Reasons, rs.Phrase)
			}
			// Money in whole cents, as the serving contract stores it.
			c.CLV = cents(CLV(p.Value, c.Profit, c.Probability))
			c.ValueAtRisk = cents(c.Probability * c.CLV)
			out.Customers = append(out.Customers, c)
			out.Scored = append(out.Scored, true)
		}
		if m.uplift != nil {
			if err := scoreUplift(m.uplift, m.upliftMeta, cur, out.Customers); err != nil {
				return nil, err
			}
		}
	}
	if len(lost) > 0 {
		lostSegs, err := sm.Assign(set.Subset(lost))
		if err != nil {
			return nil, fmt.Errorf("scoring: %w", err)
		}
		for k, i := range lost {
			c := r.customer(set, i, reg, hist, sm, lostSegs[k], 0)
			c.Reasons, c.BadDebtReasons = []string{}, []string{}
			// Lost: probability, CLV and value at risk stay 0 (no future
			// value unless won back); the list ranks them by monthly value.
			out.Customers = append(out.Customers, c)
			out.Scored = append(out.Scored, false)
		}
	}
	out.sort()
	out.survival = survivalTallies(reg, out.Customers, bucket)
	if out.report, err = rs.finish(ctx, out.Customers); err != nil {
		return nil, err
	}
	out.scores = rs.scores
	return out, nil
}

// customer fills the profile, the feature month's figures, the segment,
// the monthly value and the history of the customer of row i of set.
func (r *Runner) customer(set *features.Set, i int, reg *register, hist map[string]history, sm *segment.Model, segID int, badDebt float64) serving.Customer {
	id := set.IDs[i]
	// Columns the models do not use (gender) are not in the frame: the
	// register has them.
	cat := func(name string) string {
		if c := set.Col(name); c != nil && c.Kind == dataset.Categorical {
			return c.Cat[i]
		}
		return ""
	}
	num := func(name string) float64 {
		if c := set.Col(name); c != nil && c.Kind == dataset.Numeric {
			return zeroNaN(c.Num[i])
		}
		return 0
	}
	c := serving.Customer{
		SubscriberID: id, Gender: cat("gender"), AgeBand: cat("age_band"), Region: cat("region"),
		Plan: cat("plan"), PaymentMethod: cat("payment_method"), Status: cat("status"),
		TenureMonths: int32(num("tenure_months")),
		VoiceMinutes: num("voice_minutes"), VoiceCalls: int32(num("voice_calls")), SMS: int32(num("sms")),
		DataMB: num("data_mb"), RoamingCalls: int32(num("roaming_calls")), IntlCalls: int32(num("intl_calls")),
		CareCalls: int32(num("care_calls")), DistinctContact: int32(num("distinct_contacts")),
		AmountDue: cents(num("amount_due")), Arrears: cents(num("arrears")), MonthsInArrears: int32(num("months_in_arrears")),
		SegmentID: int32(segID),
	}
	if p := reg.people[id]; p != nil {
		c.MSISDN, c.Name, c.Status = p.msisdn, p.name, p.status
		c.ActivationDate, c.StatusDate = dayString(p.activation), dayString(p.statusDate)
		for _, v := range []struct {
			dst *string
			src string
		}{{&c.Gender, p.gender}, {&c.Region, p.region}, {&c.Plan, p.plan}, {&c.PaymentMethod, p.payment}} {
			if v.src != "" {
				*v.dst = v.src
			}
		}
	}
	if p := reg.people[id]; p != nil {
		c.Occupation, c.Education, c.District = p.occupation, p.education, p.district
		c.IncomeBand = p.income
	}
	if c.IncomeBand == "" {
		c.IncomeBand = cat("income_band")
	}
	c.Discount, c.CreditUse = cents(num("discount")), num("credit_use")
	c.VoiceMinutesTrend, c.CallsTrend, c.DataTrend = num("voice_minutes_trend"), num("calls_trend"), num("data_trend")
	c.ContactsTrend, c.SpendTrend = num("contacts_trend"), num("spend_trend")
	if s, ok := sm.Segment(segID); ok {
		c.SegmentName = s.Name
	}
	c.Lifecycle = lifecycle(c.Status, c.TenureMonths)

	// History up to this row's month, at most six months.
	h := hist[id]
	upTo := set.Months[i].Format("2006-01")
	end := len(h)
	for end > 0 && h[end-1].Month > upTo {
		end--
	}
	h = h[max(0, end-6):end]
	c.MonthlyValue = monthlyValue(h)
	c.CostToServe, c.Profit = Profit(r.costs, Usage{MonthlyValue: c.MonthlyValue, Discount: c.Discount,
		VoiceMinutes: c.VoiceMinutes, OffnetShare: num("offnet_share"), IntlCalls: float64(c.IntlCalls),
		AvgCallS: num("avg_call_s"), CareCalls: float64(c.CareCalls), Arrears: c.Arrears, BadDebtProbability: badDebt})
	c.History = make([]serving.Month, len(h))
	for k, m := range h {
		m.VoiceMinutes, m.DataMB = zeroNaN(m.VoiceMinutes), zeroNaN(m.DataMB)
		m.AmountDue, m.AmountPaid, m.Arrears = cents(zeroNaN(m.AmountDue)), cents(zeroNaN(m.AmountPaid)), cents(zeroNaN(m.Arrears))
		c.History[k] = m
	}
	return c
}

// cents rounds money read back as float64 (decimal → binary) to cents.
func cents(v float64) float64 { return math.Round(v*100) / 100 }

// lifecycle is the stage of a customer with the given register status and
// tenure.
func lifecycle(status string, tenure int32) string {
	switch {
	case status == "deactivated":
		return lifecycleLost
	case status == "suspended":
		return lifecycleSuspended
	case tenure < 3:
		return lifecycleNew
	case tenure < 24:
		return lifecycleEstablished
	}
	return lifecycleLoyal
}

func (r *Runner) info(ctx context.Context, msg string, args ...any) {
	if r.Log != nil {
		r.Log.InfoContext(ctx, msg, args...)
	}
}

func (r *Runner) warn(ctx context.Context, msg string, args ...any) {
	if r.Log != nil {
		r.Log.WarnContext(ctx, msg, args...)
	}
}
