package jpegscale

import (
	"errors"
	"fmt"
	"image"
	"math/bits"
)

// ErrUnsupported marks a valid JPEG this decoder does not handle (arithmetic coding,
// lossless or hierarchical processes, 12-bit samples, CMYK or RGB colour, chroma layouts
// image.YCbCr cannot hold): decode those with image/jpeg.
var ErrUnsupported = errors.New("jpegscale: unsupported JPEG")

// ErrTooManyScans refuses a file of more than MaxScans scans: each scan walks every block of
// its components, so a small file of many empty progressive scans over a large frame would
// take minutes. image/jpeg has no such limit, so callers should not fall back to it.
var ErrTooManyScans = FormatError(fmt.Sprintf("more than %d scans", MaxScans))

// MaxScans bounds the scans of one file. Encoders write 1 (baseline) to about 12 (libjpeg's
// progressive script for YCbCr); jpegtran's most detailed scripts stay in the tens.
const MaxScans = 1000

// FormatError is malformed or truncated data.
type FormatError string

func (e FormatError) Error() string { return "jpegscale: invalid JPEG: " + string(e) }

func formatError(msg string) error { return FormatError(msg) }

func unsupported(what string) error { return fmt.Errorf("%w: %s", ErrUnsupported, what) }

// Markers (ITU T.81 table B.1).
const (
	mSOF0 = 0xC0 // baseline
	mSOF1 = 0xC1 // extended sequential, Huffman
	mSOF2 = 0xC2 // progressive, Huffman
	mDHT  = 0xC4
	mDAC  = 0xCC // arithmetic coding conditioning
	mRST0 = 0xD0
	mRST7 = 0xD7
	mSOI  = 0xD8
	mEOI  = 0xD9
	mSOS  = 0xDA
	mDQT  = 0xDB
	mDNL  = 0xDC
	mDRI  = 0xDD
	mAPP0 = 0xE0
	mAPPE = 0xEE
)

type component struct {
	id     uint8
	h, v   int // sampling factors
	tq     uint8
	bw, bh int // blocks per row and column, padded to whole MCUs
	// coverW, coverH: blocks a non-interleaved scan of this component codes.
	coverW, coverH int
	pix            []uint8 // the output plane, (bw·n) × (bh·n)
	stride         int
	coefs          []int16  // progressive only: bw·bh blocks of 64, zig-zag order
	nonzero        []uint64 // progressive only: per block, bit k set once coefficient k is nonzero
	dcPred         int32
	dc, ac         *huffTable // this scan's tables
}

type decoder struct {
	bitReader
	scale       int
	idct        *scaledIDCT
	width       int
	height      int
	progressive bool
	comps       []component
	hmax, vmax  int
	mcusX       int
	mcusY       int
	quant       [4][64]float32 // zig-zag order
	quantSet    [4]bool
	huff        [2][4]huffTable // class 0 DC, 1 AC
	restart     int             // restart interval in MCUs, 0 = none
	eobrun      int32
	jfif        bool
	adobe       bool
	adobeXform  uint8
	frameSeen   bool
	scans       int
	blk         [64]float32
}

// Decode decodes a baseline or progressive JPEG at 1/scale of its size (scale 1, 2, 4 or
// 8): ⌈width/scale⌉ × ⌈height/scale⌉ pixels, each the mean of the scale×scale pixels a full
// decode would give (up to rounding). The result is an *image.YCbCr in the file's chroma
// subsampling or an *image.Gray. At scale 1 it is a full decode (AAN float IDCT), about
// twice as fast as image/jpeg's.
//
// The caller bounds the image's size from its header before calling (imgproc does): the
// output planes and, for progressive files, 2 bytes per coefficient are allocated from it.
// Errors are a FormatError or wrap ErrUnsupported.
func Decode(data []byte, scale int) (image.Image, error) {
	d := &decoder{scale: scale, idct: idcts[scale]}
	if d.idct == nil {
		return nil, fmt.Errorf("jpegscale: scale %d is not 1, 2, 4 or 8", scale)
	}
	d.data = data
	if err := d.run(); err != nil {
		return nil, err
	}
	return d.image(), nil
}

