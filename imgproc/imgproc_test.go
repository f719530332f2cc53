package imgproc

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// photo returns a smooth, photo-like test image (gradients plus a disc).
func photo(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := x-w/2, y-h/2
			in := dx*dx+dy*dy < (min(w, h)/3)*(min(w, h)/3)
			c := color.RGBA{uint8(255 * x / max(1, w-1)), uint8(255 * y / max(1, h-1)), 90, 255}
			if in {
				c.B = 220
			}
			m.SetRGBA(x, y, c)
		}
	}
	return m
}

func encJPEG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encPNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func decodeOut(t testing.TB, r *Result) image.Image {
	t.Helper()
	m, err := jpeg.Decode(bytes.NewReader(r.JPEG))
	if err != nil {
		t.Fatalf("output is not a JPEG: %v", err)
	}
	if m.Bounds().Dx() != r.Width || m.Bounds().Dy() != r.Height {
		t.Fatalf("JPEG is %v, Result says %dx%d", m.Bounds(), r.Width, r.Height)
	}
	return m
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantReason(t *testing.T, err error, reason string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", reason)
	}
	var e *Error
	if !asError(err, &e) {
		t.Fatalf("error %T %v is not *Error", err, err)
	}
	if e.Reason != reason {
		t.Fatalf("reason %q (%v), want %q", e.Reason, err, reason)
	}
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*target = e
	}
	return ok
}

func TestModes(t *testing.T) {
	tests := []struct {
		name       string
		w, h       int
		mode       ResizeMode
		onlyBigger bool
		wantW      int
		wantH      int
	}{
		{"border landscape", 400, 200, ModeBorder, false, 256, 256},
		{"border portrait", 150, 600, ModeBorder, false, 256, 256},
		{"border upscale", 40, 20, ModeBorder, false, 256, 256},
		{"border small kept, padded", 40, 20, ModeBorder, true, 256, 256},
		{"no", 333, 111, ModeNo, false, 333, 111},
		{"keep_ratio landscape", 400, 200, ModeKeepRatio, false, 512, 256},
		{"keep_ratio portrait", 300, 900, ModeKeepRatio, false, 256, 768},
		{"keep_ratio upscale", 100, 50, ModeKeepRatio, false, 512, 256},
		{"keep_ratio only bigger", 100, 50, ModeKeepRatio, true, 100, 50},
		{"keep_ratio rounding", 1000, 333, ModeKeepRatio, false, 769, 256},
		{"keep_ratio_largest landscape", 400, 200, ModeKeepRatioLargest, false, 256, 128},
		{"keep_ratio_largest portrait", 300, 900, ModeKeepRatioLargest, false, 85, 256},
		{"center_crop landscape", 400, 200, ModeCenterCrop, false, 256, 256},
		{"center_crop portrait", 200, 700, ModeCenterCrop, false, 256, 256},
		{"center_crop only bigger small", 100, 50, ModeCenterCrop, true, 100, 50},
		{"square", 512, 512, ModeKeepRatio, false, 256, 256},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := encJPEG(t, photo(tc.w, tc.h))
			res, err := Process(data, Options{Size: 256, Mode: tc.mode, ResizeOnlyIfBigger: tc.onlyBigger})
			if err != nil {
				t.Fatal(err)
			}
			if res.Width != tc.wantW || res.Height != tc.wantH {
				t.Fatalf("got %dx%d, want %dx%d", res.Width, res.Height, tc.wantW, tc.wantH)
			}
			if res.OrigWidth != tc.w || res.OrigHeight != tc.h {
				t.Fatalf("orig %dx%d, want %dx%d", res.OrigWidth, res.OrigHeight, tc.w, tc.h)
			}
			decodeOut(t, res)
		})
	}
}

