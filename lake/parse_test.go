package lake

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/telcolake/telcolake/synth"
)

func testFileContext() fileContext {
	return fileContext{
		source: "s3://landing/exports/test.csv", ingestedAt: 1, now: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
		pseudonym: []byte("test-pseudonym-key"),
	}
}

// parseAll runs the parser over body and returns the rows in yielded batches.
func parseAll(t testing.TB, f *Format, body []byte) (*Parser, int64) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	p := newParser(f, testFileContext())
	p.Mem = mem
	p.BatchRows = 7 // many small batches exercise the batch boundary
	var rows int64
	for b, err := range p.Batches(bytes.NewReader(body)) {
		if err != nil {
			break
		}
		rec := b.Rec
		if int(rec.NumCols()) != len(f.Table.Schema.Fields()) {
			t.Fatalf("batch has %d columns, schema %d", rec.NumCols(), len(f.Table.Schema.Fields()))
		}
		if f == CDRFormat {
			starts := rec.Column(5).(*array.Timestamp)
			subs := rec.Column(1).(*array.String)
			for i := 0; i < starts.Len(); i++ {
				day := int64(starts.Value(i)) / microsPerDay
				if part := day*SubscriberBuckets + int64(SubscriberBucket(subs.Value(i))); part != b.Part {
					t.Fatalf("row of day %d, bucket %d in a batch of partition %d", day, SubscriberBucket(subs.Value(i)), b.Part)
				}
			}
		}
		rows += rec.NumRows()
		rec.Release()
	}
	mem.AssertSize(t, 0)
	return p, rows
}

func TestParserCountsAndLines(t *testing.T) {
	body := "call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge,extra\r\n" +
		"C1,S1,491700000001,4930123456,onnet,2026-11-22T08:15:02Z,127,voice,out,false,false,CELL1,North,0,0.2117,x\r\n" +
		"C2,S1,491700000001,4930123456,onnet,2026-11-21T08:15:02Z,5,sms,out,false,false,CELL1,North,0,0.09,x\r\n" +
		"\"C3\",S1,491700000001,,,2026-11-21T23:59:59Z,60,data,in,no,no,,\"Rhein, Main\",1024,0,x\r\n" +
		"C4,S1,491700000001,4930123456,onnet,2026-11-22T08:15:02Z,127,voice,out,false,false,CELL1,North,0,\"0.1\nx\r\n"
	p, rows := parseAll(t, CDRFormat, []byte(body))
	if p.Stats.FileErr != nil {
		t.Fatalf("file error: %v", p.Stats.FileErr)
	}
	// The unclosed quote on line 5 costs line 5 only; line 6 is a line of its own.
	if rows != 2 || p.Stats.RowsOK != 2 || p.Stats.RowsRejected != 3 || p.Stats.Lines != 6 {
		t.Errorf("rows %d ok %d rejected %d lines %d; want 2, 2, 3, 6", rows, p.Stats.RowsOK, p.Stats.RowsRejected, p.Stats.Lines)
	}
	if len(p.Stats.Warnings) != 1 || !strings.Contains(p.Stats.Warnings[0], "column(s) 16 ") {
		t.Errorf("warnings %q, want one about column 16", p.Stats.Warnings)
	}
	if e := p.Stats.Errors[0]; e.Line != 3 || e.Column != "duration_s" {
		t.Errorf("first error %+v, want line 3 duration_s (sms with a duration)", e)
	}
	if e := p.Stats.Errors[1]; e.Line != 5 || !strings.Contains(e.Reason, "not closed on its line") {
		t.Errorf("second error %+v, want line 5 unclosed quote", e)
	}
	if e := p.Stats.Errors[2]; e.Line != 6 || e.Reason != "row has 1 fields, the header has 16" {
		t.Errorf("third error %+v, want line 6 with 1 field", e)
	}
}

