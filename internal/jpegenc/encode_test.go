package jpegenc

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"testing"
	"time"
)

// photo444 decodes a real photo into 4:4:4 planes, cropped to w×h (w, h ≤ its size).
func photo444(t testing.TB, w, h int) *image.YCbCr {
	t.Helper()
	data, err := os.ReadFile("../../imgproc/testdata/go-turns-two-280x360.jpeg")
	if err != nil {
		t.Fatal(err)
	}
	src, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio444)
	for y := range h {
		for x := range w {
			c := color.YCbCrModel.Convert(src.At(x+3, y+5)).(color.YCbCr)
			m.Y[m.YOffset(x, y)], m.Cb[m.COffset(x, y)], m.Cr[m.COffset(x, y)] = c.Y, c.Cb, c.Cr
		}
	}
	return m
}

func psnrYCbCr(a *image.YCbCr, b image.Image) float64 {
	var se float64
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.YCbCrModel.Convert(b.At(x, y)).(color.YCbCr)
			for _, d := range []float64{float64(a.Y[a.YOffset(x, y)]) - float64(c.Y), float64(a.Cb[a.COffset(x, y)]) - float64(c.Cb), float64(a.Cr[a.COffset(x, y)]) - float64(c.Cr)} {
				se += d * d
			}
		}
	}
	if se == 0 {
		return 99
	}
	return 10 * math.Log10(255*255/(se/float64(3*r.Dx()*r.Dy())))
}

// TestMatchesImageJPEG: for real photo crops of odd sizes and qualities from 1 to 100, the
// output decodes with image/jpeg to the right size, and is as faithful to the source (PSNR)
// and about as large as what image/jpeg's encoder makes of the same image.
func TestMatchesImageJPEG(t *testing.T) {
	for _, size := range [][2]int{{1, 1}, {8, 8}, {17, 9}, {16, 32}, {277, 183}, {280, 355}} {
		m := photo444(t, size[0], size[1])
		for _, q := range []int{1, 10, 50, 75, 95, 100} {
			got, err := Encode420(nil, m.Y, m.Cb, m.Cr, m.YStride, size[0], size[1], q)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := jpeg.Decode(bytes.NewReader(got))
			if err != nil {
				t.Fatalf("%v q%d: output does not decode: %v", size, q, err)
			}
			if dec.Bounds() != m.Bounds() {
				t.Fatalf("%v q%d: decodes to %v", size, q, dec.Bounds())
			}
			var ref bytes.Buffer
			if err := jpeg.Encode(&ref, m, &jpeg.Options{Quality: q}); err != nil {
				t.Fatal(err)
			}
			refDec, _ := jpeg.Decode(bytes.NewReader(ref.Bytes()))
			ours, theirs := psnrYCbCr(m, dec), psnrYCbCr(m, refDec)
			if ours < theirs-0.5 {
				t.Errorf("%v q%d: PSNR %.2f dB, image/jpeg's encoder %.2f", size, q, ours, theirs)
			}
			if size[0]*size[1] > 1000 && float64(len(got)) > 1.03*float64(ref.Len())+32 {
				t.Errorf("%v q%d: %d bytes, image/jpeg's encoder %d", size, q, len(got), ref.Len())
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	p := make([]uint8, 16)
	for _, c := range []struct{ stride, w, h int }{{4, 0, 4}, {4, 4, 0}, {3, 4, 4}, {4, 4, 5}, {70000, 70000, 1}} {
		if _, err := Encode420(nil, p, p, p, c.stride, c.w, c.h, 90); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func BenchmarkEncodeVsImageJPEG(b *testing.B) {
	m := photo444(b, 256, 192)
	var ours, std float64
	for b.Loop() {
		st := time.Now()
		if _, err := Encode420(make([]byte, 0, 64<<10), m.Y, m.Cb, m.Cr, m.YStride, 256, 192, 95); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(st).Seconds()
		st = time.Now()
		var buf bytes.Buffer
		jpeg.Encode(&buf, m, &jpeg.Options{Quality: 95})
		std += time.Since(st).Seconds()
	}
	b.ReportMetric(std/ours, "speedup")
}