func TestBorderPadsWhite(t *testing.T) {
	red := image.NewRGBA(image.Rect(0, 0, 400, 100))
	for i := 0; i < len(red.Pix); i += 4 {
		red.Pix[i], red.Pix[i+3] = 255, 255
	}
	res, err := Process(encPNG(t, red), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	m := decodeOut(t, res)
	// Content 256×64 centred: rows 96..159.
	assertColor(t, m, 128, 10, color.RGBA{255, 255, 255, 255}, "padding")
	assertColor(t, m, 128, 128, color.RGBA{255, 0, 0, 255}, "content")
	assertColor(t, m, 128, 245, color.RGBA{255, 255, 255, 255}, "padding")
}

func TestCenterCropTakesCentre(t *testing.T) {
	// Left third blue, middle red, right third green: the crop keeps red.
	m := image.NewRGBA(image.Rect(0, 0, 768, 256))
	for y := 0; y < 256; y++ {
		for x := 0; x < 768; x++ {
			c := color.RGBA{0, 0, 255, 255}
			if x >= 256 && x < 512 {
				c = color.RGBA{255, 0, 0, 255}
			} else if x >= 512 {
				c = color.RGBA{0, 255, 0, 255}
			}
			m.SetRGBA(x, y, c)
		}
	}
	res, err := Process(encPNG(t, m), Options{Mode: ModeCenterCrop, Size: 128})
	if err != nil {
		t.Fatal(err)
	}
	out := decodeOut(t, res)
	assertColor(t, out, 64, 64, color.RGBA{255, 0, 0, 255}, "centre")
	assertColor(t, out, 8, 64, color.RGBA{255, 0, 0, 255}, "left edge")
	assertColor(t, out, 119, 64, color.RGBA{255, 0, 0, 255}, "right edge")
}

func assertColor(t *testing.T, m image.Image, x, y int, want color.RGBA, what string) {
	t.Helper()
	r, g, b, _ := m.At(x, y).RGBA()
	got := [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
	w := [3]int{int(want.R), int(want.G), int(want.B)}
	for i := range got {
		if d := got[i] - w[i]; d < -24 || d > 24 {
			t.Errorf("%s at (%d,%d): got %v, want ~%v", what, x, y, got, w)
			return
		}
	}
}

// exifAPP1 builds an APP1 segment holding a TIFF IFD0 with one Orientation
// entry, in the given byte order.
func exifAPP1(orientation uint16, bigEndian bool) []byte {
	var bo binary.AppendByteOrder = binary.LittleEndian
	hdr := "II"
	if bigEndian {
		bo, hdr = binary.BigEndian, "MM"
	}
	tiff := []byte(hdr)
	tiff = bo.AppendUint16(tiff, 42)
	tiff = bo.AppendUint32(tiff, 8)
	tiff = bo.AppendUint16(tiff, 2) // two entries: an unrelated one first
	// ImageDescription (0x010E), ASCII, count 4, inline "abc\0"
	tiff = bo.AppendUint16(tiff, 0x010E)
	tiff = bo.AppendUint16(tiff, 2)
	tiff = bo.AppendUint32(tiff, 4)
	tiff = append(tiff, 'a', 'b', 'c', 0)
	tiff = bo.AppendUint16(tiff, 0x0112)
	tiff = bo.AppendUint16(tiff, 3)
	tiff = bo.AppendUint32(tiff, 1)
	tiff = bo.AppendUint16(tiff, orientation)
	tiff = bo.AppendUint16(tiff, 0)
	tiff = bo.AppendUint32(tiff, 0) // next IFD
	body := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(body)+2))
	return append(seg, body...)
}

