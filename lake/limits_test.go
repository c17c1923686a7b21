package lake_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/aws/aws-lambda-go/events"

	"github.com/telcolake/telcolake/lake"
)

func utf16LE(s string, bom bool) []byte {
	var b bytes.Buffer
	if bom {
		b.Write([]byte{0xff, 0xfe})
	}
	for _, u := range utf16.Encode([]rune(s)) {
		binary.Write(&b, binary.LittleEndian, u)
	}
	return b.Bytes()
}

func utf32LE(s string) []byte {
	b := []byte{0xff, 0xfe, 0, 0}
	for _, r := range s {
		b = binary.LittleEndian.AppendUint32(b, uint32(r))
	}
	return b
}

// TestIngestFileShapes: files that are not UTF-8, comma-separated CSV with
// LF or CRLF line ends are rejected with a message that says what the file
// is and what the format needs.
func TestIngestFileShapes(t *testing.T) {
	tl := newTestLake(t, false)
	good := string(cdrCSV("S", 20, nil))
	sep := func(s string) string { return strings.ReplaceAll(good, ",", s) }
	for _, tc := range []struct {
		name, key string
		body      []byte
		want      string
	}{
		{"bare CR line ends", "cr.csv", []byte(strings.ReplaceAll(good, "\n", "\r")), "bare CR"},
		{"UTF-16 with BOM", "u16.csv", utf16LE(good, true), "UTF-16 text (it starts with a UTF-16 byte-order mark)"},
		{"UTF-16 without BOM", "u16nobom.csv", utf16LE(good, false), "UTF-16 text without a byte-order mark"},
		{"UTF-32 with BOM", "u32.csv", utf32LE(good), "UTF-32"},
		{"Latin-1 header", "latin1.csv", []byte(strings.Replace(good, "region", "r\xe9gion", 1)), "header column 13 is not valid UTF-8: the file looks like Latin-1"},
		{"ZIP (xlsx)", "book.csv", append([]byte("PK\x03\x04\x14\x00\x06\x00"), good...), "ZIP archive"},
		{"gzip without .gz", "packed.csv", gz(t, []byte(good)), "does not end in .gz"},
		{"semicolons", "semi.csv", []byte(sep(";")), "separated by semicolons (;)"},
		{"tabs", "tabs.csv", []byte(sep("\t")), "separated by tabs"},
		{"pipes", "pipes.csv", []byte(sep("|")), "separated by pipes (|)"},
		{"no header row", "noheader.csv", []byte(strings.SplitN(good, "\n", 2)[1]), "the file has no header row"},
		{"header over 64 KiB", "longheader.csv", []byte(strings.Repeat("call_id", 10_000) + "\n"), "longer than 64 KiB"},
		{"header over 256 columns", "wide.csv", []byte(strings.TrimSuffix(cdrHeader, "\n") + strings.Repeat(",x", 300) + "\n"), "more than 256 columns"},
		{"gzip bomb", "bomb.csv.gz", gz(t, append([]byte(cdrHeader), bytes.Repeat([]byte("7"), 64<<20)...)), "more than 200 times its compressed size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "exports/cdr/shapes/" + tc.key
			res := tl.mustIngest(tl.put(key, tc.body))
			if res.Status != lake.StatusRejected || !strings.Contains(res.Message, tc.want) {
				t.Errorf("status %s, message %q; want rejected, saying %q", res.Status, res.Message, tc.want)
			}
			if rep := tl.report(key); rep.Message != res.Message {
				t.Errorf("report says %q, result %q", rep.Message, res.Message)
			}
		})
	}
}

