package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/witdata/wit/internal/netguard"
)

func testClient(t testing.TB, mod func(o *Options)) *Client {
	t.Helper()
	o := DefaultOptions()
	o.AllowPrivate = true
	o.Delay = 0
	o.BackoffBase = 10 * time.Millisecond
	o.BackoffMax = 100 * time.Millisecond
	o.Timeout = 2 * time.Second
	if mod != nil {
		mod(&o)
	}
	c := NewClient(o)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func get(t testing.TB, c *Client, u string) (*http.Response, []byte, error) {
	t.Helper()
	resp, err := c.Get(context.Background(), u)
	if err != nil {
		return resp, nil, err
	}
	b, err := c.ReadBody(resp)
	return resp, b, err
}

func TestRetryAfter429(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	c := testClient(t, nil)
	start := time.Now()
	resp, b, err := get(t, c, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || string(b) != "ok" || hits.Load() != 2 {
		t.Fatalf("status %d body %q hits %d", resp.StatusCode, b, hits.Load())
	}
	if el := time.Since(start); el < time.Second {
		t.Fatalf("Retry-After: 1 not honoured: retried after %v", el)
	}
}

func TestRetryAfterTooLongReturnsResponse(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c := testClient(t, func(o *Options) { o.MaxRetryAfter = 5 * time.Second })
	start := time.Now()
	resp, _, err := get(t, c, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || hits.Load() != 1 || time.Since(start) > time.Second {
		t.Fatalf("status %d hits %d after %v", resp.StatusCode, hits.Load(), time.Since(start))
	}
}

func TestBackoff503(t *testing.T) {
	var hits atomic.Int32
	var times []time.Time
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		if hits.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "busy")
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	c := testClient(t, func(o *Options) { o.BackoffBase = 40 * time.Millisecond; o.BackoffMax = time.Second })
	resp, b, err := get(t, c, srv.URL)
	if err != nil || resp.StatusCode != 200 || string(b) != "ok" {
		t.Fatalf("got %v %v %q", resp, err, b)
	}
	if len(times) != 3 {
		t.Fatalf("%d attempts, want 3", len(times))
	}
	// Equal jitter: attempt i waits in [base·2^i/2, base·2^i).
	if g := times[1].Sub(times[0]); g < 20*time.Millisecond {
		t.Errorf("first backoff %v < 20ms", g)
	}
	if g := times[2].Sub(times[1]); g < 40*time.Millisecond {
		t.Errorf("second backoff %v < 40ms (not exponential)", g)
	}
}

func TestRetriesExhausted(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	c := testClient(t, func(o *Options) { o.Retries = 2 })
	resp, _, err := get(t, c, srv.URL)
	if err != nil || resp.StatusCode != 502 || hits.Load() != 3 {
		t.Fatalf("err %v status %v hits %d", err, resp, hits.Load())
	}
}

func TestNoRetryForPostOr404(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	c := testClient(t, nil)
	resp, err := c.HTTP.Post(srv.URL, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || hits.Load() != 1 {
		t.Fatalf("POST: status %d hits %d", resp.StatusCode, hits.Load())
	}
	hits.Store(0)
	resp, _, err = get(t, c, srv.URL)
	if err != nil || resp.StatusCode != 404 || hits.Load() != 1 {
		t.Fatalf("404: %v %v hits %d", resp, err, hits.Load())
	}
}

func TestServerNeverAnswers(t *testing.T) {
	release := make(chan struct{})
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := testClient(t, func(o *Options) { o.Timeout = 300 * time.Millisecond; o.Retries = 1 })
	start := time.Now()
	_, _, err := get(t, c, srv.URL)
	el := time.Since(start)
	if err == nil {
		t.Fatal("no error from a server that never answers")
	}
	if el > 5*time.Second {
		t.Fatalf("took %v", el)
	}
	if hits.Load() != 2 {
		t.Errorf("timeouts not retried: %d attempts", hits.Load())
	}
	var ne net.Error
	if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &ne) && ne.Timeout()) {
		t.Errorf("error is not a timeout: %v", err)
	}
	if !errors.Is(err, ErrNoResponse) {
		t.Errorf("error does not wrap ErrNoResponse: %v", err)
	}
}

func TestTricklingBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		w.WriteHeader(200)
		for i := 0; i < 1000; i++ {
			if _, err := w.Write([]byte("x")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(50 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	}))
	defer srv.Close()
	c := testClient(t, func(o *Options) { o.Timeout = 400 * time.Millisecond })
	start := time.Now()
	resp, err := c.Get(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ReadBody(resp)
	if err == nil {
		t.Fatal("trickling body read without error")
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("trickle took %v", el)
	}
	if !strings.Contains(err.Error(), "not complete within") {
		t.Errorf("error does not say why: %v", err)
	}
}

func TestRedirects(t *testing.T) {
	var hits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/loop/{n}", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		var n int
		fmt.Sscan(r.PathValue("n"), &n)
		http.Redirect(w, r, fmt.Sprintf("/loop/%d", (n+1)%2), http.StatusFound)
	})
	mux.HandleFunc("/chain/{n}", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.PathValue("n"), &n)
		if n == 0 {
			io.WriteString(w, "end")
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/chain/%d", n-1), http.StatusMovedPermanently)
	})
	mux.HandleFunc("/ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://example.invalid/x", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := testClient(t, nil)

	_, _, err := get(t, c, srv.URL+"/loop/0")
	if !errors.Is(err, ErrTooManyRedirects) {
		t.Fatalf("redirect loop: %v", err)
	}
	if hits.Load() != 6 {
		t.Errorf("loop: %d requests, want 6 (1 + 5 redirects)", hits.Load())
	}
	if _, b, err := get(t, c, srv.URL+"/chain/5"); err != nil || string(b) != "end" {
		t.Errorf("5 redirects must be followed: %q %v", b, err)
	}
	if _, _, err := get(t, c, srv.URL+"/chain/6"); !errors.Is(err, ErrTooManyRedirects) {
		t.Errorf("6 redirects: %v", err)
	}
	if _, _, err := get(t, c, srv.URL+"/ftp"); !errors.Is(err, ErrBadRedirect) {
		t.Errorf("ftp redirect: %v", err)
	}
	none := testClient(t, func(o *Options) { o.MaxRedirects = -1 })
	if _, _, err := get(t, none, srv.URL+"/chain/1"); !errors.Is(err, ErrTooManyRedirects) {
		t.Errorf("MaxRedirects<0: %v", err)
	}
}

