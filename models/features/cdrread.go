package features

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"

	"github.com/telcolake/telcolake/lake"
)

// The month's CDR rows are read straight from the Parquet column chunks of
// crm.cdr's data files (readCDRFile), not through iceberg-go's Arrow scan:
// each value is turned into what the aggregation needs as it is decoded
// (the subscriber's index, a 32-bit hash of the other party, small codes
// for call type, direction, network and regions), so nothing is
// materialised as Arrow strings. In the Arrow scan those strings, their
// buffers and the collector's work on them were most of a bucket's CPU and
// its peak memory. A data file this reader cannot take as it is (delete
// files, a column of another type, a file without field ids) goes through
// the Arrow scan, its batches coded the same way (addBatch, errNotPlain).

// cdrFileWhole is the largest data file read whole by one read (as
// lake.Scan does, for S3: one GET instead of one per column chunk).
const cdrFileWhole = 4 << 20

// errNotPlain is a data file the direct reader does not take.
var errNotPlain = errors.New("features: not a plain crm.cdr data file")

// The field ids of crm.cdr's columns (lake/schema_cdr.go: fixed ids).
const (
	fidSubscriber = 2
	fidParty      = 4
	fidNetwork    = 5
	fidStart      = 6
	fidDuration   = 7
	fidCallType   = 8
	fidDirection  = 9
	fidRoaming    = 10
	fidIntl       = 11
	fidRegion     = 13
	fidDataKB     = 14
	fidCharge     = 15
	fidOtherArea  = 18
)

// Codes of the string columns the aggregation tests.
const (
	netOther uint8 = iota
	netOffnet
	netCare
	netInternational
)

const (
	typeData uint8 = iota // anything but voice and SMS counts as data
	typeVoice
	typeSMS
)

// cdrRows is one row group of CDR, decoded, one entry per row.
type cdrRows struct {
	sub                []int32 // index of the subscriber; -1: not one of ours
	party              []uint32
	hasParty           []bool
	net, kind          []uint8
	out, roam, intl    []bool
	region, area       []int32 // codes of regions (regionCodes); 0: none
	start, dataKB, chg []int64
	dur                []int32
}

func (r *cdrRows) resize(n int) {
	grow := func(s *[]int32) { *s = resizeTo(*s, n) }
	grow(&r.sub)
	grow(&r.region)
	grow(&r.area)
	grow(&r.dur)
	r.party = resizeTo(r.party, n)
	r.hasParty = resizeTo(r.hasParty, n)
	r.net, r.kind = resizeTo(r.net, n), resizeTo(r.kind, n)
	r.out, r.roam, r.intl = resizeTo(r.out, n), resizeTo(r.roam, n), resizeTo(r.intl, n)
	r.start, r.dataKB, r.chg = resizeTo(r.start, n), resizeTo(r.dataKB, n), resizeTo(r.chg, n)
}

