package serving

import (
	"math"
	"strconv"
)

// The contract between score (the writer) and api (the reader): every
// column the filters, counts and sorts read, once, with its kind. Score
// fills Customer values; Write turns them into these columns; the API reads
// the columns by these names and never decodes rows.

// Kind is how a column is stored in columns.bin.
type Kind uint8

// Kinds of columns.
const (
	// Dict is a category: uint16 codes into a dictionary of values.
	Dict Kind = 1 + iota
	// Int32 is a count or a whole number of months.
	Int32
	// Fixed is a measure (probabilities, minutes, MB, trends) in fixed
	// point: int32 units of 1/Scale, read back as units/Scale, the float64
	// nearest the decimal with that many places, so a value with at most
	// that many decimals is kept exactly and compares with a bound as
	// written. Bounded measures (probabilities, uplift) refuse a value past
	// the int32 range at write time; unbounded ones (Saturate: trends,
	// usage, credit use) are stored at the range's end.
	Fixed
	// Cents is money: int32 whole cents (±21,474,836.47). Write rounds to
	// the nearest cent and refuses an amount out of that range.
	Cents
)

func (k Kind) String() string {
	switch k {
	case Dict:
		return "dict16"
	case Int32:
		return "int32"
	case Fixed:
		return "fixed32"
	case Cents:
		return "cents32"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// width is the bytes of one row's value.
func (k Kind) width() int {
	if k == Dict {
		return 2
	}
	return 4
}

// Column is one column of the contract. Exactly one accessor pair is set,
// the one of Kind: text for Dict, int for Int32, num for Fixed and Cents
// (money in currency units, as Customer holds it).
type Column struct {
	Name string // as in JSON, the API's sort= and CSV
	Kind Kind
	// Enum is the closed set of values of a Dict column; nil: open (any
	// value, e.g. plans and regions).
	Enum []string
	// Scale is a Fixed column's units per 1 (a power of ten); Saturate: a
	// value past ±MaxInt32/Scale is stored at that bound, not refused.
	Scale    float64
	Saturate bool
	// Optional columns were added to the contract after snapshots were
	// first written: a columns.bin without one reads it as zeros (Dict:
	// every row "").
	Optional bool

	text    func(*Customer) string
	setText func(*Customer, string)
	int     func(*Customer) int32
	setInt  func(*Customer, int32)
	num     func(*Customer) float64
	setNum  func(*Customer, float64)
}

// Closed values of the enum columns.
var (
	Statuses   = []string{"active", "suspended", "deactivated"}
	Lifecycles = []string{"new", "established", "loyal", "suspended", "lost"}
	AgeBands   = []string{"18-24", "25-34", "35-44", "45-54", "55-64", "65+"}
	// Tiers are the value tiers by CLV among a run's scored customers:
	// the top 1%, the next 4% (top 5%), the next 15% (top 20%), the rest;
	// "none" for customers not ranked (lost, win-back candidates).
	Tiers = []string{TierTop1, TierTop5, TierTop20, TierRest, TierNone}
)

// The value tiers.
const (
	TierTop1  = "top1"
	TierTop5  = "top5"
	TierTop20 = "top20"
	TierRest  = "rest"
	TierNone  = "none"
)

func dict(name string, enum []string, get func(*Customer) *string) Column {
	return Column{Name: name, Kind: Dict, Enum: enum,
		text: func(c *Customer) string { return *get(c) }, setText: func(c *Customer, v string) { *get(c) = v }}
}

func i32(name string, get func(*Customer) *int32) Column {
	return Column{Name: name, Kind: Int32,
		int: func(c *Customer) int32 { return *get(c) }, setInt: func(c *Customer, v int32) { *get(c) = v }}
}

func f64(name string, kind Kind, get func(*Customer) *float64) Column {
	return Column{Name: name, Kind: kind,
		num: func(c *Customer) float64 { return *get(c) }, setNum: func(c *Customer, v float64) { *get(c) = v }}
}

// fixed is a Fixed column of scale units per 1; saturate: see Column.
func fixed(name string, scale float64, saturate bool, get func(*Customer) *float64) Column {
	c := f64(name, Fixed, get)
	c.Scale, c.Saturate = scale, saturate
	return c
}

// Scales of the Fixed columns: probabilities and uplift (within ±1) to
// 1e-9; trends (−1 to +∞, stored up to ±21,474.8) to 1e-5; credit use to
// 1e-6 (up to 2,147×); minutes to 1e-4 (up to 214,748); MB to 0.01 (up
// to 21.4 TB). The API shows them to 0.001 or 0.1.
const (
	scaleProb    = 1e9
	scaleTrend   = 1e5
	scaleShare   = 1e6
	scaleMinutes = 1e4
	scaleMB      = 1e2
)

// Columns are the columns of columns.bin, in file order: what filters,
// sorts and the cube read. Everything else of a Customer (id aside) is
// detail, read on demand from detail.bin: the segment's name (the segment
// is filtered by id), the best offer and the uplift under each offer
// (shown for one customer, never filtered) travel there, not as columns.
var Columns = []Column{
	dict("segment_id", nil, nil), // replaced in init: the id as decimal text
	dict("gender", nil, func(c *Customer) *string { return &c.Gender }),
	dict("age_band", AgeBands, func(c *Customer) *string { return &c.AgeBand }),
	dict("region", nil, func(c *Customer) *string { return &c.Region }),
	dict("plan", nil, func(c *Customer) *string { return &c.Plan }),
	dict("payment_method", nil, func(c *Customer) *string { return &c.PaymentMethod }),
	dict("status", Statuses, func(c *Customer) *string { return &c.Status }),
	dict("lifecycle", Lifecycles, func(c *Customer) *string { return &c.Lifecycle }),

	i32("tenure_months", func(c *Customer) *int32 { return &c.TenureMonths }),
	i32("voice_calls", func(c *Customer) *int32 { return &c.VoiceCalls }),
	i32("sms", func(c *Customer) *int32 { return &c.SMS }),
	i32("roaming_calls", func(c *Customer) *int32 { return &c.RoamingCalls }),
	i32("intl_calls", func(c *Customer) *int32 { return &c.IntlCalls }),
	i32("care_calls", func(c *Customer) *int32 { return &c.CareCalls }),
	i32("distinct_contacts", func(c *Customer) *int32 { return &c.DistinctContact }),
	i32("months_in_arrears", func(c *Customer) *int32 { return &c.MonthsInArrears }),

	fixed("churn_probability", scaleProb, false, func(c *Customer) *float64 { return &c.Probability }),
	fixed("voice_minutes", scaleMinutes, true, func(c *Customer) *float64 { return &c.VoiceMinutes }),
	fixed("data_mb", scaleMB, true, func(c *Customer) *float64 { return &c.DataMB }),

	f64("monthly_value", Cents, func(c *Customer) *float64 { return &c.MonthlyValue }),
	f64("clv", Cents, func(c *Customer) *float64 { return &c.CLV }),
	f64("value_at_risk", Cents, func(c *Customer) *float64 { return &c.ValueAtRisk }),
	f64("amount_due", Cents, func(c *Customer) *float64 { return &c.AmountDue }),
	f64("arrears", Cents, func(c *Customer) *float64 { return &c.Arrears }),

	opt(dict("occupation", nil, func(c *Customer) *string { return &c.Occupation })),
	opt(dict("education", nil, func(c *Customer) *string { return &c.Education })),
	opt(dict("income_band", nil, func(c *Customer) *string { return &c.IncomeBand })),
	opt(dict("district", nil, func(c *Customer) *string { return &c.District })),
	opt(dict("value_tier", Tiers, func(c *Customer) *string { return &c.ValueTier })),
	opt(f64("discount", Cents, func(c *Customer) *float64 { return &c.Discount })),
	opt(fixed("credit_use", scaleShare, true, func(c *Customer) *float64 { return &c.CreditUse })),
	opt(fixed("voice_minutes_trend", scaleTrend, true, func(c *Customer) *float64 { return &c.VoiceMinutesTrend })),
	opt(fixed("calls_trend", scaleTrend, true, func(c *Customer) *float64 { return &c.CallsTrend })),
	opt(fixed("data_trend", scaleTrend, true, func(c *Customer) *float64 { return &c.DataTrend })),
	opt(fixed("contacts_trend", scaleTrend, true, func(c *Customer) *float64 { return &c.ContactsTrend })),
	opt(fixed("spend_trend", scaleTrend, true, func(c *Customer) *float64 { return &c.SpendTrend })),
	opt(f64("cost_to_serve", Cents, func(c *Customer) *float64 { return &c.CostToServe })),
	opt(f64("profit", Cents, func(c *Customer) *float64 { return &c.Profit })),
	opt(fixed("uplift", scaleProb, false, func(c *Customer) *float64 { return &c.Uplift })),
	opt(f64("contact_value", Cents, func(c *Customer) *float64 { return &c.ContactValue })),
	opt(fixed("bad_debt_probability", scaleProb, false, func(c *Customer) *float64 { return &c.BadDebtProbability })),
}

func opt(c Column) Column { c.Optional = true; return c }

func init() {
	Columns[0].text = func(c *Customer) string { return strconv.Itoa(int(c.SegmentID)) }
	Columns[0].setText = func(c *Customer, v string) {
		id, _ := strconv.Atoi(v) // validated on open
		c.SegmentID = int32(id)
	}
}

// ColumnByName returns the contract's column called name.
func ColumnByName(name string) (Column, bool) {
	for _, c := range Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// ToCents is money in whole cents, rounded to the nearest (half away
// from zero).
func ToCents(v float64) int64 { return int64(math.Round(v * 100)) }

// FromCents is the float64 nearest to cents/100: the value a decimal with
// two places parses to, so a round trip of whole cents is exact.
func FromCents(c int64) float64 { return float64(c) / 100 }

// MaxCents is the largest amount of money a snapshot holds, in cents
// (int32); the smallest is -MaxCents.
const MaxCents = math.MaxInt32

// ServedProbability is probability v as the snapshot holds it (and the
// shard steps write it to crm.scores): in the fixed point of its columns,
// 10^-9. v is finite and in [0, 1].
func ServedProbability(v float64) float64 { return math.Round(v*scaleProb) / scaleProb }

// units is v in col's int32 units (Fixed: of 1/Scale, Cents: cents),
// rounded to the nearest; ok false past the int32 range for a column that
// does not saturate (or any NaN or infinity).
func (col *Column) units(v float64) (int32, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	scale := col.Scale
	if col.Kind == Cents {
		scale = 100
	}
	x := math.Round(v * scale)
	switch {
	case x > math.MaxInt32:
		return math.MaxInt32, col.Saturate
	case x < -math.MaxInt32:
		return -math.MaxInt32, col.Saturate
	}
	return int32(x), true
}

// fromUnits is the value of u units of col.
func (col *Column) fromUnits(u int32) float64 {
	if col.Kind == Cents {
		return FromCents(int64(u))
	}
	return float64(u) / col.Scale
}

// Quantize sets c's column fields to the values the snapshot stores and
// gives back: Fixed columns to their scale's decimals (a saturating one
// within its range), money to whole cents, offer uplifts as the uplift
// column. A snapshot's Customers equal
// the rows written, quantized. Values Write refuses are left alone.
func Quantize(c *Customer) {
	for i := range Columns {
		col := &Columns[i]
		if col.Kind == Fixed || col.Kind == Cents {
			if u, ok := col.units(col.num(c)); ok {
				col.setNum(c, col.fromUnits(u))
			}
		}
	}
	for k, v := range c.OfferUplift { // in detail.bin, as the uplift column
		if u, ok := offerUnits(v); ok {
			c.OfferUplift[k] = float64(u) / scaleProb
		}
	}
}