func TestBodyLimit(t *testing.T) {
	payload := strings.Repeat("a", 2000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("chunked") {
			// No Content-Length: the limit must hold while streaming.
			for i := 0; i < 4; i++ {
				io.WriteString(w, payload[:500])
				w.(http.Flusher).Flush()
			}
			return
		}
		io.WriteString(w, payload)
	}))
	defer srv.Close()
	c := testClient(t, nil)
	for _, q := range []string{"", "?chunked=1"} {
		for _, tc := range []struct {
			max     int64
			wantErr bool
		}{{1000, true}, {1999, true}, {2000, false}, {5000, false}} {
			resp, err := c.Get(context.Background(), srv.URL+q)
			if err != nil {
				t.Fatal(err)
			}
			b, err := ReadBody(resp, tc.max)
			if tc.wantErr {
				if !errors.Is(err, ErrBodyTooLarge) {
					t.Errorf("%s max %d: err %v, want ErrBodyTooLarge", q, tc.max, err)
				}
			} else if err != nil || string(b) != payload {
				t.Errorf("%s max %d: %d bytes, %v", q, tc.max, len(b), err)
			}
		}
	}
	// The client's own MaxBodyBytes holds for plain io.ReadAll as well.
	small := testClient(t, func(o *Options) { o.MaxBodyBytes = 1500 })
	for _, q := range []string{"", "?chunked=1"} {
		resp, err := small.Get(context.Background(), srv.URL+q)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, ErrBodyTooLarge) || len(b) > 1500 {
			t.Errorf("%s: ReadAll gave %d bytes, %v", q, len(b), err)
		}
	}
}

