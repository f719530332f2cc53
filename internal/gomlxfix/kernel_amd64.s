//go:build !purego

#include "textflag.h"

// float32 matrix tiles with AVX2 + FMA; tilesGo (gemm.go) is the same computation in Go, and
// TestTilesAsmMatchesGo compares the two. Registers while a tile runs:
//   SI, R8   A rows 0 and 3 of the strip (rows 1, 2, 4, 5 by R9 = sam·4 scaled 1 and 2);
//            both advance by R10 = sak·4 bytes a step of k
//   DX       packed B: 16 floats a step of k, panel after panel
//   DI       C tile; R11 = ldc·4
//   Y0-Y11   the 6×16 (or 4×16) accumulators, two per row; Y12, Y13 the B row; Y14, Y15 broadcasts
//   AX, BX   strips and panels left; R12, R13 the strip's first A row and C row; CX k steps left

// STEP6 adds A[0..5][k] · B[k][0..15] to the six rows' accumulators and moves to k+1.
#define STEP6 \
	VMOVUPS      (DX), Y12 \
	VMOVUPS      32(DX), Y13 \
	VBROADCASTSS (SI), Y14 \
	VFMADD231PS  Y12, Y14, Y0 \
	VFMADD231PS  Y13, Y14, Y1 \
	VBROADCASTSS (SI)(R9*1), Y15 \
	VFMADD231PS  Y12, Y15, Y2 \
	VFMADD231PS  Y13, Y15, Y3 \
	VBROADCASTSS (SI)(R9*2), Y14 \
	VFMADD231PS  Y12, Y14, Y4 \
	VFMADD231PS  Y13, Y14, Y5 \
	VBROADCASTSS (R8), Y15 \
	VFMADD231PS  Y12, Y15, Y6 \
	VFMADD231PS  Y13, Y15, Y7 \
	VBROADCASTSS (R8)(R9*1), Y14 \
	VFMADD231PS  Y12, Y14, Y8 \
	VFMADD231PS  Y13, Y14, Y9 \
	VBROADCASTSS (R8)(R9*2), Y15 \
	VFMADD231PS  Y12, Y15, Y10 \
	VFMADD231PS  Y13, Y15, Y11 \
	ADDQ         R10, SI \
	ADDQ         R10, R8 \
	ADDQ         $64, DX

// STEP4 is STEP6 for four rows (Y0-Y7).
#define STEP4 \
	VMOVUPS      (DX), Y12 \
	VMOVUPS      32(DX), Y13 \
	VBROADCASTSS (SI), Y14 \
	VFMADD231PS  Y12, Y14, Y0 \
	VFMADD231PS  Y13, Y14, Y1 \
	VBROADCASTSS (SI)(R9*1), Y15 \
	VFMADD231PS  Y12, Y15, Y2 \
	VFMADD231PS  Y13, Y15, Y3 \
	VBROADCASTSS (SI)(R9*2), Y14 \
	VFMADD231PS  Y12, Y14, Y4 \
	VFMADD231PS  Y13, Y14, Y5 \
	VBROADCASTSS (R8), Y15 \
	VFMADD231PS  Y12, Y15, Y6 \
	VFMADD231PS  Y13, Y15, Y7 \
	ADDQ         R10, SI \
	ADDQ         R10, R8 \
	ADDQ         $64, DX

// ADDROW adds C's row at ADDR (16 floats; ADDR32 is ADDR+32) to ACC0, ACC1; STOREROW stores them there.
#define ADDROW(ADDR, ADDR32, ACC0, ACC1) \
	VADDPS ADDR, ACC0, ACC0 \
	VADDPS ADDR32, ACC1, ACC1

#define STOREROW(ADDR, ADDR32, ACC0, ACC1) \
	VMOVUPS ACC0, ADDR \
	VMOVUPS ACC1, ADDR32

// func sgemmTilesAVX2(mr, strips, panels, k int, a *float32, sam, sak int, b, c *float32, ldc, acc int)
//
// For each of strips strips of mr (6 or 4) rows and each of panels panels of 16 columns:
// C[i][j] = (acc ? C[i][j] : 0) + Σ_k A[i][k]·Bp[j/16][k][j%16], A[i][k] at a[i·sam + k·sak],
// C[i][j] at c[i·ldc + j], panel p at b[p·k·16].
TEXT ·sgemmTilesAVX2(SB), NOSPLIT, $0-88
	MOVQ  sam+40(FP), R9
	SHLQ  $2, R9
	MOVQ  sak+48(FP), R10
	SHLQ  $2, R10
	MOVQ  ldc+72(FP), R11
	SHLQ  $2, R11
	MOVQ  a+32(FP), R12
	MOVQ  c+64(FP), R13
	MOVQ  strips+8(FP), AX
	TESTQ AX, AX
	JZ    done

