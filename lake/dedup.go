package lake

import (
	"context"
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"math/bits"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

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
// Keys are held as 64-bit keyed hashes (a maphash seed drawn per process),
// never as the ids themselves: a file's kept keys in a compact set per day
// (hashSet, about 11 bytes a key), the table's as sorted slices. A hash
// match only makes a row a suspect: before the commit, verify finds each
// suspect's exact key again among the rows kept or the table's rows, and a
// key found nowhere (two keys sharing a hash) replaces the hash and parses
// the file again, so no row is dropped for a collision. Suspects past a
// bound in memory are spilled to local disk in chunks and verified a chunk
// at a time (suspects.go). The table side is read per day:
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

// recordKey is the keyed 64-bit hash of a natural key (its day and id).
// Two keys may share a hash: a row is only dropped as a duplicate once
// its exact key is found again (see verify).
type recordKey = uint64

// keyHash is one generation of the key hash. A collision found by verify
// replaces the generation, and the file is parsed again under the new one.
type keyHash struct {
	gen  uint64
	seed maphash.Seed
	// weak, in tests, replaces the hash to force collisions.
	weak func(day int64, id string) uint64
}

var currentKeyHash atomic.Pointer[keyHash]

func init() { currentKeyHash.Store(&keyHash{gen: 1, seed: maphash.MakeSeed()}) }

// rotateKeyHash installs a new generation unless old was replaced already.
func rotateKeyHash(old *keyHash) {
	currentKeyHash.CompareAndSwap(old, &keyHash{gen: old.gen + 1, seed: maphash.MakeSeed()})
}

func (h *keyHash) sum(day int64, id string) recordKey {
	if h.weak != nil {
		return nonZero(h.weak(day, id))
	}
	// The id's keyed hash, its day folded in by a bijection (an odd
	// multiple): keys of one day stay as evenly spread as the id hashes,
	// and one id's keys of two days differ. maphash.String hashes the id
	// in place, where a maphash.Hash copied day and id into its buffer
	// first (0.18 s of the 9.5M-row file's check).
	return nonZero(maphash.String(h.seed, id) ^ uint64(day)*0x9e3779b97f4a7c15) // as a hashSet stores it
}

// fileKeys are the record keys of one data file, by the source_file of the rows.
type fileKeys struct {
	bySource map[string][]recordKey
	n        int
	gen      uint64 // the keyHash generation the keys were hashed with
}

// keyCache keeps the keys of data files by path, and the key index of
// days, each up to a bound of keys of its own. The index of a day is what
// every batch of that day reads; the files' keys are only a way to build
// it (the files just committed, seeded so the next batch does not read
// them back) and the replacing versions' view (per source). So the days
// get the larger bound: a day whose index does not fit is rebuilt from
// every live file of the day by each batch, its cost then growing with the
// day's files (with 1,000-row files past about 4,200 files a day when both
// shared 4M keys: 11.6 → 29.7 ms of CPU per file from file 4,000 to 6,000).
type keyCache struct {
	mu      sync.Mutex
	files   map[string]*fileKeys
	keys    int
	maxKeys int
	days    map[dayIndexKey]*dayIndex
	dayN    int
	maxDayN int
}

// defaultFileCacheKeys bounds the cached keys of data files (8 bytes
// each, and a map entry per file and source): 16 MiB, some 20 batches of
// 100 files of 1,000 rows.
const defaultFileCacheKeys = 2 << 20

// Day indexes (8 bytes a key) may use dayIndexShare of the process's
// memory limit (GOMEMLIMIT; the template gives ingest 700 MiB: 116 MiB,
// 15M keys, a day of 15,000 files of 1,000 rows), within these bounds; a
// process without a limit gets defaultDayIndexKeys.
const (
	dayIndexShare       = 6
	minDayIndexKeys     = 4 << 20
	maxDayIndexKeys     = 64 << 20
	defaultDayIndexKeys = 16 << 20
)

// dayIndexKeys is the bound of the day indexes' keys under a memory limit
// of limit bytes (math.MaxInt64: none).
func dayIndexKeys(limit int64) int {
	if limit <= 0 || limit == math.MaxInt64 {
		return defaultDayIndexKeys
	}
	return int(min(max(limit/dayIndexShare/8, minDayIndexKeys), maxDayIndexKeys))
}

// newDefaultKeyCache is the key cache of an Ingester.
func newDefaultKeyCache() *keyCache {
	return newKeyCache(defaultFileCacheKeys, dayIndexKeys(debug.SetMemoryLimit(-1)))
}

func newKeyCache(maxFileKeys, maxDayKeys int) *keyCache {
	return &keyCache{files: map[string]*fileKeys{}, maxKeys: maxFileKeys, days: map[dayIndexKey]*dayIndex{}, maxDayN: maxDayKeys}
}

// dayIndexKey names a day of a table's natural key.
type dayIndexKey struct {
	table string
	day   int64
}

// dayIndex holds the keys of the live data files of one day, the files
// given: sorted runs of hashes, immutable once built, so an index can be
// extended by the files committed since into a new one while the old one
// is still read. A batch adds only the files new to the day: the cost of
// the duplicate check's view of a day does not grow with the files the
// day already had.
type dayIndex struct {
	gen   uint64
	files map[string]bool
	segs  []keyRun
	n     int
}

func (d *dayIndex) has(k recordKey) bool {
	for _, s := range d.segs {
		if s.has(k) {
			return true
		}
	}
	return false
}

// keyRun is a sorted run of a day index with a table of where the keys
// of each value of their top bits start. Keys are keyed hashes, spread
// evenly over 64 bits, so a look-up reads two neighbouring entries of the
// table and about keysPerSlot keys: two cache misses per run, where
// runHas's probes took one each (runHas was 6% of the CPU of batches of
// 1,000-row files in TestDayGrowthSpeed at 2,000 files). The table costs
// 4/keysPerSlot bytes a key beside the key's 8.
type keyRun struct {
	keys   []recordKey
	starts []uint32 // starts[j] is the first key whose top bits are at least j; nil: search keys
	shift  uint     // 64 - the bits the table is indexed by
}

// keysPerSlot is the mean count of keys per entry of a keyRun's table.
const keysPerSlot = 8

func newKeyRun(keys []recordKey) keyRun {
	r := keyRun{keys: keys}
	if len(keys) < 8*keysPerSlot || len(keys) >= math.MaxUint32 {
		return r
	}
	b := bits.Len(uint(len(keys)/keysPerSlot)) - 1 // 2^b slots, at least keysPerSlot keys each on average
	r.shift = uint(64 - b)
	r.starts = make([]uint32, 1<<b+1)
	j := 0
	for i, k := range keys {
		for top := int(k >> r.shift); j <= top; j++ {
			r.starts[j] = uint32(i)
		}
	}
	for ; j < len(r.starts); j++ {
		r.starts[j] = uint32(len(keys))
	}
	return r
}

// has reports whether the run holds k.
func (r keyRun) has(k recordKey) bool {
	if r.starts == nil {
		return runHas(r.keys, k)
	}
	j := k >> r.shift
	slot := r.keys[r.starts[j]:r.starts[j+1]]
	if len(slot) > 4*keysPerSlot { // an uneven run (the weak hashes of tests)
		return runHas(slot, k)
	}
	for _, x := range slot {
		if x >= k {
			return x == k
		}
	}
	return false
}

// runHas reports whether the sorted run s holds k. Keys are keyed hashes,
// spread evenly over 64 bits, so where k would be is guessed from its
// value (interpolation search: about 3 probes in a run of 10M keys, where
// a binary search's 23 each miss the CPU cache); a run that is not even
// (the weak hashes of tests) falls back to binary search after a few
// guesses, so a look-up never costs more than O(log n).
func runHas(s []recordKey, k recordKey) bool {
	lo, hi := 0, len(s)
	for range 4 {
		if hi-lo <= 16 {
			break
		}
		a, b := s[lo], s[hi-1]
		if k < a || k > b {
			return false
		}
		if a == b {
			return k == a
		}
		// lo + (k-a)/(b-a) of the way to hi-1; (k-a)·m < (b-a)·2⁶⁴, so the quotient fits.
		h, l := bits.Mul64(k-a, uint64(hi-1-lo))
		q, _ := bits.Div64(h, l, b-a)
		switch p := lo + int(q); {
		case s[p] == k:
			return true
		case s[p] < k:
			lo = p + 1
		default:
			hi = p
		}
	}
	_, ok := slices.BinarySearch(s[lo:hi], k)
	return ok
}

// dayIndex returns the index of the day's live files: the cached one
// extended by the files new to it, or a new one when a file it holds is
// no longer live (compacted, replaced) or the hash changed.
func (c *keyCache) dayIndex(key dayIndexKey, gen uint64, live []iceberg.DataFile, keysOf func(iceberg.DataFile) ([]recordKey, error)) (*dayIndex, error) {
	c.mu.Lock()
	old := c.days[key]
	c.mu.Unlock()
	idx, err := extendIndex(old, gen, live, keysOf)
	if err != nil || idx == old {
		return idx, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.days[key]; prev != nil {
		c.dayN -= prev.n
		delete(c.days, key)
	}
	for k, d := range c.days { // evict arbitrary days past the bound
		if c.dayN+idx.n <= c.maxDayN {
			break
		}
		c.dayN -= d.n
		delete(c.days, k)
	}
	if idx.n <= c.maxDayN {
		c.days[key] = idx
		c.dayN += idx.n
	}
	return idx, nil
}

// extendIndex returns old extended by the live files it lacks, or a new
// index of all of them when old is nil, of another hash, or holds a file
// no longer live. Runs are merged while the newest is at least half the
// one before, so each key is merged O(log n) times.
func extendIndex(old *dayIndex, gen uint64, live []iceberg.DataFile, keysOf func(iceberg.DataFile) ([]recordKey, error)) (*dayIndex, error) {
	var fresh []iceberg.DataFile
	if old != nil && old.gen == gen {
		held := 0
		for _, df := range live {
			if old.files[df.FilePath()] {
				held++
			} else {
				fresh = append(fresh, df)
			}
		}
		if held != len(old.files) {
			old, fresh = nil, live
		}
	} else {
		old, fresh = nil, live
	}
	if old != nil && len(fresh) == 0 {
		return old, nil
	}
	var seg []recordKey
	for _, df := range fresh {
		ks, err := keysOf(df)
		if err != nil {
			return nil, err
		}
		seg = append(seg, ks...)
	}
	slices.Sort(seg)
	idx := &dayIndex{gen: gen, files: make(map[string]bool, len(live))}
	if old != nil {
		maps.Copy(idx.files, old.files)
		idx.segs, idx.n = slices.Clone(old.segs), old.n
	}
	for _, df := range fresh {
		idx.files[df.FilePath()] = true
	}
	if len(seg) > 0 {
		idx.segs = append(idx.segs, newKeyRun(seg))
		idx.n += len(seg)
	}
	for n := len(idx.segs); n > 1 && 2*len(idx.segs[n-1].keys) >= len(idx.segs[n-2].keys); n = len(idx.segs) {
		idx.segs = append(idx.segs[:n-2], newKeyRun(mergeSorted(idx.segs[n-2].keys, idx.segs[n-1].keys)))
	}
	return idx, nil
}

// mergeSorted merges two sorted runs into a new one.
func mergeSorted(a, b []recordKey) []recordKey {
	out := make([]recordKey, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i] <= b[j] {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

func (c *keyCache) get(path string, gen uint64) *fileKeys {
	c.mu.Lock()
	defer c.mu.Unlock()
	if fk := c.files[path]; fk != nil && fk.gen == gen {
		return fk
	}
	return nil
}

func (c *keyCache) put(path string, fk *fileKeys) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, old := range c.files { // evict arbitrary entries past the bound
		if c.keys+fk.n <= c.maxKeys {
			break
		}
		c.keys -= old.n
		delete(c.files, p)
	}
	if fk.n <= c.maxKeys {
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
	hash      *keyHash

	// kept holds, per day, the hashes of the keys this file keeps.
	kept map[int64]*daySet
	// existing holds, per day seen, the keys of other sources in the live
	// files consulted; consulted lists those files' paths.
	existing  map[int64]*dayIndex
	consulted map[int64]map[string]bool
	// suspects are the exact keys of rows dropped on a hash match, until
	// verify finds each again; each time maxSuspects of them are held they
	// go to spill, and verify confirms them a chunk at a time.
	suspects map[exactKey]bool
	spill    *suspectSpill
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
	// curDay's kept set and table index, when curKept is set: the day of
	// the row before, which is most rows' day (exports come in time order),
	// found without the two map look-ups.
	curDay      int64
	curKept     *daySet
	curExisting *dayIndex
}

// exactKey is a natural key itself: what a hash match is verified against.
type exactKey struct {
	day int64
	id  string
}

// maxSuspects bounds the exact keys one file's check holds in memory for
// verification (some 80 bytes each); more go to a spill file on local
// disk, a chunk of maxSuspects at a time (a variable for tests).
var maxSuspects = 1 << 18

// errCollision says two different keys of a file shared their hash: the
// file is parsed again under a new hash.
var errCollision = fmt.Errorf("%w: two record keys share a hash", errRedo)

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
	gen  uint64 // the keyHash generation of the keys
}

type dayEntry struct {
	once  sync.Once
	index *dayIndex
	err   error
}

func newDayKeys() *dayKeys {
	return &dayKeys{days: map[int64]*dayEntry{}, gen: currentKeyHash.Load().gen}
}

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
	return &recordSet{spec: spec, ownSource: source, tbl: tbl, cache: cache, ctx: ctx, hash: currentKeyHash.Load(),
		kept: map[int64]*daySet{}, existing: map[int64]*dayIndex{}, consulted: map[int64]map[string]bool{}}
}

// duplicate reports whether a good row's natural key was kept before in
// this file or is in the table from another source; a row it returns
// false for is kept. A row reported a duplicate on its hash is a suspect
// until verify finds its exact key again.
func (r *recordSet) duplicate(day int64, id string) (bool, error) {
	k := r.hash.sum(day, id)
	ks, ex := r.curKept, r.curExisting
	if ks == nil || r.curDay != day {
		var err error
		if ks, ex, err = r.day(day); err != nil {
			return false, err
		}
		if r.curKept != nil {
			// The day left: its waiting keys placed while in cache, its
			// buffers the new day's.
			r.curKept.handOver(&ks.hashSet)
		}
		r.curDay, r.curKept, r.curExisting = day, ks, ex
	}
	if ex.has(k) {
		return true, r.suspect(day, id)
	}
	// An id after every id kept of the day is new: its key waits to be
	// placed with the others (most exports number their records in
	// order). Any other is looked up in the file's set, which adds it when
	// not found: one probe, not a look-up and then an insert.
	if ks.ascending(id) {
		ks.addNew(k)
	} else if !ks.Add(k) {
		return true, r.suspect(day, id)
	}
	r.last = k
	return false, nil
}

// daySet is the file's set of kept keys of a day, and the greatest id
// kept that day: ids arrive through duplicate only, so every id kept
// sorts at or before top.
type daySet struct {
	hashSet
	top []byte
}

// ascending reports whether id sorts after every id kept, and if so
// makes it the greatest.
func (d *daySet) ascending(id string) bool {
	if id <= string(d.top) {
		return false
	}
	d.top = append(d.top[:0], id...)
	return true
}

// day returns the file's set of kept keys of day and the table's index of
// the day, loading the index the first time the day is seen.
func (r *recordSet) day(day int64) (*daySet, *dayIndex, error) {
	ks := r.kept[day]
	if ks == nil {
		ks = &daySet{}
		r.kept[day] = ks
	}
	ex, ok := r.existing[day]
	if !ok {
		load := func() (*dayIndex, error) {
			files, err := r.liveFiles(r.ctx, r.tbl, day)
			if err != nil {
				return nil, err
			}
			keysOf := func(df iceberg.DataFile) ([]recordKey, error) { return r.keysOf(r.ctx, r.tbl, df) }
			if r.ownSource == "" && r.cache != nil {
				return r.cache.dayIndex(dayIndexKey{r.spec.idCol + "@" + strings.Join(r.tbl.Identifier(), "."), day}, r.hash.gen, files, keysOf)
			}
			return extendIndex(nil, r.hash.gen, files, keysOf)
		}
		var err error
		if r.shared != nil && r.ownSource == "" && r.shared.gen == r.hash.gen {
			e := r.shared.entry(day)
			e.once.Do(func() { e.index, e.err = load() })
			ex, err = e.index, e.err
		} else {
			ex, err = load()
		}
		if err != nil {
			return nil, nil, err
		}
		r.existing[day], r.consulted[day] = ex, ex.files
	}
	return ks, ex, nil
}

// suspect holds the exact key of a row dropped on its hash for verify;
// a full set goes to the spill first.
func (r *recordSet) suspect(day int64, id string) error {
	if r.suspects == nil {
		r.suspects = map[exactKey]bool{}
	}
	if _, ok := r.suspects[exactKey{day, id}]; ok {
		return nil
	}
	if len(r.suspects) >= maxSuspects {
		if r.spill == nil {
			sp, err := newSuspectSpill()
			if err != nil {
				return err
			}
			r.spill = sp
		}
		if err := r.spill.write(r.suspects); err != nil {
			return err
		}
		clear(r.suspects)
	}
	r.suspects[exactKey{day, strings.Clone(id)}] = false
	return nil
}

// keyRows yields the exact keys of rows: a file's kept rows as written.
type keyRows func(yield func(day int64, id string) bool) error

// verify finds the exact key of every row dropped on a hash match among
// the rows kept (kept yields them) or the other sources' rows of the table
// files consulted, one chunk of suspects at a time (the spilled ones, then
// those held). A key found nowhere shared its hash with another key:
// verify then replaces the hash generation and returns errCollision, and
// the file must be parsed again (nothing of this attempt is committed).
func (r *recordSet) verify(ctx context.Context, kept keyRows) error {
	if sp := r.spill; sp != nil {
		r.spill = nil
		defer sp.close()
		for i := range sp.chunks {
			chunk, err := sp.read(i)
			if err != nil {
				return err
			}
			if err := r.verifyChunk(ctx, chunk, kept); err != nil {
				return err
			}
		}
	}
	return r.verifyChunk(ctx, r.suspects, kept)
}

// verifyChunk marks every suspect of chunk found again, or returns
// errCollision when one is found nowhere.
func (r *recordSet) verifyChunk(ctx context.Context, suspects map[exactKey]bool, kept keyRows) error {
	open := 0
	for _, found := range suspects {
		if !found {
			open++
		}
	}
	if open == 0 {
		return nil
	}
	mark := func(day int64, id string) bool {
		if found, ok := suspects[exactKey{day, id}]; ok && !found {
			suspects[exactKey{day, id}] = true
			open--
		}
		return open > 0
	}
	if err := kept(mark); err != nil {
		return fmt.Errorf("verify duplicates: %w", err)
	}
	days := map[int64]bool{}
	for k, found := range suspects {
		if !found {
			days[k.day] = true
		}
	}
	for day := range days {
		if open == 0 {
			break
		}
		for path := range r.consulted[day] {
			err := readKeyRows(ctx, r.tbl, path, r.spec, func(day int64, id, source string) bool {
				if source == r.ownSource {
					return true // rows of the version being replaced
				}
				return mark(day, id)
			})
			if err != nil {
				return fmt.Errorf("verify duplicates: %w", err)
			}
		}
	}
	if open > 0 {
		rotateKeyHash(r.hash)
		return errCollision
	}
	return nil
}

// keptKeys returns the exact keys of the rows of data files.
func keptKeys(ctx context.Context, tbl *table.Table, spec keySpec, files []iceberg.DataFile) keyRows {
	return func(yield func(day int64, id string) bool) error {
		more := true
		for _, df := range files {
			if !more {
				return nil
			}
			err := readKeyRows(ctx, tbl, df.FilePath(), spec, func(day int64, id, _ string) bool {
				more = yield(day, id)
				return more
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
}

// bufferedKeys returns the exact keys of the rows of buffered batches.
func bufferedKeys(spec keySpec, bufs []PartBatch) keyRows {
	return func(yield func(day int64, id string) bool) error {
		for _, b := range bufs {
			if err := recordKeyRows(b.Rec, spec, "batch", func(day int64, id, _ string) bool { return yield(day, id) }); err != nil {
				return err
			}
		}
		return nil
	}
}

// recheck runs inside the commit retry loop on the reloaded table: for
// every day of the file, the live files must still include those consulted
// while parsing, and the files committed since must hold none of the kept
// keys (a hash match is enough: parsing again costs time, not rows).
// Otherwise it returns errRedo.
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
			ks := r.kept[day]
			for _, k := range keys {
				if ks != nil && ks.Has(k) {
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
// A day of a table partitioned by that day is planned in full once per
// process and then kept up to date from the snapshots appended since
// (dayPlans); any other table, or a chain with a snapshot that is not an
// append, is planned in full.
func (r *recordSet) liveFiles(ctx context.Context, tbl *table.Table, day int64) ([]iceberg.DataFile, error) {
	cur := tbl.CurrentSnapshot()
	if cur == nil {
		return nil, nil
	}
	field, ok := dayPartition(tbl, r.spec.dayCol)
	if !ok {
		return r.planDay(ctx, tbl, day)
	}
	key := dayPlanKey{table: tbl.Metadata().TableUUID().String(), day: day}
	if files, ok, err := dayPlans.since(ctx, tbl, key, field); err != nil || ok {
		return files, err
	}
	files, err := r.planDay(ctx, tbl, day)
	if err == nil {
		dayPlans.put(key, dayPlan{snapshot: cur.SnapshotID, files: files})
	}
	return files, err
}

// planDay plans the live data files of tbl that may hold records of day
// with a scan of the current snapshot's manifests.
func (r *recordSet) planDay(ctx context.Context, tbl *table.Table, day int64) ([]iceberg.DataFile, error) {
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
	fk := r.cache.get(df.FilePath(), r.hash.gen)
	if fk == nil {
		fk = &fileKeys{bySource: map[string][]recordKey{}, gen: r.hash.gen}
		err := readKeyRows(ctx, tbl, df.FilePath(), r.spec, func(day int64, id, source string) bool {
			fk.bySource[source] = append(fk.bySource[source], r.hash.sum(day, id))
			fk.n++
			return true
		})
		if err != nil {
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

// readKeyRows calls fn with the exact key and source_file of each row of a
// data file (reading only those columns) until fn returns false.
func readKeyRows(ctx context.Context, tbl *table.Table, path string, spec keySpec, fn func(day int64, id, source string) bool) error {
	fs, err := tbl.FS(ctx)
	if err != nil {
		return err
	}
	f, err := fs.Open(path)
	if err != nil {
		return fmt.Errorf("open %s for duplicates: %w", path, err)
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		return fmt.Errorf("read %s for duplicates: %w", path, err)
	}
	defer pf.Close()
	sc := pf.MetaData().Schema
	cols := make([]int, 3)
	for i, name := range []string{spec.dayCol, spec.idCol, "source_file"} {
		if cols[i] = sc.ColumnIndexByName(name); cols[i] < 0 {
			return fmt.Errorf("data file %s has no column %s", path, name)
		}
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 * 1024}, memory.DefaultAllocator)
	if err != nil {
		return fmt.Errorf("read %s for duplicates: %w", path, err)
	}
	rr, err := fr.GetRecordReader(ctx, cols, nil)
	if err != nil {
		return fmt.Errorf("read %s for duplicates: %w", path, err)
	}
	defer rr.Release()
	for rr.Next() {
		rec := rr.RecordBatch()
		more := true
		if err := keyColumns(rec.Column(0), rec.Column(1), rec.Column(2), spec, path, func(day int64, id, source string) bool {
			more = fn(day, id, source)
			return more
		}); err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
	if err := rr.Err(); err != nil {
		return fmt.Errorf("read %s for duplicates: %w", path, err)
	}
	return nil
}

// recordKeyRows calls fn with the exact key and source_file of each row of
// a batch in its table's schema.
func recordKeyRows(rec arrow.RecordBatch, spec keySpec, what string, fn func(day int64, id, source string) bool) error {
	sc := rec.Schema()
	cols := make([]arrow.Array, 3)
	for i, name := range []string{spec.dayCol, spec.idCol, "source_file"} {
		idx := sc.FieldIndices(name)
		if len(idx) == 0 {
			return fmt.Errorf("%s has no column %s", what, name)
		}
		cols[i] = rec.Column(idx[0])
	}
	return keyColumns(cols[0], cols[1], cols[2], spec, what, fn)
}

func keyColumns(dayCol, idCol, srcCol arrow.Array, spec keySpec, what string, fn func(day int64, id, source string) bool) error {
	days, err := keyDays(dayCol, spec.timestamp)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	ids, srcs := stringValues(idCol), stringValues(srcCol)
	if ids == nil || srcs == nil {
		return fmt.Errorf("%s: key columns are not strings", what)
	}
	for i := range days {
		if !fn(days[i], ids(i), srcs(i)) {
			return nil
		}
	}
	return nil
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

// Incremental day plans. Planning a day reads every manifest that may
// hold it, and a day of CDR gains a manifest with every batch committed
// (about 100 a day until maintenance merges them), so planning it twice a
// batch (parse, then the recheck in the commit) grew with the day. A
// warm process keeps each day's planned files with the snapshot they were
// planned at; at a later snapshot whose parents reach that one through
// appends only, the day's live files are those plus the files the
// appends added in the day's partition (an append removes no file), read
// from the manifests each append added. A chain broken by expiry, or
// holding any other operation (a replace, an overwrite, a compaction),
// plans the day in full again. The day's partition decides membership,
// which is what the full plan's filter selects for a table partitioned by
// day of that column: a file's rows all lie in its partition's day.
type dayPlanKey struct {
	table string // the table's UUID
	day   int64
}

type dayPlan struct {
	snapshot int64
	files    []iceberg.DataFile
}

// dayPlanEntries and dayPlanFiles bound the days and the data files
// dayPlans keeps (a data file's entry, with its column statistics, is a
// few KB: 8,192 of them some 30 MB); past either it starts again empty.
// dayPlanMaxSteps bounds the snapshots it catches up through.
const (
	dayPlanEntries  = 64
	dayPlanFiles    = 8192
	dayPlanMaxSteps = 32
)

type dayPlanCache struct {
	mu sync.Mutex
	m  map[dayPlanKey]dayPlan
	n  int // files held
}

var dayPlans = &dayPlanCache{m: map[dayPlanKey]dayPlan{}}

func (c *dayPlanCache) get(k dayPlanKey) (dayPlan, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[k]
	return p, ok
}

func (c *dayPlanCache) put(k dayPlanKey, p dayPlan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.m[k]
	if ok && old.snapshot == p.snapshot {
		return
	}
	c.n += len(p.files) - len(old.files)
	if (!ok && len(c.m) >= dayPlanEntries) || c.n > dayPlanFiles {
		c.m, c.n = map[dayPlanKey]dayPlan{}, len(p.files)
	}
	if len(p.files) > dayPlanFiles {
		c.n = 0
		return // too large a day to keep: planned in full each time
	}
	c.m[k] = p
}

// since returns the live files of k's day at tbl's current snapshot from
// the plan kept for an earlier one; ok is false when there is none it can
// catch up from.
func (c *dayPlanCache) since(ctx context.Context, tbl *table.Table, k dayPlanKey, field int) ([]iceberg.DataFile, bool, error) {
	base, ok := c.get(k)
	if !ok {
		return nil, false, nil
	}
	cur := tbl.CurrentSnapshot()
	var chain []*table.Snapshot // newest first
	for s := cur; s.SnapshotID != base.snapshot; {
		if len(chain) == dayPlanMaxSteps || s.Summary == nil || s.Summary.Operation != table.OpAppend || s.ParentSnapshotID == nil {
			return nil, false, nil
		}
		chain = append(chain, s)
		if s = tbl.SnapshotByID(*s.ParentSnapshotID); s == nil {
			return nil, false, nil // expired: what happened in between is unknown
		}
	}
	files := slices.Clone(base.files)
	if len(chain) == 0 {
		return files, true, nil
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil, false, err
	}
	spec := tbl.Spec()
	for i := len(chain) - 1; i >= 0; i-- {
		s := chain[i]
		manifests, err := s.Manifests(fsys)
		if err != nil {
			return nil, false, fmt.Errorf("plan the files of %s for duplicates: %w", tbl.Identifier(), err)
		}
		for _, m := range manifests {
			if m.SnapshotID() != s.SnapshotID || m.ManifestContent() != iceberg.ManifestContentData || m.AddedDataFiles() == 0 {
				continue
			}
			if int(m.PartitionSpecID()) != spec.ID() {
				// written under another partition spec: field is not its
				// day's field id there, so only a full plan (a filter on
				// the column) finds its files.
				return nil, false, nil
			}
			entries, err := m.FetchEntries(fsys, true)
			if err != nil {
				return nil, false, fmt.Errorf("plan the files of %s for duplicates: %w", tbl.Identifier(), err)
			}
			for _, e := range entries {
				if e.Status() != iceberg.EntryStatusADDED || e.SnapshotID() != s.SnapshotID {
					continue
				}
				df := e.DataFile()
				if d, ok := partitionDay(df.Partition()[field]); ok && d == k.day {
					files = append(files, df)
				}
			}
		}
	}
	c.put(k, dayPlan{snapshot: cur.SnapshotID, files: files})
	return slices.Clone(files), true, nil
}

// dayPartition is the field id of tbl's partition by day of col, if its
// current spec has one.
func dayPartition(tbl *table.Table, col string) (int, bool) {
	f, ok := tbl.Schema().FindFieldByName(col)
	if !ok {
		return 0, false
	}
	spec := tbl.Spec()
	for _, pf := range spec.Fields() {
		if _, day := pf.Transform.(iceberg.DayTransform); day && len(pf.SourceIDs) == 1 && pf.SourceIDs[0] == f.ID {
			return pf.FieldID, true
		}
	}
	return 0, false
}

// partitionDay is a day partition's value as days since the epoch.
func partitionDay(v any) (int64, bool) {
	switch d := v.(type) {
	case iceberg.Date:
		return int64(d), true
	case int32:
		return int64(d), true
	case int64:
		return d, true
	case int:
		return int64(d), true
	}
	return 0, false
}
