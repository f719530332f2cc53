//go:build !purego

#include "textflag.h"

// AVX2 loops for elementwise.go: arithmetic on runs (binaryRun's contiguous and broadcast cases)
// and exp/sigmoid (exp32's range reduction and polynomial, 8 lanes at a time). Their Go versions
// are the reference; TestElementwiseAsmMatchesGo compares them.

// VV(OP) computes 16 floats of c = a OP b: SI a, DX b, DI c.
#define VV(OP) \
	VMOVUPS (SI), Y0 \
	VMOVUPS 32(SI), Y1 \
	OP      (DX), Y0, Y0 \
	OP      32(DX), Y1, Y1 \
	VMOVUPS Y0, (DI) \
	VMOVUPS Y1, 32(DI)

// VS(OP) computes 16 floats of c = a OP s: SI a, Y15 s broadcast, DI c.
#define VS(OP) \
	VMOVUPS (SI), Y0 \
	VMOVUPS 32(SI), Y1 \
	OP      Y15, Y0, Y0 \
	OP      Y15, Y1, Y1 \
	VMOVUPS Y0, (DI) \
	VMOVUPS Y1, 32(DI)

// SV(OP) computes 16 floats of c = s OP b: DX b, Y15 s broadcast, DI c.
#define SV(OP) \
	VMOVUPS (DX), Y0 \
	VMOVUPS 32(DX), Y1 \
	OP      Y0, Y15, Y0 \
	OP      Y1, Y15, Y1 \
	VMOVUPS Y0, (DI) \
	VMOVUPS Y1, 32(DI)

#define NEXT \
	ADDQ $64, SI \
	ADDQ $64, DX \
	ADDQ $64, DI \
	DECQ CX

// func binaryAVX2(op, mode int, c, a, b *float32, n int)
//
// c[i] = a[i] op b[i] (mode 0), a[i] op b[0] (mode 1) or a[0] op b[i] (mode 2) for i < n, n a
// multiple of 16 (the caller does the rest); op 0 add, 1 sub, 2 mul, 3 div.
TEXT ·binaryAVX2(SB), NOSPLIT, $0-48
	MOVQ c+16(FP), DI
	MOVQ a+24(FP), SI
	MOVQ b+32(FP), DX
	MOVQ n+40(FP), CX
	SHRQ $4, CX
	JZ   done
	MOVQ mode+8(FP), AX
	MOVQ op+0(FP), BX
	CMPQ AX, $1
	JEQ  vs
	CMPQ AX, $2
	JEQ  sv
	CMPQ BX, $1
	JEQ  subvv
	CMPQ BX, $2
	JEQ  mulvv
	CMPQ BX, $3
	JEQ  divvv

addvv:
	VV(VADDPS)
	NEXT
	JNZ addvv
	JMP done

subvv:
	VV(VSUBPS)
	NEXT
	JNZ subvv
	JMP done

mulvv:
	VV(VMULPS)
	NEXT
	JNZ mulvv
	JMP done

divvv:
	VV(VDIVPS)
	NEXT
	JNZ divvv
	JMP done

vs:
	VBROADCASTSS (DX), Y15
	CMPQ         BX, $1
	JEQ          subvs
	CMPQ         BX, $2
	JEQ          mulvs
	CMPQ         BX, $3
	JEQ          divvs

addvs:
	VS(VADDPS)
	NEXT
	JNZ addvs
	JMP done

subvs:
	VS(VSUBPS)
	NEXT
	JNZ subvs
	JMP done

mulvs:
	VS(VMULPS)
	NEXT
	JNZ mulvs
	JMP done

divvs:
	VS(VDIVPS)
	NEXT
	JNZ divvs
	JMP done

sv:
	VBROADCASTSS (SI), Y15
	CMPQ         BX, $1
	JEQ          subsv
	CMPQ         BX, $2
	JEQ          mulsv
	CMPQ         BX, $3
	JEQ          divsv

addsv:
	SV(VADDPS)
	NEXT
	JNZ addsv
	JMP done

subsv:
	SV(VSUBPS)
	NEXT
	JNZ subsv
	JMP done

mulsv:
	SV(VMULPS)
	NEXT
	JNZ mulsv
	JMP done

divsv:
	SV(VDIVPS)
	NEXT
	JNZ divsv

done:
	VZEROUPPER
	RET

