package lake

import (
	"sync"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// The Parquet writer compresses one page at a time (1 MiB at most, the
// tables' page size), but arrow-go's zstd codec pools encoders with the
// library's default 8 MiB window, whose history buffers take 16 MiB per
// encoder in use. pageZstd is that codec with a window of a page: the
// same compression for pages that fit it, and 2 MiB an encoder. Its frames
// carry no content checksum: it is optional in the zstd format (every
// decoder reads frames without it), and its xxhash of every page was
// 1.2% of the 9.5M-row ingest's CPU. Decoding and streaming are arrow-go's.
type pageZstd struct {
	fullCodec
	pools sync.Map // zstd.EncoderLevel → *sync.Pool of *zstd.Encoder
}

// fullCodec is what arrow-go's zstd codec implements.
type fullCodec interface {
	compress.ErrorCodec
	compress.StreamingCodec
}

// zstdWindow is the encoders' window: the tables' page size.
const zstdWindow = 1 << 20

func init() {
	base, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		panic("lake: arrow-go has no zstd codec: " + err.Error())
	}
	full, ok := base.(fullCodec)
	if !ok {
		panic("lake: arrow-go's zstd codec does not decode with errors or stream")
	}
	compress.RegisterCodec(compress.Codecs.Zstd, &pageZstd{fullCodec: full})
}

func (z *pageZstd) Encode(dst, src []byte) []byte {
	return z.EncodeLevel(dst, src, compress.DefaultCompressionLevel)
}

func (z *pageZstd) EncodeLevel(dst, src []byte, level int) []byte {
	if c, base := splitLevel(level); c != 0 {
		var out []byte
		ok := false
		switch {
		case c == hexCodec:
			out, ok = hexFrame(dst[:0], src)
		case c == fixedCodec:
			out, ok = fixedFrame(dst[:0], src, 0)
		case c > strideCodecs:
			out, ok = fixedFrame(dst[:0], src, int(c-strideCodecs))
		}
		if ok {
			return out
		}
		level = base
	}
	l := zstd.SpeedDefault
	if level != compress.DefaultCompressionLevel {
		l = zstd.EncoderLevelFromZstd(level)
	}
	p, _ := z.pools.LoadOrStore(l, &sync.Pool{New: func() any {
		enc, err := zstd.NewWriter(nil, zstd.WithZeroFrames(true), zstd.WithEncoderLevel(l), zstd.WithEncoderConcurrency(1),
			zstd.WithAllLitEntropyCompression(true), zstd.WithWindowSize(zstdWindow), zstd.WithEncoderCRC(false))
		if err != nil {
			panic("lake: zstd encoder: " + err.Error()) // the options are constant
		}
		return enc
	}})
	pool := p.(*sync.Pool)
	enc := pool.Get().(*zstd.Encoder)
	defer pool.Put(enc)
	return enc.EncodeAll(src, dst[:0])
}

// pageCodec is a coder of pages of pageZstd's own that writes zstd
// frames without zstd's search for matches, for a column whose pages
// have a known shape (hexFrame, fixedFrame); 0 is zstd's.
type pageCodec int

// codecLevel is the compression level that asks pageZstd for codec c,
// falling back to level (the table's) for a page not of c's shape:
// parquet.WithCompressionLevelFor of a column a table property names.
// Far outside zstd's levels and arrow-go's default (-1).
func codecLevel(c pageCodec, level int) int { return codecLevels + int(c)*codecStride + level }

// splitLevel is the codec and the table's level of a level codecLevel
// made; codec 0 and level itself for any other.
func splitLevel(level int) (pageCodec, int) {
	d := level - codecLevels
	c := (d + codecStride/2) / codecStride
	base := d - c*codecStride
	if c < 1 || c > int(lastCodec) || base < -codecStride/4 || base > codecStride/4 {
		return 0, level
	}
	return pageCodec(c), base
}

const (
	codecLevels = -1 << 30
	codecStride = 1 << 20
)
