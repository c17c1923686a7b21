package synth

// buildBills returns the bills CSV body of every month. It needs the usage
// charges accumulated by the CDR generation.
func (g *generator) buildBills() [][]byte {
	out := make([][]byte, g.cfg.Months)
	for m := range out {
		out[m] = appendHeader(make([]byte, 0, 64*len(g.subs)+256), BillColumns)
	}
	for i := range g.subs {
		s := &g.subs[i]
		r := newRand(g.cfg.Seed, streamBill, uint64(i), 0)
		arrears := s.arrears0
		if s.plan == planPrepaid {
			arrears = 0
		}
		for m := range g.cfg.Months {
			ms, me := g.monthStart[m], g.monthStart[m+1]
			if s.actDay >= me || (s.churnDay != 0 && s.churnDay < ms) {
				continue
			}
			p := &plans[s.planOn(ms)] // a plan change takes effect on the month's first day
			fee := p.fee
			if s.actDay > ms {
				fee = fee * int64(me-s.actDay) / int64(me-ms)
			}
			gross := fee + (g.usage[m][i]+50)/100
			disc := min(s.discount, gross)
			due := gross - disc
			var paid int64
			switch {
			case s.plan == planPrepaid:
				paid = due
			case s.suspDay != 0 && s.suspDay < me:
				paid = 0
			case s.debtStop != 0 && s.debtFrom < me:
				// A deliberate non-payer's run-up and stop (baddebt.go).
				if pd, ok := s.debtPaid(r, due, ms, me); ok {
					paid = pd
				} else {
					paid = due
				}
			default:
				si := s.signs(min(me-1, s.signEnd-1))
				if s.signEnd == 0 || s.signStart >= me || s.signEnd <= ms {
					si = 0
				}
				pz, pp := [...]float64{0.01, 0.08, 0.25}[s.payer], [...]float64{0.02, 0.12, 0.30}[s.payer]
				pz += 0.35 * si
				pp += 0.30 * si
				switch u := r.Float64(); {
				case u < pz:
					paid = 0
				case u < pz+pp:
					paid = due * int64(20+r.IntN(61)) / 100
				default:
					paid = due
					if arrears > 0 && si == 0 && r.Float64() < [...]float64{0.5, 0.25, 0.1}[s.payer] {
						paid += arrears
					}
				}
			}
			b := out[m]
			b = append(b, 'S')
			b = appendPad(b, uint64(i)+1, 7)
			b = append(b, ',')
			b = append(b, g.monthLabel[m]...)
			b = append(b, ',')
			b = append(b, p.code...)
			b = append(b, ',')
			b = appendCents(b, due)
			b = append(b, ',')
			b = appendCents(b, paid)
			b = append(b, ',')
			b = appendCents(b, arrears)
			b = append(b, ',')
			b = appendCents(b, disc)
			b = append(b, ',')
			b = append(b, payMethods[s.payMethod]...)
			b = append(b, ',')
			b = appendCents(b, s.credit)
			out[m] = append(b, '\n')
			arrears = max(0, arrears+due-paid)
		}
	}
	return out
}

// buildSnapshot returns the register snapshot at the end of month m.
func (g *generator) buildSnapshot(m int) []byte {
	export := g.monthStart[m+1] - 1
	b := appendHeader(make([]byte, 0, 160*len(g.subs)+256), SubscriberColumns)
	var date []byte
	date = appendDate(date, export)
	for i := range g.subs {
		s := &g.subs[i]
		if s.actDay > export {
			continue
		}
		status, statusDay := "active", s.actDay
		switch {
		case s.churnDay != 0 && s.churnDay <= export:
			status, statusDay = "deactivated", s.churnDay
		case s.suspDay != 0 && s.suspDay <= export:
			status, statusDay = "suspended", s.suspDay
		}
		b = append(b, date...)
		b = append(b, ",S"...)
		b = appendPad(b, uint64(i)+1, 7)
		b = append(b, ',')
		b = appendPad(b, s.msisdn, 1)
		b = append(b, ',')
		b = appendField(b, s.name())
		b = append(b, ',')
		b = append(b, genders[s.gender]...)
		b = append(b, ',')
		b = appendDate(b, s.birthDay)
		b = append(b, ',')
		b = appendField(b, s.occupationName())
		b = append(b, ',')
		b = append(b, educations[s.education]...)
		b = append(b, ',')
		b = append(b, incomeBands[s.income]...)
		b = append(b, ',')
		b = append(b, regions[s.region]...)
		b = append(b, ',')
		b = append(b, plans[s.planOn(export)].code...)
		b = append(b, ',')
		b = appendDate(b, s.actDay)
		b = append(b, ',')
		b = append(b, status...)
		b = append(b, ',')
		b = appendDate(b, statusDay)
		b = append(b, ',')
		b = append(b, payMethods[s.payMethod]...)
		b = append(b, ',')
		b = appendCents(b, s.credit)
		b = append(b, ',')
		b = append(b, s.district()...)
		b = append(b, '\n')
	}
	return b
}
