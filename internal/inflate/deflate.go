package inflate

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// The fixed code's tables (RFC 1951, 3.2.6), built once.
var fixedLitlen, fixedDist = fixedTables()

func fixedTables() (litlen *[litlenEnough]uint32, dist *[distEnough]uint32) {
	litlen, dist = new([litlenEnough]uint32), new([distEnough]uint32)
	var lens [numLitlenSyms]uint8
	for s := range lens {
		switch {
		case s < 144:
			lens[s] = 8
		case s < 256:
			lens[s] = 9
		case s < 280:
			lens[s] = 7
		default:
			lens[s] = 8
		}
	}
	if !buildTable(litlen[:], lens[:], countLengths(lens[:]), &litlenSymbolEntries, litlenTableBits) {
		panic("inflate: fixed literal/length code")
	}
	for s := range numDistSyms {
		lens[s] = 5
	}
	if !buildTable(dist[:], lens[:numDistSyms], countLengths(lens[:numDistSyms]), &distSymbolEntries, distTableBits) {
		panic("inflate: fixed distance code")
	}
	return litlen, dist
}

// bitReader reads the input least significant bit first. buf holds n valid bits; the bits above
// them are either zero or the input's next bits, so ORing new bytes in over them is harmless. pos
// is the next byte to load and runs past len(in) by the zero bytes loaded after the end; the
// input taken so far is pos - n/8 bytes.
type bitReader struct {
	in  []byte
	pos int
	buf uint64
	n   uint
}

// refill makes n 56 to 63 (never 64: the fast loops shift by n mod 64), loading zeros past
// the end of the input.
func (br *bitReader) refill() {
	if br.pos <= len(br.in)-8 {
		br.buf |= binary.LittleEndian.Uint64(br.in[br.pos:]) << br.n
		br.pos += int((63 - br.n) >> 3)
		br.n |= 56
		return
	}
	for br.n < 56 {
		if br.pos < len(br.in) {
			br.buf |= uint64(br.in[br.pos]) << br.n
		}
		br.pos++
		br.n += 8
	}
}

// taken is the input consumed so far, whole bytes rounded up.
func (br *bitReader) taken() int { return br.pos - int(br.n>>3) }

// overrun reports whether the bits consumed run past the end of the input.
func (br *bitReader) overrun() bool { return br.taken() > len(br.in) }

func (br *bitReader) consume(k uint) {
	br.buf >>= k & 63
	br.n -= k
}

// Deflate decodes the DEFLATE stream at the start of in into out and returns the bytes of in it
// takes (up to the byte holding the final block's last bit) and the bytes written to out.
// Errors as for Gzip.
func (d *Decompressor) Deflate(in, out []byte) (inN, outN int, err error) {
	br := bitReader{in: in}
	o := 0
	for {
		br.refill()
		final := br.buf&1 != 0
		blockType := br.buf >> 1 & 3
		br.consume(3)
		switch blockType {
		case 0:
			o, err = storedBlock(&br, out, o)
		case 1:
			o, err = decodeBlock(&br, out, o, fixedLitlen, fixedDist)
		case 2:
			if err = d.readDynamicHeader(&br); err == nil {
				o, err = decodeBlock(&br, out, o, &d.litlen, &d.dist)
			}
		default:
			err = fmt.Errorf("%w: reserved block type", ErrCorrupt)
		}
		if br.overrun() {
			return 0, 0, ErrShortInput
		}
		if err != nil {
			return 0, 0, err
		}
		if final {
			return br.taken(), o, nil
		}
	}
}

// storedBlock copies a stored block's bytes, after aligning the input to a byte.
func storedBlock(br *bitReader, out []byte, o int) (int, error) {
	br.consume(br.n & 7)
	br.pos = br.taken()
	br.buf, br.n = 0, 0
	if br.pos > len(br.in)-4 {
		return o, ErrShortInput
	}
	length := int(binary.LittleEndian.Uint16(br.in[br.pos:]))
	if uint16(length) != ^binary.LittleEndian.Uint16(br.in[br.pos+2:]) {
		return o, fmt.Errorf("%w: stored block length check", ErrCorrupt)
	}
	br.pos += 4
	if length > len(br.in)-br.pos {
		return o, ErrShortInput
	}
	if length > len(out)-o {
		return o, ErrOutputFull
	}
	o += copy(out[o:], br.in[br.pos:br.pos+length])
	br.pos += length
	return o, nil
}

