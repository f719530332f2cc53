package train

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"math/rand/v2"

	"github.com/witdata/wit/inference"
)

// Random resized crop ranges (OpenCLIP's training transform: RandomResizedCrop(scale=(0.9, 1.0)) with
// torchvision's default aspect ratios 3/4–4/3).
const (
	CropScaleMin = 0.9
	CropScaleMax = 1.0
	CropRatioMin = 3.0 / 4.0
	CropRatioMax = 4.0 / 3.0
	ZoomOutMin   = 0.5 // zoom-out's default smallest side fraction
)

// RandomResizedCrop picks a crop of an w×h image as torchvision's RandomResizedCrop.get_params does:
// up to 10 tries of an area fraction in [scaleMin, scaleMax] and a log-uniform aspect ratio in
// [CropRatioMin, CropRatioMax], else a center crop clamped to those ratios.
func RandomResizedCrop(w, h int, scaleMin, scaleMax float64, rng *rand.Rand) image.Rectangle {
	area := float64(w * h)
	logMin, logMax := math.Log(CropRatioMin), math.Log(CropRatioMax)
	for range 10 {
		target := area * (scaleMin + rng.Float64()*(scaleMax-scaleMin))
		ratio := math.Exp(logMin + rng.Float64()*(logMax-logMin))
		cw := int(math.Round(math.Sqrt(target * ratio)))
		ch := int(math.Round(math.Sqrt(target / ratio)))
		if cw > 0 && cw <= w && ch > 0 && ch <= h {
			x := rng.IntN(w - cw + 1)
			y := rng.IntN(h - ch + 1)
			return image.Rect(x, y, x+cw, y+ch)
		}
	}
	in := float64(w) / float64(h)
	cw, ch := w, h
	switch {
	case in < CropRatioMin:
		ch = int(math.Round(float64(cw) / CropRatioMin))
	case in > CropRatioMax:
		cw = int(math.Round(float64(ch) * CropRatioMax))
	}
	x, y := (w-cw)/2, (h-ch)/2
	return image.Rect(x, y, x+cw, y+ch)
}

// Jitter is a colour augmentation applied after the crop, as torchvision's ColorJitter followed by
// RandomGrayscale (OpenCLIP's and SimCLR's recipe): brightness, contrast and saturation factors
// drawn uniformly in [1-Strength, 1+Strength] and, with Hue > 0, a hue shift drawn in [-Hue, Hue]
// of a turn, in a random order, then greyscale with probability Gray. The zero value does nothing.
type Jitter struct {
	Strength float64 // 0 ≤ Strength < 1
	Hue      float64 // 0 ≤ Hue ≤ 0.5, torchvision's hue (SimCLR: 0.1 with strength 0.4)
	Gray     float64 // probability of greyscale, 0–1
}

// Active reports whether j changes anything.
func (j Jitter) Active() bool { return j.Strength > 0 || j.Hue > 0 || j.Gray > 0 }

// Validate reports out-of-range parameters.
func (j Jitter) Validate() error {
	if j.Strength < 0 || j.Strength >= 1 || j.Gray < 0 || j.Gray > 1 || j.Hue < 0 || j.Hue > 0.5 {
		return fmt.Errorf("colour jitter strength %g must be in [0, 1), hue %g in [0, 0.5] and greyscale probability %g in [0, 1]", j.Strength, j.Hue, j.Gray)
	}
	return nil
}

// luma is ITU-R 601's, as torchvision's rgb_to_grayscale.
func luma(r, g, b float32) float32 { return 0.299*r + 0.587*g + 0.114*b }

