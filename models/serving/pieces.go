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
// result's, never a decoded row beyond the one in hand: the commit of a
// fanned-out run writes the snapshot from its buckets' pieces this way.
// An id in two pieces is an error. Merge takes the pieces: each one's
// Columns is released (set to nil) once read into place.
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
		f.Columns = nil
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
			start = cu.cols.detEnd(cu.r - 1)
		}
		if err := decodeDetail(cu.det[start:cu.cols.detEnd(cu.r)], &c); err != nil {
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