// Scale returns the largest scale in {1, 2, 4, 8} that still leaves at least minW × minH
// pixels of a w × h image.
func Scale(w, h, minW, minH int) int {
	s := 8
	for s > 1 && ((w+s-1)/s < minW || (h+s-1)/s < minH) {
		s /= 2
	}
	return s
}

func (d *decoder) run() error {
	if len(d.data) < 2 || d.data[0] != 0xFF || d.data[1] != mSOI {
		return formatError("missing SOI marker")
	}
	d.pos = 2
	for {
		m, err := d.nextMarker()
		if err != nil {
			return err
		}
		if m == mEOI {
			break
		}
		if m == 0x01 || (m >= mRST0 && m <= mRST7) { // TEM and stray restarts carry no length
			continue
		}
		if d.pos+2 > len(d.data) {
			return formatError("short segment length")
		}
		n := int(d.data[d.pos])<<8 | int(d.data[d.pos+1])
		if n < 2 || d.pos+n > len(d.data) {
			return formatError("bad segment length")
		}
		seg := d.data[d.pos+2 : d.pos+n]
		d.pos += n
		switch {
		case m == mSOF0 || m == mSOF1 || m == mSOF2:
			err = d.frame(seg, m == mSOF2)
		case m >= 0xC3 && m <= 0xCF && m != mDHT && m != 0xC8 && m != mDAC:
			err = unsupported(fmt.Sprintf("SOF%d process", m-0xC0))
		case m == mDAC:
			err = unsupported("arithmetic coding")
		case m == mDHT:
			err = d.dht(seg)
		case m == mDQT:
			err = d.dqt(seg)
		case m == mDRI:
			if len(seg) != 2 {
				return formatError("bad DRI length")
			}
			d.restart = int(seg[0])<<8 | int(seg[1])
		case m == mDNL:
			err = unsupported("DNL marker")
		case m == mAPP0:
			d.jfif = d.jfif || len(seg) >= 5 && string(seg[:5]) == "JFIF\x00"
		case m == mAPPE:
			if len(seg) >= 12 && string(seg[:5]) == "Adobe" {
				d.adobe, d.adobeXform = true, seg[11]
			}
		case m == mSOS:
			err = d.scan(seg)
		}
		if err != nil {
			return err
		}
	}
	if !d.frameSeen {
		return formatError("no frame before EOI")
	}
	// Decided at the end, as image/jpeg does: APP0 and APP14 may follow the frame header.
	if len(d.comps) == 3 && d.isRGB() {
		return unsupported("RGB colour")
	}
	if d.progressive {
		for _, c := range d.comps {
			if !d.quantSet[c.tq] {
				return formatError("undefined quantization table")
			}
		}
		d.reconstruct()
	}
	return nil
}

// nextMarker skips to the next marker, past fill bytes and stray data, and returns its code.
func (d *decoder) nextMarker() (byte, error) {
	for {
		for d.pos < len(d.data) && d.data[d.pos] != 0xFF {
			d.pos++
		}
		for d.pos < len(d.data) && d.data[d.pos] == 0xFF {
			d.pos++
		}
		if d.pos >= len(d.data) {
			return 0, formatError("missing EOI marker")
		}
		m := d.data[d.pos]
		d.pos++
		if m != 0 { // 0xFF00 is stuffed data, not a marker
			return m, nil
		}
	}
}

