package imgproc

import (
	"bytes"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

// FuzzProcess: any input gives a result or an *Error, never a panic, and a
// result is always a decodable JPEG of the stated size. Decoder panics are
// recovered inside Process, but panics in this package's own code are not,
// so the fuzzer finds them.
func FuzzProcess(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.*")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil && Sniff(data) != "" && len(data) < 40_000 {
			f.Add(data, uint8(0))
		}
	}
	f.Add(pngWithHeader(100000, 100000), uint8(1))
	f.Add(withSegment(encJPEG(f, photo(24, 16)), exifAPP1(6, true)), uint8(2))
	f.Add(withSegment(encJPEG(f, photo(17, 9)), exifAPP1(7, false)), uint8(4))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		opts := Options{
			Size:      1 + int(mode)%67,
			Mode:      ResizeMode(mode % 5),
			MaxPixels: 1 << 20,  // keep the fuzzer's memory small
			MaxMemory: 64 << 20, // (sizes up to 67 make upscaled strips large)
			Quality:   75,
		}
		res, err := Process(data, opts)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			return
		}
		m, err := jpeg.Decode(bytes.NewReader(res.JPEG))
		if err != nil {
			t.Fatalf("output does not decode: %v", err)
		}
		if b := m.Bounds(); b.Dx() != res.Width || b.Dy() != res.Height {
			t.Fatalf("output %v, result %dx%d", b, res.Width, res.Height)
		}
	})
}

// FuzzExifOrientation: the EXIF parsers never panic and stay within 1..8.
func FuzzExifOrientation(f *testing.F) {
	for o := uint16(0); o <= 9; o++ {
		f.Add(withSegment([]byte{0xFF, 0xD8, 0xFF, 0xD9}, exifAPP1(o, o%2 == 0)))
	}
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xFF, 0xFF, 0xE1, 0x00, 0x02})
	f.Add(readTestdataF(f, "video-001.jpeg")[:600])
	f.Fuzz(func(t *testing.T, data []byte) {
		for name, fn := range map[string]func([]byte) int{
			"jpeg": ExifOrientation, "tiff": tiffOrientation, "png": pngOrientation, "webp": webpOrientation,
		} {
			if o := fn(data); o < 1 || o > 8 {
				t.Fatalf("%s: orientation %d", name, o)
			}
		}
	})
}

func readTestdataF(f *testing.F, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	return b
}