// FuzzParseCDR feeds arbitrary bytes after a valid header: the parser must
// never panic or leak, every physical line is the header, blank, yielded or
// listed as rejected exactly once, and what is yielded counts exactly RowsOK.
func FuzzParseCDR(f *testing.F) {
	header := "call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n"
	good := "C1,S1,491700000001,4930123456,onnet,2026-11-22T08:15:02Z,127,voice,out,false,false,CELL1,North,0,0.2117"
	for _, seed := range []string{
		good + "\n",
		"C1,S1,491700000001,,data,2026-11-22 08:15:02,60,data,in,0,1,,,99999999,12.5\n",
		"C1,S1,491700000001,4930123456,onnet,2026-11-22T08:15:02Z,-1,voice,out,false,false,CELL1,North,0,0.2117\n",
		"\"C1\",\"S\"\"1\",4917,x,onnet,2026-11-22T08:15:02+01:00,1,sms,mo,y,n,c,r,0,0\n",
		"a,b\n\n\"unterminated\n",
		"C1,S1,491700000001,4930123456,onnet,2026-11-22T08:15:02Z,127,voice,out,false,false,CELL1,M\xfcnchen,0,0.2117\n",
		",,,,,,,,,,,,,,\n",
		"\xef\xbb\xbfC1",
		// The malformed shapes of TestIngestEveryLineAccounted.
		good + "\n\"C2,S1" + good[5:] + "\n" + good + "\n", // unclosed quote
		"C\"3" + good[2:] + "\n",                           // quote inside a value
		"\"C4\"x" + good[2:] + "\n",                        // text after a closing quote
		good + ",extra,fields\n",                           // too many fields
		"C5,S1\n",                                          // too few fields
		good[:40] + strings.Repeat("x", 70_000) + "\n" + good + "\n", // over-long line
		good[:20] + "\x00\x00" + good[22:] + "\n",                    // NUL bytes
		good[:60] + "\xc3\x28" + good[62:] + "\n",                    // invalid UTF-8
		good[:30] + "\r" + good[30:] + "\r\n",                        // CR inside a line
		good + "\r\n\r\n\n" + good,                                   // CRLF, blank lines, no final LF
		good + "\n\x1a",                                              // trailing garbage
		good + "\r" + good + "\r" + good + "\r",                      // bare CR line ends
		"\"" + strings.Repeat("a\n", 50) + "\"\n",                    // a quoted value across lines
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, rows := parseAll(t, CDRFormat, append([]byte(header), data...))
		st := p.Stats
		if st.FileErr != nil {
			t.Fatalf("file error after a valid header: %v", st.FileErr)
		}
		if rows != st.RowsOK {
			t.Fatalf("yielded %d rows, counted %d ok", rows, st.RowsOK)
		}
		if want := 1 + st.BlankLines + st.RowsOK + st.RowsRejected; st.Lines != want {
			t.Fatalf("%d physical lines, accounted %d (1 header + %d blank + %d ok + %d rejected)",
				st.Lines, want, st.BlankLines, st.RowsOK, st.RowsRejected)
		}
		all := append([]byte(header), data...)
		physical := int64(bytes.Count(all, []byte("\n")))
		if all[len(all)-1] != '\n' {
			physical++
		}
		if st.Lines != physical {
			t.Fatalf("parser counted %d lines, the input has %d", st.Lines, physical)
		}
		var listed int64
		prev := int64(1)
		for _, e := range st.Errors {
			if e.Line <= prev || e.Reason == "" || (e.LastLine != 0 && e.LastLine <= e.Line) {
				t.Fatalf("error out of order, without line or reason: %+v after line %d", e, prev)
			}
			prev = max(e.Line, e.LastLine)
			listed += e.Lines()
		}
		if listed != st.RowsRejected {
			t.Fatalf("listed %d rejected lines, counted %d", listed, st.RowsRejected)
		}
	})
}

