package jpegscale

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtures are the real JPEGs of testdata (made with libjpeg-turbo's cjpeg/jpegtran, see
// testdata/README.md: every sampling layout, progressive, restarts, odd sizes) and imgproc's.
func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	var paths []string
	for _, pattern := range []string{"testdata/*.jpg", "testdata/*.jpeg", "../../imgproc/testdata/*.jpeg"} {
		m, _ := filepath.Glob(pattern)
		paths = append(paths, m...)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = data
	}
	if len(out) < 5 {
		t.Fatalf("only %d JPEG fixtures", len(out))
	}
	return out
}

// refused names the fixtures this decoder hands back to image/jpeg.
func refused(name string) bool {
	for _, s := range []string{"arithmetic", "rgb", "cmyk", "12bit", "lossless"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// twins maps a fixture image/jpeg cannot read to one made by the same command without the
// feature it trips on (testdata/README.md).
var twins = map[string]string{"restart-2mcu-progressive-420-277x183.jpg": "progressive-420-277x183.jpg"}

// planes returns an image's planes with their sizes: Y (or grey) and, for YCbCr, Cb and Cr.
type planeView struct {
	pix    []uint8
	stride int
	w, h   int
}

func planesOf(t testing.TB, img image.Image) []planeView {
	t.Helper()
	b := img.Bounds()
	switch m := img.(type) {
	case *image.Gray:
		return []planeView{{m.Pix, m.Stride, b.Dx(), b.Dy()}}
	case *image.YCbCr:
		cw, ch := chromaSize(b.Dx(), b.Dy(), m.SubsampleRatio)
		return []planeView{{m.Y, m.YStride, b.Dx(), b.Dy()}, {m.Cb, m.CStride, cw, ch}, {m.Cr, m.CStride, cw, ch}}
	}
	t.Fatalf("unexpected image type %T", img)
	return nil
}

func chromaSize(w, h int, r image.YCbCrSubsampleRatio) (int, int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return (w + 1) / 2, h
	case image.YCbCrSubsampleRatio420:
		return (w + 1) / 2, (h + 1) / 2
	case image.YCbCrSubsampleRatio440:
		return w, (h + 1) / 2
	case image.YCbCrSubsampleRatio411:
		return (w + 3) / 4, h
	case image.YCbCrSubsampleRatio410:
		return (w + 3) / 4, (h + 1) / 2
	}
	return w, h
}

// compare measures a scaled decode against image/jpeg's full decode averaged over the same
// scale×scale groups. Groups cut by the image's edge are left out: there the scaled decode
// averages the encoder's padding too. maxAbs leaves out groups holding a 0 or 255: a full
// decode clamps each pixel of a ringing edge, the frequency domain averages before clamping
// (as libjpeg's scaled decode does), so the two rightly differ there.
func compare(ref, got planeView, scale int) (meanAbs float64, maxAbs, groups int) {
	var sum, n int
	for gy := 0; (gy+1)*scale <= ref.h && gy < got.h; gy++ {
		for gx := 0; (gx+1)*scale <= ref.w && gx < got.w; gx++ {
			var s int
			clamped := false
			for y := gy * scale; y < (gy+1)*scale; y++ {
				for x := gx * scale; x < (gx+1)*scale; x++ {
					v := ref.pix[y*ref.stride+x]
					s += int(v)
					clamped = clamped || v == 0 || v == 255
				}
			}
			mean := (s + scale*scale/2) / (scale * scale)
			diff := int(got.pix[gy*got.stride+gx]) - mean
			if diff < 0 {
				diff = -diff
			}
			sum += diff
			n++
			if !clamped {
				maxAbs = max(maxAbs, diff)
			}
		}
	}
	if n == 0 {
		return 0, 0, 0
	}
	return float64(sum) / float64(n), maxAbs, n
}

func TestMatchesImageJPEG(t *testing.T) {
	for name, data := range fixtures(t) {
		t.Run(name, func(t *testing.T) {
			ref, refErr := jpeg.Decode(bytes.NewReader(data))
			for _, scale := range []int{1, 2, 4, 8} {
				got, err := Decode(data, scale)
				if refused(name) {
					if !errors.Is(err, ErrUnsupported) {
						t.Fatalf("scale %d: err = %v, want ErrUnsupported", scale, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("scale %d: %v", scale, err)
				}
				if refErr != nil {
					// image/jpeg fails on some valid files (restart markers in progressive
					// scans): such a fixture must decode exactly like its twin made without.
					twin, ok := twins[name]
					if !ok {
						t.Fatalf("image/jpeg cannot read the fixture: %v", refErr)
					}
					want, err := Decode(fixtures(t)[twin], scale)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got.(*image.YCbCr).Y, want.(*image.YCbCr).Y) || !bytes.Equal(got.(*image.YCbCr).Cr, want.(*image.YCbCr).Cr) {
						t.Fatalf("scale %d: differs from %s", scale, twin)
					}
					continue
				}
				rb, gb := ref.Bounds(), got.Bounds()
				if want := image.Rect(0, 0, (rb.Dx()+scale-1)/scale, (rb.Dy()+scale-1)/scale); gb != want {
					t.Fatalf("scale %d: bounds %v, want %v", scale, gb, want)
				}
				if fmt.Sprintf("%T", got) != fmt.Sprintf("%T", ref) {
					t.Fatalf("scale %d: %T, image/jpeg gives %T", scale, got, ref)
				}
				if r, ok := ref.(*image.YCbCr); ok && got.(*image.YCbCr).SubsampleRatio != r.SubsampleRatio {
					t.Fatalf("scale %d: ratio %v, want %v", scale, got.(*image.YCbCr).SubsampleRatio, r.SubsampleRatio)
				}
				rp, gp := planesOf(t, ref), planesOf(t, got)
				for i := range rp {
					mean, worst, groups := compare(rp[i], gp[i], scale)
					// image/jpeg's integer IDCT rounds differently from this float one: a level
					// here and there at full size, less once averaged.
					if (groups >= 16 && mean > 0.35) || worst > 3 {
						t.Errorf("scale %d plane %d: mean |diff| %.3f, max %d", scale, i, mean, worst)
					}
				}
			}
		})
	}
}

func TestScale(t *testing.T) {
	for _, c := range []struct{ w, h, minW, minH, want int }{
		{1920, 1080, 256, 144, 4},
		{1920, 1080, 768, 432, 2},
		{1920, 1080, 961, 1, 1},
		{4000, 3000, 256, 256, 8},
		{100, 100, 256, 256, 1},
		{17, 9, 2, 1, 8},
		{17, 9, 3, 3, 4},
	} {
		if got := Scale(c.w, c.h, c.minW, c.minH); got != c.want {
			t.Errorf("Scale(%d, %d, %d, %d) = %d, want %d", c.w, c.h, c.minW, c.minH, got, c.want)
		}
	}
}

// TestBrokenInput: every truncation and a sample of corrupted bytes of every fixture give an
// error or an image of the header's size, never a panic.
func TestBrokenInput(t *testing.T) {
	for name, data := range fixtures(t) {
		if refused(name) {
			continue
		}
		step := max(1, len(data)/97)
		for cut := 0; cut < len(data); cut += step {
			if _, err := Decode(data[:cut], 2); err == nil {
				t.Errorf("%s cut at %d of %d: no error", name, cut, len(data))
			}
		}
		buf := make([]byte, len(data))
		for i := 2; i < len(data); i += step {
			copy(buf, data)
			buf[i] ^= 0x5A
			if img, err := Decode(buf, 4); err == nil {
				if b := img.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 {
					t.Errorf("%s byte %d flipped: empty image", name, i)
				}
			}
		}
	}
}

func TestBadScale(t *testing.T) {
	if _, err := Decode(nil, 3); err == nil {
		t.Fatal("scale 3 accepted")
	}
	var fe FormatError
	if _, err := Decode([]byte("not a jpeg"), 2); !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a FormatError", err)
	}
}

// TestAdobeRGBAfterFrame: an Adobe APP14 segment saying "RGB" (transform 0) after the frame
// header still makes the file RGB, as image/jpeg reads it: refused, not decoded as YCbCr.
func TestAdobeRGBAfterFrame(t *testing.T) {
	data := fixtures(t)["baseline-444-277x183.jpg"]
	var segs [][]byte // SOI, then whole marker segments up to SOS; then the rest
	segs = append(segs, data[:2])
	i := 2
	for data[i+1] != mSOS {
		n := int(data[i+2])<<8 | int(data[i+3])
		segs = append(segs, data[i:i+2+n])
		i += 2 + n
	}
	var out []byte
	for _, s := range segs {
		switch s[1] {
		case mAPP0: // drop JFIF
			continue
		case mSOF0:
			out = append(out, s...)
			out = append(out, 0xFF, mAPPE, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0)
			continue
		}
		out = append(out, s...)
	}
	out = append(out, data[i:]...)
	ref, err := jpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ref.(*image.RGBA); !ok {
		t.Fatalf("image/jpeg reads it as %T, the test expects RGB", ref)
	}
	if _, err := Decode(out, 2); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
}

// TestTooManyScans: a progressive file whose first scan (with the Huffman tables before it)
// is repeated past MaxScans is refused with ErrTooManyScans, after MaxScans scans at most.
func TestTooManyScans(t *testing.T) {
	data := fixtures(t)["progressive-420-277x183.jpg"]
	first := bytes.Index(data, []byte{0xFF, mSOS})
	tables := bytes.LastIndex(data[:first], []byte{0xFF, mDHT})
	second := first + 2 + bytes.Index(data[first+2:], []byte{0xFF, mDHT})
	eoi := len(data) - 2
	if first < 0 || tables < 0 || second <= first || data[eoi] != 0xFF || data[eoi+1] != mEOI {
		t.Fatal("unexpected fixture layout")
	}
	scan := data[tables:second] // DHT, SOS and its data: the DC scan of every component
	build := func(repeats int) []byte {
		out := append([]byte(nil), data[:eoi]...)
		for range repeats {
			out = append(out, scan...)
		}
		return append(out, 0xFF, mEOI)
	}
	if _, err := Decode(build(1), 1); err != nil {
		t.Fatalf("the first scan once more: %v", err)
	}
	if _, err := Decode(build(MaxScans), 1); !errors.Is(err, ErrTooManyScans) {
		t.Fatalf("err = %v, want ErrTooManyScans", err)
	}
}
