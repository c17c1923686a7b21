package synth

import (
	"math"
	"math/rand/v2"
	"strconv"
)

// Rates are in units of 0.0001 (the CDR charge scale) per minute, per SMS or
// per MB; fees in cents.
type plan struct {
	code       string
	fee        int64   // monthly fee, cents
	onnet      int64   // voice to own network, per minute
	offnet     int64   // voice to other mobile networks, per minute
	fixed      int64   // voice to fixed lines, per minute
	intl       int64   // voice to foreign numbers, per minute
	sms        int64   // per SMS sent
	dataMB     int64   // per MB at home
	roamVoice  int64   // outgoing voice abroad, per minute
	roamIn     int64   // incoming voice abroad, per minute
	roamData   int64   // data abroad, per MB
	churnLogit float64 // contribution to the churn propensity
	share      float64 // share of subscribers
	usage      float64 // usage multiplier
}

var plans = []plan{
	{code: "PREPAID_S", fee: 499, onnet: 900, offnet: 900, fixed: 900, intl: 9900, sms: 900, dataMB: 24,
		roamVoice: 2900, roamIn: 100, roamData: 100, churnLogit: 0.9, share: 0.30, usage: 0.75},
	{code: "BASIC10", fee: 999, onnet: 0, offnet: 500, fixed: 500, intl: 5900, sms: 500, dataMB: 10,
		roamVoice: 2900, roamIn: 50, roamData: 100, churnLogit: 0.5, share: 0.25, usage: 0.9},
	{code: "PLUS20", fee: 1999, intl: 3900, roamVoice: 1900, roamIn: 30, roamData: 50,
		churnLogit: 0.0, share: 0.25, usage: 1.1},
	{code: "PREMIUM40", fee: 3999, intl: 1900, churnLogit: -0.4, share: 0.12, usage: 1.4},
	{code: "FAMILY", fee: 4999, intl: 2900, roamVoice: 900, roamIn: 20, churnLogit: -0.9,
		share: 0.08, usage: 1.25},
}

const planPrepaid = 0

// meanEventsPerDay is the mean number of CDRs per subscriber and day
// (lognormal across subscribers, σ = 1): about 33 a month, so that 100,000
// subscribers give about 10 million CDRs (~1 GB of CSV) in three months.
const meanEventsPerDay = 1.15

var regions = []string{"North", "South", "East", "West", "Central", "Capital", "Coast", "Alps"}

// regionWeights are the relative sizes of the regions.
var regionWeights = []float64{0.14, 0.16, 0.11, 0.13, 0.12, 0.17, 0.09, 0.08}

const (
	cellsPerRegion = 64
	regionRoaming  = 255 // region index of cells abroad
)

// cellIDs holds CELL0000 … for all home-network cells.
var cellIDs = func() []string {
	ids := make([]string, len(regions)*cellsPerRegion)
	for i := range ids {
		ids[i] = string(appendPad([]byte("CELL"), uint64(i), 4))
	}
	return ids
}()

// Countries subscribers travel to, with their roaming cell ids.
var roamCountries = []string{"AT", "FR", "ES", "IT", "NL", "PL", "TR", "US", "GR", "HR"}

const roamCellsPerCountry = 8

var roamCellIDs = func() []string {
	ids := make([]string, 0, len(roamCountries)*roamCellsPerCountry)
	for _, c := range roamCountries {
		for j := range roamCellsPerCountry {
			ids = append(ids, "RM-"+c+"-"+strconv.Itoa(100+j))
		}
	}
	return ids
}()

// Country codes of international contacts.
var intlCodes = []uint64{48, 90, 33, 39, 1, 44, 43, 380, 40, 7}

// Fixed-line area codes (after 49).
var areaCodes = []uint64{30, 40, 89, 221, 69, 711, 211, 351}

