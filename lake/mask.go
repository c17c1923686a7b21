package lake

import (
	"strings"
	"unicode/utf8"
)

// Masking of personal data, one implementation for the API (analysts see
// names and MSISDNs masked) and the reject reports (a rejected value of a
// personal column is kept masked, never in clear):
//
//   - a name keeps the first letter of each word, then three stars, whatever
//     the word's length: "Anna Maria Schmidt" → "A*** M*** S***";
//   - an MSISDN (or the other party's number) keeps its last three
//     characters, the others become stars: "491701234567" → "*********567";
//   - a birth date keeps nothing but its shape: every digit becomes a star.
//
// Empty values stay empty.

// MaskName masks a person's name.
func MaskName(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		r, _ := utf8.DecodeRuneInString(w)
		words[i] = string(r) + "***"
	}
	return strings.Join(words, " ")
}

// MaskMSISDN masks a phone number.
func MaskMSISDN(s string) string {
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return ""
	}
	if n <= 3 {
		return strings.Repeat("*", n)
	}
	r := []rune(s)
	return strings.Repeat("*", n-3) + string(r[n-3:])
}

// maskDigits replaces every digit by a star (a birth date keeps its shape).
func maskDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '*'
		}
		return r
	}, s)
}

// personalColumns are the export columns that hold personal data, with how
// a report shows their values.
var personalColumns = map[string]func(string) string{
	"msisdn":      MaskMSISDN,
	"other_party": MaskMSISDN,
	"name":        MaskName,
	"birth_date":  maskDigits,
}

// reportValue makes a rejected value safe and short for a report: personal
// columns masked, invalid UTF-8 replaced, at most 80 bytes.
func reportValue(column, s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if mask, ok := personalColumns[column]; ok {
		s = mask(s)
	}
	if len(s) > 80 {
		s = strings.ToValidUTF8(s[:80], "") + "…"
	}
	return s
}
