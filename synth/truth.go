package synth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// TruthKey is where Generate writes the ground truth when Config.Truth is
// set: beside exports/, never inside it, so it is not delivered with the
// exports.
const TruthKey = "truth/churn.csv.gz"

// TruthColumns is the header of the truth file (README.md, Ground truth).
var TruthColumns = []string{
	"subscriber_id", "month", "status", "hazard", "churn_month", "churn_date", "sign_level",
	"plan_logodds", "tenure_logodds", "arrears_logodds", "income_logodds", "noise_logodds", "signs_logodds",
	"dominant", "oracle_1m", "oracle_2m", "oracle_3m",
}

// Drivers are the planted churn drivers a truth row can name as dominant.
// Plan, tenure, arrears (opening arrears and bad payers) and income move
// the monthly hazard; signs are the pre-churn behaviour drawn from the
// churn decision (falling usage, care calls, calls to competitors, unpaid
// bills).
const (
	DriverPlan    = "plan"
	DriverTenure  = "tenure"
	DriverArrears = "arrears"
	DriverIncome  = "income"
	DriverSigns   = "signs"
)

// DominantMin is the smallest log-odds contribution that makes a driver
// dominant: below it no planted driver stands out.
const DominantMin = 0.5

// signsHorizon is the label horizon signs_logodds is computed for.
const signsHorizon = 2

// Parameters of the sign process, as drawChurn draws it.
const (
	signProbChurn   = 0.8  // churners who show signs
	signLeadMin     = 35   // signs start 35 … 90 days before churn
	signLeadSpan    = 56   // number of possible lead days
	signStrChurnLo  = 0.55 // churners' sign strength is uniform on [0.55, 1)
	signStrChurnW   = 0.45 //
	falseAlarmProb  = 0.035
	falseAlarmLen   = 30 // false alarms last 30 … 75 days
	falseAlarmSpan  = 46
	signStrFalseLo  = 0.4 // false alarms' strength is uniform on [0.4, 0.9)
	signStrFalseW   = 0.5
	suspBadProb     = 0.12  // bad postpaid payers suspended in the window
	suspEarlyProb   = 0.002 // others suspended before the window
	churnGraceDays  = 14    // no churn in the first 14 days
	suspGraceDays   = 30
	earlySuspMinAge = 90
)

// terms returns subscriber s's hazard terms: plan, tenure, arrears,
// income, and the latent noise (score minus the others).
func (g *generator) terms(s *subscriber) [5]float64 {
	var t [5]float64
	t[0] = plans[s.plan].churnLogit
	switch tenure := float64(g.startDay-s.actDay) / 365; {
	case tenure < 1:
		t[1] = 0.8
	case tenure < 2:
		t[1] = 0.3
	case tenure > 5:
		t[1] = -0.3
	}
	t[2] = min(1.2, float64(s.arrears0)/100*0.004)
	if s.payer == payerBad {
		t[2] += 0.4
	}
	t[3] = []float64{-0.4, -0.2, 0, 0.3, 0.6}[s.income]
	t[4] = s.score - t[0] - t[1] - t[2] - t[3]
	return t
}

// truthGen holds what every truth row needs.
type truthGen struct {
	g         *generator
	intercept float64
	mean      [4]float64 // population means of the observable hazard terms
}

func (g *generator) newTruth(intercept float64) *truthGen {
	tg := &truthGen{g: g, intercept: intercept}
	for i := range g.subs {
		t := g.terms(&g.subs[i])
		for k := range tg.mean {
			tg.mean[k] += t[k]
		}
	}
	for k := range tg.mean {
		tg.mean[k] /= float64(len(g.subs))
	}
	return tg
}

