package train

import (
	"fmt"
	"image"
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
// drawn uniformly in [1-Strength, 1+Strength] in a random order, then greyscale with probability
// Gray. The zero value does nothing.
type Jitter struct {
	Strength float64 // 0 ≤ Strength < 1
	Gray     float64 // probability of greyscale, 0–1
}

// Active reports whether j changes anything.
func (j Jitter) Active() bool { return j.Strength > 0 || j.Gray > 0 }

// Validate reports out-of-range parameters.
func (j Jitter) Validate() error {
	if j.Strength < 0 || j.Strength >= 1 || j.Gray < 0 || j.Gray > 1 {
		return fmt.Errorf("colour jitter strength %g must be in [0, 1) and greyscale probability %g in [0, 1]", j.Strength, j.Gray)
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
	if j.Strength > 0 {
		factor := func() float32 { return float32(1 - j.Strength + 2*j.Strength*rng.Float64()) }
		for _, op := range rng.Perm(3) {
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
