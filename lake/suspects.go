package lake

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// suspectSpill holds the chunks of suspects past maxSuspects of one
// file's check in a temporary file on local disk, so that every hash
// match is verified by its exact key whatever their number while memory
// holds one chunk. The file is unlinked when created: nothing is left on
// disk however the ingest ends. A chunk is its keys sorted by day and id,
// each as the day's delta (varint), the length of the prefix it shares
// with the id before it and the rest (uvarints and bytes): a few bytes a
// key for the ids of one source, which share long prefixes.
type suspectSpill struct {
	f      *os.File
	size   int64
	chunks []spillChunk
}

type spillChunk struct {
	off, size int64
	n         int
}

func newSuspectSpill() (*suspectSpill, error) {
	f, err := unlinkedTemp("telcolake-suspects-*")
	if err != nil {
		return nil, fmt.Errorf("spill the duplicates to verify: %w", err)
	}
	return &suspectSpill{f: f}, nil
}

// unlinkedTemp is a new temporary file already removed from its directory:
// it lives as long as it is open, and a crash leaves nothing behind.
func unlinkedTemp(pattern string) (*os.File, error) {
	f, err := os.CreateTemp("", pattern)
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// write appends the keys of set as a new chunk.
func (s *suspectSpill) write(set map[exactKey]bool) error {
	keys := make([]exactKey, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b exactKey) int {
		return cmp.Or(cmp.Compare(a.day, b.day), strings.Compare(a.id, b.id))
	})
	w := bufio.NewWriterSize(io.NewOffsetWriter(s.f, s.size), 64<<10)
	var n int64
	var buf [2*binary.MaxVarintLen64 + binary.MaxVarintLen64]byte
	var prev exactKey
	for _, k := range keys {
		shared := 0
		if k.day == prev.day {
			for shared < len(k.id) && shared < len(prev.id) && k.id[shared] == prev.id[shared] {
				shared++
			}
		}
		b := binary.AppendVarint(buf[:0], k.day-prev.day)
		b = binary.AppendUvarint(b, uint64(shared))
		b = binary.AppendUvarint(b, uint64(len(k.id)-shared))
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("spill the duplicates to verify: %w", err)
		}
		if _, err := w.WriteString(k.id[shared:]); err != nil {
			return fmt.Errorf("spill the duplicates to verify: %w", err)
		}
		n += int64(len(b) + len(k.id) - shared)
		prev = k
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("spill the duplicates to verify: %w", err)
	}
	s.chunks = append(s.chunks, spillChunk{off: s.size, size: n, n: len(keys)})
	s.size += n
	return nil
}

// read returns chunk i as a set of keys not yet found.
func (s *suspectSpill) read(i int) (map[exactKey]bool, error) {
	c := s.chunks[i]
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, c.off, c.size), 64<<10)
	set := make(map[exactKey]bool, c.n)
	var prev exactKey
	fail := func(err error) (map[exactKey]bool, error) {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read back the spilled duplicates to verify: %w", err)
	}
	var id []byte
	for range c.n {
		dd, err := binary.ReadVarint(r)
		if err != nil {
			return fail(err)
		}
		shared, err := binary.ReadUvarint(r)
		if err != nil {
			return fail(err)
		}
		rest, err := binary.ReadUvarint(r)
		if err != nil {
			return fail(err)
		}
		if shared > uint64(len(prev.id)) || rest > uint64(c.size) {
			return fail(errors.New("corrupt chunk"))
		}
		id = append(id[:0], prev.id[:shared]...)
		id = slices.Grow(id, int(rest))[:int(shared)+int(rest)]
		if _, err := io.ReadFull(r, id[shared:]); err != nil {
			return fail(err)
		}
		k := exactKey{day: prev.day + dd, id: string(id)}
		set[k] = false
		prev = k
	}
	return set, nil
}

func (s *suspectSpill) close() { s.f.Close() }
