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
	if !utf8.ValidString(s) {
		return "", errNotUTF8
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return "", fmt.Errorf("text contains a control character")
		}
	}
	return s, nil
}

// parseEnum returns the canonical spelling of s among allowed (case-insensitive),
// with aliases mapping other spellings to canonical ones.
func parseEnum(s string, allowed []string, aliases map[string]string) (string, error) {
	if s == "" {
		return "", errEmpty
	}
	for _, a := range allowed {
		if strings.EqualFold(s, a) {
			return a, nil
		}
	}
	if v, ok := aliases[strings.ToLower(s)]; ok {
		return v, nil
	}
	return "", fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
}

// parseBool accepts true/false, 1/0, yes/no, y/n in any case.
func parseBool(s string) (bool, error) {
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
	t, ok := fastTimestamp(s)
	if !ok {
		var err error
		t, err = time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t, err = time.Parse(time.DateTime, s)
			if err != nil {
				return 0, fmt.Errorf("must be a timestamp like 2026-11-22T08:15:02Z")
			}
		}
	}
	if t.Before(minTime) || t.After(now.Add(maxFuture)) {
		return 0, fmt.Errorf("timestamp outside the accepted window (2000-01-01 to 2 days from now)")
	}
	return t.UnixMicro(), nil
}

// fastTimestamp parses exactly "YYYY-MM-DDTHH:MM:SSZ" (or with a space) without allocating.
func fastTimestamp(s string) (time.Time, bool) {
	if len(s) != 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' || s[19] != 'Z' {
		return time.Time{}, false
	}
	num := func(a, b int) (int, bool) {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 7)
	d, ok3 := num(8, 10)
	h, ok4 := num(11, 13)
	mi, ok5 := num(14, 16)
	se, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || se > 59 {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, se, 0, time.UTC), true
}

func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
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
