package fetch

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/witdata/wit/imgproc"
	"github.com/witdata/wit/internal/procstat"
	"github.com/witdata/wit/shards"
)

// benchImages returns the images a loopback server hands out: the real photos and wallpapers of
// WIT_BENCH_IMAGES_DIR (scripts/bench-images-data.sh) or, without it, the testdata images. With
// webSized, each is first re-encoded at most 640 px wide at quality 85 — the size of a typical
// web image (LAION's median is ~500 px) — so the benchmark measures fetching, not decoding 4K
// wallpapers.
func benchImages(tb testing.TB, webSized bool) (images [][]byte, source string) {
	tb.Helper()
	dir := os.Getenv("WIT_BENCH_IMAGES_DIR")
	var paths []string
	if dir != "" {
		for _, pat := range []string{"*.jpg", "*.jpeg", "*.png", "*.webp"} {
			m, _ := filepath.Glob(filepath.Join(dir, pat))
			paths = append(paths, m...)
		}
		source = dir
	}
	if len(paths) == 0 {
		paths = []string{"testdata/video-001.jpeg", "testdata/blue-purple-pink.png", "testdata/yellow_rose.lossy-with-alpha.webp"}
		source = "testdata"
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		if webSized {
			res, err := imgproc.Process(data, imgproc.Options{Size: 640, Mode: imgproc.ModeKeepRatioLargest, Quality: 85, ResizeOnlyIfBigger: true})
			if err != nil {
				continue
			}
			data = res.JPEG
		}
		images = append(images, data)
	}
	if len(images) == 0 {
		tb.Fatal("no usable benchmark images")
	}
	return images, source
}

func benchServer(tb testing.TB, images [][]byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/i/"))
		body := images[n%len(images)]
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

func benchConfig(out string) Config {
	cfg := DefaultConfig()
	cfg.Out = out
	cfg.AllowPrivate = true
	cfg.Workers = 32
	cfg.PerHost = 32 // one loopback host stands for many
	cfg.Retries = 0
	cfg.ProgressEvery = time.Hour
	return cfg
}

func runBenchFetch(b *testing.B, webSized bool) {
	images, source := benchImages(b, webSized)
	var total int
	for _, im := range images {
		total += len(im)
	}
	srv := benchServer(b, images)
	out := b.TempDir()
	items := make([]Item, b.N)
	for i := range items {
		items[i] = Item{URL: fmt.Sprintf("%s/i/%d", srv.URL, i), Caption: "a benchmark image"}
	}
	b.Logf("%d images from %s, mean %d KB", len(images), source, total/len(images)>>10)
	b.SetBytes(int64(total / len(images)))
	b.ResetTimer()
	start, cpu0 := time.Now(), procstat.CPUTime()
	st, err := Run(context.Background(), benchConfig(out), Items(items))
	elapsed, cpu := time.Since(start), procstat.CPUTime()-cpu0
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if st.Successes != int64(b.N) {
		b.Fatalf("%d of %d ok: %v", st.Successes, b.N, st.Failures)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "img/s")
	// CPU time per image (client and loopback server together) stays meaningful on a loaded
	// machine: 1000/cpu-ms is the rate per fully available core.
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/img")
}

// BenchmarkFetchLoopbackWeb fetches web-sized JPEGs (real photos re-encoded ≤ 640 px) from a
// loopback server through the whole pipeline: HTTP, decode, resize to 256 border, JPEG q95,
// sha256, pHash, shard writing.
func BenchmarkFetchLoopbackWeb(b *testing.B) { runBenchFetch(b, true) }

// BenchmarkFetchLoopbackOriginals serves the benchmark images as they are (wallpapers up to
// 4K: decode-bound).
func BenchmarkFetchLoopbackOriginals(b *testing.B) { runBenchFetch(b, false) }

// TestFetchPeakRSS fetches WIT_FETCH_RSS_IMAGES (e.g. 20000) web-sized images from a loopback
// server and reports the process's peak RSS (VmHWM; server and test included). Gated: it takes
// minutes on 2 cores.
func TestFetchPeakRSS(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("WIT_FETCH_RSS_IMAGES"))
	if n <= 0 {
		t.Skip("set WIT_FETCH_RSS_IMAGES=20000 to measure peak RSS")
	}
	images, source := benchImages(t, true)
	srv := benchServer(t, images)
	out := t.TempDir()
	// The set-up above (decoding 4K wallpapers to make web-sized copies) has its own peak:
	// return that memory and reset the high-water mark so VmHWM measures the run alone.
	images = slices.Clip(images)
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Logf("cannot reset VmHWM (%v): the peak includes the set-up", err)
	}
	before := vmHWM(t)
	source2 := func(yield func(Item, error) bool) {
		for i := range n {
			if !yield(Item{URL: fmt.Sprintf("%s/i/%d", srv.URL, i), Caption: "a benchmark image"}, nil) {
				return
			}
		}
	}
	start, cpu0 := time.Now(), procstat.CPUTime()
	st, err := Run(context.Background(), benchConfig(out), source2)
	if err != nil {
		t.Fatal(err)
	}
	elapsed, cpu := time.Since(start), procstat.CPUTime()-cpu0
	m, _ := shards.ReadManifest(out)
	t.Logf("%d images (%s, %d distinct) in %s: %.1f img/s on GOMAXPROCS=%d, %.2f CPU-ms/img; %d shards, %d MB; peak RSS %d MB (at start %d MB)",
		st.Successes, source, len(images), elapsed.Round(time.Millisecond), float64(st.Successes)/elapsed.Seconds(),
		runtime.GOMAXPROCS(0), float64(cpu.Microseconds())/1000/float64(st.Successes), len(m.Shards), m.TotalBytes>>20, vmHWM(t)>>10, before>>10)
}

// vmHWM returns the peak resident set size in KiB.
func vmHWM(t testing.TB) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