// Apply jitters a CLIP-normalised [R, R, 3] tile in place (un-normalise, jitter in [0,1] RGB with
// clamping after each operation as torchvision does, normalise again).
func (j Jitter) Apply(tile []float32, rng *rand.Rand) {
	if !j.Active() {
		return
	}
	for k := 0; k < len(tile); k += 3 {
		for c := range 3 {
			tile[k+c] = tile[k+c]*inference.CLIPStd[c] + inference.CLIPMean[c]
		}
	}
	if j.Strength > 0 || j.Hue > 0 {
		factor := func() float32 { return float32(1 - j.Strength + 2*j.Strength*rng.Float64()) }
		ops := 3 // without hue the draws are those of the runs before hue existed
		if j.Hue > 0 {
			ops = 4
		}
		for _, op := range rng.Perm(ops) {
			if op == 3 {
				shiftHue(tile, float32(j.Hue*(2*rng.Float64()-1)))
				continue
			}
			f := factor()
			switch op {
			case 0: // brightness: blend with black
				for k := range tile {
					tile[k] = clamp01(tile[k] * f)
				}
			case 1: // contrast: blend with the mean grey level
				var sum float32
				for k := 0; k < len(tile); k += 3 {
					sum += luma(tile[k], tile[k+1], tile[k+2])
				}
				mean := sum / float32(len(tile)/3)
				for k := range tile {
					tile[k] = clamp01(mean + f*(tile[k]-mean))
				}
			case 2: // saturation: blend with the pixel's grey
				for k := 0; k < len(tile); k += 3 {
					y := luma(tile[k], tile[k+1], tile[k+2])
					for c := range 3 {
						tile[k+c] = clamp01(y + f*(tile[k+c]-y))
					}
				}
			}
		}
	}
	if j.Gray > 0 && rng.Float64() < j.Gray {
		for k := 0; k < len(tile); k += 3 {
			y := luma(tile[k], tile[k+1], tile[k+2])
			tile[k], tile[k+1], tile[k+2] = y, y, y
		}
	}
	for k := 0; k < len(tile); k += 3 {
		for c := range 3 {
			tile[k+c] = (tile[k+c] - inference.CLIPMean[c]) / inference.CLIPStd[c]
		}
	}
}

func clamp01(v float32) float32 { return min(max(v, 0), 1) }

// shiftHue turns every pixel's hue by shift (a fraction of a turn) in HSV, keeping its saturation
// and value, as torchvision's adjust_hue.
func shiftHue(tile []float32, shift float32) {
	for k := 0; k < len(tile); k += 3 {
		r, g, b := tile[k], tile[k+1], tile[k+2]
		v := max(r, g, b)
		c := v - min(r, g, b)
		if c <= 0 {
			continue // grey: no hue
		}
		var h float32
		switch v {
		case r:
			h = (g - b) / c
		case g:
			h = 2 + (b-r)/c
		default:
			h = 4 + (r-g)/c
		}
		h = h/6 + shift
		h -= float32(math.Floor(float64(h)))
		// HSV → RGB with the same value and chroma.
		h6 := h * 6
		x := c * (1 - float32(math.Abs(math.Mod(float64(h6), 2)-1)))
		m := v - c
		switch int(h6) % 6 {
		case 0:
			r, g, b = c, x, 0
		case 1:
			r, g, b = x, c, 0
		case 2:
			r, g, b = 0, c, x
		case 3:
			r, g, b = 0, x, c
		case 4:
			r, g, b = x, 0, c
		default:
			r, g, b = c, 0, x
		}
		tile[k], tile[k+1], tile[k+2] = clamp01(r+m), clamp01(g+m), clamp01(b+m)
	}
}

// ZoomOut is torchvision's RandomZoomOut (the SSD "expand" augmentation), applied before the random
// resized crop: with probability Prob the image is placed, at a random position, on a larger canvas
// filled with the colour of its border, so that it covers a side fraction drawn uniformly in
// [Min, 1] of the canvas. The random resized crop zooms in only (its area fraction is ≤ 1); zoom-out
// shows the model objects drawn smaller than the training images draw them, with more margin, as
// other sources draw the same things. The zero value does nothing.
type ZoomOut struct {
	Prob float64 // probability of zooming out, 0–1
	Min  float64 // smallest side fraction of the image on the canvas, (0, 1]
}

// Active reports whether z changes anything.
func (z ZoomOut) Active() bool { return z.Prob > 0 && z.Min < 1 }

// Validate reports out-of-range parameters.
func (z ZoomOut) Validate() error {
	if z.Prob < 0 || z.Prob > 1 || (z.Prob > 0 && (z.Min < 0.1 || z.Min > 1)) {
		return fmt.Errorf("zoom-out probability %g must be in [0, 1] and its smallest side fraction %g in [0.1, 1]", z.Prob, z.Min)
	}
	return nil
}

