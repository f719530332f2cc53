package imgproc

import (
	"image"
	"image/color"
	"sync"
)

// plane is one 8-bit channel. A plane with nil pix is constant (val
// everywhere): chroma of grey images.
type plane struct {
	pix      []uint8
	w, h     int
	stride   int
	val      uint8
	fromPool bool
}

func (p plane) constant() bool { return p.pix == nil }

// row returns row y (len w).
func (p plane) row(y int) []uint8 { return p.pix[y*p.stride : y*p.stride+p.w] }

// ycc holds an image as three planes in JPEG's YCbCr (full range, BT.601),
// alpha already composited on white. Chroma may be subsampled.
type ycc struct {
	y, cb, cr plane
}

func (s *ycc) release() {
	for _, p := range []*plane{&s.y, &s.cb, &s.cr} {
		if p.fromPool {
			bytePool.put(p.pix)
		}
		*p = plane{}
	}
}

// slicePool recycles the large per-image buffers (converted planes, box reductions, resized
// planes, resampling rows). Slices of any size go in; get returns one of length n whose capacity
// is enough, or allocates. Contents are not cleared.
type slicePool[T any] struct{ p sync.Pool }

func (s *slicePool[T]) get(n int) []T {
	if v := s.p.Get(); v != nil {
		if b := *(v.(*[]T)); cap(b) >= n {
			return b[:n]
		}
		// Too small: let it go; the next image may be smaller, but keeping
		// many sizes around is not worth the bookkeeping.
	}
	return make([]T, n)
}

func (s *slicePool[T]) put(b []T) {
	if cap(b) == 0 {
		return
	}
	b = b[:0]
	s.p.Put(&b)
}

var (
	bytePool  slicePool[uint8] // plane pixels
	int16Pool slicePool[int16] // resizePlane's intermediate rows
	int32Pool slicePool[int32] // resizePlane's accumulators
)

func newPlane(w, h int) plane {
	return plane{pix: bytePool.get(w * h), w: w, h: h, stride: w, fromPool: true}
}

func constPlane(w, h int, v uint8) plane { return plane{w: w, h: h, val: v} }

// planesFromImage converts a decoded image into YCbCr planes, compositing
// alpha on white. *image.YCbCr and *image.Gray are wrapped without copying.
func planesFromImage(img image.Image) ycc {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.YCbCr:
		cw, ch := chromaSize(b, m.SubsampleRatio)
		return ycc{
			y:  plane{pix: m.Y[m.YOffset(b.Min.X, b.Min.Y):], w: w, h: h, stride: m.YStride},
			cb: plane{pix: m.Cb[m.COffset(b.Min.X, b.Min.Y):], w: cw, h: ch, stride: m.CStride},
			cr: plane{pix: m.Cr[m.COffset(b.Min.X, b.Min.Y):], w: cw, h: ch, stride: m.CStride},
		}
	case *image.Gray:
		return ycc{
			y:  plane{pix: m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], w: w, h: h, stride: m.Stride},
			cb: constPlane(w, h, 128),
			cr: constPlane(w, h, 128),
		}
	case *image.NYCbCrA:
		return nycbcraPlanes(m)
	case *image.Gray16:
		// Grey stays grey (RGBToYCbCr of r=g=b gives Y=g, Cb=Cr=128): one plane of high bytes.
		out := ycc{y: newPlane(w, h), cb: constPlane(w, h, 128), cr: constPlane(w, h, 128)}
		for y := 0; y < h; y++ {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][: 2*w : 2*w]
			yr := out.y.row(y)
			for x := range yr {
				yr[x] = src[2*x]
			}
		}
		return out
	}
	out := ycc{y: newPlane(w, h), cb: newPlane(w, h), cr: newPlane(w, h)}
	switch m := img.(type) {
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][: 4*w : 4*w]
			yr, cbr, crr := out.y.row(y), out.cb.row(y), out.cr.row(y)
			for x := range yr {
				p := src[4*x : 4*x+4 : 4*x+4]
				r, g, bb := compositeNRGBA(p[0], p[1], p[2], p[3])
				yr[x], cbr[x], crr[x] = color.RGBToYCbCr(r, g, bb)
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][: 4*w : 4*w]
			yr, cbr, crr := out.y.row(y), out.cb.row(y), out.cr.row(y)
			for x := range yr {
				p := src[4*x : 4*x+4 : 4*x+4]
				// Premultiplied: adding the missing coverage of white is exact.
				t := 255 - p[3]
				yr[x], cbr[x], crr[x] = color.RGBToYCbCr(p[0]+t, p[1]+t, p[2]+t)
			}
		}
	case *image.Paletted:
		// Convert the palette once; pixels are then table look-ups.
		var lut [256][3]uint8
		for i := range lut {
			var c color.Color = color.Transparent
			if i < len(m.Palette) {
				c = m.Palette[i]
			}
			r, g, bb := compositeColor(c)
			lut[i][0], lut[i][1], lut[i][2] = color.RGBToYCbCr(r, g, bb)
		}
		for y := 0; y < h; y++ {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:w:w]
			yr, cbr, crr := out.y.row(y), out.cb.row(y), out.cr.row(y)
			for x, ix := range src {
				e := &lut[ix]
				yr[x], cbr[x], crr[x] = e[0], e[1], e[2]
			}
		}
	case *image.NRGBA64:
		// 16-bit PNG with alpha. The same arithmetic as compositeColor(m.At(x, y)), without a
		// color.Color per pixel (an allocation each: GBs of garbage for a large image).
		for y := 0; y < h; y++ {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][: 8*w : 8*w]
			yr, cbr, crr := out.y.row(y), out.cb.row(y), out.cr.row(y)
			for x := range yr {
				p := src[8*x : 8*x+8 : 8*x+8]
				a := uint32(p[6])<<8 | uint32(p[7])
				t := 0xffff - a
				premul := func(hi, lo uint8) uint8 { return uint8(((uint32(hi)<<8|uint32(lo))*a/0xffff + t) >> 8) }
				yr[x], cbr[x], crr[x] = color.RGBToYCbCr(premul(p[0], p[1]), premul(p[2], p[3]), premul(p[4], p[5]))
			}
		}
	case *image.RGBA64:
		// 16-bit PNG without alpha (or with tRNS): premultiplied already.
		for y := 0; y < h; y++ {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][: 8*w : 8*w]
			yr, cbr, crr := out.y.row(y), out.cb.row(y), out.cr.row(y)
			for x := range yr {
				p := src[8*x : 8*x+8 : 8*x+8]
				t := 0xffff - (uint32(p[6])<<8 | uint32(p[7]))
				over := func(hi, lo uint8) uint8 { return uint8(((uint32(hi)<<8 | uint32(lo)) + t) >> 8) }
				yr[x], cbr[x], crr[x] = color.RGBToYCbCr(over(p[0], p[1]), over(p[2], p[3]), over(p[4], p[5]))
			}
		}
	case *image.CMYK:
		// CMYK JPEG: opaque, color.CMYKToRGB is what CMYK.RGBA computes.
		for y := 0; y < h; y++ {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][: 4*w : 4*w]
			yr, cbr, crr := out.y.row(y), out.cb.row(y), out.cr.row(y)
			for x := range yr {
				p := src[4*x : 4*x+4 : 4*x+4]
				r, g, bb := color.CMYKToRGB(p[0], p[1], p[2], p[3])
				yr[x], cbr[x], crr[x] = color.RGBToYCbCr(r, g, bb)
			}
		}
	default:
		// Rare types: slow but general.
		for y := 0; y < h; y++ {
			yr, cbr, crr := out.y.row(y), out.cb.row(y), out.cr.row(y)
			for x := range yr {
				r, g, bb := compositeColor(img.At(b.Min.X+x, b.Min.Y+y))
				yr[x], cbr[x], crr[x] = color.RGBToYCbCr(r, g, bb)
			}
		}
	}
	return out
}

