package jpegenc

import (
	"errors"
	"math/bits"
)

// aanScale[k] is cos(kπ/16)·√2 (1 for k = 0): the output scale of the AAN forward DCT,
// divided out in the quantizer multipliers.
var aanScale = [8]float64{1, 1.387039845, 1.306562965, 1.175875602, 1, 0.785694958, 0.541196100, 0.275899379}

const roundMagic = 12582912 // 1.5 × 2^23

// huffCode is a symbol's code, right-aligned, and its length.
type huffCode struct {
	code uint32
	size uint8
}

// stdCodes are the codes of stdHuff, by table then symbol.
var stdCodes = func() (t [4][256]huffCode) {
	for i, s := range stdHuff {
		code, k := uint32(0), 0
		for l, n := range s.counts {
			for range n {
				t[i][s.values[k]] = huffCode{code, uint8(l + 1)}
				code++
				k++
			}
			code <<= 1
		}
	}
	return t
}()

const (
	tableDCLuma = iota
	tableDCChroma
	tableACLuma
	tableACChroma
)

// quantTables returns the two quantization tables (zig-zag order) for a quality, scaled as
// image/jpeg and libjpeg scale them.
func quantTables(quality int) (q [2][64]uint8) {
	quality = min(max(quality, 1), 100)
	scale := 200 - quality*2
	if quality < 50 {
		scale = 5000 / quality
	}
	for i := range q {
		for k, b := range baseQuant[i] {
			q[i][k] = uint8(min(max((int(b)*scale+50)/100, 1), 255))
		}
	}
	return q
}

// Encode420 appends to dst a baseline JFIF JPEG of the w×h image whose Y, Cb and Cr planes
// (full resolution, 8 bits, the given stride) are y, cb and cr: chroma subsampled 4:2:0,
// quantization tables of the quality (1-100) as image/jpeg makes them, standard Huffman
// tables. Samples outside w×h are the edge's, as image/jpeg pads.
func Encode420(dst []byte, y, cb, cr []uint8, stride, w, h, quality int) ([]byte, error) {
	if w <= 0 || h <= 0 || w > 65535 || h > 65535 || stride < w || len(y) < (h-1)*stride+w || len(cb) < (h-1)*stride+w || len(cr) < (h-1)*stride+w {
		return dst, errors.New("jpegenc: bad image dimensions or short planes")
	}
	q := quantTables(quality)
	var mul [2][64]float32 // natural order
	for i := range mul {
		for k, z := range zigzag {
			mul[i][z] = float32(1 / (float64(q[i][k]) * aanScale[z/8] * aanScale[z%8] * 8))
		}
	}
	e := encoder{out: dst}
	e.headers(&q, w, h)
	p := planes{y: y, cb: cb, cr: cr, stride: stride, w: w, h: h}
	var blk [64]float32
	var prevY, prevCb, prevCr int32
	for my := 0; my < (h+15)/16; my++ {
		for mx := 0; mx < (w+15)/16; mx++ {
			for i := range 4 {
				p.lumaBlock(&blk, mx*16+(i&1)*8, my*16+(i>>1)*8)
				prevY = e.block(&blk, &mul[0], prevY, tableDCLuma, tableACLuma)
			}
			p.chromaBlock(&blk, p.cb, mx*16, my*16)
			prevCb = e.block(&blk, &mul[1], prevCb, tableDCChroma, tableACChroma)
			p.chromaBlock(&blk, p.cr, mx*16, my*16)
			prevCr = e.block(&blk, &mul[1], prevCr, tableDCChroma, tableACChroma)
		}
	}
	e.finish()
	e.out = append(e.out, 0xFF, 0xD9)
	return e.out, nil
}

type planes struct {
	y, cb, cr []uint8
	stride    int
	w, h      int
}