// Constants of exp32 (elementwise.go), each broadcast to 8 lanes.
DATA expc<>+0(SB)/4, $1.44269504088896341  // log2(e)
DATA expc<>+4(SB)/4, $12582912.0           // 1.5·2²³
DATA expc<>+8(SB)/4, $0.693359375          // ln2, high part
DATA expc<>+12(SB)/4, $-2.12194440e-4      // ln2, low part
DATA expc<>+16(SB)/4, $1.9875691500e-4
DATA expc<>+20(SB)/4, $1.3981999507e-3
DATA expc<>+24(SB)/4, $8.3334519073e-3
DATA expc<>+28(SB)/4, $4.1665795894e-2
DATA expc<>+32(SB)/4, $1.6666665459e-1
DATA expc<>+36(SB)/4, $5.0000001201e-1
DATA expc<>+40(SB)/4, $1.0
DATA expc<>+44(SB)/4, $-87.0               // below: 2ⁿ subnormal; slow path above -104
DATA expc<>+48(SB)/4, $87.0                // above: 2ⁿ overflows; slow path below 88.75
DATA expc<>+52(SB)/4, $-104.0              // at or below: e^x rounds to 0
DATA expc<>+56(SB)/4, $88.75               // at or above: e^x is +Inf
DATA expc<>+60(SB)/4, $0x7f800000          // +Inf
DATA expc<>+64(SB)/4, $127
GLOBL expc<>(SB), RODATA|NOPTR, $68

// EXP8 sets Y0 to e^Y0 for the lanes in [-87, 87] (others: garbage, the caller blends or bails
// out); Y1-Y5 scratch, Y8-Y14 hold constants (see expSetup).
#define EXP8 \
	VMAXPS       Y11, Y0, Y0 \
	VMINPS       Y12, Y0, Y0 \
	VMULPS       Y8, Y0, Y1 \
	VADDPS       Y9, Y1, Y1 \
	VPSUBD       Y9, Y1, Y2 \
	VSUBPS       Y9, Y1, Y1 \
	VBROADCASTSS expc<>+8(SB), Y3 \
	VFNMADD231PS Y3, Y1, Y0 \
	VBROADCASTSS expc<>+12(SB), Y3 \
	VFNMADD231PS Y3, Y1, Y0 \
	VMULPS       Y0, Y0, Y4 \
	VBROADCASTSS expc<>+16(SB), Y5 \
	VBROADCASTSS expc<>+20(SB), Y3 \
	VFMADD213PS  Y3, Y0, Y5 \
	VBROADCASTSS expc<>+24(SB), Y3 \
	VFMADD213PS  Y3, Y0, Y5 \
	VBROADCASTSS expc<>+28(SB), Y3 \
	VFMADD213PS  Y3, Y0, Y5 \
	VBROADCASTSS expc<>+32(SB), Y3 \
	VFMADD213PS  Y3, Y0, Y5 \
	VBROADCASTSS expc<>+36(SB), Y3 \
	VFMADD213PS  Y3, Y0, Y5 \
	VFMADD213PS  Y0, Y4, Y5 \
	VADDPS       Y10, Y5, Y5 \
	VPADDD       Y14, Y2, Y2 \
	VPSLLD       $23, Y2, Y2 \
	VMULPS       Y2, Y5, Y0

// BADLANES sets AX to the mask of the lanes of Y6 (x) that EXP8 cannot take nor the blends
// fix: NaN, [-104, -87) and (87, 88.75). Y7, Y1, Y2 scratch; Y13 = -104, Y3 = 88.75.
#define BADLANES \
	VCMPPS    $3, Y6, Y6, Y7 \
	VCMPPS    $1, Y11, Y6, Y1 \
	VCMPPS    $2, Y13, Y6, Y2 \
	VANDNPS   Y1, Y2, Y1 \
	VORPS     Y1, Y7, Y7 \
	VCMPPS    $1, Y6, Y12, Y1 \
	VCMPPS    $2, Y6, Y3, Y2 \
	VANDNPS   Y1, Y2, Y1 \
	VORPS     Y1, Y7, Y7 \
	VMOVMSKPS Y7, AX

