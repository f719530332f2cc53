package stages

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/witdata/wit/dist/disttest"
)

// treeSite is a latency-bound site: hosts on 127.0.0.(100+i), every response delayed; page j of
// host i links to pages 2j+1 and 2j+2 of its host and to page j of host i+1.
type treeSite struct {
	urls  []string
	pages int
	hits  atomic.Int64
}

func newTreeSite(t *testing.T, hosts, pages int, delay time.Duration) *treeSite {
	ts := &treeSite{pages: pages}
	for i := range hosts {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", 100+i))
		if err != nil {
			t.Skipf("no loopback address: %v", err)
		}
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(delay)
			j, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/p/"))
			if err != nil || j >= pages {
				http.NotFound(w, r)
				return
			}
			ts.hits.Add(1)
			w.Header().Set("Content-Type", "text/html")
			next := ts.urls[(i+1)%hosts]
			fmt.Fprintf(w, `<html lang="en"><body><a href="/p/%d">a</a> <a href="/p/%d">b</a> <a href="%s/p/%d">c</a>
<img src="/i/%d.jpg" alt="picture %d of host %d"></body></html>`, 2*j+1, 2*j+2, next, j, j, j, i)
		}))
		srv.Listener.Close()
		srv.Listener = l
		srv.Start()
		t.Cleanup(srv.Close)
		ts.urls = append(ts.urls, srv.URL)
	}
	return ts
}

// TestCrawlScaling (WIT_DIST_BENCH=1) measures a distributed crawl of a latency-bound site
// (responses after 100 ms, 64 hosts, 2 connections per host, 32 partitions) with 1, 2 and 4
// worker processes of 2 slots each (a partition crawl runs 8 fetches at once): pages/s and the
// speed-up. Politeness bounds each partition; the workers bound how many partitions run at once.
func TestCrawlScaling(t *testing.T) {
	if os.Getenv("WIT_DIST_BENCH") == "" {
		t.Skip("set WIT_DIST_BENCH=1 to measure")
	}
	const hosts, pages = 64, 40
	var base float64
	counts := []int{1, 2, 4}
	if v := os.Getenv("WIT_DIST_BENCH_WORKERS"); v != "" {
		counts = nil
		for _, f := range strings.Split(v, ",") {
			n, _ := strconv.Atoi(f)
			counts = append(counts, n)
		}
	}
	for _, workers := range counts {
		ts := newTreeSite(t, hosts, pages, 100*time.Millisecond)
		dir := t.TempDir()
		seeds := filepath.Join(dir, "seeds.txt")
		var b strings.Builder
		for _, u := range ts.urls {
			b.WriteString(u + "/p/0\n")
		}
		if err := os.WriteFile(seeds, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		srv := disttest.StartServer(t, t.TempDir(), 0)
		c := disttest.Connect(t, srv.ClientURL())
		cfg := crawlConfig(dir, seeds)
		cfg.Workers = 8
		cfg.PerHost = 2
		cfg.RowsPerFile = 10000
		pool := disttest.StartWorkers(t, srv.ClientURL(), workers, 2)
		time.Sleep(500 * time.Millisecond) // workers up
		start := time.Now()
		job, err := SubmitCrawl(context.Background(), c, cfg, 32)
		if err != nil {
			t.Fatal(err)
		}
		disttest.Wait(t, c, job.ID, 10*time.Minute)
		took := time.Since(start)
		pool.Close()
		rate := float64(ts.hits.Load()) / took.Seconds()
		if base == 0 {
			base = rate
		}
		t.Logf("%d worker(s): %d pages in %s: %.0f pages/s, %.2fx", workers, ts.hits.Load(), took.Round(time.Millisecond), rate, rate/base)
	}
}
