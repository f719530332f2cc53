//go:build !purego

#include "textflag.h"

// decodeFastBMI2 is decodeBlockGo's fast loop (deflate.go) in assembly with BMI2 shifts: the Go
// compiler spills about a third of that loop's values to the stack. It runs while
// pos <= inLimit and o <= outLimit (16 bytes of input and 274 of output to spare: a refill's
// 8-byte load, the longest match and a word copy's overshoot), which the caller checks before
// the first turn, and returns why it stopped (fastStop* in fast_amd64.go) with the state saved.
//
// fastState: in 0, pos 8, inLimit 16, out 24, o 32, outLimit 40, buf 48, n 56 (TestFastLayout).
//
// Registers: SI in, R8 pos, R9 inLimit, DI out, R10 o, R11 outLimit, AX buf, CX n (only its
// low 6 bits are kept exact: entries are subtracted whole, see the entry layout in inflate.go),
// BX litlen table, DX dist table, R12 entry, R13-R15 scratch.

// REFILL loads 8 input bytes above the n valid bits of buf and advances pos by the whole
// bytes that fitted; n becomes n|56 (56-63 bits).
#define REFILL \
	MOVQ  (SI)(R8*1), R13 \
	SHLXQ CX, R13, R13 \
	ORQ   R13, AX \
	MOVL  CX, R13 \
	NOTL  R13 \
	ANDL  $63, R13 \
	SHRL  $3, R13 \
	ADDQ  R13, R8 \
	ORQ   $56, CX

// LOOKUP sets R12 to the literal/length entry of buf's low 11 bits.
#define LOOKUP \
	MOVL AX, R13 \
	ANDL $2047, R13 \
	MOVL (BX)(R13*4), R12

// func decodeFastBMI2(s *fastState, litlen *[litlenEnough]uint32, dist *[distEnough]uint32) int
TEXT ·decodeFastBMI2(SB), NOSPLIT, $0-32
	MOVQ s+0(FP), R15
	MOVQ 0(R15), SI
	MOVQ 8(R15), R8
	MOVQ 16(R15), R9
	MOVQ 24(R15), DI
	MOVQ 32(R15), R10
	MOVQ 40(R15), R11
	MOVQ 48(R15), AX
	MOVQ 56(R15), CX
	MOVQ litlen+8(FP), BX
	MOVQ dist+16(FP), DX
	REFILL
	LOOKUP

loop:
	TESTL $0x40, R12 // entrySub
	JNZ   litsub

litresolved:
	SHRXQ R12, AX, AX
	SUBQ  R12, CX
	TESTL $0x80, R12 // entryLiteral
	JZ    notliteral
	MOVL  R12, R13
	SHRL  $16, R13
	MOVB  R13, (DI)(R10*1)
	INCQ  R10
	LOOKUP // 41 bits are left after a literal: the next code is there before the refill

	REFILL
	CMPQ  R8, R9
	JHI   stoplimit
	CMPQ  R10, R11
	JHI   stoplimit
	JMP   loop

litsub:
	SHRXQ R12, AX, AX // the primary bits
	SUBQ  R12, CX
	MOVL  R12, R13
	SHRL  $8, R13
	BZHIQ R13, AX, R14 // the subtable index bits (bits 8-11; 12-15 are 0 in a pointer)
	SHRL  $16, R12
	ADDQ  R14, R12
	CMPQ  R12, $2342 // litlenEnough: never past the table, whatever its entries
	JAE   stoptable
	MOVL  (BX)(R12*4), R12
	JMP   litresolved

notliteral:
	TESTL $0x1000, R12 // entrySpecial
	JNZ   special
	MOVL  R12, R13
	SHRL  $8, R13
	BZHIQ R13, AX, R14 // the length's extra bits
	SHRXQ R13, AX, AX
	SUBQ  R13, CX
	SHRL  $16, R12
	ADDQ  R12, R14 // R14 = length

	MOVL  AX, R13
	ANDL  $255, R13
	MOVL  (DX)(R13*4), R12
	TESTL $0x40, R12
	JNZ   distsub

distresolved:
	SHRXQ R12, AX, AX
	SUBQ  R12, CX
	TESTL $0x1000, R12
	JNZ   stopdist
	MOVL  R12, R13
	SHRL  $8, R13
	BZHIQ R13, AX, R15 // the distance's extra bits
	SHRXQ R13, AX, AX
	SUBQ  R13, CX
	SHRL  $16, R12
	ADDQ  R12, R15 // R15 = distance
	CMPQ  R15, R10
	JHI   stopfar
	REFILL

	// Copy R14 bytes from R15 back. R13 = destination, R12 = source.
	LEAQ (DI)(R10*1), R13
	MOVQ R13, R12
	SUBQ R15, R12
	ADDQ R14, R10
	CMPQ R15, $8
	JB   shortdist
	MOVQ (R12), R15
	MOVQ R15, (R13)
	MOVQ 8(R12), R15
	MOVQ R15, 8(R13)
	SUBQ $16, R14
	JLE  copied
	ADDQ $16, R12
	ADDQ $16, R13

copywords:
	MOVQ (R12), R15
	MOVQ R15, (R13)
	ADDQ $8, R12
	ADDQ $8, R13
	SUBQ $8, R14
	JG   copywords
	JMP  copied

shortdist:
	CMPQ R15, $1
	JNE  copybytes
	MOVBQZX (R12), R15
	MOVQ    $0x0101010101010101, R12
	IMULQ   R12, R15

copyrun:
	MOVQ R15, (R13)
	ADDQ $8, R13
	SUBQ $8, R14
	JG   copyrun
	JMP  copied

copybytes:
	MOVB (R12), R15
	MOVB R15, (R13)
	INCQ R12
	INCQ R13
	DECQ R14
	JNZ  copybytes

copied:
	LOOKUP
	CMPQ R8, R9
	JHI  stoplimit
	CMPQ R10, R11
	JHI  stoplimit
	JMP  loop

distsub:
	SHRXQ R12, AX, AX
	SUBQ  R12, CX
	MOVL  R12, R13
	SHRL  $8, R13
	BZHIQ R13, AX, R15
	SHRL  $16, R12
	ADDQ  R15, R12
	CMPQ  R12, $402 // distEnough
	JAE   stoptable
	MOVL  (DX)(R12*4), R12
	JMP   distresolved

special:
	SHRL $16, R12
	JNZ  stoplitlen
	MOVQ $1, R13 // fastStopEndOfBlock
	JMP  save

stoplimit:
	MOVQ $0, R13 // fastStopLimit
	JMP  save

stoplitlen:
	MOVQ $2, R13 // fastStopBadLitlen
	JMP  save

stopdist:
	MOVQ $3, R13 // fastStopBadDist
	JMP  save

stopfar:
	MOVQ $4, R13 // fastStopFar
	JMP  save

stoptable:
	MOVQ $5, R13 // fastStopTable

save:
	MOVQ s+0(FP), R15
	MOVQ R8, 8(R15)
	MOVQ R10, 32(R15)
	MOVQ AX, 48(R15)
	ANDQ $63, CX
	MOVQ CX, 56(R15)
	MOVQ R13, ret+24(FP)
	RET