// readDynamicHeader reads a dynamic block's code lengths and builds its tables.
func (d *Decompressor) readDynamicHeader(br *bitReader) error {
	br.refill()
	numLitlen := int(br.buf&31) + 257
	numDist := int(br.buf>>5&31) + 1
	numPrecode := int(br.buf>>10&15) + 4
	br.consume(14)
	if numLitlen > 286 || numDist > 30 {
		return fmt.Errorf("%w: %d literal/length or %d distance codes", ErrCorrupt, numLitlen, numDist)
	}
	var precodeLens [numPrecodeSyms]uint8
	for i := range numPrecode {
		if br.n < 3 {
			br.refill()
		}
		precodeLens[precodeOrder[i]] = uint8(br.buf & 7)
		br.consume(3)
	}
	if !buildTable(d.precode[:], precodeLens[:], countLengths(precodeLens[:]), &precodeSymbolEntries, precodeBits) {
		return fmt.Errorf("%w: code length code", ErrCorrupt)
	}
	total := numLitlen + numDist
	lens := d.lens[:]
	// The lengths are counted as they are read: a pass of its own over them cost more. The bit
	// reader's state is kept in locals here, as in the block loop.
	var litlenCount, distCount [maxCodeLen + 1]int
	in, buf, n, pos := br.in, br.buf, br.n, br.pos
	for i := 0; i < total; {
		if n < 7+7 {
			if pos <= len(in)-8 {
				buf |= binary.LittleEndian.Uint64(in[pos:]) << (n & 63)
				pos += int((63 - n) >> 3)
				n |= 56
			} else {
				br.buf, br.n, br.pos = buf, n, pos
				br.refill()
				if br.overrun() {
					return ErrShortInput
				}
				buf, n, pos = br.buf, br.n, br.pos
			}
		}
		e := d.precode[buf&(1<<precodeBits-1)]
		if e&entrySpecial != 0 {
			return fmt.Errorf("%w: unused code length code", ErrCorrupt)
		}
		buf >>= e & 31
		n -= uint(e & 31)
		sym := e >> 16
		if sym < 16 {
			lens[i] = uint8(sym)
			if i < numLitlen {
				litlenCount[sym]++
			} else {
				distCount[sym]++
			}
			i++
			continue
		}
		var rep int
		var fill uint8
		switch sym {
		case 16:
			if i == 0 {
				return fmt.Errorf("%w: repeat with no previous length", ErrCorrupt)
			}
			fill = lens[i-1]
			rep = 3 + int(buf&3)
			buf >>= 2
			n -= 2
		case 17:
			rep = 3 + int(buf&7)
			buf >>= 3
			n -= 3
		default:
			rep = 11 + int(buf&127)
			buf >>= 7
			n -= 7
		}
		if i+rep > total {
			return fmt.Errorf("%w: code lengths run past their count", ErrCorrupt)
		}
		for j := range rep {
			lens[i+j] = fill
		}
		inLitlen := max(0, min(i+rep, numLitlen)-i)
		litlenCount[fill] += inLitlen
		distCount[fill] += rep - inLitlen
		i += rep
	}
	br.buf, br.n, br.pos = buf, n, pos
	if lens[256] == 0 {
		return fmt.Errorf("%w: no end-of-block code", ErrCorrupt)
	}
	if !buildTable(d.litlen[:], lens[:numLitlen], &litlenCount, &litlenSymbolEntries, litlenTableBits) ||
		!buildTable(d.dist[:], lens[numLitlen:total], &distCount, &distSymbolEntries, distTableBits) {
		return fmt.Errorf("%w: literal/length or distance code", ErrCorrupt)
	}
	return nil
}

// countLengths counts the codes of each length.
func countLengths(lens []uint8) *[maxCodeLen + 1]int {
	var count [maxCodeLen + 1]int
	for _, l := range lens {
		count[l&maxCodeLen]++
	}
	return &count
}

