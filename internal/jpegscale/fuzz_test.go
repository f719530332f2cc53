package jpegscale

import (
	"bytes"
	"image/jpeg"
	"testing"
	"time"
)

// FuzzDecode: no input panics or hangs the decoder, and what it accepts has the header's
// size divided by the scale.
func FuzzDecode(f *testing.F) {
	for _, data := range fixtures(f) {
		f.Add(data, uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, scaleBits uint8) {
		scale := 1 << (scaleBits & 3)
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width*cfg.Height > 1<<20 {
			return // the caller bounds the size from the header first
		}
		start := time.Now()
		img, err := Decode(data, scale)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("scale %d: %v for %d bytes", scale, d, len(data))
		}
		if err != nil {
			return
		}
		b := img.Bounds()
		if b.Dx() != (cfg.Width+scale-1)/scale || b.Dy() != (cfg.Height+scale-1)/scale {
			t.Fatalf("scale %d: bounds %v for a %dx%d header", scale, b, cfg.Width, cfg.Height)
		}
	})
}