// lumaBlock loads the 8×8 luma block at (x0, y0), level-shifted, repeating the last row
// and column past the image's edge.
func (p *planes) lumaBlock(blk *[64]float32, x0, y0 int) {
	if x0+8 <= p.w && y0+8 <= p.h {
		for r := range 8 {
			row := p.y[(y0+r)*p.stride+x0:][:8:8]
			b := blk[r*8 : r*8+8 : r*8+8]
			for c, v := range row {
				b[c] = float32(v) - 128
			}
		}
		return
	}
	for r := range 8 {
		sy := min(y0+r, p.h-1) * p.stride
		for c := range 8 {
			blk[r*8+c] = float32(p.y[sy+min(x0+c, p.w-1)]) - 128
		}
	}
}

// chromaBlock loads the 8×8 block of 2×2 means of plane over the 16×16 MCU at (x0, y0),
// rounded as image/jpeg rounds them, edges repeated.
func (p *planes) chromaBlock(blk *[64]float32, plane []uint8, x0, y0 int) {
	inside := x0+16 <= p.w && y0+16 <= p.h
	for r := range 8 {
		ya, yb := y0+2*r, y0+2*r+1
		if !inside {
			ya, yb = min(ya, p.h-1), min(yb, p.h-1)
		}
		ra, rb := plane[ya*p.stride:], plane[yb*p.stride:]
		for c := range 8 {
			xa, xb := x0+2*c, x0+2*c+1
			if !inside {
				xa, xb = min(xa, p.w-1), min(xb, p.w-1)
			}
			sum := int32(ra[xa]) + int32(ra[xb]) + int32(rb[xa]) + int32(rb[xb])
			blk[r*8+c] = float32((sum+2)>>2) - 128
		}
	}
}

type encoder struct {
	out []byte
	acc uint64
	n   uint
}

// put appends the size (≤ 32) low bits of code. Whole 32-bit words go out at once; a 0 is
// stuffed after every 0xFF byte.
func (e *encoder) put(code uint32, size uint8) {
	e.acc = e.acc<<size | uint64(code)
	e.n += uint(size)
	if e.n < 32 {
		return
	}
	e.n -= 32
	e.bytes(uint32(e.acc >> e.n))
}

// bytes appends a word's four bytes, stuffing after each 0xFF.
func (e *encoder) bytes(word uint32) {
	if hasFF(word) {
		for sh := 24; sh >= 0; sh -= 8 {
			b := byte(word >> sh)
			e.out = append(e.out, b)
			if b == 0xFF {
				e.out = append(e.out, 0)
			}
		}
		return
	}
	e.out = append(e.out, byte(word>>24), byte(word>>16), byte(word>>8), byte(word))
}

// hasFF reports whether any byte of w is 0xFF: then ^w has a zero byte.
func hasFF(w uint32) bool {
	x := ^w
	return (x-0x01010101)&^x&0x80808080 != 0
}

// finish writes the whole bytes left and pads the last one with ones.
func (e *encoder) finish() {
	e.put(0x7F, 7)
	for e.n >= 8 {
		e.n -= 8
		b := byte(e.acc >> e.n)
		e.out = append(e.out, b)
		if b == 0xFF {
			e.out = append(e.out, 0)
		}
	}
}

// huff appends a symbol's code and, for a nonzero value, its magnitude bits (T.81 F.1.2),
// in one put (a code is at most 16 bits, a magnitude 11).
func (e *encoder) huff(table int, run uint8, v int32) {
	a, bitsOf := v, v
	if v < 0 {
		a, bitsOf = -v, v-1
	}
	n := uint8(bits.Len32(uint32(a)))
	c := stdCodes[table][run<<4|n]
	e.put(c.code<<n|uint32(bitsOf)&(1<<n-1), c.size+n)
}