// buildTable fills table with the decode entries of the canonical code whose lengths are lens
// (0: the symbol has no code; symbols past len(lens) have none), lengthCounts counting them. It
// reports false for a code that is over-subscribed, or incomplete other than as Go's own decoders
// allow: no codes at all (an error only when a symbol is decoded) or a single code of length 1.
func buildTable(table []uint32, lens []uint8, lengthCounts *[maxCodeLen + 1]int, symEntries *[numLitlenSyms]uint32, tableBits uint) bool {
	count := *lengthCounts
	count[0] = 0
	left, total, maxLen := 1, 0, 0
	for l := 1; l <= maxCodeLen; l++ {
		left = left<<1 - count[l]
		if left < 0 {
			return false
		}
		if count[l] != 0 {
			maxLen = l
		}
		total += count[l]
	}
	primary := 1 << tableBits
	if left != 0 {
		if total != 0 && !(total == 1 && count[1] == 1) {
			return false
		}
		for i := range primary {
			table[i] = entryUnused
		}
		if total == 0 {
			return true
		}
	}
	// Symbols sorted by code length, then by value: the order canonical codes are given in.
	var offsets [maxCodeLen + 2]int
	for l := 1; l <= maxCodeLen; l++ {
		offsets[l+1] = offsets[l] + count[l]
	}
	var sorted [numLitlenSyms]uint16
	for s, l := range lens {
		if l != 0 {
			sorted[offsets[l]] = uint16(s)
			offsets[l]++
		}
	}
	code, i := 0, 0
	nextSub, subPrefix, subStart, subBits := primary, -1, 0, 0
	// A complete code fills the primary table by doubling: after the codes of length l are
	// placed in its first 2^l entries, those entries are copied once to the next 2^l. Entries
	// still unfilled (garbage from an earlier table) are the prefixes of longer codes, which
	// overwrite them. An incomplete code has its entries replicated one by one instead.
	complete := left == 0
	for l := 1; l <= maxLen; l++ {
		if complete && uint(l) <= tableBits && l > 1 {
			copy(table[1<<(l-1):1<<l], table[:1<<(l-1)])
		}
		for range count[l] {
			e := symEntries[sorted[i]]
			i++
			rev := int(bits.Reverse16(uint16(code)) >> (16 - l))
			if uint(l) <= tableBits {
				e |= uint32(l)
				if complete {
					table[rev] = e
				} else {
					for j := rev; j < primary; j += 1 << l {
						table[j] = e
					}
				}
			} else {
				if prefix := rev & (primary - 1); prefix != subPrefix {
					// A new subtable, as large as the codes left that share this prefix need.
					subBits = l - int(tableBits)
					room := 1 << subBits
					for subBits+int(tableBits) < maxLen {
						room -= count[subBits+int(tableBits)]
						if room <= 0 {
							break
						}
						subBits++
						room <<= 1
					}
					subPrefix, subStart = prefix, nextSub
					nextSub += 1 << subBits
					if nextSub > len(table) {
						return false
					}
					table[prefix] = uint32(subStart)<<16 | uint32(subBits)<<8 | entrySub | uint32(tableBits)
				}
				e |= uint32(l - int(tableBits))
				for j := rev >> tableBits; j < 1<<subBits; j += 1 << (l - int(tableBits)) {
					table[subStart+j] = e
				}
			}
			code++
			count[l]-- // the subtable sizing above counts the codes not yet placed
		}
		code <<= 1
	}
	if complete {
		for l := max(maxLen, 1); uint(l) < tableBits; l++ {
			copy(table[1<<l:2<<l], table[:1<<l])
		}
	}
	return true
}

// fastState is the fast loop's state as decodeFastBMI2 reads and saves it.
type fastState struct {
	in       *byte
	pos      int
	inLimit  int // the last pos with fastInMargin bytes from it
	out      *byte
	o        int
	outLimit int // the last o with fastOutMargin bytes from it
	buf      uint64
	n        uint64
}

