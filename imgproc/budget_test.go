package imgproc

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"testing"
)

// streamPNG writes a w×h PNG (depth 8 or 16; colour type 0 grey, 2 RGB, 6 RGBA) row by row, so
// that hostile shapes can be made without holding the image. Rows are a gradient.
func streamPNG(t testing.TB, w, h, depth, ctype int) []byte {
	t.Helper()
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		out.Write(binary.BigEndian.AppendUint32(nil, uint32(len(data))))
		out.WriteString(typ)
		out.Write(data)
		out.Write(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(append([]byte(typ), data...))))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, byte(depth), byte(ctype), 0, 0, 0)
	chunk("IHDR", ihdr)
	bpp := map[int]int{0: 1, 2: 3, 6: 4}[ctype] * depth / 8
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	row := make([]byte, 1+w*bpp)
	for y := 0; y < h; y++ {
		if y < 2 || h < 64 {
			for x := 1; x < len(row); x++ {
				row[x] = byte((x/bpp+y)>>2) | 1
			}
		} else {
			row[0] = 2 // "Up" filter of zero deltas: later rows repeat, and compress to nothing
			clear(row[1:])
		}
		if _, err := zw.Write(row); err != nil {
			t.Fatal(err)
		}
	}
	zw.Close()
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}

// heapAllocs is the cumulative number of bytes allocated on the heap.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// allocsOf runs f and returns the bytes it allocated. Nothing else may run meanwhile (no
// t.Parallel in the callers).
func allocsOf(f func()) uint64 {
	runtime.GC()
	before := heapAllocs()
	f()
	return heapAllocs() - before
}

// estimateFor is memoryEstimate for data as Process would compute it.
func estimateFor(t *testing.T, data []byte, opts Options) float64 {
	t.Helper()
	opts = opts.withDefaults()
	format := Sniff(data)
	cfg, err := decodeConfig(format, data)
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	orient := 1
	switch format {
	case "jpeg":
		orient = ExifOrientation(data)
	case "png":
		orient = pngOrientation(data)
	case "webp":
		orient = webpOrientation(data)
	}
	return memoryEstimate(format, cfg, data, orient, opts)
}

func noise(w, h int, seed uint64) *image.NRGBA {
	rng := rand.New(rand.NewPCG(seed, 7))
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(rng.Uint32())
	}
	return m
}

func budgetImages(t *testing.T) map[string][]byte {
	t.Helper()
	enc := func(m image.Image, o *jpeg.Options) []byte {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, m, o); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	gray := image.NewGray(image.Rect(0, 0, 301, 97))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7)
	}
	gray16 := image.NewGray16(image.Rect(0, 0, 211, 150))
	rgba64 := image.NewRGBA64(image.Rect(0, 0, 190, 260))
	nrgba64 := image.NewNRGBA64(image.Rect(0, 0, 333, 120))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range gray16.Pix {
		gray16.Pix[i] = uint8(rng.Uint32())
	}
	for i := range nrgba64.Pix {
		nrgba64.Pix[i] = uint8(rng.Uint32())
	}
	for y := 0; y < 260; y++ {
		for x := 0; x < 190; x++ {
			rgba64.SetRGBA64(x, y, color.RGBA64{uint16(x * 300), uint16(y * 200), 9000, 0xffff})
		}
	}
	pal := image.NewPaletted(image.Rect(0, 0, 250, 180), color.Palette{color.White, color.Black, color.RGBA{200, 0, 0, 255}, color.Transparent})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 4)
	}
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, pal, nil); err != nil {
		t.Fatal(err)
	}
	imgs := map[string][]byte{
		"jpeg 4:2:0":        enc(photo(640, 427), nil),
		"jpeg noise q100":   enc(noise(300, 200, 3), &jpeg.Options{Quality: 100}),
		"jpeg grey":         enc(gray, nil),
		"jpeg 2000x1":       enc(photo(2000, 1), nil),
		"jpeg 1x2000":       enc(photo(1, 2000), nil),
		"jpeg rotated":      withSegment(enc(photo(400, 250), nil), exifAPP1(6, false)),
		"jpeg progressive":  readTestdata(t, "video-001.progressive.jpeg"),
		"jpeg cmyk":         readTestdata(t, "video-001.cmyk.jpeg"),
		"png rgba":          encPNG(t, noise(320, 240, 4)),
		"png grey":          encPNG(t, gray),
		"png grey16":        encPNG(t, gray16),
		"png rgb16":         encPNG(t, rgba64),
		"png rgba16":        encPNG(t, nrgba64),
		"png paletted":      encPNG(t, pal),
		"png 5000x1":        streamPNG(t, 5000, 1, 8, 2),
		"png 1x5000 rgba16": streamPNG(t, 1, 5000, 16, 6),
		"gif":               gifBuf.Bytes(),
		"webp lossy":        readTestdata(t, "blue-purple-pink.lossy.webp"),
		"webp lossless":     readTestdata(t, "gopher-doc.with-alpha.lossless.webp"),
		"webp lossy alpha":  readTestdata(t, "yellow_rose.lossy-with-alpha.webp"),
	}
	return imgs
}

