package lake

import (
	"fmt"
	"testing"
	"time"
	"unsafe"
)

func TestParseMoney(t *testing.T) {
	tests := []struct {
		in    string
		scale int
		want  int64
		ok    bool
	}{
		{"39.90", 2, 3990, true},
		{"39.9", 2, 3990, true},
		{"39", 2, 3900, true},
		{"0.2117", 4, 2117, true},
		{"+1.5", 2, 150, true},
		{".5", 2, 50, true},
		{"1.234", 2, 0, false},
		{"-1.00", 2, 0, false},
		{"1,00", 2, 0, false},
		{"1e3", 2, 0, false},
		{"", 2, 0, false},
		{".", 2, 0, false},
		{"1000000.01", 2, 0, false},
		{"1.2.3", 2, 0, false},
	}
	for _, tc := range tests {
		got, err := parseMoney(tc.in, tc.scale, maxMoney2)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseMoney(%q, %d) = %d, %v; want %d, ok=%v", tc.in, tc.scale, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	want := time.Date(2026, 11, 22, 8, 15, 2, 0, time.UTC).UnixMicro()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"2026-11-22T08:15:02Z", want, true},
		{"2026-11-22 08:15:02", want, true},
		{"2026-11-22T09:15:02+01:00", want, true},
		{"2026-11-22T08:15:02.5Z", want + 500000, true},
		{"2026-02-29T00:00:00Z", 0, false}, // not a leap year
		{"2026-13-01T00:00:00Z", 0, false},
		{"1999-12-31T23:59:59Z", 0, false}, // before the window
		{"2026-11-26T00:00:00Z", 0, false}, // more than 2 days ahead
		{"22/11/2026 08:15", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		got, err := parseTimestamp(tc.in, now)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("parseTimestamp(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseSmallValues(t *testing.T) {
	if v, err := parseEnum("MO", directions, directionAlts); err != nil || v != "out" {
		t.Errorf("parseEnum(MO) = %q, %v; want out", v, err)
	}
	if _, err := parseEnum("sideways", directions, directionAlts); err == nil {
		t.Errorf("parseEnum(sideways) accepted")
	}
	for in, want := range map[string]bool{"true": true, "Y": true, "0": false, "no": false} {
		if got, err := parseBool(in); err != nil || got != want {
			t.Errorf("parseBool(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseBool("maybe"); err == nil {
		t.Errorf("parseBool(maybe) accepted")
	}
	if _, err := parseDigits("+4917", 3, 15, "msisdn"); err == nil {
		t.Errorf("parseDigits(+4917) accepted")
	}
	if _, err := parseID("has space"); err == nil {
		t.Errorf("parseID(has space) accepted")
	}
	if _, err := parseText("M\xfcnchen", 64); err == nil {
		t.Errorf("parseText(latin-1) accepted")
	}
	if n, err := parseInt("-5", 0, 10); err == nil {
		t.Errorf("parseInt(-5, 0, 10) = %d, want an error", n)
	}
	if d, err := parseMonth("2026-11"); err != nil || time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly) != "2026-11-01" {
		t.Errorf("parseMonth(2026-11) = %d, %v", d, err)
	}
}

// TestTimestampFastPathMatchesTime checks parseTimestamp, whose fast path
// parses the usual shape itself, against package time (slowTimestamp) on
// the edges of that shape: the same micros, or the same error.
func TestTimestampFastPathMatchesTime(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ins := []string{
		"2024-02-29T12:00:00Z", // leap day
		"2000-02-29T00:00:00Z", // leap century
		"2100-02-29T00:00:00Z", // not a leap year (and beyond the window)
		"2025-02-29T00:00:00Z",
		"2026-02-28T23:59:59Z",
		"2026-04-31T00:00:00Z",
		"2026-12-31T23:59:59Z",
		"2026-11-22T23:59:60Z", // a leap second: time rejects it
		"2026-11-22T24:00:00Z",
		"2026-11-22T23:60:00Z",
		"2026-00-10T00:00:00Z",
		"2026-11-00T00:00:00Z",
		"2026-11-22t08:15:02Z", // lower-case t and z go to package time
		"2026-11-22T08:15:02z",
		"2026-11-22 08:15:02Z",
		"2026-11-22T08:15:02+00:00",
		"2026-11-22T08:15:02-05:30",
		"2026-11-22T08:15:02.000Z",
		"2026-1a-22T08:15:02Z",
		"2026-11-22T08:15:0/Z",
		"2026-11-22T08:15:02",
		"2026-11-22T08:15:02ZZ",
		"+026-11-22T08:15:02Z",
		"2000-01-01T00:00:00Z", // the window's first second
		"1999-12-31T23:59:59Z",
		"2026-11-25T12:00:00Z", // the window's last second
		"2026-11-25T12:00:01Z",
		"1970-01-01T00:00:00Z",
		"0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59Z",
	}
	// Every day of four years, at times through the day.
	for d := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2028; d = d.Add(24*time.Hour + 37*time.Minute + 11*time.Second) {
		ins = append(ins, d.Format("2006-01-02T15:04:05Z"), d.Format("2006-01-02 15:04:05Z"))
	}
	for _, in := range ins {
		got, err := parseTimestamp(in, now)
		ref := in
		if len(in) == 20 && in[10] == ' ' && in[19] == 'Z' {
			// Accepted as with a T (package time rejects it), as before
			// the fast path computed seconds itself.
			ref = in[:10] + "T" + in[11:]
		}
		want, werr := slowTimestamp(ref, now)
		if got != want || fmt.Sprint(err) != fmt.Sprint(werr) {
			t.Errorf("parseTimestamp(%q) = %d, %v; package time gives %d, %v", in, got, err, want, werr)
		}
	}
	// A now with a fraction of a second: the window's end is still exact.
	now = now.Add(500 * time.Millisecond)
	for _, in := range []string{"2026-11-25T12:00:00Z", "2026-11-25T12:00:01Z"} {
		got, err := parseTimestamp(in, now)
		want, werr := slowTimestamp(in, now)
		if got != want || fmt.Sprint(err) != fmt.Sprint(werr) {
			t.Errorf("parseTimestamp(%q) at %v = %d, %v; package time gives %d, %v", in, now, got, err, want, werr)
		}
	}
}

// TestSmallValueFastPaths checks the exact-spelling fast paths of parseEnum,
// parseBool and parseText against the case-insensitive and two-pass rules.
func TestSmallValueFastPaths(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"out", "out", ""}, {"OUT", "out", ""}, {"Out", "out", ""}, {"mo", "out", ""}, {"MT", "in", ""},
		{"incoming", "in", ""}, {"outx", "", "must be one of out, in"}, {"", "", "required value is empty"},
	} {
		got, err := parseEnum(tc.in, directions, directionAlts)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("parseEnum(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
	for _, tc := range []struct {
		in   string
		want bool
		err  string
	}{
		{"true", true, ""}, {"TRUE", true, ""}, {"false", false, ""}, {"False", false, ""}, {"t", true, ""},
		{"truex", false, "must be true or false"}, {"", false, "required value is empty"},
	} {
		got, err := parseBool(tc.in)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("parseBool(%q) = %v, %v; want %v, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
	for _, tc := range []struct{ in, err string }{
		{"Capital", ""}, {"", ""}, {"München", ""}, {"a\tb", "text contains a control character"},
		{"a\x7f", "text contains a control character"}, {"M\xfcnchen", "value is not valid UTF-8"},
		{"a\tM\xfcnchen", "value is not valid UTF-8"}, {"München\x01", "text contains a control character"},
		{"M\xfc\x01", "value is not valid UTF-8"},
	} {
		got, err := parseText(tc.in, 64)
		if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) || (err == nil && got != tc.in) {
			t.Errorf("parseText(%q) = %q, %v; want error %q", tc.in, got, err, tc.err)
		}
	}
}

// parseEnum and parseEnumIn give the same answers; parseEnum's is never
// the input's memory (a caller may keep it past the line), parseEnumIn's
// is the input itself when it is spelled as canonical.
func TestParseEnumIn(t *testing.T) {
	allowed := []string{"out", "in"}
	aliases := map[string]string{"mo": "out", "mt": "in"}
	for _, in := range []string{"out", "in", "OUT", "In", "mo", "MT", "x", ""} {
		buf := []byte(in) // memory of its own, as a line's
		s := unsafe.String(unsafe.SliceData(buf), len(buf))
		v, err := parseEnum(s, allowed, aliases)
		vIn, errIn := parseEnumIn(s, allowed, aliases)
		if v != vIn || (err == nil) != (errIn == nil) {
			t.Errorf("%q: parseEnum %q, %v; parseEnumIn %q, %v", in, v, err, vIn, errIn)
		}
		if v != "" && unsafe.StringData(v) == unsafe.StringData(s) {
			t.Errorf("%q: parseEnum returned the input's memory", in)
		}
		exact := err == nil && v == s
		if same := vIn != "" && unsafe.StringData(vIn) == unsafe.StringData(s); same != exact {
			t.Errorf("%q: parseEnumIn returned the input itself = %v, want %v", in, same, exact)
		}
	}
}
