package lake

import (
	"testing"
	"time"
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
