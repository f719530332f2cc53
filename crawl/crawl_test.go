package crawl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocolly/colly/v2"

	"github.com/witdata/wit/shards"
)

func TestCrawlSite(t *testing.T) {
	s := newSite(60)
	srv := httptest.NewServer(s)
	defer srv.Close()
	cfg := testConfig(t, srv.URL+"/p/0")
	stats, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if stats.PagesOK != 60 || stats.Failed() != 0 || !stats.Finished {
		t.Fatalf("stats: %+v", stats)
	}
	if stats.Pairs != 120 || stats.PairsWritten != 120 || stats.PairsBySource["alt"] != 60 || stats.PairsBySource["figcaption"] != 60 {
		t.Fatalf("pair stats: %+v", stats)
	}
	if p, n := s.maxPageHits(); n != 1 {
		t.Fatalf("%s fetched %d times", p, n)
	}
	pairs := readPairs(t, cfg.Out)
	if len(pairs) != 120 {
		t.Fatalf("%d pairs in files, want 120", len(pairs))
	}
	p := pairs[pairKey{srv.URL + "/p/7", srv.URL + "/img/7-a.jpg"}]
	if p.Caption != "a red bicycle number 7" || p.CaptionSource != "alt" || p.PageLang != "en" || p.FetchedAt.IsZero() {
		t.Fatalf("pair: %+v", p)
	}
	var onDisk Stats
	data, err := os.ReadFile(filepath.Join(cfg.Out, "stats.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &onDisk); err != nil || onDisk.PagesOK != 60 || onDisk.Runs != 1 {
		t.Fatalf("stats.json: %v %s", err, data)
	}
	// A second run over a finished crawl fetches nothing and writes nothing new.
	stats2, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if stats2.PagesOK != 60 || stats2.Runs != 2 || stats2.Files != stats.Files {
		t.Fatalf("second run: %+v", stats2)
	}
	if _, n := s.maxPageHits(); n != 1 {
		t.Fatal("second run refetched pages")
	}
}

func TestCrawlLimits(t *testing.T) {
	cases := []struct {
		name  string
		tweak func(*Config)
		pages int64
	}{
		{"depth0", func(c *Config) { c.MaxDepth = 0 }, 1},
		{"depth1", func(c *Config) { c.MaxDepth = 1 }, 3}, // page 0 links to 1, 1, 2
		{"depth2", func(c *Config) { c.MaxDepth = 2 }, 7},
		{"per-host", func(c *Config) { c.MaxPagesPerHost = 10 }, 10},
		{"total", func(c *Config) { c.MaxPages = 7 }, 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(100)
			srv := httptest.NewServer(s)
			defer srv.Close()
			cfg := testConfig(t, srv.URL+"/p/0")
			tc.tweak(&cfg)
			stats, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if stats.PagesOK != tc.pages || int64(s.pagesHit()) != tc.pages {
				t.Fatalf("pages ok %d, hit %d, want %d", stats.PagesOK, s.pagesHit(), tc.pages)
			}
		})
	}
}

