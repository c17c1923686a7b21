package lake

import (
	"math/bits"
	"slices"
)

// hashSet is a compact set of 64-bit key hashes: 9.4 to 11.8 bytes a key,
// against some 40 for a Go map of 128-bit keys. It is one ordered
// linear-probing table (Amble and Knuth's ordered hash table): a key's home
// slot is its value scaled to the table's size (the top bits of h·m), and
// the keys are kept in ascending order along the table, with empty slots
// (0) between them. Keys are keyed hashes, spread evenly, so a key sits a
// few slots past its home: a look-up is one random access and a short
// scan that stops at the first key not below it, an insert shifts the few
// keys after it up to the next empty slot, and growing the table is one
// pass over the old in order, writing the new in order (no sort, no
// merge). The previous set (a small hash table merged into a sorted run
// when half full) moved each key some five times through a sort and a
// merge and read two places a look-up: 1.76 s of CPU for the 9.5M keys of
// a 90-day CDR file, where this takes 0.5.
//
// Keys the caller knows to be new (addNew: an export's ids in ascending
// order, see recordSet.duplicate) are not placed one by one: they wait in
// pend, and the first look-up or insert after them places them (settle):
// a few at a time by insertion, many by sorting them (one pass by their
// top bits) and merging them with the table into a new one of the right
// size in one pass: in the 9.5M-row ingest's profile about half the cost
// of inserting them (some 110 ns a key there).
type hashSet struct {
	slots []uint64 // ascending non-zero keys and empty slots (0); len is m + the tail
	m     uint64   // the homes' range: home(h) = h·m / 2⁶⁴
	n     int
	max   int      // n past which the table grows
	pend  []uint64 // non-zero keys not yet placed (settle)
	// order is room for pend's keys in order (settle); handOver passes
	// both buffers on, and a new table keeps them.
	order []uint64
}

// The table grows by a quarter once maxLoad of its home range is used, so
// its load stays between 0.68 and 0.85 (a larger step costs memory, as a
// larger load costs longer shifts); small sets double, from minSlots.
const (
	maxLoadPct = 85
	minSlots   = 256
	// tailSlots is the room after the home range for the keys of its last
	// homes; an insert that finds no empty slot before the end grows the
	// table (only an uneven set, the weak hashes of tests, gets there).
	tailSlots = 64
)

// Len is the number of keys in the set.
func (s *hashSet) Len() int {
	s.settle()
	return s.n
}

func (s *hashSet) home(h uint64) int {
	hi, _ := bits.Mul64(h, s.m)
	return int(hi)
}

// Has reports whether h is in the set.
func (s *hashSet) Has(h uint64) bool {
	s.settle()
	if s.n == 0 {
		return false
	}
	h = nonZero(h)
	slots := s.slots
	for i := s.home(h); i < len(slots); i++ {
		if v := slots[i]; v == 0 || v >= h {
			return v == h
		}
	}
	return false
}

// Add puts h in the set and reports whether it was new.
func (s *hashSet) Add(h uint64) bool {
	s.settle()
	return s.add(nonZero(h))
}

// addNew puts h in the set, which the caller knows not to hold the key h
// is the hash of (h may still equal the hash of another key in the set:
// the set then holds it once).
func (s *hashSet) addNew(h uint64) { s.pend = append(s.pend, nonZero(h)) }

// handOver moves the set's buffers of waiting keys, emptied, to next
// (the set of the next day, which fills about as many) when it has none,
// after placing the keys waiting.
func (s *hashSet) handOver(next *hashSet) {
	s.settle()
	if next.pend == nil && next.order == nil {
		next.pend, next.order = s.pend[:0], s.order[:0]
	}
	s.pend, s.order = nil, nil
}

// settleBulk is the fewest waiting keys settle sorts and merges rather
// than inserts, and settleShare the least share of the set's size (1/8)
// they must also be: below either, inserting costs less than a new table.
const (
	settleBulk  = 256
	settleShare = 8
)

// settle places the keys waiting in pend.
func (s *hashSet) settle() {
	p := s.pend
	if len(p) == 0 {
		return
	}
	if len(p) < settleBulk || len(p)*settleShare < s.n {
		s.pend = p[:0]
		for _, h := range p {
			s.add(h)
		}
		return
	}
	s.pend = p[:0]
	s.order = sortKeys(p, s.order)
	s.merge(s.order)
	s.order = s.order[:0]
}

