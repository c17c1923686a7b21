package lake

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"
	"golang.org/x/sync/semaphore"
)

// Batches: many file versions, one snapshot per table. Every decision is
// the single-file one, made per file inside the table's commit retry, so a
// file version is in exactly one snapshot or none, whatever batches and
// redeliveries race. A batch of one is written as a single-file commit.
//
// A batch's ledger entries (source, ETag, sequencer, status, rows, data
// files: about 150 bytes a file) do not go in its snapshot summary, which
// every commit rewrites into the table's metadata for as long as the
// snapshot is kept: they go in a side file written just before the commit
// (<warehouse>/_ledger/<table>/batches/<uuid>.json, immutable, one per
// commit attempt), and the summary carries its name and the sorted 32-bit
// hashes of the batch's sources (5.3 bytes a file in base64). A lookup of
// a source reads the side file only of a snapshot whose hashes hold the
// source's (a 32-bit collision costs one read more, never a wrong answer:
// the side file decides). A side file written by an attempt whose commit
// failed names no snapshot and is deleted; maintenance deletes the side
// files of the snapshots it expires, after writing their sources' ledger
// objects, so a side file missing for a snapshot still in a reader's view
// means it was just expired: its entries are in the ledger objects.
//
// Summaries written before this carry the entries themselves, as a JSON
// list under propBatch; they are still read.
const (
	propBatch      = "telcolake.batch"
	propBatchFile  = "telcolake.batch-file"
	propBatchKeys  = "telcolake.batch-keys"
	propBatchFiles = "telcolake.batch-count"
)

// batchEntry is one file version of a batch's ledger.
type batchEntry struct {
	Source    string `json:"source"`
	ETag      string `json:"etag"`
	Sequencer string `json:"sequencer,omitempty"`
	Status    string `json:"status"`
	Rows      int64  `json:"rows,omitempty"`
	// Files are the data files the version added, relative to the table location.
	Files []string `json:"files,omitempty"`
	// Shared says Files hold rows of other files of the batch too.
	Shared bool `json:"shared,omitempty"`
}

// sourcedEntry is a ledger entry with the source it is for.
type sourcedEntry struct {
	source string
	ledgerEntry
}

// quoteSource is source as it appears in a propBatch value.
func quoteSource(source string) string {
	b, _ := json.Marshal(source)
	return string(b)
}

// sourceHash is the 32-bit hash of a source in a batch summary's key set.
func sourceHash(source string) uint32 {
	sum := sha256.Sum256([]byte(source))
	return binary.BigEndian.Uint32(sum[:4])
}

// encodeKeys is the key set of a batch: its sources' hashes, sorted,
// 4 bytes each, in base64.
func encodeKeys(entries []batchEntry) string {
	hs := make([]uint32, len(entries))
	for i, e := range entries {
		hs[i] = sourceHash(e.Source)
	}
	slices.Sort(hs)
	hs = slices.Compact(hs)
	b := make([]byte, 4*len(hs))
	for i, h := range hs {
		binary.BigEndian.PutUint32(b[4*i:], h)
	}
	return base64.RawStdEncoding.EncodeToString(b)
}

// keysHold reports whether an encoded key set may hold one of hashes; a
// set that does not decode may hold anything. It decodes only the few
// characters each probe of its binary search reads (a batch of 10,000
// files has 53 KB of keys, and every decision probes each snapshot's).
func keysHold(encoded string, hashes []uint32) bool {
	if len(encoded)%4 == 1 || base64.RawStdEncoding.DecodedLen(len(encoded))%4 != 0 {
		return true
	}
	n := base64.RawStdEncoding.DecodedLen(len(encoded)) / 4
	for _, h := range hashes {
		lo, hi := 0, n
		for lo < hi {
			m := (lo + hi) / 2
			k, ok := keyAt(encoded, m)
			if !ok {
				return true
			}
			if k < h {
				lo = m + 1
			} else {
				hi = m
			}
		}
		if lo < n {
			k, ok := keyAt(encoded, lo)
			if !ok || k == h {
				return true
			}
		}
	}
	return false
}

// keyAt decodes the m-th 4-byte hash of an encoded key set: the one or
// two 4-character groups of base64 that hold its bytes 4m to 4m+3.
func keyAt(encoded string, m int) (uint32, bool) {
	lo := 4 * m / 3 * 4
	hi := min(len(encoded), ((4*m+3)/3+1)*4)
	var src [8]byte
	var dst [6]byte
	k := copy(src[:], encoded[lo:hi])
	n, err := base64.RawStdEncoding.Decode(dst[:], src[:k])
	off := 4*m - lo/4*3
	if err != nil || off+4 > n {
		return 0, false
	}
	return binary.BigEndian.Uint32(dst[off:]), true
}

// wanted are the sources a ledger read looks for, with their hashes; nil
// wants every source.
type wanted map[string]uint32

func wantSources(sources map[string]bool) wanted {
	w := make(wanted, len(sources))
	for s := range sources {
		w[s] = sourceHash(s)
	}
	return w
}

// mayHold reports whether the batch summary p may name one of w's sources.
func (w wanted) mayHold(p iceberg.Properties) bool {
	if w == nil {
		return true
	}
	if keys, ok := p[propBatchKeys]; ok {
		hs := make([]uint32, 0, len(w))
		for _, h := range w {
			hs = append(hs, h)
		}
		return keysHold(keys, hs)
	}
	raw := p[propBatch]
	for src := range w {
		if strings.Contains(raw, quoteSource(src)) {
			return true
		}
	}
	return false
}