func TestScopeHostSkipsOtherHosts(t *testing.T) {
	other := newSite(5)
	osrv := httptest.NewServer(other)
	defer osrv.Close()
	s := newSite(3)
	s.extra["/links"] = func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<html><body><a href="/p/0">in</a><a href="`+osrv.URL+`/p/0">out</a></body></html>`)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	// Both servers are 127.0.0.1 on different ports: different hosts (host:port).
	cfg := testConfig(t, srv.URL+"/links")
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if other.pagesHit() != 0 || s.pagesHit() != 3 {
		t.Fatalf("other host hit %d, own %d", other.pagesHit(), s.pagesHit())
	}

	// With the other host allowed by a glob it is crawled too.
	cfg = testConfig(t, srv.URL+"/links")
	cfg.AllowHosts = []string{"127.0.0.*"}
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if other.pagesHit() != 5 {
		t.Fatalf("allowed other host: %d pages", other.pagesHit())
	}
}

func TestScopeAllows(t *testing.T) {
	cases := []struct {
		mode       string
		globs      []string
		root, host string
		want       bool
	}{
		{ScopeHost, nil, "www.example.org", "www.example.org", true},
		{ScopeHost, nil, "www.example.org", "example.org", false},
		{ScopeDomain, nil, "www.example.org", "img.example.org", true},
		{ScopeDomain, nil, "a.example.co.uk", "b.example.co.uk", true},
		{ScopeDomain, nil, "example.co.uk", "other.co.uk", false},
		{ScopeDomain, nil, "a.github.io", "b.github.io", false}, // public suffix
		{ScopeGlob, []string{"*.wikipedia.org"}, "x.org", "en.wikipedia.org", true},
		{ScopeGlob, []string{"*.wikipedia.org"}, "x.org", "x.org", false},
		{ScopeHost, []string{"cdn.*"}, "x.org", "cdn.y.org", true},
	}
	for _, c := range cases {
		if got := newScope(c.mode, c.globs).allows(c.root, c.host); got != c.want {
			t.Errorf("%s %v allows(%s, %s) = %v", c.mode, c.globs, c.root, c.host, got)
		}
	}
}

func TestRobotsDisallowAndCrawlDelay(t *testing.T) {
	s := newSite(5)
	s.robots = "User-agent: *\nDisallow: /p/3\nCrawl-delay: 5\n"
	srv := httptest.NewServer(s)
	defer srv.Close()
	cfg := testConfig(t, srv.URL+"/p/0")
	cfg.MaxCrawlDelay = 150 * time.Millisecond
	start := time.Now()
	stats, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	if stats.RobotsBlocked != 1 || stats.PagesFailed[ReasonRobots] != 1 || s.hitsOf("/p/3") != 0 {
		t.Fatalf("robots: %+v, /p/3 hit %d", stats, s.hitsOf("/p/3"))
	}
	if stats.PagesOK != 4 {
		t.Fatalf("pages ok %d", stats.PagesOK)
	}
	// 4 fetches, Crawl-delay capped to 150 ms between them.
	if el < 3*150*time.Millisecond {
		t.Fatalf("crawl-delay not honoured: %v", el)
	}
	if el > 5*time.Second {
		t.Fatalf("crawl-delay not capped: %v", el)
	}
}

func TestRobots5xxRetriesLater(t *testing.T) {
	s := newSite(2)
	var robotsCalls atomic.Int32
	s.extra["/robots.txt"] = func(w http.ResponseWriter, r *http.Request) {
		if robotsCalls.Add(1) == 1 {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		http.NotFound(w, r)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	cfg := testConfig(t, srv.URL+"/p/0")
	cfg.RobotsRetryDelay = 50 * time.Millisecond
	stats, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if stats.PagesOK != 2 {
		t.Fatalf("stats %+v (robots calls %d)", stats, robotsCalls.Load())
	}
}

func TestFailures(t *testing.T) {
	s := newSite(1)
	s.extra["/loop-a"] = func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop-b", http.StatusFound) }
	s.extra["/loop-b"] = func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop-a", http.StatusFound) }
	s.extra["/missing"] = http.NotFound
	s.extra["/broken"] = func(w http.ResponseWriter, r *http.Request) { http.Error(w, "x", 500) }
	s.extra["/image"] = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("\x89PNG\r\n\x1a\n"))
	}
	s.extra["/huge"] = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		for range 100 {
			w.Write(make([]byte, 1024))
		}
	}
	var n429 atomic.Int32
	s.extra["/busy"] = func(w http.ResponseWriter, r *http.Request) {
		if n429.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, `<html><body><img src="/x.jpg" alt="busy but fine"></body></html>`)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	// The hanging page has a host of its own: a host whose first page never answers is taken for
	// a dead host (down.go), which would fail this host's other pages with it.
	hung := newSite(1)
	hung.extra["/hang"] = func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	hungSrv := httptest.NewServer(hung)
	defer hungSrv.Close()
	var seeds []string
	for _, p := range []string{"/loop-a", "/missing", "/broken", "/image", "/huge", "/busy"} {
		seeds = append(seeds, srv.URL+p)
	}
	seeds = append(seeds, hungSrv.URL+"/hang")
	cfg := testConfig(t, seeds...)
	cfg.MaxDepth = 0
	cfg.Retries = 1
	// Long enough for a loopback answer on a loaded 2-core CI machine (300 ms was not: every
	// page timed out while other packages' tests compiled), short enough for /hang's two tries.
	cfg.Timeout = 1500 * time.Millisecond
	cfg.MaxBody = 50 << 10
	start := time.Now()
	stats, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("crawl took %v", el)
	}
	want := map[string]int64{ReasonRedirects: 1, ReasonHTTP4xx: 1, ReasonHTTP5xx: 1, ReasonNotHTML: 1, ReasonTooLarge: 1, ReasonTimeout: 1}
	for r, n := range want {
		if stats.PagesFailed[r] != n {
			t.Errorf("failed[%s] = %d, want %d (all: %v)", r, stats.PagesFailed[r], n, stats.PagesFailed)
		}
	}
	if stats.PagesOK != 1 || stats.Pairs != 1 || n429.Load() != 2 {
		t.Errorf("429 then 200: ok %d pairs %d requests %d", stats.PagesOK, stats.Pairs, n429.Load())
	}
}

func TestSSRFGuard(t *testing.T) {
	s := newSite(3)
	srv := httptest.NewServer(s)
	defer srv.Close()
	cfg := testConfig(t, srv.URL+"/p/0")
	cfg.AllowPrivate = false
	stats, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if stats.PagesFailed[ReasonBlockedAddress] != 1 || stats.PagesOK != 0 {
		t.Fatalf("stats %+v", stats)
	}
	if n := s.pagesHit() + s.hitsOf("/robots.txt"); n != 0 {
		t.Fatalf("loopback server was contacted %d times", n)
	}
}

// TestSSRFGuardOnLinks: a page on an allowed server links to another loopback server; without
// --allow-private that link is refused at dial time and its server never sees a request.
func TestSSRFGuardOnLinks(t *testing.T) {
	internal := newSite(2)
	isrv := httptest.NewServer(internal)
	defer isrv.Close()
	public := newSite(1)
	public.extra["/links"] = func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<html><body><img src="/a.jpg" alt="a harmless picture"><a href="%s/p/0">admin</a><a href="http://169.254.169.254/latest/meta-data/">metadata</a></body></html>`, isrv.URL)
	}
	psrv := httptest.NewServer(public)
	defer psrv.Close()
	cfg := testConfig(t, psrv.URL+"/links")
	cfg.AllowPrivate = false
	cfg.AllowAddrs = []string{strings.TrimPrefix(psrv.URL, "http://")}
	cfg.Scope = ScopeGlob
	cfg.AllowHosts = []string{"*"}
	cfg.MaxDepth = 2
	stats, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if stats.PagesOK != 1 || stats.PagesFailed[ReasonBlockedAddress] != 2 {
		t.Fatalf("ok %d, failed %v; want 1 ok and 2 blocked", stats.PagesOK, stats.PagesFailed)
	}
	if n := internal.pagesHit() + internal.hitsOf("/robots.txt"); n != 0 {
		t.Fatalf("the linked loopback server was contacted %d times", n)
	}
}

