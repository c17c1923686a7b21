package synth

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Deliberate non-payers: a minority of postpaid subscribers who stop
// paying on purpose. Each has a stop day from which no bill is paid, and
// before it a run-up (signs) that shows in the data before any arrears do:
//
//   - who: more often new accounts (activated less than six months before
//     the window or inside it), paying by cash or bank transfer rather than
//     direct debit, and in the lower income bands;
//   - usage: from the run-up's start, extra long international calls
//     (expensive, so high-value calls too), which push the bill towards
//     the credit limit;
//   - payments: in the run-up's last weeks bills are paid only in part
//     (falling payments); from the stop day nothing is paid, so arrears
//     grow month by month.
//
// They are drawn from their own random stream (streamDebt), after every
// other trait, so planting them changed no other subscriber's draws. The
// ground truth (BadDebtTruthKey) lists them with their stop and run-up
// days; the prepaid → postpaid switch some real non-payers make is not
// planted (plan changes, planchange.go, are between postpaid plans).
const (
	debtBaseProb   = 0.025 // per postpaid subscriber, before the multipliers
	debtNewMult    = 3.0   // account under six months old at the window's start, or opened in it
	debtCashMult   = 2.0   // cash or bank transfer
	debtDebitMult  = 0.6   // direct debit
	debtIncomeMult = 1.5   // income bands D and E
	debtLeadMin    = 30    // the run-up starts 30 … 59 days before the stop
	debtLeadSpan   = 30
	debtIntlPerDay = 0.7 // extra international calls a day during the run-up
	debtPartialPay = 0.6 // chance a run-up bill in the stop's month or the one before is paid in part
)

// streamDebt is the random stream of the non-payers (after streamPlan).
const streamDebt = streamPlan + 1

// BadDebtTruthKey is where Generate writes the non-payers' ground truth
// when Config.Truth is set, beside TruthKey.
const BadDebtTruthKey = "truth/baddebt.csv.gz"

// BadDebtTruthColumns is the header of BadDebtTruthKey: one row per
// deliberate non-payer; signs_from is the run-up's first day, stop_date
// the first day from which no bill is paid.
var BadDebtTruthColumns = []string{"subscriber_id", "signs_from", "stop_date"}

// drawNonPayers picks the deliberate non-payers and their days.
func (g *generator) drawNonPayers() {
	for i := range g.subs {
		s := &g.subs[i]
		if s.plan == planPrepaid {
			continue
		}
		r := newRand(g.cfg.Seed, streamDebt, uint64(i), 0)
		p := debtBaseProb
		isNew := s.actDay >= g.startDay-182
		if isNew {
			p *= debtNewMult
		}
		switch payMethods[s.payMethod] {
		case "cash", "bank_transfer":
			p *= debtCashMult
		case "direct_debit":
			p *= debtDebitMult
		}
		if s.income >= 3 {
			p *= debtIncomeMult
		}
		if r.Float64() >= p {
			continue
		}
		var stop int32
		if isNew {
			stop = max(s.actDay, g.startDay) + 40 + int32(r.IntN(60))
		} else {
			stop = g.startDay + 30 + int32(r.IntN(int(max(1, g.endDay-g.startDay-30))))
		}
		if stop >= g.endDay || (s.churnDay != 0 && s.churnDay <= stop) || (s.suspDay != 0 && s.suspDay <= stop) {
			continue
		}
		s.debtStop = stop
		s.debtFrom = max(s.actDay, stop-debtLeadMin-int32(r.IntN(debtLeadSpan)))
	}
}

// debtSigns reports whether s is a deliberate non-payer in its run-up or
// past its stop day on day d.
func (s *subscriber) debtSigns(d int32) bool {
	return s.debtStop != 0 && d >= s.debtFrom
}

// debtCalls appends the run-up's extra international calls of day day.
func (w *dayWorker) debtCalls(s *subscriber, day int32, base cdrRec, place func(*cdrRec, int)) {
	if !s.debtSigns(day) {
		return
	}
	r := w.r
	p := &plans[s.planOn(day)]
	for range poisson(r, debtIntlPerDay) {
		rec := base
		rec.typ = typeVoice
		rec.out = true
		rec.net = netIntl
		rec.intl = true
		rec.other = intlNumber(r)
		rec.dur = int32(min(7200, max(60, math.Exp(math.Log(480)+0.6*r.NormFloat64()))))
		place(&rec, 10+r.IntN(12))
		rec.charge = (max(p.intl, 1900)*int64(rec.dur) + 30) / 60
		w.recs = append(w.recs, rec)
	}
}

// debtPaid is what a deliberate non-payer pays of due in month [ms, me):
// nothing from the stop day's month on, part of it (with some chance) in
// the month before, the rest as usual (ok false).
func (s *subscriber) debtPaid(r interface{ Float64() float64 }, due int64, ms, me int32) (int64, bool) {
	switch {
	case s.debtStop == 0 || me <= s.debtFrom:
		return 0, false
	case s.debtStop < me:
		return 0, true
	case s.debtStop-ms < 62 && r.Float64() < debtPartialPay:
		return due * int64(30+int(r.Float64()*50)) / 100, true
	}
	return 0, false
}

// writeBadDebtTruth writes BadDebtTruthKey.
func (g *generator) writeBadDebtTruth(ctx context.Context, sink Sink) error {
	w, err := sink.Create(ctx, BadDebtTruthKey)
	if err != nil {
		return fmt.Errorf("gen %s: %w", BadDebtTruthKey, err)
	}
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	b := appendHeader(nil, BadDebtTruthColumns)
	for i := range g.subs {
		s := &g.subs[i]
		if s.debtStop == 0 {
			continue
		}
		b = append(b, 'S')
		b = appendPad(b, uint64(i)+1, 7)
		b = append(b, ',')
		b = appendDate(b, s.debtFrom)
		b = append(b, ',')
		b = appendDate(b, s.debtStop)
		b = append(b, '\n')
	}
	if _, err := zw.Write(b); err != nil {
		w.Close()
		return fmt.Errorf("gen %s: %w", BadDebtTruthKey, err)
	}
	if err := zw.Close(); err != nil {
		w.Close()
		return fmt.Errorf("gen %s: %w", BadDebtTruthKey, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("gen %s: %w", BadDebtTruthKey, err)
	}
	return nil
}

// NonPayer is one deliberate non-payer of the ground truth.
type NonPayer struct {
	SignsFrom, Stop time.Time
}

// ReadBadDebtTruth reads a BadDebtTruthKey file (gzip CSV): the
// deliberate non-payers by subscriber id.
func ReadBadDebtTruth(r io.Reader) (map[string]NonPayer, error) {
	zr, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("bad-debt truth: %w", err)
	}
	cr := csv.NewReader(zr)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("bad-debt truth: header: %w", err)
	}
	if len(head) != len(BadDebtTruthColumns) || head[0] != BadDebtTruthColumns[0] {
		return nil, fmt.Errorf("bad-debt truth: header %v, want %v", head, BadDebtTruthColumns)
	}
	out := map[string]NonPayer{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("bad-debt truth: line %d: %w", line, err)
		}
		from, err1 := time.Parse(time.DateOnly, rec[1])
		stop, err2 := time.Parse(time.DateOnly, rec[2])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad-debt truth: line %d: dates %q, %q", line, rec[1], rec[2])
		}
		out[rec[0]] = NonPayer{SignsFrom: from, Stop: stop}
	}
}