// withSegment inserts seg right after the SOI marker of a JPEG.
func withSegment(jpg, seg []byte) []byte {
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func TestExifOrientations(t *testing.T) {
	// 64×32 image with four 32×16 quadrants (aligned to JPEG MCUs):
	// TL red, TR green, BL blue, BR yellow.
	red, green, blue, yellow := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 255, 0, 255}, color.RGBA{0, 0, 255, 255}, color.RGBA{255, 255, 0, 255}
	m := image.NewRGBA(image.Rect(0, 0, 64, 32))
	for y := 0; y < 32; y++ {
		for x := 0; x < 64; x++ {
			c := red
			switch {
			case x >= 32 && y < 16:
				c = green
			case x < 32 && y >= 16:
				c = blue
			case x >= 32 && y >= 16:
				c = yellow
			}
			m.SetRGBA(x, y, c)
		}
	}
	base := encJPEG(t, m)
	// Displayed corner colours (TL, TR, BL, BR) for each orientation.
	want := map[int][4]color.RGBA{
		1: {red, green, blue, yellow},
		2: {green, red, yellow, blue},
		3: {yellow, blue, green, red},
		4: {blue, yellow, red, green},
		5: {red, blue, green, yellow},
		6: {blue, red, yellow, green},
		7: {yellow, green, blue, red},
		8: {green, yellow, red, blue},
	}
	for o := 1; o <= 8; o++ {
		for _, big := range []bool{false, true} {
			data := withSegment(base, exifAPP1(uint16(o), big))
			if got := ExifOrientation(data); got != o {
				t.Fatalf("ExifOrientation = %d, want %d", got, o)
			}
			res, err := Process(data, Options{Mode: ModeNo})
			if err != nil {
				t.Fatal(err)
			}
			wantW, wantH := 64, 32
			if o >= 5 {
				wantW, wantH = 32, 64
			}
			if res.Width != wantW || res.Height != wantH || res.OrigWidth != wantW {
				t.Fatalf("orientation %d: got %dx%d (orig %dx%d), want %dx%d", o, res.Width, res.Height, res.OrigWidth, res.OrigHeight, wantW, wantH)
			}
			out := decodeOut(t, res)
			c := want[o]
			assertColor(t, out, 4, 4, c[0], "TL")
			assertColor(t, out, wantW-5, 4, c[1], "TR")
			assertColor(t, out, 4, wantH-5, c[2], "BL")
			assertColor(t, out, wantW-5, wantH-5, c[3], "BR")
		}
	}
	// Resize modes use the displayed size: a rotated 64×32 is portrait.
	res, err := Process(withSegment(base, exifAPP1(6, false)), Options{Mode: ModeKeepRatioLargest, Size: 128})
	if err != nil {
		t.Fatal(err)
	}
	if res.Width != 64 || res.Height != 128 {
		t.Fatalf("rotated keep_ratio_largest: %dx%d, want 64x128", res.Width, res.Height)
	}
}

func TestExifOrientationMalformed(t *testing.T) {
	good := withSegment([]byte{0xFF, 0xD8, 0xFF, 0xD9}, exifAPP1(6, false))
	if got := ExifOrientation(good); got != 6 {
		t.Fatalf("good: %d", got)
	}
	tests := map[string][]byte{
		"empty":           nil,
		"not jpeg":        []byte("hello world"),
		"soi only":        {0xFF, 0xD8},
		"value 9":         withSegment([]byte{0xFF, 0xD8, 0xFF, 0xD9}, exifAPP1(9, true)),
		"value 0":         withSegment([]byte{0xFF, 0xD8, 0xFF, 0xD9}, exifAPP1(0, false)),
		"truncated":       good[:len(good)-10],
		"length past end": append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF}, "Exif\x00\x00II"...),
		"bad tiff magic":  bytes.Replace(good, []byte{'I', 'I', 42, 0}, []byte{'I', 'I', 43, 0}, 1),
	}
	for name, data := range tests {
		if got := ExifOrientation(data); got != 1 {
			t.Errorf("%s: got %d, want 1", name, got)
		}
	}
	// Any prefix of a valid file must be safe (and give 1 or 6).
	for i := range good {
		if got := ExifOrientation(good[:i]); got != 1 && got != 6 {
			t.Fatalf("prefix %d: %d", i, got)
		}
	}
}

