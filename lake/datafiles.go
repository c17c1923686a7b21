package lake

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	pqschema "github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// partWriter writes batches whose rows all fall in one partition (the
// parser's PartBatch) straight into Parquet data files of a table: one
// pqarrow writer per open file and iceberg-go's DataFileFromMetadata for
// the file's statistics, so the files, their column statistics, field ids
// and partition values are those iceberg-go's writer gives (see
// TestPartWriterMatchesWriteRecords), without its fan-out, which computes
// every row's partition again and opens a new file whenever batches of a
// partition arrive apart.
//
// The Parquet properties are the table's, read as iceberg-go's writer reads
// them (compression, level, page size and row limit, dictionary page size,
// per-column dictionary switches, cost-based dictionary fallback).
type partWriter struct {
	tbl      *table.Table
	fs       iceio.WriteFileIO
	sc       *arrow.Schema
	props    *parquet.WriterProperties
	arrProps pqarrow.ArrowWriterProperties
	loc      table.LocationProvider
	// fields are the partition spec's fields, bound to columns of sc.
	fields  []boundPartField
	writeID string
	count   *atomic.Int64
	// targetBytes is the size past which a file is closed and the
	// partition continues in a new one.
	targetBytes int64
	// dictCols are the columns written as dictionary indices (see
	// dictColumns), dictOf a column's position in dictCols (-1: none);
	// fileSchema the Arrow schema the files' Parquet schema pqSchema (and
	// their key-value metadata kv) comes from; groupRows is the most rows
	// of a row group.
	dictCols   []int
	dictOf     []int
	fileSchema *arrow.Schema
	pqSchema   *pqschema.Schema
	kv         metadata.KeyValueMetadata
	groupRows  int64
}

type boundPartField struct {
	fieldID int
	col     int
	apply   func(any) any
}

// Parquet writer settings iceberg-go uses when the table does not set them.
const (
	defaultPageBytes     = 1 << 20
	defaultPageRows      = 20000
	defaultDictPageBytes = 2 << 20
	defaultTargetBytes   = 512 << 20
)

// newPartWriter prepares writing batches of schema sc into data files of tbl.
func newPartWriter(ctx context.Context, tbl *table.Table, sc *arrow.Schema) (*partWriter, error) {
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil, fmt.Errorf("open file system of %s: %w", tbl.Location(), err)
	}
	wfs, ok := fsys.(iceio.WriteFileIO)
	if !ok {
		return nil, fmt.Errorf("file system of %s is read-only", tbl.Location())
	}
	loc, err := tbl.LocationProvider()
	if err != nil {
		return nil, fmt.Errorf("location provider of %s: %w", tbl.Location(), err)
	}
	props := tbl.Properties()
	wp, err := writerProperties(props, sc)
	if err != nil {
		return nil, err
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	w := &partWriter{
		tbl: tbl, fs: wfs, sc: sc, props: wp, loc: loc,
		// No ARROW:schema in the files: it would name the dictionary
		// types, which readers would then return; without it a reader
		// derives the plain types from the Parquet schema, as for files
		// Spark or Trino write.
		arrProps:    pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(ingestAlloc)),
		writeID:     hex.EncodeToString(id[:]),
		count:       new(atomic.Int64),
		targetBytes: int64(props.GetInt("write.target-file-size-bytes", defaultTargetBytes)),
	}
	w.dictCols, w.fileSchema = dictColumns(sc, wp)
	w.dictOf = make([]int, sc.NumFields())
	for i := range w.dictOf {
		w.dictOf[i] = -1
	}
	for k, c := range w.dictCols {
		w.dictOf[c] = k
	}
	if w.pqSchema, err = pqarrow.ToParquet(w.fileSchema, wp, w.arrProps); err != nil {
		return nil, fmt.Errorf("parquet schema of %s: %w", tbl.Location(), err)
	}
	if w.pqSchema.NumColumns() != sc.NumFields() {
		return nil, fmt.Errorf("parquet schema of %s has %d leaf columns for %d fields: the ingest writer writes flat schemas only", tbl.Location(), w.pqSchema.NumColumns(), sc.NumFields())
	}
	md := w.fileSchema.Metadata()
	for i, k := range md.Keys() {
		w.kv.Append(k, md.Values()[i])
	}
	w.groupRows = wp.MaxRowGroupLength()
	schema := tbl.Schema()
	spec := tbl.Spec()
	for _, f := range spec.Fields() {
		src, ok := schema.FindFieldByID(f.SourceID())
		if !ok {
			return nil, fmt.Errorf("partition field %s: source column %d not in the schema of %s", f.Name, f.SourceID(), tbl.Location())
		}
		cols := sc.FieldIndices(src.Name)
		if len(cols) != 1 {
			return nil, fmt.Errorf("partition field %s: column %s not in the rows written", f.Name, src.Name)
		}
		apply, err := bindTransform(f.Transform, src.Type)
		if err != nil {
			return nil, fmt.Errorf("partition field %s: %w", f.Name, err)
		}
		w.fields = append(w.fields, boundPartField{fieldID: f.FieldID, col: cols[0], apply: apply})
	}
	return w, nil
}

