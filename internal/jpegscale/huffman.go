package jpegscale

// lookBits is the width of the Huffman fast-path table: codes of up to 9 bits (nearly every
// DC and AC symbol of a photo) are found with one look-up, longer ones by the canonical
// max-code walk of ITU T.81 F.2.2.3.
const lookBits = 9

type huffTable struct {
	// lut maps the next lookBits bits to length<<8 | symbol; 0 means "longer code".
	lut [1 << lookBits]uint16
	// fastAC maps the next lookBits bits, when they hold an AC code and all of its magnitude
	// bits, to value<<16 | run<<8 | bits used (stb_image's trick): one look-up per
	// coefficient instead of a decode and a receive. 0 means "take the long way".
	fastAC  [1 << lookBits]int32
	maxCode [17]int32 // largest code of each length, -1 if none
	valOff  [17]int32 // index in vals of a code of that length, minus the code
	vals    []uint8
	defined bool
}

// build fills t from a DHT segment's 16 counts and symbols. Over-subscribed tables are
// refused; incomplete ones are legal (their unassigned codes fail when met).
func (t *huffTable) build(counts *[16]uint8, vals []uint8) error {
	*t = huffTable{vals: append([]uint8(nil), vals...), defined: true}
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		t.valOff[l] = k - code
		if code+n > 1<<l {
			return formatError("over-subscribed Huffman table")
		}
		for i := int32(0); i < n; i++ {
			if l <= lookBits {
				shift := lookBits - l
				first := code << shift
				for j := first; j < first+1<<shift; j++ {
					t.lut[j] = uint16(l)<<8 | uint16(vals[k])
				}
			}
			code++
			k++
		}
		t.maxCode[l] = code - 1
		if n == 0 {
			t.maxCode[l] = -1
		}
		code <<= 1
	}
	for i, e := range t.lut {
		l, rs := uint(e>>8), uint8(e)
		r, s := int32(rs>>4), uint(rs&15)
		if e == 0 || s == 0 || l+s > lookBits {
			continue
		}
		v := int32(i>>(lookBits-l-s)) & (1<<s - 1)
		if v < 1<<(s-1) {
			v += -1<<s + 1
		}
		t.fastAC[i] = v<<16 | r<<8 | int32(l+s)
	}
	return nil
}

// bitReader reads the entropy-coded segment MSB first, removing the 0x00 stuffed after
// every 0xFF. It never reads past a marker: at a marker (or the end of the data) it feeds
// zero bytes and counts them, so that a decoder that consumes them can be told the data
// was cut short (see overrun).
type bitReader struct {
	data []byte
	pos  int
	acc  uint64
	n    uint // valid bits, the low n of acc
	fake uint // zero bytes fed past the segment's end; they are the low 8*fake bits of acc
}

func (r *bitReader) reset(pos int) {
	r.pos, r.acc, r.n, r.fake = pos, 0, 0, 0
}

// fill tops acc up to at least 57 bits.
func (r *bitReader) fill() {
	// Fast path: 8 bytes without 0xFF among them go in at once (about one photo byte in
	// 200 is 0xFF, so this is the common case).
	if r.fake == 0 && r.pos+8 <= len(r.data) {
		for r.n <= 56 {
			b := r.data[r.pos]
			if b == 0xFF {
				break
			}
			r.acc = r.acc<<8 | uint64(b)
			r.n += 8
			r.pos++
		}
	}
	for r.n <= 56 {
		var b byte
		if r.fake == 0 && r.pos < len(r.data) {
			b = r.data[r.pos]
			if b != 0xFF {
				r.pos++
			} else if r.pos+1 < len(r.data) && r.data[r.pos+1] == 0 {
				r.pos += 2
			} else {
				b = 0 // a marker: the segment ends here
				r.fake++
			}
		} else {
			r.fake++
		}
		r.acc = r.acc<<8 | uint64(b)
		r.n += 8
	}
}

// overrun reports whether bits past the segment's end have been consumed: valid data never
// needs them (encoders pad the last byte with ones), truncated or corrupt data does.
func (r *bitReader) overrun() bool { return r.n < 8*r.fake }

func (r *bitReader) bit() bool {
	if r.n == 0 {
		r.fill()
	}
	r.n--
	return r.acc>>r.n&1 != 0
}

func (r *bitReader) bits(s uint) int32 {
	if r.n < s {
		r.fill()
	}
	r.n -= s
	return int32(r.acc >> r.n & (1<<s - 1))
}

// receiveExtend reads an s-bit magnitude category value and sign-extends it (T.81 F.2.2.1).
func (r *bitReader) receiveExtend(s uint) int32 {
	if s == 0 {
		return 0
	}
	v := r.bits(s)
	if v < 1<<(s-1) {
		v += -1<<s + 1
	}
	return v
}

func (r *bitReader) decode(t *huffTable) (uint8, error) {
	if r.n < 16 {
		r.fill()
	}
	if e := t.lut[r.acc>>(r.n-lookBits)&(1<<lookBits-1)]; e != 0 {
		r.n -= uint(e >> 8)
		return uint8(e), nil
	}
	code := int32(r.acc >> (r.n - 16) & 0xFFFF)
	for l := lookBits + 1; l <= 16; l++ {
		c := code >> (16 - l)
		if c <= t.maxCode[l] {
			r.n -= uint(l)
			i := c + t.valOff[l]
			if i < 0 || int(i) >= len(t.vals) {
				break
			}
			return t.vals[i], nil
		}
	}
	return 0, formatError("bad Huffman code")
}