func (d *decoder) frame(seg []byte, progressive bool) error {
	if d.frameSeen {
		return formatError("more than one frame")
	}
	d.frameSeen, d.progressive = true, progressive
	if len(seg) < 6 {
		return formatError("short SOF")
	}
	if seg[0] != 8 {
		return unsupported(fmt.Sprintf("%d-bit samples", seg[0]))
	}
	d.height = int(seg[1])<<8 | int(seg[2])
	d.width = int(seg[3])<<8 | int(seg[4])
	nc := int(seg[5])
	if d.height == 0 {
		return unsupported("height given by DNL")
	}
	if d.width == 0 {
		return formatError("zero width")
	}
	if nc != 1 && nc != 3 {
		return unsupported(fmt.Sprintf("%d components", nc))
	}
	if len(seg) != 6+3*nc {
		return formatError("bad SOF length")
	}
	d.comps = make([]component, nc)
	for i := range d.comps {
		c := &d.comps[i]
		c.id, c.h, c.v, c.tq = seg[6+3*i], int(seg[7+3*i]>>4), int(seg[7+3*i]&15), seg[8+3*i]
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 || c.tq > 3 {
			return formatError("bad component parameters")
		}
		for j := range i {
			if d.comps[j].id == c.id {
				return formatError("repeated component ID")
			}
		}
	}
	if nc == 1 {
		// A lone component is non-interleaved by definition (T.81 A.2): its factors mean nothing.
		d.comps[0].h, d.comps[0].v = 1, 1
	} else {
		// The layouts image.YCbCr holds, as image/jpeg accepts them: Y's factors a multiple of
		// the chroma's, both chroma components alike.
		y, cb, cr := d.comps[0], d.comps[1], d.comps[2]
		switch [2]int{y.h, y.v} {
		case [2]int{1, 1}, [2]int{1, 2}, [2]int{2, 1}, [2]int{2, 2}, [2]int{4, 1}, [2]int{4, 2}:
		default:
			return unsupported(fmt.Sprintf("luma sampling %dx%d", y.h, y.v))
		}
		if y.h%cb.h != 0 || y.v%cb.v != 0 || cr.h != cb.h || cr.v != cb.v {
			return unsupported("chroma sampling")
		}
		if d.isRGB() { // checked again at the end, for markers after this one
			return unsupported("RGB colour")
		}
	}
	for _, c := range d.comps {
		d.hmax, d.vmax = max(d.hmax, c.h), max(d.vmax, c.v)
	}
	d.mcusX = (d.width + 8*d.hmax - 1) / (8 * d.hmax)
	d.mcusY = (d.height + 8*d.vmax - 1) / (8 * d.vmax)
	n := d.idct.n
	for i := range d.comps {
		c := &d.comps[i]
		c.bw, c.bh = d.mcusX*c.h, d.mcusY*c.v
		cw := (d.width*c.h + d.hmax - 1) / d.hmax
		ch := (d.height*c.v + d.vmax - 1) / d.vmax
		c.coverW, c.coverH = (cw+7)/8, (ch+7)/8
		c.stride = c.bw * n
		c.pix = make([]uint8, c.stride*c.bh*n)
		if progressive {
			c.coefs = make([]int16, c.bw*c.bh*64)
			c.nonzero = make([]uint64, c.bw*c.bh)
		}
	}
	return nil
}

// isRGB follows image/jpeg: a JFIF file is YCbCr; Adobe's transform 0 means RGB; else
// component IDs 'R', 'G', 'B' do.
func (d *decoder) isRGB() bool {
	if d.jfif {
		return false
	}
	if d.adobe && d.adobeXform == 0 {
		return true
	}
	return d.comps[0].id == 'R' && d.comps[1].id == 'G' && d.comps[2].id == 'B'
}

func (d *decoder) dqt(seg []byte) error {
	for len(seg) > 0 {
		pq, tq := seg[0]>>4, seg[0]&15
		if tq > 3 || pq > 1 {
			return formatError("bad DQT table")
		}
		size := 1 + 64*(1+int(pq))
		if len(seg) < size {
			return formatError("short DQT")
		}
		for k := range 64 {
			if pq == 0 {
				d.quant[tq][k] = float32(seg[1+k])
			} else {
				d.quant[tq][k] = float32(int(seg[1+2*k])<<8 | int(seg[2+2*k]))
			}
		}
		if d.scale == 1 { // idct8's AAN factors, and its 1/8
			for k, z := range unzig {
				d.quant[tq][k] *= float32(aanScale[z/8] * aanScale[z%8] / 8)
			}
		}
		d.quantSet[tq] = true
		seg = seg[size:]
	}
	return nil
}

func (d *decoder) dht(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return formatError("short DHT")
		}
		tc, th := seg[0]>>4, seg[0]&15
		if tc > 1 || th > 3 {
			return formatError("bad DHT table")
		}
		var counts [16]uint8
		total := 0
		for i := range counts {
			counts[i] = seg[1+i]
			total += int(counts[i])
		}
		if total > 256 || len(seg) < 17+total {
			return formatError("bad DHT counts")
		}
		if err := d.huff[tc][th].build(&counts, seg[17:17+total]); err != nil {
			return err
		}
		seg = seg[17+total:]
	}
	return nil
}