// TestIngestQuarantinesEarly: once the rejected lines exceed the threshold
// whatever the rest of the file holds, the rest is counted, not validated.
func TestIngestQuarantinesEarly(t *testing.T) {
	tl := newTestLake(t, false)
	const n = 100_000
	body := cdrCSV("E", n, func(i int) string { return "bad" })
	key := "exports/cdr/2026/10/05/allbad.csv"
	res := tl.mustIngest(tl.put(key, body))
	if res.Status != lake.StatusQuarantined || res.RowsOK != 0 || res.RowsRejected != n || res.Lines != n+1 {
		t.Fatalf("status %s ok %d rejected %d lines %d; want quarantined, 0, %d, %d", res.Status, res.RowsOK, res.RowsRejected, res.Lines, n, n+1)
	}
	if !strings.Contains(res.Message, "were not validated") {
		t.Errorf("message %q does not say the rest was not validated", res.Message)
	}
	rep := tl.report(key)
	if rep.LinesUnread < n/2 || rep.LinesListed != n || len(rep.Errors) != 2 {
		t.Fatalf("report: %d unread, %d lines listed in %d entries %+v; want the bad lines read as one range, the rest as another", rep.LinesUnread, rep.LinesListed, len(rep.Errors), rep.Errors)
	}
	if last := rep.Errors[1]; last.LastLine != n+1 || !strings.Contains(last.Reason, "not validated") {
		t.Errorf("last entry %+v, want the unread lines up to line %d", last, n+1)
	}
	if got := tl.count(lake.CDRTable); got != 0 {
		t.Errorf("crm.cdr has %d rows, want 0", got)
	}
}

// TestIngestOutOfTimeFails: a file that cannot be parsed before the
// function's deadline minus the margin ends as failed, with its report and
// log row, no data files left, and a later delivery ingests it.
func TestIngestOutOfTimeFails(t *testing.T) {
	tl := newTestLake(t, false)
	const n = 100_000
	key := "exports/cdr/2026/10/06/slow.csv"
	rec := tl.put(key, cdrCSV("T", n, nil))
	in := tl.newIngester(tl.cat)
	// A clock that moves a minute each time it is read: the hour the context
	// gives runs out part way through the file.
	var ticks atomic.Int64
	t0 := time.Now()
	in.Now = func() time.Time { return t0.Add(time.Duration(ticks.Add(1)) * time.Minute) }
	ctx, cancel := context.WithDeadline(context.Background(), t0.Add(time.Hour))
	defer cancel()
	out, err := in.HandleS3Event(ctx, landingBucket, events.S3Event{Records: []events.S3EventRecord{rec}})
	if err != nil {
		t.Fatal(err)
	}
	res := out.Files[0]
	if res.Status != lake.StatusFailed || !strings.Contains(res.Message, "out of time at line") || res.RowsOK != 0 {
		t.Fatalf("result %+v; want failed, out of time, nothing committed", res)
	}
	if rep := tl.report(key); rep.Status != lake.StatusFailed || rep.Message != res.Message {
		t.Errorf("report status %s message %q", rep.Status, rep.Message)
	}
	if got := tl.count(lake.CDRTable); got != 0 {
		t.Errorf("crm.cdr has %d rows, want 0", got)
	}
	if files := tl.objects(lakeBucket, "warehouse/crm/cdr/data/"); len(files) != 0 {
		t.Errorf("the failed attempt left %d data files", len(files))
	}
	if got := tl.count(lake.IngestLogTable); got != 1 {
		t.Errorf("crm.ingest_log has %d rows, want the failed one", got)
	}
	if res := tl.mustIngest(rec); res.Status != lake.StatusCommitted || res.RowsOK != n {
		t.Errorf("delivery with time enough: %+v, want %d rows committed", res, n)
	}
}