func resizeTo[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// regionCodes interns region names: the same name, the same code, so that
// the other party's area is compared with the caller's region as a number.
// Code 0 is the empty name (and null).
type regionCodes map[string]int32

func (rc regionCodes) code(b []byte) int32 {
	if len(b) == 0 {
		return 0
	}
	if c, ok := rc[string(b)]; ok {
		return c
	}
	c := int32(len(rc) + 1)
	rc[string(b)] = c
	return c
}

func (rc regionCodes) clone() regionCodes {
	out := make(regionCodes, len(rc))
	for k, v := range rc {
		out[k] = v
	}
	return out
}

// networkCode is the code of an other_network value.
func networkCode(v string) uint8 {
	switch v {
	case "offnet":
		return netOffnet
	case "care":
		return netCare
	case "international":
		return netInternational
	}
	return netOther
}

// callTypeCode is the code of a call_type value.
func callTypeCode(v string) uint8 {
	switch v {
	case "voice":
		return typeVoice
	case "sms":
		return typeSMS
	}
	return typeData
}

// cdrReader is one worker's reader: its buffers and region codes.
type cdrReader struct {
	acc     *usageAcc
	regions regionCodes
	home    []int32 // code of each subscriber's home region
	to      int64   // month end (exclusive), µs
	rows    cdrRows
	defs    []int16
	bytesV  []parquet.ByteArray
	flbaV   []parquet.FixedLenByteArray
	i32     []int32
	i64     []int64
	boolV   []bool
	whole   []byte
	n       int64 // rows of the month read
}

// cdrColumn is where a column is in a file and how to read it.
type cdrColumn struct {
	index int // leaf column; -1: not in the file (null)
	descr *schema.Column
}

// fileColumns finds crm.cdr's columns in a file's schema by field id and
// checks that each has the physical type this reader decodes.
func fileColumns(sc *schema.Schema) (map[int]cdrColumn, error) {
	cols := map[int]cdrColumn{}
	for i := range sc.NumColumns() {
		c := sc.Column(i)
		if c.MaxRepetitionLevel() > 0 || len(c.ColumnPath()) != 1 {
			continue
		}
		cols[int(c.SchemaNode().FieldID())] = cdrColumn{index: i, descr: c}
	}
	want := map[int]parquet.Type{
		fidSubscriber: parquet.Types.ByteArray, fidParty: parquet.Types.ByteArray,
		fidNetwork: parquet.Types.ByteArray, fidStart: parquet.Types.Int64, fidDuration: parquet.Types.Int32,
		fidCallType: parquet.Types.ByteArray, fidDirection: parquet.Types.ByteArray,
		fidRoaming: parquet.Types.Boolean, fidIntl: parquet.Types.Boolean, fidRegion: parquet.Types.ByteArray,
		fidDataKB: parquet.Types.Int64, fidOtherArea: parquet.Types.ByteArray,
	}
	for id, t := range want {
		c, ok := cols[id]
		switch {
		case !ok && id == fidOtherArea:
			cols[id] = cdrColumn{index: -1} // written before the column existed: null
		case !ok:
			return nil, fmt.Errorf("%w: no column with field id %d", errNotPlain, id)
		case c.descr.PhysicalType() != t:
			return nil, fmt.Errorf("%w: column %s is %s", errNotPlain, c.descr.Name(), c.descr.PhysicalType())
		}
	}
	if c, ok := cols[fidStart]; ok {
		if ts, isTS := c.descr.LogicalType().(schema.TimestampLogicalType); !isTS || ts.TimeUnit() != schema.TimeUnitMicros {
			if c.descr.ConvertedType() != schema.ConvertedTypes.TimestampMicros {
				return nil, fmt.Errorf("%w: start_time is not in microseconds", errNotPlain)
			}
		}
	}
	c, ok := cols[fidCharge]
	if !ok {
		return nil, fmt.Errorf("%w: no charge column", errNotPlain)
	}
	dec, isDec := c.descr.LogicalType().(schema.DecimalLogicalType)
	if !isDec || dec.Scale() != 4 {
		return nil, fmt.Errorf("%w: charge is not a decimal of scale 4", errNotPlain)
	}
	switch c.descr.PhysicalType() {
	case parquet.Types.Int32, parquet.Types.Int64, parquet.Types.FixedLenByteArray, parquet.Types.ByteArray:
	default:
		return nil, fmt.Errorf("%w: charge is %s", errNotPlain, c.descr.PhysicalType())
	}
	return cols, nil
}

// readCDRFile adds the rows of one data file (a planned task without
// delete files) whose start_time is in the month to the worker's totals.
func (r *cdrReader) readCDRFile(ctx context.Context, fsys iceio.IO, task table.FileScanTask) error {
	if len(task.DeleteFiles)+len(task.EqualityDeleteFiles)+len(task.DeletionVectorFiles) > 0 {
		return errNotPlain
	}
	path := task.File.FilePath()
	f, err := fsys.Open(path)
	if err != nil {
		return fmt.Errorf("features: open %s: %w", path, err)
	}
	defer f.Close()
	var src parquet.ReaderAtSeeker = f
	if size := task.File.FileSizeBytes(); size > 0 && size <= cdrFileWhole {
		r.whole = resizeTo(r.whole, int(size))
		if _, err := io.ReadFull(f, r.whole); err != nil {
			return fmt.Errorf("features: read %s: %w", path, err)
		}
		src = bytes.NewReader(r.whole)
	}
	pf, err := file.NewParquetReader(src)
	if err != nil {
		return fmt.Errorf("features: open %s: %w", path, err)
	}
	cols, err := fileColumns(pf.MetaData().Schema)
	if err != nil {
		return err
	}
	for g := range pf.NumRowGroups() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rg := pf.RowGroup(g)
		if err := r.decode(rg, cols); err != nil {
			return fmt.Errorf("features: %s row group %d: %w", path, g, err)
		}
		r.aggregate(int(rg.NumRows()))
	}
	return nil
}