var allModes = []ResizeMode{ModeBorder, ModeNo, ModeKeepRatio, ModeKeepRatioLargest, ModeCenterCrop}

// TestMemoryEstimateBoundsAllocations: what Process allocates never exceeds the estimate it
// checked against MaxMemory, for every decoder path, resize mode and a few sizes (up- and
// downscaling), so the budget is a bound and not a guess.
func TestMemoryEstimateBoundsAllocations(t *testing.T) {
	done, refused := 0, 0
	defer func() {
		if done < 10*refused {
			t.Errorf("only %d cases processed, %d refused", done, refused)
		}
	}()
	for name, data := range budgetImages(t) {
		for _, mode := range allModes {
			for _, size := range []int{64, 256, 700} {
				opts := Options{Mode: mode, Size: size, MaxMemory: 64 << 20}
				est := estimateFor(t, data, opts)
				var err error
				got := allocsOf(func() { _, err = Process(data, opts) })
				if err != nil {
					if r := ReasonOf(err); (r == ReasonTooLarge || r == ReasonMemory) && got < 1<<20 {
						refused++
						continue // upscaled 1×2000 strips: a side over 65,535, or over the budget
					}
					t.Fatalf("%s %s %d: %v", name, mode, size, err)
				}
				done++
				if float64(got) > est {
					t.Errorf("%s %s %d: allocated %.2f MiB, estimate %.2f MiB", name, mode, size, float64(got)/(1<<20), est/(1<<20))
				}
			}
		}
	}
}

// TestHostileShapes: the images of issue 18 under every resize mode. None may crash or take more
// than the budget; the ones that cannot be done within it fail with a reason, before decoding.
func TestHostileShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and decodes 13-megapixel strips")
	}
	wideJPEG := func(w, h int) []byte {
		m := image.NewGray(image.Rect(0, 0, w, h))
		for i := range m.Pix {
			m.Pix[i] = uint8(i)
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, m, nil); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	type want map[ResizeMode]string // reason, "" = processed
	tests := []struct {
		name string
		data []byte
		want want
	}{
		{"png 13000000x1", streamPNG(t, 13_000_000, 1, 8, 0), want{
			ModeBorder: "", ModeKeepRatioLargest: "", ModeNo: ReasonTooLarge, ModeKeepRatio: ReasonTooLarge, ModeCenterCrop: ReasonMemory}},
		{"png 1x13000000", streamPNG(t, 1, 13_000_000, 8, 0), want{
			ModeBorder: "", ModeKeepRatioLargest: "", ModeNo: ReasonTooLarge, ModeKeepRatio: ReasonTooLarge, ModeCenterCrop: ReasonMemory}},
		{"jpeg 65500x1", wideJPEG(65500, 1), want{
			ModeBorder: "", ModeKeepRatioLargest: "", ModeNo: "", ModeKeepRatio: ReasonTooLarge, ModeCenterCrop: ReasonMemory}},
		{"jpeg 1x65500", wideJPEG(1, 65500), want{
			ModeBorder: "", ModeKeepRatioLargest: "", ModeNo: "", ModeKeepRatio: ReasonTooLarge, ModeCenterCrop: ReasonMemory}},
		{"png 6300x6300 rgba16", streamPNG(t, 6300, 6300, 16, 6), want{
			ModeBorder: ReasonMemory, ModeKeepRatioLargest: ReasonMemory, ModeNo: ReasonMemory, ModeKeepRatio: ReasonMemory, ModeCenterCrop: ReasonMemory}},
	}
	for _, tc := range tests {
		for _, mode := range allModes {
			opts := Options{Mode: mode}
			var res *Result
			var err error
			got := allocsOf(func() { res, err = Process(tc.data, opts) })
			if reason := ReasonOf(err); reason != tc.want[mode] {
				t.Errorf("%s %s: reason %q (%v), want %q", tc.name, mode, reason, err, tc.want[mode])
				continue
			}
			if got > DefaultMaxMemory {
				t.Errorf("%s %s: allocated %d MiB, over the %d MiB budget", tc.name, mode, got>>20, DefaultMaxMemory>>20)
			}
			if err != nil {
				if got > 1<<20 {
					t.Errorf("%s %s: refused after allocating %d KiB: not decided from the header", tc.name, mode, got>>10)
				}
				continue
			}
			decodeOut(t, res)
			if est := estimateFor(t, tc.data, opts); float64(got) > est {
				t.Errorf("%s %s: allocated %.1f MiB, estimate %.1f MiB", tc.name, mode, float64(got)/(1<<20), est/(1<<20))
			}
		}
	}
}

