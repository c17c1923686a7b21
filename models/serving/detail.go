package serving

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"
)

// detail.bin holds what a customer's page, list entry or 360° view shows
// beyond the columns: names, MSISDN, dates, reasons and history. After an
// 8-byte magic "TLDETL01" come the customers' records in subscriber id
// order; columns.bin holds where each one ends. A record is
//
//	uvarint-length strings: msisdn, name, activation_date, status_date
//	uvarint count, then that many reason strings
//	uvarint count, then per month: month string, voice_minutes (float64
//	bits), voice_calls, sms (varint), data_mb (float64 bits), care_calls
//	(varint), amount_due, amount_paid, arrears (varint cents)
//	uvarint count, then that many bad-debt reason strings
//	uvarint-length strings: segment_name, best_offer
//	uvarint count k ≤ MaxOffers, then the uplift under offers 1..k
//	(varint, units of 1e-9 as the uplift column; the offers past k: 0)
//	CRC-32C of the bytes above (uint32)
//
// The API reads records by byte range when it first needs them and keeps
// them (bounded) in memory.

const (
	detailMagic     = "TLDETL01"
	detailHeader    = 8
	detailMinRecord = 4 + 4 + 3 + 2 // six empty strings, three zero counts, the CRC
)

// appendDetail appends c's detail.bin record (the part of a Customer not
// in columns.bin) to b.
func appendDetail(b []byte, c *Customer) ([]byte, error) {
	start := len(b)
	str := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	str(c.MSISDN)
	str(c.Name)
	str(c.ActivationDate)
	str(c.StatusDate)
	b = binary.AppendUvarint(b, uint64(len(c.Reasons)))
	for _, r := range c.Reasons {
		str(r)
	}
	b = binary.AppendUvarint(b, uint64(len(c.History)))
	for _, m := range c.History {
		for _, v := range []float64{m.VoiceMinutes, m.DataMB, m.AmountDue, m.AmountPaid, m.Arrears} {
			if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e15 {
				return nil, fmt.Errorf("customer %s: history %s holds %v", c.SubscriberID, m.Month, v)
			}
		}
		str(m.Month)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.VoiceMinutes))
		b = binary.AppendVarint(b, int64(m.VoiceCalls))
		b = binary.AppendVarint(b, int64(m.SMS))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.DataMB))
		b = binary.AppendVarint(b, int64(m.CareCalls))
		b = binary.AppendVarint(b, ToCents(m.AmountDue))
		b = binary.AppendVarint(b, ToCents(m.AmountPaid))
		b = binary.AppendVarint(b, ToCents(m.Arrears))
	}
	b = binary.AppendUvarint(b, uint64(len(c.BadDebtReasons)))
	for _, r := range c.BadDebtReasons {
		str(r)
	}
	str(c.SegmentName)
	str(c.BestOffer)
	k := len(c.OfferUplift)
	for k > 0 && c.OfferUplift[k-1] == 0 && !math.Signbit(c.OfferUplift[k-1]) {
		k--
	}
	b = binary.AppendUvarint(b, uint64(k))
	for _, v := range c.OfferUplift[:k] {
		u, ok := offerUnits(v)
		if !ok {
			return nil, fmt.Errorf("customer %s: offer uplift %v is out of the range a snapshot holds (±%v)", c.SubscriberID, v, math.MaxInt32/scaleProb)
		}
		b = binary.AppendVarint(b, int64(u))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli)), nil
}

// offerUnits is an offer's uplift in the uplift column's units (1e-9),
// as that column stores it; ok false past the int32 range.
func offerUnits(v float64) (int32, bool) {
	col := Column{Kind: Fixed, Scale: scaleProb}
	return col.units(v)
}

// decodeDetail fills c's detail fields from one record.
func decodeDetail(rec []byte, c *Customer) error {
	if len(rec) < detailMinRecord {
		return corrupt("detail record of %d bytes", len(rec))
	}
	body := rec[:len(rec)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(rec[len(body):]) {
		return corrupt("detail record checksum")
	}
	d := detailDecoder{b: body}
	c.MSISDN, c.Name, c.ActivationDate, c.StatusDate = d.str(), d.str(), d.str(), d.str()
	if n := d.count(); n > 0 {
		c.Reasons = make([]string, n)
		for i := range c.Reasons {
			c.Reasons[i] = d.str()
		}
	} else {
		c.Reasons = []string{}
	}
	c.History = make([]Month, d.count())
	for i := range c.History {
		m := &c.History[i]
		m.Month = d.str()
		m.VoiceMinutes = d.float()
		m.VoiceCalls, m.SMS = d.int32(), d.int32()
		m.DataMB = d.float()
		m.CareCalls = d.int32()
		m.AmountDue, m.AmountPaid, m.Arrears = FromCents(d.varint()), FromCents(d.varint()), FromCents(d.varint())
	}
	c.BadDebtReasons = nil
	if n := d.count(); n > 0 {
		c.BadDebtReasons = make([]string, n)
		for i := range c.BadDebtReasons {
			c.BadDebtReasons[i] = d.str()
		}
	}
	c.SegmentName, c.BestOffer = d.str(), d.str()
	c.OfferUplift = [MaxOffers]float64{}
	k := d.count()
	if k > MaxOffers {
		return corrupt("detail record with %d offers, at most %d", k, MaxOffers)
	}
	for i := range k {
		c.OfferUplift[i] = float64(d.int32()) / scaleProb
	}
	if d.bad || len(d.b) != 0 {
		return corrupt("detail record does not parse")
	}
	return nil
}

// detailDecoder reads a record; bad sticks once anything is out of bounds.
type detailDecoder struct {
	b   []byte
	bad bool
}

func (d *detailDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *detailDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *detailDecoder) int32() int32 {
	v := d.varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.bad = true
	}
	return int32(v)
}