// decode reads every column the aggregation needs of one row group into
// r.rows.
func (r *cdrReader) decode(rg *file.RowGroupReader, cols map[int]cdrColumn) error {
	n := int(rg.NumRows())
	rows := &r.rows
	rows.resize(n)
	a := r.acc
	str := func(id int, set func(i int, b []byte, ok bool)) error {
		c := cols[id]
		if c.index < 0 {
			for i := range n {
				set(i, nil, false)
			}
			return nil
		}
		return r.byteArrays(rg, c, n, set)
	}
	err := errors.Join(
		str(fidSubscriber, func(i int, b []byte, _ bool) {
			if si, ok := a.index[string(b)]; ok {
				rows.sub[i] = si
			} else {
				rows.sub[i] = -1
			}
		}),
		str(fidParty, func(i int, b []byte, ok bool) {
			rows.hasParty[i] = ok
			if ok {
				rows.party[i] = uint32(maphash.Bytes(a.seed, b))
			}
		}),
		str(fidNetwork, func(i int, b []byte, _ bool) { rows.net[i] = networkCode(string(b)) }),
		str(fidCallType, func(i int, b []byte, _ bool) { rows.kind[i] = callTypeCode(string(b)) }),
		str(fidDirection, func(i int, b []byte, _ bool) { rows.out[i] = string(b) == "out" }),
		str(fidRegion, func(i int, b []byte, _ bool) { rows.region[i] = r.regions.code(b) }),
		str(fidOtherArea, func(i int, b []byte, _ bool) { rows.area[i] = r.regions.code(b) }),
		column[int64, *file.Int64ColumnChunkReader](r, rg, cols[fidStart], &r.i64, rows.start),
		column[int32, *file.Int32ColumnChunkReader](r, rg, cols[fidDuration], &r.i32, rows.dur),
		column[int64, *file.Int64ColumnChunkReader](r, rg, cols[fidDataKB], &r.i64, rows.dataKB),
		column[bool, *file.BooleanColumnChunkReader](r, rg, cols[fidRoaming], &r.boolV, rows.roam),
		column[bool, *file.BooleanColumnChunkReader](r, rg, cols[fidIntl], &r.boolV, rows.intl),
		r.decimals(rg, cols[fidCharge], rows.chg),
	)
	return err
}

const readBatch = 4096

// levels is the definition levels buffer for a batch of column c (nil for
// a required column: no levels).
func (r *cdrReader) levels(c cdrColumn) []int16 {
	if c.descr.MaxDefinitionLevel() == 0 {
		return nil
	}
	r.defs = resizeTo(r.defs, readBatch)
	return r.defs
}

// spread places the packed values of a batch (the non-null ones, first
// read of them) at their rows: dst[k] for each level k, zero where null.
func spread[T any](dst, vals []T, defs []int16, maxDef int16, total int64) {
	j := 0
	var zero T
	for k := range int(total) {
		if defs[k] == maxDef {
			dst[k] = vals[j]
			j++
		} else {
			dst[k] = zero
		}
	}
}