// TestMaxMemoryOption: the budget is the caller's; a 16-bit 1000² PNG needs ~12 MiB.
func TestMaxMemoryOption(t *testing.T) {
	data := streamPNG(t, 1000, 1000, 16, 6)
	if _, err := Process(data, Options{MaxMemory: 4 << 20}); ReasonOf(err) != ReasonMemory {
		t.Fatalf("4 MiB budget: %v, want reason memory", err)
	}
	if _, err := Process(data, Options{MaxMemory: 64 << 20}); err != nil {
		t.Fatalf("64 MiB budget: %v", err)
	}
	if _, err := Process(data, Options{MaxMemory: -1}); err != nil {
		t.Fatalf("no budget: %v", err)
	}
}

// TestPlaneFastPaths: the 16-bit and CMYK conversions give exactly what the generic
// compositeColor(At) path gives.
func TestPlaneFastPaths(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	fill := func(pix []uint8) {
		for i := range pix {
			pix[i] = uint8(rng.Uint32())
		}
	}
	gray16 := image.NewGray16(image.Rect(0, 0, 37, 23))
	nrgba64 := image.NewNRGBA64(image.Rect(0, 0, 37, 23))
	rgba64 := image.NewRGBA64(image.Rect(0, 0, 37, 23))
	cmyk := image.NewCMYK(image.Rect(0, 0, 37, 23))
	fill(gray16.Pix)
	fill(nrgba64.Pix)
	fill(cmyk.Pix)
	for y := 0; y < 23; y++ {
		for x := 0; x < 37; x++ {
			a := uint16(rng.Uint32())
			c := func() uint16 { return uint16(rng.Uint32() % (uint32(a) + 1)) } // premultiplied: <= a
			rgba64.SetRGBA64(x, y, color.RGBA64{c(), c(), c(), a})
		}
	}
	for _, img := range []image.Image{gray16, nrgba64, rgba64, cmyk, nrgba64.SubImage(image.Rect(3, 2, 30, 20))} {
		fast := planesFromImage(img)
		b := img.Bounds()
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				r, g, bb := compositeColor(img.At(b.Min.X+x, b.Min.Y+y))
				wy, wcb, wcr := color.RGBToYCbCr(r, g, bb)
				at := func(p plane) uint8 {
					if p.constant() {
						return p.val
					}
					return p.row(y)[x]
				}
				if gy, gcb, gcr := at(fast.y), at(fast.cb), at(fast.cr); gy != wy || gcb != wcb || gcr != wcr {
					t.Fatalf("%T at %d,%d: %d,%d,%d, want %d,%d,%d", img, x, y, gy, gcb, gcr, wy, wcb, wcr)
				}
			}
		}
		fast.release()
	}
}

func TestParseJPEGFrame(t *testing.T) {
	base := encJPEG(t, photo(48, 32))
	fr, ok := parseJPEGFrame(base)
	if !ok || fr.progressive || len(fr.comps) != 3 || fr.comps[0] != [2]int{2, 2} {
		t.Fatalf("baseline 4:2:0: %+v %v", fr, ok)
	}
	fr, ok = parseJPEGFrame(readTestdata(t, "video-001.progressive.jpeg"))
	if !ok || !fr.progressive {
		t.Fatalf("progressive: %+v %v", fr, ok)
	}
	for i := range base {
		parseJPEGFrame(base[:i]) // any prefix: no panic
	}
	if _, ok := parseJPEGFrame([]byte{0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x02}); ok {
		t.Fatal("empty SOF accepted")
	}
}
