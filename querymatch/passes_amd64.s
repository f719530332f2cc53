//go:build !purego

#include "textflag.h"

// The matcher's per-token passes; each does exactly what its Go version in
// matcher.go does (tokenizeGo, resolveWordsGo, pairsGo). Record layouts:
//   token:     v0 0, v1 8, start 16, n 20, slot 24 (32 bytes)
//   wordSlot:  b 0-23, id 24, meta 28 (32 bytes; id|meta<<32 is a wordOf)
//   gramCand:  key 0, pos 8, slot 12 (16 bytes)
//   gramSlot:  key 0, id 8, meta 12 (16 bytes)
//   tokTables: m1 0, m2 8, heads 16, punct 288, words 2336, fbits 2344, seps 10536,
//              nibbles 10696, avx2 10792
// TestAsmLayout checks these offsets.

// SEPMASK sets M (a 64-bit register) to the 16-bit mask of the separator
// bytes among the 16 bytes at ADDR: ' ' '!' (x|1 == '!'), ':' ';' (x|1 == ';'),
// ',' '.' (x|2 == '.'), '\t' '\r' (x|4 == '\r'), '?', '`', '\n'. X0-X9 hold
// the constants (tokTables.seps); X10-X12 are scratch.
#define SEPMASK(ADDR, M) \
	MOVOU   ADDR, X10 \
	MOVO    X10, X11 \
	POR     X0, X11 \
	MOVO    X11, X12 \
	PCMPEQB X3, X11 \
	PCMPEQB X4, X12 \
	POR     X12, X11 \
	MOVO    X10, X12 \
	POR     X1, X12 \
	PCMPEQB X5, X12 \
	POR     X12, X11 \
	MOVO    X10, X12 \
	POR     X2, X12 \
	PCMPEQB X6, X12 \
	POR     X12, X11 \
	MOVO    X10, X12 \
	PCMPEQB X7, X12 \
	POR     X12, X11 \
	MOVO    X10, X12 \
	PCMPEQB X8, X12 \
	POR     X12, X11 \
	PCMPEQB X9, X10 \
	POR     X10, X11 \
	PMOVMSKB X11, M

// AVX2MASK sets M (a 64-bit register) to the 32-bit mask of the bytes
// among the 32 at ADDR that are not separators: a byte is one when
// nibbles[0][low 4 bits] & nibbles[1][high 4 bits] != 0 (sepNibbles). Y0,
// Y1 and Y2 hold tokTables.nibbles, Y3 zero; Y10-Y12 are scratch.
#define AVX2MASK(ADDR, M) \
	VMOVDQU   ADDR, Y10 \
	VPSRLW    $4, Y10, Y11 \
	VPAND     Y2, Y11, Y11 \
	VPSHUFB   Y10, Y0, Y12 \
	VPSHUFB   Y11, Y1, Y11 \
	VPAND     Y11, Y12, Y12 \
	VPCMPEQB  Y3, Y12, Y12 \
	VPMOVMSKB Y12, M

// GRAMHASH sets H to gramHash(seed, H) (matcher.go): SEED a register or
// memory operand holding the seed, R14 the tokTables (hashM1 at 0, hashM2
// at 8), T scratch.
#define GRAMHASH(H, SEED, T) \
	XORQ  SEED, H \
	IMULQ (R14), H \
	MOVQ  H, T \
	SHRQ  $32, T \
	XORQ  T, H \
	IMULQ 8(R14), H

// func tokenizeAMD64(buf *byte, n int, toks *token, tt *tokTables, seed uint64, shift uint64) int
TEXT ·tokenizeAMD64(SB), NOSPLIT, $0-56
	MOVQ buf+0(FP), SI
	MOVQ n+8(FP), R10
	MOVQ toks+16(FP), DI
	MOVQ tt+24(FP), R14
	MOVQ seed+32(FP), R13
	MOVQ shift+40(FP), CX
	CMPQ 10792(R14), $0
	JNE  avx2init
	MOVOU 10536(R14), X0 // |1
	MOVOU 10552(R14), X1 // |2
	MOVOU 10568(R14), X2 // |4
	MOVOU 10584(R14), X3 // '!'
	MOVOU 10600(R14), X4 // ';'
	MOVOU 10616(R14), X5 // '.'
	MOVOU 10632(R14), X6 // '\r'
	MOVOU 10648(R14), X7 // '?'
	MOVOU 10664(R14), X8 // '`'
	MOVOU 10680(R14), X9 // '\n'
	JMP   start