// writerProperties are the Parquet writer properties iceberg-go derives
// from a table's properties.
func writerProperties(props iceberg.Properties, sc *arrow.Schema) (*parquet.WriterProperties, error) {
	var codec compress.Compression
	switch c := props.Get("write.parquet.compression-codec", "zstd"); c {
	case "zstd":
		codec = compress.Codecs.Zstd
	case "snappy":
		codec = compress.Codecs.Snappy
	case "gzip":
		codec = compress.Codecs.Gzip
	case "uncompressed":
		codec = compress.Codecs.Uncompressed
	default:
		return nil, fmt.Errorf("table compression codec %q is not one the ingest writer supports", c)
	}
	version := parquet.DataPageV2
	if props.Get("write.parquet.page-version", "2") == "1" {
		version = parquet.DataPageV1
	}
	wp := []parquet.WriterProperty{
		parquet.WithAllocator(ingestAlloc),
		parquet.WithMaxRowGroupLength(int64(props.GetInt("write.parquet.row-group-limit", rowGroupRows))),
		parquet.WithDataPageSize(int64(props.GetInt("write.parquet.page-size-bytes", defaultPageBytes))),
		parquet.WithDataPageVersion(version),
		parquet.WithBatchSize(int64(props.GetInt("write.parquet.page-row-limit", defaultPageRows))),
		parquet.WithDictionaryPageSizeLimit(int64(props.GetInt("write.parquet.dict-size-bytes", defaultDictPageBytes))),
		parquet.WithCompression(codec),
		parquet.WithCompressionLevel(props.GetInt("write.parquet.compression-level", compress.DefaultCompressionLevel)),
		parquet.WithDictionaryDefault(!strings.EqualFold(props.Get("parquet.enable.dictionary", "true"), "false")),
	}
	const dictPrefix = "write.parquet.dict-encoding-enabled.column."
	for k, v := range props {
		if col, ok := strings.CutPrefix(k, dictPrefix); ok && col != "" {
			wp = append(wp, parquet.WithDictionaryFor(col, strings.EqualFold(v, "true")))
		}
	}
	for _, f := range sc.Fields() {
		if _, nested := f.Type.(arrow.NestedType); nested {
			return nil, fmt.Errorf("column %s: the ingest writer writes flat schemas only", f.Name)
		}
		// parquet-mr's cost-based fallback to PLAIN, as iceberg-go sets it.
		wp = append(wp, parquet.WithDictionaryCostFallbackFor(f.Name, true))
	}
	for k, v := range props {
		col, ok := strings.CutPrefix(k, encodingPrefix)
		if !ok || col == "" {
			continue
		}
		enc, ok := columnEncodings[v]
		if !ok {
			return nil, fmt.Errorf("table property %s: encoding %q is not one the ingest writer supports (%s)", k, v, strings.Join(slices.Sorted(maps.Keys(columnEncodings)), ", "))
		}
		wp = append(wp, parquet.WithEncodingFor(col, enc))
	}
	if codec == compress.Codecs.Zstd {
		level := props.GetInt("write.parquet.compression-level", compress.DefaultCompressionLevel)
		for k, v := range props {
			if col, ok := strings.CutPrefix(k, zstdHexPrefix); ok && col != "" && strings.EqualFold(v, "true") {
				wp = append(wp, parquet.WithCompressionLevelFor(col, hexLevel(level)))
			}
			if col, ok := strings.CutPrefix(k, zstdFixedPrefix); ok && col != "" && strings.EqualFold(v, "true") {
				if c, ok := fixedCodecOf(sc, col); ok {
					wp = append(wp, parquet.WithCompressionLevelFor(col, codecLevel(c, level)))
				}
			}
		}
	}
	const bloomPrefix = "write.parquet.bloom-filter-enabled.column."
	for k, v := range props {
		if col, ok := strings.CutPrefix(k, bloomPrefix); ok && col != "" {
			wp = append(wp, parquet.WithBloomFilterEnabledFor(col, strings.EqualFold(v, "true")))
		}
	}
	return parquet.NewWriterProperties(wp...), nil
}