func TestNoIndexNoFollow(t *testing.T) {
	s := newSite(3)
	s.extra["/meta"] = func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<html><head><meta name="robots" content="noindex, nofollow"></head><body><img src="/a.jpg" alt="hidden"><a href="/p/0">x</a></body></html>`)
	}
	s.extra["/header"] = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Robots-Tag", "noai")
		io.WriteString(w, `<html><body><img src="/b.jpg" alt="not for datasets"><a href="/p/1">x</a></body></html>`)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	cfg := testConfig(t, srv.URL+"/meta", srv.URL+"/header")
	cfg.MaxDepth = 1
	stats, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.hitsOf("/p/0") != 0 || s.hitsOf("/p/1") != 1 {
		t.Fatalf("nofollow: /p/0 %d, /p/1 %d", s.hitsOf("/p/0"), s.hitsOf("/p/1"))
	}
	if stats.PagesNoIndex != 2 || stats.Pairs != 2 { // the two from /p/1
		t.Fatalf("noindex: %+v", stats)
	}
}

func TestOnPairStreamOnly(t *testing.T) {
	s := newSite(20)
	srv := httptest.NewServer(s)
	defer srv.Close()
	cfg := testConfig(t, srv.URL+"/p/0")
	cfg.Out = ""
	var got atomic.Int64
	cfg.OnPair = func(p shards.Pair) error {
		if p.ImageURL == "" || p.Caption == "" {
			return errors.New("empty pair")
		}
		got.Add(1)
		return nil
	}
	stats, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Load() != 40 || stats.Files != 0 {
		t.Fatalf("streamed %d pairs, files %d", got.Load(), stats.Files)
	}
	if _, err := os.Stat(filepath.Join(cfg.State, "stats.json")); err != nil {
		t.Fatal(err)
	}
}

// TestOnPairFailureLosesNothing: a consumer that fails (or a process that dies inside OnPair)
// after the page's completion is committed loses none of that page's pairs: the next run hands
// them over again before it crawls on. Together the runs deliver every pair of the site; only
// pairs of the page whose delivery was cut off may come twice (the consumer deduplicates).
func TestOnPairFailureLosesNothing(t *testing.T) {
	const n = 60
	s := newSite(n)
	srv := httptest.NewServer(s)
	defer srv.Close()
	cfg := testConfig(t, srv.URL+"/p/0")
	cfg.Out = ""
	var mu sync.Mutex
	delivered := map[string]int{}
	calls := 0
	errConsumer := errors.New("consumer died")
	cfg.OnPair = func(p shards.Pair) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 31 { // the second pair of a page, so a page is cut off halfway
			return errConsumer
		}
		delivered[p.PageURL+" "+p.ImageURL]++
		return nil
	}
	if _, err := Run(context.Background(), cfg); !errors.Is(err, errConsumer) {
		t.Fatalf("first run: %v, want the consumer's error", err)
	}
	mu.Lock()
	first := len(delivered)
	mu.Unlock()
	if first >= 2*n {
		t.Fatalf("the first run delivered all %d pairs; the test needs it stopped early", first)
	}
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	twice := 0
	for k, c := range delivered {
		if c > 1 {
			twice++
			t.Logf("delivered %d times: %s", c, k)
		}
	}
	if len(delivered) != 2*n || twice > 2 {
		t.Fatalf("after the second run: %d distinct pairs (want %d), %d delivered twice; the first run delivered %d",
			len(delivered), 2*n, twice, first)
	}
	// Nothing is left to hand over: a third run delivers nothing.
	before := len(delivered)
	calls = 0
	if _, err := Run(context.Background(), cfg); err != nil || calls != 0 || len(delivered) != before {
		t.Fatalf("third run: %v, %d calls", err, calls)
	}
}

// TestSlowHostDoesNotHoldUpOthers: a slow host's long run of links ahead in the frontier does
// not park every worker in that host's limiter: a fast host's pages behind the run are crawled
// at their own pace, long before the slow host is done. With a FIFO dispatcher the fast host
// had to wait for almost all of the slow host's pages.
func TestSlowHostDoesNotHoldUpOthers(t *testing.T) {
	const slowPages, fastPages = 40, 30
	var slowServed, fastServed, slowAtFastEnd atomic.Int64
	slowAtFastEnd.Store(-1)
	page := func(prefix string, n int) string {
		var b strings.Builder
		b.WriteString("<html lang=en><body>")
		for i := range n {
			fmt.Fprintf(&b, `<a href="/%s/%d">page %d</a>`, prefix, i, i)
		}
		return b.String() + "</body></html>"
	}
	serve := func(prefix string, n int, delay time.Duration, served *atomic.Int64, onPage func(int64)) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			switch {
			case r.URL.Path == "/robots.txt":
				http.NotFound(w, r)
			case r.URL.Path == "/":
				if prefix == "fast" {
					time.Sleep(100 * time.Millisecond) // its links join the frontier after the slow host's
				}
				fmt.Fprint(w, page(prefix, n))
			default:
				time.Sleep(delay)
				fmt.Fprintf(w, `<html lang=en><body><img src="/%s.png" alt="a picture of page %s"></body></html>`, r.URL.Path, r.URL.Path)
				onPage(served.Add(1))
			}
		}))
	}
	slow := serve("slow", slowPages, 100*time.Millisecond, &slowServed, func(int64) {})
	defer slow.Close()
	fast := serve("fast", fastPages, 0, &fastServed, func(n int64) {
		if n == fastPages {
			slowAtFastEnd.Store(slowServed.Load())
		}
	})
	defer fast.Close()

	cfg := testConfig(t, slow.URL+"/", fast.URL+"/")
	cfg.Workers, cfg.PerHost = 8, 2
	cfg.MaxDepth = 1
	st, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.PagesOK != slowPages+fastPages+2 {
		t.Fatalf("%d pages ok, want %d", st.PagesOK, slowPages+fastPages+2)
	}
	t.Logf("the fast host finished after %d of the slow host's pages", slowAtFastEnd.Load())
	if at := slowAtFastEnd.Load(); at < 0 || at > slowPages/2 {
		t.Errorf("the fast host's last page came after %d of the slow host's %d pages; want at most %d", at, slowPages, slowPages/2)
	}
}

// TestResume crawls a 500-page site, cancels after K pages, resumes, and compares with an
// uninterrupted crawl: the same pairs, no page fetched twice, no pair written twice.
func TestResume(t *testing.T) {
	const n = 500
	ref := newSite(n)
	rsrv := httptest.NewServer(ref)
	defer rsrv.Close()
	rcfg := testConfig(t, rsrv.URL+"/p/0")
	if _, err := Run(context.Background(), rcfg); err != nil {
		t.Fatal(err)
	}
	want := pairSet(readPairs(t, rcfg.Out), rsrv.URL)
	if len(want) != 2*n {
		t.Fatalf("reference crawl: %d pairs", len(want))
	}

	for _, k := range []int{1, 150, 420} {
		s := newSite(n)
		srv := httptest.NewServer(s)
		cfg := testConfig(t, srv.URL+"/p/0")
		ctx, cancel := context.WithCancel(context.Background())
		s.setOnHit(func(total int) {
			if total == k {
				cancel()
			}
		})
		st1, err := Run(ctx, cfg)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("k=%d: first run: %v", k, err)
		}
		if st1.Finished || st1.PagesOK >= n {
			t.Fatalf("k=%d: first run did not stop early: %+v", k, st1)
		}
		s.setOnHit(nil)
		st2, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if p, hits := s.maxPageHits(); hits != 1 {
			t.Fatalf("k=%d: %s fetched %d times", k, p, hits)
		}
		if st2.PagesOK != n || st2.Runs != 2 || !st2.Finished || st2.PairsWritten != 2*n {
			t.Fatalf("k=%d: resumed stats %+v", k, st2)
		}
		got := pairSet(readPairs(t, cfg.Out), srv.URL)
		if !slices.Equal(got, want) {
			t.Fatalf("k=%d: resumed crawl has %d pairs, uninterrupted %d", k, len(got), len(want))
		}
		srv.Close()
	}
}

// TestCrashBetweenCommitAndRename: the process dies after the pebble record of a pair file and
// before its rename. The next run must finish the rename and neither lose nor repeat a pair.
func TestCrashBetweenCommitAndRename(t *testing.T) {
	const n = 120
	s := newSite(n)
	srv := httptest.NewServer(s)
	defer srv.Close()
	cfg := testConfig(t, srv.URL+"/p/0")
	saved := filepath.Join(t.TempDir(), "saved")
	var crashed shards.Commit
	commitHook = func(c shards.Commit) error {
		if c.Index != 1 {
			return nil
		}
		// Keep what a crash would leave on disk: the complete temp file. shards removes the temp
		// file when the hook fails, so copy it first.
		data, err := os.ReadFile(c.TempPath)
		if err != nil {
			return err
		}
		if err := os.WriteFile(saved, data, 0o644); err != nil {
			return err
		}
		crashed = c
		return errors.New("simulated crash")
	}
	defer func() { commitHook = nil }()
	if _, err := Run(context.Background(), cfg); err == nil {
		t.Fatal("crash not reported")
	}
	commitHook = nil
	if crashed.TempPath == "" {
		t.Fatal("hook never fired")
	}
	if err := os.Rename(saved, crashed.TempPath); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(crashed.Path); err == nil {
		t.Fatal("file renamed despite the crash")
	}
	stats, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(crashed.Path); err != nil {
		t.Fatalf("rename not finished: %v", err)
	}
	pairs := readPairs(t, cfg.Out) // fails on a duplicate
	if len(pairs) != 2*n || stats.PairsWritten != 2*n {
		t.Fatalf("%d pairs in files (stats %d), want %d", len(pairs), stats.PairsWritten, 2*n)
	}
	if p, hits := s.maxPageHits(); hits != 1 {
		t.Fatalf("%s fetched %d times", p, hits)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	os.WriteFile(p, []byte("seeds: s.txt\ndelay: 1s\nscope: domain\nallow_hosts: ['*.example.org']\nper_host: 4\n"), 0o644)
	cfg, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Delay != time.Second || cfg.Scope != ScopeDomain || cfg.PerHost != 4 || cfg.AllowHosts[0] != "*.example.org" || cfg.Retries != 3 {
		t.Fatalf("%+v", cfg)
	}
	os.WriteFile(p, []byte("delai: 1s\n"), 0o644)
	if _, err := LoadConfig(p); err == nil {
		t.Fatal("unknown key accepted")
	}
	os.WriteFile(p, nil, 0o644)
	if cfg, err := LoadConfig(p); err != nil || cfg.PerHost != 2 {
		t.Fatalf("empty config: %v", err)
	}
	bad := DefaultConfig()
	bad.Seeds, bad.State, bad.Out, bad.Scope = "s", "st", "o", "planet"
	if err := bad.Validate(); err == nil {
		t.Fatal("bad scope accepted")
	}
}

func TestPairsEncoding(t *testing.T) {
	at := time.UnixMilli(1700000000123).UTC()
	in := []shards.Pair{
		{PageURL: "https://a.org/", ImageURL: "https://a.org/1.jpg", Caption: "één ☃", CaptionSource: "alt", PageLang: "nl", FetchedAt: at},
		{PageURL: "https://a.org/", ImageURL: "https://a.org/2.jpg", Caption: "", CaptionSource: "og", PageLang: "nl", FetchedAt: at},
	}
	out, err := decodePairs(encodePairs(in))
	if err != nil || !slices.Equal(in, out) {
		t.Fatalf("%v %+v", err, out)
	}
}

// FuzzRequestHost: the dispatcher's host of a stored request, read without decoding the rest,
// is the host of the request colly decodes from it.
func FuzzRequestHost(f *testing.F) {
	for _, u := range []string{"http://example.org/a", "https://Example.ORG:8443/a?b=1&c=<2>", "http://user@host/p",
		"http://[::1]:80/x", `http://h/"q"`, "http://h/\\back", "http://xn--bcher-kva.example/"} {
		f.Add(u)
	}
	c := colly.NewCollector()
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		req := &colly.Request{URL: u, Method: "GET", Ctx: colly.NewContext(), Headers: &http.Header{}}
		req.Ctx.Put(ctxRoot, "root")
		data, err := req.Marshal()
		if err != nil {
			return
		}
		back, err := c.UnmarshalRequest(data)
		if err != nil {
			return
		}
		if got, want := requestHost(data), strings.ToLower(back.URL.Host); got != want {
			t.Fatalf("requestHost(%s) = %q, colly decodes host %q", data, got, want)
		}
	})
}