strip:
	MOVQ  b+56(FP), DX
	MOVQ  R13, DI
	MOVQ  panels+16(FP), BX
	TESTQ BX, BX
	JZ    nextstrip

panel:
	MOVQ   R12, SI
	LEAQ   (SI)(R9*2), R8
	ADDQ   R9, R8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ   k+24(FP), CX
	CMPQ   mr+0(FP), $4
	JEQ    four

	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	SHRQ   $1, CX
	JZ     six1

six2:
	STEP6
	STEP6
	DECQ CX
	JNZ  six2

six1:
	MOVQ k+24(FP), CX
	ANDQ $1, CX
	JZ   store6
	STEP6

store6:
	LEAQ (DI)(R11*2), R8
	ADDQ R11, R8
	CMPQ acc+80(FP), $0
	JEQ  put6
	ADDROW((DI), 32(DI), Y0, Y1)
	ADDROW((DI)(R11*1), 32(DI)(R11*1), Y2, Y3)
	ADDROW((DI)(R11*2), 32(DI)(R11*2), Y4, Y5)
	ADDROW((R8), 32(R8), Y6, Y7)
	ADDROW((R8)(R11*1), 32(R8)(R11*1), Y8, Y9)
	ADDROW((R8)(R11*2), 32(R8)(R11*2), Y10, Y11)

put6:
	STOREROW((DI), 32(DI), Y0, Y1)
	STOREROW((DI)(R11*1), 32(DI)(R11*1), Y2, Y3)
	STOREROW((DI)(R11*2), 32(DI)(R11*2), Y4, Y5)
	STOREROW((R8), 32(R8), Y6, Y7)
	STOREROW((R8)(R11*1), 32(R8)(R11*1), Y8, Y9)
	STOREROW((R8)(R11*2), 32(R8)(R11*2), Y10, Y11)
	JMP  nextpanel

four:
	SHRQ $1, CX
	JZ   four1

four2:
	STEP4
	STEP4
	DECQ CX
	JNZ  four2

four1:
	MOVQ k+24(FP), CX
	ANDQ $1, CX
	JZ   store4
	STEP4

store4:
	LEAQ (DI)(R11*2), R8
	ADDQ R11, R8
	CMPQ acc+80(FP), $0
	JEQ  put4
	ADDROW((DI), 32(DI), Y0, Y1)
	ADDROW((DI)(R11*1), 32(DI)(R11*1), Y2, Y3)
	ADDROW((DI)(R11*2), 32(DI)(R11*2), Y4, Y5)
	ADDROW((R8), 32(R8), Y6, Y7)

put4:
	STOREROW((DI), 32(DI), Y0, Y1)
	STOREROW((DI)(R11*1), 32(DI)(R11*1), Y2, Y3)
	STOREROW((DI)(R11*2), 32(DI)(R11*2), Y4, Y5)
	STOREROW((R8), 32(R8), Y6, Y7)

nextpanel:
	ADDQ $64, DI
	DECQ BX
	JNZ  panel

nextstrip:
	MOVQ  mr+0(FP), CX
	IMULQ R9, CX
	ADDQ  CX, R12
	MOVQ  mr+0(FP), CX
	IMULQ R11, CX
	ADDQ  CX, R13
	DECQ  AX
	JNZ   strip

done:
	VZEROUPPER
	RET