// writeTruth writes TruthKey: one row per subscriber and month in which
// the subscriber was a customer at some point, month by month.
func (g *generator) writeTruth(ctx context.Context, sink Sink, tg *truthGen) error {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	w, err := sink.Create(ctx, TruthKey)
	if err != nil {
		return fmt.Errorf("gen %s: %w", TruthKey, err)
	}
	zw.Reset(w)
	fail := func(err error) error {
		w.Close()
		return fmt.Errorf("gen %s: %w", TruthKey, err)
	}
	if _, err := zw.Write(appendHeader(nil, TruthColumns)); err != nil {
		return fail(err)
	}
	chunk := (len(g.subs) + g.workers - 1) / g.workers
	parts := make([][]byte, g.workers)
	for m := range g.cfg.Months {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		var wg sync.WaitGroup
		for k := range parts {
			lo, hi := k*chunk, min(len(g.subs), (k+1)*chunk)
			wg.Go(func() {
				b := parts[k][:0]
				for i := lo; i < hi; i++ {
					b = tg.appendRow(b, i, m)
				}
				parts[k] = b
			})
		}
		wg.Wait()
		for _, p := range parts {
			if _, err := zw.Write(p); err != nil {
				return fail(err)
			}
		}
	}
	if err := zw.Close(); err != nil {
		return fail(err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("gen %s: %w", TruthKey, err)
	}
	return nil
}

// appendRow appends subscriber i's truth row for month m, if i was a
// customer during m.
func (tg *truthGen) appendRow(b []byte, i, m int) []byte {
	g := tg.g
	s := &g.subs[i]
	ms, me := g.monthStart[m], g.monthStart[m+1]
	if s.actDay >= me || (s.churnDay != 0 && s.churnDay < ms) {
		return b
	}
	status := "active"
	switch {
	case s.churnDay != 0 && s.churnDay < me:
		status = "deactivated"
	case s.suspDay != 0 && s.suspDay < me:
		status = "suspended"
	}
	h := sigmoid(tg.intercept + s.score)
	t := g.terms(s)

	b = append(b, 'S')
	b = appendPad(b, uint64(i)+1, 7)
	b = append(b, ',')
	b = append(b, g.monthLabel[m]...)
	b = append(b, ',')
	b = append(b, status...)
	b = append(b, ',')
	b = appendFloat(b, min(1, h*s.hazardFactor(m)))
	b = append(b, ',')
	if s.churnDay != 0 {
		b = append(b, dayTime(s.churnDay).Format("2006-01")...)
		b = append(b, ',')
		b = appendDate(b, s.churnDay)
	} else {
		b = append(b, ',')
	}
	b = append(b, ',')
	b = appendFloat(b, s.signs(me-1))
	contrib := [5]float64{t[0] - tg.mean[0], t[1] - tg.mean[1], t[2] - tg.mean[2], t[3] - tg.mean[3], t[4]}
	for _, c := range contrib {
		b = append(b, ',')
		b = appendFloat(b, c)
	}
	var post, prior [3]float64
	active := status != "deactivated"
	if active {
		post = tg.posterior(s, m, h, true)
		prior = tg.posterior(s, m, h, false)
	}
	signs := 0.0
	if active {
		signs = logit(post[signsHorizon-1]) - logit(prior[signsHorizon-1])
	}
	b = append(b, ',')
	b = appendFloat(b, signs)
	b = append(b, ',')
	best, bestV := "", DominantMin
	for k, v := range [5]float64{contrib[0], contrib[1], contrib[2], contrib[3], signs} {
		if v >= bestV {
			best, bestV = [...]string{DriverPlan, DriverTenure, DriverArrears, DriverIncome, DriverSigns}[k], v
		}
	}
	b = append(b, best...)
	for _, p := range post {
		b = append(b, ',')
		if active {
			b = appendFloat(b, p)
		}
	}
	return append(b, '\n')
}

// posterior returns, for a subscriber who is a customer at the end of
// month m, the exact probability that the generator deactivates them in
// the next 1, 2 and 3 months given everything it decided that shows by
// that month's end: the hazard h (before a plan change's price effect), survival so far, whether they are
// suspended, and the pre-churn sign curve up to the month's last day
// (when it started, its slope, whether it has ended). With withSigns
// false the sign curve is ignored: the hazard-only probability.
func (tg *truthGen) posterior(s *subscriber, m int, h float64, withSigns bool) [3]float64 {
	g := tg.g
	e := g.monthStart[m+1] // first day after the month
	// Under "stays through the window" (NC): the suspension and the
	// false-alarm evidence.
	nc := 1.0
	suspended := s.suspDay != 0 && s.suspDay < e
	if suspended {
		return [3]float64{} // suspended customers are never deactivated
	}
	switch {
	case s.payer == payerBad && s.plan != planPrepaid:
		first := max(g.startDay, s.actDay+suspGraceDays)
		if first < g.endDay {
			nc *= 1 - suspBadProb*float64(clamp32(e-first, 0, g.endDay-first))/float64(g.endDay-first)
		}
	case s.actDay < g.startDay-earlySuspMinAge:
		nc *= 1 - suspEarlyProb
	}
	started := s.signEnd != 0 && s.signStart < e
	ended := started && s.signEnd < e
	if !withSigns {
		started, ended = false, false
	}
	falseLen := float64(g.endDay - g.startDay + falseAlarmLen)
	var slope float64
	switch {
	case ended:
		return [3]float64{} // a churner's signs end with the churn: a false alarm
	case started:
		s0 := s.signStart
		slope = s.signStr / float64(s.signEnd-s0)
		var l float64
		for k := range falseAlarmSpan {
			T := int32(falseAlarmLen + k)
			str := slope * float64(T)
			if s0+T >= e && str >= signStrFalseLo && str < signStrFalseLo+signStrFalseW {
				l += float64(T) / signStrFalseW / falseAlarmSpan
			}
		}
		nc *= falseAlarmProb / falseLen * l
	case withSigns:
		lo := g.startDay - falseAlarmLen
		nc *= 1 - falseAlarmProb*float64(clamp32(e-lo, 0, g.endDay-lo))/falseLen
	}
	// lik is the likelihood of the sign evidence if the churn day is d.
	lik := func(d int32) float64 {
		switch {
		case !withSigns:
			return 1
		case started:
			j := d - signLeadMin - s.signStart
			str := slope * float64(d-s.signStart)
			if j < 0 || j >= signLeadSpan || str < signStrChurnLo || str >= signStrChurnLo+signStrChurnW {
				return 0
			}
			return signProbChurn / signLeadSpan * float64(d-s.signStart) / signStrChurnW
		}
		late := clamp32(d-signLeadMin-e+1, 0, signLeadSpan)
		return 1 - signProbChurn + signProbChurn*float64(late)/signLeadSpan
	}
	var churnBy [3]float64 // joint probability of churning in month m+1+k and the evidence
	var total float64
	surv := 1.0
	for c := m + 1; c < g.cfg.Months; c++ {
		ms, me := g.monthStart[c], g.monthStart[c+1]
		first := max(ms, s.actDay+churnGraceDays)
		if first >= me {
			continue
		}
		var l float64
		switch {
		case started && (me <= s.signStart+signLeadMin || first >= s.signStart+signLeadMin+signLeadSpan):
			// No churn day in this month fits the sign curve.
		case withSigns && (started || first < e+signLeadMin+signLeadSpan):
			for d := first; d < me; d++ {
				l += lik(d)
			}
			l /= float64(me - first)
		default:
			l = 1
		}
		hc := min(1, h*s.hazardFactor(c)) // after a plan change, the price effect
		p := surv * hc * l
		total += p
		for k := c - m - 1; k < len(churnBy); k++ {
			churnBy[k] += p
		}
		surv *= 1 - hc
	}
	total += surv * nc
	var out [3]float64
	if total <= 0 {
		return out
	}
	for k := range out {
		out[k] = churnBy[k] / total
	}
	return out
}

func clamp32(v, lo, hi int32) int32 { return min(hi, max(lo, v)) }

// logit is the log-odds of p, with p kept inside [1e-6, 1-1e-6].
func logit(p float64) float64 {
	p = min(1-1e-6, max(1e-6, p))
	return math.Log(p / (1 - p))
}

// appendFloat appends v with 6 significant digits.
func appendFloat(b []byte, v float64) []byte {
	if v == 0 {
		return append(b, '0')
	}
	return strconv.AppendFloat(b, v, 'g', 6, 64)
}

// TruthRow is one row of the truth file.
type TruthRow struct {
	SubscriberID string
	Month        string // YYYY-MM
	Status       string // at the month's end: active, suspended or deactivated
	Hazard       float64
	ChurnMonth   string // YYYY-MM, "" if the subscriber stays through the window
	ChurnDate    string // YYYY-MM-DD or ""
	SignLevel    float64
	// Contributions are the drivers' log-odds: plan, tenure, arrears and
	// income relative to the population mean, signs for a 2-month horizon.
	Contributions map[string]float64
	Noise         float64
	Dominant      string // the driver with the largest contribution ≥ DominantMin, or ""
	// Oracle holds the exact churn probability within 1, 2 and 3 months;
	// NaN for a row deactivated during the month.
	Oracle [3]float64
}

// ReadTruth reads the rows of one month (YYYY-MM; "" for all) from a truth
// file written under TruthKey, gzip-compressed or not, keyed by subscriber
// id (and month, as "S0000001 2026-08", when month is "").
func ReadTruth(r io.Reader, month string) (map[string]TruthRow, error) {
	br := bufio.NewReader(r)
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("truth: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("truth: header: %w", err)
	}
	if !slices.Equal(head, TruthColumns) {
		return nil, fmt.Errorf("truth: header is %q, want %q", strings.Join(head, ","), strings.Join(TruthColumns, ","))
	}
	out := map[string]TruthRow{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("truth: line %d: %w", line, err)
		}
		if month != "" && rec[1] != month {
			continue
		}
		row, err := parseTruth(rec)
		if err != nil {
			return nil, fmt.Errorf("truth: line %d: %w", line, err)
		}
		key := row.SubscriberID
		if month == "" {
			key += " " + row.Month
		}
		out[key] = row
	}
}

func parseTruth(rec []string) (TruthRow, error) {
	row := TruthRow{SubscriberID: rec[0], Month: rec[1], Status: rec[2], ChurnMonth: rec[4], ChurnDate: rec[5],
		Dominant: rec[13], Contributions: make(map[string]float64, 5)}
	num := func(i int) (float64, error) {
		if rec[i] == "" {
			return math.NaN(), nil
		}
		v, err := strconv.ParseFloat(rec[i], 64)
		if err != nil {
			return 0, fmt.Errorf("column %s: %w", TruthColumns[i], err)
		}
		return v, nil
	}
	var err error
	var v [17]float64
	for _, i := range []int{3, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16} {
		if v[i], err = num(i); err != nil {
			return row, err
		}
	}
	row.Hazard, row.SignLevel, row.Noise = v[3], v[6], v[11]
	for k, d := range []string{DriverPlan, DriverTenure, DriverArrears, DriverIncome} {
		row.Contributions[d] = v[7+k]
	}
	row.Contributions[DriverSigns] = v[12]
	row.Oracle = [3]float64{v[14], v[15], v[16]}
	return row, nil
}
