//go:build !amd64 || purego

package lake

// haveAVX2 is false off amd64: lines are split eight bytes at a time
// (see fieldSplitter.splitPlain).
const haveAVX2 = false

func lineCutsAVX2(p *byte, blocks int, tail uint32, offs *int32, limit int) (n int, special, high uint32) {
	panic("lake: lineCutsAVX2 without AVX2")
}
