package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// Shared data files. The small whole files of a batch for one table are
// not written into data files of their own: each is parsed and checked
// alone (validation, threshold, duplicates), its good rows are kept in
// memory, and the rows of every file that is to commit are written
// together, one Parquet file per partition, just before the commit. The
// rows of a file are still all in the batch's snapshot or in none. A file
// that turns out, inside the commit retry, not to commit after all (a
// duplicate, superseded, to be parsed again) makes the shared files be
// written again without it.
//
// Each file's ledger entry lists the shared files holding its rows and
// says they are shared; a later version of the file replaces exactly its
// rows by rewriting those files without them (replaceShared).
//
// What the shared files hold in memory is bounded by what is actually
// held: a file is buffered only when its expected size is at most
// SharedFileBytes, and every batch of rows it builds is charged, by the
// bytes its Arrow buffers allocate, to the batch's SharedBatchBytes. A file
// whose next batch would take the batch past that bound stops buffering:
// what it holds and the rest of it are written to data files of its own,
// as a file ingested alone is (CDR rows take about three times their CSV
// bytes as Arrow columns, so counting input bytes, as before, let a batch
// of small files hold several times the bound).
const (
	// DefaultSharedFileBytes is the largest file (its expected size once
	// decompressed) whose rows a batch writes into shared data files.
	DefaultSharedFileBytes = 16 << 20
	// DefaultSharedBatchBytes bounds the Arrow memory of the rows one batch
	// holds for shared data files.
	DefaultSharedBatchBytes = 128 << 20
	// gzipGuess is the decompression ratio assumed for a .gz file's size.
	gzipGuess = 10
)

// sharedBudget hands out the batch's memory for buffered rows.
type sharedBudget struct {
	mu        sync.Mutex
	limit     int64
	used      int64
	peak      int64 // the most ever held at once
	fileBytes int64
}

func (in *Ingester) newSharedBudget() *sharedBudget {
	file, batch := in.SharedFileBytes, in.SharedBatchBytes
	if file == 0 {
		file = DefaultSharedFileBytes
	}
	if batch == 0 {
		batch = DefaultSharedBatchBytes
	}
	return &sharedBudget{limit: batch, fileBytes: file}
}

