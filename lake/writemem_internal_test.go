package lake

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"
)

// The parser sizes new builders like the batch emitted last, but the open
// builders reserve no more rows than it may buffer: input that turns from
// one partition at a time (full batches) to rows spread over hundreds of
// partitions holds about what the spread rows alone hold.
func TestParserReservationBounded(t *testing.T) {
	const batchRows, rows = 256, 30_000
	peak := func(sortedFirst bool) int {
		var b bytes.Buffer
		b.WriteString("call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n")
		row := func(i, day int) {
			fmt.Fprintf(&b, "C%09d,S0000001,4917%08d,4930123,offnet,2025-%02d-%02dT10:00:00Z,10,voice,out,false,false,CELL1,North,0,0.1\n",
				i, i, 1+day/28%12, 1+day%28)
		}
		i := 0
		if sortedFirst {
			for ; i < rows; i++ {
				row(i, 0) // one partition: full batches
			}
		}
		rng := rand.New(rand.NewPCG(1, 1))
		for end := i + rows; i < end; i++ {
			row(i, 1+rng.IntN(300)) // every partition open at once
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		p := newParser(CDRFormat, testFileContext())
		p.BatchRows, p.Mem = batchRows, mem
		most := 0
		var got int64
		for pb, err := range p.Batches(bytes.NewReader(b.Bytes())) {
			if err != nil {
				t.Fatal(err)
			}
			most = max(most, mem.CurrentAlloc())
			got += pb.Rec.NumRows()
			pb.Rec.Release()
		}
		if got != int64(i) {
			t.Fatalf("%d rows, want %d (%+v)", got, i, p.Stats.Errors)
		}
		mem.AssertSize(t, 0)
		return most
	}
	spread, mixed := peak(false), peak(true)
	if mixed > 2*spread {
		t.Errorf("full batches, then rows spread over 300 partitions held %d KiB of Arrow memory at most; the spread rows alone %d KiB: the reservations are not bounded", mixed>>10, spread>>10)
	}
}

// Parquet pages go through lake's zstd codec (a page-sized window), which
// gives back what it compressed at every level the tables may use.
func TestPageZstdRoundTrip(t *testing.T) {
	c, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*pageZstd); !ok {
		t.Fatalf("the registered zstd codec is %T, want *pageZstd", c)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	page := make([]byte, 1<<20)
	for i := range page {
		page[i] = "0123456789,CS-"[rng.IntN(14)] // compressible, like CSV columns
	}
	for _, level := range []int{compress.DefaultCompressionLevel, 1, 3, 9} {
		z := c.EncodeLevel(nil, page, level)
		if len(z) >= len(page) {
			t.Errorf("level %d: %d bytes compressed to %d", level, len(page), len(z))
		}
		back, err := c.(compress.ErrorCodec).DecodeWithError(nil, z)
		if err != nil || !bytes.Equal(back, page) {
			t.Fatalf("level %d: round trip %d bytes, err %v", level, len(back), err)
		}
	}
}