func (r *cdrReader) byteArrays(rg *file.RowGroupReader, c cdrColumn, n int, set func(i int, b []byte, ok bool)) error {
	cr, err := rg.Column(c.index)
	if err != nil {
		return err
	}
	defer cr.Close()
	br, ok := cr.(*file.ByteArrayColumnChunkReader)
	if !ok {
		return fmt.Errorf("column %s: not a byte array reader", c.descr.Name())
	}
	defs := r.levels(c)
	r.bytesV = resizeTo(r.bytesV, readBatch)
	// In one page: the values point into its buffer and are used at once.
	return eachValue(c, n, defs, func(want int64) (int64, []parquet.ByteArray, error) {
		total, _, err := br.ReadBatchInPage(want, r.bytesV, defs, nil)
		return total, r.bytesV, err
	}, func(i int, v parquet.ByteArray, ok bool) error {
		set(i, v, ok)
		return nil
	})
}

// fixed reads a column of fixed-width values into dst (zero where null).
func fixed[T any, R interface {
	ReadBatch(int64, []T, []int16, []int16) (int64, int, error)
}](cr R, c cdrColumn, defs []int16, buf []T, dst []T) error {
	maxDef := c.descr.MaxDefinitionLevel()
	row, n := 0, len(dst)
	for row < n {
		want := int64(min(readBatch, n-row))
		var total int64
		var err error
		if defs == nil {
			total, _, err = cr.ReadBatch(want, dst[row:row+int(want)], nil, nil)
		} else {
			total, _, err = cr.ReadBatch(want, buf, defs, nil)
			if err == nil {
				spread(dst[row:], buf, defs, maxDef, total)
			}
		}
		if err != nil {
			return fmt.Errorf("column %s: %w", c.descr.Name(), err)
		}
		if total == 0 {
			return fmt.Errorf("column %s: %d of %d rows", c.descr.Name(), row, n)
		}
		row += int(total)
	}
	return nil
}

// column reads column c of a row group, whose chunk reader must be an R,
// into dst (zero where null), through the batch buffer *buf.
func column[T any, R interface {
	ReadBatch(int64, []T, []int16, []int16) (int64, int, error)
}](r *cdrReader, rg *file.RowGroupReader, c cdrColumn, buf *[]T, dst []T) error {
	cr, err := rg.Column(c.index)
	if err != nil {
		return err
	}
	defer cr.Close()
	tr, ok := cr.(R)
	if !ok {
		return fmt.Errorf("column %s: a %T, not the reader of its type", c.descr.Name(), cr)
	}
	*buf = resizeTo(*buf, readBatch)
	return fixed(tr, c, r.levels(c), *buf, dst)
}

// decimals reads a decimal column as its unscaled integers (zero where
// null), whichever physical type holds them.
func (r *cdrReader) decimals(rg *file.RowGroupReader, c cdrColumn, dst []int64) error {
	cr, err := rg.Column(c.index)
	if err != nil {
		return err
	}
	defer cr.Close()
	defs := r.levels(c)
	switch cr := cr.(type) {
	case *file.Int64ColumnChunkReader:
		r.i64 = resizeTo(r.i64, readBatch)
		return fixed(cr, c, defs, r.i64, dst)
	case *file.Int32ColumnChunkReader:
		r.i32 = resizeTo(r.i32, readBatch)
		v := make([]int32, len(dst))
		if err := fixed(cr, c, defs, r.i32, v); err != nil {
			return err
		}
		for i, x := range v {
			dst[i] = int64(x)
		}
		return nil
	case *file.FixedLenByteArrayColumnChunkReader:
		r.flbaV = resizeTo(r.flbaV, readBatch)
		return readBig(c, len(dst), func(want int64) (int64, []parquet.FixedLenByteArray, error) {
			total, _, err := cr.ReadBatchInPage(want, r.flbaV, defs, nil)
			return total, r.flbaV, err
		}, defs, dst)
	case *file.ByteArrayColumnChunkReader:
		r.bytesV = resizeTo(r.bytesV, readBatch)
		return readBig(c, len(dst), func(want int64) (int64, []parquet.ByteArray, error) {
			total, _, err := cr.ReadBatchInPage(want, r.bytesV, defs, nil)
			return total, r.bytesV, err
		}, defs, dst)
	}
	return fmt.Errorf("column %s: no decimal reader for %s", c.descr.Name(), c.descr.PhysicalType())
}