// take reports whether obj is to be buffered: small enough, and room left.
func (b *sharedBudget) take(obj Object) bool {
	if b == nil || b.fileBytes < 0 {
		return false
	}
	need := obj.Size
	if strings.HasSuffix(strings.ToLower(obj.Key), ".gz") {
		need *= gzipGuess
	}
	if need <= 0 || need > b.fileBytes {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used < b.limit
}

// charge reserves n bytes of buffered rows; false, with nothing reserved,
// when that would pass the bound.
func (b *sharedBudget) charge(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	b.peak = max(b.peak, b.used)
	return true
}

// refund gives back n bytes of rows no longer held.
func (b *sharedBudget) refund(n int64) {
	if b == nil || n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
}

// recordBytes is the memory a batch's buffers allocate (their capacity,
// children and dictionaries included, each buffer once).
func recordBytes(rec arrow.RecordBatch) int64 {
	seen := map[*memory.Buffer]bool{}
	var walk func(d arrow.ArrayData) int64
	walk = func(d arrow.ArrayData) int64 {
		if d == nil {
			return 0
		}
		if ad, ok := d.(*array.Data); ok && ad == nil {
			return 0
		}
		var n int64
		for _, buf := range d.Buffers() {
			if buf != nil && !seen[buf] {
				seen[buf] = true
				n += int64(buf.Cap())
			}
		}
		for _, c := range d.Children() {
			n += walk(c)
		}
		return n + walk(d.Dictionary())
	}
	var n int64
	for _, c := range rec.Columns() {
		n += walk(c.Data())
	}
	return n
}

// bufferFile streams the file through the parser and keeps its batches of
// good rows in memory, each charged to budget; charged is what it holds.
// When a batch does not fit, the file stops buffering: the batches held
// and the rest of the file are written to data files of its own (files;
// bufs is then nil). As writeFile, a FileError stops it and is left in the
// parser's stats.
func (in *Ingester) bufferFile(ctx context.Context, tbl *table.Table, f *Format, p *Parser, body io.Reader, key string, budget *sharedBudget) (bufs []PartBatch, charged int64, files []iceberg.DataFile, err error) {
	r, err := openReader(body, key, p.Limits)
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) {
			p.Stats.FileErr = fe
			return nil, 0, nil, nil
		}
		return nil, 0, nil, err
	}
	next, stop := iter.Pull2(p.Batches(r))
	defer stop()
	fail := func(err error) ([]PartBatch, int64, []iceberg.DataFile, error) {
		releaseAll(bufs)
		budget.refund(charged)
		var fe *FileError
		if errors.As(err, &fe) {
			return nil, 0, nil, nil
		}
		return nil, 0, nil, err
	}
	for {
		b, err, ok := next()
		if !ok {
			return bufs, charged, nil, nil
		}
		if err != nil {
			return fail(err)
		}
		n := recordBytes(b.Rec)
		if budget.charge(n) {
			bufs = append(bufs, b)
			charged += n
			continue
		}
		// Over the bound: this file writes its own data files.
		held := append(bufs, b)
		bufs = nil
		budget.refund(charged)
		charged = 0
		sc, err := f.ArrowSchema()
		if err != nil {
			releaseAll(held)
			return nil, 0, nil, err
		}
		rest := func(yield func(PartBatch, error) bool) {
			for i, h := range held {
				held[i].Rec = nil // the writer owns it now
				if !yield(h, nil) {
					releaseAll(held[i+1:])
					return
				}
			}
			for {
				b, err, ok := next()
				if !ok || !yield(b, err) || err != nil {
					return
				}
			}
		}
		files, err = writePartFiles(ctx, tbl, sc, rest)
		return nil, 0, files, err
	}
}

func releaseAll(bufs []PartBatch) {
	for _, b := range bufs {
		if b.Rec != nil {
			b.Rec.Release()
		}
	}
}

// sharedFile is a data file of a batch and the partition key (as the
// parser gives it) of its rows.
type sharedFile struct {
	df   iceberg.DataFile
	part int64
}

// smallPartLanes is how many partitions writeShared writes at once when
// none holds more than a row group: each lane then copies at most its
// partition's rows, and a batch of many small partitions waits on as many
// PUTs at once instead of two.
const smallPartLanes = 8

