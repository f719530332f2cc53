package crawl

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/witdata/wit/internal/procstat"
)

// benchCrawl crawls a generated n-page local site with delay 0 and returns the stats.
func benchCrawl(tb testing.TB, n int) Stats {
	s := newSite(n)
	srv := httptest.NewServer(s)
	defer srv.Close()
	cfg := testConfig(tb, srv.URL+"/p/0")
	cfg.PerHost = 16
	cfg.Workers = 16
	cfg.RowsPerFile = 10000
	cfg.IgnoreRobots = false
	stats, err := Run(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if stats.PagesOK != int64(n) {
		tb.Fatalf("crawled %d of %d pages", stats.PagesOK, n)
	}
	return stats
}

// BenchmarkCrawl5k crawls a 5,000-page local site (server in the same process, so the figure
// includes serving) with delay 0 and reports pages/s.
func BenchmarkCrawl5k(b *testing.B) {
	const n = 5000
	var pages int64
	var el time.Duration
	cpu0 := procstat.CPUTime()
	for b.Loop() {
		start := time.Now()
		st := benchCrawl(b, n)
		el += time.Since(start)
		pages += st.PagesOK
	}
	b.ReportMetric(float64(pages)/el.Seconds(), "pages/s")
	// CPU seconds per page (crawler and test server together): the figure that does not depend
	// on what else the machine is running; 2 cores / this = the CPU-bound ceiling.
	b.ReportMetric((procstat.CPUTime()-cpu0).Seconds()*1e6/float64(pages), "cpu-us/page")
}