// eachValue reads a column of n rows in batches (read returns a batch's
// level count and its packed non-null values, defs their definition
// levels, nil for a required column) and hands each row to set: its value,
// or ok false where null.
func eachValue[V any](c cdrColumn, n int, defs []int16, read func(want int64) (int64, []V, error), set func(i int, v V, ok bool) error) error {
	maxDef := c.descr.MaxDefinitionLevel()
	var zero V
	row := 0
	for row < n {
		total, vals, err := read(int64(min(readBatch, n-row)))
		if err != nil {
			return fmt.Errorf("column %s: %w", c.descr.Name(), err)
		}
		if total == 0 {
			return fmt.Errorf("column %s: %d of %d rows", c.descr.Name(), row, n)
		}
		j := 0
		for k := range int(total) {
			ok := defs == nil || defs[k] == maxDef
			v := zero
			if ok {
				v = vals[j]
				j++
			}
			if err := set(row+k, v, ok); err != nil {
				return fmt.Errorf("column %s: %w", c.descr.Name(), err)
			}
		}
		row += int(total)
	}
	return nil
}

// readBig decodes big-endian two's complement decimals (at most 8 bytes
// of value: decimal(14,4) takes 6) into dst, zero where null.
func readBig[B ~[]byte](c cdrColumn, n int, read func(int64) (int64, []B, error), defs []int16, dst []int64) error {
	return eachValue(c, n, defs, read, func(i int, v B, ok bool) error {
		dst[i] = 0
		if !ok {
			return nil
		}
		x, err := bigEndian(v)
		dst[i] = x
		return err
	})
}