var (
	firstNamesF = []string{"Anna", "Maria", "Sophie", "Emma", "Laura", "Julia", "Lea", "Hannah", "Sarah",
		"Katharina", "Petra", "Sabine", "Elif", "Zoe", "Ingrid", "Renate", "Mia", "Ayşe"}
	firstNamesM = []string{"Lukas", "Jonas", "Leon", "Paul", "Felix", "Thomas", "Michael", "Stefan", "Andreas",
		"Jan", "Mehmet", "Klaus", "Jürgen", "Tim", "Max", "Ali", "Peter", "Noah"}
	lastNames = []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
		"Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Yılmaz",
		"Kaya", "Nowak", "Kowalski", "Weiß", "Zimmermann", "Krüger", "O'Brien", "Rossi"}
	occupations = []string{"teacher", "engineer", "nurse", "clerk", "driver", "sales, retail", "IT specialist",
		"craftsman", "manager", "doctor", "self-employed", "unemployed", "civil servant", "cook", "farmer"}
	educations     = []string{"none", "secondary", "vocational", "university", "doctorate"}
	educationW     = []float64{0.04, 0.33, 0.33, 0.26, 0.04}
	incomeBands    = []string{"A", "B", "C", "D", "E"}
	payMethods     = []string{"direct_debit", "card", "bank_transfer", "cash", "prepaid"}
	payMethodW     = []float64{0.60, 0.20, 0.15, 0.05, 0}
	genders        = []string{"F", "M", "X", "U"}
	creditByIncome = []int64{50000, 30000, 20000, 10000, 5000}
)

// Payer behaviour classes.
const (
	payerGood = iota
	payerSloppy
	payerBad
)

// Networks of the other party (index into netNames).
const (
	netOnnet uint8 = iota
	netOffnet
	netFixed
	netIntl
	netCare
	netNone
)

var netNames = [...]string{"onnet", "offnet", "fixed", "international", "care", ""}

// careNumber is the short code of the operator's customer care line.
const careNumber = 22202

type contact struct {
	num uint64
	net uint8
}

type trip struct {
	start, end int32 // epoch days, end exclusive
	country    int
}

// subscriber is one generated subscriber with its latent traits.
type subscriber struct {
	msisdn     uint64
	actDay     int32 // activation day
	churnDay   int32 // deactivation day, 0 = none
	suspDay    int32 // suspension day, 0 = none
	endDay     int32 // first day without any usage
	birthDay   int32
	signStart  int32 // pre-churn signs window [signStart, signEnd), 0 = none
	signEnd    int32
	debtFrom   int32 // deliberate non-payer: run-up's first day (drawNonPayers)
	debtStop   int32 // first day nothing is paid, 0 = not a non-payer
	chDay      int32 // plan change (planchange.go): first day on chPlan, 0 = none
	signStr    float64
	activity   float64 // mean events per day
	voice      float64 // shares of voice and SMS events; data is the rest
	sms        float64
	durMu      float64 // log median voice duration
	dataMu     float64 // log median session KB
	careRate   float64 // care calls per day
	score      float64 // churn propensity without intercept
	cdrKey     string  // ",S0000001,491700000001," as in CDR rows
	contacts   []contact
	trips      []trip
	discount   int64 // cents per bill
	credit     int64 // cents
	arrears0   int64 // cents owed before the window
	homeCell   uint16
	workCell   uint16
	plan       uint8
	region     uint8
	income     uint8
	gender     uint8
	occupation int8 // -1 retired, -2 student, else index
	education  uint8
	payMethod  uint8
	payer      uint8
	chMonth    uint8 // plan change: first month (index) on chPlan, 0 = none
	chPlan     uint8
	first      uint8
	last       uint8
}

// Stream tags keep the random streams of different purposes apart.
const (
	streamSub uint64 = iota + 1
	streamChurn
	streamDay
	streamMess
	streamBill
	streamPlan
)

func splitmix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// seeds derives a PCG seed pair for a stream and two indexes.
func seeds(seed int64, stream uint64, a, b uint64) (uint64, uint64) {
	h := splitmix(uint64(seed) ^ splitmix(stream))
	h1 := splitmix(h ^ splitmix(a+0x51ED27))
	return h1, splitmix(h1 ^ splitmix(b+0xA0761D64))
}