// TestIngestLeaksNoPersonalData runs malformed register and CDR files
// carrying clear names, numbers and birth dates through the real handler
// and looks for them in every log line, report, ingest_log row and result.
func TestIngestLeaksNoPersonalData(t *testing.T) {
	tl := newTestLake(t, false)
	var logs bytes.Buffer
	tl.in.Log = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	const (
		name  = "Quistorp"
		first = "Annabel"
		num   = "491709876543"
		other = "4930555123456"
		birth = "1961-07-14"
	)
	subHeader := "export_date,subscriber_id,msisdn,name,gender,birth_date,occupation,education,income_band,region,plan,activation_date,status,status_date,payment_method,credit_limit\n"
	subRow := func(msisdn, nm, bd string) string {
		return fmt.Sprintf("2026-10-31,S0000001,%s,%s,F,%s,teacher,university,C,North,PLUS20,2021-03-14,active,2021-03-14,direct_debit,150.00\n", msisdn, nm, bd)
	}
	clear := subRow(num, first+" "+name, birth)
	cdrRow := func(msisdn, otherParty string) string {
		return fmt.Sprintf("C1,S1,%s,%s,offnet,2026-10-01T10:00:00Z,30,voice,out,false,false,C1,North,0,0.1\n", msisdn, otherParty)
	}
	files := map[string]string{
		"exports/subscribers/leak/noheader.csv":  clear + clear,
		"exports/subscribers/leak/semicolon.csv": strings.ReplaceAll(clear, ",", ";"),
		"exports/subscribers/leak/latin1.csv":    strings.Replace(clear, first, "J\xfcrgen", 1),
		"exports/subscribers/leak/utf16.csv":     string(utf16LE(clear, true)),
		"exports/subscribers/leak/badrows.csv": subHeader + subRow(num+"x", first+" "+name, birth) + // bad msisdn
			subRow(num, first+"\x01"+name, birth) + // bad name
			subRow(num, first+" "+name, "1961-02-30") + // bad birth date
			subRow(num, first+" "+name, birth)[:60] + "\n" + // too few fields
			`"` + clear + // unclosed quote
			subRow(num, first+" "+name, birth),
		// Another subscriber: the same subscriber and export date as badrows.csv's good row would
		// be a duplicate record in whichever of the two files is ingested second.
		"exports/subscribers/leak/namedcolumn.csv": strings.TrimSuffix(subHeader, "\n") + "," + first + " " + name + "\n" +
			strings.Replace(strings.TrimSuffix(clear, "\n"), "S0000001", "S0000002", 1) + ",x\n",
		"exports/cdr/leak/noheader.csv": cdrRow(num, other),
		"exports/cdr/leak/badrows.csv": cdrHeader + cdrRow(num, "+"+other) + cdrRow(num+"123456", other) +
			cdrRow(num, other)[:30] + "\n" + cdrRow(num, other),
	}
	var results bytes.Buffer
	for _, key := range slices.Sorted(maps.Keys(files)) {
		res := tl.mustIngest(tl.put(key, []byte(files[key])))
		fmt.Fprintf(&results, "%+v\n", res)
		if res.ReportKey != "" {
			results.Write(tl.get(landingBucket, res.ReportKey))
		}
	}
	at, err := lake.ReadTable(context.Background(), tl.cat, lake.IngestLogTable)
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	var logRows bytes.Buffer
	for c := 0; c < int(at.NumCols()); c++ {
		for _, ch := range at.Column(c).Data().Chunks() {
			for i := 0; i < ch.Len(); i++ {
				logRows.WriteString(ch.ValueStr(i) + "\n")
			}
		}
	}
	if at.NumRows() != int64(len(files)) {
		t.Errorf("crm.ingest_log has %d rows, want %d", at.NumRows(), len(files))
	}
	for what, text := range map[string]string{"logs": logs.String(), "results and reports": results.String(), "ingest_log": logRows.String()} {
		if text == "" {
			t.Errorf("no %s captured", what)
		}
		for _, secret := range []string{name, first, num, other, birth, "1961-02-30", "J\xfcrgen", "J\ufffdrgen"} {
			if strings.Contains(text, secret) {
				i := strings.Index(text, secret)
				t.Errorf("%s contain %q: …%s…", what, secret, text[max(0, i-60):min(len(text), i+60)])
			}
		}
	}
	// The reports still say which values were wrong, masked as the API masks them.
	rep := tl.report("exports/subscribers/leak/badrows.csv")
	want := map[string]string{"msisdn": lake.MaskMSISDN(num + "x"), "name": "A***", "birth_date": "****-**-**"}
	for _, e := range rep.Errors {
		if w, ok := want[e.Column]; ok {
			if e.Value != w {
				t.Errorf("line %d column %s value %q, want %q", e.Line, e.Column, e.Value, w)
			}
			delete(want, e.Column)
		}
	}
	if len(want) > 0 || rep.RowsRejected != 5 || rep.RowsOK != 1 {
		t.Errorf("report %+v: missing entries for %v, or not 5 rejected and 1 ok", rep, want)
	}
}
