package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
)

// Cursors are opaque to clients: a payload and a truncated HMAC-SHA256 of
// it, base64url. A filter cursor holds the sort field and direction, a hash
// of the query's conditions and the (sort value, subscriber id) of the last
// item shown; the next page starts strictly after that pair, so a cursor
// stays meaningful across snapshot swaps. A list cursor holds the list name
// hash and an offset.

const (
	cursorFilter = 'f'
	cursorList   = 'l'
	cursorIngest = 'i'
	macLen       = 16
	maxCursorLen = 256
	// An ingest cursor holds a source URI (an S3 key is up to 1024 bytes).
	maxIngestCursorLen = 2048
)

var errCursor = errors.New("invalid cursor")

type filterCursor struct {
	field int
	desc  bool
	query [8]byte // hash of the conditions
	value float64
	id    string
}

type cursorCodec struct{ key []byte }

func (cc cursorCodec) seal(payload []byte) string {
	m := hmac.New(sha256.New, cc.key)
	m.Write(payload)
	return base64.RawURLEncoding.EncodeToString(m.Sum(payload)[:len(payload)+macLen])
}

func (cc cursorCodec) open(s string, kind byte) ([]byte, error) {
	if len(s) == 0 || len(s) > maxCursorLen && (kind != cursorIngest || len(s) > maxIngestCursorLen) {
		return nil, errCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 1+macLen || b[0] != kind {
		return nil, errCursor
	}
	payload, mac := b[:len(b)-macLen], b[len(b)-macLen:]
	m := hmac.New(sha256.New, cc.key)
	m.Write(payload)
	if !hmac.Equal(m.Sum(nil)[:macLen], mac) {
		return nil, errCursor
	}
	return payload, nil
}

func (cc cursorCodec) encodeFilter(c filterCursor) string {
	b := make([]byte, 0, 20+len(c.id))
	b = append(b, cursorFilter, byte(c.field), 0)
	if c.desc {
		b[2] = 1
	}
	b = append(b, c.query[:]...)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(c.value))
	b = append(b, c.id...)
	return cc.seal(b)
}

func (cc cursorCodec) decodeFilter(s string) (filterCursor, error) {
	b, err := cc.open(s, cursorFilter)
	if err != nil || len(b) < 1+2+8+8+1 {
		return filterCursor{}, errCursor
	}
	c := filterCursor{field: int(b[1]), desc: b[2] == 1}
	copy(c.query[:], b[3:11])
	c.value = math.Float64frombits(binary.BigEndian.Uint64(b[11:19]))
	c.id = string(b[19:])
	if c.field >= len(numFields) || b[2] > 1 || math.IsNaN(c.value) || !validID(c.id) {
		return filterCursor{}, errCursor
	}
	return c, nil
}

func listHash(name string) [8]byte {
	sum := sha256.Sum256([]byte("list\x00" + name))
	var h [8]byte
	copy(h[:], sum[:])
	return h
}

func (cc cursorCodec) encodeList(name string, offset int) string {
	h := listHash(name)
	b := append([]byte{cursorList}, h[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(offset))
	return cc.seal(b)
}

func (cc cursorCodec) decodeList(s, name string) (int, error) {
	b, err := cc.open(s, cursorList)
	if err != nil || len(b) != 1+8+4 {
		return 0, errCursor
	}
	h := listHash(name)
	if !hmac.Equal(b[1:9], h[:]) {
		return 0, errors.New("cursor belongs to another list")
	}
	return int(binary.BigEndian.Uint32(b[9:])), nil
}
