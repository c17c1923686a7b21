package lake

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The kept keys of a batch's files, between their parse and the commit.
// A file's duplicate check holds the keys it keeps in per-day hash sets
// (about 12 bytes a key) while it is parsed; after that the batch needs
// them only twice: to find records two files of the batch both keep
// (claimBatch) and, when another commit landed meanwhile, to find the files
// whose records it added (recheckBatch). Both read the keys in order, so
// once a file is parsed its keys are frozen into one sorted run of 8
// bytes a key, and the day sets and the table's day index it consulted are
// let go. The runs of a batch stay in memory up to batchKeysInMemory keys
// in all; the others are written to one unlinked temporary file on local
// disk (as the suspects are, suspects.go) and read back in order when
// needed. So what a batch holds of its files' keys does not grow with its
// large files: 30 daily files of 1M rows kept about 12 MB each until the
// commit, and the old claim built one more set of all of them (8.4 bytes
// a key) before the commit.
//
// Records of different days are never the same record, so the claim
// merges only the runs of the files that share a day with another file of
// the batch: daily files of different days are not read back at all.
var batchKeysInMemory = 4 << 20 // keys: 32 MiB (a variable for tests)

// keySpill is a batch's runs of kept keys: those held in memory, within
// batchKeysInMemory, and the temporary file of the others.
type keySpill struct {
	mu    sync.Mutex
	limit int
	held  int // keys in memory
	peak  int
	f     *os.File
	size  int64
}

func newKeySpill() *keySpill { return &keySpill{limit: batchKeysInMemory} }

// close removes the temporary file (unlinked already: closing frees it).
func (s *keySpill) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// frozenKeys is one file's kept keys, sorted and distinct: in memory
// (mem) or at off in the batch's spill file.
type frozenKeys struct {
	days  []int64 // the days the file keeps records of, sorted
	n     int
	mem   []recordKey
	spill *keySpill
	off   int64
	held  bool // mem is charged to spill's keys in memory
}

