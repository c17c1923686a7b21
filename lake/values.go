package lake

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// Value parsers shared by the export formats. Each returns an error whose
// text is the reason written into the reject report, so it says what was
// expected, not what went wrong inside Go.

var (
	errEmpty   = errors.New("required value is empty")
	errNotUTF8 = errors.New("value is not valid UTF-8")
	errControl = errors.New("text contains a control character")
)

// parseID accepts 1..64 printable non-space characters.
func parseID(s string) (string, error) {
	if s == "" {
		return "", errEmpty
	}
	if len(s) > 64 {
		return "", fmt.Errorf("id longer than 64 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f {
			return "", fmt.Errorf("id contains a space or control character")
		}
		if c >= 0x80 {
			if !utf8.ValidString(s) {
				return "", errNotUTF8
			}
			break
		}
	}
	return s, nil
}

// parseDigits accepts min..max ASCII digits.
func parseDigits(s string, min, max int, what string) (string, error) {
	if s == "" {
		return "", errEmpty
	}
	if len(s) < min || len(s) > max {
		return "", fmt.Errorf("%s must have %d to %d digits", what, min, max)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", fmt.Errorf("%s must be digits only (E.164 without +)", what)
		}
	}
	return s, nil
}

// parseText accepts valid UTF-8 of at most max bytes, without control characters.
func parseText(s string, max int) (string, error) {
	if len(s) > max {
		return "", fmt.Errorf("text longer than %d bytes", max)
	}
	// One pass for ASCII text; invalid UTF-8 is reported before a control
	// character, as two passes would.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			if !utf8.ValidString(s[i:]) {
				return "", errNotUTF8
			}
			for ; i < len(s); i++ {
				if s[i] < ' ' || s[i] == 0x7f {
					return "", errControl
				}
			}
			break
		}
		if c < ' ' || c == 0x7f {
			if !utf8.ValidString(s[i:]) {
				return "", errNotUTF8
			}
			return "", errControl
		}
	}
	return s, nil
}

// parseEnum returns the canonical spelling of s among allowed (case-insensitive),
// with aliases mapping other spellings to canonical ones.
func parseEnum(s string, allowed []string, aliases map[string]string) (string, error) {
	v, _, err := enumValue(s, allowed, aliases)
	return v, err
}

// parseEnumIn is parseEnum, but returns s itself when it is spelled as
// canonical (valid as long as s: a CDR row's fields are copied into their
// columns straight from the line, see strCol.addIn).
func parseEnumIn(s string, allowed []string, aliases map[string]string) (string, error) {
	v, exact, err := enumValue(s, allowed, aliases)
	if exact {
		return s, nil
	}
	return v, err
}

// enumValue is parseEnum's answer, and whether s is spelled as it.
func enumValue(s string, allowed []string, aliases map[string]string) (v string, exact bool, err error) {
	if s == "" {
		return "", false, errEmpty
	}
	// The canonical spelling itself first (nearly every value): a plain
	// compare, where EqualFold walks the bytes. The allowed values differ
	// other than in case, so the result is EqualFold's.
	for _, a := range allowed {
		if s == a {
			return a, true, nil
		}
	}
	for _, a := range allowed {
		if strings.EqualFold(s, a) {
			return a, false, nil
		}
	}
	if v, ok := aliases[strings.ToLower(s)]; ok {
		return v, false, nil
	}
	return "", false, fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
}

// parseBool accepts true/false, 1/0, yes/no, y/n in any case.
func parseBool(s string) (bool, error) {
	switch s { // the usual spellings without ToLower's scan
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	switch strings.ToLower(s) {
	case "true", "1", "yes", "y", "t":
		return true, nil
	case "false", "0", "no", "n", "f":
		return false, nil
	case "":
		return false, errEmpty
	}
	return false, fmt.Errorf("must be true or false")
}

// parseInt accepts an optionally signed decimal integer within [min, max].
func parseInt(s string, min, max int64) (int64, error) {
	if s == "" {
		return 0, errEmpty
	}
	neg := false
	i := 0
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		i = 1
		if len(s) == 1 {
			return 0, fmt.Errorf("must be an integer")
		}
	}
	if len(s)-i > 18 {
		return 0, fmt.Errorf("must be an integer between %d and %d", min, max)
	}
	var n int64
	for ; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("must be an integer")
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	if n < min || n > max {
		return 0, fmt.Errorf("must be between %d and %d", min, max)
	}
	return n, nil
}