// encodingPrefix names a column's Parquet encoding in a table's
// properties (telcolake's own: Iceberg has no such property).
const encodingPrefix = "telcolake.write.parquet.encoding.column."

// columnEncodings are the encodings a table may ask for a column that
// is not dictionary encoded.
var columnEncodings = map[string]parquet.Encoding{
	"PLAIN":                   parquet.Encodings.Plain,
	"DELTA_BINARY_PACKED":     parquet.Encodings.DeltaBinaryPacked,
	"DELTA_LENGTH_BYTE_ARRAY": parquet.Encodings.DeltaLengthByteArray,
	"DELTA_BYTE_ARRAY":        parquet.Encodings.DeltaByteArray,
	"BYTE_STREAM_SPLIT":       parquet.Encodings.ByteStreamSplit,
}

// partFile is one open data file of a partition.
type partFile struct {
	path  string
	out   iceio.FileWriter
	buf   *bufio.Writer // out's buffer (see fileBufferSize)
	count *countingWriter
	// pw writes the file, rgw its open row group (nil before the first).
	pw     *file.Writer
	rgw    file.BufferedRowGroupWriter
	wctx   context.Context // pqarrow's write context for the plain columns
	defs   []int16         // definition levels of a nullable column, reused
	ones   []int16         // all 1: the levels of a column without nulls
	values map[int]any
	rows   int64
	// dicts are the dictionaries of the dictionary columns over the file
	// so far, dictArrays their values as given to the encoders last (of
	// the columns' physical types); groupRows
	// counts the rows of the open row group.
	dicts      []columnDict
	dictArrays []arrow.Array
	groupRows  int64
}

// fileBufferSize is the write buffer of an open data file. The Parquet
// writer hands its sink each page header, page and footer apart: the
// 9.5M-row CDR file's 736 data files took 23,756 write calls of 11 KB on
// average, 0.9 s of CPU in the profile; buffered, the ingest took 0.2 to
// 0.3 s less (median of 4 interleaved pairs).
const fileBufferSize = 64 << 10

