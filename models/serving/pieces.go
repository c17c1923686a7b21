package serving

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
)

// A snapshot can be built from pieces, so that no process holds every
// customer's full row: a scoring bucket encodes the detail records of its
// customers (EncodeDetail: the bytes detail.bin holds per customer, which
// need nothing computed over the whole run), and the commit assembles
// detail.bin from the pieces in id order (DetailAssembly) and encodes
// columns.bin from rows without their detail fields (EncodeAssembled,
// StripDetail). The files are byte for byte what Encode writes for the
// same customers (TestAssembledEqualsEncode).

// DetailPiece is the detail records of some customers, in their order:
// Body holds the records back to back, Lens each one's length.
type DetailPiece struct {
	Body []byte
	Lens []uint32
}

// EncodeDetail encodes the detail records of customers (as Encode does
// for each of them).
func EncodeDetail(customers []Customer) (*DetailPiece, error) {
	p := &DetailPiece{Body: make([]byte, 0, len(customers)*detailGuess), Lens: make([]uint32, len(customers))}
	for i := range customers {
		n := len(p.Body)
		var err error
		if p.Body, err = appendDetail(p.Body, &customers[i]); err != nil {
			return nil, fmt.Errorf("serving: %w", err)
		}
		p.Lens[i] = uint32(len(p.Body) - n)
	}
	return p, nil
}

// StripDetail clears the fields only detail.bin holds (MSISDN, name, the
// dates, the history), keeping those the run's figures and crm.scores read
// (the reasons). columns.bin is encoded from such rows exactly as from the
// full ones.
func StripDetail(c *Customer) {
	c.MSISDN, c.Name, c.ActivationDate, c.StatusDate, c.History = "", "", "", "", nil
}

// DetailAssembly is detail.bin being built from pieces: the record ends
// are fixed first (Len of every row in id order), then each piece's
// records are copied to their rows (Place), one piece at a time.
type DetailAssembly struct {
	buf  []byte
	ends []uint64
}

// NewDetailAssembly lays out detail.bin for records of lens, in row
// order.
func NewDetailAssembly(lens []uint32) *DetailAssembly {
	ends := make([]uint64, len(lens))
	end := uint64(detailHeader)
	for i, n := range lens {
		end += uint64(n)
		ends[i] = end
	}
	buf := make([]byte, end)
	copy(buf, detailMagic)
	return &DetailAssembly{buf: buf, ends: ends}
}

// Place copies piece's records to their rows: record j of the piece is
// row rows[j]'s.
func (a *DetailAssembly) Place(piece *DetailPiece, rows []int) error {
	if len(rows) != len(piece.Lens) {
		return fmt.Errorf("serving: a detail piece of %d records placed on %d rows", len(piece.Lens), len(rows))
	}
	off := 0
	for j, r := range rows {
		n := int(piece.Lens[j])
		if r < 0 || r >= len(a.ends) || off+n > len(piece.Body) {
			return corrupt("detail piece record %d (row %d, %d bytes) out of range", j, r, n)
		}
		start := uint64(detailHeader)
		if r > 0 {
			start = a.ends[r-1]
		}
		if a.ends[r]-start != uint64(n) {
			return corrupt("detail piece record %d is %d bytes, row %d was laid out for %d", j, n, r, a.ends[r]-start)
		}
		copy(a.buf[start:a.ends[r]], piece.Body[off:off+n])
		off += n
	}
	if off != len(piece.Body) {
		return corrupt("detail piece holds %d bytes past its records", len(piece.Body)-off)
	}
	return nil
}

