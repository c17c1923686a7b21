package lake_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/lake"
)

// A planted line: what the file holds there and how ingest must count it.
type planted struct {
	line string
	kind string // "ok", "blank" or "rejected"
	what string
}

// malformations are the shapes broken feeds have, each replacing one good
// CDR line (some become two lines). fields are the good line's fields.
var malformations = []struct {
	name  string
	lines func(good string, f []string) []planted
}{
	{"unclosed quote", func(g string, f []string) []planted { return rej(`"` + g) }},
	{"quote inside a value", func(g string, f []string) []planted { return rej(strings.Replace(g, ",", `,x"y`, 1)) }},
	{"text after a closing quote", func(g string, f []string) []planted { return rej(`"` + f[0] + `"z,` + strings.Join(f[1:], ",")) }},
	{"too many fields", func(g string, f []string) []planted { return rej(g + ",extra") }},
	{"too few fields", func(g string, f []string) []planted { return rej(strings.Join(f[:5], ",")) }},
	{"over-long line", func(g string, f []string) []planted { return rej(g + strings.Repeat("9", 70_000)) }},
	{"NUL bytes", func(g string, f []string) []planted { return rej(g[:10] + "\x00\x00" + g[10:]) }},
	{"invalid UTF-8", func(g string, f []string) []planted { return rej(strings.Replace(g, "North", "M\xfcnchen", 1)) }},
	{"CR inside a line", func(g string, f []string) []planted { return rej(g[:25] + "\r" + g[25:]) }},
	{"bad value", func(g string, f []string) []planted { return rej(strings.Replace(g, ",voice,", ",telepathy,", 1)) }},
	{"bad timestamp", func(g string, f []string) []planted { return rej(strings.Replace(g, f[5], "2026-13-45T99:00:00Z", 1)) }},
	{"only spaces", func(g string, f []string) []planted { return rej("     ") }},
	{"only commas", func(g string, f []string) []planted { return rej(strings.Repeat(",", 14)) }},
	{"a quoted value running across lines", func(g string, f []string) []planted {
		i := strings.Index(g, ",North,")
		return append(rej(g[:i]+`,"North`), rej(`continued",`+g[i+len(",North,"):])...)
	}},
	{"a header repeated mid-file", func(g string, f []string) []planted { return rej(strings.TrimSuffix(cdrHeader, "\n") + "X") }},
	{"blank line", func(g string, f []string) []planted {
		return []planted{{line: "", kind: "blank"}, {line: g, kind: "ok"}}
	}},
	// Controls: well-formed quoting is not a malformation.
	{"every field quoted", func(g string, f []string) []planted {
		return []planted{{line: `"` + strings.Join(f, `","`) + `"`, kind: "ok"}}
	}},
	{"doubled quotes in a quoted value", func(g string, f []string) []planted {
		return []planted{{line: strings.Replace(g, ",North,", `,"Rhein ""Main""",`, 1), kind: "ok"}}
	}},
}

func rej(line string) []planted { return []planted{{line: line, kind: "rejected"}} }

// plantedFile returns n good CDR lines with every malformation planted
// twice at seeded random positions, the lines as ingest must count them,
// and the body with the given line end (the last line without one).
func plantedFile(prefix string, n int, seed uint64, eol string) ([]planted, []byte) {
	good := strings.Split(strings.TrimSuffix(string(cdrCSV(prefix, n, nil)), "\n"), "\n")[1:]
	rng := rand.New(rand.NewPCG(seed, 1))
	at := map[int]int{} // good line index → malformation
	for m := range malformations {
		for range 2 {
			i := rng.IntN(n)
			for at[i] != 0 {
				i = rng.IntN(n)
			}
			at[i] = m + 1
		}
	}
	var lines []planted
	for i, g := range good {
		if m := at[i]; m != 0 {
			for _, p := range malformations[m-1].lines(g, strings.Split(g, ",")) {
				p.what = malformations[m-1].name
				lines = append(lines, p)
			}
			continue
		}
		lines = append(lines, planted{line: g, kind: "ok"})
	}
	lines = append(lines, planted{line: "\x1a", kind: "rejected", what: "trailing garbage"})
	var b bytes.Buffer
	b.WriteString(strings.TrimSuffix(cdrHeader, "\n") + eol)
	for i, p := range lines {
		b.WriteString(p.line)
		if i < len(lines)-1 {
			b.WriteString(eol)
		}
	}
	return lines, b.Bytes()
}

// TestIngestEveryLineAccounted plants broken-feed shapes at random
// positions and checks, through the real handler, that the report's
// rejected lines are exactly the planted ones, blank lines are counted as
// blank, and every other line is one committed row.
func TestIngestEveryLineAccounted(t *testing.T) {
	tl := newTestLake(t, false)
	for i, tc := range []struct {
		name, eol string
		gzip      bool
	}{{"LF", "\n", false}, {"CRLF", "\r\n", false}, {"gzip", "\n", true}} {
		t.Run(tc.name, func(t *testing.T) {
			lines, body := plantedFile(fmt.Sprintf("L%d-", i), 3000, uint64(i+1), tc.eol)
			key := fmt.Sprintf("exports/cdr/2026/10/%02d/planted-%s.csv", i+1, tc.name)
			if tc.gzip {
				key, body = key+".gz", gz(t, body)
			}
			before := tl.count(lake.CDRTable)
			res := tl.mustIngest(tl.put(key, body))
			var wantRejected []int64
			var wantOK, wantBlank int64
			for j, p := range lines {
				switch p.kind {
				case "ok":
					wantOK++
				case "blank":
					wantBlank++
				default:
					wantRejected = append(wantRejected, int64(j+2)) // line 1 is the header
				}
			}
			if res.Status != lake.StatusCommitted || res.RowsOK != wantOK || res.RowsRejected != int64(len(wantRejected)) {
				t.Fatalf("status %s ok %d rejected %d (%s); want committed, %d, %d", res.Status, res.RowsOK, res.RowsRejected, res.Message, wantOK, len(wantRejected))
			}
			if res.Lines != int64(len(lines))+1 || res.BlankLines != wantBlank || res.Lines != 1+res.BlankLines+res.RowsOK+res.RowsRejected {
				t.Errorf("lines %d blank %d; want %d lines, %d blank, and lines = 1 + blank + ok + rejected", res.Lines, res.BlankLines, len(lines)+1, wantBlank)
			}
			if got := tl.count(lake.CDRTable) - before; got != wantOK {
				t.Errorf("table grew by %d rows, want %d", got, wantOK)
			}
			rep := tl.report(key)
			var got []int64
			for _, e := range rep.Errors {
				for l := e.Line; l <= max(e.Line, e.LastLine); l++ {
					got = append(got, l)
				}
			}
			if !slices.Equal(got, wantRejected) {
				for _, l := range wantRejected {
					if !slices.Contains(got, l) {
						t.Errorf("planted line %d (%s) not reported", l, lines[l-2].what)
					}
				}
				for _, l := range got {
					if !slices.Contains(wantRejected, l) {
						t.Errorf("line %d reported, but it is %s (%s)", l, lines[l-2].kind, lines[l-2].what)
					}
				}
			}
			if rep.LinesListed != rep.RowsRejected || rep.Lines != res.Lines || rep.BlankLines != wantBlank {
				t.Errorf("report: %d lines listed, %d rejected, %d lines, %d blank", rep.LinesListed, rep.RowsRejected, rep.Lines, rep.BlankLines)
			}
		})
	}
}
