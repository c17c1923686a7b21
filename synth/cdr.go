package synth

import (
	"math"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Call types and directions.
const (
	typeVoice uint8 = iota
	typeSMS
	typeData
)

var typeNames = [...]string{"voice", "sms", "data"}

// Kinds of planted malformed CDR rows.
const (
	badNone uint8 = iota
	badTime
	badDuration
	badType
	badCharge
	badFields
	badKinds = badFields
)

// cdrRec is one generated CDR before formatting.
type cdrRec struct {
	other  uint64 // other party, 0 = none
	sub    int32
	sec    int32 // second of the day
	dur    int32
	dataKB uint32
	charge int64 // units of 0.0001
	cell   uint16
	region uint8 // index into regions, regionRoaming abroad
	typ    uint8
	out    bool
	net    uint8
	roam   bool
	intl   bool
	// tail, tailLen locate the row's text after its call id (subscriber,
	// other party … other_area and the newline) in dayWorker.tails: it is
	// formatted while the subscriber's data is in cache, before the sort
	// by time scatters the records.
	tail    uint32
	tailLen uint16
}

// Hourly activity profiles (relative weights per hour of day).
var (
	hoursWeekday = cumulative([]float64{0.3, 0.15, 0.1, 0.08, 0.08, 0.2, 0.6, 1.5, 3, 4.5, 5, 5.2,
		5.5, 5.2, 5, 5, 5.2, 5.5, 5.5, 5, 4.2, 3.2, 2, 1})
	hoursWeekend = cumulative([]float64{0.6, 0.4, 0.25, 0.15, 0.1, 0.1, 0.2, 0.5, 1.2, 2.5, 3.8, 4.5,
		4.8, 4.8, 4.5, 4.5, 4.5, 4.6, 4.8, 4.8, 4.5, 4, 3, 1.6})
	hoursData = cumulative([]float64{1.2, 0.7, 0.4, 0.25, 0.2, 0.3, 0.9, 2, 2.8, 3, 3, 3.2,
		3.6, 3.3, 3.1, 3.2, 3.5, 3.9, 4.4, 5, 5.6, 5.8, 4.8, 2.8})
	// Day-of-week factors, Sunday first as in time.Weekday.
	dowVoice = [7]float64{0.65, 1.02, 1.0, 1.0, 1.0, 1.05, 0.8}
	dowData  = [7]float64{1.15, 0.95, 0.95, 0.95, 0.95, 1.0, 1.1}
)

// dayNoise holds quantiles of a lognormal (mean 1, σ 0.35): the
// day-to-day variation of a subscriber's activity.
var dayNoise = func() []float64 {
	const n = 1024
	q := make([]float64, n)
	for i := range q {
		p := (float64(i) + 0.5) / n
		q[i] = math.Exp(0.35*math.Sqrt2*math.Erfinv(2*p-1) - 0.35*0.35/2)
	}
	return q
}()

func cumulative(w []float64) [24]float64 {
	var c [24]float64
	var t float64
	for i, x := range w {
		t += x
		c[i] = t
	}
	for i := range c {
		c[i] /= t
	}
	return c
}

func sampleHour(r *rand.Rand, c *[24]float64) int {
	u := r.Float64()
	for h := range 23 {
		if u < c[h] {
			return h
		}
	}
	return 23
}

// poisson draws a Poisson variate by inversion (small means) or a rounded
// normal approximation (large means).
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64())))
	}
	u := r.Float64()
	p := math.Exp(-lambda)
	f := p
	k := 0
	for u > f && k < 200 {
		k++
		p *= lambda / float64(k)
		f += p
	}
	return k
}

// dayJob describes one day of CDRs.
type dayJob struct {
	day     int32 // epoch day
	month   int   // month index in the window
	header  bool  // first day of its file
	badRate float64
}

// dayChunk is the encoded (possibly gzip-compressed) output of one day.
type dayChunk struct {
	data *[]byte
	rows int
	bad  int
}

// dayWorker generates days of CDRs; one per goroutine.
type dayWorker struct {
	g      *generator
	pcg    *rand.PCG
	r      *rand.Rand
	recs   []cdrRec
	sorted []cdrRec
	counts []int32
	csv    []byte
	tails  []byte // the day's good rows' text after the call id, in generation order
	gz     *gzip.Writer
	prefix []byte // "YYYY-MM-DDT"
	ymd    []byte // "YYYYMMDD"
}