// scan decodes one SOS segment's entropy-coded data, which starts right after it.
func (d *decoder) scan(seg []byte) error {
	if !d.frameSeen {
		return formatError("scan before frame")
	}
	if len(seg) < 1 {
		return formatError("short SOS")
	}
	if d.scans++; d.scans > MaxScans {
		return ErrTooManyScans
	}
	ns := int(seg[0])
	if ns < 1 || ns > len(d.comps) || len(seg) != 4+2*ns {
		return formatError("bad SOS length")
	}
	comps := make([]*component, ns)
	for i := range ns {
		id, tables := seg[1+2*i], seg[2+2*i]
		for j := range d.comps {
			if d.comps[j].id == id {
				comps[i] = &d.comps[j]
			}
		}
		c := comps[i]
		if c == nil {
			return formatError("scan names an unknown component")
		}
		if tables>>4 > 3 || tables&15 > 3 {
			return formatError("bad scan table selector")
		}
		c.dc, c.ac = &d.huff[0][tables>>4], &d.huff[1][tables&15]
		c.dcPred = 0
	}
	ss, se, ah, al := int(seg[1+2*ns]), int(seg[2+2*ns]), uint(seg[3+2*ns]>>4), uint(seg[3+2*ns]&15)
	if d.progressive {
		if ss > se || se > 63 || (ss == 0 && se != 0) || (ss > 0 && ns != 1) || al > 13 || ah > 13 {
			return formatError("bad progressive scan parameters")
		}
	} else {
		ss, se, ah, al = 0, 63, 0, 0
	}
	for _, c := range comps {
		if (ss == 0 && ah == 0 && !c.dc.defined) || (se > 0 && !c.ac.defined) {
			return formatError("scan uses an undefined Huffman table")
		}
		if !d.progressive && !d.quantSet[c.tq] {
			return formatError("scan uses an undefined quantization table")
		}
	}
	block := d.blockFunc(ss, se, ah, al)

	d.reset(d.pos)
	d.eobrun = 0
	mcus, perRow := d.mcusX*d.mcusY, d.mcusX
	if ns == 1 {
		mcus, perRow = comps[0].coverW*comps[0].coverH, comps[0].coverW
	}
	rst := 0
	for mcu := 0; mcu < mcus; mcu++ {
		if d.restart > 0 && mcu > 0 && mcu%d.restart == 0 {
			if err := d.readRST(rst); err != nil {
				return err
			}
			rst = (rst + 1) & 7
			for _, c := range comps {
				c.dcPred = 0
			}
			d.eobrun = 0
		}
		mx, my := mcu%perRow, mcu/perRow
		if ns == 1 {
			if err := block(comps[0], mx, my); err != nil {
				return err
			}
		} else {
			for _, c := range comps {
				for by := range c.v {
					for bx := range c.h {
						if err := block(c, mx*c.h+bx, my*c.v+by); err != nil {
							return err
						}
					}
				}
			}
		}
		if d.overrun() {
			return formatError("entropy-coded data cut short")
		}
	}
	// The marker loop continues from here, skipping what is left of the scan's padding.
	return nil
}

// readRST consumes the restart marker expected after an interval's last MCU.
func (d *decoder) readRST(want int) error {
	p := d.pos
	for p < len(d.data) && d.data[p] != 0xFF { // leftover bytes of the interval: corrupt, skip
		p++
	}
	for p < len(d.data) && d.data[p] == 0xFF {
		p++
	}
	if p >= len(d.data) || d.data[p] != byte(mRST0+want) {
		return formatError("missing restart marker")
	}
	d.reset(p + 1)
	return nil
}

// nextDC reads a block's DC difference into the component's prediction.
func (d *decoder) nextDC(c *component) error {
	s, err := d.decode(c.dc)
	if err != nil {
		return err
	}
	if s > 16 {
		return formatError("bad DC magnitude")
	}
	c.dcPred += d.receiveExtend(uint(s))
	return nil
}