func TestAlphaOnWhite(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			switch {
			case x < 32: // fully transparent (with garbage colour)
				m.SetNRGBA(x, y, color.NRGBA{0, 0, 0, 0})
			default: // half-transparent pure red
				m.SetNRGBA(x, y, color.NRGBA{255, 0, 0, 128})
			}
		}
	}
	res, err := Process(encPNG(t, m), Options{Mode: ModeNo})
	if err != nil {
		t.Fatal(err)
	}
	out := decodeOut(t, res)
	assertColor(t, out, 8, 32, color.RGBA{255, 255, 255, 255}, "transparent → white")
	assertColor(t, out, 56, 32, color.RGBA{255, 127, 127, 255}, "half red → pink")
}

func TestFormats(t *testing.T) {
	tests := []struct {
		file, format string
		w, h         int
	}{
		{"video-001.jpeg", "jpeg", 150, 103},
		{"video-001.progressive.jpeg", "jpeg", 150, 103},
		{"video-001.cmyk.jpeg", "jpeg", 150, 103},
		{"video-001.gif", "gif", 150, 103},
		{"blue-purple-pink.png", "png", 0, 0},
		{"blue-purple-pink.lossy.webp", "webp", 0, 0},
		{"yellow_rose.lossy-with-alpha.webp", "webp", 0, 0},
		{"gopher-doc.with-alpha.lossless.webp", "webp", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data := readTestdata(t, tc.file)
			res, err := Process(data, DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			if res.Format != tc.format {
				t.Errorf("format %q, want %q", res.Format, tc.format)
			}
			if tc.w != 0 && (res.OrigWidth != tc.w || res.OrigHeight != tc.h) {
				t.Errorf("orig %dx%d, want %dx%d", res.OrigWidth, res.OrigHeight, tc.w, tc.h)
			}
			if res.SHA256 != sha256.Sum256(data) {
				t.Error("SHA256 is not of the original bytes")
			}
			out := decodeOut(t, res)
			if res.Width != 256 || res.Height != 256 {
				t.Errorf("border output %v", out.Bounds())
			}
			// The output must resemble the input: compare with the stdlib
			// CatmullRom reference (composited on white).
			_, ref, err := stdlibPipeline(data, 256, 95, true)
			if err != nil {
				t.Fatal(err)
			}
			cw, ch := ref.Bounds().Dx(), ref.Bounds().Dy()
			ox, oy := (256-cw)/2, (256-ch)/2
			crop := out.(interface {
				SubImage(image.Rectangle) image.Image
			}).SubImage(image.Rect(ox, oy, ox+cw, oy+ch))
			if p := psnr(crop, ref); p < 28 {
				t.Errorf("PSNR vs reference %.1f dB", p)
			}
		})
	}
}

func TestGIFFirstFrame(t *testing.T) {
	pal := color.Palette{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}, color.Transparent}
	frame := func(ix uint8) *image.Paletted {
		p := image.NewPaletted(image.Rect(0, 0, 40, 40), pal)
		for i := range p.Pix {
			p.Pix[i] = ix
		}
		for y := 0; y < 16; y++ { // a transparent MCU-sized corner
			for x := 0; x < 16; x++ {
				p.Pix[y*p.Stride+x] = 2
			}
		}
		return p
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{frame(0), frame(1)}, Delay: []int{10, 10}}); err != nil {
		t.Fatal(err)
	}
	res, err := Process(b.Bytes(), Options{Mode: ModeNo})
	if err != nil {
		t.Fatal(err)
	}
	out := decodeOut(t, res)
	assertColor(t, out, 20, 20, color.RGBA{255, 0, 0, 255}, "first frame red")
	assertColor(t, out, 4, 4, color.RGBA{255, 255, 255, 255}, "transparent → white")
}

