//go:build !purego

#include "textflag.h"

// func hpassAVX2(out *int16, n int, row *byte, starts *int32, weights *int16, chunks int)
//
// For x < n: out[x] = (Σ over chunks c, lanes i<16 of row[starts[x]+16c+i] ·
// weights[(x·chunks+c)·16+i] + 128) >> 8 (arithmetic). n ≥ 1, chunks ≥ 1.
TEXT ·hpassAVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ n+8(FP), CX
	MOVQ row+16(FP), SI
	MOVQ starts+24(FP), R8
	MOVQ weights+32(FP), R9
	MOVQ chunks+40(FP), R10

output:
	MOVLQSX (R8), AX
	LEAQ (SI)(AX*1), R11
	VPXOR Y2, Y2, Y2
	MOVQ R10, R12

chunk:
	VPMOVZXBW (R11), Y0
	VPMADDWD (R9), Y0, Y1
	VPADDD Y1, Y2, Y2
	ADDQ $16, R11
	ADDQ $32, R9
	DECQ R12
	JNZ chunk

	VEXTRACTI128 $1, Y2, X3
	VPADDD X3, X2, X2
	VPSHUFD $0x4E, X2, X3
	VPADDD X3, X2, X2
	VPSHUFD $0xB1, X2, X3
	VPADDD X3, X2, X2
	VMOVD X2, AX
	ADDL $128, AX
	SARL $8, AX
	MOVW AX, (DI)
	ADDQ $2, DI
	ADDQ $4, R8
	DECQ CX
	JNZ output

	VZEROUPPER
	RET

// func vpassAVX2(out *uint8, n int, rows *int16, stride int, pairs *int32, taps int)
//
// For x < n (a multiple of 16): out[x] = clamp((2^19 + Σ_t rows[t·stride+x]·w_t) >> 20),
// w_t the low (even t) or high (odd t) half of pairs[t/2]. taps ≥ 1.
TEXT ·vpassAVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ n+8(FP), CX
	MOVQ rows+16(FP), SI
	MOVQ stride+24(FP), R8
	SHLQ $1, R8                  // stride in bytes
	MOVQ pairs+32(FP), R9
	MOVQ taps+40(FP), R10
	MOVL $0x80000, AX            // 1 << 19: rounding
	MOVL AX, X7
	VPBROADCASTD X7, Y7
	XORQ BX, BX                  // x

group:
	VMOVDQA Y7, Y5               // acc, columns 0-3 and 8-11 of the group
	VMOVDQA Y7, Y6               // acc, columns 4-7 and 12-15
	LEAQ (SI)(BX*2), R11         // &rows[x]
	MOVQ R9, R12
	MOVQ R10, R13

pair:
	CMPQ R13, $2
	JLT last
	VMOVDQU (R11), Y0
	VMOVDQU (R11)(R8*1), Y1
	VPUNPCKLWD Y1, Y0, Y2
	VPUNPCKHWD Y1, Y0, Y3
	VPBROADCASTD (R12), Y4
	VPMADDWD Y4, Y2, Y2
	VPMADDWD Y4, Y3, Y3
	VPADDD Y2, Y5, Y5
	VPADDD Y3, Y6, Y6
	LEAQ (R11)(R8*2), R11
	ADDQ $4, R12
	SUBQ $2, R13
	JMP pair

last:
	TESTQ R13, R13
	JZ store
	VMOVDQU (R11), Y0
	VPXOR Y1, Y1, Y1
	VPUNPCKLWD Y1, Y0, Y2
	VPUNPCKHWD Y1, Y0, Y3
	VPBROADCASTD (R12), Y4
	VPMADDWD Y4, Y2, Y2
	VPMADDWD Y4, Y3, Y3
	VPADDD Y2, Y5, Y5
	VPADDD Y3, Y6, Y6

store:
	VPSRAD $20, Y5, Y5
	VPSRAD $20, Y6, Y6
	VPACKSSDW Y6, Y5, Y5         // columns 0-15 in order, int16
	VPACKUSWB Y5, Y5, Y5         // bytes: 0-7, 0-7 | 8-15, 8-15
	VPERMQ $0x08, Y5, Y5
	VMOVDQU X5, (DI)(BX*1)
	ADDQ $16, BX
	CMPQ BX, CX
	JLT group

	VZEROUPPER
	RET
