package imgproc

import (
	"encoding/binary"
	"image"
	"image/color"
	"math"
)

// The memory budget. Process decides from the header alone, before anything is decoded, how many
// bytes the call will allocate: the decoder's image at its own layout (JPEG blocks rounded to
// whole MCUs, progressive coefficients, CMYK and RGB conversions, PNG rows, interlace passes and
// 16-bit samples, WebP macroblocks and alpha), the planes converted from it, the three resized
// planes with the resizer's temporaries and kernels, the oriented copies, the canvas and the
// encoded JPEG. A sum of allocations bounds the live memory of the call from above, so an image
// whose estimate is within Options.MaxMemory cannot make Process hold more; a 13,000,000×1 PNG
// asked for keep_ratio (an 852 GB resize) fails with ReasonMemory instead of killing the process.
// TestMemoryEstimateBoundsAllocations checks the estimate against measured allocations.

// DefaultMaxMemory is the per-image budget when Options.MaxMemory is 0: every image a camera or
// the web commonly produces fits (a 24 MP progressive JPEG needs ~190 MB, a 40 MP baseline one
// ~80 MB), a 6,300² 16-bit PNG (~450 MB) does not.
const DefaultMaxMemory = 256 << 20

// maxJPEGSide is the largest side image/jpeg encodes.
const maxJPEGSide = 65535

// fixedOverhead covers what does not grow with the image: decoder state and Huffman tables, the
// zlib window of PNG, bufio readers, the JPEG encoder, pooled scratch rounding.
const fixedOverhead = 1 << 20

// memoryEstimate returns an upper bound on the bytes Process allocates for an image whose header
// is cfg (stored orientation: cfg's dimensions are before EXIF orientation), shown with orient,
// resized per o (defaults applied).
func memoryEstimate(format string, cfg image.Config, data []byte, orient int, o Options) float64 {
	w, h := float64(cfg.Width), float64(cfg.Height)
	px := w * h
	var decoded, converted float64
	switch format {
	case "jpeg":
		decoded, converted = jpegDecodeBytes(data, cfg)
	case "png":
		decoded, converted = pngDecodeBytes(data, cfg)
	case "gif":
		// The first frame as *image.Paletted (frames lie within the screen), plus a copy when
		// it is interlaced; then three planes.
		decoded, converted = 2*px, 3*px
	case "webp":
		decoded, converted = webpDecodeBytes(data, cfg)
	default:
		decoded, converted = 8*px, 3*px
	}

	sw, sh := cfg.Width, cfg.Height
	ow, oh := sw, sh
	if orient >= 5 {
		ow, oh = sh, sw
	}
	cw, ch, canvasW, canvasH := targetSize(ow, oh, o)
	rw, rh := cw, ch
	if orient >= 5 {
		rw, rh = ch, cw
	}
	content := float64(rw) * float64(rh)
	resize := 3 * resizeBytes(sw, sh, rw, rh)
	oriented := 0.0
	if orient > 1 {
		oriented = 3 * content
	}
	canvas := float64(canvasW) * float64(canvasH)
	// Three full-resolution canvas planes, and the encoded JPEG: a bytes.Buffer that may double
	// past its initial half a byte per pixel (noise at quality 100 takes ~3 bytes per pixel).
	encode := 3*canvas + 2*3*canvas
	phash := resizeBytes(cw, ch, phashN, phashN)
	return decoded + converted + resize + oriented + encode + phash + fixedOverhead
}

// resizeBytes bounds what resizePlane allocates for one plane: the output, the box reduction
// with its column sums, the Catmull-Rom intermediate rows, the accumulator and both kernels.
func resizeBytes(sw, sh, dw, dh int) float64 {
	out := float64(dw) * float64(dh)
	if sw == dw && sh == dh {
		return out
	}
	kx := min(max(1, sw/max(1, boxHeadroom*dw)), maxBox)
	ky := min(max(1, sh/max(1, boxHeadroom*dh)), maxBox)
	workW, workH := sw, sh
	box := 0.0
	if kx > 1 || ky > 1 {
		workW, workH = sw/kx, sh/ky
		box = float64(workW)*float64(workH) + 4*float64(sw)
	}
	tmp := 2 * float64(workH) * float64(dw)
	acc := 4 * float64(dw)
	return out + box + tmp + acc + kernelBytes(workW, dw) + kernelBytes(workH, dh)
}

// kernelBytes bounds a kernel for src → dst samples (makeKernel), with the copy of its
// weights padded to 16-lane chunks that the vector pass makes (vectorWeights).
func kernelBytes(src, dst int) float64 {
	scale := math.Max(float64(src)/float64(max(dst, 1)), 1)
	taps := math.Min(math.Ceil(4*scale)+1, float64(src))
	padded := 16 * math.Ceil(taps/16)
	return 4*float64(dst) + 2*float64(dst)*(taps+padded) + 8*taps
}

// jpegFrame is what the start-of-frame segment says about the decoder's buffers.
type jpegFrame struct {
	progressive bool
	comps       [][2]int // sampling factors (h, v) per component
}