avx2init:
	VMOVDQU 10696(R14), Y0 // low nibbles
	VMOVDQU 10728(R14), Y1 // high nibbles
	VMOVDQU 10760(R14), Y2 // 0x0F
	VPXOR   Y3, Y3, Y3

start:
	XORQ R9, R9   // block: offset of the 64 bytes being tokenized
	XORQ R11, R11 // start of the current token

block:
	CMPQ R9, R10
	JGT  done
	// The separators of the block, 32 bytes at a time with AVX2, else 16
	// (textPad readable zero bytes follow the text: no separators).
	LEAQ (SI)(R9*1), AX
	CMPQ 10792(R14), $0
	JEQ  sse2
	AVX2MASK(32(AX), R12)
	SHLQ $32, R12
	AVX2MASK((AX), DX)
	ORQ  DX, R12
	NOTQ R12
	JMP  blockend

sse2:
	SEPMASK(48(AX), R12)
	SHLQ $16, R12
	SEPMASK(32(AX), DX)
	ORQ  DX, R12
	SHLQ $16, R12
	SEPMASK(16(AX), DX)
	ORQ  DX, R12
	SHLQ $16, R12
	SEPMASK((AX), DX)
	ORQ  DX, R12

blockend:
	MOVQ R10, AX
	SUBQ R9, AX
	CMPQ AX, $64
	JGE  tokens
	// The bytes after the text need not be zeros (MatchIDs may pass the
	// caller's text, where the rest of its memory page can be read):
	// their bits are cleared, and the end of the text ends the last token.
	XCHGQ AX, CX
	MOVQ  $1, DX
	SHLQ  CX, DX
	XCHGQ AX, CX
	DECQ  DX
	ANDQ  DX, R12
	BTSQ  AX, R12

tokens:
	TESTQ R12, R12
	JEQ   nextblock
	BSFQ  R12, AX
	ADDQ  R9, AX   // p: the separator
	LEAQ  -1(R12), DX
	ANDQ  DX, R12
	MOVQ  AX, DX
	SUBQ  R11, DX  // length
	MOVL  R11, 16(DI)
	MOVL  DX, 20(DI)

	// hashHead: the length and the first 16 bytes.
	MOVQ    $16, BX
	CMPQ    DX, BX
	CMOVQLT DX, BX
	SHLQ    $4, BX             // heads[min(length, 16)]
	MOVQ    8(SI)(R11*1), R15
	ANDQ    24(R14)(BX*1), R15
	MOVQ    R15, 8(DI)         // v1
	MOVQ    (SI)(R11*1), R15
	ANDQ    16(R14)(BX*1), R15
	MOVQ    R15, (DI)          // v0
	XORQ    R13, R15
	XORQ    DX, R15
	IMULQ   (R14), R15
	ROLQ    $32, R15
	XORQ    8(DI), R15
	IMULQ   8(R14), R15
	CMPQ    DX, $16
	JGT     long

slot:
	SHRQ    CX, R15
	MOVL    R15, 24(DI)        // home slot
	SHLQ    $5, R15
	ADDQ    2336(R14), R15
	PREFETCHT0 (R15)

	// The separator as a one-byte token, counted when it is punctuation.
	MOVBQZX (SI)(AX*1), R8
	XORL    DX, DX
	CMPQ    AX, R10
	CMOVQLT R8, DX     // the byte after the text is no token
	MOVQ    DX, 32(DI)
	MOVQ    $0, 40(DI)
	MOVL    AX, 48(DI)
	MOVL    $1, 52(DI)
	MOVQ    288(R14)(DX*8), DX
	MOVL    DX, 56(DI)
	SHRQ    $32, DX
	SHLQ    $5, DX
	LEAQ    32(DI)(DX*1), DI
	LEAQ    1(AX), R11
	JMP     tokens

