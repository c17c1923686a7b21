//go:build !purego

package lake

import "github.com/klauspost/cpuid/v2"

// lineCutsAVX2 finds the commas of blocks 32-byte blocks from p: the
// offsets of the first limit of them go to offs (which has room for
// limit), n is their count. It tells, as masks of their OR, the blocks'
// NULs, CRs and quotes (special) and bytes at or above 0x80 (high). The
// last block's masks are ANDed with tail, which cuts off the bytes past a
// line's end. blocks is at least 1; p has blocks*32 readable bytes.
//
//go:noescape
func lineCutsAVX2(p *byte, blocks int, tail uint32, offs *int32, limit int) (n int, special, high uint32)

// haveAVX2 tells that this CPU runs lineCutsAVX2.
var haveAVX2 = cpuid.CPU.Supports(cpuid.AVX2)
