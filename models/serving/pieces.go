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
// customer's row: a scoring bucket encodes its customers of each shard
// (Encode), and the commit merges the buckets' pieces of a shard in id
// order (Merge), fixing what it ranks over every bucket (the value tier),
// then stores the files (PutRun or PutShard) and, once the run's meta is
// done, the pointer (PointRun or PointShards).

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

// Merge builds a run's files (one shard's, or the unsharded run's) from
// pieces, each the encoding (Encode) of some of its customers: rows are
// taken in id order across the pieces, each decoded whole (columns and
// detail), handed to fix, which may change it (what the run ranks over
// every piece: the value tier) or read it, and encoded again. The result
// is what Encode writes for the fixed rows, byte for byte
// (TestMergeEqualsEncode), and Merge holds the pieces' files and the
// result's, never a decoded row beyond the one in hand. An id in two
// pieces is an error. Merge takes the pieces: each one's Columns is
// released (set to nil) once read into place. MergeFrom is the same
// merge reading the pieces from a store, without holding their detail.
func Merge(meta *Meta, pieces []*Files, fix func(*Customer) error) (*Files, error) {
	if meta == nil {
		return nil, errors.New("serving: no meta")
	}
	ins := make([]mergeInput, 0, len(pieces))
	for k, f := range pieces {
		if len(f.Detail) < detailHeader || string(f.Detail[:detailHeader]) != detailMagic {
			return nil, corrupt("piece %d: detail.bin has no header", k)
		}
		buf := alignedBuffer(int64(len(f.Columns)))
		copy(buf, f.Columns)
		f.Columns = nil
		cols, err := openColumns(buf, int64(len(f.Detail)))
		if err != nil {
			return nil, fmt.Errorf("serving: piece %d: %w", k, err)
		}
		ins = append(ins, mergeInput{cols: cols, det: memDetail(f.Detail)})
	}
	return merge(meta, ins, fix)
}

// Piece is one piece of a merge in a store (MergeFrom): its columns.bin
// and detail.bin keys and sizes.
type Piece struct {
	Columns, Detail           string
	ColumnsBytes, DetailBytes int64
}

// MergeWindow is the most of a piece's detail.bin MergeFrom holds at once
// (a record longer than that is read alone).
const MergeWindow = 4 << 20

// mergeWindow is MergeWindow, smaller in tests.
var mergeWindow uint64 = MergeWindow

// MergeFrom is Merge over pieces stored in src: each piece's columns.bin
// is read whole (into the buffer its arrays are used from in place), its
// detail.bin a window of MergeWindow bytes at a time as the merge reaches
// its records (one ranged read each). So it holds the pieces' columns,
// one window per piece and the result, not the pieces' detail; the
// result is Merge's for the same pieces, byte for byte.
func MergeFrom(ctx context.Context, meta *Meta, src RangeReader, pieces []Piece, fix func(*Customer) error) (*Files, error) {
	if meta == nil {
		return nil, errors.New("serving: no meta")
	}
	ins := make([]mergeInput, 0, len(pieces))
	for k, pc := range pieces {
		if pc.DetailBytes < detailHeader {
			return nil, corrupt("piece %d: detail.bin of %d bytes has no header", k, pc.DetailBytes)
		}
		var head [detailHeader]byte
		if err := src.ReadAt(ctx, pc.Detail, head[:], 0); err != nil {
			return nil, fmt.Errorf("serving: piece %d: %w", k, err)
		}
		if string(head[:]) != detailMagic {
			return nil, corrupt("piece %d: detail.bin has no header", k)
		}
		buf := alignedBuffer(pc.ColumnsBytes)
		if err := src.ReadAt(ctx, pc.Columns, buf, 0); err != nil {
			return nil, fmt.Errorf("serving: piece %d: %w", k, err)
		}
		cols, err := openColumns(buf, pc.DetailBytes)
		if err != nil {
			return nil, fmt.Errorf("serving: piece %d: %w", k, err)
		}
		ins = append(ins, mergeInput{cols: cols, det: &windowDetail{ctx: ctx, src: src, key: pc.Detail, size: uint64(pc.DetailBytes)}})
	}
	return merge(meta, ins, fix)
}