// writeShared writes the buffered rows of members into data files of tbl,
// one per partition (more when a partition exceeds the table's target
// file size), two partitions at a time (smallPartLanes when every
// partition is below a row group), with the writer a large file's rows go
// through (partWriter: the parser's batches each lie in the partition
// their key names). It returns the files written, also on failure, so the
// caller can remove them.
func writeShared(ctx context.Context, tbl *table.Table, sc *arrow.Schema, members []*prepared) ([]sharedFile, error) {
	byPart := map[int64][]arrow.RecordBatch{}
	partRows := map[int64]int64{}
	for _, p := range members {
		for _, b := range p.bufs {
			byPart[b.Part] = append(byPart[b.Part], b.Rec)
			partRows[b.Part] += b.Rec.NumRows()
		}
	}
	lanes := smallPartLanes
	for _, n := range partRows {
		if n > rowGroupRows {
			lanes = writeLanes
			break
		}
	}
	parts := make([]int64, 0, len(byPart))
	for k := range byPart {
		parts = append(parts, k)
	}
	slices.Sort(parts)
	if len(parts) == 0 {
		return nil, nil
	}
	pw, err := newPartWriter(ctx, tbl, sc)
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var out []sharedFile
	var errs []error
	work := make(chan int64)
	var wg sync.WaitGroup
	for range min(lanes, len(parts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for part := range work {
				// One joined batch at a time: the copies made for the
				// writer never add more than a row group per lane to
				// what the members hold.
				seq := func(yield func(PartBatch, error) bool) {
					for _, g := range groupRecords(byPart[part]) {
						rec, err := concatGroup(sc, g)
						if err != nil {
							yield(PartBatch{}, err)
							return
						}
						// The writer releases each batch it is given;
						// the members keep their own references.
						if !yield(PartBatch{Rec: rec, Part: part}, nil) {
							return
						}
					}
				}
				files, err := pw.writeStream(ctx, seq)
				mu.Lock()
				for _, df := range files {
					out = append(out, sharedFile{df: df, part: part})
				}
				mu.Unlock()
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("write partition %d: %w", part, err))
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
	for _, part := range parts {
		select {
		case work <- part:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	return out, errors.Join(errs...)
}

// groupRecords splits the small batches of one partition into groups of
// up to rowGroupRows rows, so the writer encodes long runs (the batches of
// one 1,000-row file spread over 8 buckets are about 125 rows each).
func groupRecords(recs []arrow.RecordBatch) [][]arrow.RecordBatch {
	var out [][]arrow.RecordBatch
	var group []arrow.RecordBatch
	rows := int64(0)
	for _, r := range recs {
		if len(group) > 0 && rows+r.NumRows() > rowGroupRows {
			out = append(out, group)
			group, rows = nil, 0
		}
		group = append(group, r)
		rows += r.NumRows()
	}
	if len(group) > 0 {
		out = append(out, group)
	}
	return out
}

// concatGroup joins a group of batches into one, a new reference the
// caller releases (a group of one is that batch, retained).
func concatGroup(sc *arrow.Schema, group []arrow.RecordBatch) (arrow.RecordBatch, error) {
	if len(group) == 1 {
		group[0].Retain()
		return group[0], nil
	}
	rows := int64(0)
	for _, r := range group {
		rows += r.NumRows()
	}
	cols := make([]arrow.Array, sc.NumFields())
	for c := range cols {
		parts := make([]arrow.Array, len(group))
		for i, r := range group {
			parts[i] = r.Column(c)
		}
		a, err := array.Concatenate(parts, compute.GetAllocator(context.Background()))
		if err != nil {
			for _, done := range cols[:c] {
				done.Release()
			}
			return nil, err
		}
		cols[c] = a
	}
	rec := array.NewRecordBatch(sc, cols, rows)
	for _, a := range cols {
		a.Release()
	}
	return rec, nil
}

func releaseRecs(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// sharedDataFiles returns the data files of shared files.
func sharedDataFiles(files []sharedFile) []iceberg.DataFile {
	out := make([]iceberg.DataFile, len(files))
	for i, f := range files {
		out[i] = f.df
	}
	return out
}

// memberFiles returns the shared files that hold rows of p.
func memberFiles(p *prepared, files []sharedFile) []iceberg.DataFile {
	has := map[int64]bool{}
	for _, b := range p.bufs {
		has[b.Part] = true
	}
	var out []iceberg.DataFile
	for _, f := range files {
		if has[f.part] {
			out = append(out, f.df)
		}
	}
	return out
}

// seedKeys tells the key cache the record keys of shared files just
// committed, per source, so the duplicate check of later batches in this
// process does not read them back.
func seedKeys(cache *keyCache, files []sharedFile, members []*prepared) {
	if cache == nil {
		return
	}
	for _, f := range files {
		fk := &fileKeys{bySource: map[string][]recordKey{}}
		for i, p := range members {
			if p.recs == nil || p.recs.byPart == nil || p.recs.hash.gen != members[0].recs.hash.gen {
				return // no keys tracked (a table without a natural key), or hashed two ways
			}
			if i == 0 {
				fk.gen = p.recs.hash.gen
			}
			if ks := p.recs.byPart[f.part]; len(ks) > 0 {
				fk.bySource[p.res.Source] = ks
				fk.n += len(ks)
			}
		}
		cache.put(f.df.FilePath(), fk)
	}
}

// countRows is the number of buffered rows of p.
func (p *prepared) bufferedRows() int64 {
	var n int64
	for _, b := range p.bufs {
		n += b.Rec.NumRows()
	}
	return n
}

// replaceShared stages a new version's files in place of the earlier
// version's rows when those live in data files shared with other sources:
// each shared file is rewritten without the rows of source, and the
// rewritten files and the new version's files replace the shared ones in
// one overwrite. It reports ok=false, with nothing staged, when the files
// are not all live any more (rewritten by maintenance or another
// replacement); the caller then deletes the rows by source_file.
func replaceShared(ctx context.Context, tx *table.Transaction, tbl *table.Table, prev ledgerEntry, source string, files []iceberg.DataFile, props iceberg.Properties) (ok bool, rewritten []iceberg.DataFile, err error) {
	live, err := liveFileSet(ctx, tbl)
	if err != nil {
		return false, nil, err
	}
	for _, p := range prev.files {
		if !live[p] {
			return false, nil, nil
		}
	}
	sc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		return false, nil, err
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return false, nil, err
	}
	var keep []arrow.RecordBatch
	defer func() { releaseRecs(keep) }()
	for _, path := range prev.files {
		err := readFile(ctx, fs, path, func(rec arrow.RecordBatch) error {
			kept, err := withoutSource(rec, source)
			if err != nil {
				return err
			}
			if kept != nil {
				keep = append(keep, kept)
			}
			return nil
		})
		if err != nil {
			return false, nil, fmt.Errorf("read shared file %s: %w", path, err)
		}
	}
	if len(keep) > 0 {
		rewritten, err = writeDataFiles(ctx, tbl, sc, func(yield func(PartBatch, error) bool) {
			for _, r := range keep {
				if !yield(PartBatch{Rec: r}, nil) {
					return
				}
			}
		})
		if err != nil {
			return false, rewritten, fmt.Errorf("rewrite shared files: %w", err)
		}
	}
	del := make([]iceberg.DataFile, len(prev.files))
	for i, p := range prev.files {
		del[i] = pathOnly{path: p}
	}
	add := append(slices.Clone(rewritten), files...)
	if err := tx.ReplaceDataFilesWithDataFiles(ctx, del, add, props); err != nil {
		return false, rewritten, fmt.Errorf("stage replace of %d shared files: %w", len(del), err)
	}
	return true, rewritten, nil
}

// withoutSource returns the rows of rec whose source_file is not source,
// as a new batch (nil when none is left).
func withoutSource(rec arrow.RecordBatch, source string) (arrow.RecordBatch, error) {
	idx := rec.Schema().FieldIndices("source_file")
	if len(idx) != 1 {
		return nil, errors.New("data file has no source_file column")
	}
	col := stringValues(rec.Column(idx[0]))
	if col == nil {
		return nil, errors.New("source_file is not a string column")
	}
	mask := array.NewBooleanBuilder(compute.GetAllocator(context.Background()))
	defer mask.Release()
	n := 0
	for i := 0; i < int(rec.NumRows()); i++ {
		k := col(i) != source
		mask.Append(k)
		if k {
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	m := mask.NewBooleanArray()
	defer m.Release()
	out, err := compute.FilterRecordBatch(context.Background(), rec, m, compute.DefaultFilterOptions())
	if err != nil {
		return nil, fmt.Errorf("filter rows of %s: %w", source, err)
	}
	return out, nil
}

// liveFileSet is the paths of the live data files of tbl's current snapshot.
func liveFileSet(ctx context.Context, tbl *table.Table) (map[string]bool, error) {
	live := map[string]bool{}
	if tbl.CurrentSnapshot() == nil {
		return live, nil
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("plan the files of %s: %w", tbl.Identifier(), err)
	}
	for _, t := range tasks {
		live[t.File.FilePath()] = true
	}
	return live, nil
}