// freeze turns r's kept keys into a frozen run, in memory when the batch
// has room left, else in the spill file, and lets go of what r held for
// the parse (the day sets, the day indexes consulted and the batch's
// cache of them, the suspects).
func (s *keySpill) freeze(r *recordSet) (*frozenKeys, error) {
	var keys []recordKey
	days := make([]int64, 0, len(r.kept))
	for day, ks := range r.kept {
		if ks.Len() == 0 {
			continue
		}
		days = append(days, day)
		day := ks.sorted() // a day's set holds its keys in order (keyset.go)
		if keys == nil {
			keys = day
		} else {
			keys = mergeSorted(keys, day)
		}
	}
	r.kept, r.existing, r.suspects, r.shared = nil, nil, nil, nil
	r.curKept, r.curExisting = nil, nil
	slices.Sort(days)
	keys = slices.Compact(keys) // one hash in two days of the file
	fk := &frozenKeys{days: days, n: len(keys), spill: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held+len(keys) <= s.limit {
		s.held += len(keys)
		s.peak = max(s.peak, s.held)
		fk.mem, fk.held = keys, true
		return fk, nil
	}
	if s.f == nil {
		f, err := unlinkedTemp("telcolake-batchkeys-*")
		if err != nil {
			return nil, fmt.Errorf("spill the batch's record keys: %w", err)
		}
		s.f = f
	}
	w := bufio.NewWriterSize(io.NewOffsetWriter(s.f, s.size), 64<<10)
	var b [8]byte
	for _, k := range keys {
		binary.LittleEndian.PutUint64(b[:], k)
		if _, err := w.Write(b[:]); err != nil {
			return nil, fmt.Errorf("spill the batch's record keys: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("spill the batch's record keys: %w", err)
	}
	fk.off = s.size
	s.size += 8 * int64(len(keys))
	return fk, nil
}

// release lets go of the keys held in memory.
func (fk *frozenKeys) release() {
	if fk == nil || !fk.held {
		return
	}
	fk.spill.mu.Lock()
	fk.spill.held -= len(fk.mem)
	fk.spill.mu.Unlock()
	fk.mem, fk.held = nil, false
}

// cursor reads the run in order.
func (fk *frozenKeys) cursor() (*keyCursor, error) {
	c := &keyCursor{left: fk.n}
	if fk.mem != nil || fk.n == 0 {
		c.mem = fk.mem
		return c, nil
	}
	fk.spill.mu.Lock()
	f := fk.spill.f
	fk.spill.mu.Unlock()
	if f == nil {
		return nil, errors.New("lake: internal error: a batch's spilled keys were closed before the commit")
	}
	c.r = bufio.NewReaderSize(io.NewSectionReader(f, fk.off, 8*int64(fk.n)), 32<<10)
	return c, nil
}

// keyCursor is a position in a frozen run.
type keyCursor struct {
	mem  []recordKey
	r    *bufio.Reader
	left int
	cur  recordKey
}

// next moves to the next key (in cur); false at the end.
func (c *keyCursor) next() (bool, error) {
	if c.left == 0 {
		return false, nil
	}
	c.left--
	if c.r == nil {
		c.cur, c.mem = c.mem[0], c.mem[1:]
		return true, nil
	}
	var b [8]byte
	if _, err := io.ReadFull(c.r, b[:]); err != nil {
		return false, fmt.Errorf("read the batch's spilled record keys: %w", err)
	}
	c.cur = binary.LittleEndian.Uint64(b[:])
	return true, nil
}

// eachKept calls f with every key p keeps, in order when frozen, until it
// returns false.
func (p *prepared) eachKept(f func(recordKey) bool) error {
	if p.keys == nil { // not frozen (tests that build a prepared file by hand)
		for _, ks := range p.recs.kept {
			if ks.any(func(k uint64) bool { return !f(k) }) {
				return nil
			}
		}
		return nil
	}
	c, err := p.keys.cursor()
	if err != nil {
		return err
	}
	for {
		ok, err := c.next()
		if err != nil || !ok {
			return err
		}
		if !f(c.cur) {
			return nil
		}
	}
}

// maxClaimGroups bounds the distinct sets of files that share a key the
// claim keeps; past it every file sharing a day with an earlier one is
// left to the single-file path (correct, only slower).
const maxClaimGroups = 1 << 16

// claimBatch decides, for the frozen files of one table in batch order,
// which keep their records (true) and which hold a record an earlier kept
// file of the batch keeps, or only its hash (false: left to the
// single-file path, which sees the earlier file's records committed and
// counts them as duplicates). As a set of the kept files' keys filled in
// order would, but from a merge of the sorted runs of the files that
// share a day: nothing of theirs is held but the sets of files found
// sharing a key.
func claimBatch(ps []*prepared) ([]bool, error) {
	keep := make([]bool, len(ps))
	for i := range keep {
		keep[i] = true
	}
	byDay := map[int64]int{}
	for _, p := range ps {
		if p.keys != nil {
			for _, d := range p.keys.days {
				byDay[d]++
			}
		}
	}
	var members []int
	for i, p := range ps {
		if p.keys == nil {
			continue
		}
		for _, d := range p.keys.days {
			if byDay[d] > 1 {
				members = append(members, i)
				break
			}
		}
	}
	if len(members) < 2 {
		return keep, nil
	}
	h := make(cursorHeap, 0, len(members))
	for _, i := range members {
		c, err := ps[i].keys.cursor()
		if err != nil {
			return nil, err
		}
		ok, err := c.next()
		if err != nil {
			return nil, err
		}
		if ok {
			h = append(h, heldCursor{c: c, file: i})
		}
	}
	heap.Init(&h)
	groups := map[string][]int{}
	var group []int
	for len(h) > 0 {
		k := h[0].c.cur
		group = group[:0]
		for len(h) > 0 && h[0].c.cur == k {
			group = append(group, h[0].file)
			ok, err := h[0].c.next()
			if err != nil {
				return nil, err
			}
			if ok {
				heap.Fix(&h, 0)
			} else {
				heap.Pop(&h)
			}
		}
		if len(group) < 2 {
			continue
		}
		slices.Sort(group)
		sig := groupKey(group)
		if _, ok := groups[sig]; ok {
			continue
		}
		if len(groups) == maxClaimGroups {
			for _, i := range members[1:] {
				keep[i] = false
			}
			return keep, nil
		}
		groups[sig] = slices.Clone(group)
	}
	of := map[int][][]int{} // file → the groups it is a later member of
	for _, g := range groups {
		for _, i := range g[1:] {
			of[i] = append(of[i], g)
		}
	}
	for _, j := range members {
		for _, g := range of[j] {
			for _, i := range g {
				if i < j && keep[i] {
					keep[j] = false
				}
			}
		}
	}
	return keep, nil
}

func groupKey(g []int) string {
	var b strings.Builder
	for _, i := range g {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte(',')
	}
	return b.String()
}

// heldCursor is a cursor of the claim's merge and the file it reads.
type heldCursor struct {
	c    *keyCursor
	file int
}

type cursorHeap []heldCursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	if h[i].c.cur != h[j].c.cur {
		return h[i].c.cur < h[j].c.cur
	}
	return h[i].file < h[j].file
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(heldCursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
