package api

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"math"
	"strconv"
	"strings"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/serving"
)

// Masking. Analysts see names and MSISDNs masked everywhere (also in the
// single look-up); agents see them in clear in the look-up; admins always.
// The rules are lake's (lake.MaskName, lake.MaskMSISDN), shared with the
// ingest reports.
var (
	maskName   = lake.MaskName
	maskMSISDN = lake.MaskMSISDN
)

// item is a customer in a page, a list or the CSV export.
type item struct {
	SubscriberID     string   `json:"subscriber_id"`
	Name             string   `json:"name"`
	MSISDN           string   `json:"msisdn"`
	Status           string   `json:"status"`
	Lifecycle        string   `json:"lifecycle"`
	Plan             string   `json:"plan"`
	Region           string   `json:"region"`
	AgeBand          string   `json:"age_band"`
	PaymentMethod    string   `json:"payment_method"`
	TenureMonths     int32    `json:"tenure_months"`
	SegmentID        int32    `json:"segment_id"`
	SegmentName      string   `json:"segment_name"`
	ChurnProbability float64  `json:"churn_probability"`
	Reasons          []string `json:"reasons"`
	MonthlyValue     float64  `json:"monthly_value"`
	CLV              float64  `json:"clv"`
	ValueAtRisk      float64  `json:"value_at_risk"`
	VoiceMinutes     float64  `json:"voice_minutes"`
	VoiceCalls       int32    `json:"voice_calls"`
	SMS              int32    `json:"sms"`
	DataMB           float64  `json:"data_mb"`
	RoamingCalls     int32    `json:"roaming_calls"`
	IntlCalls        int32    `json:"intl_calls"`
	CareCalls        int32    `json:"care_calls"`
	DistinctContacts int32    `json:"distinct_contacts"`
	AmountDue        float64  `json:"amount_due"`
	Arrears          float64  `json:"arrears"`
	MonthsInArrears  int32    `json:"months_in_arrears"`
	// Search on every attribute and the value system. District is part
	// of the address: masked unless the access is clear.
	Gender            string  `json:"gender"`
	IncomeBand        string  `json:"income_band"`
	Occupation        string  `json:"occupation"`
	Education         string  `json:"education"`
	District          string  `json:"district"`
	ValueTier         string  `json:"value_tier"`
	Profit            float64 `json:"profit"`
	CostToServe       float64 `json:"cost_to_serve"`
	Discount          float64 `json:"discount"`
	CreditUse         float64 `json:"credit_use"`
	VoiceMinutesTrend float64 `json:"voice_minutes_trend"`
	CallsTrend        float64 `json:"calls_trend"`
	DataTrend         float64 `json:"data_trend"`
	ContactsTrend     float64 `json:"contacts_trend"`
	SpendTrend        float64 `json:"spend_trend"`
	// Who to contact (zero without an uplift model in the run): the best
	// offer's uplift and expected net value of a contact.
	Uplift       float64 `json:"uplift"`
	ContactValue float64 `json:"contact_value"`
	BestOffer    string  `json:"best_offer"`
	// Bad debt: the probability of 2+ consecutive bills in arrears within
	// the bad-debt model's horizon, and why.
	BadDebtProbability float64  `json:"bad_debt_probability"`
	BadDebtReasons     []string `json:"bad_debt_reasons"`
}

