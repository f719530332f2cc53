package inference

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // decoders for Embedder inputs; shards hold JPEG
	"image/jpeg"
	_ "image/png"
	"math"
	"slices"

	"github.com/witdata/wit/internal/jpegscale"
)

// CLIP's normalisation (OpenAI's clip.py _transform): per-channel mean and std of RGB in [0,1].
var (
	CLIPMean = [3]float32{0.48145466, 0.4578275, 0.40821073}
	CLIPStd  = [3]float32{0.26862954, 0.26130258, 0.27577711}
)

// DefaultMaxPixels bounds the decoded size of one image (a hostile header cannot make the embedder
// or the training loader allocate gigabytes): 40 megapixels.
const DefaultMaxPixels = 40_000_000

// ErrImage marks an image that cannot be used (undecodable, empty, too large).
var ErrImage = errors.New("bad image")

// DecodeImage decodes JPEG (or PNG/GIF) bytes after checking the header's size against maxPixels.
func DecodeImage(data []byte, maxPixels int64) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: decode header: %v", ErrImage, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%w: %s of size %dx%d", ErrImage, format, cfg.Width, cfg.Height)
	}
	if maxPixels > 0 && int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, fmt.Errorf("%w: %dx%d exceeds %d pixels", ErrImage, cfg.Width, cfg.Height, maxPixels)
	}
	var img image.Image
	if format == "jpeg" {
		// wit's decoder is about twice image/jpeg's speed (the training loader decodes every
		// sample); what it refuses or finds broken, image/jpeg decides.
		if img, err = jpegscale.Decode(data, 1); errors.Is(err, jpegscale.ErrTooManyScans) {
			return nil, fmt.Errorf("%w: decode %s: %v", ErrImage, format, err)
		} else if err != nil {
			img, err = jpeg.Decode(bytes.NewReader(data))
		}
	} else {
		img, _, err = image.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: decode %s: %v", ErrImage, format, err)
	}
	return img, nil
}

// CenterSquare is the evaluation crop: the central square of side min(w, h) (resizing it to R×R
// equals CLIP's "resize the short side to R, center crop R").
func CenterSquare(w, h int) image.Rectangle {
	s := min(w, h)
	x, y := (w-s)/2, (h-s)/2
	return image.Rect(x, y, x+s, y+s)
}

// Resampler converts a crop of an image into a normalised, channels-last float32 R×R×3 tile with an
// antialiased (triangle filter widened by the downscale factor, like PIL's bilinear) separable
// resize. It keeps scratch buffers: use one per goroutine.
type Resampler struct {
	R       int
	rgb     []float32 // crop as RGB in [0,1], row-major
	horiz   []float32 // after the horizontal pass: ch × R × 3
	wx, wy  weights
	lastCol [2]int // cached weight geometry (src length, dst length) for x
	lastRow [2]int
}

// weights of a 1-D resize: for each output index, the first source index and its taps.
type weights struct {
	start []int
	taps  [][]float32
}

func makeWeights(w *weights, src, dst int) {
	scale := float64(src) / float64(dst)
	support := max(scale, 1)
	w.start = w.start[:0]
	w.taps = w.taps[:0]
	for i := range dst {
		center := (float64(i)+0.5)*scale - 0.5
		lo := int(math.Ceil(center - support))
		hi := int(math.Floor(center + support))
		lo, hi = max(lo, 0), min(hi, src-1)
		taps := make([]float32, 0, hi-lo+1)
		var sum float64
		for j := lo; j <= hi; j++ {
			v := 1 - math.Abs(float64(j)-center)/support
			if v < 0 {
				v = 0
			}
			taps = append(taps, float32(v))
			sum += v
		}
		if sum == 0 { // degenerate: nearest pixel
			lo, taps = min(max(int(math.Round(center)), 0), src-1), []float32{1}
			sum = 1
		}
		for k := range taps {
			taps[k] /= float32(sum)
		}
		w.start = append(w.start, lo)
		w.taps = append(w.taps, taps)
	}
}

// NewResampler returns a resampler to R×R tiles.
func NewResampler(r int) *Resampler { return &Resampler{R: r} }