// newRand returns a generator for the stream and indexes.
func newRand(seed int64, stream uint64, a, b uint64) *rand.Rand {
	s1, s2 := seeds(seed, stream, a, b)
	return rand.New(rand.NewPCG(s1, s2))
}

// pick returns an index drawn with the given relative weights.
func pick(r *rand.Rand, w []float64) int {
	var t float64
	for _, x := range w {
		t += x
	}
	u := r.Float64() * t
	for i, x := range w {
		u -= x
		if u < 0 {
			return i
		}
	}
	return len(w) - 1
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// msisdnOf maps a subscriber index to a unique number 4917xxxxxxxx: an
// affine bijection on [0, 10^8).
func (g *generator) msisdnOf(i int) uint64 {
	const mod = 100_000_000
	return 491700000000 + (uint64(i)*73939133+g.msisdnOff)%mod
}

// newSubscriber draws subscriber i's traits (everything but churn).
func (g *generator) newSubscriber(i int, s *subscriber) {
	r := newRand(g.cfg.Seed, streamSub, uint64(i), 0)
	start := g.startDay
	s.msisdn = g.msisdnOf(i)
	key := appendPad([]byte(",S"), uint64(i)+1, 7)
	key = append(key, ',')
	key = strconv.AppendUint(key, s.msisdn, 10)
	s.cdrKey = string(append(key, ','))

	u := r.Float64()
	switch {
	case u < 0.485:
		s.gender = 0
	case u < 0.97:
		s.gender = 1
	case u < 0.98:
		s.gender = 2
	default:
		s.gender = 3
	}
	if s.gender == 0 || (s.gender >= 2 && r.IntN(2) == 0) {
		s.first = uint8(r.IntN(len(firstNamesF)))
	} else {
		s.first = uint8(128 + r.IntN(len(firstNamesM)))
	}
	s.last = uint8(r.IntN(len(lastNames)))

	age := 18 + int((r.Float64()+r.Float64()+r.Float64())/3*68)
	s.birthDay = start - int32(float64(age)*365.25) - int32(r.IntN(365))
	s.education = uint8(pick(r, educationW))
	switch {
	case age >= 66 && r.Float64() < 0.85:
		s.occupation = -1
	case age < 26 && r.Float64() < 0.5:
		s.occupation = -2
	default:
		s.occupation = int8(r.IntN(len(occupations)))
	}
	// Income: education and age move the band; A is highest.
	inc := 2.2 - 0.45*float64(s.education) + r.NormFloat64()*0.9
	if age < 25 || s.occupation == -2 || s.occupation == 11 {
		inc += 1.0
	}
	s.income = uint8(min(4, max(0, int(math.Round(inc)))))
	s.region = uint8(pick(r, regionWeights))
	s.homeCell = uint16(int(s.region)*cellsPerRegion + r.IntN(cellsPerRegion))
	s.workCell = s.homeCell
	if r.Float64() < 0.8 {
		s.workCell = uint16(int(s.region)*cellsPerRegion + r.IntN(cellsPerRegion))
	}

	pw := make([]float64, len(plans))
	for j, p := range plans {
		pw[j] = p.share
	}
	if age < 25 || s.income >= 3 {
		pw[0] *= 1.8
		pw[1] *= 1.3
	}
	if s.income <= 1 {
		pw[3] *= 2
		pw[4] *= 1.5
	}
	s.plan = uint8(pick(r, pw))
	if s.plan == planPrepaid {
		s.payMethod = 4
		s.payer = payerGood
	} else {
		s.payMethod = uint8(pick(r, payMethodW))
		s.credit = creditByIncome[s.income] + int64(r.IntN(3))*5000
		switch u := r.Float64(); {
		case u < 0.82:
			s.payer = payerGood
			if r.Float64() < 0.05 {
				s.arrears0 = 500 + int64(r.IntN(2500))
			}
		case u < 0.95:
			s.payer = payerSloppy
			if r.Float64() < 0.4 {
				s.arrears0 = 1000 + int64(r.IntN(11000))
			}
		default:
			s.payer = payerBad
			s.arrears0 = 3000 + int64(r.IntN(37000))
		}
		if r.Float64() < 0.15 {
			if r.IntN(2) == 0 {
				s.discount = 500
			} else {
				s.discount = plans[s.plan].fee / 10
			}
		}
	}

	// Activation: new customers inside the window, the rest over ~8 years,
	// more of them recent.
	if r.Float64() < g.newFrac {
		s.actDay = start + int32(r.IntN(int(g.endDay-start)))
	} else if r.Float64() < 0.45 {
		s.actDay = start - 1 - int32(r.IntN(730))
	} else {
		s.actDay = start - 1 - int32(r.IntN(2920))
	}

	// Usage: heavy-tailed activity level and a personal mix.
	s.activity = meanEventsPerDay * math.Exp(1.0*r.NormFloat64()-0.5) * plans[s.plan].usage
	s.activity = min(100, max(0.02, s.activity))
	s.voice = 0.35 + 0.3*r.Float64()
	s.sms = 0.06 + 0.2*r.Float64()
	if age < 30 {
		s.voice *= 0.7
		s.sms *= 1.3
	}
	if age > 65 {
		s.voice = min(0.9, s.voice*1.3)
	}
	s.durMu = math.Log(75) + 0.3*r.NormFloat64()
	s.dataMu = math.Log(4000) + 0.6*r.NormFloat64()
	s.careRate = 0.008 * math.Exp(0.6*r.NormFloat64())

	// Personal circle of contacts; the first ones are called most.
	k := 3 + min(77, int(math.Exp(2.2+0.6*r.NormFloat64())))
	s.contacts = make([]contact, k)
	intl := r.Float64() < 0.12
	for j := range s.contacts {
		c := &s.contacts[j]
		switch u := r.Float64(); {
		case intl && (j == 1 || u < 0.1):
			c.net = netIntl
			c.num = intlNumber(r)
		case u < 0.45:
			c.net = netOnnet
			c.num = g.msisdnOf(r.IntN(g.cfg.Subscribers))
		case u < 0.82:
			c.net = netOffnet
			c.num = offnetNumber(r)
		default:
			c.net = netFixed
			c.num = fixedNumber(r)
		}
	}

	// About 3% travel abroad, in one or two bursts.
	if r.Float64() < 0.03 {
		n := 1 + r.IntN(2)
		for range n {
			st := start + int32(r.IntN(int(g.endDay-start)))
			s.trips = append(s.trips, trip{start: st, end: st + 3 + int32(r.IntN(12)), country: r.IntN(len(roamCountries))})
		}
	}

	// Churn propensity (without the calibrated intercept).
	tenure := float64(start-s.actDay) / 365
	score := plans[s.plan].churnLogit
	switch {
	case tenure < 1:
		score += 0.8
	case tenure < 2:
		score += 0.3
	case tenure > 5:
		score -= 0.3
	}
	score += min(1.2, float64(s.arrears0)/100*0.004)
	if s.payer == payerBad {
		score += 0.4
	}
	score += []float64{-0.4, -0.2, 0, 0.3, 0.6}[s.income]
	score += 0.5 * r.NormFloat64()
	s.score = score
}

func offnetNumber(r *rand.Rand) uint64 {
	if r.IntN(2) == 0 {
		return 491500000000 + r.Uint64N(100_000_000)
	}
	return 491600000000 + r.Uint64N(100_000_000)
}

func fixedNumber(r *rand.Rand) uint64 {
	ac := areaCodes[r.IntN(len(areaCodes))]
	n := uint64(1_000_000 + r.IntN(9_000_000))
	if ac < 100 {
		return (4900+ac)*10_000_000 + n
	}
	return (49000+ac)*10_000_000 + n
}

func intlNumber(r *rand.Rand) uint64 {
	cc := intlCodes[r.IntN(len(intlCodes))]
	return cc*1_000_000_000 + 100_000_000 + r.Uint64N(900_000_000)
}

// competitorNumber is one of a small set of offnet numbers per subscriber:
// friends who already moved to a competitor, the competitor's sales line.
func (g *generator) competitorNumber(sub int, k int) uint64 {
	h := splitmix(uint64(g.cfg.Seed) ^ splitmix(uint64(sub)<<8|uint64(k)))
	return 491500000000 + h%200_000_000
}

// calibrateChurn sets the intercept so that the mean monthly hazard is
// about targetHazard, then draws churn, suspensions and pre-churn signs. It
// returns the intercept.
func (g *generator) calibrateChurn() float64 {
	const targetHazard = 0.03
	lo, hi := -12.0, 4.0
	for range 40 {
		mid := (lo + hi) / 2
		var sum float64
		for i := range g.subs {
			sum += sigmoid(mid + g.subs[i].score)
		}
		if sum/float64(len(g.subs)) < targetHazard {
			lo = mid
		} else {
			hi = mid
		}
	}
	intercept := (lo + hi) / 2
	for i := range g.subs {
		g.drawChurn(i, intercept)
	}
	return intercept
}

func (g *generator) drawChurn(i int, intercept float64) {
	s := &g.subs[i]
	r := newRand(g.cfg.Seed, streamChurn, uint64(i), 0)
	h := sigmoid(intercept + s.score)
	for m := range g.cfg.Months {
		ms, me := g.monthStart[m], g.monthStart[m+1]
		first := max(ms, s.actDay+14)
		if first >= me {
			continue
		}
		if r.Float64() < min(1, h*s.hazardFactor(m)) {
			s.churnDay = first + int32(r.IntN(int(me-first)))
			break
		}
	}
	u := r.Float64()
	switch {
	case s.churnDay != 0:
		if u < 0.8 {
			s.signEnd = s.churnDay
			s.signStart = s.churnDay - 35 - int32(r.IntN(56))
			s.signStr = 0.55 + 0.45*r.Float64()
		}
	case u < 0.035:
		// False alarm: the same signs, then the subscriber stays.
		s.signStart = g.startDay - 30 + int32(r.IntN(int(g.endDay-g.startDay+30)))
		s.signEnd = s.signStart + 30 + int32(r.IntN(46))
		s.signStr = 0.4 + 0.5*r.Float64()
	}
	if s.churnDay == 0 {
		v := r.Float64()
		switch {
		case s.payer == payerBad && s.plan != planPrepaid && v < 0.12:
			first := max(g.startDay, s.actDay+30)
			if first < g.endDay {
				s.suspDay = first + int32(r.IntN(int(g.endDay-first)))
			}
		case v < 0.002 && s.actDay < g.startDay-90:
			s.suspDay = g.startDay - 1 - int32(r.IntN(60))
		}
	}
	g.dropLostChange(s)
	s.endDay = math.MaxInt32
	if s.churnDay != 0 {
		s.endDay = s.churnDay
	}
	if s.suspDay != 0 {
		s.endDay = s.suspDay
	}
}

// signs returns the strength (0…1) of pre-churn signs on day d.
func (s *subscriber) signs(d int32) float64 {
	if s.signEnd == 0 || d < s.signStart || d >= s.signEnd {
		return 0
	}
	return float64(d-s.signStart+1) / float64(s.signEnd-s.signStart) * s.signStr
}

// name returns the subscriber's full name.
func (s *subscriber) name() string {
	var f string
	if s.first >= 128 {
		f = firstNamesM[s.first-128]
	} else {
		f = firstNamesF[s.first]
	}
	return f + " " + lastNames[s.last]
}

// districtsPerRegion is how many districts a region's home cells fall in.
const districtsPerRegion = 8

// district is the district of the home address: the region and which of
// its districtsPerRegion the home cell lies in (no random draw, so adding
// it changed no other generated value).
func (s *subscriber) district() string {
	d := int(s.homeCell) % cellsPerRegion * districtsPerRegion / cellsPerRegion
	return regions[s.region] + "-" + strconv.Itoa(d+1)
}

func (s *subscriber) occupationName() string {
	switch s.occupation {
	case -1:
		return "retired"
	case -2:
		return "student"
	}
	return occupations[s.occupation]
}