func FuzzDecodePairs(f *testing.F) {
	f.Add(encodePairs([]shards.Pair{{PageURL: "u", ImageURL: "i", Caption: "c", CaptionSource: "alt", FetchedAt: time.Now()}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := decodePairs(b)
		if err == nil {
			if _, err := decodePairs(encodePairs(ps)); err != nil && len(ps) > 0 {
				t.Fatal(err)
			}
		}
	})
}

func TestParseRobotsTag(t *testing.T) {
	cases := []struct {
		v        string
		idx, fol bool
	}{
		{"noindex", true, false},
		{"nofollow, noarchive", false, true},
		{"none", true, true},
		{"otherbot: noindex", false, false},
		{"wit-crawler: noimageai", true, false},
		{"all", false, false},
	}
	for _, c := range cases {
		i, f := parseRobotsTag(c.v, "wit-crawler/0.1")
		if i != c.idx || f != c.fol {
			t.Errorf("%q: %v %v", c.v, i, f)
		}
	}
}

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := LoadConfig("../configs/crawl.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.PerHost != DefaultConfig().PerHost || cfg.Delay != DefaultConfig().Delay {
		t.Fatalf("example config differs from the defaults it documents: %+v", cfg)
	}
}

func TestProgressLogLine(t *testing.T) {
	var buf strings.Builder
	update, done := NewProgress(&buf, slog.New(slog.NewTextHandler(&buf, nil)))
	update(Stats{PagesOK: 10, Pairs: 20, Frontier: 5})
	update(Stats{PagesOK: 30, Pairs: 60})
	done()
	if n := strings.Count(buf.String(), "crawl progress"); n != 2 {
		t.Fatalf("%d progress lines:\n%s", n, buf.String())
	}
	if !strings.Contains(ProgressLine(Stats{PagesOK: 3, PagesFailed: map[string]int64{"timeout": 2}}, 12), "pages 3 ok 2 failed") {
		t.Fatal(ProgressLine(Stats{}, 0))
	}
}