// Tile writes the crop rect of img, resized to R×R and normalised with CLIP's mean/std, into dst
// (len R·R·3, layout [y][x][rgb]).
func (s *Resampler) Tile(dst []float32, img image.Image, rect image.Rectangle) {
	r := s.R
	rect = rect.Add(img.Bounds().Min).Intersect(img.Bounds())
	cw, ch := rect.Dx(), rect.Dy()
	if len(dst) != r*r*3 {
		panic(fmt.Sprintf("resampler: dst has %d values, want %d", len(dst), r*r*3))
	}
	if cw <= 0 || ch <= 0 {
		panic(fmt.Sprintf("resampler: empty crop %v of %v", rect, img.Bounds()))
	}
	s.rgb = toRGB(s.rgb[:0], img, rect)
	if s.lastCol != [2]int{cw, r} {
		makeWeights(&s.wx, cw, r)
		s.lastCol = [2]int{cw, r}
	}
	if s.lastRow != [2]int{ch, r} {
		makeWeights(&s.wy, ch, r)
		s.lastRow = [2]int{ch, r}
	}
	// Horizontal: [ch][cw][3] → [ch][r][3].
	if cap(s.horiz) < ch*r*3 {
		s.horiz = make([]float32, ch*r*3)
	}
	h := s.horiz[:ch*r*3]
	for y := range ch {
		row := s.rgb[y*cw*3 : (y+1)*cw*3]
		out := h[y*r*3 : (y+1)*r*3]
		for x := range r {
			var a, b, c float32
			j := s.wx.start[x] * 3
			for _, t := range s.wx.taps[x] {
				a += t * row[j]
				b += t * row[j+1]
				c += t * row[j+2]
				j += 3
			}
			out[x*3], out[x*3+1], out[x*3+2] = a, b, c
		}
	}
	// Vertical: [ch][r][3] → [r][r][3], then normalise.
	for y := range r {
		out := dst[y*r*3 : (y+1)*r*3]
		clear(out)
		j := s.wy.start[y]
		for _, t := range s.wy.taps[y] {
			src := h[j*r*3 : (j+1)*r*3]
			for k := range out {
				out[k] += t * src[k]
			}
			j++
		}
		for k := 0; k < len(out); k += 3 {
			out[k] = (out[k] - CLIPMean[0]) / CLIPStd[0]
			out[k+1] = (out[k+1] - CLIPMean[1]) / CLIPStd[1]
			out[k+2] = (out[k+2] - CLIPMean[2]) / CLIPStd[2]
		}
	}
}

// toRGB appends the pixels of rect as RGB floats in [0,1], with fast paths for the decoders' types.
func toRGB(dst []float32, img image.Image, rect image.Rectangle) []float32 {
	const inv = 1.0 / 255
	switch m := img.(type) {
	case *image.YCbCr:
		// JFIF's YCbCr→RGB in float, inlined (color.YCbCrToRGB per pixel costs more than the decode).
		n := len(dst)
		dst = slices.Grow(dst, rect.Dx()*rect.Dy()*3)[:n+rect.Dx()*rect.Dy()*3]
		out := dst[n:]
		k := 0
		for y := rect.Min.Y; y < rect.Max.Y; y++ {
			for x := rect.Min.X; x < rect.Max.X; x++ {
				yy := float32(m.Y[m.YOffset(x, y)])
				ci := m.COffset(x, y)
				cb, cr := float32(m.Cb[ci])-128, float32(m.Cr[ci])-128
				out[k] = clamp01((yy + 1.402*cr) * inv)
				out[k+1] = clamp01((yy - 0.344136*cb - 0.714136*cr) * inv)
				out[k+2] = clamp01((yy + 1.772*cb) * inv)
				k += 3
			}
		}
	case *image.Gray:
		for y := rect.Min.Y; y < rect.Max.Y; y++ {
			row := m.Pix[m.PixOffset(rect.Min.X, y):]
			for x := range rect.Dx() {
				v := float32(row[x]) * inv
				dst = append(dst, v, v, v)
			}
		}
	case *image.RGBA:
		for y := rect.Min.Y; y < rect.Max.Y; y++ {
			row := m.Pix[m.PixOffset(rect.Min.X, y):]
			for x := range rect.Dx() {
				p := row[x*4 : x*4+4]
				bg := float32(255-p[3]) * inv // premultiplied: composite on white
				dst = append(dst, float32(p[0])*inv+bg, float32(p[1])*inv+bg, float32(p[2])*inv+bg)
			}
		}
	default:
		// Generic: composite any alpha on white (as imgproc stores images), 16-bit channels.
		for y := rect.Min.Y; y < rect.Max.Y; y++ {
			for x := rect.Min.X; x < rect.Max.X; x++ {
				r, g, b, a := img.At(x, y).RGBA()
				bg := float32(0xffff-a) / 0xffff
				dst = append(dst, float32(r)/0xffff+bg, float32(g)/0xffff+bg, float32(b)/0xffff+bg)
			}
		}
	}
	return dst
}

func clamp01(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}