func TestGreyJPEG(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 300, 200))
	for i := range g.Pix {
		g.Pix[i] = uint8(i % 251)
	}
	res, err := Process(encJPEG(t, g), Options{Mode: ModeKeepRatio, Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Width != 150 || res.Height != 100 {
		t.Fatalf("%dx%d", res.Width, res.Height)
	}
	decodeOut(t, res)
}

func TestCorrupt(t *testing.T) {
	good := encJPEG(t, photo(200, 150))
	goodPNG := encPNG(t, photo(200, 150))
	corrupted := append([]byte{}, good...)
	for i := len(corrupted) / 2; i < len(corrupted)-2; i += 7 {
		corrupted[i] = 0xFF
	}
	tests := []struct {
		name   string
		data   []byte
		reason string
	}{
		{"empty", nil, ReasonFormat},
		{"html", []byte("<!doctype html><html>nope</html>"), ReasonFormat},
		{"bmp", []byte("BM\x00\x00\x00\x00"), ReasonFormat},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), ReasonFormat},
		{"jpeg magic only", []byte{0xFF, 0xD8, 0xFF}, ReasonDecode},
		{"jpeg truncated header", good[:40], ReasonDecode},
		{"jpeg truncated data", good[:len(good)/2], ReasonDecode},
		{"jpeg corrupted data", corrupted, ReasonDecode},
		{"png truncated", goodPNG[:len(goodPNG)/2], ReasonDecode},
		{"png magic only", goodPNG[:8], ReasonDecode},
		{"gif header only", []byte("GIF89a\x10\x00\x10\x00"), ReasonDecode},
		{"webp riff only", []byte("RIFF\x00\x00\x00\x00WEBPVP8 "), ReasonDecode},
		{"progressive truncated", readTestdata(t, "video-001.progressive.jpeg")[:5000], ReasonDecode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Process(tc.data, DefaultOptions())
			if tc.name == "jpeg corrupted data" && err == nil {
				// Corruption inside entropy data may still decode: fine, as
				// long as it did not panic and produced a valid JPEG.
				decodeOut(t, res)
				return
			}
			wantReason(t, err, tc.reason)
		})
	}
}

// pngWithHeader crafts a PNG whose IHDR claims w×h, followed by a small IDAT
// and IEND (a decompression bomb needs nothing more than a lying header).
func pngWithHeader(w, h uint32) []byte {
	chunk := func(typ string, body []byte) []byte {
		out := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
		out = append(out, typ...)
		out = append(out, body...)
		return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(append([]byte(typ), body...)))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8-bit RGBA
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, chunk("IHDR", ihdr)...)
	out = append(out, chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(out, chunk("IEND", nil)...)
}

// jpegWithHeader patches the SOF dimensions of a real JPEG.
func jpegWithHeader(t *testing.T, w, h uint16) []byte {
	data := encJPEG(t, photo(16, 16))
	for i := 2; i+9 < len(data); i++ {
		if data[i] == 0xFF && data[i+1] == 0xC0 {
			binary.BigEndian.PutUint16(data[i+5:], h)
			binary.BigEndian.PutUint16(data[i+7:], w)
			return data
		}
	}
	t.Fatal("no SOF0")
	return nil
}

func TestHugeDeclaredDimensions(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"png 100000x100000", pngWithHeader(100000, 100000)},
		{"png 1x2^31-1", pngWithHeader(1, 1<<31-1)},
		{"jpeg 65535x65535", jpegWithHeader(t, 65535, 65535)},
		{"gif 65535x65535", append([]byte("GIF89a\xff\xff\xff\xff\x00\x00\x00"), 0x3B)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Process(tc.data, DefaultOptions())
			runtime.ReadMemStats(&after)
			wantReason(t, err, ReasonTooLarge)
			if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
				t.Errorf("allocated %d bytes before refusing", d)
			}
		})
	}
	// Within the limit, a lying PNG header is a decode error, not a crash.
	_, err := Process(pngWithHeader(4000, 4000), DefaultOptions())
	wantReason(t, err, ReasonDecode)
	// The limit is configurable.
	_, err = Process(encJPEG(t, photo(300, 300)), Options{MaxPixels: 300*300 - 1})
	wantReason(t, err, ReasonTooLarge)
}

