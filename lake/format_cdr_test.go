package lake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
)

// TestCDROtherArea: the optional other_area column is stored when given,
// null when empty or absent (older feeds), and a bad value rejects its
// line only, with a reason, every line still accounted for.
func TestCDROtherArea(t *testing.T) {
	const head = "call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge"
	row := func(id, network, intl, area string, withArea bool) string {
		s := id + ",S1,491700000001,4930123456," + network + ",2026-11-22T08:15:02Z,127,voice,out,false," + intl + ",CELL1,North,0,0.2117"
		if withArea {
			s += "," + area
		}
		return s + "\n"
	}
	for _, tc := range []struct {
		name     string
		body     string
		areas    []string // stored per accepted row; "" = null
		rejected map[int64]string
	}{
		{
			name:  "without the column",
			body:  head + "\n" + row("C1", "onnet", "false", "", false) + row("C2", "international", "true", "", false),
			areas: []string{"", ""},
		},
		{
			name: "with the column",
			body: head + ",other_area\n" +
				row("C1", "onnet", "false", "North", true) +
				row("C2", "offnet", "false", "Alps", true) +
				row("C3", "fixed", "false", "", true) +
				row("C4", "international", "true", "North", true) +
				row("C5", "offnet", "false", " North", true) +
				row("C6", "offnet", "false", strings.Repeat("x", 65), true) +
				row("C7", "offnet", "false", "Nord\x01", true) +
				row("C8", "international", "true", "", true),
			areas: []string{"North", "Alps", "", ""},
			rejected: map[int64]string{
				5: "must be empty for an international call",
				6: "leading or trailing spaces",
				7: "longer than 64",
				8: "control character",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newParser(CDRFormat, testFileContext())
			var got []string
			for b, err := range p.Batches(bytes.NewReader([]byte(tc.body))) {
				if err != nil {
					t.Fatal(err)
				}
				col := b.Rec.Column(17).(*array.String)
				for i := range col.Len() {
					if col.IsNull(i) {
						got = append(got, "")
					} else {
						got = append(got, col.Value(i))
					}
				}
				b.Rec.Release()
			}
			if p.Stats.FileErr != nil {
				t.Fatalf("file error: %v", p.Stats.FileErr)
			}
			if strings.Join(got, "|") != strings.Join(tc.areas, "|") {
				t.Errorf("other_area stored %q, want %q", got, tc.areas)
			}
			if len(p.Stats.Errors) != len(tc.rejected) {
				t.Fatalf("errors %+v, want %d", p.Stats.Errors, len(tc.rejected))
			}
			for _, e := range p.Stats.Errors {
				want, ok := tc.rejected[e.Line]
				if !ok || e.Column != "other_area" || !strings.Contains(e.Reason, want) {
					t.Errorf("error %+v, want line %d other_area %q", e, e.Line, want)
				}
			}
			lines := strings.Count(tc.body, "\n")
			if n := 1 + p.Stats.BlankLines + p.Stats.RowsOK + p.Stats.RowsDuplicate + p.Stats.RowsRejected; int(n) != lines || int(p.Stats.Lines) != lines {
				t.Errorf("lines %d, accounted %d, want %d", p.Stats.Lines, n, lines)
			}
		})
	}
}

// TestPseudonymizer checks hashBytes against HMAC-SHA256 computed
// directly, for numbers of every length other_party allows, reusing one
// pseudonymizer as a file does.
func TestPseudonymizer(t *testing.T) {
	key := []byte("test-pseudonym-key")
	want := func(n string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(n))
		return hex.EncodeToString(m.Sum(nil)[:16])
	}
	p := newPseudonymizer(key)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 10_000 {
		n := strconv.FormatUint(rng.Uint64(), 10)
		n = n[:3+i%(len(n)-2)]
		if got := string(p.hashBytes(n)); got != want(n) {
			t.Fatalf("call %d: hashBytes(%q) = %s, want %s", i, n, got, want(n))
		}
	}
	if got, w := p.hash("491712345678"), want("491712345678"); got != w {
		t.Errorf("hash = %s, want %s", got, w)
	}
}