long:
	// hashLast: the last 8 bytes of a word of more than 16 (rare: a
	// branch).
	LEAQ  -8(SI)(AX*1), BX
	MOVQ  (BX), BX
	IMULQ (R14), BX
	XORQ  BX, R15
	JMP   slot

nextblock:
	ADDQ $64, R9
	JMP  block

done:
	SUBQ toks+16(FP), DI
	SHRQ $5, DI
	MOVQ DI, ret+48(FP)
	CMPQ 10792(R14), $0
	JEQ  return
	VZEROUPPER

return:
	RET

// func resolveWordsAMD64(toks *token, nt int, table *wordSlot, words *wordOf, slow *int32) int
TEXT ·resolveWordsAMD64(SB), NOSPLIT, $0-48
	MOVQ toks+0(FP), SI
	MOVQ nt+8(FP), CX
	MOVQ table+16(FP), R8
	MOVQ words+24(FP), DI
	MOVQ slow+32(FP), R9
	XORQ R10, R10           // t
	XORQ R11, R11           // tokens written to slow
	MOVL $1, R14
	MOVL $0xFFFFFFFF, R15   // noWord

loop:
	MOVL    24(SI), AX
	SHLQ    $5, AX
	ADDQ    R8, AX          // home slot
	MOVQ    (AX), BX
	XORQ    (SI), BX
	MOVQ    8(AX), DX
	XORQ    8(SI), DX
	ORQ     DX, BX
	MOVL    28(AX), DX      // meta
	MOVL    DX, R12
	ANDL    $0x80FFFFFF, R12
	MOVL    20(SI), R13
	ORL     $0x80000000, R13
	XORL    R13, R12
	ORQ     R12, BX         // zero when the slot holds the token's word
	MOVQ    24(AX), R12     // id | meta << 32
	TESTQ   BX, BX
	CMOVQNE R15, R12
	MOVQ    R12, (DI)(R10*8)
	MOVL    R10, (R9)(R11*4)
	XORL    R12, R12
	CMPL    20(SI), $16
	CMOVLGT R14, R12        // a long word: its tail is compared in resolveSlow
	XORL    R13, R13
	TESTL   DX, DX
	CMOVLNE R14, R13        // the slot is used: probing goes on
	TESTQ   BX, BX
	CMOVQNE R13, R12
	ADDQ    R12, R11
	ADDQ    $32, SI
	INCQ    R10
	CMPQ    R10, CX
	JLT     loop
	MOVQ    R11, ret+40(FP)
	RET

// func pairsAMD64(words *wordOf, nw int, found *uint64, cands *gramCand, filter *uint64, fmask uint64, seed uint64, tt *tokTables) (nf, nc int)
TEXT ·pairsAMD64(SB), NOSPLIT, $0-80
	MOVQ words+0(FP), SI
	MOVQ nw+8(FP), CX
	MOVQ found+16(FP), DI
	MOVQ cands+24(FP), R8
	MOVQ filter+32(FP), R9
	MOVQ fmask+40(FP), R10
	MOVQ seed+48(FP), R11
	MOVQ tt+56(FP), R14
	XORQ BX, BX             // t
	MOVL $0xFFFFFFFF, DX    // previous word: none