// nextAC reads one AC symbol of a baseline or first progressive scan: the run of zero
// coefficients before a coefficient and its value; or, when v is 0, a symbol without
// magnitude whose r is 15 (sixteen zeros) or an end of band (of 2^r blocks in progressive
// scans). Codes whose magnitude bits fit the look-ahead take one table look-up (fastAC).
func (d *decoder) nextAC(ac *huffTable) (r int, v int32, err error) {
	if d.n < 16 {
		d.fill()
	}
	if f := ac.fastAC[d.acc>>(d.n-lookBits)&(1<<lookBits-1)]; f != 0 {
		d.n -= uint(f & 0xFF)
		return int(f >> 8 & 0xFF), f >> 16, nil
	}
	rs, err := d.decode(ac)
	if err != nil {
		return 0, 0, err
	}
	return int(rs >> 4), d.receiveExtend(uint(rs & 15)), nil
}

type blockFunc func(c *component, bx, by int) error

func (d *decoder) blockFunc(ss, se int, ah, al uint) blockFunc {
	switch {
	case !d.progressive:
		return d.baselineBlock
	case ss == 0 && ah == 0:
		return func(c *component, bx, by int) error { return d.dcFirst(c, bx, by, al) }
	case ss == 0:
		return func(c *component, bx, by int) error { return d.dcRefine(c, bx, by, al) }
	case ah == 0:
		return func(c *component, bx, by int) error { return d.acFirst(c, bx, by, ss, se, al) }
	}
	return func(c *component, bx, by int) error { return d.acRefine(c, bx, by, ss, se, al) }
}

// baselineBlock decodes, dequantizes and transforms one block straight into the plane.
func (d *decoder) baselineBlock(c *component, bx, by int) error {
	if err := d.nextDC(c); err != nil {
		return err
	}
	q := &d.quant[c.tq]
	blk := &d.blk
	blk[0] = float32(c.dcPred) * q[0]
	kmax := 0
	ac := c.ac
	for k := 1; k < 64; k++ {
		r, v, err := d.nextAC(ac)
		if err != nil {
			return err
		}
		if v == 0 {
			if r != 15 {
				break // EOB
			}
			k += 15
			continue
		}
		if k += r; k > 63 {
			return formatError("AC coefficient index past 63")
		}
		blk[unzig[k]] = float32(v) * q[k]
		kmax = k
	}
	d.emit(c, bx, by, kmax)
	return nil
}

// emit transforms d.blk into the plane at block (bx, by) and clears it for the next block.
func (d *decoder) emit(c *component, bx, by, kmax int) {
	n := d.idct.n
	off := by*n*c.stride + bx*n
	d.idct.transform(&d.blk, kmax, c.pix[off:], c.stride)
	if kmax == 0 {
		d.blk[0] = 0
	} else {
		d.blk = [64]float32{}
	}
}

func (c *component) block(bx, by int) ([]int16, *uint64) {
	i := by*c.bw + bx
	return c.coefs[i*64 : i*64+64 : i*64+64], &c.nonzero[i]
}

func (d *decoder) dcFirst(c *component, bx, by int, al uint) error {
	if err := d.nextDC(c); err != nil {
		return err
	}
	b, _ := c.block(bx, by)
	b[0] = int16(c.dcPred << al)
	return nil
}

func (d *decoder) dcRefine(c *component, bx, by int, al uint) error {
	if d.bit() {
		b, _ := c.block(bx, by)
		b[0] |= 1 << al
	}
	return nil
}

func (d *decoder) acFirst(c *component, bx, by, ss, se int, al uint) error {
	if d.eobrun > 0 {
		d.eobrun--
		return nil
	}
	b, nz := c.block(bx, by)
	ac := c.ac
	for k := ss; k <= se; k++ {
		r, v, err := d.nextAC(ac)
		if err != nil {
			return err
		}
		if v == 0 {
			if r != 15 {
				d.eobrun = 1<<r - 1
				if r > 0 {
					d.eobrun += d.bits(uint(r))
				}
				break
			}
			k += 15
			continue
		}
		if k += r; k > se {
			return formatError("AC coefficient index past the band")
		}
		b[k] = int16(v << al)
		*nz |= 1 << k
	}
	return nil
}