func newItem(c *serving.Customer, a Access) item {
	it := item{
		SubscriberID: c.SubscriberID, Name: c.Name, MSISDN: c.MSISDN,
		Status: c.Status, Lifecycle: c.Lifecycle, Plan: c.Plan, Region: c.Region, AgeBand: c.AgeBand, PaymentMethod: c.PaymentMethod,
		TenureMonths: c.TenureMonths, SegmentID: c.SegmentID, SegmentName: c.SegmentName,
		ChurnProbability: probability(c.Probability), Reasons: c.Reasons,
		MonthlyValue: money(c.MonthlyValue), CLV: money(c.CLV), ValueAtRisk: money(c.ValueAtRisk),
		VoiceMinutes: tenth(c.VoiceMinutes), VoiceCalls: c.VoiceCalls, SMS: c.SMS, DataMB: tenth(c.DataMB),
		RoamingCalls: c.RoamingCalls, IntlCalls: c.IntlCalls, CareCalls: c.CareCalls, DistinctContacts: c.DistinctContact,
		AmountDue: money(c.AmountDue), Arrears: money(c.Arrears), MonthsInArrears: c.MonthsInArrears,
		Gender: c.Gender, IncomeBand: c.IncomeBand, Occupation: c.Occupation, Education: c.Education, District: c.District,
		ValueTier: c.ValueTier, Profit: money(c.Profit), CostToServe: money(c.CostToServe), Discount: money(c.Discount),
		CreditUse: probability(c.CreditUse), VoiceMinutesTrend: probability(c.VoiceMinutesTrend), CallsTrend: probability(c.CallsTrend),
		DataTrend: probability(c.DataTrend), ContactsTrend: probability(c.ContactsTrend), SpendTrend: probability(c.SpendTrend),
		Uplift: probability(c.Uplift), ContactValue: money(c.ContactValue), BestOffer: c.BestOffer,
	}
	if it.Reasons == nil {
		it.Reasons = []string{}
	}
	it.BadDebtProbability, it.BadDebtReasons = probability(c.BadDebtProbability), c.BadDebtReasons
	if it.BadDebtReasons == nil {
		it.BadDebtReasons = []string{}
	}
	if a != Clear {
		it.Name, it.MSISDN, it.District = maskName(it.Name), maskMSISDN(it.MSISDN), maskName(it.District)
	}
	return it
}

// Customers' figures leave the API (JSON and CSV) at the precision people
// read: a probability to 0.001 (a percentage with one decimal), money to
// the cent, minutes and MB to 0.1. Filters and sorting work on the
// snapshot's full values; crm.scores keeps them too. The cube's measures
// are aggregates for tools and keep full precision (openapi.json says so).

func probability(v float64) float64 { return roundTo(v, 1000) }
func money(v float64) float64       { return roundTo(v, 100) }
func tenth(v float64) float64       { return roundTo(v, 10) }

func roundTo(v, scale float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	return math.Round(v*scale) / scale
}

// roundedHistory is a customer's months at the precision people read.
func roundedHistory(h []serving.Month) []serving.Month {
	out := make([]serving.Month, len(h))
	for i, m := range h {
		m.VoiceMinutes, m.DataMB = tenth(m.VoiceMinutes), tenth(m.DataMB)
		m.AmountDue, m.AmountPaid, m.Arrears = money(m.AmountDue), money(m.AmountPaid), money(m.Arrears)
		out[i] = m
	}
	return out
}

// listItem is an item of a named list with its rank (1 = first).
type listItem struct {
	Rank int `json:"rank"`
	item
}

// detail is the 360° view of one customer.
type detail struct {
	item
	ActivationDate string          `json:"activation_date"`
	StatusDate     string          `json:"status_date"`
	SegmentProfile string          `json:"segment_profile"`
	History        []serving.Month `json:"history"`
}

// csvHeader is the header row of the CSV exports: the item's fields in
// order, with rank first for lists.
var csvHeader = []string{
	"subscriber_id", "name", "msisdn", "status", "lifecycle", "plan", "region", "age_band", "payment_method",
	"tenure_months", "segment_id", "segment_name", "churn_probability", "reasons", "monthly_value", "clv", "value_at_risk",
	"voice_minutes", "voice_calls", "sms", "data_mb", "roaming_calls", "intl_calls", "care_calls", "distinct_contacts",
	"amount_due", "arrears", "months_in_arrears",
	"gender", "income_band", "occupation", "education", "district", "value_tier", "profit", "cost_to_serve", "discount",
	"credit_use", "voice_minutes_trend", "calls_trend", "data_trend", "contacts_trend", "spend_trend",
	"uplift", "contact_value", "best_offer",
	"bad_debt_probability", "bad_debt_reasons",
}

