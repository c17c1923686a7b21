package synth

import (
	"strconv"
	"strings"
	"time"
)

// Column orders of the three export formats, exactly as in
// README.md (Export formats).
var (
	CDRColumns = []string{
		"call_id", "subscriber_id", "msisdn", "other_party", "other_network", "start_time",
		"duration_s", "call_type", "direction", "roaming", "international", "cell_id",
		"region", "data_kb", "charge", "other_area",
	}
	BillColumns = []string{
		"subscriber_id", "bill_month", "plan", "amount_due", "amount_paid", "arrears",
		"discount", "payment_method", "credit_limit",
	}
	SubscriberColumns = []string{
		"export_date", "subscriber_id", "msisdn", "name", "gender", "birth_date",
		"occupation", "education", "income_band", "region", "plan", "activation_date",
		"status", "status_date", "payment_method", "credit_limit", "district",
	}
)

// appendHeader appends a header row of cols.
func appendHeader(b []byte, cols []string) []byte {
	for i, c := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, c...)
	}
	return append(b, '\n')
}

// appendPad appends v in decimal, zero-padded to at least width digits.
func appendPad(b []byte, v uint64, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for v >= 10 {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	i--
	tmp[i] = byte('0' + v)
	for n := len(tmp) - i; n < width; n++ {
		b = append(b, '0')
	}
	return append(b, tmp[i:]...)
}

// appendFixed appends v/10^scale with exactly scale fraction digits
// (v is a non-negative amount in units of 10^-scale).
func appendFixed(b []byte, v int64, scale int) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	div := uint64(1)
	for range scale {
		div *= 10
	}
	u := uint64(v)
	b = strconv.AppendUint(b, u/div, 10)
	b = append(b, '.')
	return appendPad(b, u%div, scale)
}

// appendCents appends a money value with scale 2.
func appendCents(b []byte, cents int64) []byte { return appendFixed(b, cents, 2) }

// appendDate appends the epoch day as YYYY-MM-DD.
func appendDate(b []byte, day int32) []byte {
	y, m, d := dayTime(day).Date()
	b = appendPad(b, uint64(y), 4)
	b = append(b, '-')
	b = appendPad(b, uint64(m), 2)
	b = append(b, '-')
	return appendPad(b, uint64(d), 2)
}

// appendField appends a text value with RFC 4180 quoting when needed.
func appendField(b []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// appendBool appends true or false.
func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// epochDay returns the number of days since 1970-01-01 of t (UTC).
func epochDay(t time.Time) int32 {
	s := t.UTC().Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return int32(d)
}

// dayTime returns midnight UTC of the epoch day.
func dayTime(day int32) time.Time {
	return time.Unix(int64(day)*86400, 0).UTC()
}
