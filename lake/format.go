package lake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/table"
)

// Format is one export format: the CSV columns a source system delivers and
// how a row of them becomes a row of the target table.
type Format struct {
	// Prefix is the landing key prefix that routes files to this format.
	Prefix  string
	Table   TableDef
	Columns []Column
	// newRows returns the row parser for one file.
	newRows func(fc fileContext) rowParser
}

// Column is one CSV column of an export format.
type Column struct {
	Name string
	// Required columns must be present in the header; a missing one rejects the file.
	Required bool
}

// fileContext is what every row of one file shares.
type fileContext struct {
	source     string // s3://bucket/key
	ingestedAt int64  // UTC micros
	now        time.Time
	pseudonym  []byte
	// campaigns are the ids of crm.campaigns when the responses export is
	// parsed (a response to another campaign is rejected); nil otherwise.
	campaigns map[string]bool
}

// rowParser validates one CSV record (fields looked up by column position
// through rec.get) into its pending row and returns the row's partition key
// (0 for unpartitioned tables); on a bad value it returns the index of the
// column at fault and the reason. appendTo appends the pending row; key
// is its natural key (see keySpecs).
type rowParser interface {
	parse(rec *record) (part int64, col int, err error)
	key() (day int64, id string)
	appendTo(rb *array.RecordBuilder)
}

// record is a line's fields as the format's columns: field i of the line
// is line[offs[i-1]+1 : offs[i]] (see fieldSplitter), and idx maps a
// column to its field, or -1 for an optional column the file lacks. A
// method, not a closure, so that its calls inline, and offsets rather
// than strings, so that splitting a line stores no pointer (the closure's
// calls and the strings' stores were 0.6 s of the 9.5M-row file's parse).
type record struct {
	line string
	// room is line and the bytes after it in its buffer, readable and
	// not part of the row (see strCol.addIn); at least line.
	room string
	offs []int32
	idx  []int
}

// get is the field of column c ("" for a column the file lacks).
func (r *record) get(c int) string {
	i := r.idx[c]
	if i < 0 {
		return ""
	}
	start := int32(0)
	if i > 0 {
		start = r.offs[i-1] + 1
	}
	return r.line[start:r.offs[i]]
}

// Formats lists the export formats, routed by key prefix.
func Formats() []*Format {
	return []*Format{CDRFormat, BillsFormat, SubscribersFormat, ResponsesFormat}
}

// FormatForKey returns the format whose prefix the landing key starts with.
func FormatForKey(key string) (*Format, bool) {
	for _, f := range Formats() {
		if strings.HasPrefix(key, f.Prefix) {
			return f, true
		}
	}
	return nil, false
}

// ArrowSchema is the Arrow schema (with Iceberg field ids) batches are built in.
func (f *Format) ArrowSchema() (*arrow.Schema, error) {
	return table.SchemaToArrowSchema(f.Table.Schema, nil, true, false)
}

// Typed access to the builders of a RecordBuilder by table column position.
func strB(rb *array.RecordBuilder, i int) *array.StringBuilder {
	return rb.Field(i).(*array.StringBuilder)
}
func i32B(rb *array.RecordBuilder, i int) *array.Int32Builder {
	return rb.Field(i).(*array.Int32Builder)
}
func i64B(rb *array.RecordBuilder, i int) *array.Int64Builder {
	return rb.Field(i).(*array.Int64Builder)
}
func boolB(rb *array.RecordBuilder, i int) *array.BooleanBuilder {
	return rb.Field(i).(*array.BooleanBuilder)
}
func tsB(rb *array.RecordBuilder, i int) *array.TimestampBuilder {
	return rb.Field(i).(*array.TimestampBuilder)
}
func dateB(rb *array.RecordBuilder, i int) *array.Date32Builder {
	return rb.Field(i).(*array.Date32Builder)
}
func decB(rb *array.RecordBuilder, i int) *array.Decimal128Builder {
	return rb.Field(i).(*array.Decimal128Builder)
}

func appendOptString(b *array.StringBuilder, s string) {
	if s == "" {
		b.AppendNull()
		return
	}
	b.Append(s)
}