// func fmaPeakAVX2(n int)
//
// n rounds of 12 independent 8-wide FMAs (192 FLOP a round): the core's FMA throughput, which
// BenchmarkFMAPeak reports as the ceiling the tiles are measured against. n ≥ 1.
TEXT ·fmaPeakAVX2(SB), NOSPLIT, $0-8
	MOVQ   n+0(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13

peak:
	VFMADD231PS Y12, Y13, Y0
	VFMADD231PS Y12, Y13, Y1
	VFMADD231PS Y12, Y13, Y2
	VFMADD231PS Y12, Y13, Y3
	VFMADD231PS Y12, Y13, Y4
	VFMADD231PS Y12, Y13, Y5
	VFMADD231PS Y12, Y13, Y6
	VFMADD231PS Y12, Y13, Y7
	VFMADD231PS Y12, Y13, Y8
	VFMADD231PS Y12, Y13, Y9
	VFMADD231PS Y12, Y13, Y10
	VFMADD231PS Y12, Y13, Y11
	DECQ        CX
	JNZ         peak
	VZEROUPPER
	RET

// The same tiles with AVX-512: a row of a panel (16 floats) is one Z register. Six (or four)
// accumulators would leave the FMA units waiting on their 4-cycle latency, so even and odd steps
// of k add into two sets (Z0-Z5, Z6-Z11), summed at the end; the A element is broadcast by the
// FMA's memory operand. Same arguments and registers otherwise.

// ZSTEP6 adds the steps k (B row at 0(DX), set Z0-Z5) and k+1 (64(DX), Z6-Z11).
#define ZSTEP6 \
	VMOVUPS          (DX), Z12 \
	VFMADD231PS.BCST (SI), Z12, Z0 \
	VFMADD231PS.BCST (SI)(R9*1), Z12, Z1 \
	VFMADD231PS.BCST (SI)(R9*2), Z12, Z2 \
	VFMADD231PS.BCST (R8), Z12, Z3 \
	VFMADD231PS.BCST (R8)(R9*1), Z12, Z4 \
	VFMADD231PS.BCST (R8)(R9*2), Z12, Z5 \
	ADDQ             R10, SI \
	ADDQ             R10, R8 \
	VMOVUPS          64(DX), Z13 \
	VFMADD231PS.BCST (SI), Z13, Z6 \
	VFMADD231PS.BCST (SI)(R9*1), Z13, Z7 \
	VFMADD231PS.BCST (SI)(R9*2), Z13, Z8 \
	VFMADD231PS.BCST (R8), Z13, Z9 \
	VFMADD231PS.BCST (R8)(R9*1), Z13, Z10 \
	VFMADD231PS.BCST (R8)(R9*2), Z13, Z11 \
	ADDQ             R10, SI \
	ADDQ             R10, R8 \
	ADDQ             $128, DX

// ZLAST6 is the last step of an odd k (set Z0-Z5).
#define ZLAST6 \
	VMOVUPS          (DX), Z12 \
	VFMADD231PS.BCST (SI), Z12, Z0 \
	VFMADD231PS.BCST (SI)(R9*1), Z12, Z1 \
	VFMADD231PS.BCST (SI)(R9*2), Z12, Z2 \
	VFMADD231PS.BCST (R8), Z12, Z3 \
	VFMADD231PS.BCST (R8)(R9*1), Z12, Z4 \
	VFMADD231PS.BCST (R8)(R9*2), Z12, Z5 \
	ADDQ             R10, SI \
	ADDQ             R10, R8 \
	ADDQ             $64, DX

#define ZSTEP4 \
	VMOVUPS          (DX), Z12 \
	VFMADD231PS.BCST (SI), Z12, Z0 \
	VFMADD231PS.BCST (SI)(R9*1), Z12, Z1 \
	VFMADD231PS.BCST (SI)(R9*2), Z12, Z2 \
	VFMADD231PS.BCST (R8), Z12, Z3 \
	ADDQ             R10, SI \
	ADDQ             R10, R8 \
	VMOVUPS          64(DX), Z13 \
	VFMADD231PS.BCST (SI), Z13, Z6 \
	VFMADD231PS.BCST (SI)(R9*1), Z13, Z7 \
	VFMADD231PS.BCST (SI)(R9*2), Z13, Z8 \
	VFMADD231PS.BCST (R8), Z13, Z9 \
	ADDQ             R10, SI \
	ADDQ             R10, R8 \
	ADDQ             $128, DX

#define ZLAST4 \
	VMOVUPS          (DX), Z12 \
	VFMADD231PS.BCST (SI), Z12, Z0 \
	VFMADD231PS.BCST (SI)(R9*1), Z12, Z1 \
	VFMADD231PS.BCST (SI)(R9*2), Z12, Z2 \
	VFMADD231PS.BCST (R8), Z12, Z3 \
	ADDQ             R10, SI \
	ADDQ             R10, R8 \
	ADDQ             $64, DX

// func sgemmTilesAVX512(mr, strips, panels, k int, a *float32, sam, sak int, b, c *float32, ldc, acc int)
TEXT ·sgemmTilesAVX512(SB), NOSPLIT, $0-88
	MOVQ  sam+40(FP), R9
	SHLQ  $2, R9
	MOVQ  sak+48(FP), R10
	SHLQ  $2, R10
	MOVQ  ldc+72(FP), R11
	SHLQ  $2, R11
	MOVQ  a+32(FP), R12
	MOVQ  c+64(FP), R13
	MOVQ  strips+8(FP), AX
	TESTQ AX, AX
	JZ    zdone

zstrip:
	MOVQ  b+56(FP), DX
	MOVQ  R13, DI
	MOVQ  panels+16(FP), BX
	TESTQ BX, BX
	JZ    znextstrip

zpanel:
	MOVQ   R12, SI
	LEAQ   (SI)(R9*2), R8
	ADDQ   R9, R8
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	MOVQ   k+24(FP), CX
	CMPQ   mr+0(FP), $4
	JEQ    zfour
	SHRQ   $1, CX
	JZ     zsix1

zsix2:
	ZSTEP6
	DECQ CX
	JNZ  zsix2

zsix1:
	MOVQ k+24(FP), CX
	ANDQ $1, CX
	JZ   zstore6
	ZLAST6

zstore6:
	VADDPS Z6, Z0, Z0
	VADDPS Z7, Z1, Z1
	VADDPS Z8, Z2, Z2
	VADDPS Z9, Z3, Z3
	VADDPS Z10, Z4, Z4
	VADDPS Z11, Z5, Z5
	LEAQ   (DI)(R11*2), R8
	ADDQ   R11, R8
	CMPQ   acc+80(FP), $0
	JEQ    zput6
	VADDPS (DI), Z0, Z0
	VADDPS (DI)(R11*1), Z1, Z1
	VADDPS (DI)(R11*2), Z2, Z2
	VADDPS (R8), Z3, Z3
	VADDPS (R8)(R11*1), Z4, Z4
	VADDPS (R8)(R11*2), Z5, Z5

zput6:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, (DI)(R11*1)
	VMOVUPS Z2, (DI)(R11*2)
	VMOVUPS Z3, (R8)
	VMOVUPS Z4, (R8)(R11*1)
	VMOVUPS Z5, (R8)(R11*2)
	JMP     znextpanel

zfour:
	SHRQ $1, CX
	JZ   zfour1

zfour2:
	ZSTEP4
	DECQ CX
	JNZ  zfour2

zfour1:
	MOVQ k+24(FP), CX
	ANDQ $1, CX
	JZ   zstore4
	ZLAST4

zstore4:
	VADDPS Z6, Z0, Z0
	VADDPS Z7, Z1, Z1
	VADDPS Z8, Z2, Z2
	VADDPS Z9, Z3, Z3
	LEAQ   (DI)(R11*2), R8
	ADDQ   R11, R8
	CMPQ   acc+80(FP), $0
	JEQ    zput4
	VADDPS (DI), Z0, Z0
	VADDPS (DI)(R11*1), Z1, Z1
	VADDPS (DI)(R11*2), Z2, Z2
	VADDPS (R8), Z3, Z3

zput4:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, (DI)(R11*1)
	VMOVUPS Z2, (DI)(R11*2)
	VMOVUPS Z3, (R8)

znextpanel:
	ADDQ $64, DI
	DECQ BX
	JNZ  zpanel

znextstrip:
	MOVQ  mr+0(FP), CX
	IMULQ R9, CX
	ADDQ  CX, R12
	MOVQ  mr+0(FP), CX
	IMULQ R11, CX
	ADDQ  CX, R13
	DECQ  AX
	JNZ   zstrip

zdone:
	VZEROUPPER
	RET

// func fmaPeakAVX512(n int)
//
// fmaPeakAVX2 with Z registers: 384 FLOP a round.
TEXT ·fmaPeakAVX512(SB), NOSPLIT, $0-8
	MOVQ   n+0(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13

zpeak:
	VFMADD231PS Z12, Z13, Z0
	VFMADD231PS Z12, Z13, Z1
	VFMADD231PS Z12, Z13, Z2
	VFMADD231PS Z12, Z13, Z3
	VFMADD231PS Z12, Z13, Z4
	VFMADD231PS Z12, Z13, Z5
	VFMADD231PS Z12, Z13, Z6
	VFMADD231PS Z12, Z13, Z7
	VFMADD231PS Z12, Z13, Z8
	VFMADD231PS Z12, Z13, Z9
	VFMADD231PS Z12, Z13, Z10
	VFMADD231PS Z12, Z13, Z11
	DECQ        CX
	JNZ         zpeak
	VZEROUPPER
	RET

// func packRowsAVX2(dst, src *float32, rows, stride int)
//
// Copies rows rows of 16 floats, src's stride floats apart, to dst one after the other: a panel of
// B where B's columns are contiguous (packB).
TEXT ·packRowsAVX2(SB), NOSPLIT, $0-32
	MOVQ  dst+0(FP), DI
	MOVQ  src+8(FP), SI
	MOVQ  rows+16(FP), CX
	MOVQ  stride+24(FP), DX
	SHLQ  $2, DX
	TESTQ CX, CX
	JZ    packdone

packloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    DX, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     packloop

packdone:
	VZEROUPPER
	RET