// Apply returns img or, with probability z.Prob, img on a canvas 1/s times its size (s uniform in
// [z.Min, 1]) filled with img's mean border colour.
func (z ZoomOut) Apply(img image.Image, rng *rand.Rand) image.Image {
	if !z.Active() || rng.Float64() >= z.Prob {
		return img
	}
	s := z.Min + rng.Float64()*(1-z.Min)
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	cw, ch := max(w, int(math.Round(float64(w)/s))), max(h, int(math.Round(float64(h)/s)))
	canvas := image.NewRGBA(image.Rect(0, 0, cw, ch))
	draw.Draw(canvas, canvas.Bounds(), image.NewUniform(borderColour(img)), image.Point{}, draw.Src)
	x, y := rng.IntN(cw-w+1), rng.IntN(ch-h+1)
	draw.Draw(canvas, image.Rect(x, y, x+w, y+h), img, b.Min, draw.Src)
	return canvas
}

// borderColour is the most frequent colour (at 5 bits a channel) of img's outermost pixels: the
// background a web image's object sits on (white for icons composited on white), which a mean would
// mix with the object's own pixels where it touches the border.
func borderColour(img image.Image) color.RGBA {
	b := img.Bounds()
	var counts [1 << 15]uint16
	best, bestN := uint16(1<<15-1), uint16(0)
	add := func(x, y int) {
		cr, cg, cb, _ := img.At(x, y).RGBA()
		k := uint16(cr>>11)<<10 | uint16(cg>>11)<<5 | uint16(cb>>11)
		counts[k]++
		if counts[k] > bestN {
			best, bestN = k, counts[k]
		}
	}
	for x := b.Min.X; x < b.Max.X; x++ {
		add(x, b.Min.Y)
		add(x, b.Max.Y-1)
	}
	for y := b.Min.Y + 1; y < b.Max.Y-1; y++ {
		add(b.Min.X, y)
		add(b.Max.X-1, y)
	}
	level := func(v uint16) uint8 { return uint8(v&31)<<3 | uint8(v&31)>>2 }
	return color.RGBA{R: level(best >> 10), G: level(best >> 5), B: level(best), A: 255}
}

// Outline draws dark contours over a CLIP-normalised [R, R, 3] tile with probability Prob: pixels
// whose luma gradient (Sobel, on the tile) exceeds Threshold become black. It turns a filled,
// shaded drawing into a line drawing of the same shapes, the way many icon and clip-art styles
// draw, so that the model keys on shapes and colours rather than on one style's rendering. Applied
// after the colour jitter. The zero value does nothing.
type Outline struct {
	Prob      float64 // probability, 0–1
	Threshold float64 // Sobel magnitude on [0,1] luma above which a pixel becomes a contour (default 1)
}

// OutlineThreshold is Outline's default Sobel threshold: a step of a quarter of the luma range.
const OutlineThreshold = 1.0

// Validate reports out-of-range parameters.
func (o Outline) Validate() error {
	if o.Prob < 0 || o.Prob > 1 || o.Threshold < 0 {
		return fmt.Errorf("outline probability %g must be in [0, 1] and its threshold %g ≥ 0", o.Prob, o.Threshold)
	}
	return nil
}

// Apply draws the contours into tile (side r) with probability o.Prob; edges is scratch of r·r
// values (reused across calls).
func (o Outline) Apply(tile []float32, r int, edges []float32, rng *rand.Rand) {
	if o.Prob <= 0 || rng.Float64() >= o.Prob {
		return
	}
	th := float32(o.Threshold)
	if th == 0 {
		th = OutlineThreshold
	}
	lum := func(x, y int) float32 {
		x, y = min(max(x, 0), r-1), min(max(y, 0), r-1)
		k := (y*r + x) * 3
		return luma(tile[k]*inference.CLIPStd[0]+inference.CLIPMean[0], tile[k+1]*inference.CLIPStd[1]+inference.CLIPMean[1],
			tile[k+2]*inference.CLIPStd[2]+inference.CLIPMean[2])
	}
	for y := range r {
		for x := range r {
			gx := lum(x+1, y-1) + 2*lum(x+1, y) + lum(x+1, y+1) - lum(x-1, y-1) - 2*lum(x-1, y) - lum(x-1, y+1)
			gy := lum(x-1, y+1) + 2*lum(x, y+1) + lum(x+1, y+1) - lum(x-1, y-1) - 2*lum(x, y-1) - lum(x+1, y-1)
			edges[y*r+x] = gx*gx + gy*gy
		}
	}
	for i, e := range edges[:r*r] {
		if e > th*th {
			for c := range 3 {
				tile[i*3+c] = -inference.CLIPMean[c] / inference.CLIPStd[c] // black
			}
		}
	}
}