func bigEndian(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if len(b) > 8 {
		// Wider than 8 bytes: only a sign extension may fill the rest.
		pad := byte(0)
		if b[0]&0x80 != 0 {
			pad = 0xff
		}
		for _, x := range b[:len(b)-8] {
			if x != pad {
				return 0, errors.New("decimal does not fit 64 bits")
			}
		}
		b = b[len(b)-8:]
	}
	var buf [8]byte
	if b[0]&0x80 != 0 {
		buf = [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	}
	copy(buf[8-len(b):], b)
	return int64(binary.BigEndian.Uint64(buf[:])), nil
}

// aggregate adds the decoded rows of the month to the totals (readCDRFile's
// and addBatch's alike).
func (r *cdrReader) aggregate(n int) {
	a, rows := r.acc, &r.rows
	for i := range n {
		us := rows.start[i]
		if us < a.from || us >= r.to {
			continue
		}
		r.n++
		si := rows.sub[i]
		if si < 0 {
			continue
		}
		u := &a.u[si]
		sec := us / 1e6
		day := sec / 86400
		u.days |= 1 << uint((us-a.from)/86400e6)
		c := rows.chg[i]
		u.charge += c
		net := rows.net[i]
		switch rows.kind[i] {
		case typeVoice:
			u.voiceCalls++
			u.voiceSecs += int64(rows.dur[i])
			roam, intl := rows.roam[i], rows.intl[i]
			if roam {
				u.roaming++
			}
			if intl {
				u.intl++
			}
			// 1970-01-01 was a Thursday: (day+3)%7 is 0 on Mondays.
			wd := (day + 3) % 7
			hour := (sec / 3600) % 24
			switch {
			case wd >= 5:
				u.weekend++
			case hour >= 8 && hour < 20:
				u.peak++
			}
			dayType := 0
			if wd >= 5 {
				dayType = 1
			}
			a.cube.add(si, int(hour), dayType, callKindCode(roam, intl, net, rows.area[i], rows.region[i], r.home[si]),
				int64(rows.dur[i]))
			if rows.out[i] {
				u.outVoice++
				if net == netOffnet {
					u.offnetOut++
				}
			}
			if c >= HighValueCharge {
				u.highValue++
			}
			if net == netCare {
				u.care++
				continue // the care line is not a contact
			}
		case typeSMS:
			u.sms++
		default:
			u.dataKB += rows.dataKB[i]
			continue
		}
		if !rows.hasParty[i] {
			continue
		}
		a.parties[si] = append(a.parties[si], rows.party[i])
	}
}

// callKindCode classifies a voice call: roaming first (the subscriber is
// abroad), then international (a foreign number), then by the other
// party's area against the caller's (the CDR's serving region, else the
// subscriber's home region), areas and regions as regionCodes (0: none). A
// domestic call without the other party's area is unknown_area: feeds
// without other_area are never taken as local.
func callKindCode(roaming, intl bool, net uint8, otherArea, cellRegion, home int32) int {
	switch {
	case roaming:
		return kindRoaming
	case intl || net == netInternational:
		return kindInternational
	case otherArea == 0:
		return kindUnknownArea
	}
	own := cellRegion
	if own == 0 {
		own = home
	}
	if own == 0 {
		return kindUnknownArea
	}
	if otherArea == own {
		return kindLocal
	}
	return kindLongDistance
}

// addBatch takes a batch of iceberg-go's Arrow scan (the data files the
// direct reader does not take) into the reader's rows, coded as decode
// codes them, and aggregates them as readCDRFile does.
func (r *cdrReader) addBatch(b *lake.Batch) error {
	ids, party, network := b.String("subscriber_id"), b.String("other_party_hash"), b.String("other_network")
	kind, dir, start := b.String("call_type"), b.String("direction"), b.Time("start_time")
	dur, roam, intl, dataKB := b.Int32("duration_s"), b.Bool("roaming"), b.Bool("international"), b.Int64("data_kb")
	charge, cellRegion := b.Money("charge", 4), b.String("region")
	// other_area is null in rows written before the column existed.
	area := b.String("other_area")
	if err := b.Err(); err != nil {
		return fmt.Errorf("features: %w", err)
	}
	n := b.Len()
	rows, a := &r.rows, r.acc
	rows.resize(n)
	str := func(c lake.Strings, i int) []byte {
		if c.IsNull(i) {
			return nil
		}
		return []byte(c.Value(i))
	}
	for i := range n {
		rows.sub[i] = -1
		if si, ok := a.index[ids.Value(i)]; ok {
			rows.sub[i] = si
		}
		rows.hasParty[i] = !party.IsNull(i)
		rows.party[i] = 0
		if rows.hasParty[i] {
			rows.party[i] = uint32(maphash.String(a.seed, party.Value(i)))
		}
		rows.net[i], rows.kind[i] = networkCode(network.Value(i)), callTypeCode(kind.Value(i))
		rows.out[i] = dir.Value(i) == "out"
		rows.region[i], rows.area[i] = r.regions.code(str(cellRegion, i)), r.regions.code(str(area, i))
		rows.start[i], rows.dur[i], rows.dataKB[i] = start.Micros(i), dur.Value(i), dataKB.Value(i)
		rows.roam[i], rows.intl[i] = roam.Value(i), intl.Value(i)
		rows.chg[i] = 0
		if !charge.IsNull(i) {
			rows.chg[i] = charge.Value(i)
		}
	}
	r.aggregate(n)
	return nil
}
