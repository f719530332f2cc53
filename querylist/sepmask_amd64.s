//go:build !purego

#include "textflag.h"

// Byte constants, 16 copies each: the bits ORed in before a compare (so one
// compare catches two separators: x|1 == '!' for ' ' and '!', x|2 == '.'
// for ',' and '.', x|1 == ';' for ':' and ';', x|4 == '\r' for '\t' and
// '\r'), and the values compared with.
DATA sepconst<>+0x00(SB)/8, $0x0101010101010101
DATA sepconst<>+0x08(SB)/8, $0x0101010101010101
DATA sepconst<>+0x10(SB)/8, $0x0202020202020202
DATA sepconst<>+0x18(SB)/8, $0x0202020202020202
DATA sepconst<>+0x20(SB)/8, $0x0404040404040404
DATA sepconst<>+0x28(SB)/8, $0x0404040404040404
DATA sepconst<>+0x30(SB)/8, $0x2121212121212121
DATA sepconst<>+0x38(SB)/8, $0x2121212121212121
DATA sepconst<>+0x40(SB)/8, $0x3b3b3b3b3b3b3b3b
DATA sepconst<>+0x48(SB)/8, $0x3b3b3b3b3b3b3b3b
DATA sepconst<>+0x50(SB)/8, $0x2e2e2e2e2e2e2e2e
DATA sepconst<>+0x58(SB)/8, $0x2e2e2e2e2e2e2e2e
DATA sepconst<>+0x60(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA sepconst<>+0x68(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA sepconst<>+0x70(SB)/8, $0x3f3f3f3f3f3f3f3f
DATA sepconst<>+0x78(SB)/8, $0x3f3f3f3f3f3f3f3f
DATA sepconst<>+0x80(SB)/8, $0x6060606060606060
DATA sepconst<>+0x88(SB)/8, $0x6060606060606060
DATA sepconst<>+0x90(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA sepconst<>+0x98(SB)/8, $0x0a0a0a0a0a0a0a0a
GLOBL sepconst<>(SB), RODATA|NOPTR, $160

// func sepMasks16(buf *byte, n int, masks *uint16)
TEXT ·sepMasks16(SB), NOSPLIT, $0-24
	MOVQ buf+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ masks+16(FP), DI
	MOVOU sepconst<>+0x00(SB), X0 // |1
	MOVOU sepconst<>+0x10(SB), X1 // |2
	MOVOU sepconst<>+0x20(SB), X2 // |4
	MOVOU sepconst<>+0x30(SB), X3 // '!'
	MOVOU sepconst<>+0x40(SB), X4 // ';'
	MOVOU sepconst<>+0x50(SB), X5 // '.'
	MOVOU sepconst<>+0x60(SB), X6 // '\r'
	MOVOU sepconst<>+0x70(SB), X7 // '?'
	MOVOU sepconst<>+0x80(SB), X8 // '`'
	MOVOU sepconst<>+0x90(SB), X9 // '\n'

loop:
	CMPQ CX, $0
	JLE  done
	MOVOU (SI), X10   // x
	MOVO  X10, X11
	POR   X0, X11     // x|1
	MOVO  X11, X12
	PCMPEQB X3, X11   // ' ' '!'
	PCMPEQB X4, X12   // ':' ';'
	POR   X12, X11
	MOVO  X10, X12
	POR   X1, X12
	PCMPEQB X5, X12   // ',' '.'
	POR   X12, X11
	MOVO  X10, X12
	POR   X2, X12
	PCMPEQB X6, X12   // '\t' '\r'
	POR   X12, X11
	MOVO  X10, X12
	PCMPEQB X7, X12   // '?'
	POR   X12, X11
	MOVO  X10, X12
	PCMPEQB X8, X12   // '`'
	POR   X12, X11
	PCMPEQB X9, X10   // '\n'
	POR   X10, X11
	PMOVMSKB X11, AX
	MOVW  AX, (DI)
	ADDQ  $16, SI
	ADDQ  $2, DI
	SUBQ  $16, CX
	JMP   loop

done:
	RET