// EncodeAssembled builds a run's files from rows sorted by id (their
// detail fields are not read: StripDetail) and the assembled detail.bin,
// every row's record placed.
func EncodeAssembled(meta *Meta, rows []Customer, det *DetailAssembly) (*Files, error) {
	if meta == nil {
		return nil, errors.New("serving: no meta")
	}
	if len(rows) != len(det.ends) {
		return nil, fmt.Errorf("serving: %d rows, detail laid out for %d", len(rows), len(det.ends))
	}
	for i := range rows {
		if !ValidID(rows[i].SubscriberID) {
			return nil, fmt.Errorf("serving: row %d: invalid subscriber id %q", i, rows[i].SubscriberID)
		}
		if i > 0 && rows[i-1].SubscriberID >= rows[i].SubscriberID {
			return nil, fmt.Errorf("serving: customers not sorted by id at %d (%s, %s)", i, rows[i-1].SubscriberID, rows[i].SubscriberID)
		}
	}
	cols, err := encodeColumns(rows, det.ends)
	if err != nil {
		return nil, fmt.Errorf("serving: %w", err)
	}
	mb, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("serving: encode meta: %w", err)
	}
	return &Files{Columns: cols, Detail: det.buf, Meta: mb}, nil
}

// WriteFiles stores a run's encoded files and then points latest.json at
// them, as Write does.
func WriteFiles(ctx context.Context, st Store, run string, f *Files) (Pointer, error) {
	dir := path.Join("runs", run)
	p := Pointer{Format: FormatColumns, Run: run,
		Columns: path.Join(dir, "columns.bin"), ColumnsBytes: int64(len(f.Columns)),
		Detail: path.Join(dir, "detail.bin"), DetailBytes: int64(len(f.Detail)),
		Meta: path.Join(dir, "meta.json")}
	pb, _ := json.Marshal(p)
	for _, part := range []struct {
		key  string
		body []byte
	}{{p.Detail, f.Detail}, {p.Columns, f.Columns}, {p.Meta, f.Meta}, {LatestKey, pb}} {
		if err := st.Put(ctx, part.key, part.body); err != nil {
			return Pointer{}, fmt.Errorf("serving: write %s: %w", part.key, err)
		}
	}
	return p, nil
}

// EncodeAssembledShards builds a run's files in n shards from rows sorted
// by id (stripped: StripDetail) and their assembled detail.bin: shard k
// holds the rows with ShardOf(id, n) == k in id order, each shard encoded
// alone with the run's meta, byte for byte what WriteSharded encodes for
// the full rows. One shard is EncodeAssembled. Each shard's detail.bin is
// copied out of det, so the split holds the snapshot's bytes twice.
func EncodeAssembledShards(meta *Meta, rows []Customer, det *DetailAssembly, n int) ([]*Files, error) {
	if n < 1 || n > MaxShards {
		return nil, fmt.Errorf("serving: %d shards, want 1 to %d", n, MaxShards)
	}
	if n == 1 {
		f, err := EncodeAssembled(meta, rows, det)
		if err != nil {
			return nil, err
		}
		return []*Files{f}, nil
	}
	if len(rows) != len(det.ends) {
		return nil, fmt.Errorf("serving: %d rows, detail laid out for %d", len(rows), len(det.ends))
	}
	of := make([][]int, n)
	for i := range rows {
		k := ShardOf(rows[i].SubscriberID, n)
		of[k] = append(of[k], i)
	}
	start := func(i int) uint64 {
		if i == 0 {
			return detailHeader
		}
		return det.ends[i-1]
	}
	out := make([]*Files, n)
	for k, ix := range of {
		part := make([]Customer, len(ix))
		lens := make([]uint32, len(ix))
		for j, i := range ix {
			part[j] = rows[i]
			lens[j] = uint32(det.ends[i] - start(i))
		}
		d := NewDetailAssembly(lens)
		for j, i := range ix {
			s := uint64(detailHeader)
			if j > 0 {
				s = d.ends[j-1]
			}
			copy(d.buf[s:d.ends[j]], det.buf[start(i):det.ends[i]])
		}
		f, err := EncodeAssembled(meta, part, d)
		if err != nil {
			return nil, fmt.Errorf("serving: shard %d of %d: %w", k, n, err)
		}
		out[k] = f
	}
	return out, nil
}

