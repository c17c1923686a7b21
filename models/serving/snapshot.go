package serving

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"golang.org/x/sync/errgroup"
)

// Snapshot is an open serving snapshot: columns.bin in memory, used in
// place, and detail.bin read by range on demand. It is safe for
// concurrent use; its slices must not be modified.
type Snapshot struct {
	Meta    *Meta
	Pointer Pointer
	cols    *columns
	detail  *detailFile
}

// Options tune Open.
type Options struct {
	// CacheBytes bounds the detail records kept in memory
	// (default DefaultCacheBytes).
	CacheBytes int
}

// chunk is the size of one range read of columns.bin; up to
// maxParallelReads run at once.
const chunk = 8 << 20

// Open reads the snapshot p points to from src: meta.json, columns.bin in
// ranges read in parallel into one buffer, validated (ErrCorrupt), and the
// header of detail.bin. A run written in shards is opened by OpenShard.
func Open(ctx context.Context, src Source, p Pointer, opt Options) (*Snapshot, error) {
	if len(p.Shards) > 0 {
		return nil, fmt.Errorf("serving: run %s is written in %d shards: open one (OpenShard)", p.Run, len(p.Shards))
	}
	return open(ctx, src, p, ShardFiles{Columns: p.Columns, ColumnsBytes: p.ColumnsBytes, Detail: p.Detail, DetailBytes: p.DetailBytes}, opt)
}

// OpenShard reads shard k of n of the run p points to: its own
// columns.bin and detail.bin only (and the run's meta.json), as Open does
// the whole. The run must have been written in n shards (WriteSharded);
// ErrShardCount otherwise.
func OpenShard(ctx context.Context, src Source, p Pointer, k, n int, opt Options) (*Snapshot, error) {
	if n < 2 || k < 0 || k >= n {
		return nil, fmt.Errorf("serving: shard %d of %d: want 0 <= shard < shards, 2 or more shards", k, n)
	}
	if len(p.Shards) != n {
		return nil, fmt.Errorf("%w: run %s is written in %d shard(s), this instance serves shard %d of %d", ErrShardCount, p.Run, max(1, len(p.Shards)), k, n)
	}
	return open(ctx, src, p, p.Shards[k], opt)
}

// ErrShardCount means a run was not written in the shards its reader
// serves: the score function and the api's shards disagree on the count.
var ErrShardCount = errors.New("serving: shard count differs")

// ReadMeta reads the metadata of the run p points to: what a sharded front
// needs, without any customer's bytes.
func ReadMeta(ctx context.Context, src Getter, p Pointer) (*Meta, error) {
	mb, err := src.Get(ctx, p.Meta)
	if err != nil {
		return nil, fmt.Errorf("serving: read meta of run %s: %w", p.Run, err)
	}
	meta := &Meta{}
	if err := json.Unmarshal(mb, meta); err != nil {
		return nil, fmt.Errorf("serving: read meta of run %s: %w", p.Run, err)
	}
	return meta, nil
}

// open reads the run's meta.json and the columns and detail files f.
func open(ctx context.Context, src Source, p Pointer, f ShardFiles, opt Options) (*Snapshot, error) {
	if p.Format != FormatColumns {
		return nil, fmt.Errorf("serving: run %s: snapshot format %d, want %d", p.Run, p.Format, FormatColumns)
	}
	if f.ColumnsBytes <= 0 || f.DetailBytes < detailHeader {
		return nil, corrupt("run %s: pointer with columns of %d bytes, detail of %d", p.Run, f.ColumnsBytes, f.DetailBytes)
	}
	meta, err := ReadMeta(ctx, src, p)
	if err != nil {
		return nil, err
	}
	buf := alignedBuffer(f.ColumnsBytes)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallelReads)
	for off := int64(0); off < f.ColumnsBytes; off += chunk {
		part := buf[off:min(off+chunk, f.ColumnsBytes)]
		g.Go(func() error { return src.ReadAt(gctx, f.Columns, part, off) })
	}
	head := make([]byte, detailHeader)
	g.Go(func() error { return src.ReadAt(gctx, f.Detail, head, 0) })
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("serving: read run %s: %w", p.Run, err)
	}
	if string(head) != detailMagic {
		return nil, corrupt("run %s: %s has no header", p.Run, f.Detail)
	}
	cols, err := openColumns(buf, f.DetailBytes)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", p.Run, err)
	}
	limit := opt.CacheBytes
	if limit <= 0 {
		limit = DefaultCacheBytes
	}
	return &Snapshot{Meta: meta, Pointer: p, cols: cols,
		detail: &detailFile{st: src, key: f.Detail, end: cols.detEnd, cache: map[int32][]byte{}, limit: limit}}, nil
}