loop:
	MOVQ (SI)(BX*8), AX     // word

	// One-word match: t << 32 | meta << 3 & rawDup | id, kept when metaEntry.
	MOVQ AX, R12
	SHRQ $32, R12           // meta
	MOVL R12, R13
	SHLL $3, R13
	ANDL $0x80000000, R13
	MOVL AX, R15
	ORQ  R13, R15
	MOVQ BX, R13
	SHLQ $32, R13
	ORQ  R13, R15
	MOVQ R15, (DI)
	MOVL R12, R13
	SHRL $30, R13
	ANDL $1, R13
	LEAQ (DI)(R13*8), DI

	// Words t-1, t: a candidate when the previous word is a prefix, this
	// one is a word, and the key is in the filter.
	SHRL  $31, R12
	MOVQ  DX, R13
	SHRQ  $61, R13
	ANDL  $1, R13
	ANDL  R13, R12
	MOVL  DX, R15
	SHLQ  $32, R15
	MOVL  AX, R13
	ORQ   R13, R15          // key
	MOVQ  R15, (R8)
	LEAL  -1(BX), R13
	MOVL  R13, 8(R8)
	MOVQ  AX, DX
	GRAMHASH(R15, R11, R13)
	MOVQ  R15, R13          // gramFilterBits
	SHRQ  $54, R13
	MOVQ  2344(R14)(R13*8), AX
	MOVL  R15, R13
	ANDQ  R10, R13
	MOVQ  (R9)(R13*8), R13
	ANDQ  AX, R13
	XORL  R15, R15
	CMPQ  R13, AX
	CMOVQNE R15, R12
	SHLQ  $4, R12
	ADDQ  R12, R8
	INCQ  BX
	CMPQ  BX, CX
	JLT   loop

	SUBQ found+16(FP), DI
	SHRQ $3, DI
	MOVQ DI, nf+64(FP)
	SUBQ cands+24(FP), R8
	SHRQ $4, R8
	MOVQ R8, nc+72(FP)
	RET

// func reportAMD64(found *uint64, n int, words int, out *int32, seen *[4]uint64) (k, stop int)
// report's loops (reportGo): found[words:] sorted into place by start
// token, then the ids written to out, each once, until a key shared by
// several entries (rawDup), where reportShared goes on: k ids written,
// stop the index of that record (n when there is none). seen must be
// zero.
TEXT ·reportAMD64(SB), NOSPLIT, $0-56
	MOVQ found+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ words+16(FP), R8
	MOVQ out+24(FP), DI
	MOVQ seen+32(FP), R12
	MOVL $1, AX
	CMPQ R8, AX
	CMOVQLT AX, R8          // i = max(words, 1)

sort:
	CMPQ R8, CX
	JGE  dedup
	MOVQ (SI)(R8*8), AX     // f
	MOVQ AX, BX
	SHRQ $32, BX            // its start token
	MOVQ R8, R9             // j

shift:
	TESTQ R9, R9
	JEQ   place
	MOVQ  -8(SI)(R9*8), R10
	MOVQ  R10, DX
	SHRQ  $32, DX
	CMPQ  DX, BX
	JLS   place
	MOVQ  R10, (SI)(R9*8)
	DECQ  R9
	JMP   shift

place:
	MOVQ AX, (SI)(R9*8)
	INCQ R8
	JMP  sort

dedup:
	// seen: a bit per id hash; a set bit is checked against the ids
	// written so far.
	XORQ R8, R8             // i
	XORQ R9, R9             // k

next:
	CMPQ R8, CX
	JGE  done
	MOVQ (SI)(R8*8), AX
	BTL  $31, AX
	JCS  done               // rawDup: reportShared goes on from i
	INCQ R8
	MOVL AX, AX             // id
	IMUL3L $0x9E3779B1, AX, BX
	SHRL $24, BX            // hash bit
	MOVL BX, DX
	SHRL $6, DX
	MOVQ (R12)(DX*8), R10
	BTSQ BX, R10
	MOVQ R10, (R12)(DX*8)
	MOVL AX, (DI)(R9*4)
	JCS  check              // the bit was set: seen before?
	INCQ R9
	JMP  next

check:
	XORQ R11, R11

scan:
	CMPQ R11, R9
	JGE  isnew
	CMPL (DI)(R11*4), AX
	JEQ  next               // reported before
	INCQ R11
	JMP  scan

isnew:
	INCQ R9
	JMP  next

done:
	MOVQ R9, k+40(FP)
	MOVQ R8, stop+48(FP)
	RET