// snapshotEntries returns the ledger entries a snapshot carries: none, one
// (a single-file commit) or a batch's, read from its side file only when
// its summary may name one of w's sources; only the entries of w's
// sources (every entry for a nil w).
func snapshotEntries(ctx context.Context, tbl *table.Table, s table.Snapshot, w wanted) ([]sourcedEntry, error) {
	if s.Summary == nil {
		return nil, nil
	}
	location := tbl.Location()
	p := s.Summary.Properties
	if src := p[propSource]; src != "" {
		return []sourcedEntry{{source: src, ledgerEntry: ledgerEntry{etag: p[propETag], status: p[propStatus], sequencer: p[propSequencer],
			snapshotID: s.SnapshotID, files: unpackFiles(location, p[propFiles]), found: true}}}, nil
	}
	var entries []batchEntry
	switch {
	case p[propBatchFile] != "":
		if !w.mayHold(p) {
			return nil, nil
		}
		var err error
		if entries, err = readBatchFile(ctx, tbl, p[propBatchFile]); err != nil {
			return nil, err
		}
		if w != nil && len(w) < len(entries)/8 {
			entries = pickSorted(entries, w) // side files are cached sorted by source
		}
	case p[propBatch] != "":
		if !w.mayHold(p) {
			return nil, nil
		}
		if err := json.Unmarshal([]byte(p[propBatch]), &entries); err != nil {
			return nil, nil // not ours
		}
	default:
		return nil, nil
	}
	var out []sourcedEntry
	for _, e := range entries {
		if _, ok := w[e.Source]; w != nil && !ok {
			continue // unpacking every entry's files would cost a batch's size per look-up
		}
		out = append(out, sourcedEntry{source: e.Source, ledgerEntry: ledgerEntry{etag: e.ETag, status: e.Status, sequencer: e.Sequencer,
			snapshotID: s.SnapshotID, files: unpackFiles(location, strings.Join(e.Files, "\n")), shared: e.Shared, found: true}})
	}
	return out, nil
}

// pickSorted is the entries of w's sources among entries sorted by
// source: a binary search each, not a pass over a batch of 10,000.
func pickSorted(entries []batchEntry, w wanted) []batchEntry {
	var out []batchEntry
	for src := range w {
		i, _ := slices.BinarySearchFunc(entries, src, func(e batchEntry, s string) int { return strings.Compare(e.Source, s) })
		for ; i < len(entries) && entries[i].Source == src; i++ {
			out = append(out, entries[i])
		}
	}
	return out
}

// batchProps writes the side file of a batch's entries for tbl and
// returns the summary naming it, and the side file's path (for the caller
// to remove when the commit does not land).
func batchProps(ctx context.Context, tbl *table.Table, entries []batchEntry) (iceberg.Properties, string, error) {
	b, err := json.Marshal(entries)
	if err != nil {
		return nil, "", fmt.Errorf("encode batch ledger: %w", err)
	}
	name := uuid.NewString() + ".json"
	path := batchFilePath(tbl, name)
	if err := writeLedgerBlob(ctx, tbl, path, b); err != nil {
		return nil, "", fmt.Errorf("write batch ledger: %w", err)
	}
	return iceberg.Properties{propBatchFile: name, propBatchKeys: encodeKeys(entries), propBatchFiles: strconv.Itoa(len(entries))}, path, nil
}

// Outcome is what became of one file of a batch: its Result, or Err when
// trying again later may succeed (the file's message should be retried).
type Outcome struct {
	Result
	Err error
}

// DefaultBatchWorkers is how many files of a batch are read and parsed at once.
const DefaultBatchWorkers = 4

// A batch whose files are all small reads smallBatchWorkers at once: each
// holds at most its small file, and the reads wait on S3 more than they
// use the CPU (a GET's first byte takes longer than parsing 1,000 rows).
const (
	smallBatchFileBytes = 1 << 20
	smallBatchWorkers   = 16
)

// batchWorkers is how many files of objs at idx to read at once.
func (in *Ingester) batchWorkers(objs []Object, idx []int) int {
	if in.BatchWorkers > 0 {
		return in.BatchWorkers
	}
	for _, i := range idx {
		o := objs[i]
		need := o.Size
		if strings.HasSuffix(strings.ToLower(o.Key), ".gz") {
			need *= gzipGuess
		}
		if need <= 0 || need > smallBatchFileBytes {
			return DefaultBatchWorkers
		}
	}
	return smallBatchWorkers
}

// slotBytes is the expected size (decompressed) of a file per worker slot
// it takes in a batch: a file of 4 × slotBytes or more runs alone.
const slotBytes = 16 << 20

// fileSlots is how many of a batch's workers slots obj takes.
func fileSlots(obj Object, workers int) int64 {
	need := obj.Size
	if strings.HasSuffix(strings.ToLower(obj.Key), ".gz") {
		need *= gzipGuess
	}
	return int64(min(workers, max(1, int(need/slotBytes))))
}

// prepStep is where the preparation of a file of a batch ended.
type prepStep int

const (
	stepDone   prepStep = iota // final: nothing to commit, no log row
	stepLog                    // final: report written; its log row goes in the batch's log commit
	stepCommit                 // parsed: its data files go in the table's batch commit
	stepSerial                 // a case the batch leaves to the single-file path
	stepErr                    // a retry may help
)

// prepared is one file of a batch after reading and parsing.
type prepared struct {
	idx    int
	obj    Object
	res    Result
	start  time.Time
	format *Format
	st     *ParseStats
	files  []iceberg.DataFile
	recs   *recordSet
	tbl    *table.Table
	// base and logBase are what the batch's look-up knew of the
	// ledgers of tbl and of the ingest log before the commits.
	base    *ledgerBase
	logBase *ledgerBase
	step    prepStep
	err     error
	// bufs, for a file whose rows go into the batch's shared data files,
	// are its parsed rows (files is then empty); inShared are the shared
	// files holding them once written.
	bufs     []PartBatch
	buffered bool
	inShared []iceberg.DataFile
	// charged is what bufs hold of budget, the batch's bound on them.
	charged int64
	budget  *sharedBudget
	// keys are the record keys the file keeps, frozen once it is parsed
	// (batchkeys.go); nil for a table without a natural key.
	keys *frozenKeys
}

// freezeKeys freezes the kept keys of p, ready to commit, into spill; a
// failure (the local disk) fails the file, whose message is retried.
func (in *Ingester) freezeKeys(ctx context.Context, p *prepared, spill *keySpill) {
	if p.recs == nil {
		return
	}
	fk, err := spill.freeze(p.recs)
	if err != nil {
		in.discard(ctx, p)
		p.step, p.err = stepErr, fmt.Errorf("ingest %s: %w", p.res.Source, err)
		return
	}
	p.keys = fk
}

// dataFiles are the data files holding the rows of p: its own, or the
// shared ones.
func (p *prepared) dataFiles() []iceberg.DataFile {
	if p.buffered {
		return p.inShared
	}
	return p.files
}