// Load opens the newest snapshot (Latest, then Open).
func Load(ctx context.Context, src Source, notFound func(error) bool, opt Options) (*Snapshot, error) {
	p, err := Latest(ctx, src, notFound)
	if err != nil {
		return nil, err
	}
	return Open(ctx, src, p, opt)
}

// Layout lists the sections of columns.bin in file order with their
// sizes: what the snapshot holds in memory per column.
func (s *Snapshot) Layout() []ColumnBytes { return s.cols.layout }

// Len is the number of customers.
func (s *Snapshot) Len() int { return s.cols.n }

// ID is row r's subscriber id.
func (s *Snapshot) ID(r int) string { return s.cols.id(r) }

// Find returns the row of a subscriber id.
func (s *Snapshot) Find(id string) (int, bool) {
	r := sort.Search(s.cols.n, func(i int) bool { return s.cols.id(i) >= id })
	return r, r < s.cols.n && s.cols.id(r) == id
}

// After returns the first row whose id is greater than id.
func (s *Snapshot) After(id string) int {
	return sort.Search(s.cols.n, func(i int) bool { return s.cols.id(i) > id })
}

// Dict returns a Dict column of the contract (nil for another name).
func (s *Snapshot) Dict(name string) *DictColumn { return s.cols.dicts[name] }

// Int32s returns an Int32 column.
func (s *Snapshot) Int32s(name string) []int32 { return s.cols.ints[name] }

// Fixed returns a Fixed column: its values in units, and the units per 1
// (the value of row r is float64(units[r]) / scale).
func (s *Snapshot) Fixed(name string) (units []int32, scale float64) {
	col, ok := ColumnByName(name)
	if !ok || col.Kind != Fixed {
		return nil, 0
	}
	return s.cols.fixed[name], col.Scale
}

// Cents returns a Cents column, in whole cents.
func (s *Snapshot) Cents(name string) []int32 { return s.cols.cents[name] }

// AllCustomers returns every customer of the snapshot, in row order.
func (s *Snapshot) AllCustomers(ctx context.Context) ([]Customer, error) {
	rows := make([]int32, s.cols.n)
	for i := range rows {
		rows[i] = int32(i)
	}
	return s.Customers(ctx, rows)
}

// Customers returns the full rows of rows, in that order: the columns,
// and the detail read from detail.bin (at most 64 ranges at once; a
// request of up to 1024 rows is served from, and kept in, the bounded
// cache).
func (s *Snapshot) Customers(ctx context.Context, rows []int32) ([]Customer, error) {
	for _, r := range rows {
		if r < 0 || int(r) >= s.cols.n {
			return nil, fmt.Errorf("serving: row %d of %d", r, s.cols.n)
		}
	}
	recs, err := s.detail.records(ctx, rows)
	if err != nil {
		return nil, err
	}
	out := make([]Customer, len(rows))
	for i, r := range rows {
		c := &out[i]
		s.fill(c, int(r))
		if err := decodeDetail(recs[i], c); err != nil {
			return nil, fmt.Errorf("run %s: customer %s: %w", s.Pointer.Run, c.SubscriberID, err)
		}
	}
	return out, nil
}

// fill sets c's column fields from row r.
func (s *Snapshot) fill(c *Customer, r int) {
	c.SubscriberID = s.cols.id(r)
	for j := range Columns {
		col := &Columns[j]
		v := &s.cols.views[j]
		switch col.Kind {
		case Dict:
			col.setText(c, v.dict.Values[v.dict.Codes[r]])
		case Int32:
			col.setInt(c, v.ints[r])
		case Fixed, Cents:
			col.setNum(c, col.fromUnits(v.units[r]))
		}
	}
}

// DetailReads is the number of byte ranges of detail.bin read so far.
func (s *Snapshot) DetailReads() int64 {
	s.detail.mu.Lock()
	defer s.detail.mu.Unlock()
	return s.detail.reads
}