// Why decodeFastBMI2 stopped.
const (
	fastStopLimit      = iota // near the end of the input or of the output
	fastStopEndOfBlock        // after the end-of-block code
	fastStopBadLitlen         // an unused literal/length code
	fastStopBadDist           // an unused distance code
	fastStopFar               // a distance before the start of the output
	fastStopTable             // a subtable index past the table (never, with tables built here)
)

// decodeBlock decodes one Huffman-coded block's symbols into out from o on: in assembly where
// the CPU has BMI2 (amd64), else in Go; the last symbols, near the end of the input or of out,
// in decodeBlockSlow.
func decodeBlock(br *bitReader, out []byte, o int, litlen *[litlenEnough]uint32, dist *[distEnough]uint32) (int, error) {
	if !haveFastAsm {
		return decodeBlockGo(br, out, o, litlen, dist)
	}
	if br.pos > len(br.in)-fastInMargin || o > len(out)-fastOutMargin {
		return decodeBlockSlow(br, out, o, litlen, dist)
	}
	s := fastState{
		in: &br.in[0], pos: br.pos, inLimit: len(br.in) - fastInMargin,
		out: &out[0], o: o, outLimit: len(out) - fastOutMargin,
		buf: br.buf, n: uint64(br.n),
	}
	stop := decodeFastBMI2(&s, litlen, dist)
	br.pos, br.buf, br.n, o = s.pos, s.buf, uint(s.n), s.o
	switch stop {
	case fastStopLimit:
		return decodeBlockSlow(br, out, o, litlen, dist)
	case fastStopEndOfBlock:
		return o, nil
	case fastStopBadLitlen:
		return o, fmt.Errorf("%w: unused literal/length code", ErrCorrupt)
	case fastStopBadDist:
		return o, fmt.Errorf("%w: unused distance code", ErrCorrupt)
	case fastStopFar:
		return o, fmt.Errorf("%w: distance before the start of the output", ErrCorrupt)
	}
	return o, fmt.Errorf("%w: subtable index past the table", ErrCorrupt)
}

// decodeBlockGo is decodeBlock in Go.
func decodeBlockGo(br *bitReader, out []byte, o int, litlen *[litlenEnough]uint32, dist *[distEnough]uint32) (int, error) {
	in := br.in
	buf, n, pos := br.buf, br.n, br.pos
	if pos > len(in)-fastInMargin || o > len(out)-fastOutMargin {
		return decodeBlockSlow(br, out, o, litlen, dist)
	}
	// Fast loop: room for a refill's 8-byte load and for the longest match with a chunked copy's
	// overshoot, so no bounds are checked but the ones Go adds. Each turn starts with at least 56
	// bits in buf (the longest length code with its extra bits and the longest distance code with
	// its extra bits take 15+5+15+13 = 48) and the next symbol's entry looked up: after a literal
	// it is looked up before the refill, which then runs beside the next symbol's decoding.
	buf |= binary.LittleEndian.Uint64(in[pos:]) << (n & 63)
	pos += int((63 - n) >> 3)
	n |= 56
	e := litlen[buf&(1<<litlenTableBits-1)]
	for {
		if e&entrySub != 0 {
			buf >>= litlenTableBits
			n -= litlenTableBits
			e = litlen[e>>16+uint32(buf)&(1<<(e>>8&15)-1)]
		}
		buf >>= e & 31
		n -= uint(e & 31)
		if e&entryLiteral != 0 {
			out[o] = byte(e >> 16)
			o++
			e = litlen[buf&(1<<litlenTableBits-1)] // 41 bits left: enough for any code
			buf |= binary.LittleEndian.Uint64(in[pos:]) << (n & 63)
			pos += int((63 - n) >> 3)
			n |= 56
			if pos > len(in)-fastInMargin || o > len(out)-fastOutMargin {
				break
			}
			continue
		}
		if e&entrySpecial != 0 {
			br.buf, br.n, br.pos = buf, n, pos
			if e>>16 == 0 {
				return o, nil
			}
			return o, fmt.Errorf("%w: unused literal/length code", ErrCorrupt)
		}
		extra := e >> 8 & 15
		length := int(e>>16) + int(buf&(1<<extra-1))
		buf >>= extra
		n -= uint(extra)

		e = dist[buf&(1<<distTableBits-1)]
		if e&entrySub != 0 {
			buf >>= distTableBits
			n -= distTableBits
			e = dist[e>>16+uint32(buf)&(1<<(e>>8&15)-1)]
		}
		buf >>= e & 31
		n -= uint(e & 31)
		if e&entrySpecial != 0 {
			br.buf, br.n, br.pos = buf, n, pos
			return o, fmt.Errorf("%w: unused distance code", ErrCorrupt)
		}
		extra = e >> 8 & 15
		distance := int(e>>16) + int(buf&(1<<extra-1))
		buf >>= extra
		n -= uint(extra)
		if distance > o {
			br.buf, br.n, br.pos = buf, n, pos
			return o, fmt.Errorf("%w: distance before the start of the output", ErrCorrupt)
		}
		buf |= binary.LittleEndian.Uint64(in[pos:]) << (n & 63)
		pos += int((63 - n) >> 3)
		n |= 56
		e = litlen[buf&(1<<litlenTableBits-1)]
		src := o - distance
		switch {
		case distance >= 8:
			// Most matches are short: two words unconditionally, then the rest.
			binary.LittleEndian.PutUint64(out[o:], binary.LittleEndian.Uint64(out[src:]))
			binary.LittleEndian.PutUint64(out[o+8:], binary.LittleEndian.Uint64(out[src+8:]))
			for k := 16; k < length; k += 8 {
				binary.LittleEndian.PutUint64(out[o+k:], binary.LittleEndian.Uint64(out[src+k:]))
			}
		case distance == 1:
			v := uint64(out[src]) * 0x0101010101010101
			for k := 0; k < length; k += 8 {
				binary.LittleEndian.PutUint64(out[o+k:], v)
			}
		default:
			for k := range length {
				out[o+k] = out[src+k]
			}
		}
		o += length
		if pos > len(in)-fastInMargin || o > len(out)-fastOutMargin {
			break
		}
	}
	br.buf, br.n, br.pos = buf, n, pos
	return decodeBlockSlow(br, out, o, litlen, dist)
}