// expSetup loads the constants EXP8 and BADLANES use.
#define EXPSETUP \
	VBROADCASTSS expc<>+0(SB), Y8 \
	VBROADCASTSS expc<>+4(SB), Y9 \
	VBROADCASTSS expc<>+40(SB), Y10 \
	VBROADCASTSS expc<>+44(SB), Y11 \
	VBROADCASTSS expc<>+48(SB), Y12 \
	VBROADCASTSS expc<>+52(SB), Y13 \
	VPBROADCASTD expc<>+64(SB), Y14

// func expAVX2(dst, src *float32, n int) int
//
// dst[i] = e^src[i], 8 at a time, for i < n (a multiple of 8), stopping before the first group of
// 8 with a lane it cannot take (see BADLANES); returns how many it wrote.
TEXT ·expAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	XORQ DX, DX
	EXPSETUP
	SHRQ $3, CX
	JZ   expdone

exploop:
	VMOVUPS      (SI)(DX*4), Y6
	VBROADCASTSS expc<>+56(SB), Y3
	BADLANES
	TESTQ        AX, AX
	JNZ          expdone
	VMOVAPS      Y6, Y0
	EXP8
	VCMPPS       $2, Y13, Y6, Y1        // x ≤ -104: 0
	VANDNPS      Y0, Y1, Y0
	VBROADCASTSS expc<>+56(SB), Y3
	VCMPPS       $5, Y3, Y6, Y1         // x ≥ 88.75: +Inf
	VBROADCASTSS expc<>+60(SB), Y3
	VBLENDVPS    Y1, Y3, Y0, Y0
	VMOVUPS      Y0, (DI)(DX*4)
	ADDQ         $8, DX
	DECQ         CX
	JNZ          exploop

expdone:
	MOVQ DX, ret+24(FP)
	VZEROUPPER
	RET

// func sigmoidAVX2(dst, src *float32, n int) int
//
// dst[i] = 1/(1+e^-x) (x ≥ 0) or e^x/(1+e^x) (x < 0), x = src[i], as sigmoidRun, 8 at a time for
// i < n (a multiple of 8), stopping before the first group with |x| in (87, 104] or NaN; returns
// how many it wrote.
TEXT ·sigmoidAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	XORQ DX, DX
	EXPSETUP
	SHRQ $3, CX
	JZ   sigdone

sigloop:
	VMOVUPS      (SI)(DX*4), Y15        // x
	VPCMPEQD     Y6, Y6, Y6
	VPSRLD       $1, Y6, Y6
	VANDPS       Y15, Y6, Y6            // |x|
	VXORPS       Y7, Y7, Y7
	VSUBPS       Y6, Y7, Y6             // -|x|
	VBROADCASTSS expc<>+56(SB), Y3
	BADLANES
	TESTQ        AX, AX
	JNZ          sigdone
	VMOVAPS      Y6, Y0
	EXP8                                // e = e^-|x|
	VCMPPS       $2, Y13, Y6, Y1        // -|x| ≤ -104: e = 0
	VANDNPS      Y0, Y1, Y0
	VADDPS       Y10, Y0, Y1            // 1 + e
	VXORPS       Y7, Y7, Y7
	VCMPPS       $5, Y7, Y15, Y2        // x ≥ 0 (NaN excluded above)
	VBLENDVPS    Y2, Y10, Y0, Y3        // numerator: 1 where x ≥ 0, e elsewhere
	VDIVPS       Y1, Y3, Y0
	VMOVUPS      Y0, (DI)(DX*4)
	ADDQ         $8, DX
	DECQ         CX
	JNZ          sigloop

sigdone:
	MOVQ DX, ret+24(FP)
	VZEROUPPER
	RET

// func sumAVX2(x *float32, n int) float32
//
// The sum of x[:n], n a multiple of 8, in four 8-lane partial sums (a reduction over the innermost
// axis; the caller adds the remainder).
TEXT ·sumAVX2(SB), NOSPLIT, $0-20
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ   CX, DX
	SHRQ   $5, DX
	JZ     sum8

sum32:
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	ADDQ   $128, SI
	DECQ   DX
	JNZ    sum32

sum8:
	ANDQ $31, CX
	SHRQ $3, CX
	JZ   sumfold

sum8loop:
	VADDPS (SI), Y0, Y0
	ADDQ   $32, SI
	DECQ   CX
	JNZ    sum8loop

sumfold:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	MOVSS        X0, ret+16(FP)
	VZEROUPPER
	RET