// IngestBatch ingests many file versions, possibly of several tables, and
// returns one Outcome per object, in order. The whole files of a table
// are committed in one snapshot with one ledger entry each, and the
// ingest_log rows of the batch in one more; a file that fails is reported
// alone and the others commit. Cases the batch does not handle itself (a
// new version of a file committed before, a file whose records another
// file of the batch also has, repairs after a crash) are ingested one by
// one after the batch commits, as Ingest does.
func (in *Ingester) IngestBatch(ctx context.Context, objs []Object) []Outcome {
	ctx = withRunAWS(ctx, in.AWS)
	clock := &batchClock{d: map[string]time.Duration{}}
	ctx = context.WithValue(ctx, batchClockKey{}, clock)
	batchStart := time.Now()
	defer func() {
		in.Log.InfoContext(ctx, "batch timings", append([]any{"files", len(objs), "wall_ms", time.Since(batchStart).Milliseconds()}, clock.logAttrs()...)...)
	}()
	out := make([]Outcome, len(objs))
	in.keysOnce.Do(func() {
		if in.keys == nil {
			in.keys = newDefaultKeyCache()
		}
	})

	// The same version twice is one file; a second version of a source
	// waits for the first.
	alias := map[int]int{}
	firstOf := map[string]int{}
	sourceSeen := map[string]bool{}
	var fast, serial []int
	for i, o := range objs {
		k := o.Source() + "\x00" + o.ETag
		if j, ok := firstOf[k]; ok {
			alias[i] = j
			continue
		}
		firstOf[k] = i
		if sourceSeen[o.Source()] {
			serial = append(serial, i)
			continue
		}
		sourceSeen[o.Source()] = true
		fast = append(fast, i)
	}

	t0 := time.Now()
	pc := &pace{}
	spill := newKeySpill()
	defer spill.close()
	preps, err := in.prepareAll(ctx, pc, spill, objs, fast)
	clock.since("batch_prepare", t0)
	if err != nil {
		for i := range out {
			out[i] = Outcome{Result: Result{Source: objs[i].Source(), ETag: objs[i].ETag}, Err: err}
		}
		return out
	}

	// Per table, in batch order: a file whose records an earlier file of
	// the batch keeps waits for the single-file path, which sees them
	// committed and counts them as duplicates.
	byTable := map[string][]*prepared{}
	var tableOrder []string
	for _, p := range preps {
		if p.step != stepCommit {
			continue
		}
		if _, ok := byTable[p.res.Table]; !ok {
			tableOrder = append(tableOrder, p.res.Table)
		}
		byTable[p.res.Table] = append(byTable[p.res.Table], p)
	}
	for _, name := range tableOrder {
		var keep []*prepared
		t0 := time.Now()
		claimed, err := claimBatch(byTable[name])
		clock.since("batch_claim", t0)
		for i, p := range byTable[name] {
			switch {
			case err != nil:
				in.discard(ctx, p)
				p.step, p.err = stepErr, fmt.Errorf("ingest %s: %w", p.res.Source, err)
			case !claimed[i]:
				in.discard(ctx, p)
				p.step = stepSerial
			default:
				keep = append(keep, p)
			}
		}
		t0 = time.Now()
		err = in.commitBatch(ctx, keep)
		clock.since("batch_commit", t0)
		if err != nil {
			for _, p := range keep {
				p.step, p.err = stepErr, err
			}
		}
	}

	// Reports of committed files, then one log commit for the batch.
	var logged []*prepared
	for _, p := range preps {
		if p.step == stepCommit {
			if err := in.writeReport(ctx, p.obj, &p.res, p.st); err != nil {
				p.step, p.err = stepErr, fmt.Errorf("ingest %s: %w", p.res.Source, err)
				continue
			}
			p.step = stepLog
		}
		if p.step == stepLog {
			p.res.DurationMS = time.Since(p.start).Milliseconds()
			logged = append(logged, p)
		}
	}
	if len(logged) > 0 {
		rows := make([]logRow, len(logged))
		for i, p := range logged {
			rows[i] = logRow{obj: p.obj, res: p.res, start: p.start, base: p.logBase}
		}
		t0 := time.Now()
		err := in.appendLogs(ctx, rows)
		clock.since("batch_log", t0)
		if err != nil {
			for _, p := range logged {
				p.step, p.err = stepErr, fmt.Errorf("ingest %s: %w", p.res.Source, err)
			}
		}
	}

	for _, p := range preps {
		switch p.step {
		case stepSerial:
			serial = append(serial, p.idx)
		case stepErr:
			out[p.idx] = Outcome{Result: p.res, Err: p.err}
		default:
			out[p.idx] = Outcome{Result: p.res}
			in.logResult(ctx, p.res)
		}
	}
	slices.Sort(serial)
	t0 = time.Now()
	defer clock.since("batch_serial", t0)
	for _, i := range serial {
		if d := in.deferral(ctx, pc, objs[i].Size); d != nil {
			out[i] = Outcome{Result: Result{Source: objs[i].Source(), ETag: objs[i].ETag}, Err: d}
			continue
		}
		res, err := in.Ingest(ctx, objs[i])
		out[i] = Outcome{Result: res, Err: err}
	}
	for i, j := range alias {
		o := out[j]
		if o.Err == nil {
			o.Result = Result{Source: o.Source, ETag: o.ETag, Table: o.Table, Status: StatusDuplicate,
				SnapshotID: o.SnapshotID, Message: "delivered twice in one batch"}
		}
		out[i] = o
	}
	return out
}

// logResult logs one file's outcome, as Ingest does.
func (in *Ingester) logResult(ctx context.Context, r Result) {
	in.Log.InfoContext(ctx, "file ingested", "source", r.Source, "etag", r.ETag, "table", r.Table,
		"status", r.Status, "rows", r.RowsOK, "rejected", r.RowsRejected, "report", r.ReportKey, "duration_ms", r.DurationMS)
}

