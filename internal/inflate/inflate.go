package inflate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Errors. A caller that holds only part of a member tells the two input errors apart: more
// input may make ErrShortInput go away, never ErrCorrupt.
var (
	ErrCorrupt     = errors.New("inflate: corrupt data")
	ErrShortInput  = errors.New("inflate: input ends inside the member")
	ErrOutputFull  = errors.New("inflate: output buffer too small")
	ErrHeaderCRC   = errors.New("inflate: gzip header CRC (FHCRC) not supported")
	errBadChecksum = fmt.Errorf("%w: gzip CRC-32 or length mismatch", ErrCorrupt)
)

// Table sizes. The primary tables are indexed by the next tableBits bits of input; codes longer
// than that continue in subtables placed after the primary table. The sizes are the largest any
// complete code of the symbol count and maximum length can need (zlib's "enough" program).
const (
	litlenTableBits = 11
	litlenEnough    = 2342 // 288 symbols, 11 primary bits, codes up to 15 bits
	distTableBits   = 8
	distEnough      = 402 // 32 symbols, 8 primary bits, codes up to 15 bits
	precodeBits     = 7   // the precode's codes are at most 7 bits: one table, no subtables

	numLitlenSyms  = 288
	numDistSyms    = 32
	numPrecodeSyms = 19
	maxCodeLen     = 15

	// Fast loop margins: 8 bytes for a refill's load; the longest match (258) plus the 8-byte
	// overshoot of a chunked copy.
	fastInMargin  = 16
	fastOutMargin = 258 + 16
)

// A table entry is a uint32:
//
//	bits 0-4   bits the entry's code takes at its level (codeword length, or for a subtable
//	           entry the codeword length beyond the primary bits); bit 5 is always 0, so that
//	           the entry itself is a shift count (the assembly loop shifts by it and subtracts it
//	           from a bit count of which only the low 6 bits matter)
//	bit 6      entrySub: a pointer to a subtable; bits 8-11 its index bits, value its start
//	bit 7      entryLiteral: a literal byte, value the byte
//	bits 8-11  extra bits after the code (length and distance symbols)
//	bit 12     entrySpecial: end of block (value 0) or an unused code (value 1)
//	bits 16-31 value: literal, length or distance base, precode symbol, subtable start
const (
	entrySub     = 1 << 6
	entryLiteral = 1 << 7
	entrySpecial = 1 << 12

	entryEndOfBlock = entrySpecial
	entryUnused     = 1<<16 | entrySpecial
)

// The entries of every symbol without their code length, per alphabet.
var litlenSymbolEntries, distSymbolEntries, precodeSymbolEntries = symbolEntries()

func symbolEntries() (litlen, dist, precode [numLitlenSyms]uint32) {
	lengthBase := [29]uint32{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra := [29]uint32{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase := [30]uint32{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra := [30]uint32{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	for s := range numLitlenSyms {
		switch {
		case s < 256:
			litlen[s] = uint32(s)<<16 | entryLiteral
		case s == 256:
			litlen[s] = entryEndOfBlock
		case s < 286:
			litlen[s] = lengthBase[s-257]<<16 | lengthExtra[s-257]<<8
		default: // 286 and 287 take part in the fixed code but must not occur
			litlen[s] = entryUnused
		}
	}
	for s := range numDistSyms {
		if s < 30 {
			dist[s] = distBase[s]<<16 | distExtra[s]<<8
		} else {
			dist[s] = entryUnused
		}
	}
	for s := range numPrecodeSyms {
		precode[s] = uint32(s) << 16
	}
	return litlen, dist, precode
}

// precodeOrder is the order of the precode's code lengths in a dynamic block header.
var precodeOrder = [numPrecodeSyms]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// Decompressor decodes DEFLATE (RFC 1951) and gzip (RFC 1952) data held whole in memory. Its
// tables are reused from call to call; it is not safe for concurrent use. The zero value is
// ready to use.
type Decompressor struct {
	litlen  [litlenEnough]uint32
	dist    [distEnough]uint32
	precode [1 << precodeBits]uint32
	lens    [numLitlenSyms + numDistSyms]uint8
}

// Gzip decodes the gzip member at the start of in into out. It returns the bytes of in the
// member takes (header, compressed data, trailer) and the bytes written to out. The member's
// CRC-32 and length are checked. Errors: ErrOutputFull when out is too small, ErrShortInput
// when in ends inside the member, ErrHeaderCRC for a header with a CRC of its own, ErrCorrupt
// (wrapped) otherwise.
func (d *Decompressor) Gzip(in, out []byte) (inN, outN int, err error) {
	pos, err := gzipHeaderLen(in)
	if err != nil {
		return 0, 0, err
	}
	n, outN, err := d.Deflate(in[pos:], out)
	if err != nil {
		return 0, 0, err
	}
	pos += n
	if len(in)-pos < 8 {
		return 0, 0, ErrShortInput
	}
	sum := binary.LittleEndian.Uint32(in[pos:])
	size := binary.LittleEndian.Uint32(in[pos+4:])
	if sum != crc32.ChecksumIEEE(out[:outN]) || size != uint32(outN) {
		return 0, 0, errBadChecksum
	}
	return pos + 8, outN, nil
}

// gzip header flags (RFC 1952, 2.3.1).
const (
	gzipFlagText     = 1 << 0
	gzipFlagHeadCRC  = 1 << 1
	gzipFlagExtra    = 1 << 2
	gzipFlagName     = 1 << 3
	gzipFlagComment  = 1 << 4
	gzipFlagReserved = 0xe0
)

// maxGzipString is the longest file name or comment the gzip readers of Go's standard library
// and klauspost/compress accept (their 512-byte buffer, NUL included).
const maxGzipString = 511

// gzipHeaderLen checks the gzip header at the start of in and returns its length.
func gzipHeaderLen(in []byte) (int, error) {
	if len(in) < 10 {
		if len(in) > 0 && in[0] != 0x1f || len(in) > 1 && in[1] != 0x8b || len(in) > 2 && in[2] != 8 {
			return 0, ErrCorrupt
		}
		return 0, ErrShortInput
	}
	if in[0] != 0x1f || in[1] != 0x8b || in[2] != 8 || in[3]&gzipFlagReserved != 0 {
		return 0, ErrCorrupt
	}
	flags := in[3]
	if flags&gzipFlagHeadCRC != 0 {
		return 0, ErrHeaderCRC
	}
	pos := 10
	if flags&gzipFlagExtra != 0 {
		if len(in)-pos < 2 {
			return 0, ErrShortInput
		}
		pos += 2 + int(binary.LittleEndian.Uint16(in[pos:]))
		if pos > len(in) {
			return 0, ErrShortInput
		}
	}
	for _, f := range [2]byte{gzipFlagName, gzipFlagComment} {
		if flags&f == 0 {
			continue
		}
		end := pos
		for end < len(in) && end-pos <= maxGzipString && in[end] != 0 {
			end++
		}
		if end-pos > maxGzipString {
			return 0, ErrCorrupt // as the streaming gzip readers of Go judge it
		}
		if end == len(in) {
			return 0, ErrShortInput
		}
		pos = end + 1
	}
	return pos, nil
}