func (g *generator) newDayWorker() *dayWorker {
	w := &dayWorker{g: g, pcg: rand.NewPCG(0, 0), counts: make([]int32, 86400+1)}
	w.r = rand.New(w.pcg)
	if g.cfg.Gzip {
		w.gz, _ = gzip.NewWriterLevel(nil, gzip.BestSpeed)
	}
	return w
}

// appendWriter is an io.Writer appending to a byte slice.
type appendWriter struct{ p *[]byte }

func (a appendWriter) Write(b []byte) (int, error) {
	*a.p = append(*a.p, b...)
	return len(b), nil
}

// run generates, sorts, formats and (optionally) compresses one day.
func (w *dayWorker) run(job dayJob) (dayChunk, error) {
	g := w.g
	t := dayTime(job.day)
	dow := t.Weekday()
	w.prefix = t.AppendFormat(w.prefix[:0], "2006-01-02T")
	w.ymd = t.AppendFormat(w.ymd[:0], "20060102")

	w.recs = w.recs[:0]
	w.tails = w.tails[:0]
	usage := g.usage[job.month]
	for i := range g.subs {
		s := &g.subs[i]
		if job.day < s.actDay || job.day >= s.endDay {
			continue
		}
		s1, s2 := seeds(g.cfg.Seed, streamDay, uint64(i), uint64(job.day))
		w.pcg.Seed(s1, s2)
		n0 := len(w.recs)
		w.subDay(i, s, job.day, dow)
		var sum int64
		for k := n0; k < len(w.recs); k++ {
			rec := &w.recs[k]
			sum += rec.charge
			off := len(w.tails)
			w.tails = w.appendTail(w.tails, rec, badNone)
			rec.tail, rec.tailLen = uint32(off), uint16(len(w.tails)-off)
		}
		if sum != 0 {
			atomic.AddInt64(&usage[i], sum)
		}
	}

	// Counting sort by second of day, stable in subscriber order.
	clear(w.counts)
	for i := range w.recs {
		w.counts[w.recs[i].sec+1]++
	}
	for i := 1; i < len(w.counts); i++ {
		w.counts[i] += w.counts[i-1]
	}
	if cap(w.sorted) < len(w.recs) {
		w.sorted = make([]cdrRec, len(w.recs), len(w.recs)+len(w.recs)/4)
	}
	w.sorted = w.sorted[:len(w.recs)]
	for i := range w.recs {
		c := &w.counts[w.recs[i].sec]
		w.sorted[*c] = w.recs[i]
		*c++
	}

	out := getBuf()
	b := *out
	if g.cfg.Gzip {
		b = w.csv[:0]
	}
	if job.header {
		b = appendHeader(b, CDRColumns)
	}
	// Planted malformed rows: an exact number, at random positions, each
	// an extra corrupted copy of a good row with its own call id.
	bad := 0
	if job.badRate > 0 && len(w.sorted) > 0 {
		bad = min(int(math.Round(job.badRate*float64(len(w.sorted)))), len(w.sorted)*4/100)
	}
	mr := newRand(g.cfg.Seed, streamMess, uint64(job.day), 0)
	need, left := bad, len(w.sorted)
	for i := range w.sorted {
		rec := &w.sorted[i]
		b = w.appendHead(b, uint64(i+1), badNone)
		b = append(b, w.tails[rec.tail:rec.tail+uint32(rec.tailLen)]...)
		if need > 0 && mr.IntN(left) < need {
			b = w.appendRow(b, rec, uint64(i+1), uint8(1+mr.IntN(int(badKinds))))
			need--
		}
		left--
	}
	if g.cfg.Gzip {
		w.csv = b
		w.gz.Reset(appendWriter{out})
		if _, err := w.gz.Write(b); err != nil {
			return dayChunk{}, err
		}
		if err := w.gz.Close(); err != nil {
			return dayChunk{}, err
		}
	} else {
		*out = b
	}
	return dayChunk{data: out, rows: len(w.sorted) + bad, bad: bad}, nil
}