// prepareAll reads and parses the files at idx, a few at a time.
// A file is not started when the batch's pace says the time left would not
// do it (deferral).
// The kept record keys of the files ready to commit are frozen into spill.
func (in *Ingester) prepareAll(ctx context.Context, pc *pace, spill *keySpill, objs []Object, idx []int) ([]*prepared, error) {
	logTbl, err := in.Tables.LoadTable(ctx, IngestLogTable.Ident())
	if err != nil {
		return nil, fmt.Errorf("load %s.%s: %w", Namespace, IngestLogTable.Name, err)
	}
	tables := map[string]*table.Table{}
	for _, i := range idx {
		f, ok := FormatForKey(objs[i].Key)
		if !ok || tables[f.Table.Name] != nil {
			continue
		}
		t, err := in.Tables.LoadTable(ctx, f.Table.Ident())
		if err != nil {
			return nil, fmt.Errorf("load %s.%s: %w", Namespace, f.Table.Name, err)
		}
		tables[f.Table.Name] = t
	}
	shared := map[string]*dayKeys{}
	for name := range tables {
		shared[name] = newDayKeys()
	}
	// What the ledgers know of every source, looked up for the whole
	// batch at once: per table, and for the files of no known format
	// (nil), in the log only.
	t0 := time.Now()
	bySource := map[string]map[string]bool{}
	for _, i := range idx {
		name := ""
		if f, ok := FormatForKey(objs[i].Key); ok {
			name = f.Table.Name
		}
		if bySource[name] == nil {
			bySource[name] = map[string]bool{}
		}
		bySource[name][objs[i].Source()] = true
	}
	prior := map[string]priorState{}
	bases := map[string]*ledgerBase{}
	logBase := &ledgerBase{tbl: logTbl, absent: map[string]bool{}}
	for name, sources := range bySource {
		ps, err := lookupPriors(ctx, tables[name], logTbl, sources)
		if err != nil {
			return nil, fmt.Errorf("look up the ledger of %d files: %w", len(sources), err)
		}
		maps.Copy(prior, ps)
		base := &ledgerBase{tbl: tables[name], absent: map[string]bool{}}
		for src, st := range ps {
			if !st.prev.found && !st.repair {
				base.absent[src] = true
			}
			if !st.logged.found {
				logBase.absent[src] = true
			}
		}
		bases[name] = base
	}
	clockOf(ctx).since("batch_lookup", t0)
	preps := make([]*prepared, len(idx))
	budget := in.newSharedBudget()
	workers := in.batchWorkers(objs, idx)
	// A large file's parse and write pipeline holds far more than a small
	// one's (a million-row CDR file some 250 MiB of live heap, most of it
	// its writers' buffered row groups): it takes more of the workers'
	// slots, up to all of them, so that large files are read one at a time
	// and a batch of them holds about what one does (see batchkeys.go for
	// what each keeps until the commit).
	slots := semaphore.NewWeighted(int64(workers))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(idx)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				o := objs[idx[k]]
				w := fileSlots(o, workers)
				if err := slots.Acquire(ctx, w); err != nil {
					preps[k] = &prepared{idx: idx[k], obj: o, step: stepErr, err: fmt.Errorf("ingest %s: %w", o.Source(), err), res: Result{Source: o.Source(), ETag: o.ETag}}
					continue
				}
				if d := in.deferral(ctx, pc, o.Size); d != nil {
					slots.Release(w)
					preps[k] = &prepared{idx: idx[k], obj: o, step: stepErr, err: d, res: Result{Source: o.Source(), ETag: o.ETag}}
					continue
				}
				t := in.now()
				preps[k] = in.prepare(ctx, tables, shared, budget, prior[o.Source()], idx[k], o)
				slots.Release(w)
				if preps[k].step == stepCommit {
					pc.observe(in.now().Sub(t), o.Size)
					in.freezeKeys(ctx, preps[k], spill)
				} else {
					preps[k].recs = nil // nothing of its check is needed again
				}
				preps[k].logBase = logBase
				if f, ok := FormatForKey(objs[idx[k]].Key); ok {
					preps[k].base = bases[f.Table.Name]
				}
			}
		}()
	}
	for k := range idx {
		work <- k
	}
	close(work)
	wg.Wait()
	return preps, nil
}

// prepare is the part of ingestOnce before the commit, for the cases a
// batch handles: a first version of a source, or a redelivery of one
// fully done. Every other case is left to the single-file path.
func (in *Ingester) prepare(ctx context.Context, tables map[string]*table.Table, shared map[string]*dayKeys, budget *sharedBudget, prior priorState, idx int, obj Object) *prepared {
	p := &prepared{idx: idx, obj: obj, start: in.now(), res: Result{Source: obj.Source(), ETag: obj.ETag}}
	fail := func(err error) *prepared {
		p.step, p.err = stepErr, fmt.Errorf("ingest %s: %w", obj.Source(), err)
		p.res.DurationMS = time.Since(p.start).Milliseconds()
		return p
	}
	format, ok := FormatForKey(obj.Key)
	if !ok {
		if e := prior.logged; e.found && e.etag == obj.ETag {
			p.res.Status = StatusDuplicate
			return p
		}
		p.res.Status = StatusRejected
		p.res.Message = fmt.Sprintf("key matches no export format (expected a prefix %s, %s or %s)",
			CDRFormat.Prefix, BillsFormat.Prefix, SubscribersFormat.Prefix)
		if err := in.writeReport(ctx, obj, &p.res, nil); err != nil {
			return fail(err)
		}
		p.step = stepLog
		return p
	}
	p.format, p.tbl = format, tables[format.Table.Name]
	p.res.Table = Namespace + "." + format.Table.Name
	clock := clockOf(ctx)
	prev, repair, logged := prior.prev, prior.repair, prior.logged
	switch {
	case repair:
		p.step = stepSerial
		return p
	case prev.found && prev.etag == obj.ETag && logged.found && logged.etag == obj.ETag:
		p.res.Status, p.res.SnapshotID = StatusDuplicate, prev.snapshotID
		return p
	case prev.found: // a log row to repair, a replacement or an older version
		p.step = stepSerial
		return p
	case logged.found && logged.etag == obj.ETag && contentVerdict(logged.status):
		p.res.Status, p.res.Message = StatusDuplicate, "already "+logged.status
		return p
	}

	t0 := time.Now()
	body, err := in.Store.Get(ctx, obj.Bucket, obj.Key, obj.ETag)
	clock.since("file_get", t0)
	switch {
	case errors.Is(err, ErrObjectChanged):
		p.res.Status = StatusSuperseded
		p.res.Message = "the object was overwritten after this event; its newer version is ingested by its own event"
		return p
	case errors.Is(err, ErrGone):
		p.step = stepSerial
		return p
	case err != nil:
		return fail(fmt.Errorf("read %s: %w", p.res.Source, err))
	}
	defer body.Close()

	fc, err := withCampaigns(ctx, in.Tables, format, fileContext{source: p.res.Source, ingestedAt: p.start.UnixMicro(), now: in.now(), pseudonym: in.PseudonymKey})
	if err != nil {
		return fail(err)
	}
	parser := in.newParser(ctx, format, fc, obj)
	p.recs = newRecordSet(ctx, format, p.tbl, p.res.Source, false, in.keys)
	if p.recs != nil {
		p.recs.shared = shared[format.Table.Name]
		parser.records = p.recs
	}
	var werr error
	t0 = time.Now()
	if budget.take(obj) {
		if p.recs != nil {
			p.recs.byPart = map[int64][]recordKey{}
		}
		p.budget = budget
		p.bufs, p.charged, p.files, werr = in.bufferFile(ctx, p.tbl, format, parser, body, obj.Key, budget)
		p.buffered = len(p.files) == 0
		if !p.buffered && p.recs != nil {
			p.recs.byPart = nil // its own data files: no keys to seed
		}
	} else {
		p.files, werr = in.writeFile(ctx, p.tbl, format, parser, body, obj.Key)
	}
	clock.since("file_parse", t0)
	p.st = &parser.Stats
	st := p.st
	if p.recs != nil && werr == nil && st.FileErr == nil {
		rows := keptKeys(ctx, p.tbl, p.recs.spec, p.files)
		if p.buffered {
			rows = bufferedKeys(p.recs.spec, p.bufs)
		}
		if err := p.recs.verify(ctx, rows); errors.Is(err, errRedo) {
			in.discard(ctx, p)
			p.step = stepSerial // parsed again, under a new hash
			return p
		} else if err != nil {
			werr = err
		}
	}
	res := &p.res
	res.RowsOK, res.RowsRejected, res.RowsDuplicate = st.RowsOK, st.RowsRejected, st.RowsDuplicate
	res.Lines, res.BlankLines = st.Lines, st.BlankLines
	conclude := func() *prepared {
		if err := in.writeReport(ctx, obj, res, st); err != nil {
			return fail(err)
		}
		p.step = stepLog
		return p
	}
	switch {
	case st.FileErr != nil:
		in.discard(ctx, p)
		res.RowsOK, res.RowsRejected = 0, 0
		res.Status, res.Message = st.FileErr.status(), st.FileErr.Error()
		return conclude()
	case werr != nil:
		in.discard(ctx, p)
		return fail(fmt.Errorf("write data files of %s: %w", res.Table, werr))
	case st.RowsOK == 0 && st.RowsRejected == 0 && st.RowsDuplicate == 0:
		res.Status, res.Message = StatusRejected, "file has a header but no data rows"
		return conclude()
	}
	total := st.RowsOK + st.RowsRejected
	if share := float64(st.RowsRejected) / float64(total); share > in.RejectThreshold {
		in.discard(ctx, p)
		res.Status = StatusQuarantined
		res.Message = fmt.Sprintf("%d of %d rows rejected (%.1f%%), above the %.1f%% threshold: nothing committed",
			st.RowsRejected, total, 100*share, 100*in.RejectThreshold)
		if st.Unread > 0 {
			read := total - st.Unread
			res.Message = fmt.Sprintf("%d of the first %d data lines rejected: above the %.1f%% threshold whatever the other %d lines hold, so they were not validated; nothing committed",
				st.RowsRejected-st.Unread, read, 100*in.RejectThreshold, st.Unread)
		}
		return conclude()
	}
	p.step = stepCommit
	return p
}