// mergeInput is one piece of a merge: its columns, and its detail.bin's
// records by byte range.
type mergeInput struct {
	cols *columns
	det  interface {
		record(start, end uint64) ([]byte, error)
	}
}

// memDetail is a piece's detail.bin in memory.
type memDetail []byte

func (d memDetail) record(start, end uint64) ([]byte, error) { return d[start:end], nil }

// windowDetail reads a piece's detail.bin from a store a window at a
// time: the merge reads each piece's records in order.
type windowDetail struct {
	ctx  context.Context
	src  RangeReader
	key  string
	size uint64
	buf  []byte // the file's bytes [off, off+len(buf))
	off  uint64
}

func (d *windowDetail) record(start, end uint64) ([]byte, error) {
	if start >= d.off && end <= d.off+uint64(len(d.buf)) {
		return d.buf[start-d.off : end-d.off], nil
	}
	n := min(d.size, start+max(mergeWindow, end-start)) - start
	if uint64(cap(d.buf)) < n {
		d.buf = make([]byte, n)
	}
	d.buf, d.off = d.buf[:n], start
	if err := d.src.ReadAt(d.ctx, d.key, d.buf, int64(start)); err != nil {
		d.buf = d.buf[:0]
		return nil, fmt.Errorf("serving: %w", err)
	}
	return d.buf[:end-start], nil
}

// merge is Merge's and MergeFrom's merge of their inputs.
func merge(meta *Meta, ins []mergeInput, fix func(*Customer) error) (*Files, error) {
	type cursor struct {
		in *mergeInput
		r  int
	}
	curs := make([]*cursor, 0, len(ins))
	n := 0
	detBytes := uint64(detailHeader)
	for k := range ins {
		in := &ins[k]
		n += in.cols.n
		if in.cols.n > 0 {
			detBytes += in.cols.detEnd(in.cols.n-1) - detailHeader
			curs = append(curs, &cursor{in: in})
		}
	}
	// A heap of the pieces by their next id.
	less := func(a, b *cursor) bool { return a.in.cols.id(a.r) < b.in.cols.id(b.r) }
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
		cols := cu.in.cols
		view.cols = cols
		var c Customer
		view.fill(&c, cu.r)
		start := uint64(detailHeader)
		if cu.r > 0 {
			start = cols.detEnd(cu.r - 1)
		}
		rec, err := cu.in.det.record(start, cols.detEnd(cu.r))
		if err != nil {
			return nil, fmt.Errorf("serving: customer %s: %w", c.SubscriberID, err)
		}
		if err := decodeDetail(rec, &c); err != nil {
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
		if det, err = appendDetail(det, &c); err != nil {
			return nil, fmt.Errorf("serving: %w", err)
		}
		if err := b.add(&c, uint64(len(det))); err != nil {
			return nil, fmt.Errorf("serving: %w", err)
		}
		if cu.r++; cu.r == cols.n {
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

// PutRun stores the columns.bin and detail.bin of an unsharded run where
// WriteFiles puts them, without meta.json and the pointer (PointRun): a
// writer that finishes the run's meta after its files.
func PutRun(ctx context.Context, st Store, run string, columns, detail []byte) (ShardFiles, error) {
	dir := path.Join("runs", run)
	f := ShardFiles{Columns: path.Join(dir, "columns.bin"), ColumnsBytes: int64(len(columns)),
		Detail: path.Join(dir, "detail.bin"), DetailBytes: int64(len(detail))}
	return f, putAll(ctx, st, f.Detail, detail, f.Columns, columns)
}

// PointRun stores an unsharded run's meta.json and then points
// latest.json at it and at its files (PutRun), as WriteFiles does.
func PointRun(ctx context.Context, st Store, run string, meta []byte, f ShardFiles) (Pointer, error) {
	p := Pointer{Format: FormatColumns, Run: run, Columns: f.Columns, ColumnsBytes: f.ColumnsBytes,
		Detail: f.Detail, DetailBytes: f.DetailBytes, Meta: path.Join("runs", run, "meta.json")}
	pb, _ := json.Marshal(p)
	if err := putAll(ctx, st, p.Meta, meta, LatestKey, pb); err != nil {
		return Pointer{}, err
	}
	return p, nil
}
