package inference

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"
)

func TestCenterSquare(t *testing.T) {
	for _, c := range []struct {
		w, h int
		want image.Rectangle
	}{
		{40, 20, image.Rect(10, 0, 30, 20)},
		{20, 41, image.Rect(0, 10, 20, 30)},
		{7, 7, image.Rect(0, 0, 7, 7)},
		{1, 9, image.Rect(0, 4, 1, 5)},
	} {
		if got := CenterSquare(c.w, c.h); got != c.want {
			t.Errorf("CenterSquare(%d, %d) = %v, want %v", c.w, c.h, got, c.want)
		}
	}
}

func TestResamplerNormalisesAndAntialiases(t *testing.T) {
	// A constant colour stays that colour, normalised.
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for y := range 30 {
		for x := range 40 {
			img.Set(x, y, color.RGBA{255, 0, 128, 255})
		}
	}
	tile := make([]float32, 8*8*3)
	NewResampler(8).Tile(tile, img, image.Rect(0, 0, 40, 30))
	want := [3]float32{(1 - CLIPMean[0]) / CLIPStd[0], (0 - CLIPMean[1]) / CLIPStd[1], (128.0/255 - CLIPMean[2]) / CLIPStd[2]}
	for i, v := range tile {
		if math.Abs(float64(v-want[i%3])) > 1e-4 {
			t.Fatalf("value %d = %g, want %g", i, v, want[i%3])
		}
	}
	// A 1-pixel checkerboard downscaled 8× is mid-gray everywhere (no aliasing).
	cb := image.NewGray(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			cb.SetGray(x, y, color.Gray{uint8(255 * ((x + y) % 2))})
		}
	}
	NewResampler(8).Tile(tile, cb, cb.Bounds())
	for i, v := range tile {
		gray := v*CLIPStd[i%3] + CLIPMean[i%3]
		if math.Abs(float64(gray)-0.5) > 0.03 {
			t.Fatalf("downscaled checkerboard value %g, want 0.5", gray)
		}
	}
}

func TestDecodeImageRejects(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("GIF89a"), []byte("\xff\xd8\xff")} {
		if _, err := DecodeImage(b, 1000); err == nil {
			t.Errorf("%q decoded", b)
		}
	}
	jpg, _ := testImage(0, 40, rand.New(rand.NewPCG(1, 1)))
	if _, err := DecodeImage(jpg, 100); err == nil {
		t.Error("an image over the pixel limit decoded")
	}
	if _, err := DecodeImage(jpg, 0); err != nil {
		t.Error(err)
	}
}

func FuzzDecodeAndTile(f *testing.F) {
	jpg, _ := testImage(1, 16, rand.New(rand.NewPCG(1, 1)))
	f.Add(jpg)
	f.Add([]byte("\xff\xd8\xff\xe0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodeImage(data, 1<<20)
		if err != nil {
			return
		}
		b := img.Bounds()
		tile := make([]float32, 4*4*3)
		NewResampler(4).Tile(tile, img, CenterSquare(b.Dx(), b.Dy()))
	})
}

// TestYCbCrFastPath: the inlined JPEG colour conversion matches image/color's within rounding.
func TestYCbCrFastPath(t *testing.T) {
	jpg, _ := testImage(2, 40, rand.New(rand.NewPCG(3, 3)))
	img, err := DecodeImage(jpg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.YCbCr); !ok {
		t.Fatalf("decoded %T", img)
	}
	rect := image.Rect(3, 2, 30, 33)
	fast := toRGB(nil, img, rect)
	generic := toRGB(nil, struct{ image.Image }{img}, rect)
	if len(fast) != len(generic) {
		t.Fatalf("%d vs %d values", len(fast), len(generic))
	}
	for i := range fast {
		if math.Abs(float64(fast[i]-generic[i])) > 1.5/255 {
			t.Fatalf("value %d: fast %g generic %g", i, fast[i], generic[i])
		}
	}
}