// acRefine is T.81 G.1.2.3's successive approximation of an AC band: a new coefficient of
// ±1<<al lands after the run of zero coefficients, and every coefficient already nonzero
// that the run passes (or, after an end-of-band, that remains in the band) takes a
// correction bit.
func (d *decoder) acRefine(c *component, bx, by, ss, se int, al uint) error {
	b, nz := c.block(bx, by)
	p1, m1 := int16(1)<<al, int16(-1)<<al
	refine := func(k int) {
		if d.bit() && b[k]&p1 == 0 {
			if b[k] >= 0 {
				b[k] += p1
			} else {
				b[k] += m1
			}
		}
	}
	k := ss
	if d.eobrun == 0 {
		for ; k <= se; k++ {
			rs, err := d.decode(c.ac)
			if err != nil {
				return err
			}
			r, s := int32(rs>>4), rs&15
			var val int16
			switch s {
			case 0:
				if r != 15 {
					d.eobrun = 1 << r
					if r > 0 {
						d.eobrun += d.bits(uint(r))
					}
					goto band
				}
			case 1:
				val = m1
				if d.bit() {
					val = p1
				}
			default:
				return formatError("refinement coefficient magnitude is not 1")
			}
			for ; k <= se; k++ {
				if b[k] != 0 {
					refine(k)
				} else {
					if r == 0 {
						break
					}
					r--
				}
			}
			if val != 0 {
				if k > se {
					return formatError("AC coefficient index past the band")
				}
				b[k] = val
				*nz |= 1 << k
			}
		}
	}
band:
	if d.eobrun > 0 && k <= se {
		// The rest of the band: only its nonzero coefficients take a bit, found by their mask
		// (blocks in an end-of-band run are mostly zeros).
		for m := *nz &^ (1<<k - 1) & (2<<se - 1); m != 0; m &= m - 1 {
			if j := bits.TrailingZeros64(m); b[j] != 0 {
				refine(j)
			}
		}
	}
	if d.eobrun > 0 {
		d.eobrun--
	}
	return nil
}

// reconstruct dequantizes and transforms every block of a progressive image, once all
// scans are in (quantization tables as they stand at the end, as image/jpeg does).
func (d *decoder) reconstruct() {
	for i := range d.comps {
		c := &d.comps[i]
		q := &d.quant[c.tq]
		for by := range c.bh {
			for bx := range c.bw {
				b, nz := c.block(bx, by)
				kmax := 0
				if b[0] != 0 {
					d.blk[0] = float32(b[0]) * q[0]
				}
				for m := *nz &^ 1; m != 0; m &= m - 1 {
					k := bits.TrailingZeros64(m)
					if v := b[k]; v != 0 {
						d.blk[unzig[k]] = float32(v) * q[k]
						kmax = k
					}
				}
				d.emit(c, bx, by, kmax)
			}
		}
	}
}

func (d *decoder) image() image.Image {
	s := d.scale
	r := image.Rect(0, 0, (d.width+s-1)/s, (d.height+s-1)/s)
	y := &d.comps[0]
	if len(d.comps) == 1 {
		return &image.Gray{Pix: y.pix, Stride: y.stride, Rect: r}
	}
	cb, cr := &d.comps[1], &d.comps[2]
	var ratio image.YCbCrSubsampleRatio
	switch [2]int{y.h / cb.h, y.v / cb.v} {
	case [2]int{1, 1}:
		ratio = image.YCbCrSubsampleRatio444
	case [2]int{1, 2}:
		ratio = image.YCbCrSubsampleRatio440
	case [2]int{2, 1}:
		ratio = image.YCbCrSubsampleRatio422
	case [2]int{2, 2}:
		ratio = image.YCbCrSubsampleRatio420
	case [2]int{4, 1}:
		ratio = image.YCbCrSubsampleRatio411
	case [2]int{4, 2}:
		ratio = image.YCbCrSubsampleRatio410
	}
	return &image.YCbCr{Y: y.pix, Cb: cb.pix, Cr: cr.pix, YStride: y.stride, CStride: cb.stride, SubsampleRatio: ratio, Rect: r}
}