// block transforms, quantizes and writes one block; it returns its DC for the next.
func (e *encoder) block(blk *[64]float32, mul *[64]float32, prevDC int32, dcTable, acTable int) int32 {
	fdct(blk)
	var coef [64]int32 // zig-zag order
	var nonzero uint64 // bit k: coef[k] != 0, k ≥ 1
	for k, z := range zigzag {
		// Adding and removing 1.5·2^23 rounds a float32 of magnitude under 2^22 to the
		// nearest integer without a branch on its sign.
		v := int32(blk[z]*mul[z] + roundMagic - roundMagic)
		coef[k] = v
		if v != 0 {
			nonzero |= 1 << k
		}
	}
	e.huff(dcTable, 0, coef[0]-prevDC)
	last := 0
	for m := nonzero &^ 1; m != 0; m &= m - 1 {
		k := bits.TrailingZeros64(m)
		run := k - last - 1
		for ; run > 15; run -= 16 {
			e.put(stdCodes[acTable][0xF0].code, stdCodes[acTable][0xF0].size)
		}
		// 8-bit samples stay within AC category 10; clamp so rounding cannot pass it.
		e.huff(acTable, uint8(run), min(max(coef[k], -1023), 1023))
		last = k
	}
	if last < 63 {
		e.put(stdCodes[acTable][0x00].code, stdCodes[acTable][0x00].size)
	}
	return coef[0]
}

// fdct is the AAN float forward DCT (libjpeg's jfdctflt.c), in place; output k is scaled
// by 8·aanScale[row]·aanScale[col], which the quantizer multipliers divide out.
func fdct(b *[64]float32) {
	for r := range 8 {
		fdct1D(b, r*8, 1)
	}
	for c := range 8 {
		fdct1D(b, c, 8)
	}
}

func fdct1D(b *[64]float32, o, s int) {
	d := [8]float32{b[o], b[o+s], b[o+2*s], b[o+3*s], b[o+4*s], b[o+5*s], b[o+6*s], b[o+7*s]}
	tmp0, tmp7 := d[0]+d[7], d[0]-d[7]
	tmp1, tmp6 := d[1]+d[6], d[1]-d[6]
	tmp2, tmp5 := d[2]+d[5], d[2]-d[5]
	tmp3, tmp4 := d[3]+d[4], d[3]-d[4]
	// Even part.
	tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
	tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2
	b[o] = tmp10 + tmp11
	b[o+4*s] = tmp10 - tmp11
	z1 := (tmp12 + tmp13) * 0.707106781
	b[o+2*s] = tmp13 + z1
	b[o+6*s] = tmp13 - z1
	// Odd part.
	tmp10 = tmp4 + tmp5
	tmp11 = tmp5 + tmp6
	tmp12 = tmp6 + tmp7
	z5 := (tmp10 - tmp12) * 0.382683433
	z2 := 0.541196100*tmp10 + z5
	z4 := 1.306562965*tmp12 + z5
	z3 := tmp11 * 0.707106781
	z11, z13 := tmp7+z3, tmp7-z3
	b[o+5*s] = z13 + z2
	b[o+3*s] = z13 - z2
	b[o+s] = z11 + z4
	b[o+7*s] = z11 - z4
}

// headers writes SOI, JFIF APP0, DQT, SOF0, DHT and SOS for a 4:2:0 YCbCr image.
func (e *encoder) headers(q *[2][64]uint8, w, h int) {
	e.out = append(e.out, 0xFF, 0xD8)
	e.out = append(e.out, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0)
	e.out = append(e.out, 0xFF, 0xDB, 0, 2+2*65)
	for i := range q {
		e.out = append(e.out, byte(i))
		e.out = append(e.out, q[i][:]...)
	}
	e.out = append(e.out, 0xFF, 0xC0, 0, 17, 8, byte(h>>8), byte(h), byte(w>>8), byte(w), 3,
		1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1)
	n := 2
	for _, s := range stdHuff {
		n += 17 + len(s.values)
	}
	e.out = append(e.out, 0xFF, 0xC4, byte(n>>8), byte(n))
	for i, s := range stdHuff {
		e.out = append(e.out, byte(i&1|(i>>1)<<4))
		e.out = append(e.out, s.counts[:]...)
		e.out = append(e.out, s.values...)
	}
	e.out = append(e.out, 0xFF, 0xDA, 0, 12, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0)
}
