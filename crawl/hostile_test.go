package crawl

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// silentListener accepts TCP connections and never says a word; it counts them.
func silentListener(t *testing.T) (addr string, conns *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = &atomic.Int32{}
	done := make(chan struct{})
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
			close(done)
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			held = append(held, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), conns
}

// refusedAddr is a loopback address where nothing listens.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestDeadHostsDoNotHoldTheCrawl: a site whose links point at hosts that do not resolve, refuse
// connections or never answer finishes in seconds, each dead host's pages failing with its
// reason after one bounded attempt (robots.txt's, or the first page's), none re-queued; progress
// and summary then agree that nothing is left.
func TestDeadHostsDoNotHoldTheCrawl(t *testing.T) {
	silent, silentConns := silentListener(t)
	refused := refusedAddr(t)
	var links []string
	for h := range 3 {
		for p := range 3 {
			links = append(links, fmt.Sprintf("http://dead%d.example.invalid/page%d", h, p))
		}
	}
	for p := range 5 {
		links = append(links, fmt.Sprintf("http://%s/page%d", silent, p))
	}
	for p := range 3 {
		links = append(links, fmt.Sprintf("http://%s/page%d", refused, p))
	}
	page := `<html><body><img src="/a.jpg" alt="a live page">`
	for _, l := range links {
		page += `<a href="` + l + `">x</a>`
	}
	page += `</body></html>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, page)
	}))
	defer srv.Close()

	for _, ignoreRobots := range []bool{false, true} {
		cfg := testConfig(t, srv.URL+"/")
		cfg.Scope, cfg.AllowHosts = ScopeGlob, []string{"*"}
		cfg.Timeout, cfg.Retries = 300*time.Millisecond, 1
		cfg.IgnoreRobots = ignoreRobots
		silentConns.Store(0)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // minutes when broken
		start := time.Now()
		st, err := Run(ctx, cfg)
		cancel()
		if err != nil {
			t.Fatalf("%v (stats %+v)", err, st)
		}
		el := time.Since(start)
		name := fmt.Sprintf("ignore robots %v", ignoreRobots)
		if el > 5*time.Second {
			t.Errorf("%s: the crawl took %v", name, el)
		}
		want := map[string]int64{ReasonDNS: 9, ReasonTimeout: 5, ReasonRefused: 3}
		for r, n := range want {
			if st.PagesFailed[r] != n {
				t.Errorf("%s: failed[%s] = %d, want %d (all %v)", name, r, st.PagesFailed[r], n, st.PagesFailed)
			}
		}
		if st.PagesOK != 1 || !st.Finished || st.Left() != 0 || st.Delayed != 0 || len(st.PagesFailed) != 3 {
			t.Errorf("%s: %+v", name, st)
		}
		// One bounded try per dead host, not one per page: 2 attempts (retries 1) of robots.txt,
		// or of the host's first page when robots.txt is ignored; its other pages wait for it.
		if n := silentConns.Load(); n != 2 {
			t.Errorf("%s: the silent host got %d connections, want 2", name, n)
		}
		if !strings.Contains(st.Summary(), "left: 0 (0 queued, 0 in flight, 0 delayed for robots.txt)") {
			t.Errorf("%s: summary %q", name, st.Summary())
		}
	}
}

// TestProgressAndSummaryAgree: both count queued, in-flight and delayed pages as left.
func TestProgressAndSummaryAgree(t *testing.T) {
	s := Stats{Frontier: 1, InFlight: 2, Delayed: 3}
	if line := ProgressLine(s, 0); !strings.Contains(line, "left 6 (1 queued, 2 in flight, 3 delayed)") {
		t.Errorf("progress line %q", line)
	}
	if sum := s.Summary(); !strings.Contains(sum, "left: 6 (1 queued, 2 in flight, 3 delayed for robots.txt)") {
		t.Errorf("summary %q", sum)
	}
	var buf strings.Builder
	update, done := NewProgress(&buf, slog.New(slog.NewTextHandler(&buf, nil)))
	update(s)
	done()
	if !strings.Contains(buf.String(), "left=6") || !strings.Contains(buf.String(), "delayed=3") {
		t.Errorf("log line %q", buf.String())
	}
}

// TestRobotsTxtLongerThanMaxBody: a robots.txt over --max-body, announced by its Content-Length
// or streamed, is obeyed from its first 500 KiB instead of making the site uncrawlable.
func TestRobotsTxtLongerThanMaxBody(t *testing.T) {
	for _, declared := range []bool{true, false} {
		s := newSite(4)
		body := "User-agent: *\nDisallow: /p/2\n" + strings.Repeat("# "+strings.Repeat("x", 98)+"\n", 2000) // 200 KB
		s.extra["/robots.txt"] = func(w http.ResponseWriter, r *http.Request) {
			if declared {
				w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			}
			io.WriteString(w, body)
		}
		srv := httptest.NewServer(s)
		cfg := testConfig(t, srv.URL+"/p/0")
		cfg.MaxBody = 50 << 10
		st, err := Run(context.Background(), cfg)
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st.PagesOK != 3 || st.RobotsBlocked != 1 || s.hitsOf("/p/2") != 0 {
			t.Errorf("declared %v: %+v, /p/2 fetched %d times", declared, st, s.hitsOf("/p/2"))
		}
	}
}

// TestHostHealth: a host's first page probes it while the others wait; a probe that gets no
// answer fails the waiting pages and later ones with its reason until the down time is over,
// then the next page probes again; a probe that gets an answer lets them all through.
func TestHostHealth(t *testing.T) {
	h := newHostHealth(200 * time.Millisecond)
	ctx := context.Background()
	for _, tc := range []struct {
		host, outcome string
	}{{"dead.test", ReasonTimeout}, {"live.test", ""}} {
		_, probe, err := h.admit(ctx, tc.host)
		if probe == nil || err != nil {
			t.Fatalf("%s: first page is not the probe", tc.host)
		}
		results := make(chan string, 5)
		for range 5 {
			go func() {
				reason, p, err := h.admit(ctx, tc.host)
				if p != nil || err != nil {
					t.Errorf("%s: a waiting page became a probe (%v)", tc.host, err)
				}
				results <- reason
			}()
		}
		time.Sleep(20 * time.Millisecond)
		if len(results) != 0 {
			t.Fatalf("%s: pages went ahead of the probe", tc.host)
		}
		probe(tc.outcome)
		for range 5 {
			if r := <-results; r != tc.outcome {
				t.Errorf("%s: waiting page got %q, want %q", tc.host, r, tc.outcome)
			}
		}
	}
	if r, p, _ := h.admit(ctx, "dead.test"); r != ReasonTimeout || p != nil {
		t.Errorf("dead host within its down time: %q", r)
	}
	time.Sleep(250 * time.Millisecond)
	if r, p, _ := h.admit(ctx, "dead.test"); r != "" || p == nil {
		t.Errorf("after the down time: %q, probe %v", r, p != nil)
	}
	// A live host that stops answering is down for its other pages.
	h.markDown("live.test", ReasonRefused)
	if r, _, _ := h.admit(ctx, "live.test"); r != ReasonRefused {
		t.Errorf("marked down: %q", r)
	}
	// Waiting ends with the context.
	h.admit(ctx, "slow.test")
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, _, err := h.admit(cctx, "slow.test"); err == nil {
		t.Error("waiting for a probe ignored the context")
	}
}