type countingWriter struct {
	w interface{ Write([]byte) (int, error) }
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// partitionValues computes the partition of row i of rec, by field id.
func (w *partWriter) partitionValues(rec arrow.RecordBatch, i int) (map[int]any, error) {
	vals := make(map[int]any, len(w.fields))
	for _, f := range w.fields {
		v, err := arrowValue(rec.Column(f.col), i)
		if err != nil {
			return nil, fmt.Errorf("partition source %s: %w", w.sc.Field(f.col).Name, err)
		}
		if v != nil {
			v = f.apply(v)
		}
		vals[f.fieldID] = v
	}
	return vals, nil
}

// bindTransform returns tr over values of type src, giving the Go types
// iceberg-go's partitioned writer records (iceberg.Date for days, int32
// for buckets, months, years and hours).
func bindTransform(tr iceberg.Transform, src iceberg.Type) (func(any) any, error) {
	opt := func(t func(any) iceberg.Optional[int32], day bool) func(any) any {
		return func(v any) any {
			o := t(v)
			switch {
			case !o.Valid:
				return nil
			case day:
				return iceberg.Date(o.Val)
			}
			return o.Val
		}
	}
	switch t := tr.(type) {
	case iceberg.IdentityTransform:
		return func(v any) any { return v }, nil
	case iceberg.BucketTransform:
		if t.CanTransform(src) {
			return opt(t.Transformer(src), false), nil
		}
	case iceberg.TimeTransform:
		f, err := t.Transformer(src)
		if err != nil {
			return nil, err
		}
		_, day := tr.(iceberg.DayTransform)
		return opt(f, day), nil
	}
	return nil, fmt.Errorf("partition transform %s over %s is not supported by the ingest writer", tr, src)
}

// arrowValue is the Go value iceberg's transforms take for row i of col.
func arrowValue(col arrow.Array, i int) (any, error) {
	if col.IsNull(i) {
		return nil, nil
	}
	switch a := col.(type) {
	case *array.String:
		return a.Value(i), nil
	case *array.Timestamp:
		if a.DataType().(*arrow.TimestampType).Unit != arrow.Microsecond {
			return nil, fmt.Errorf("timestamp unit %s, want microseconds", a.DataType().(*arrow.TimestampType).Unit)
		}
		return iceberg.Timestamp(a.Value(i)), nil
	case *array.Date32:
		return iceberg.Date(a.Value(i)), nil
	case *array.Int32:
		return a.Value(i), nil
	case *array.Int64:
		return a.Value(i), nil
	}
	return nil, fmt.Errorf("type %s is not supported as a partition source", col.DataType())
}

func samePartition(a, b map[int]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// open starts a new data file of the partition with values vals.
func (w *partWriter) open(vals map[int]any) (*partFile, error) {
	name := fmt.Sprintf("%05d-%s.parquet", w.count.Add(1), w.writeID)
	path := name
	if len(w.fields) > 0 {
		rec := make(partRecord, len(w.fields))
		for i, f := range w.fields {
			rec[i] = vals[f.fieldID]
		}
		spec := w.tbl.Spec()
		path = spec.PartitionToPath(rec, w.tbl.Schema()) + "/" + name
	}
	path = w.loc.NewDataLocation(path)
	out, err := w.fs.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create data file %s: %w", path, err)
	}
	buf := bufio.NewWriterSize(out, fileBufferSize)
	cw := &countingWriter{w: buf}
	pw, err := file.NewParquetWriterWithError(cw, w.pqSchema.Root(), file.WithWriterProps(w.props), file.WithWriteMetadata(w.kv))
	if err != nil {
		out.Close()
		_ = w.fs.Remove(path)
		return nil, fmt.Errorf("start data file %s: %w", path, err)
	}
	return &partFile{path: path, out: out, buf: buf, count: cw, pw: pw, wctx: pqarrow.NewArrowWriteContext(context.Background(), &w.arrProps), values: vals,
		dicts: make([]columnDict, len(w.dictCols)), dictArrays: make([]arrow.Array, len(w.dictCols))}, nil
}

// write encodes rec into the file, column by column: the plain columns
// through pqarrow's column encoding, the dictionary columns as indices
// into the file's dictionary (see dictColumns). A column's dictionary is
// the file's so far, and a row group's encoder takes one dictionary, so a
// batch with a value new to the file starts a new row group (as does one
// past the row group's most rows), whose dictionary then holds every
// value of the file so far. The statistics of a row group's dictionary
// column are those of the values its indices refer to, so they are exact.
//
// Not pqarrow's FileWriter.WriteBuffered: given dictionary arrays, it
// finds the values a batch refers to with a hash kernel over its indices
// for every batch that starts a row group (1.3 s of the 9.5M-row
// ingest's 26.5 s CPU) where the dictionary here knows them.
func (w *partWriter) write(f *partFile, rec arrow.RecordBatch) error {
	n := rec.NumRows()
	if n > w.groupRows {
		for off := int64(0); off < n; off += w.groupRows {
			part := rec.NewSlice(off, min(off+w.groupRows, n))
			err := w.write(f, part)
			part.Release()
			if err != nil {
				return err
			}
		}
		return nil
	}
	grown := false
	idx := make([]arrow.Array, len(w.dictCols))
	defer func() {
		for _, a := range idx {
			if a != nil {
				a.Release()
			}
		}
	}()
	for k, c := range w.dictCols {
		before := f.dicts[k].len()
		idx[k] = f.dicts[k].indices(rec.Column(c))
		if f.dicts[k].len() != before || f.dictArrays[k] == nil {
			grown = true
			if f.dictArrays[k] != nil {
				f.dictArrays[k].Release()
			}
			f.dictArrays[k] = f.dicts[k].values(w.sc.Field(c).Type)
		}
	}
	if f.rgw == nil || grown || f.groupRows+n > w.groupRows {
		if f.rgw != nil {
			if err := f.rgw.Close(); err != nil {
				return fmt.Errorf("write data file %s: %w", f.path, err)
			}
		}
		rgw, err := f.pw.AppendBufferedRowGroupChecked()
		if err != nil {
			return fmt.Errorf("write data file %s: %w", f.path, err)
		}
		f.rgw, f.groupRows = rgw, 0
	}
	for c := range int(rec.NumCols()) {
		cw, err := f.rgw.Column(c)
		if err != nil {
			return fmt.Errorf("write data file %s: %w", f.path, err)
		}
		col := rec.Column(c)
		nullable := w.sc.Field(c).Nullable
		var defs []int16
		if nullable {
			defs = f.defLevels(col)
		}
		if k := w.dictOf[c]; k >= 0 {
			err = w.writeIndices(f, cw, k, col, idx[k], defs)
		} else {
			err = pqarrow.WriteArrowToColumn(f.wctx, cw, col, defs, nil, nullable)
		}
		if err != nil {
			return fmt.Errorf("write column %s of data file %s: %w", w.sc.Field(c).Name, f.path, err)
		}
	}
	f.rows += n
	f.groupRows += n
	return nil
}

// dictEncoder is what the Parquet writer's dictionary encoders offer for
// writing indices into a dictionary given whole.
type dictEncoder interface {
	NormalizeDict(arrow.Array) (arrow.Array, error)
	PutDictionary(arrow.Array) error
	NumEntries() int
	PreservedDictionary() arrow.Array
}

// writeIndices writes dictionary column k of a batch (values col, their
// indices idx into f.dictArrays[k]) into its column writer: the
// dictionary goes to the encoder with the row group's first batch, the
// statistics get the values the indices refer to. When the writer no
// longer dictionary-encodes the column (its dictionary outgrew the
// dictionary page limit), the values are written plain.
func (w *partWriter) writeIndices(f *partFile, cw file.ColumnChunkWriter, k int, col, idx arrow.Array, defs []int16) error {
	enc, ok := cw.CurrentEncoder().(dictEncoder)
	nullable := defs != nil
	if !ok || cw.CurrentEncoder().Encoding() != parquet.Encodings.PlainDict {
		return pqarrow.WriteArrowToColumn(f.wctx, cw, col, defs, nil, nullable)
	}
	if enc.PreservedDictionary() == nil {
		dict, err := enc.NormalizeDict(f.dictArrays[k])
		if err != nil {
			return err
		}
		defer dict.Release()
		if err := enc.PutDictionary(dict); err != nil {
			return err
		}
		if enc.NumEntries() != dict.Len() {
			// The dictionary was not taken whole (it cannot have
			// duplicates, but the writer checks as pqarrow does).
			cw.FallbackToPlain()
			return pqarrow.WriteArrowToColumn(f.wctx, cw, col, defs, nil, nullable)
		}
	}
	if st := cw.PageStatistics(); st != nil {
		used := f.dicts[k].usedValues(w.sc.Field(w.dictCols[k]).Type)
		nonNull := int64(col.Len() - col.NullN())
		st.IncNulls(int64(col.NullN()))
		st.IncNumValues(nonNull)
		err := st.UpdateFromArrow(used, false)
		used.Release()
		if err != nil {
			return err
		}
	}
	return cw.WriteDictIndices(idx, defs, nil)
}

// defLevels are the definition levels of a flat nullable column: 1 for a
// value, 0 for a null. A column without nulls gets the file's slice of
// ones, filled once (the writer reads the levels, never writes them).
func (f *partFile) defLevels(col arrow.Array) []int16 {
	n := col.Len()
	if col.NullN() == 0 {
		if len(f.ones) < n {
			f.ones = make([]int16, n)
			for i := range f.ones {
				f.ones[i] = 1
			}
		}
		return f.ones[:n]
	}
	if cap(f.defs) < n {
		f.defs = make([]int16, n)
	}
	d := f.defs[:n]
	for i := range d {
		d[i] = 1
		if col.IsNull(i) {
			d[i] = 0
		}
	}
	return d
}

// openGroupBytes is the compressed size of the open row group so far.
func (f *partFile) openGroupBytes() int64 {
	if f.rgw == nil {
		return 0
	}
	return f.rgw.TotalCompressedBytes()
}

// release drops the file's dictionaries.
func (f *partFile) release() {
	for _, a := range f.dictArrays {
		if a != nil {
			a.Release()
		}
	}
	f.dictArrays = nil
}

// close finishes the file and returns its data file entry.
func (w *partWriter) close(f *partFile) (iceberg.DataFile, error) {
	f.release()
	if err := f.pw.Close(); err != nil { // closes the open row group
		f.out.Close()
		return nil, fmt.Errorf("finish data file %s: %w", f.path, err)
	}
	if err := f.buf.Flush(); err != nil {
		f.out.Close()
		return nil, fmt.Errorf("write data file %s: %w", f.path, err)
	}
	if err := f.out.Close(); err != nil {
		return nil, fmt.Errorf("close data file %s: %w", f.path, err)
	}
	meta, err := f.pw.FileMetadata()
	if err != nil {
		return nil, fmt.Errorf("metadata of data file %s: %w", f.path, err)
	}
	df, err := table.DataFileFromMetadata(table.DataFileArgs{
		Schema: w.tbl.Schema(), Spec: w.tbl.Spec(), Format: iceberg.ParquetFile, Metadata: meta,
		FilePath: f.path, FileSize: f.count.n, Content: iceberg.EntryContentData,
		PartitionValues: f.values, Properties: w.tbl.Properties(), FormatVersion: w.tbl.Metadata().Version(),
	})
	if err != nil {
		return nil, fmt.Errorf("data file entry of %s: %w", f.path, err)
	}
	return df, nil
}

// abort closes the file without an entry and removes it.
func (w *partWriter) abort(f *partFile) {
	f.release()
	_ = f.pw.Close()
	_ = f.out.Close()
	_ = w.fs.Remove(f.path)
}

// partRecord is a partition tuple for PartitionSpec.PartitionToPath.
type partRecord []any

func (r partRecord) Size() int        { return len(r) }
func (r partRecord) Get(i int) any    { return r[i] }
func (r partRecord) Set(i int, v any) { r[i] = v }

// maxOpenGroups is how many partition groups (a day of crm.cdr's
// SubscriberBuckets partitions) a stream of partWriter keeps files open
// for, which bounds the writer's memory (each open file buffers its row
// group). One is enough for time-sorted input: the parser emits the
// partition idle for BatchRows rows first (see victim), so a day's last batches
// leave before any batch of a later day, and each partition gets one file
// (736 for the 736 partitions of the 9.5M-row benchmark file; iceberg-go's
// fan-out writer, a pass per group, with the parser emitting the fullest
// partition first, made 1,142). With two, peak RSS went 447-502 -> 539 MiB.
const maxOpenGroups = 1

// writeStream writes batches, each within one partition, into one data
// file per partition (a new one past the table's target file size),
// keeping the files of the last maxOpenGroups partition groups open: a
// group's files are finished when a batch of another group would make one
// too many. It returns the files written; when it fails, the files it had
// not finished are removed and the finished ones returned for the caller
// to remove. A FileError from the batches ends it and is returned as it is.
func (w *partWriter) writeStream(ctx context.Context, batches func(yield func(PartBatch, error) bool)) ([]iceberg.DataFile, error) {
	open := map[int64]*partFile{}
	groups := map[int64]int{} // open group → when it was last written
	var files []iceberg.DataFile
	fail := func(err error) ([]iceberg.DataFile, error) {
		for _, f := range open {
			w.abort(f)
		}
		return files, err
	}
	finish := func(keep func(part int64) bool) error {
		var errs []error
		for _, part := range slices.Sorted(maps.Keys(open)) {
			if keep(part) {
				continue
			}
			f := open[part]
			delete(open, part)
			df, err := w.close(f)
			if err != nil {
				_ = w.fs.Remove(f.path)
				errs = append(errs, err)
				continue
			}
			files = append(files, df)
		}
		return errors.Join(errs...)
	}
	seq := 0
	for b, err := range batches {
		if err != nil {
			return fail(err)
		}
		if err := ctx.Err(); err != nil {
			b.Rec.Release()
			return fail(err)
		}
		g := partGroup(b.Part)
		if _, ok := groups[g]; !ok && len(groups) >= maxOpenGroups {
			oldest, at := int64(0), -1
			for og, t := range groups {
				if at < 0 || t < at {
					oldest, at = og, t
				}
			}
			delete(groups, oldest)
			if err := finish(func(part int64) bool { return partGroup(part) != oldest }); err != nil {
				b.Rec.Release()
				return fail(err)
			}
		}
		seq++
		groups[g] = seq
		if err := w.writeBatch(open, &files, b); err != nil {
			return fail(err)
		}
	}
	if err := finish(func(int64) bool { return false }); err != nil {
		return fail(err)
	}
	return files, nil
}
func (w *partWriter) writeBatch(open map[int64]*partFile, files *[]iceberg.DataFile, b PartBatch) error {
	defer b.Rec.Release()
	n := int(b.Rec.NumRows())
	if n == 0 {
		return nil
	}
	f := open[b.Part]
	var vals map[int]any
	if len(w.fields) > 0 {
		var err error
		if vals, err = w.partitionValues(b.Rec, 0); err != nil {
			return err
		}
		last, err := w.partitionValues(b.Rec, n-1)
		if err != nil {
			return err
		}
		if !samePartition(vals, last) || (f != nil && !samePartition(vals, f.values)) {
			return fmt.Errorf("lake: internal error: a batch of partition key %d spans partitions %v and %v", b.Part, vals, last)
		}
	}
	if f != nil && f.count.n+f.openGroupBytes() >= w.targetBytes {
		delete(open, b.Part)
		df, err := w.close(f)
		if err != nil {
			_ = w.fs.Remove(f.path)
			return err
		}
		*files = append(*files, df)
		f = nil
	}
	if f == nil {
		var err error
		if f, err = w.open(vals); err != nil {
			return err
		}
		open[b.Part] = f
	}
	return w.write(f, b.Rec)
}