// compositeNRGBA blends a non-premultiplied pixel over white.
func compositeNRGBA(r, g, b, a uint8) (uint8, uint8, uint8) {
	if a == 255 {
		return r, g, b
	}
	ia := 255 - uint32(a)
	f := func(c uint8) uint8 { return uint8((uint32(c)*uint32(a) + 255*ia + 127) / 255) }
	return f(r), f(g), f(b)
}

// compositeColor blends any color over white (RGBA() is premultiplied).
func compositeColor(c color.Color) (uint8, uint8, uint8) {
	r, g, b, a := c.RGBA()
	t := 0xffff - a
	return uint8((r + t) >> 8), uint8((g + t) >> 8), uint8((b + t) >> 8)
}

// nycbcraPlanes composites lossy WebP with alpha on white. White is
// (255,128,128) in YCbCr and blending is affine, so it is done per plane;
// chroma is expanded to full resolution to pair each sample with its alpha.
func nycbcraPlanes(m *image.NYCbCrA) ycc {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	out := ycc{y: newPlane(w, h), cb: newPlane(w, h), cr: newPlane(w, h)}
	blend := func(v, bg uint8, a uint8) uint8 {
		return uint8((uint32(v)*uint32(a) + uint32(bg)*(255-uint32(a)) + 127) / 255)
	}
	for y := 0; y < h; y++ {
		yr, cbr, crr := out.y.row(y), out.cb.row(y), out.cr.row(y)
		for x := range yr {
			px, py := b.Min.X+x, b.Min.Y+y
			a := m.A[m.AOffset(px, py)]
			yi, ci := m.YOffset(px, py), m.COffset(px, py)
			yr[x] = blend(m.Y[yi], 255, a)
			cbr[x] = blend(m.Cb[ci], 128, a)
			crr[x] = blend(m.Cr[ci], 128, a)
		}
	}
	return out
}

// chromaSize mirrors image.YCbCr's chroma plane geometry.
func chromaSize(r image.Rectangle, ratio image.YCbCrSubsampleRatio) (int, int) {
	w, h := r.Dx(), r.Dy()
	switch ratio {
	case image.YCbCrSubsampleRatio422:
		return (r.Max.X+1)/2 - r.Min.X/2, h
	case image.YCbCrSubsampleRatio420:
		return (r.Max.X+1)/2 - r.Min.X/2, (r.Max.Y+1)/2 - r.Min.Y/2
	case image.YCbCrSubsampleRatio440:
		return w, (r.Max.Y+1)/2 - r.Min.Y/2
	case image.YCbCrSubsampleRatio411:
		return (r.Max.X+3)/4 - r.Min.X/4, h
	case image.YCbCrSubsampleRatio410:
		return (r.Max.X+3)/4 - r.Min.X/4, (r.Max.Y+1)/2 - r.Min.Y/2
	}
	return w, h
}