// decodeBlockSlow is decodeBlock near the end of the input or of the output: every read and write
// is checked.
func decodeBlockSlow(br *bitReader, out []byte, o int, litlen *[litlenEnough]uint32, dist *[distEnough]uint32) (int, error) {
	for {
		br.refill()
		if br.overrun() {
			return o, ErrShortInput
		}
		e := litlen[br.buf&(1<<litlenTableBits-1)]
		if e&entrySub != 0 {
			br.consume(litlenTableBits)
			e = litlen[(e>>16 + uint32(br.buf)&(1<<(e>>8&15)-1))]
		}
		br.consume(uint(e & 31))
		if e&entryLiteral != 0 {
			if o == len(out) {
				return o, ErrOutputFull
			}
			out[o] = byte(e >> 16)
			o++
			continue
		}
		if e&entrySpecial != 0 {
			if e>>16 == 0 {
				return o, nil
			}
			return o, fmt.Errorf("%w: unused literal/length code", ErrCorrupt)
		}
		extra := uint(e >> 8 & 15)
		length := int(e>>16) + int(br.buf&(1<<extra-1))
		br.consume(extra)
		e = dist[br.buf&(1<<distTableBits-1)]
		if e&entrySub != 0 {
			br.consume(distTableBits)
			e = dist[(e>>16 + uint32(br.buf)&(1<<(e>>8&15)-1))]
		}
		br.consume(uint(e & 31))
		if e&entrySpecial != 0 {
			return o, fmt.Errorf("%w: unused distance code", ErrCorrupt)
		}
		extra = uint(e >> 8 & 15)
		distance := int(e>>16) + int(br.buf&(1<<extra-1))
		br.consume(extra)
		if br.overrun() {
			return o, ErrShortInput
		}
		if distance > o {
			return o, fmt.Errorf("%w: distance before the start of the output", ErrCorrupt)
		}
		if length > len(out)-o {
			return o, ErrOutputFull
		}
		for k, src := 0, o-distance; k < length; k++ {
			out[o+k] = out[src+k]
		}
		o += length
	}
}
