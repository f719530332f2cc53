package imgproc

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/draw"

	"github.com/witdata/wit/internal/procstat"
)

// benchImage is one input of the pipeline benchmarks.
type benchImage struct {
	name string
	data []byte
	mp   float64 // megapixels
}

// loadBenchImages reads WIT_BENCH_IMAGES_DIR (see scripts/bench-images-data.sh)
// filtered by format ("" = all), falling back to testdata.
func loadBenchImages(tb testing.TB, format string) []benchImage {
	tb.Helper()
	dir := os.Getenv("WIT_BENCH_IMAGES_DIR")
	if dir == "" {
		dir = "testdata"
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatalf("read bench images: %v", err)
	}
	var out []benchImage
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		f := Sniff(data)
		if f == "" || (format != "" && f != format) {
			continue
		}
		cfg, err := decodeConfig(f, data)
		if err != nil || cfg.Width*cfg.Height > DefaultMaxPixels {
			continue
		}
		// Skip tiny icons in testdata: the benchmark is about photos.
		if cfg.Width*cfg.Height < 64*64 {
			continue
		}
		out = append(out, benchImage{name: e.Name(), data: data, mp: float64(cfg.Width*cfg.Height) / 1e6})
	}
	if len(out) == 0 {
		tb.Skipf("no %s images in %s", format, dir)
	}
	return out
}

// stdlibPipeline is the baseline of issue 4: image.Decode, x/image/draw
// CatmullRom into an RGBA of the border-mode content size, jpeg.Encode.
//
// With onWhite the scaled image is drawn over white (draw.Over) so that
// transparent sources compare like-for-like with Process; the benchmark uses
// the plain draw.Src form.
func stdlibPipeline(data []byte, size, quality int, onWhite bool) ([]byte, *image.RGBA, error) {
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	b := src.Bounds()
	w, h, _, _ := targetSize(b.Dx(), b.Dy(), Options{Size: size, Mode: ModeKeepRatioLargest})
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	op := draw.Src
	if onWhite {
		draw.Draw(dst, dst.Bounds(), image.White, image.Point{}, draw.Src)
		op = draw.Over
	}
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, op, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: quality}); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), dst, nil
}

// runPipeline times fn over the images, round robin, and reports MP/s.
func runPipeline(b *testing.B, imgs []benchImage, fn func([]byte) error) {
	b.ReportAllocs()
	var mp float64
	cpu0 := procstat.CPUTime()
	for i := 0; b.Loop(); i++ {
		im := imgs[i%len(imgs)]
		if err := fn(im.data); err != nil {
			b.Fatalf("%s: %v", im.name, err)
		}
		mp += im.mp
	}
	b.ReportMetric(mp/b.Elapsed().Seconds(), "MP/s")
	if cpu := procstat.CPUTime() - cpu0; cpu > 0 {
		b.ReportMetric(mp/cpu.Seconds(), "MP/cpu-s")
	}
}

func benchFormats() []string { return []string{"jpeg", "png", ""} }

func benchName(f string) string {
	if f == "" {
		return "all"
	}
	return f
}

// BenchmarkPipeline: Process (keep_ratio_largest 256, q95, no EXIF work
// difference) over the bench images; reports source megapixels per second.
// Run with -cpu 1 for per-core figures.
func BenchmarkPipeline(b *testing.B) {
	for _, f := range benchFormats() {
		b.Run(benchName(f), func(b *testing.B) {
			imgs := loadBenchImages(b, f)
			opts := Options{Size: 256, Mode: ModeKeepRatioLargest, Quality: 95}
			runPipeline(b, imgs, func(data []byte) error {
				_, err := Process(data, opts)
				return err
			})
		})
	}
}

// BenchmarkStdlibPipeline is the baseline on the same images.
func BenchmarkStdlibPipeline(b *testing.B) {
	for _, f := range benchFormats() {
		b.Run(benchName(f), func(b *testing.B) {
			imgs := loadBenchImages(b, f)
			runPipeline(b, imgs, func(data []byte) error {
				_, _, err := stdlibPipeline(data, 256, 95, false)
				return err
			})
		})
	}
}

// psnr compares two images of equal size over R, G and B.
func psnr(a, b image.Image) float64 {
	ab := a.Bounds()
	var se float64
	n := 0
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			r1, g1, b1, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(b.Bounds().Min.X+x, b.Bounds().Min.Y+y).RGBA()
			for _, d := range []float64{float64(r1>>8) - float64(r2>>8), float64(g1>>8) - float64(g2>>8), float64(b1>>8) - float64(b2>>8)} {
				se += d * d
			}
			n += 3
		}
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(n)))
}

// TestPSNRAgainstCatmullRom checks that Process's output (after its own
// JPEG round trip) matches the x/image/draw CatmullRom resize of the same
// image. Both sides are compared as decoded JPEGs at quality 95, so the
// figure is "visual equality of the shipped bytes".
func TestPSNRAgainstCatmullRom(t *testing.T) {
	imgs := loadBenchImages(t, "")
	var sum, worst float64 = 0, math.Inf(1)
	for _, im := range imgs {
		res, err := Process(im.data, Options{Size: 256, Mode: ModeKeepRatioLargest})
		if err != nil {
			t.Fatalf("%s: %v", im.name, err)
		}
		refJPEG, _, err := stdlibPipeline(im.data, 256, 95, true)
		if err != nil {
			t.Fatalf("%s: stdlib: %v", im.name, err)
		}
		got, err := jpeg.Decode(bytes.NewReader(res.JPEG))
		if err != nil {
			t.Fatal(err)
		}
		ref, err := jpeg.Decode(bytes.NewReader(refJPEG))
		if err != nil {
			t.Fatal(err)
		}
		if got.Bounds() != ref.Bounds() {
			t.Fatalf("%s: size %v, reference %v", im.name, got.Bounds(), ref.Bounds())
		}
		p := psnr(got, ref)
		t.Logf("%-70s %5.1f MP  PSNR %.2f dB", im.name, im.mp, p)
		sum += min(p, 99) // identical outputs (blank images) would make the mean +Inf
		worst = min(worst, p)
		if p < 30 {
			t.Errorf("%s: PSNR %.2f dB < 30 dB against CatmullRom", im.name, p)
		}
	}
	t.Logf("PSNR vs CatmullRom over %d images: mean %.2f dB, worst %.2f dB", len(imgs), sum/float64(len(imgs)), worst)
}

// BenchmarkResizePlane: one 1920×1080 luma plane to 256×144 (the resize
// step alone; decode excluded).
func BenchmarkResizePlane(b *testing.B) {
	src := newPlane(1920, 1080)
	for i := range src.pix {
		src.pix[i] = uint8(i*7 + i/1920*3)
	}
	b.ReportAllocs()
	cpu0 := procstat.CPUTime()
	for b.Loop() {
		out := resizePlane(src, 256, 144)
		bytePool.put(out.pix)
	}
	b.ReportMetric(float64(b.N)*1920*1080/1e6/b.Elapsed().Seconds(), "MP/s")
	b.ReportMetric(float64(b.N)*1920*1080/1e6/(procstat.CPUTime()-cpu0).Seconds(), "MP/cpu-s")
}