// discard removes the data files of a prepared file that will not be committed.
func (in *Ingester) discard(ctx context.Context, p *prepared) {
	if err := removeFiles(ctx, p.tbl, p.files); err != nil {
		in.Log.WarnContext(ctx, "data files of an abandoned attempt not removed: they are orphans now", "source", p.res.Source, "error", err)
	}
	p.files = nil
	p.release()
}

// release lets go of p's buffered rows and of its kept keys.
func (p *prepared) release() {
	p.keys.release()
	releaseAll(p.bufs)
	p.bufs = nil
	p.budget.refund(p.charged)
	p.charged = 0
}

// lookupVersions is lookupVersion for many sources, as the newest entry
// only: one pass over the snapshots, then the ledger objects of the
// sources they do not name, read a few at a time.
// With a base, the sources base found in no ledger (neither a summary nor
// an object) are not read again when every snapshot committed since base
// is still in tbl (see base.unchangedFor): a commit since then is in tbl's
// summaries, and only maintenance writes a ledger object for a snapshot
// no longer there.
func lookupVersions(ctx context.Context, tbl *table.Table, sources map[string]bool, base *ledgerBase) (map[string]ledgerEntry, error) {
	found, err := newestEntries(ctx, tbl, sources)
	if err != nil {
		return nil, err
	}
	var missing, absent []string
	for src := range sources {
		if _, ok := found[src]; !ok {
			if base != nil && base.absent[src] {
				absent = append(absent, src)
				continue
			}
			missing = append(missing, src)
		}
	}
	if len(absent) > 0 {
		w := make(wanted, len(absent))
		for _, src := range absent {
			w[src] = sourceHash(src)
		}
		if ok, err := base.unchangedFor(ctx, tbl, w); err != nil {
			return nil, err
		} else if !ok {
			missing = append(missing, absent...)
		}
	}
	objs, err := readLedgerObjects(ctx, tbl, missing)
	if err != nil {
		return nil, err
	}
	for src, obj := range objs {
		found[src] = objectEntry(obj)
	}
	return found, nil
}

// ledgerBase is what a batch's look-up before its commit knew of one
// table's ledger: the table as loaded then, and the sources it found in no
// ledger, neither in a summary of that table nor as a ledger object read
// after loading it.
type ledgerBase struct {
	tbl    *table.Table
	absent map[string]bool
}

// unchangedFor reports whether every snapshot committed since b's table
// is in tbl, with the side file of each that may name one of w's sources:
// tbl's current snapshot reaches b's through parents all still in tbl.
// Then a source b found nowhere that tbl's summaries do not name has no
// ledger entry yet: a ledger object is written after its snapshot's
// commit, or by maintenance before the snapshot expires (and a side file
// is deleted only after its snapshot expired), so an entry of a snapshot
// expired since b would break the chain or lose its side file.
func (b *ledgerBase) unchangedFor(ctx context.Context, tbl *table.Table, w wanted) (bool, error) {
	var stop int64
	from := b.tbl.CurrentSnapshot()
	if from != nil {
		stop = from.SnapshotID
	}
	for s := tbl.CurrentSnapshot(); s != nil; {
		if from != nil && s.SnapshotID == stop {
			return true, nil
		}
		if s.Summary != nil {
			if p := s.Summary.Properties; p[propBatchFile] != "" && w.mayHold(p) {
				entries, err := readBatchFile(ctx, tbl, p[propBatchFile])
				if err != nil {
					return false, err
				}
				if len(entries) == 0 { // expired meanwhile: its entries are in ledger objects
					return false, nil
				}
			}
		}
		if s.ParentSnapshotID == nil {
			return from == nil, nil
		}
		s = tbl.SnapshotByID(*s.ParentSnapshotID)
	}
	return from == nil && tbl.CurrentSnapshot() == nil, nil
}

