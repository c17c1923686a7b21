package lake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
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
// through get) into its pending row and returns the row's partition key
// (0 for unpartitioned tables); on a bad value it returns the index of the
// column at fault and the reason. appendTo appends the pending row; key
// is its natural key (see keySpecs).
type rowParser interface {
	parse(get func(col int) string) (part int64, col int, err error)
	key() (day int64, id string)
	appendTo(rb *array.RecordBuilder)
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

// pseudonymizer replaces a phone number by a keyed hash: contacts can be
// counted and matched, never read back.
// pseudonymizer turns a phone number into its keyed hash: the first 16
// bytes of HMAC-SHA256 under the lake's pseudonym key, in hex, computed
// without allocating. (A cache of recent numbers does not pay: on the
// generator's month of 3.4M CDR rows, 2.2M other parties of 0.52M distinct
// numbers, a direct-mapped cache of 64k numbers hit 27% of them and cost
// more in cache misses than the hashes it saved.)
type pseudonymizer struct {
	mac hash.Hash
	in  []byte
	sum []byte
	hex [2 * pseudoBytes]byte
}

// pseudoBytes is how many bytes of the HMAC are kept.
const pseudoBytes = 16

func newPseudonymizer(key []byte) *pseudonymizer {
	return &pseudonymizer{mac: hmac.New(sha256.New, key)}
}

// hash returns the hex hash of number.
func (p *pseudonymizer) hash(number string) string { return string(p.hashBytes(number)) }

// hashBytes returns the hex hash of number in a buffer of p that is only
// valid until the next call.
func (p *pseudonymizer) hashBytes(number string) []byte {
	p.mac.Reset()
	p.in = append(p.in[:0], number...)
	p.mac.Write(p.in)
	p.sum = p.mac.Sum(p.sum[:0])
	hex.Encode(p.hex[:], p.sum[:pseudoBytes])
	return p.hex[:]
}

var paymentMethods = []string{"direct_debit", "card", "bank_transfer", "cash", "prepaid"}
