package imgproc

import (
	"bytes"
	"errors"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/witdata/wit/internal/jpegscale"
)

// TestScaledJPEGDecode: Process decodes a large-enough JPEG at a reduced scale
// (internal/jpegscale). Against the reference resize (x/image/draw's CatmullRom of
// image/jpeg's full decode) it must do at least as well as Process's own path from the full
// decode, which it replaces; sizes and reported dimensions must not change in any mode.
// Fixtures: every sampling layout, progressive files, restarts, odd sizes.
func TestScaledJPEGDecode(t *testing.T) {
	paths, _ := filepath.Glob("../internal/jpegscale/testdata/*.jpg")
	paths = append(paths, "testdata/go-turns-two-280x360.jpeg", "testdata/video-001.progressive.jpeg")
	var scaled int
	var sumScaled, sumFull float64
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(p)
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width < 64 {
			continue
		}
		full, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			continue // refused by image/jpeg too (arithmetic coding...)
		}
		for _, mode := range []ResizeMode{ModeKeepRatioLargest, ModeBorder, ModeKeepRatio, ModeCenterCrop} {
			for _, size := range []int{16, 32, 64} {
				o := Options{Size: size, Mode: mode}.withDefaults()
				if jpegScale(cfg.Width, cfg.Height, 1, o) == 1 {
					continue
				}
				scaled++
				res, err := Process(data, o)
				if err != nil {
					t.Fatalf("%s %v %d: %v", name, mode, size, err)
				}
				fromFull, err := render(planesFromImage(full), cfg.Width, cfg.Height, 1, o)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := jpeg.Decode(bytes.NewReader(res.JPEG))
				old, _ := jpeg.Decode(bytes.NewReader(fromFull.JPEG))
				if got.Bounds() != old.Bounds() || res.OrigWidth != cfg.Width || res.OrigHeight != cfg.Height {
					t.Fatalf("%s %v %d: %v (orig %dx%d), from the full decode %v", name, mode, size, got.Bounds(), res.OrigWidth, res.OrigHeight, old.Bounds())
				}
				if mode != ModeKeepRatioLargest {
					continue
				}
				refJPEG, _, err := stdlibPipeline(data, size, 95, false)
				if err != nil {
					t.Fatal(err)
				}
				ref, _ := jpeg.Decode(bytes.NewReader(refJPEG))
				ps, pf := psnr(got, ref), psnr(old, ref)
				sumScaled, sumFull = sumScaled+ps, sumFull+pf
				// Both differ from the reference by sub-pixel edge geometry and rounding, which
				// at 16-64 pixels moves PSNR by a few dB either way (most in 4:1:1 chroma, a
				// quarter of the luma's width).
				if ps < pf-3 {
					t.Errorf("%s %d: PSNR %.1f dB against the reference, %.1f from the full decode", name, size, ps, pf)
				}
			}
		}
	}
	if scaled < 100 {
		t.Fatalf("only %d cases decoded at a reduced scale", scaled)
	}
	if sumScaled < sumFull {
		t.Errorf("mean PSNR against the reference %.2f dB, %.2f from the full decode", sumScaled/float64(scaled/4), sumFull/float64(scaled/4))
	}
}

// TestTooManyScansIsFinal: a JPEG the decoder refuses for its scan count fails as "decode"
// at once; it is not handed to image/jpeg, which has no such limit.
func TestTooManyScansIsFinal(t *testing.T) {
	data, err := os.ReadFile("../internal/jpegscale/testdata/progressive-420-277x183.jpg")
	if err != nil {
		t.Fatal(err)
	}
	first := bytes.Index(data, []byte{0xFF, 0xDA})
	tables := bytes.LastIndex(data[:first], []byte{0xFF, 0xC4})
	second := first + 2 + bytes.Index(data[first+2:], []byte{0xFF, 0xC4})
	out := append([]byte(nil), data[:len(data)-2]...)
	for range jpegscale.MaxScans {
		out = append(out, data[tables:second]...)
	}
	out = append(out, 0xFF, 0xD9)
	_, err = Process(out, Options{Size: 64})
	if ReasonOf(err) != ReasonDecode || !errors.Is(err, jpegscale.ErrTooManyScans) {
		t.Fatalf("err = %v (reason %q), want a decode error wrapping ErrTooManyScans", err, ReasonOf(err))
	}
}