// Merge builds a run's files (one shard's, or the unsharded run's) from
// pieces, each the encoding (Encode) of some of its customers: rows are
// taken in id order across the pieces, each decoded whole (columns and
// detail), handed to fix, which may change it (what the run ranks over
// every piece: the value tier) or read it, and encoded again. The result
// is what Encode writes for the fixed rows, byte for byte
// (TestMergeEqualsEncode), and Merge holds the pieces' files and the
// result's, never a decoded row beyond the one in hand: the commit of a
// fanned-out run writes the snapshot from its buckets' pieces this way.
// An id in two pieces is an error.
func Merge(meta *Meta, pieces []*Files, fix func(*Customer) error) (*Files, error) {
	if meta == nil {
		return nil, errors.New("serving: no meta")
	}
	type cursor struct {
		cols *columns
		det  []byte
		r    int
	}
	curs := make([]*cursor, 0, len(pieces))
	n, detBytes := 0, detailHeader
	for k, f := range pieces {
		if len(f.Detail) < detailHeader || string(f.Detail[:detailHeader]) != detailMagic {
			return nil, corrupt("piece %d: detail.bin has no header", k)
		}
		buf := alignedBuffer(int64(len(f.Columns)))
		copy(buf, f.Columns)
		cols, err := openColumns(buf, int64(len(f.Detail)))
		if err != nil {
			return nil, fmt.Errorf("serving: piece %d: %w", k, err)
		}
		n += cols.n
		detBytes += len(f.Detail) - detailHeader
		if cols.n > 0 {
			curs = append(curs, &cursor{cols: cols, det: f.Detail})
		}
	}
	// A heap of the pieces by their next id.
	less := func(a, b *cursor) bool { return a.cols.id(a.r) < b.cols.id(b.r) }
	down := func(i int) {
		for {
			l, m := 2*i+1, i
			if l < len(curs) && less(curs[l], curs[m]) {
				m = l
			}
			if l+1 < len(curs) && less(curs[l+1], curs[m]) {
				m = l + 1
			}
			if m == i {
				return
			}
			curs[i], curs[m] = curs[m], curs[i]
			i = m
		}
	}
	for i := len(curs)/2 - 1; i >= 0; i-- {
		down(i)
	}
	b := newColumnsBuilder(n)
	det := make([]byte, 0, detBytes)
	det = append(det, detailMagic...)
	view := &Snapshot{}
	prev := ""
	for len(curs) > 0 {
		cu := curs[0]
		view.cols = cu.cols
		var c Customer
		view.fill(&c, cu.r)
		start := uint64(detailHeader)
		if cu.r > 0 {
			start = cu.cols.detEnds[cu.r-1]
		}
		if err := decodeDetail(cu.det[start:cu.cols.detEnds[cu.r]], &c); err != nil {
			return nil, fmt.Errorf("serving: customer %s: %w", c.SubscriberID, err)
		}
		if c.SubscriberID <= prev && b.r > 0 {
			return nil, fmt.Errorf("serving: customer %s is in two pieces", c.SubscriberID)
		}
		prev = strings.Clone(c.SubscriberID)
		if fix != nil {
			if err := fix(&c); err != nil {
				return nil, err
			}
		}
		if c.SubscriberID != prev {
			return nil, fmt.Errorf("serving: customer %s changed its id to %s while merged", prev, c.SubscriberID)
		}
		var err error
		if det, err = appendDetail(det, &c); err != nil {
			return nil, fmt.Errorf("serving: %w", err)
		}
		if err := b.add(&c, uint64(len(det))); err != nil {
			return nil, fmt.Errorf("serving: %w", err)
		}
		if cu.r++; cu.r == cu.cols.n {
			curs[0] = curs[len(curs)-1]
			curs = curs[:len(curs)-1]
		}
		down(0)
	}
	cols, err := b.finish()
	if err != nil {
		return nil, fmt.Errorf("serving: %w", err)
	}
	mb, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("serving: encode meta: %w", err)
	}
	return &Files{Columns: cols, Detail: det, Meta: mb}, nil
}