// add is Add of a non-zero h with nothing waiting.
func (s *hashSet) add(h uint64) bool {
	if s.slots == nil {
		s.resize(minSlots, tailSlots)
	}
	for {
		slots := s.slots
		i := s.home(h)
		for i < len(slots) && slots[i] != 0 && slots[i] < h {
			i++
		}
		if i < len(slots) && slots[i] == h {
			return false
		}
		// h goes at i; the keys from i to the next empty slot move up one.
		e := i
		for e < len(slots) && slots[e] != 0 {
			e++
		}
		if e == len(slots) { // no room in the tail: a longer one
			s.resize(s.m, 2*(len(slots)-int(s.m)))
			continue
		}
		copy(slots[i+1:e+1], slots[i:e])
		slots[i] = h
		s.n++
		if s.n > s.max {
			s.grow()
		}
		return true
	}
}

func nonZero(h uint64) uint64 {
	if h == 0 {
		return 1
	}
	return h
}

// grow resizes the table to the next size (the tail kept).
func (s *hashSet) grow() { s.resize(nextSize(s.m), len(s.slots)-int(s.m)) }

// nextSize is the home range a table of m grows to.
func nextSize(m uint64) uint64 {
	if m >= 8*minSlots {
		return m + m/4
	}
	return 2 * m
}

// merge places the ascending keys (repeats allowed) in a new table with
// the set's own, in one pass over both in order.
func (s *hashSet) merge(keys []uint64) {
	// The smallest of the sizes the table grows through that holds
	// them all: tables of one size the next day's can reuse.
	m := max(s.m, minSlots)
	for int(m*maxLoadPct/100) < s.n+len(keys) {
		m = nextSize(m)
	}
	tail := max(tailSlots, len(s.slots)-int(s.m))
	for {
		slots := make([]uint64, int(m)+tail)
		t := hashSet{slots: slots, m: m, max: int(m * maxLoadPct / 100)}
		next, ok := 0, true
		old, j, p := s.slots, 0, keys
		prev := uint64(0)
		for {
			for j < len(old) && old[j] == 0 {
				j++
			}
			var h uint64
			switch {
			case j < len(old) && (len(p) == 0 || old[j] <= p[0]):
				h = old[j]
				j++
			case len(p) > 0:
				h, p = p[0], p[1:]
			}
			if h == 0 {
				break
			}
			if h == prev {
				continue
			}
			i := max(t.home(h), next)
			if i == len(slots) {
				ok = false
				break
			}
			slots[i], prev, next = h, h, i+1
			t.n++
		}
		if ok {
			t.pend, t.order = s.pend, s.order
			*s = t
			return
		}
		tail *= 2
	}
}

// sortKeys sorts keys (hashes, spread evenly) in ascending order into
// out (grown as needed): one pass places them by their top bits in
// buckets of a few keys each, and one pass of insertion sort orders the
// buckets' keys
// (which moves a key only within its bucket). Uneven keys, the weak
// hashes of tests, fall back to slices.Sort when the buckets are long.
func sortKeys(keys, out []uint64) []uint64 {
	b := min(max(bits.Len(uint(len(keys)))-2, 1), 16)
	shift := uint(64 - b)
	fill := make([]int32, 1<<b)
	for _, h := range keys {
		fill[h>>shift]++
	}
	at, longest := int32(0), int32(0)
	for d, c := range fill {
		fill[d] = at
		at += c
		longest = max(longest, c)
	}
	out = slices.Grow(out[:0], len(keys))[:len(keys)]
	for _, h := range keys {
		d := h >> shift
		out[fill[d]] = h
		fill[d]++
	}
	if longest > 64 {
		slices.Sort(out)
		return out
	}
	for i := 1; i < len(out); i++ {
		v, k := out[i], i
		for k > 0 && out[k-1] > v {
			out[k] = out[k-1]
			k--
		}
		out[k] = v
	}
	return out
}

// resize places the keys in a table whose home range is m slots, with
// tail slots after it: in order, each at its home or just past the key
// before it. A tail too short for the last keys (an uneven set) doubles
// until they fit.
func (s *hashSet) resize(m uint64, tail int) {
	for {
		slots := make([]uint64, int(m)+tail)
		t := hashSet{slots: slots, m: m, n: s.n, max: int(m * maxLoadPct / 100)}
		next, ok := 0, true
		for _, h := range s.slots {
			if h == 0 {
				continue
			}
			i := max(t.home(h), next)
			if i == len(slots) {
				ok = false
				break
			}
			slots[i] = h
			next = i + 1
		}
		if ok {
			t.pend, t.order = s.pend, s.order
			*s = t
			return
		}
		tail *= 2
	}
}

// sorted returns the set's keys in ascending order, in a new slice.
func (s *hashSet) sorted() []uint64 {
	s.settle()
	out := make([]uint64, 0, s.n)
	for _, h := range s.slots {
		if h != 0 {
			out = append(out, h)
		}
	}
	return out
}

// any calls f with the set's keys until it returns true, and reports
// whether it did.
func (s *hashSet) any(f func(uint64) bool) bool {
	s.settle()
	for _, h := range s.slots {
		if h != 0 && f(h) {
			return true
		}
	}
	return false
}