// subDay appends subscriber i's records of one day to w.recs. The random
// source must have been seeded for (subscriber, day).
func (w *dayWorker) subDay(i int, s *subscriber, day int32, dow time.Weekday) {
	r := w.r
	si := s.signs(day)
	abroad := -1
	for _, t := range s.trips {
		if day >= t.start && day < t.end {
			abroad = t.country
		}
	}
	weekend := dow == time.Saturday || dow == time.Sunday
	// One Poisson total per day, split by kind (Poisson splitting): the
	// same distribution as one Poisson count per kind, fewer draws.
	lam := s.activity * dayNoise[r.IntN(len(dayNoise))]
	vol := 1 - 0.7*si
	lv := lam * s.voice * dowVoice[dow] * vol
	rates := [5]float64{lv * 0.55, lv * 0.45, lam * s.sms * dowVoice[dow] * vol,
		lam * (1 - s.voice - s.sms) * dowData[dow] * (1 - 0.5*si), s.careRate + 0.08*si}
	var total float64
	for _, x := range rates {
		total += x
	}
	var counts [5]int
	for range poisson(r, total) {
		u := r.Float64() * total
		k := 0
		for k < 4 && u >= rates[k] {
			u -= rates[k]
			k++
		}
		counts[k]++
	}
	nOut, nIn, nSMS, nData, nCare := counts[0], counts[1], counts[2], counts[3], counts[4]
	p := &plans[s.planOn(day)]
	hours := &hoursWeekday
	if weekend {
		hours = &hoursWeekend
	}
	durMu := s.durMu + math.Log(1-0.45*si)

	base := cdrRec{sub: int32(i)}
	place := func(rec *cdrRec, hour int) {
		rec.sec = int32(hour*3600 + r.IntN(3600))
		switch {
		case abroad >= 0:
			rec.roam = true
			rec.region = regionRoaming
			rec.cell = uint16(abroad*roamCellsPerCountry + r.IntN(roamCellsPerCountry))
		case r.Float64() < 0.04:
			rec.cell = uint16(r.IntN(len(cellIDs)))
			rec.region = uint8(int(rec.cell) / cellsPerRegion)
		case !weekend && hour >= 9 && hour < 18 && r.Float64() < 0.8:
			rec.cell = s.workCell
			rec.region = s.region
		default:
			rec.cell = s.homeCell
			rec.region = s.region
		}
	}
	for k := range nOut + nIn {
		rec := base
		rec.typ = typeVoice
		rec.out = k < nOut
		rec.other, rec.net = w.pickContact(r, i, s, si)
		rec.intl = rec.net == netIntl
		rec.dur = int32(min(14400, max(1, math.Exp(durMu+1.1*r.NormFloat64()))))
		place(&rec, sampleHour(r, hours))
		var rate int64
		switch {
		case !rec.out:
			if rec.roam {
				rate = p.roamIn
			}
		case rec.roam && rec.net != netIntl:
			rate = p.roamVoice
		default:
			rate = [...]int64{p.onnet, p.offnet, p.fixed, p.intl}[rec.net]
		}
		rec.charge = (rate*int64(rec.dur) + 30) / 60
		w.recs = append(w.recs, rec)
	}
	for range nCare {
		rec := base
		rec.typ = typeVoice
		rec.out = true
		rec.other = careNumber
		rec.net = netCare
		rec.dur = int32(min(3600, max(5, math.Exp(math.Log(240)+0.7*r.NormFloat64()))))
		place(&rec, 8+r.IntN(12))
		w.recs = append(w.recs, rec)
	}
	for range nSMS {
		rec := base
		rec.typ = typeSMS
		rec.out = r.IntN(2) == 0
		rec.other, rec.net = w.pickContact(r, i, s, si)
		rec.intl = rec.net == netIntl
		place(&rec, sampleHour(r, hours))
		if rec.out {
			rec.charge = p.sms
			if rec.intl || rec.roam {
				rec.charge = max(p.sms*2, 1900)
			}
		}
		w.recs = append(w.recs, rec)
	}
	for range nData {
		rec := base
		rec.typ = typeData
		rec.out = true
		rec.net = netNone
		rec.dur = int32(min(86400, max(1, math.Exp(math.Log(300)+1.2*r.NormFloat64()))))
		rec.dataKB = uint32(min(50_000_000, max(1, math.Exp(s.dataMu+1.6*r.NormFloat64()))))
		place(&rec, sampleHour(r, &hoursData))
		rate := p.dataMB
		if rec.roam {
			rate = p.roamData
		}
		rec.charge = min(999_999_999, rate*int64(rec.dataKB)/1024)
		w.recs = append(w.recs, rec)
	}
	w.debtCalls(s, day, base, place)
}

// pickContact chooses the other party of a call or SMS: mostly from the
// subscriber's circle (the first contacts most often); with pre-churn signs
// more and more often an offnet number.
func (w *dayWorker) pickContact(r *rand.Rand, i int, s *subscriber, si float64) (uint64, uint8) {
	if si > 0 && r.Float64() < 0.45*si {
		return w.g.competitorNumber(i, r.IntN(6)), netOffnet
	}
	u := r.Float64()
	c := s.contacts[int(float64(len(s.contacts))*u*u)]
	return c.num, c.net
}

