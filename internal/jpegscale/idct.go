package jpegscale

import "math"

// unzig maps a coefficient's zig-zag index (its order in the file) to its natural index
// row*8+col.
var unzig = [64]uint8{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}

// rowsUpTo and colsUpTo give, for a last nonzero zig-zag index k, how many rows and
// columns of the natural 8×8 block can hold nonzero coefficients: the transform skips the
// rest (most blocks of a photo end early).
var rowsUpTo, colsUpTo [64]uint8

// scaledIDCT is the inverse DCT that outputs n = 8/scale pixels per block side, each the
// mean of the scale×scale pixels the full transform would give there: the box filter
// computed in the frequency domain. Row x of m is the 1-D weight of each frequency u in
// output x: C(u)/2 × the mean of cos((2i+1)uπ/16) over the pixels i the output covers.
// For scale 2 every frequency contributes; for scale 4 the even ones above 0 cancel; for
// scale 8 only DC is left (F(0,0)/8).
type scaledIDCT struct {
	n int
	m [8][8]float32
}

var idcts = map[int]*scaledIDCT{1: newScaledIDCT(1), 2: newScaledIDCT(2), 4: newScaledIDCT(4), 8: newScaledIDCT(8)}

func newScaledIDCT(scale int) *scaledIDCT {
	t := &scaledIDCT{n: 8 / scale}
	for x := 0; x < t.n; x++ {
		for u := 0; u < 8; u++ {
			c := 1.0
			if u == 0 {
				c = 1 / math.Sqrt2
			}
			var sum float64
			for j := 0; j < scale; j++ {
				i := x*scale + j
				sum += math.Cos(float64(2*i+1) * float64(u) * math.Pi / 16)
			}
			t.m[x][u] = float32(c / 2 * sum / float64(scale))
		}
	}
	return t
}

func init() {
	var r, c uint8
	for k, z := range unzig {
		r, c = max(r, z/8+1), max(c, z%8+1)
		rowsUpTo[k], colsUpTo[k] = r, c
	}
}

// clampPixel rounds v (already offset by 128.5) to a byte; NaN and infinities from hostile
// coefficients end up as 0 or 255.
func clampPixel(v float32) uint8 {
	i := int32(v)
	if uint32(i) > 255 {
		if i < 0 || v != v {
			return 0
		}
		return 255
	}
	return uint8(i)
}

// transform writes the n×n pixels of blk (dequantized, natural order; kmax is its last
// nonzero zig-zag index) at dst with the given stride.
func (t *scaledIDCT) transform(blk *[64]float32, kmax int, dst []uint8, stride int) {
	n := t.n
	if n == 1 || kmax == 0 {
		dc := blk[0] / 8
		if n == 8 {
			dc = blk[0] // the 1/8 is in the scale-1 quantization table
		}
		v := clampPixel(dc + 128.5)
		for y := 0; y < n; y++ {
			row := dst[y*stride : y*stride+n]
			for x := range row {
				row[x] = v
			}
		}
		return
	}
	rows, cols := int(rowsUpTo[kmax]), int(colsUpTo[kmax])
	switch n {
	case 8:
		idct8(blk, rows, dst, stride)
		return
	case 4:
		t.transform4(blk, rows, dst, stride)
		return
	case 2:
		t.transform2(blk, rows, dst, stride)
		return
	}
	// Rows first: tmp[v][x] = Σ_u F[v][u] m[x][u], for the rows that hold coefficients.
	var tmp [8][8]float32
	for v := 0; v < rows; v++ {
		f := blk[v*8 : v*8+cols]
		tv := &tmp[v]
		for x := 0; x < n; x++ {
			mx := t.m[x][:cols]
			var s float32
			for u, fu := range f {
				s += fu * mx[u]
			}
			tv[x] = s
		}
	}
	for y := 0; y < n; y++ {
		my := t.m[y][:rows]
		row := dst[y*stride : y*stride+n]
		for x := range row {
			s := float32(128.5)
			for v, w := range my {
				s += w * tmp[v][x]
			}
			row[x] = clampPixel(s)
		}
	}
}

// transform4 is transform for scale 2, unrolled. Output x and 3-x share their weights up to
// the sign of odd frequencies (m[3-x][u] = (-1)^u m[x][u]), so each 1-D pass computes the
// even and odd sums of outputs 0 and 1 and gets 2 and 3 from them.
func (t *scaledIDCT) transform4(blk *[64]float32, rows int, dst []uint8, stride int) {
	a, b := &t.m[0], &t.m[1]
	var tmp [8][4]float32
	for v := 0; v < rows; v++ {
		f := (*[8]float32)(blk[v*8 : v*8+8])
		e0 := f[0]*a[0] + f[2]*a[2] + f[4]*a[4] + f[6]*a[6]
		e1 := f[0]*b[0] + f[2]*b[2] + f[4]*b[4] + f[6]*b[6]
		o0 := f[1]*a[1] + f[3]*a[3] + f[5]*a[5] + f[7]*a[7]
		o1 := f[1]*b[1] + f[3]*b[3] + f[5]*b[5] + f[7]*b[7]
		tmp[v] = [4]float32{e0 + o0, e1 + o1, e1 - o1, e0 - o0}
	}
	_ = dst[3*stride+3]
	for x := 0; x < 4; x++ {
		e0, e1 := float32(128.5)+tmp[0][x]*a[0], float32(128.5)+tmp[0][x]*b[0]
		var o0, o1 float32
		for v := 2; v < rows; v += 2 {
			e0 += tmp[v][x] * a[v]
			e1 += tmp[v][x] * b[v]
		}
		for v := 1; v < rows; v += 2 {
			o0 += tmp[v][x] * a[v]
			o1 += tmp[v][x] * b[v]
		}
		dst[x] = clampPixel(e0 + o0)
		dst[stride+x] = clampPixel(e1 + o1)
		dst[2*stride+x] = clampPixel(e1 - o1)
		dst[3*stride+x] = clampPixel(e0 - o0)
	}
}

