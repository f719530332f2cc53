package train

import (
	"image"
	"math"
	"math/rand/v2"
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