// count is a list length, bounded by the bytes left (each element takes
// at least one), so a corrupt count cannot allocate much.
func (d *detailDecoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return 0
	}
	return int(v)
}

func (d *detailDecoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *detailDecoder) float() float64 {
	if len(d.b) < 8 {
		d.bad, d.b = true, nil
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

// Detail reads.
const (
	// maxParallelReads is how many byte ranges are read at once.
	maxParallelReads = 64
	// mergeGap: ranges closer than this are read as one.
	mergeGap = 16 << 10
	// maxRead bounds one merged range.
	maxRead = 4 << 20
	// cacheRows: requests of at most this many rows go through the cache
	// (pages, lists, look-ups); larger ones (exports) read past it.
	cacheRows = 1024
	// DefaultCacheBytes bounds the cached records of a snapshot.
	DefaultCacheBytes = 64 << 20
)

// RangeReader reads part of a stored file.
type RangeReader interface {
	// ReadAt fills p with the bytes of key from off on.
	ReadAt(ctx context.Context, key string, p []byte, off int64) error
}

// detailFile reads records of detail.bin by row, through a bounded cache.
type detailFile struct {
	st  RangeReader
	key string
	end func(r int) uint64 // where row r's record ends

	mu    sync.Mutex
	cache map[int32][]byte
	fifo  []int32 // insertion order, for eviction
	bytes int
	limit int
	reads int64 // ranges read, for tests and logs
}

func (f *detailFile) span(r int32) (int64, int64) {
	start := uint64(detailHeader)
	if r > 0 {
		start = f.end(int(r) - 1)
	}
	return int64(start), int64(f.end(int(r)))
}

// records returns the records of rows (any order, repeats allowed), in
// the order asked.
func (f *detailFile) records(ctx context.Context, rows []int32) ([][]byte, error) {
	out := make([][]byte, len(rows))
	useCache := len(rows) <= cacheRows
	var missing []int32
	if useCache {
		f.mu.Lock()
		for i, r := range rows {
			if rec, ok := f.cache[r]; ok {
				out[i] = rec
			} else {
				missing = append(missing, r)
			}
		}
		f.mu.Unlock()
	} else {
		missing = slices.Clone(rows)
	}
	if len(missing) == 0 {
		return out, nil
	}
	slices.Sort(missing)
	missing = slices.Compact(missing)
	// Merge neighbouring records into ranges.
	type span struct {
		off, end int64
		rows     []int32
	}
	var spans []span
	for _, r := range missing {
		s, e := f.span(r)
		if k := len(spans) - 1; k >= 0 && s-spans[k].end <= mergeGap && e-spans[k].off <= maxRead {
			spans[k].end = e
			spans[k].rows = append(spans[k].rows, r)
			continue
		}
		spans = append(spans, span{off: s, end: e, rows: []int32{r}})
	}
	got := make(map[int32][]byte, len(missing))
	var gotMu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallelReads)
	for _, sp := range spans {
		g.Go(func() error {
			buf := make([]byte, sp.end-sp.off)
			if err := f.st.ReadAt(gctx, f.key, buf, sp.off); err != nil {
				return fmt.Errorf("serving: read %s [%d, %d): %w", f.key, sp.off, sp.end, err)
			}
			gotMu.Lock()
			defer gotMu.Unlock()
			for _, r := range sp.rows {
				s, e := f.span(r)
				got[r] = buf[s-sp.off : e-sp.off : e-sp.off]
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.reads += int64(len(spans))
	if useCache {
		for _, r := range missing {
			rec := got[r]
			if _, ok := f.cache[r]; ok {
				continue
			}
			rec = slices.Clip(slices.Clone(rec)) // not pinning a merged range
			f.cache[r], f.bytes = rec, f.bytes+len(rec)
			f.fifo = append(f.fifo, r)
			for f.bytes > f.limit && len(f.fifo) > 0 {
				old := f.fifo[0]
				f.fifo = f.fifo[1:]
				f.bytes -= len(f.cache[old])
				delete(f.cache, old)
			}
		}
	}
	f.mu.Unlock()
	for i, r := range rows {
		if out[i] == nil {
			out[i] = got[r]
		}
	}
	return out, nil
}