// csvText guards a text cell against formula injection in spreadsheets: a
// cell starting with = + - @ or a control character gets a leading quote.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func fnum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
func inum(v int32) string   { return strconv.FormatInt(int64(v), 10) }

// csvRow appends an item's cells to rec.
func csvRow(rec []string, it *item) []string {
	return append(rec,
		csvText(it.SubscriberID), csvText(it.Name), csvText(it.MSISDN), csvText(it.Status), csvText(it.Lifecycle),
		csvText(it.Plan), csvText(it.Region), csvText(it.AgeBand), csvText(it.PaymentMethod),
		inum(it.TenureMonths), inum(it.SegmentID), csvText(it.SegmentName), fnum(it.ChurnProbability),
		csvText(strings.Join(it.Reasons, "; ")), fnum(it.MonthlyValue), fnum(it.CLV), fnum(it.ValueAtRisk),
		fnum(it.VoiceMinutes), inum(it.VoiceCalls), inum(it.SMS), fnum(it.DataMB), inum(it.RoamingCalls),
		inum(it.IntlCalls), inum(it.CareCalls), inum(it.DistinctContacts), fnum(it.AmountDue), fnum(it.Arrears),
		inum(it.MonthsInArrears),
		csvText(it.Gender), csvText(it.IncomeBand), csvText(it.Occupation), csvText(it.Education), csvText(it.District),
		csvText(it.ValueTier), fnum(it.Profit), fnum(it.CostToServe), fnum(it.Discount), fnum(it.CreditUse),
		fnum(it.VoiceMinutesTrend), fnum(it.CallsTrend), fnum(it.DataTrend), fnum(it.ContactsTrend), fnum(it.SpendTrend),
		fnum(it.Uplift), fnum(it.ContactValue), csvText(it.BestOffer),
		fnum(it.BadDebtProbability), csvText(strings.Join(it.BadDebtReasons, "; ")))
}

// csvWriter writes an export, failing once it grows past a limit.
type csvWriter struct {
	buf   bytes.Buffer
	w     *csv.Writer
	gz    *gzip.Writer // nil: plain text
	limit int          // bytes of buf
	rows  int
	rec   []string
}

// newCSV starts a CSV body of at most limit bytes. With gz the body is
// gzip-compressed (and later base64-encoded, as a Lambda response carries
// binary bodies, so only 3/4 of limit is usable): an export then holds
// several times more rows.
func newCSV(limit int, rank, gz bool) *csvWriter {
	cw := &csvWriter{limit: limit}
	if gz {
		cw.limit = limit / 4 * 3
		cw.gz, _ = gzip.NewWriterLevel(&cw.buf, gzip.BestSpeed)
		cw.w = csv.NewWriter(cw.gz)
	} else {
		cw.w = csv.NewWriter(&cw.buf)
	}
	h := csvHeader
	if rank {
		h = append([]string{"rank"}, h...)
	}
	cw.w.Write(h)
	return cw
}

// add writes one row; false once the body is over the limit.
func (cw *csvWriter) add(rank int, it *item) bool {
	cw.rec = cw.rec[:0]
	if rank > 0 {
		cw.rec = append(cw.rec, strconv.Itoa(rank))
	}
	cw.rec = csvRow(cw.rec, it)
	cw.w.Write(cw.rec)
	cw.rows++
	if cw.rows%256 == 0 {
		cw.w.Flush()
	}
	return cw.buf.Len() <= cw.limit
}

// addRecord writes one row of cells already made (csvRow); false once
// the body is over the limit.
func (cw *csvWriter) addRecord(rec []string) bool {
	cw.w.Write(rec)
	cw.rows++
	if cw.rows%256 == 0 {
		cw.w.Flush()
	}
	return cw.buf.Len() <= cw.limit
}

func (cw *csvWriter) bytes() ([]byte, bool) {
	cw.w.Flush()
	if cw.gz != nil {
		cw.gz.Close()
	}
	return cw.buf.Bytes(), cw.buf.Len() <= cw.limit
}
