package crawl

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/witdata/wit/internal/procstat"
)

// TestRSS checks that memory stays flat as a crawl grows: it crawls a 5,000-page and a
// 50,000-page local site, each in a fresh subprocess, and compares their peak RSS (VmHWM).
// It takes about a minute, so it runs only with WIT_RSS_CHECK=1 (scripts/bench.sh sets it);
// WIT_RSS_PAGES="5000,50000" overrides the sizes.
func TestRSS(t *testing.T) {
	if os.Getenv("WIT_RSS_CHECK") != "1" {
		t.Skip("set WIT_RSS_CHECK=1 to measure peak RSS of 5k vs 50k page crawls")
	}
	sizes := []int{5000, 50000}
	if v := os.Getenv("WIT_RSS_PAGES"); v != "" {
		sizes = sizes[:0]
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, n)
		}
	}
	var peaks []int64
	for _, n := range sizes {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRSSChild$", "-test.v")
		cmd.Env = append(os.Environ(), "WIT_RSS_CHILD="+strconv.Itoa(n))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child %d: %v\n%s", n, err, out)
		}
		var kb int64
		var rate float64
		for _, line := range strings.Split(string(out), "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "RSS "); ok {
				fmt.Sscanf(rest, "pages=%d peak_kb=%d pages_per_s=%f", new(int), &kb, &rate)
			}
		}
		if kb == 0 {
			t.Fatalf("child %d printed no RSS line:\n%s", n, out)
		}
		t.Logf("crawl of %d pages: peak RSS %.1f MiB, %.0f pages/s", n, float64(kb)/1024, rate)
		peaks = append(peaks, kb)
	}
	if len(peaks) == 2 && float64(peaks[1]) > 1.2*float64(peaks[0]) {
		t.Fatalf("peak RSS grew %.0f%% from %d to %d pages (limit 20%%)", 100*(float64(peaks[1])/float64(peaks[0])-1), sizes[0], sizes[1])
	}
}

// TestRSSChild is the subprocess of TestRSS.
func TestRSSChild(t *testing.T) {
	v := os.Getenv("WIT_RSS_CHILD")
	if v == "" {
		t.Skip("subprocess of TestRSS")
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatal(err)
	}
	s := newSite(n)
	s.noCount = true
	srv := httptest.NewServer(s)
	defer srv.Close()
	cfg := testConfig(t, srv.URL+"/p/0")
	cfg.PerHost, cfg.Workers, cfg.RowsPerFile = 16, 16, 10000
	start := time.Now()
	stats, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if stats.PagesOK != int64(n) {
		t.Fatalf("crawled %d of %d", stats.PagesOK, n)
	}
	fmt.Printf("RSS pages=%d peak_kb=%d pages_per_s=%.0f\n", n, procstat.PeakRSSKB(), float64(n)/time.Since(start).Seconds())
}
