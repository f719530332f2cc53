package jpegscale

import (
	"bytes"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/witdata/wit/internal/procstat"
)

// benchJPEGs reads the JPEGs of WIT_BENCH_IMAGES_DIR (scripts/bench-images-data.sh: Debian's
// wallpaper photos, baseline and progressive, 0.5–18 MP), else the fixtures.
func benchJPEGs(b *testing.B) map[string][]byte {
	dir := os.Getenv("WIT_BENCH_IMAGES_DIR")
	if dir == "" {
		return fixtures(b)
	}
	out := map[string][]byte{}
	paths, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, p := range paths {
		if l := strings.ToLower(p); !strings.HasSuffix(l, ".jpg") && !strings.HasSuffix(l, ".jpeg") {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		out[filepath.Base(p)] = data
	}
	return out
}

// BenchmarkDecodeVsImageJPEG decodes every bench JPEG with this decoder and, alternating,
// with image/jpeg at full size; ratio-cpu is image/jpeg's CPU time over this decoder's.
// Sub-benchmarks split baseline from progressive files, and full-size decodes ("full") from
// decodes at the scale a 256-pixel thumbnail allows ("thumb": 3 × 256 left on each side,
// imgproc's box headroom).
func BenchmarkDecodeVsImageJPEG(b *testing.B) {
	files := benchJPEGs(b)
	for _, sub := range []string{"baseline-full", "baseline-thumb", "progressive-full", "progressive-thumb"} {
		kind, thumb, _ := strings.Cut(sub, "-")
		b.Run(sub, func(b *testing.B) {
			type item struct {
				data  []byte
				scale int
				mp    float64
			}
			var items []item
			for name, data := range files {
				cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
				if err != nil || refused(name) || isProgressive(data) != (kind == "progressive") {
					continue
				}
				s := 1
				if thumb == "thumb" {
					s = Scale(cfg.Width, cfg.Height, 3*256*cfg.Width/max(cfg.Width, cfg.Height), 3*256*cfg.Height/max(cfg.Width, cfg.Height))
				}
				items = append(items, item{data, s, float64(cfg.Width*cfg.Height) / 1e6})
			}
			if len(items) == 0 {
				b.Skip("no such files")
			}
			var ours, std time.Duration
			var mp float64
			for b.Loop() {
				for _, it := range items {
					c := procstat.CPUTime()
					if _, err := Decode(it.data, it.scale); err != nil {
						b.Fatal(err)
					}
					ours += procstat.CPUTime() - c
					c = procstat.CPUTime()
					if _, err := jpeg.Decode(bytes.NewReader(it.data)); err != nil {
						b.Fatal(err)
					}
					std += procstat.CPUTime() - c
					mp += it.mp
				}
			}
			b.ReportMetric(mp/ours.Seconds(), "MP/cpu-s")
			b.ReportMetric(mp/std.Seconds(), "stdlib-MP/cpu-s")
			b.ReportMetric(std.Seconds()/ours.Seconds(), "ratio-cpu")
			b.ReportMetric(float64(len(items)), "files")
		})
	}
}

// isProgressive reports whether the first frame header is SOF2.
func isProgressive(data []byte) bool {
	for i := 2; i+3 < len(data); {
		if data[i] != 0xFF {
			return false
		}
		m := data[i+1]
		if m >= 0xC0 && m <= 0xCF && m != mDHT && m != 0xC8 && m != mDAC {
			return m == mSOF2
		}
		i += 2 + (int(data[i+2])<<8 | int(data[i+3]))
	}
	return false
}