// priorState is what the ledgers of a batch's table and of ingest_log
// know of one source before the batch: lookupVersion's and logLookup's
// answers.
type priorState struct {
	prev   ledgerEntry
	repair bool
	logged ledgerEntry
}

// lookupPriors answers lookupVersion for every source of a batch against
// tbl and logLookup against logTbl: one pass over each table's snapshots
// and the ledger objects read a few at a time, instead of two passes and
// two reads per file. With tbl nil only the log is looked up.
func lookupPriors(ctx context.Context, tbl, logTbl *table.Table, sources map[string]bool) (map[string]priorState, error) {
	out := make(map[string]priorState, len(sources))
	list := make([]string, 0, len(sources))
	for src := range sources {
		list = append(list, src)
	}
	if tbl != nil {
		found, err := newestEntries(ctx, tbl, sources)
		if err != nil {
			return nil, err
		}
		objs, err := readLedgerObjects(ctx, tbl, list)
		if err != nil {
			return nil, err
		}
		for _, src := range list {
			var ps priorState
			e, obj := found[src], objs[src]
			_, ok := objs[src]
			switch {
			case e.found:
				ps.prev, ps.repair = e, !ok || obj.SnapshotID != e.snapshotID
			case ok:
				ps.prev = objectEntry(obj)
			}
			out[src] = ps
		}
	}
	logged, err := lookupVersions(ctx, logTbl, sources, nil)
	if err != nil {
		return nil, err
	}
	for _, src := range list {
		ps := out[src]
		ps.logged = logged[src]
		out[src] = ps
	}
	return out, nil
}

// objectEntry is the ledger entry a ledger object holds.
func objectEntry(obj ledgerObject) ledgerEntry {
	return ledgerEntry{etag: obj.ETag, status: obj.Status, sequencer: obj.Sequencer, snapshotID: obj.SnapshotID,
		files: obj.Files, shared: obj.Shared, found: true}
}

// ledgerReadLanes is how many ledger objects a batch reads at once.
const ledgerReadLanes = 16

// readLedgerObjects reads the ledger objects of sources, ledgerReadLanes
// at a time, and returns those that exist (readLedgerObject's ok).
func readLedgerObjects(ctx context.Context, tbl *table.Table, sources []string) (map[string]ledgerObject, error) {
	out := make(map[string]ledgerObject, len(sources))
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, ledgerReadLanes)
	var wg sync.WaitGroup
	for _, src := range sources {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			obj, ok, err := readLedgerObject(ctx, tbl, src)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil && firstErr == nil:
				firstErr = err
			case ok:
				out[src] = obj
			}
		}()
	}
	wg.Wait()
	return out, firstErr
}