func TestFormatsMatchGenerator(t *testing.T) {
	for _, tc := range []struct {
		f    *Format
		want []string
	}{{CDRFormat, synth.CDRColumns}, {BillsFormat, synth.BillColumns}, {SubscribersFormat, synth.SubscriberColumns}} {
		var got []string
		for _, c := range tc.f.Columns {
			got = append(got, c.Name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s format columns %v, generator writes %v", tc.f.Table.Name, got, tc.want)
		}
	}
}

// repeatReader yields n copies of b: a huge line without holding it.
type repeatReader struct {
	b byte
	n int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n)
	for i := range p[:k] {
		p[i] = r.b
	}
	r.n -= k
	return int(k), nil
}

// TestParserMemoryBounded: a 512 MiB line is rejected and skipped without
// being buffered (allocations stay far below its size), the lines around it
// are parsed, and a gzip bomb stops at the ratio limit.
func TestParserMemoryBounded(t *testing.T) {
	header := "call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n"
	good := "C1,S1,491700000001,4930123456,onnet,2026-11-22T08:15:02Z,127,voice,out,false,false,CELL1,North,0,0.2117\n"
	const huge = 512 << 20
	body := io.MultiReader(strings.NewReader(header+good), &repeatReader{b: '7', n: huge}, strings.NewReader("\n"+good))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	p := newParser(CDRFormat, testFileContext())
	var rows int64
	for b, err := range p.Batches(body) {
		if err != nil {
			t.Fatal(err)
		}
		rows += b.Rec.NumRows()
		b.Rec.Release()
	}
	runtime.ReadMemStats(&after)
	if st := p.Stats; rows != 2 || st.RowsRejected != 1 || st.Lines != 4 || st.Errors[0].Line != 3 {
		t.Errorf("rows %d, stats %+v; want 2 rows and line 3 rejected of 4", rows, st)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("parsing a %d MiB line allocated %d MiB: the line was buffered", huge>>20, alloc>>20)
	}

	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	io.Copy(zw, io.MultiReader(strings.NewReader(header), &repeatReader{b: '7', n: 128 << 20}))
	zw.Close()
	r, err := openReader(&zb, "bomb.csv.gz", DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	p = newParser(CDRFormat, testFileContext())
	for range p.Batches(r) {
	}
	if fe := p.Stats.FileErr; fe == nil || !strings.Contains(fe.Reason, "more than 200 times") {
		t.Errorf("gzip bomb: file error %v, want the ratio limit", fe)
	}
}

// Rows that alternate among partitions whose keys share their low bits
// (days two apart: 16 keys apart) and among buckets each land in their
// own partition's batches, every row once, across many batch emissions.
func TestParserPartitionsInterleaved(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "C%07d,S%07d,4917%08d,4930%06d,offnet,2026-10-%02dT%02d:%02d:07Z,%d,voice,out,false,false,CELL%03d,North,0,0.%04d\n",
			i, i%500, i%500, i%9973, 1+i%28, i%24, i%60, 1+i%3600, i%100, i%10000)
	}
	body := b.Bytes()
	_, rows := parseAll(t, CDRFormat, body)
	if rows != 3000 {
		t.Errorf("%d rows in the batches, want 3000", rows)
	}
	p := newParser(CDRFormat, testFileContext())
	p.BatchRows = 5
	want := map[int64]int64{}
	for i := range 3000 {
		day := time.Date(2026, 10, 1+i%28, 0, 0, 0, 0, time.UTC).Unix() / 86400
		want[day*SubscriberBuckets+int64(SubscriberBucket(fmt.Sprintf("S%07d", i%500)))]++
	}
	got := map[int64]int64{}
	for pb, err := range p.Batches(bytes.NewReader(body)) {
		if err != nil {
			t.Fatal(err)
		}
		got[pb.Part] += pb.Rec.NumRows()
		pb.Rec.Release()
	}
	if !maps.Equal(got, want) {
		t.Errorf("rows by partition:\n got %v\nwant %v", got, want)
	}
}
