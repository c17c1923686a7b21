package lake

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// Records once: every table has a natural key, a day and an id. A record
// whose key is already in the table (from another file, or earlier in the
// same file) is not added again; it is counted as a duplicate line.
//
//	crm.cdr          day(start_time) × call_id
//	crm.bills        bill_month      × subscriber_id
//	crm.subscribers  export_date     × subscriber_id
//	crm.responses    day(contacted_at) × contact_key (campaign_id/subscriber_id)
//
// Keys are held as 128-bit keyed hashes (two maphash seeds drawn per
// process), never as the ids themselves. The table side is read per day:
// only live data files whose partition and column bounds meet a day the
// file touches are consulted, and of those only the key columns (and
// source_file) are read, once per data file path per process (data files
// are immutable). The check is repeated inside the commit retry loop on the
// reloaded table, so concurrent ingests of overlapping files add each
// record once.
type keySpec struct {
	dayCol, idCol string
	// timestamp: dayCol is a timestamp (micros) whose UTC day is the key day;
	// otherwise a date (days since the epoch).
	timestamp bool
}

var keySpecs = map[string]keySpec{
	CDRTable.Name:         {dayCol: "start_time", idCol: "call_id", timestamp: true},
	BillsTable.Name:       {dayCol: "bill_month", idCol: "subscriber_id"},
	SubscribersTable.Name: {dayCol: "export_date", idCol: "subscriber_id"},
	ResponsesTable.Name:   {dayCol: "contacted_at", idCol: "contact_key", timestamp: true},
}

// recordKey is the keyed 128-bit hash of a natural key.
type recordKey [2]uint64

var keySeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func hashKey(day int64, id string) recordKey {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(day))
	var k recordKey
	for i, s := range keySeeds {
		var h maphash.Hash
		h.SetSeed(s)
		h.Write(b[:])
		h.WriteString(id)
		k[i] = h.Sum64()
	}
	return k
}

func compareKeys(a, b recordKey) int {
	if c := cmp.Compare(a[0], b[0]); c != 0 {
		return c
	}
	return cmp.Compare(a[1], b[1])
}

// fileKeys are the record keys of one data file, by the source_file of the rows.
type fileKeys struct {
	bySource map[string][]recordKey
	n        int
}

// keyCache keeps the keys of data files by path, up to a bound of keys.
type keyCache struct {
	mu    sync.Mutex
	files map[string]*fileKeys
	keys  int
	max   int
}

// defaultKeyCacheKeys bounds the cached keys (16 bytes each): 64 MiB.
const defaultKeyCacheKeys = 4 << 20

func newKeyCache(max int) *keyCache { return &keyCache{files: map[string]*fileKeys{}, max: max} }

func (c *keyCache) get(path string) *fileKeys {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.files[path]
}

func (c *keyCache) put(path string, fk *fileKeys) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, old := range c.files { // evict arbitrary entries past the bound
		if c.keys+fk.n <= c.max {
			break
		}
		c.keys -= old.n
		delete(c.files, p)
	}
	if fk.n <= c.max {
		c.files[path] = fk
		c.keys += fk.n
	}
}

// recordSet is the duplicate check of one ingest attempt: the keys this
// file keeps, and per day the keys other sources already have in the table.
type recordSet struct {
	spec keySpec
	// source's own rows are not duplicates when this version replaces
	// them; with ownSource "" (a first version) every row counts.
	ownSource string
	tbl       *table.Table // as loaded when parsing started
	cache     *keyCache
	ctx       context.Context

	kept map[recordKey]struct{}
	// existing holds, per day seen, the sorted keys of other sources in
	// the live files consulted; consulted lists those files' paths.
	existing  map[int64][]recordKey
	consulted map[int64]map[string]bool
	// shared, when set, is the day cache of the batch this file is part
	// of: files of one batch are parsed against the same table version, so
	// a day's live files are planned and their keys merged once.
	shared *dayKeys
	// live, when set, replaces liveFiles (a plan memo of one commit attempt).
	live func(ctx context.Context, tbl *table.Table, day int64) ([]iceberg.DataFile, error)
	// byPart, when set, collects the kept keys by the parser's partition
	// key (for a file whose rows go into a batch's shared data files, so
	// the key cache learns the keys of each shared file); last is the key
	// duplicate kept last.
	byPart map[int64][]recordKey
	last   recordKey
}

// keptIn notes that the key kept last went into partition part.
func (r *recordSet) keptIn(part int64) {
	if r.byPart != nil {
		r.byPart[part] = append(r.byPart[part], r.last)
	}
}