// commitBatch commits the data files of the prepared files of one table in
// one snapshot, deciding per file inside the retry loop on the reloaded
// table as commitFile does. A file another ingest committed meanwhile is a
// duplicate; a file that must be parsed again, or that now replaces a
// version, is left to the single-file path (step serial). On success the
// committed files have status committed and the snapshot's id; on an error
// none of them is committed.
func (in *Ingester) commitBatch(ctx context.Context, ps []*prepared) error {
	if len(ps) == 0 {
		return nil
	}
	type decision struct {
		status string
		prevID int64
		redo   bool
	}
	var decided []decision
	var committed *table.Table
	ident := ps[0].format.Table.Ident()
	name := ps[0].res.Table
	sc, err := ps[0].format.ArrowSchema()
	if err != nil {
		return err
	}
	sources := map[string]bool{}
	for _, p := range ps {
		sources[p.res.Source] = true
	}
	// The shared data files written, for which members (indexes in ps):
	// kept across attempts while the members stay the same.
	var written []sharedFile
	var writtenFor []int
	var members []*prepared
	var lastTbl *table.Table
	dropWritten := func() {
		if len(written) > 0 && lastTbl != nil {
			if err := removeFiles(ctx, lastTbl, sharedDataFiles(written)); err != nil {
				in.Log.WarnContext(ctx, "shared data files of an abandoned attempt not removed: they are orphans now", "table", name, "error", err)
			}
		}
		written, writtenFor = nil, nil
	}
	defer func() {
		for _, p := range ps {
			p.release()
		}
	}()
	clock := clockOf(ctx)
	err = in.retry.retryCommit(ctx, func(ctx context.Context) error {
		committed, decided, members = nil, make([]decision, len(ps)), nil
		t0 := time.Now()
		tbl, err := in.Tables.LoadTable(ctx, ident)
		if err != nil {
			return fmt.Errorf("reload %s: %w", name, err)
		}
		clock.since("commit_reload", t0)
		lastTbl = tbl
		t0 = time.Now()
		prevs, err := lookupVersions(ctx, tbl, sources, ps[0].base)
		if err != nil {
			return err
		}
		clock.since("commit_lookup", t0)
		t0 = time.Now()
		var files []iceberg.DataFile
		var adding []*prepared
		var memberIdx []int
		var checking []int
		for i, p := range ps {
			prev := prevs[p.res.Source]
			switch decideVersion(prev, p.obj.ETag, p.obj.Sequencer) {
			case actionDuplicate:
				decided[i] = decision{status: StatusDuplicate, prevID: prev.snapshotID}
				continue
			case actionSuperseded:
				decided[i] = decision{status: StatusSuperseded}
				continue
			case actionReplace:
				decided[i] = decision{redo: true}
				continue
			}
			decided[i] = decision{status: StatusCommitted}
			if p.recs != nil {
				checking = append(checking, i)
			}
		}
		redo, err := recheckBatch(ctx, tbl, ps, checking)
		if err != nil {
			return err
		}
		for i, p := range ps {
			if decided[i].status != StatusCommitted {
				continue
			}
			if redo[i] {
				decided[i] = decision{redo: true}
				continue
			}
			switch {
			case p.buffered && p.bufferedRows() > 0:
				members = append(members, p)
				memberIdx = append(memberIdx, i)
				adding = append(adding, p)
			case !p.buffered && len(p.files) > 0:
				files = append(files, p.files...)
				adding = append(adding, p)
			}
			// Otherwise every record was a duplicate: nothing to add.
		}
		clock.since("commit_recheck", t0)
		t0 = time.Now()
		if !slices.Equal(memberIdx, writtenFor) {
			dropWritten()
			if len(members) > 0 {
				sf, err := writeShared(ctx, tbl, sc, members)
				written, writtenFor = sf, memberIdx
				if err != nil {
					dropWritten()
					return fmt.Errorf("write shared data files of %s: %w", name, err)
				}
			}
		}
		clock.since("commit_write_shared", t0)
		for _, p := range members {
			p.inShared = memberFiles(p, written)
		}
		files = append(files, sharedDataFiles(written)...)
		if len(adding) == 0 {
			return nil
		}
		var props iceberg.Properties
		var side string
		if len(adding) == 1 {
			p := adding[0]
			props = iceberg.Properties{
				propSource: p.res.Source, propETag: p.obj.ETag, propRows: strconv.FormatInt(p.st.RowsOK, 10),
				propFiles: packFiles(tbl.Location(), p.dataFiles()), propStatus: StatusCommitted,
			}
			if p.obj.Sequencer != "" {
				props[propSequencer] = p.obj.Sequencer
			}
		} else {
			entries := make([]batchEntry, 0, len(adding))
			for _, p := range adding {
				e := batchEntry{Source: p.res.Source, ETag: p.obj.ETag, Sequencer: p.obj.Sequencer, Status: StatusCommitted,
					Rows: p.st.RowsOK, Shared: p.buffered && len(members) > 1}
				e.Files = strings.Split(packFiles(tbl.Location(), p.dataFiles()), "\n")
				entries = append(entries, e)
			}
			t0 := time.Now()
			if props, side, err = batchProps(ctx, tbl, entries); err != nil {
				return err
			}
			clock.since("commit_side_file", t0)
		}
		t0 = time.Now()
		defer clock.since("commit_commit", t0)
		tx := tbl.NewTransaction()
		if err := tx.AddDataFiles(ctx, files, props, table.WithoutDuplicateCheck()); err != nil {
			removeLedgerBlob(ctx, tbl, side)
			return fmt.Errorf("stage append of %d files: %w", len(adding), err)
		}
		if committed, err = tx.Commit(ctx); err != nil {
			if isConflict(err) {
				removeLedgerBlob(ctx, tbl, side) // names no snapshot
			}
			return fmt.Errorf("commit %s: %w", name, err)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrConflict) || isConflict(err) {
			for _, p := range ps {
				in.discard(ctx, p) // nothing committed: safe to remove
			}
			dropWritten()
		}
		// Otherwise the commit's state is unknown: the files stay, and the
		// retry of these messages finds the ledger entries if it landed.
		for _, p := range ps {
			p.res.DurationMS = time.Since(p.start).Milliseconds()
		}
		return fmt.Errorf("ingest batch of %d files: %w", len(ps), err)
	}
	if committed == nil {
		dropWritten() // nothing was added: written files of an earlier attempt are not needed
	}
	var snap int64
	if committed != nil {
		snap = committed.CurrentSnapshot().SnapshotID
		seedKeys(in.keys, written, members)
	}
	for i, p := range ps {
		d := decided[i]
		switch {
		case d.redo:
			in.discard(ctx, p)
			p.step = stepSerial
		case d.status == StatusDuplicate:
			in.discard(ctx, p)
			p.res.Status, p.res.SnapshotID = StatusDuplicate, d.prevID
			p.step = stepDone
		case d.status == StatusSuperseded:
			in.discard(ctx, p)
			p.res.Status, p.res.RowsOK, p.res.RowsDuplicate = StatusSuperseded, 0, 0
			p.res.Message = "a newer version of the file is already committed: this older version is not ingested"
			p.step = stepLog
		default:
			p.res.Status = StatusCommitted
			if len(p.dataFiles()) > 0 {
				p.res.SnapshotID = snap
			}
		}
	}
	if committed == nil {
		return nil
	}
	// After the commit: the summary is authoritative until the objects
	// catch up, so a failure here only costs a rebuild later.
	t0 := time.Now()
	defer clock.since("commit_ledger_objects", t0)
	var wg sync.WaitGroup
	sem := make(chan struct{}, ledgerReadLanes)
	for i, p := range ps {
		if decided[i].redo || decided[i].status != StatusCommitted || len(p.dataFiles()) == 0 {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			e := ledgerEntry{etag: p.obj.ETag, status: StatusCommitted, sequencer: p.obj.Sequencer, snapshotID: snap,
				shared: p.buffered && len(members) > 1, found: true}
			for _, df := range p.dataFiles() {
				e.files = append(e.files, df.FilePath())
			}
			if err := writeLedgerObject(ctx, committed, p.res.Source, e); err != nil {
				in.Log.WarnContext(ctx, "ledger object not written; the snapshot summary has the entry", "source", p.res.Source, "error", err)
			}
		}()
	}
	wg.Wait()
	return nil
}

// recheckBatch is recordSet.recheck for the files at idx of a batch, all
// first versions, on the reloaded table: a file is to be parsed again
// (redo) when a data file it consulted for duplicates is no longer live,
// or when a data file committed since it was parsed holds one of the
// records it keeps. Each day is planned once and each new data file's
// keys read once for the whole batch, and every kept record is looked up
// once (the files of a batch keep disjoint records), instead of once per
// file: a batch whose commit lost a race to others checks in time linear
// in what they added, not in that times its files.
func recheckBatch(ctx context.Context, tbl *table.Table, ps []*prepared, idx []int) (map[int]bool, error) {
	if len(idx) == 0 {
		return nil, nil
	}
	plan := ps[idx[0]].recs.planMemo()
	redo := map[int]bool{}
	fresh := map[string]iceberg.DataFile{} // live now, consulted by none
	for _, i := range idx {
		r := ps[i].recs
		for day, consulted := range r.consulted {
			files, err := plan(ctx, tbl, day)
			if err != nil {
				return nil, err
			}
			live := 0
			for _, df := range files {
				if consulted[df.FilePath()] {
					live++
				} else {
					fresh[df.FilePath()] = df
				}
			}
			if live != len(consulted) {
				redo[i] = true // a data file consulted for duplicates was removed
			}
		}
	}
	if len(fresh) == 0 {
		return redo, nil
	}
	// A data file is immutable: one not live when the batch was parsed
	// was consulted by none of its files. The new files' keys are sorted
	// once and each file's kept keys read in order against them, so
	// nothing the size of the batch's kept keys is built.
	var added []recordKey
	for _, df := range fresh {
		keys, err := ps[idx[0]].recs.keysOf(ctx, tbl, df) // first versions: no rows of their own to leave out
		if err != nil {
			return nil, err
		}
		added = append(added, keys...)
	}
	slices.Sort(added)
	run := newKeyRun(slices.Compact(added))
	for _, i := range idx {
		if redo[i] {
			continue
		}
		err := ps[i].eachKept(func(k recordKey) bool {
			redo[i] = run.has(k)
			return !redo[i]
		})
		if err != nil {
			return nil, err
		}
	}
	return redo, nil
}

// logRow is one crm.ingest_log row to append.
type logRow struct {
	obj   Object
	res   Result
	start time.Time
	// base is the batch's look-up in the ingest log before, if any.
	base *ledgerBase
}

// logRecord builds the ingest_log rows as one record batch.
func logRecord(sc *arrow.Schema, rows []logRow) arrow.RecordBatch {
	rb := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer rb.Release()
	for _, r := range rows {
		res, obj := r.res, r.obj
		strB(rb, 0).Append(res.Source)
		strB(rb, 1).Append(obj.ETag)
		i64B(rb, 2).Append(obj.Size)
		appendOptString(strB(rb, 3), res.Table)
		strB(rb, 4).Append(res.Status)
		i64B(rb, 5).Append(res.RowsOK)
		i64B(rb, 6).Append(res.RowsRejected)
		if res.SnapshotID != 0 {
			i64B(rb, 7).Append(res.SnapshotID)
		} else {
			i64B(rb, 7).AppendNull()
		}
		appendOptString(strB(rb, 8), res.ReportKey)
		appendOptString(strB(rb, 9), res.Message)
		tsB(rb, 10).Append(arrow.Timestamp(r.start.UnixMicro()))
		i64B(rb, 11).Append(res.DurationMS)
		i64B(rb, 12).Append(res.RowsDuplicate)
	}
	return rb.NewRecordBatch()
}

// appendLogs appends rows to crm.ingest_log in one commit whose summary
// carries each row's source, ETag and status (one row: a single-file
// summary), so a redelivered file is recognised. A row whose version and
// status another delivery logged meanwhile is left out; that is decided
// inside the retry.
func (in *Ingester) appendLogs(ctx context.Context, rows []logRow) error {
	sc, err := table.SchemaToArrowSchema(IngestLogTable.Schema, nil, true, false)
	if err != nil {
		return err
	}
	var written []iceberg.DataFile
	var writtenFor []int // indexes of rows in written
	var lastTbl *table.Table
	defer func() {
		if lastTbl != nil && len(written) > 0 {
			_ = removeFiles(ctx, lastTbl, written)
		}
	}()
	sources := map[string]bool{}
	base := rows[0].base
	for _, r := range rows {
		sources[r.res.Source] = true
		if r.base != base {
			base = nil // not one look-up's: read every ledger object
		}
	}
	err = in.retry.retryCommit(ctx, func(ctx context.Context) error {
		tbl, err := in.Tables.LoadTable(ctx, IngestLogTable.Ident())
		if err != nil {
			return fmt.Errorf("reload ingest log: %w", err)
		}
		lastTbl = tbl
		// Decided inside the retry, as for the data commit: another delivery
		// of a version may have logged the same outcome meanwhile (found
		// by the chaos round: concurrent redeliveries after a crash between
		// the data commit and the log commit each wrote a row).
		prevs, err := lookupVersions(ctx, tbl, sources, base)
		if err != nil {
			return err
		}
		var todo []int
		for i, r := range rows {
			if e := prevs[r.res.Source]; e.found && e.etag == r.obj.ETag && e.status == r.res.Status {
				continue
			}
			todo = append(todo, i)
		}
		if len(todo) == 0 {
			return nil
		}
		if !slices.Equal(todo, writtenFor) {
			if len(written) > 0 {
				_ = removeFiles(ctx, tbl, written)
			}
			written, writtenFor = nil, nil
			sel := make([]logRow, len(todo))
			for k, i := range todo {
				sel[k] = rows[i]
			}
			rec := logRecord(sc, sel)
			files, err := writeDataFiles(ctx, tbl, sc, func(yield func(PartBatch, error) bool) { yield(PartBatch{Rec: rec}, nil) })
			if err != nil {
				_ = removeFiles(ctx, tbl, files)
				return fmt.Errorf("write ingest log rows: %w", err)
			}
			written, writtenFor = files, todo
		}
		var props iceberg.Properties
		var side string
		if len(todo) == 1 {
			r := rows[todo[0]]
			props = iceberg.Properties{propSource: r.res.Source, propETag: r.obj.ETag, propStatus: r.res.Status}
		} else {
			entries := make([]batchEntry, len(todo))
			for k, i := range todo {
				entries[k] = batchEntry{Source: rows[i].res.Source, ETag: rows[i].obj.ETag, Status: rows[i].res.Status}
			}
			if props, side, err = batchProps(ctx, tbl, entries); err != nil {
				return err
			}
		}
		tx := tbl.NewTransaction()
		if err := tx.AddDataFiles(ctx, written, props, table.WithoutDuplicateCheck()); err != nil {
			removeLedgerBlob(ctx, tbl, side)
			return err
		}
		if _, err := tx.Commit(ctx); err != nil {
			if isConflict(err) {
				removeLedgerBlob(ctx, tbl, side) // names no snapshot
			}
			return err
		}
		written = nil // committed: keep
		return nil
	})
	if err != nil {
		if !errors.Is(err, ErrConflict) && !isConflict(err) {
			written = nil // the commit's state is unknown: keep the files
		}
		return fmt.Errorf("commit %d ingest log row(s): %w", len(rows), err)
	}
	return nil
}

// batchClock adds up where a batch's time goes, by stage; the stages of
// files prepared at once add up to more than the wall time.
type batchClock struct {
	mu sync.Mutex
	d  map[string]time.Duration
}

type batchClockKey struct{}

// clockOf is the batch clock ctx carries, or nil.
func clockOf(ctx context.Context) *batchClock {
	c, _ := ctx.Value(batchClockKey{}).(*batchClock)
	return c
}

// since adds the time since t0 to stage; a nil clock does nothing.
func (c *batchClock) since(stage string, t0 time.Time) {
	if c == nil {
		return
	}
	d := time.Since(t0)
	c.mu.Lock()
	c.d[stage] += d
	c.mu.Unlock()
}

// logAttrs are the stages in milliseconds, as slog attributes in name order.
func (c *batchClock) logAttrs() []any {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(c.d))
	for n := range c.d {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]any, 0, 2*len(names))
	for _, n := range names {
		out = append(out, n+"_ms", c.d[n].Milliseconds())
	}
	return out
}
