//go:build !purego

#include "textflag.h"

// func lineCutsAVX2(p *byte, blocks int, tail uint32, offs *int32, limit int) (n int, special, high uint32)
//
// Over blocks 32-byte blocks from p: offs gets the offsets of the first
// limit commas, n their count; special is the OR of the blocks' masks of
// a NUL, a CR or a quote, high that of their bytes at or above 0x80. The
// last block's masks are ANDed with tail. blocks is at least 1. Only
// VEX-encoded vector instructions: a legacy SSE one (MOVQ to an X
// register) after AVX code made the routine forty times slower.
TEXT ·lineCutsAVX2(SB), NOSPLIT, $0-56
	MOVQ p+0(FP), SI
	MOVQ blocks+8(FP), CX
	MOVL tail+16(FP), R8
	MOVQ offs+24(FP), DI
	MOVQ limit+32(FP), R13
	MOVQ $0x2c, AX
	VMOVQ AX, X1
	VPBROADCASTB X1, Y1 // ','
	MOVQ $0x22, AX
	VMOVQ AX, X2
	VPBROADCASTB X2, Y2 // '"'
	MOVQ $0x0d, AX
	VMOVQ AX, X3
	VPBROADCASTB X3, Y3 // '\r'
	VPXOR Y4, Y4, Y4    // NUL
	XORL R9, R9         // special
	XORL R10, R10       // high
	XORQ R11, R11       // the block's offset
	XORQ R12, R12       // n

loop:
	VMOVDQU (SI), Y0
	VPCMPEQB Y1, Y0, Y5
	VPMOVMSKB Y5, AX
	VPCMPEQB Y2, Y0, Y6
	VPCMPEQB Y3, Y0, Y7
	VPOR Y6, Y7, Y6
	VPCMPEQB Y4, Y0, Y7
	VPOR Y6, Y7, Y6
	VPMOVMSKB Y6, BX
	VPMOVMSKB Y0, DX
	CMPQ CX, $1
	JNE acc
	ANDL R8, AX
	ANDL R8, BX
	ANDL R8, DX

acc:
	ORL BX, R9
	ORL DX, R10

cut:
	TESTL AX, AX
	JZ next
	CMPQ R12, R13
	JGE next
	BSFL AX, BX
	ADDL R11, BX
	MOVL BX, (DI)(R12*4)
	INCQ R12
	LEAL -1(AX), DX
	ANDL DX, AX
	JMP cut

next:
	ADDQ $32, SI
	ADDQ $32, R11
	DECQ CX
	JNZ loop

	VZEROUPPER
	MOVQ R12, n+40(FP)
	MOVL R9, special+48(FP)
	MOVL R10, high+52(FP)
	RET