// dayKeys is what the files of one batch share of the table version they
// are parsed against: per day, the sorted keys of the live files and
// their paths. Only first versions use it (no rows of their own to leave out).
type dayKeys struct {
	mu   sync.Mutex
	days map[int64]*dayEntry
}

type dayEntry struct {
	once      sync.Once
	keys      []recordKey
	consulted map[string]bool
	err       error
}

func newDayKeys() *dayKeys { return &dayKeys{days: map[int64]*dayEntry{}} }

func (d *dayKeys) entry(day int64) *dayEntry {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.days[day]
	if !ok {
		e = &dayEntry{}
		d.days[day] = e
	}
	return e
}

// planMemo returns a liveFiles that plans each day of tbl once (one commit
// attempt's rechecks of many files).
func (r *recordSet) planMemo() func(ctx context.Context, tbl *table.Table, day int64) ([]iceberg.DataFile, error) {
	var mu sync.Mutex
	memo := map[int64][]iceberg.DataFile{}
	return func(ctx context.Context, tbl *table.Table, day int64) ([]iceberg.DataFile, error) {
		mu.Lock()
		defer mu.Unlock()
		if f, ok := memo[day]; ok {
			return f, nil
		}
		f, err := r.liveFiles(ctx, tbl, day)
		if err == nil {
			memo[day] = f
		}
		return f, err
	}
}

// newRecordSet starts the duplicate check of a file of source against tbl.
// replacing says the ledger has an earlier version of source, whose rows
// the new one replaces: they are not duplicates.
func newRecordSet(ctx context.Context, f *Format, tbl *table.Table, source string, replacing bool, cache *keyCache) *recordSet {
	spec, ok := keySpecs[f.Table.Name]
	if !ok {
		return nil
	}
	if !replacing {
		source = ""
	}
	return &recordSet{spec: spec, ownSource: source, tbl: tbl, cache: cache, ctx: ctx,
		kept: map[recordKey]struct{}{}, existing: map[int64][]recordKey{}, consulted: map[int64]map[string]bool{}}
}

// duplicate reports whether a good row's natural key was kept before in
// this file or is in the table from another source; a row it returns
// false for is kept.
func (r *recordSet) duplicate(day int64, id string) (bool, error) {
	k := hashKey(day, id)
	if _, ok := r.kept[k]; ok {
		return true, nil
	}
	ex, ok := r.existing[day]
	if !ok {
		load := func() ([]recordKey, map[string]bool, error) {
			files, err := r.liveFiles(r.ctx, r.tbl, day)
			if err != nil {
				return nil, nil, err
			}
			var ex []recordKey
			seen := map[string]bool{}
			for _, df := range files {
				keys, err := r.keysOf(r.ctx, r.tbl, df)
				if err != nil {
					return nil, nil, err
				}
				ex = append(ex, keys...)
				seen[df.FilePath()] = true
			}
			slices.SortFunc(ex, compareKeys)
			return ex, seen, nil
		}
		var seen map[string]bool
		var err error
		if r.shared != nil && r.ownSource == "" {
			e := r.shared.entry(day)
			e.once.Do(func() { e.keys, e.consulted, e.err = load() })
			ex, seen, err = e.keys, e.consulted, e.err
		} else {
			ex, seen, err = load()
		}
		if err != nil {
			return false, err
		}
		r.existing[day], r.consulted[day] = ex, seen
	}
	if _, found := slices.BinarySearchFunc(ex, k, compareKeys); found {
		return true, nil
	}
	r.kept[k] = struct{}{}
	r.last = k
	return false, nil
}

// recheck runs inside the commit retry loop on the reloaded table: for
// every day of the file, the live files must still include those consulted
// while parsing, and the files committed since must hold none of the kept
// keys. Otherwise it returns errRedo.
func (r *recordSet) recheck(ctx context.Context, tbl *table.Table) error {
	live := r.liveFiles
	if r.live != nil {
		live = r.live
	}
	for day, consulted := range r.consulted {
		files, err := live(ctx, tbl, day)
		if err != nil {
			return err
		}
		live := 0
		for _, df := range files {
			if consulted[df.FilePath()] {
				live++
				continue
			}
			keys, err := r.keysOf(ctx, tbl, df)
			if err != nil {
				return err
			}
			for _, k := range keys {
				if _, ok := r.kept[k]; ok {
					return fmt.Errorf("%w: %s has records of this file", errRedo, df.FilePath())
				}
			}
		}
		if live != len(consulted) {
			return fmt.Errorf("%w: a data file consulted for duplicates was removed", errRedo)
		}
	}
	return nil
}