// parseMoney parses a non-negative decimal with at most scale fraction digits
// into its unscaled integer (e.g. "39.9" at scale 2 → 3990), bounded by max
// (unscaled). No exponent, no thousands separator, no currency sign.
func parseMoney(s string, scale int, max int64) (int64, error) {
	if s == "" {
		return 0, errEmpty
	}
	i := 0
	if s[0] == '+' {
		i = 1
	} else if s[0] == '-' {
		return 0, fmt.Errorf("must not be negative")
	}
	var n int64
	digits, frac := 0, -1
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if frac >= 0 {
				frac++
				if frac > scale {
					return 0, fmt.Errorf("more than %d decimal places", scale)
				}
			}
			digits++
			if digits > 17 {
				return 0, fmt.Errorf("amount too large")
			}
			n = n*10 + int64(c-'0')
		case c == '.' && frac < 0:
			frac = 0
		default:
			return 0, fmt.Errorf("must be a decimal amount like 12.34")
		}
	}
	if digits == 0 {
		return 0, fmt.Errorf("must be a decimal amount like 12.34")
	}
	if frac < 0 {
		frac = 0
	}
	for ; frac < scale; frac++ {
		n *= 10
	}
	if n > max {
		return 0, fmt.Errorf("amount above the maximum")
	}
	return n, nil
}

func money(unscaled int64) decimal128.Num { return decimal128.FromI64(unscaled) }

// Timestamps must lie in [minTime, now+maxFuture].
var minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const maxFuture = 48 * time.Hour

// parseTimestamp accepts RFC 3339 (Z or offset, optional fraction) or
// "YYYY-MM-DD HH:MM:SS" taken as UTC, and returns UTC microseconds.
func parseTimestamp(s string, now time.Time) (int64, error) {
	if s == "" {
		return 0, errEmpty
	}
	sec, ok := fastTimestamp(s)
	if !ok {
		return slowTimestamp(s, now)
	}
	// sec is a whole second: it is after a time exactly when it is after
	// that time's whole second.
	if sec < minTime.Unix() || sec > now.Add(maxFuture).Unix() {
		return 0, errOutsideWindow
	}
	return sec * 1_000_000, nil
}

var (
	errTimestamp     = errors.New("must be a timestamp like 2026-11-22T08:15:02Z")
	errOutsideWindow = errors.New("timestamp outside the accepted window (2000-01-01 to 2 days from now)")
)

// slowTimestamp is parseTimestamp through package time, for the shapes
// fastTimestamp leaves to it (offsets, fractions, anything invalid).
func slowTimestamp(s string, now time.Time) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t, err = time.Parse(time.DateTime, s)
		if err != nil {
			return 0, errTimestamp
		}
	}
	if t.Before(minTime) || t.After(now.Add(maxFuture)) {
		return 0, errOutsideWindow
	}
	return t.UnixMicro(), nil
}

// fastTimestamp parses exactly "YYYY-MM-DDTHH:MM:SSZ" (or with a space),
// the shape of nearly every export's timestamps, into Unix seconds without
// package time (whose Date was most of the 0.7 s parseTimestamp took over
// 9.5M rows). Anything else, or any field out of range, is false: the
// caller then parses with package time, which gives the errors.
func fastTimestamp(s string) (int64, bool) {
	if len(s) != 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' || s[19] != 'Z' {
		return 0, false
	}
	// A two-digit field: a byte below '0' wraps past 9, so one compare
	// per byte tells a digit.
	d2 := func(i int) (int, bool) {
		a, b := s[i]-'0', s[i+1]-'0'
		return int(a)*10 + int(b), a <= 9 && b <= 9
	}
	c, ok1 := d2(0)
	yy, ok2 := d2(2)
	mo, ok3 := d2(5)
	d, ok4 := d2(8)
	h, ok5 := d2(11)
	mi, ok6 := d2(14)
	se, ok7 := d2(17)
	y := c*100 + yy
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || se > 59 {
		return 0, false
	}
	return daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+se), true
}

// daysIn is the number of days of month m (1-12) of year y.
func daysIn(y, m int) int {
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		return 29
	}
	return int(monthDays[m])
}

var monthDays = [13]uint8{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// daysFromCivil is the days since 1970-01-01 of the proleptic Gregorian
// date y-m-d (Howard Hinnant's days_from_civil, for years from 0).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097+doe) - 719468
}

// parseDate accepts YYYY-MM-DD and returns days since the Unix epoch.
func parseDate(s string) (int32, error) {
	if s == "" {
		return 0, errEmpty
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("must be a date like 2026-11-22")
	}
	if t.Year() < 1900 || t.Year() > 2200 {
		return 0, fmt.Errorf("date outside 1900..2200")
	}
	return int32(t.Unix() / 86400), nil
}

// parseMonth accepts YYYY-MM and returns the first day of the month as days since the epoch.
func parseMonth(s string) (int32, error) {
	if s == "" {
		return 0, errEmpty
	}
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return 0, fmt.Errorf("must be a month like 2026-11")
	}
	if t.Before(minTime) || t.Year() > 2200 {
		return 0, fmt.Errorf("month outside the accepted window")
	}
	return int32(t.Unix() / 86400), nil
}