// parseJPEGFrame walks the marker segments up to the first SOF. ok is false when the file does
// not get there cleanly (the caller then assumes the worst layout).
func parseJPEGFrame(data []byte) (f jpegFrame, ok bool) {
	p := 2 // after SOI
	for p+4 <= len(data) {
		if data[p] != 0xFF {
			return f, false
		}
		m := data[p+1]
		if m == 0xFF { // fill byte
			p++
			continue
		}
		if m == 0x01 || (m >= 0xD0 && m <= 0xD8) { // standalone markers
			p += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(data[p+2:]))
		if n < 2 || p+2+n > len(data) {
			return f, false
		}
		seg := data[p+4 : p+2+n]
		switch m {
		case 0xC0, 0xC1, 0xC2:
			if len(seg) < 6 {
				return f, false
			}
			nc := int(seg[5])
			if nc < 1 || nc > 4 || len(seg) < 6+3*nc {
				return f, false
			}
			f.progressive = m == 0xC2
			for i := range nc {
				hv := seg[6+3*i+1]
				hh, vv := int(hv>>4), int(hv&15)
				if hh < 1 || hh > 4 || vv < 1 || vv > 4 {
					return f, false
				}
				f.comps = append(f.comps, [2]int{hh, vv})
			}
			return f, true
		case 0xDA, 0xD9: // scan or end before any frame
			return f, false
		}
		p += 2 + n
	}
	return f, false
}

// jpegDecodeBytes bounds image/jpeg's allocations (see its makeImg, progressive coefficient
// blocks, applyBlack and convertToRGB) and those of the planes made from its result.
func jpegDecodeBytes(data []byte, cfg image.Config) (decoded, converted float64) {
	w, h := float64(cfg.Width), float64(cfg.Height)
	fr, ok := parseJPEGFrame(data)
	if !ok {
		fr = jpegFrame{progressive: true, comps: [][2]int{{4, 4}, {4, 4}, {4, 4}, {4, 4}}} // the worst

	}
	h0, v0 := 1, 1
	for _, c := range fr.comps {
		h0, v0 = max(h0, c[0]), max(v0, c[1])
	}
	mxx := math.Ceil(w / float64(8*h0))
	myy := math.Ceil(h / float64(8*v0))
	// Every component's plane is allocated MCU-rounded at its own sampling (chroma planes of a
	// 4:2:0 image are a quarter of the luma plane; the black plane of CMYK is separate).
	var samples float64
	for _, c := range fr.comps {
		samples += 64 * mxx * myy * float64(c[0]*c[1])
	}
	nc := len(fr.comps)
	decoded = samples
	switch {
	case nc == 4:
		decoded += 4 * w * h // the CMYK (or RGBA) result
	case nc == 3 && cfg.ColorModel != color.YCbCrModel:
		decoded += 4 * w * h // an RGB JPEG is converted to *image.RGBA
	}
	if fr.progressive {
		decoded += 4 * samples // one int32 per coefficient, kept for every scan
	}
	if nc == 1 || cfg.ColorModel == color.YCbCrModel {
		return decoded, 0 // wrapped as planes without a copy
	}
	return decoded, 3 * w * h
}

// pngDecodeBytes bounds image/png's allocations: the image in the decoded type (which tRNS
// widens to NRGBA/NRGBA64), two filter rows, a second image's worth for Adam7 passes; then the
// planes (none for 8-bit grey, one for 16-bit grey, three otherwise).
func pngDecodeBytes(data []byte, cfg image.Config) (decoded, converted float64) {
	w, h := float64(cfg.Width), float64(cfg.Height)
	px := w * h
	depth, ctype, interlaced, trns, ok := parsePNGHeader(data)
	if !ok {
		return 8*px*2 + 2*8*w + 16, 3 * px
	}
	channels := map[byte]float64{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
	if channels == 0 {
		channels = 4
	}
	rowBytes := math.Ceil(w*channels*float64(depth)/8) + 1
	var bpp float64
	switch {
	case ctype == 3:
		bpp = 1
	case ctype == 0 && !trns:
		bpp = map[bool]float64{true: 2, false: 1}[depth == 16]
	case depth == 16:
		bpp = 8
	default:
		bpp = 4
	}
	decoded = bpp*px + 2*rowBytes
	if interlaced {
		decoded += bpp * px
	}
	switch {
	case ctype == 0 && !trns && depth < 16:
		converted = 0
	case ctype == 0 && !trns:
		converted = px
	default:
		converted = 3 * px
	}
	return decoded, converted
}

// parsePNGHeader reads IHDR and looks for tRNS before the first IDAT.
func parsePNGHeader(data []byte) (depth, ctype byte, interlaced, trns, ok bool) {
	if len(data) < 33 || string(data[12:16]) != "IHDR" {
		return
	}
	depth, ctype, interlaced = data[24], data[25], data[28] == 1
	p := 33
	for p+8 <= len(data) {
		n := int(binary.BigEndian.Uint32(data[p:]))
		typ := string(data[p+4 : p+8])
		if typ == "IDAT" || typ == "IEND" {
			break
		}
		if typ == "tRNS" {
			trns = true
			break
		}
		if n < 0 || n > len(data) {
			break
		}
		p += 12 + n
	}
	return depth, ctype, interlaced, trns, true
}

// webpDecodeBytes bounds x/image/webp: the chunk copied into the VP8 decoder, YCbCr 4:2:0 at
// macroblock size for lossy data, an NRGBA decode of the alpha plane and the alpha itself, or
// NRGBA pixels (twice, for the colour-indexing transform) for lossless data.
func webpDecodeBytes(data []byte, cfg image.Config) (decoded, converted float64) {
	w, h := float64(cfg.Width), float64(cfg.Height)
	px := w * h
	mb := 256 * math.Ceil(w/16) * math.Ceil(h/16)
	switch cfg.ColorModel {
	case color.YCbCrModel:
		return float64(len(data)) + 1.5*mb + px, 0
	case color.NYCbCrAModel:
		return float64(len(data)) + 1.5*mb + 9*px, 3 * px
	}
	return float64(len(data)) + 8*px + px, 3 * px
}