// TestReadPrefix: a prefix is read whatever the Content-Length announces and whatever the
// client's MaxBodyBytes, declared or streamed, and shorter bodies come whole.
func TestReadPrefix(t *testing.T) {
	payload := strings.Repeat("b", 3000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("mode") {
		case "huge-length": // announces 1 GB, sends 3000 bytes and hangs up
			w.Header().Set("Content-Length", "1000000000")
			io.WriteString(w, payload)
		case "chunked":
			for i := 0; i < 6; i++ {
				io.WriteString(w, payload[:500])
				w.(http.Flusher).Flush()
			}
		default:
			io.WriteString(w, payload)
		}
	}))
	defer srv.Close()
	c := testClient(t, func(o *Options) { o.MaxBodyBytes = 1000 })
	for _, tc := range []struct {
		mode string
		n    int64
		want int
	}{{"huge-length", 2000, 2000}, {"chunked", 2000, 2000}, {"", 2000, 2000}, {"", 5000, 3000}, {"chunked", 5000, 3000}} {
		resp, err := c.Get(context.Background(), srv.URL+"?mode="+tc.mode)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ReadPrefix(resp, tc.n)
		if err != nil || len(b) != tc.want || string(b) != payload[:tc.want] {
			t.Errorf("%q n=%d: %d bytes, %v; want %d", tc.mode, tc.n, len(b), err, tc.want)
		}
	}
}

// peakServer answers "ok" after holding each request for hold, and records the largest number of
// requests it had in flight at once in peak.
func peakServer(t testing.TB, hold time.Duration) (srv *httptest.Server, peak *atomic.Int32) {
	var cur atomic.Int32
	peak = new(atomic.Int32)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(hold)
		cur.Add(-1)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, peak
}

func TestPerHostConcurrency(t *testing.T) {
	srv, peak := peakServer(t, 30*time.Millisecond)
	for _, perHost := range []int{1, 2, 3} {
		peak.Store(0)
		c := testClient(t, func(o *Options) { o.PerHost = perHost })
		var wg sync.WaitGroup
		for i := 0; i < 12; i++ {
			wg.Go(func() {
				if _, _, err := get(t, c, srv.URL); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		// Usually equal; only "never above" is guaranteed on a loaded machine.
		if p := peak.Load(); p > int32(perHost) || p == 0 {
			t.Errorf("PerHost %d: peak concurrency %d", perHost, p)
		}
	}
}

func TestDelayRespected(t *testing.T) {
	var mu sync.Mutex
	var starts []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	check := func(name string, c *Client, want time.Duration) {
		t.Helper()
		starts = nil
		begin := time.Now()
		var wg sync.WaitGroup
		for i := 0; i < 5; i++ {
			wg.Go(func() {
				if _, _, err := get(t, c, srv.URL); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if len(starts) != 5 {
			t.Fatalf("%s: %d requests", name, len(starts))
		}
		slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
		// The i-th arrival cannot come before the i-th scheduled start. (Gaps
		// between arrivals are not checked: on a loaded machine one late
		// request shrinks the gap after it without any rule being broken.)
		for i, s := range starts {
			if at := s.Sub(begin); at < time.Duration(i)*want-5*time.Millisecond {
				t.Errorf("%s: request %d arrived at %v, want >= %v", name, i, at, time.Duration(i)*want)
			}
		}
	}
	check("Delay", testClient(t, func(o *Options) { o.Delay = 80 * time.Millisecond; o.PerHost = 4 }), 80*time.Millisecond)

	c := testClient(t, func(o *Options) { o.Delay = 10 * time.Millisecond; o.PerHost = 4 })
	u, _ := url.Parse(srv.URL)
	c.SetHostDelay(u.Host, 100*time.Millisecond)
	check("SetHostDelay", c, 100*time.Millisecond)
}

func TestSSRFGuard(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	}))
	defer srv.Close()
	c := testClient(t, func(o *Options) { o.AllowPrivate = false; o.Retries = 2 })
	u, _ := url.Parse(srv.URL)
	for _, target := range []string{srv.URL, "http://localhost:" + u.Port() + "/"} {
		_, err := c.Get(context.Background(), target)
		if !errors.Is(err, netguard.ErrBlocked) {
			t.Errorf("%s: %v, want ErrBlocked", target, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("blocked server was reached %d times", hits.Load())
	}
}

// TestSSRFGuardOnRedirect: an allowed server redirects to a blocked one. Both
// listen on loopback, so the guard is swapped for one that blocks by port.
func TestSSRFGuardOnRedirect(t *testing.T) {
	var internalHits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		internalHits.Add(1)
	}))
	defer internal.Close()
	public := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/secret", http.StatusFound)
	}))
	defer public.Close()
	iu, _ := url.Parse(internal.URL)
	c := testClient(t, nil)
	c.guard = func(address string) error {
		if strings.HasSuffix(address, ":"+iu.Port()) {
			return fmt.Errorf("test guard %s: %w", address, netguard.ErrBlocked)
		}
		return nil
	}
	_, err := c.Get(context.Background(), public.URL)
	if !errors.Is(err, netguard.ErrBlocked) {
		t.Fatalf("redirect to blocked address: %v", err)
	}
	if internalHits.Load() != 0 {
		t.Fatal("redirect target reached")
	}
}