// liveFiles lists the live data files of tbl that may hold records of day.
func (r *recordSet) liveFiles(ctx context.Context, tbl *table.Table, day int64) ([]iceberg.DataFile, error) {
	if tbl.CurrentSnapshot() == nil {
		return nil, nil
	}
	var filter iceberg.BooleanExpression
	ref := iceberg.Reference(r.spec.dayCol)
	if r.spec.timestamp {
		filter = iceberg.NewAnd(
			iceberg.GreaterThanEqual(ref, iceberg.Timestamp(day*microsPerDay)),
			iceberg.LessThan(ref, iceberg.Timestamp((day+1)*microsPerDay)))
	} else {
		filter = iceberg.EqualTo(ref, iceberg.Date(day))
	}
	tasks, err := tbl.Scan(table.WithRowFilter(filter)).PlanFiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("plan the files of %s for duplicates: %w", tbl.Identifier(), err)
	}
	var files []iceberg.DataFile
	seen := map[string]bool{}
	for _, t := range tasks { // large files come as several byte ranges
		if p := t.File.FilePath(); !seen[p] {
			seen[p] = true
			files = append(files, t.File)
		}
	}
	return files, nil
}

// keysOf returns the keys of a data file's rows, but those of the version
// being replaced.
func (r *recordSet) keysOf(ctx context.Context, tbl *table.Table, df iceberg.DataFile) ([]recordKey, error) {
	fk := r.cache.get(df.FilePath())
	if fk == nil {
		var err error
		if fk, err = readFileKeys(ctx, tbl, df.FilePath(), r.spec); err != nil {
			return nil, err
		}
		r.cache.put(df.FilePath(), fk)
	}
	var keys []recordKey
	for src, ks := range fk.bySource {
		if src != r.ownSource { // rows of the version being replaced
			keys = append(keys, ks...)
		}
	}
	return keys, nil
}

// readFileKeys reads the key columns and source_file of one data file.
func readFileKeys(ctx context.Context, tbl *table.Table, path string, spec keySpec) (*fileKeys, error) {
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	f, err := fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s for duplicates: %w", path, err)
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		return nil, fmt.Errorf("read %s for duplicates: %w", path, err)
	}
	defer pf.Close()
	sc := pf.MetaData().Schema
	cols := make([]int, 3)
	for i, name := range []string{spec.dayCol, spec.idCol, "source_file"} {
		if cols[i] = sc.ColumnIndexByName(name); cols[i] < 0 {
			return nil, fmt.Errorf("data file %s has no column %s", path, name)
		}
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 * 1024}, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("read %s for duplicates: %w", path, err)
	}
	rr, err := fr.GetRecordReader(ctx, cols, nil)
	if err != nil {
		return nil, fmt.Errorf("read %s for duplicates: %w", path, err)
	}
	defer rr.Release()
	fk := &fileKeys{bySource: map[string][]recordKey{}}
	for rr.Next() {
		rec := rr.RecordBatch()
		days, err := keyDays(rec.Column(0), spec.timestamp)
		if err != nil {
			return nil, fmt.Errorf("data file %s: %w", path, err)
		}
		ids, srcs := stringValues(rec.Column(1)), stringValues(rec.Column(2))
		if ids == nil || srcs == nil {
			return nil, fmt.Errorf("data file %s: key columns are not strings", path)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			s := srcs(i)
			fk.bySource[s] = append(fk.bySource[s], hashKey(days[i], ids(i)))
			fk.n++
		}
	}
	if err := rr.Err(); err != nil {
		return nil, fmt.Errorf("read %s for duplicates: %w", path, err)
	}
	return fk, nil
}

func keyDays(col arrow.Array, timestamp bool) ([]int64, error) {
	out := make([]int64, col.Len())
	switch a := col.(type) {
	case *array.Timestamp:
		for i := range out {
			out[i] = floorDiv(int64(a.Value(i)), microsPerDay)
		}
	case *array.Date32:
		for i := range out {
			out[i] = int64(a.Value(i))
		}
	default:
		return nil, fmt.Errorf("key day column has type %s", col.DataType())
	}
	return out, nil
}

func stringValues(col arrow.Array) func(int) string {
	switch a := col.(type) {
	case *array.String:
		return a.Value
	case *array.LargeString:
		return a.Value
	}
	return nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