// Malformed seed rows are skipped and listed in bad-rows.jsonl; the seed counts add up. Under
// BadRows "error" the first one stops the crawl.
func TestSeedsMalformedRows(t *testing.T) {
	s := newSite(3)
	srv := httptest.NewServer(s)
	defer srv.Close()
	cfg := testConfig(t)
	cfg.MaxDepth = 0
	cfg.Seeds = filepath.Join(t.TempDir(), "seeds.csv")
	os.WriteFile(cfg.Seeds, []byte("url,name\n"+
		srv.URL+"/p/0,first\n"+
		srv.URL+"/p/1,\"never closed\n"+ // line 3: bad quoting
		srv.URL+"/p/2,two,extra\n"+ // line 4: field count
		"not a url at all,x\n"+ // invalid seed
		",empty\n"+ // invalid seed
		srv.URL+"/p/2,\"quoted, fine\"\n"), 0o644)
	st, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.PagesOK != 2 || st.SeedRows != 6 || st.SeedsOK != 2 || st.SeedsInvalid != 2 ||
		st.SeedBadRows["bad_quoting"] != 1 || st.SeedBadRows["field_count"] != 1 {
		t.Fatalf("stats %+v", st)
	}
	if !strings.Contains(st.Summary(), "seeds: 6 rows read, 2 ok, 2 invalid, 2 malformed") {
		t.Fatalf("summary:\n%s", st.Summary())
	}
	logged, err := os.ReadFile(filepath.Join(cfg.Out, "bad-rows.jsonl"))
	if err != nil || !strings.Contains(string(logged), `"line":3`) || !strings.Contains(string(logged), `"line":4`) {
		t.Fatalf("bad-rows.jsonl %q %v", logged, err)
	}

	cfg2 := testConfig(t)
	cfg2.Seeds, cfg2.BadRows = cfg.Seeds, "error"
	if _, err := Run(context.Background(), cfg2); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("error policy: %v", err)
	}
}