func TestMinSizeAndAspect(t *testing.T) {
	data := encJPEG(t, photo(300, 100))
	_, err := Process(data, Options{MinSize: 101})
	wantReason(t, err, ReasonTooSmall)
	if _, err := Process(data, Options{MinSize: 100}); err != nil {
		t.Fatal(err)
	}
	_, err = Process(data, Options{MaxAspect: 2.9})
	wantReason(t, err, ReasonAspect)
	if _, err := Process(data, Options{MaxAspect: 3}); err != nil {
		t.Fatal(err)
	}
}

func TestPHash(t *testing.T) {
	orig := readTestdata(t, "go-turns-two-280x360.jpeg")
	src, err := jpeg.Decode(bytes.NewReader(orig))
	if err != nil {
		t.Fatal(err)
	}
	// Near-duplicate: half size, re-encoded at low quality as a PNG of a JPEG.
	half, err := Process(orig, Options{Mode: ModeKeepRatio, Size: 140, Quality: 50})
	if err != nil {
		t.Fatal(err)
	}
	halfImg := decodeOut(t, half)
	ra, err := Process(orig, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	rb, err := Process(encPNG(t, halfImg), Options{Mode: ModeKeepRatioLargest, Size: 128})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := Process(readTestdata(t, "video-001.jpeg"), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("phash %016x near %016x other %016x", ra.PHash, rb.PHash, rc.PHash)
	if d := HammingDistance(ra.PHash, rb.PHash); d > 6 {
		t.Errorf("near-duplicate distance %d", d)
	}
	if d := HammingDistance(ra.PHash, rc.PHash); d < 16 {
		t.Errorf("different images distance %d", d)
	}
	if d := HammingDistance(PHash(src), ra.PHash); d > 6 {
		t.Errorf("PHash(image) disagrees with Process: distance %d", d)
	}
	if bits := HammingDistance(ra.PHash, 0); bits < 16 || bits > 48 {
		t.Errorf("median threshold should set about half the bits, got %d", bits)
	}
	if HammingDistance(0, ^uint64(0)) != 64 || HammingDistance(5, 5) != 0 {
		t.Error("HammingDistance")
	}
}

func TestParseResizeMode(t *testing.T) {
	for m := ModeBorder; m <= ModeCenterCrop; m++ {
		got, err := ParseResizeMode(m.String())
		if err != nil || got != m {
			t.Errorf("%v: %v %v", m, got, err)
		}
	}
	if _, err := ParseResizeMode("stretch"); err == nil {
		t.Error("accepted unknown mode")
	}
}

func TestReasonOf(t *testing.T) {
	_, err := Process([]byte("nope"), Options{})
	if ReasonOf(err) != ReasonFormat {
		t.Fatalf("ReasonOf = %q", ReasonOf(err))
	}
	if ReasonOf(nil) != "" {
		t.Fatal("ReasonOf(nil)")
	}
}

func TestResizeAccuracy(t *testing.T) {
	// A constant plane must stay exactly constant through box + Catmull-Rom
	// at any ratio, including upscaling (unit-gain weights).
	for _, sz := range [][4]int{{1000, 700, 256, 179}, {37, 23, 256, 159}, {256, 256, 255, 255}, {5000, 3, 7, 1}, {1, 1, 9, 9}} {
		p := newPlane(sz[0], sz[1])
		fill(p.pix, 173)
		out := resizePlane(p, sz[2], sz[3])
		for i, v := range out.pix {
			if v != 173 {
				t.Fatalf("%v: pixel %d = %d", sz, i, v)
			}
		}
	}
}

func TestConcurrent(t *testing.T) {
	data := readTestdata(t, "go-turns-two-280x360.jpeg")
	want, err := Process(data, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			for j := 0; j < 5; j++ {
				got, err := Process(data, DefaultOptions())
				if err == nil && !bytes.Equal(got.JPEG, want.JPEG) {
					err = errorString("non-deterministic output under concurrency")
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