// pseudonymizer turns a phone number into its keyed hash: the first 16
// bytes of HMAC-SHA256 under the lake's pseudonym key, in hex, computed
// without allocating. (A cache of recent numbers does not pay: on the
// generator's month of 3.4M CDR rows, 2.2M other parties of 0.52M distinct
// numbers, a direct-mapped cache of 64k numbers hit 27% of them and cost
// more in cache misses than the hashes it saved; 262,144 entries on the
// 9.5M-row file gave nothing either, for 40 MiB.)
//
// HMAC-SHA256(k, m) is SHA-256 of (k⊕opad ‖ SHA-256 of (k⊕ipad ‖ m)): the
// key blocks are the same for every number, so their SHA-256 states are
// computed once, and a number of at most 55 bytes (all of them: other_party
// has at most 20 digits) is then one block padded by hand from the inner
// state and one from the outer, the states restored and read back through
// the digest's binary marshalling. crypto/hmac did the same two blocks but
// through Reset, Write, and two Sums that copy the digest and pad it: 1.45
// s of CPU for the 6.6M other parties of the 9.5M-row CDR file, 1.1 s this
// way, of which the two blocks' compression (SHA-NI) is 0.8. Where the CPU
// has the SHA extensions, the two blocks go straight from the states'
// words through sha256BlocksNI (crypto/sha256's own SHA-NI code), without
// the marshalling: in the 2026-12-06 profiles of that file the HMAC's cost
// besides the compression went 0.61 -> 0.33 s. A CDR batch hashes its
// other parties two at a time (hash2), both numbers' blocks through
// sha256Block2NI, whose interleaved rounds hide the latency one number's
// dependent blocks cannot: the compression 1.41 -> 0.82 s in the profiles.
// Each path is checked against crypto/hmac when the pseudonymizer is made,
// and left off if it disagrees.
type pseudonymizer struct {
	sha   hash.Hash // a SHA-256 digest
	set   encoding.BinaryUnmarshaler
	get   encoding.BinaryAppender
	inner []byte // sha's state after the inner key block, marshalled
	outer []byte // after the outer key block
	state [128]byte
	in    [sha256.BlockSize]byte
	out   [sha256.BlockSize]byte // the inner hash and its constant padding
	hex   [2 * pseudoBytes]byte
	// ni tells that the two blocks go through sha256BlocksNI from the
	// words of the key states, innerH and outerH, instead of sha: no
	// state marshalling around each block (see above).
	ni             bool
	innerH, outerH [8]uint32
	// pair tells that hash2 hashes two numbers at once through
	// sha256Block2NI, with in2 and out2 as the second's blocks.
	pair      bool
	in2, out2 [sha256.BlockSize]byte
	// mac is crypto/hmac itself, for longer numbers (or a digest that
	// cannot be marshalled).
	mac hash.Hash
	sum []byte
}

// pseudoBytes is how many bytes of the HMAC are kept.
const pseudoBytes = 16

// maxPaddedLen is the longest message that SHA-256 pads within one block
// (a 0x80 byte and the 8-byte bit length follow it).
const maxPaddedLen = sha256.BlockSize - 9

func newPseudonymizer(key []byte) *pseudonymizer {
	p := &pseudonymizer{mac: hmac.New(sha256.New, key)}
	sha := sha256.New()
	set, ok1 := sha.(encoding.BinaryUnmarshaler)
	get, ok2 := sha.(encoding.BinaryAppender)
	if !ok1 || !ok2 {
		return p
	}
	if len(key) > sha256.BlockSize {
		k := sha256.Sum256(key)
		key = k[:]
	}
	var pad [sha256.BlockSize]byte
	state := func(x byte) []byte {
		for i := range pad {
			pad[i] = x
			if i < len(key) {
				pad[i] ^= key[i]
			}
		}
		sha.Reset()
		sha.Write(pad[:])
		st, err := get.AppendBinary(nil)
		if err != nil {
			return nil
		}
		return st
	}
	p.inner, p.outer = state(0x36), state(0x5c)
	if p.inner == nil || p.outer == nil {
		return p
	}
	p.sha, p.set, p.get = sha, set, get
	for _, out := range []*[sha256.BlockSize]byte{&p.out, &p.out2} {
		out[sha256.Size] = 0x80
		binary.BigEndian.PutUint64(out[sha256.BlockSize-8:], 8*(sha256.BlockSize+sha256.Size))
	}
	for i := range p.innerH {
		p.innerH[i] = binary.BigEndian.Uint32(p.inner[4+4*i:])
		p.outerH[i] = binary.BigEndian.Uint32(p.outer[4+4*i:])
	}
	// The paths read the state where the marshalled form has it: were that
	// form to change in a Go release, crypto/hmac would still be right.
	const probe = "491700000000"
	want := string(p.hashBytes(probe)) // crypto/hmac: sha is not set yet
	if p.sha = sha; string(p.hashBytes(probe)) != want {
		p.sha = nil
	}
	if p.ni = haveSHANI; p.ni && string(p.hashBytes(probe)) != want {
		p.ni = false
	}
	if p.pair = p.ni; p.pair {
		// The pair path, each number in either place (another number of
		// another length beside it).
		const other = "4930123456"
		wantOther := string(p.hashBytes(other))
		var a, b [2 * pseudoBytes]byte
		p.hash2(a[:], b[:], probe, other)
		ok := string(a[:]) == want && string(b[:]) == wantOther
		p.hash2(a[:], b[:], other, probe)
		p.pair = ok && string(a[:]) == wantOther && string(b[:]) == want
	}
	return p
}