func TestUserAgent(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.UserAgent()
	}))
	defer srv.Close()
	c := testClient(t, nil)
	get(t, c, srv.URL)
	if ua := <-got; ua != DefaultUserAgent {
		t.Errorf("default UA %q", ua)
	}
	c = testClient(t, func(o *Options) { o.UserAgent = "custom/1.0" })
	get(t, c, srv.URL)
	if ua := <-got; ua != "custom/1.0" {
		t.Errorf("custom UA %q", ua)
	}
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("User-Agent", "caller/2")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ua := <-got; ua != "caller/2" {
		t.Errorf("caller UA replaced: %q", ua)
	}
	if req.Header.Get("User-Agent") != "caller/2" {
		t.Error("request modified")
	}
}

// TestSlotReleasedOnClose: with PerHost 1, a second request proceeds only
// after the first body is closed — and an unclosed body frees the slot at
// the attempt deadline.
func TestSlotReleasedOnClose(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	c := testClient(t, func(o *Options) { o.PerHost = 1; o.Timeout = 300 * time.Millisecond })
	resp, err := c.Get(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err = c.Get(ctx, srv.URL)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second request while the slot is held: %v", err)
	}
	resp.Body.Close()
	if _, _, err := get(t, c, srv.URL); err != nil {
		t.Fatalf("after Close: %v", err)
	}
	// Leak a body: the slot comes back after Timeout.
	if _, err := c.Get(context.Background(), srv.URL); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, _, err := get(t, c, srv.URL); err != nil {
		t.Fatalf("after leaked body: %v", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("slot came back after %v", el)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{"-5", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"Thu, 02 Jan 2025 03:05:05 GMT", time.Minute, true},
		{"99999999999", 24 * time.Hour, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.v, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.v, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	c := testClient(t, func(o *Options) { o.BackoffBase = 100 * time.Millisecond; o.BackoffMax = time.Second })
	for attempt, want := range []time.Duration{100, 200, 400, 800, 1000, 1000, 1000} {
		want *= time.Millisecond
		for range 50 {
			d := c.rt.backoff(attempt)
			if d < want/2 || d >= want {
				t.Fatalf("attempt %d: backoff %v outside [%v, %v)", attempt, d, want/2, want)
			}
		}
	}
}