// func resolveGramsAMD64(cands *gramCand, nc int, found *uint64, words *wordOf, grams *gramSlot, gshift uint64, gmask uint64, filter *uint64, fmask uint64, seed uint64, tt *tokTables, level int) (nf, k int)
// One level of resolveGramsGo: found points at where its matches go,
// words[pos+level+1] must be readable for every candidate (noWord past
// the last token). The first loop loads every candidate's home slot
// (into R12, unused), so that the misses overlap; PREFETCHT0 measured no
// better.
TEXT ·resolveGramsAMD64(SB), NOSPLIT, $0-112
	MOVQ cands+0(FP), SI
	MOVQ nc+8(FP), R9
	SHLQ $4, R9
	ADDQ SI, R9             // end of cands
	MOVQ grams+32(FP), R8
	MOVQ gshift+40(FP), CX
	MOVQ seed+72(FP), R13
	MOVQ tt+80(FP), R14

slots:
	CMPQ SI, R9
	JGE  slotsdone
	MOVQ (SI), AX           // the key
	GRAMHASH(AX, R13, DX)
	SHRQ CX, AX
	ANDQ gmask+48(FP), AX
	MOVL AX, 12(SI)         // home slot
	SHLQ $4, AX
	ADDL 12(R8)(AX*1), R12  // start the load
	ADDQ $16, SI
	JMP  slots

slotsdone:
	MOVQ cands+0(FP), SI
	MOVQ SI, R15            // next level's candidates, in place
	MOVQ found+16(FP), DI
	MOVQ words+24(FP), BX
	MOVQ filter+56(FP), R11

cand:
	CMPQ SI, R9
	JGE  done
	MOVL 12(SI), AX         // j
	MOVQ (SI), DX           // key

probe:
	MOVQ  AX, CX
	SHLQ  $4, CX
	ADDQ  R8, CX            // &grams[j]
	MOVL  12(CX), R10       // meta
	TESTL R10, R10
	JEQ   got               // empty: not a key (id 0, meta 0)
	CMPQ  (CX), DX
	JEQ   got
	INCL  AX
	ANDQ  gmask+48(FP), AX
	JMP   probe

got:
	MOVL 8(CX), DX          // id
	// found: pos << 32 | meta << 3 & rawDup | id, kept when metaEntry.
	MOVL 8(SI), CX
	SHLQ $32, CX
	ORQ  DX, CX
	MOVL R10, R12
	SHLL $3, R12
	ANDL $0x80000000, R12
	ORQ  R12, CX
	MOVQ CX, (DI)
	MOVL R10, R12
	SHRL $30, R12
	ANDL $1, R12
	LEAQ (DI)(R12*8), DI

	// The next candidate: this key and the word after it.
	MOVL 8(SI), CX
	ADDQ level+88(FP), CX
	MOVQ 8(BX)(CX*8), R13   // words[pos+level+1]
	SHLQ $32, DX
	MOVL R13, CX
	ORQ  CX, DX             // key
	MOVL 8(SI), CX
	MOVQ DX, (R15)
	MOVL CX, 8(R15)
	MOVL $0, 12(R15)
	SHRL $29, R10
	ANDL $1, R10            // the key is a prefix
	SHRQ $63, R13
	ANDL R13, R10           // and the next token a word

	// In the filter?
	GRAMHASH(DX, seed+72(FP), CX)
	MOVQ DX, R12            // gramFilterBits
	SHRQ $54, R12
	MOVQ 2344(R14)(R12*8), R12
	MOVL DX, DX
	ANDQ fmask+64(FP), DX
	MOVQ (R11)(DX*8), DX
	ANDQ R12, DX
	XORL R13, R13
	CMPQ DX, R12
	CMOVQNE R13, R10
	SHLQ $4, R10
	ADDQ R10, R15
	ADDQ $16, SI
	JMP  cand

done:
	SUBQ found+16(FP), DI
	SHRQ $3, DI
	MOVQ DI, nf+96(FP)
	SUBQ cands+0(FP), R15
	SHRQ $4, R15
	MOVQ R15, k+104(FP)
	RET