// hash returns the hex hash of number.
func (p *pseudonymizer) hash(number string) string { return string(p.hashBytes(number)) }

// hashBytes returns the hex hash of number in a buffer of p that is only
// valid until the next call.
func (p *pseudonymizer) hashBytes(number string) []byte {
	if (p.sha == nil && !p.ni) || len(number) > maxPaddedLen {
		p.mac.Reset()
		io.WriteString(p.mac, number)
		p.sum = p.mac.Sum(p.sum[:0])
		hex.Encode(p.hex[:], p.sum[:pseudoBytes])
		return p.hex[:]
	}
	padBlock(&p.in, number)
	if p.ni {
		h := p.innerH
		sha256BlocksNI(&h, p.in[:])
		putWords(&p.out, &h)
		h = p.outerH
		sha256BlocksNI(&h, p.out[:])
		hexWords(p.hex[:], &h)
		return p.hex[:]
	}
	copy(p.out[:sha256.Size], p.block(p.inner, &p.in))
	hex.Encode(p.hex[:], p.block(p.outer, &p.out)[:pseudoBytes])
	return p.hex[:]
}

// hash2 writes the hex hashes of a and b to da and db (2·pseudoBytes
// bytes each): where the pair path is on, the two numbers' blocks go
// through sha256Block2NI together, whose interleaved rounds take less time
// than the two numbers' one after the other (see pseudonymizer).
func (p *pseudonymizer) hash2(da, db []byte, a, b string) {
	if !p.pair || len(a) > maxPaddedLen || len(b) > maxPaddedLen {
		copy(da, p.hashBytes(a))
		copy(db, p.hashBytes(b))
		return
	}
	padBlock(&p.in, a)
	padBlock(&p.in2, b)
	ha, hb := p.innerH, p.innerH
	sha256Block2NI(&ha, &hb, &p.in, &p.in2)
	putWords(&p.out, &ha)
	putWords(&p.out2, &hb)
	ha, hb = p.outerH, p.outerH
	sha256Block2NI(&ha, &hb, &p.out, &p.out2)
	hexWords(da, &ha)
	hexWords(db, &hb)
}

// padBlock makes b the inner block of a number of at most maxPaddedLen
// bytes: the number, 0x80, zeros, and the bit length of the key block and
// the number.
func padBlock(b *[sha256.BlockSize]byte, number string) {
	n := copy(b[:], number)
	b[n] = 0x80
	clear(b[n+1 : sha256.BlockSize-8])
	binary.BigEndian.PutUint64(b[sha256.BlockSize-8:], 8*uint64(sha256.BlockSize+n))
}

// putWords writes the hash h, big-endian, at the start of the outer block
// b (its padding after the hash is constant).
func putWords(b *[sha256.BlockSize]byte, h *[8]uint32) {
	for i, w := range h {
		binary.BigEndian.PutUint32(b[4*i:], w)
	}
}

// hexWords writes the first pseudoBytes of the hash h in hex to dst.
func hexWords(dst []byte, h *[8]uint32) {
	var sum [pseudoBytes]byte
	for i := range pseudoBytes / 4 {
		binary.BigEndian.PutUint32(sum[4*i:], h[i])
	}
	hex.Encode(dst, sum[:])
}

// block returns the SHA-256 state after the padded block b from the
// marshalled state st: the hash, when b is the message's last.
func (p *pseudonymizer) block(st []byte, b *[sha256.BlockSize]byte) []byte {
	// A marshalled state is a 4-byte magic and the 8 words of the state,
	// big-endian (crypto/internal/fips140/sha256's MarshalBinary, a stable
	// format: states marshalled by one Go release load in another).
	if err := p.set.UnmarshalBinary(st); err != nil {
		panic("lake: pseudonymizer: " + err.Error()) // a state it marshalled itself
	}
	p.sha.Write(b[:])
	st, _ = p.get.AppendBinary(p.state[:0]) // 108 bytes: no allocation
	return st[4 : 4+sha256.Size]
}

var paymentMethods = []string{"direct_debit", "card", "bank_transfer", "cash", "prepaid"}