// appendRow formats one CDR row; bad != badNone plants a malformed variant.
func (w *dayWorker) appendRow(b []byte, rec *cdrRec, seq uint64, bad uint8) []byte {
	return w.appendTail(w.appendHead(b, seq, bad), rec, bad)
}

// appendHead formats a row's call id: C, the day, the day's sequence
// number, and X for a malformed row's own id.
func (w *dayWorker) appendHead(b []byte, seq uint64, bad uint8) []byte {
	b = append(b, 'C')
	b = append(b, w.ymd...)
	b = appendPad(b, seq, 8)
	if bad != badNone {
		b = append(b, 'X')
	}
	return b
}

// appendTail formats the rest of a row after its call id.
func (w *dayWorker) appendTail(b []byte, rec *cdrRec, bad uint8) []byte {
	b = append(b, w.g.subs[rec.sub].cdrKey...)
	if rec.other != 0 {
		b = strconv.AppendUint(b, rec.other, 10)
	}
	b = append(b, ',')
	b = append(b, netNames[rec.net]...)
	b = append(b, ',')
	if bad == badTime {
		b = append(b, w.prefix...)
		b = append(b, "25:61:07Z"...)
	} else {
		b = append(b, w.prefix...)
		h, m, sec := rec.sec/3600, rec.sec/60%60, rec.sec%60
		b = append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':',
			byte('0'+sec/10), byte('0'+sec%10), 'Z')
	}
	b = append(b, ',')
	if bad == badDuration {
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(max(1, rec.dur)), 10)
	} else {
		b = strconv.AppendInt(b, int64(rec.dur), 10)
	}
	if bad == badFields {
		// A truncated record: the line broke after duration_s.
		return append(b, '\n')
	}
	b = append(b, ',')
	if bad == badType {
		b = append(b, "video"...)
	} else {
		b = append(b, typeNames[rec.typ]...)
	}
	if rec.out {
		b = append(b, ",out,"...)
	} else {
		b = append(b, ",in,"...)
	}
	b = appendBool(b, rec.roam)
	b = append(b, ',')
	b = appendBool(b, rec.intl)
	b = append(b, ',')
	if rec.region == regionRoaming {
		b = append(b, roamCellIDs[rec.cell]...)
		b = append(b, ",Roaming,"...)
	} else {
		b = append(b, cellIDs[rec.cell]...)
		b = append(b, ',')
		b = append(b, regions[rec.region]...)
		b = append(b, ',')
	}
	b = strconv.AppendUint(b, uint64(rec.dataKB), 10)
	b = append(b, ',')
	if bad == badCharge {
		b = append(b, "N/A"...)
	} else {
		b = appendFixed(b, rec.charge, 4)
	}
	b = append(b, ',')
	if a := w.g.otherArea(rec); a >= 0 {
		b = append(b, regions[a]...)
	}
	return append(b, '\n')
}

// sameAreaShare is the share of domestic calls and SMS whose other party
// lives in the subscriber's own region (local); the rest go to the other
// regions in proportion to their size (domestic long distance).
const sameAreaShare = 0.72

// otherArea is the region index of rec's other party, -1 for none: data
// sessions have no other party and a foreign number no domestic area; the
// care line answers from the subscriber's region. It is a hash of the
// subscriber and the number, so the same contact is always in the same
// area and the random streams of the rest of the data are untouched.
func (g *generator) otherArea(rec *cdrRec) int {
	s := &g.subs[rec.sub]
	switch {
	case rec.other == 0 || rec.net == netIntl || rec.net == netNone:
		return -1
	case rec.net == netCare:
		return int(s.region)
	}
	h := splitmix(uint64(g.cfg.Seed)*0x9e3779b97f4a7c15 ^ rec.other ^ uint64(rec.sub)<<40)
	u := float64(h>>11) / (1 << 53)
	if u < sameAreaShare {
		return int(s.region)
	}
	// Another region, by size: u rescaled to [0, 1) over the others.
	u = (u - sameAreaShare) / (1 - sameAreaShare)
	var total float64
	for i, w := range regionWeights {
		if i != int(s.region) {
			total += w
		}
	}
	u *= total
	last := -1
	for i, w := range regionWeights {
		if i == int(s.region) {
			continue
		}
		last = i
		if u < w {
			return i
		}
		u -= w
	}
	return last
}
