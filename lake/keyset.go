package lake

import (
	"math/bits"
	"slices"
)

// hashSet is a compact set of 64-bit key hashes: about 9 bytes a key once
// the keys settle, against some 40 for a Go map of 128-bit keys. New keys
// go into a small open-addressing table; when it fills, its keys are sorted
// and merged into one sorted run, found again through a fence index (the
// run's positions by the hash's top bits), so a look-up is a probe of the
// table and a scan of a handful of run entries. The table grows with the
// run, so every key is moved about ten times in all.
type hashSet struct {
	hot   []uint64 // open addressing; 0 is an empty slot (hash 0 is stored as 1)
	nhot  int
	run   []uint64 // sorted
	fence []uint32 // fence[i]: first index in run whose top fenceBits bits are ≥ i
	shift uint     // 64 − fenceBits
}

// minHot is the smallest hot table, in slots (half of them fill before a merge).
const minHot = 1 << 12

// Len is the number of keys in the set.
func (s *hashSet) Len() int { return s.nhot + len(s.run) }

// Has reports whether h is in the set.
func (s *hashSet) Has(h uint64) bool {
	h = nonZero(h)
	return s.hotHas(h) || s.runHas(h)
}

// Add puts h in the set and reports whether it was new.
func (s *hashSet) Add(h uint64) bool {
	h = nonZero(h)
	if s.runHas(h) {
		return false
	}
	if s.hot == nil {
		s.hot = make([]uint64, minHot)
	}
	mask := uint64(len(s.hot) - 1)
	for i := mix(h) & mask; ; i = (i + 1) & mask {
		switch s.hot[i] {
		case h:
			return false
		case 0:
			s.hot[i] = h
			s.nhot++
			if 2*s.nhot >= len(s.hot) {
				s.merge()
			}
			return true
		}
	}
}

func nonZero(h uint64) uint64 {
	if h == 0 {
		return 1
	}
	return h
}

// mix spreads the hash's bits for the slot index: the run's fence uses the
// top bits, the table the low bits of a multiply.
func mix(h uint64) uint64 { return (h * 0x9e3779b97f4a7c15) >> 17 }

func (s *hashSet) hotHas(h uint64) bool {
	if s.nhot == 0 {
		return false
	}
	mask := uint64(len(s.hot) - 1)
	for i := mix(h) & mask; ; i = (i + 1) & mask {
		switch s.hot[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

func (s *hashSet) runHas(h uint64) bool {
	if len(s.run) == 0 {
		return false
	}
	top := h >> s.shift
	lo, hi := int(s.fence[top]), len(s.run)
	if int(top)+1 < len(s.fence) {
		hi = int(s.fence[top+1])
	}
	for i := lo; i < hi; i++ {
		if v := s.run[i]; v >= h {
			return v == h
		}
	}
	return false
}

// merge sorts the hot keys into the run, rebuilds the fence and sizes the
// next hot table to a quarter of the run (an eighth of it fills before the
// next merge).
func (s *hashSet) merge() {
	fresh := make([]uint64, 0, s.nhot)
	for _, h := range s.hot {
		if h != 0 {
			fresh = append(fresh, h)
		}
	}
	slices.Sort(fresh)
	merged := make([]uint64, len(s.run)+len(fresh))
	i, j, k := 0, 0, 0
	for i < len(s.run) && j < len(fresh) {
		if s.run[i] < fresh[j] {
			merged[k] = s.run[i]
			i++
		} else {
			merged[k] = fresh[j]
			j++
		}
		k++
	}
	k += copy(merged[k:], s.run[i:])
	copy(merged[k:], fresh[j:])
	s.run = merged
	// About 4 run entries per fence slot.
	fenceBits := uint(max(bits.Len(uint(len(s.run)/4)), 1))
	s.shift = 64 - fenceBits
	if cap(s.fence) >= 1<<fenceBits {
		s.fence = s.fence[:1<<fenceBits]
	} else {
		s.fence = make([]uint32, 1<<fenceBits)
	}
	pos := 0
	for t := range s.fence {
		for pos < len(s.run) && s.run[pos]>>s.shift < uint64(t) {
			pos++
		}
		s.fence[t] = uint32(pos)
	}
	size := max(minHot, 1<<bits.Len(uint(len(s.run)/4)))
	if len(s.hot) == size {
		clear(s.hot)
	} else {
		s.hot = make([]uint64, size)
	}
	s.nhot = 0
}

// any calls f with the set's keys until it returns true, and reports
// whether it did.
func (s *hashSet) any(f func(uint64) bool) bool {
	for _, h := range s.run {
		if f(h) {
			return true
		}
	}
	for _, h := range s.hot {
		if h != 0 && f(h) {
			return true
		}
	}
	return false
}