// transform2 is transform for scale 4: the even frequencies above 0 cancel over a 4-pixel
// half block, so only frequencies 0, 1, 3, 5 and 7 of each axis are read.
func (t *scaledIDCT) transform2(blk *[64]float32, rows int, dst []uint8, stride int) {
	a := &t.m[0]
	var tmp [8][2]float32
	for v := 0; v < rows; v++ {
		if v > 0 && v&1 == 0 {
			continue
		}
		f := (*[8]float32)(blk[v*8 : v*8+8])
		e := f[0] * a[0]
		o := f[1]*a[1] + f[3]*a[3] + f[5]*a[5] + f[7]*a[7]
		tmp[v] = [2]float32{e + o, e - o}
	}
	_ = dst[stride+1]
	for x := 0; x < 2; x++ {
		e := float32(128.5) + tmp[0][x]*a[0]
		o := tmp[1][x]*a[1] + tmp[3][x]*a[3] + tmp[5][x]*a[5] + tmp[7][x]*a[7]
		dst[x] = clampPixel(e + o)
		dst[stride+x] = clampPixel(e - o)
	}
}

// aanScale[k] is cos(kπ/16)·√2 (1 for k = 0): the factors the AAN inverse DCT leaves out
// of its butterflies. At scale 1 the decoder folds aanScale[row]·aanScale[col]/8 into the
// quantization table (dqt), so idct8 needs 5 multiplies per 8 points.
var aanScale = [8]float64{1, 1.387039845, 1.306562965, 1.175875602, 1, 0.785694958, 0.541196100, 0.275899379}

// idct1D8 is the Arai–Agui–Nakajima 8-point inverse DCT (as in libjpeg's jidctflt.c) on
// inputs pre-scaled by aanScale.
func idct1D8(in0, in1, in2, in3, in4, in5, in6, in7 float32) (o0, o1, o2, o3, o4, o5, o6, o7 float32) {
	// Even part.
	tmp10, tmp11 := in0+in4, in0-in4
	tmp13 := in2 + in6
	tmp12 := (in2-in6)*1.414213562 - tmp13
	tmp0, tmp3 := tmp10+tmp13, tmp10-tmp13
	tmp1, tmp2 := tmp11+tmp12, tmp11-tmp12
	// Odd part.
	z13, z10 := in5+in3, in5-in3
	z11, z12 := in1+in7, in1-in7
	tmp7 := z11 + z13
	t11 := (z11 - z13) * 1.414213562
	z5 := (z10 + z12) * 1.847759065
	t10 := 1.082392200*z12 - z5
	t12 := -2.613125930*z10 + z5
	tmp6 := t12 - tmp7
	tmp5 := t11 - tmp6
	tmp4 := t10 + tmp5
	return tmp0 + tmp7, tmp1 + tmp6, tmp2 + tmp5, tmp3 - tmp4, tmp3 + tmp4, tmp2 - tmp5, tmp1 - tmp6, tmp0 - tmp7
}

// idct8 is the full-size transform: rows that hold coefficients, then every column.
func idct8(blk *[64]float32, rows int, dst []uint8, stride int) {
	var tmp [64]float32
	for v := 0; v < rows; v++ {
		f := (*[8]float32)(blk[v*8 : v*8+8])
		t := (*[8]float32)(tmp[v*8 : v*8+8])
		t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7] = idct1D8(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7])
	}
	_ = dst[7*stride+7]
	for x := 0; x < 8; x++ {
		o0, o1, o2, o3, o4, o5, o6, o7 := idct1D8(tmp[x], tmp[8+x], tmp[16+x], tmp[24+x], tmp[32+x], tmp[40+x], tmp[48+x], tmp[56+x])
		dst[x] = clampPixel(o0 + 128.5)
		dst[stride+x] = clampPixel(o1 + 128.5)
		dst[2*stride+x] = clampPixel(o2 + 128.5)
		dst[3*stride+x] = clampPixel(o3 + 128.5)
		dst[4*stride+x] = clampPixel(o4 + 128.5)
		dst[5*stride+x] = clampPixel(o5 + 128.5)
		dst[6*stride+x] = clampPixel(o6 + 128.5)
		dst[7*stride+x] = clampPixel(o7 + 128.5)
	}
}
