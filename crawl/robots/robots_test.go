package robots

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/witdata/wit/internal/httpx"
	"github.com/witdata/wit/internal/netguard"
)

const ua = "wit/0.1 (+https://github.com/witdata/wit)"

func testHTTP(t testing.TB, allowPrivate bool) *http.Client {
	o := httpx.DefaultOptions()
	o.AllowPrivate = allowPrivate
	o.Delay = 0
	o.Retries = 0
	o.Timeout = 2 * time.Second
	c := httpx.NewClient(o)
	t.Cleanup(c.CloseIdleConnections)
	return c.HTTP
}

// robotsServer serves body at /robots.txt with status and counts fetches.
func robotsServer(t *testing.T, status int, body string) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		hits.Add(1)
		if got := r.UserAgent(); got == "" || strings.HasPrefix(got, "Go-http-client") {
			t.Errorf("robots.txt fetched with User-Agent %q", got)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func mustURL(t testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestRules(t *testing.T) {
	robotsTxt := `# test file
User-agent: *
Disallow: /private/
Disallow: /*?session=
Allow: /private/public-
Crawl-delay: 2

User-agent: wit
Disallow: /no-wit/
Crawl-delay: 0.5

User-agent: otherbot
Disallow: /
`
	srv, hits := robotsServer(t, 200, robotsTxt)
	c := NewCache(testHTTP(t, true), ua, Options{})
	star := NewCache(testHTTP(t, true), "somebot/1.0", Options{})
	tests := []struct {
		cache   *Cache
		path    string
		allowed bool
		delay   time.Duration
	}{
		// Our token has its own group: the * rules do not apply to it.
		{c, "/", true, 500 * time.Millisecond},
		{c, "/private/x", true, 500 * time.Millisecond},
		{c, "/no-wit/page", false, 500 * time.Millisecond},
		{c, "/robots.txt", true, 500 * time.Millisecond},
		// Other agents fall back to *.
		{star, "/", true, 2 * time.Second},
		{star, "", true, 2 * time.Second},
		{star, "/private/x", false, 2 * time.Second},
		{star, "/private/public-page", true, 2 * time.Second},
		{star, "/a?session=1", false, 2 * time.Second},
		{star, "/a?x=1", true, 2 * time.Second},
		{star, "/no-wit/page", true, 2 * time.Second},
	}
	for _, tt := range tests {
		d, err := tt.cache.Check(context.Background(), mustURL(t, srv.URL+tt.path))
		if err != nil {
			t.Fatalf("%s %s: %v", tt.cache.token, tt.path, err)
		}
		if d.Allowed != tt.allowed || d.CrawlDelay != tt.delay {
			t.Errorf("%s %s: got %+v, want allowed=%v delay=%v", tt.cache.token, tt.path, d, tt.allowed, tt.delay)
		}
	}
	if hits.Load() != 2 {
		t.Errorf("%d fetches, want one per cache", hits.Load())
	}
}

func TestStatusCodes(t *testing.T) {
	disallowAll := "User-agent: *\nDisallow: /\n"
	tests := []struct {
		status  int
		allowed bool
		retry   bool
	}{
		{200, false, false},
		{404, true, false},
		{410, true, false},
		{401, true, false},
		{403, true, false},
		{429, false, true},
		{500, false, true},
		{503, false, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			srv, _ := robotsServer(t, tt.status, disallowAll)
			c := NewCache(testHTTP(t, true), ua, Options{})
			d, err := c.Check(context.Background(), mustURL(t, srv.URL+"/page"))
			if tt.retry {
				if !errors.Is(err, ErrRetryLater) {
					t.Fatalf("err %v, want ErrRetryLater", err)
				}
				return
			}
			if err != nil || d.Allowed != tt.allowed {
				t.Fatalf("got %+v %v, want allowed=%v", d, err, tt.allowed)
			}
		})
	}
}

func TestRetryLaterCachedBriefly(t *testing.T) {
	var hits atomic.Int32
	var fail atomic.Bool
	fail.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "User-agent: *\nDisallow: /x\n")
	}))
	defer srv.Close()
	c := NewCache(testHTTP(t, true), ua, Options{RetryTTL: 500 * time.Millisecond})
	for range 5 {
		if _, err := c.Check(context.Background(), mustURL(t, srv.URL+"/a")); !errors.Is(err, ErrRetryLater) {
			t.Fatalf("err %v", err)
		}
	}
	if hits.Load() != 1 {
		t.Fatalf("failing host asked %d times within RetryTTL", hits.Load())
	}
	fail.Store(false)
	time.Sleep(600 * time.Millisecond)
	d, err := c.Check(context.Background(), mustURL(t, srv.URL+"/x"))
	if err != nil || d.Allowed {
		t.Fatalf("after recovery: %+v %v", d, err)
	}
	if hits.Load() != 2 {
		t.Fatalf("%d fetches", hits.Load())
	}
}

// TestUnreachableSites: a site that does not answer at all is ErrUnreachable (the cause wrapped,
// for the page's failure reason), not ErrRetryLater, found within the client's timeout and cached.
func TestUnreachableSites(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	refused := srv.URL
	srv.Close() // nothing listens there now
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() { // accept and never answer
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	o := httpx.DefaultOptions()
	o.AllowPrivate, o.Delay, o.Retries, o.BackoffBase = true, 0, 1, 10*time.Millisecond
	o.Timeout = 200 * time.Millisecond
	client := httpx.NewClient(o)
	defer client.CloseIdleConnections()
	for _, tc := range []struct {
		name, site string
		cause      func(error) bool
	}{
		{"refused", refused, func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }},
		{"silent", "http://" + silent.Addr().String(), func(err error) bool { return errors.Is(err, httpx.ErrNoResponse) }},
		{"dns", "http://robots-test.example.invalid", func(err error) bool {
			var de *net.DNSError
			return errors.As(err, &de) && de.IsNotFound
		}},
	} {
		c := NewCache(client.HTTP, ua, Options{})
		start := time.Now()
		for range 3 {
			_, err := c.Check(context.Background(), mustURL(t, tc.site+"/a"))
			if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrRetryLater) || !tc.cause(err) {
				t.Errorf("%s: %v, want ErrUnreachable with its cause", tc.name, err)
			}
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("%s: took %v (two attempts of 200 ms, then cached)", tc.name, el)
		}
	}
}

func TestSSRFGuardedSite(t *testing.T) {
	live, hits := robotsServer(t, 200, "")
	guarded := NewCache(testHTTP(t, false), ua, Options{})
	_, err := guarded.Check(context.Background(), mustURL(t, live.URL+"/a"))
	if !errors.Is(err, netguard.ErrBlocked) || errors.Is(err, ErrRetryLater) {
		t.Fatalf("blocked address: %v, want ErrBlocked", err)
	}
	if hits.Load() != 0 {
		t.Fatal("guarded fetch reached the server")
	}
}

func TestTTLExpiry(t *testing.T) {
	srv, hits := robotsServer(t, 200, "User-agent: *\nDisallow: /x\n")
	c := NewCache(testHTTP(t, true), ua, Options{TTL: time.Hour})
	now := time.Now()
	c.now = func() time.Time { return now }
	for range 3 {
		c.Check(context.Background(), mustURL(t, srv.URL+"/a"))
	}
	if hits.Load() != 1 {
		t.Fatalf("%d fetches within TTL", hits.Load())
	}
	now = now.Add(61 * time.Minute)
	c.Check(context.Background(), mustURL(t, srv.URL+"/a"))
	if hits.Load() != 2 {
		t.Fatalf("not refetched after TTL: %d fetches", hits.Load())
	}
}

func TestStaleIfError(t *testing.T) {
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "User-agent: *\nDisallow: /x\n")
	}))
	defer srv.Close()
	c := NewCache(testHTTP(t, true), ua, Options{TTL: time.Hour})
	now := time.Now()
	c.now = func() time.Time { return now }
	if d, err := c.Check(context.Background(), mustURL(t, srv.URL+"/x")); err != nil || d.Allowed {
		t.Fatalf("%+v %v", d, err)
	}
	fail.Store(true)
	now = now.Add(2 * time.Hour)
	if d, err := c.Check(context.Background(), mustURL(t, srv.URL+"/x")); err != nil || d.Allowed {
		t.Fatalf("refresh failure must keep the old rules: %+v %v", d, err)
	}
}

func TestLRUBound(t *testing.T) {
	var servers []*httptest.Server
	var hits []*atomic.Int32
	for range 3 {
		s, h := robotsServer(t, 404, "")
		servers = append(servers, s)
		hits = append(hits, h)
	}
	c := NewCache(testHTTP(t, true), ua, Options{MaxEntries: 2})
	check := func(i int) {
		if _, err := c.Check(context.Background(), mustURL(t, servers[i].URL+"/")); err != nil {
			t.Fatal(err)
		}
	}
	check(0)
	check(1)
	check(0) // 0 is now most recent; 1 is evicted by 2
	check(2)
	if c.Len() != 2 {
		t.Fatalf("Len %d, want 2", c.Len())
	}
	check(0)
	check(1)
	if hits[0].Load() != 1 || hits[1].Load() != 2 {
		t.Fatalf("fetches %d %d, want 1 2 (LRU order)", hits[0].Load(), hits[1].Load())
	}
}

func TestSingleFlight(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		time.Sleep(50 * time.Millisecond)
		io.WriteString(w, "User-agent: *\nDisallow: /x\n")
	}))
	defer srv.Close()
	c := NewCache(testHTTP(t, true), ua, Options{})
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			d, err := c.Check(context.Background(), mustURL(t, fmt.Sprintf("%s/x/%d", srv.URL, i)))
			if err != nil || d.Allowed {
				t.Errorf("%+v %v", d, err)
			}
		})
	}
	wg.Wait()
	if hits.Load() != 1 {
		t.Fatalf("%d fetches for 50 concurrent checks", hits.Load())
	}
}

func TestCanceledWaiterDoesNotSpoilFetch(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		time.Sleep(100 * time.Millisecond)
		io.WriteString(w, "User-agent: *\nDisallow: /x\n")
	}))
	defer srv.Close()
	c := NewCache(testHTTP(t, true), ua, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Check(ctx, mustURL(t, srv.URL+"/x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("canceled check: %v", err)
	}
	d, err := c.Check(context.Background(), mustURL(t, srv.URL+"/x"))
	if err != nil || d.Allowed || hits.Load() != 1 {
		t.Fatalf("%+v %v, %d fetches", d, err, hits.Load())
	}
}

func TestCrawlDelayCapped(t *testing.T) {
	srv, _ := robotsServer(t, 200, "User-agent: *\nCrawl-delay: 3600\n")
	c := NewCache(testHTTP(t, true), ua, Options{MaxCrawlDelay: 10 * time.Second})
	d, err := c.Check(context.Background(), mustURL(t, srv.URL+"/"))
	if err != nil || !d.Allowed || d.CrawlDelay != 10*time.Second {
		t.Fatalf("%+v %v", d, err)
	}
}

func TestBodyLimit(t *testing.T) {
	pad := "# " + strings.Repeat("x", 1000) + "\n"
	within := "User-agent: *\n" + strings.Repeat(pad, 400) + "Disallow: /x\n" // ~400 KB
	beyond := "User-agent: *\n" + strings.Repeat(pad, 600) + "Disallow: /x\n" // ~600 KB
	early := "User-agent: *\nDisallow: /x\n" + strings.Repeat(pad, 2000)      // ~2 MB, rule first
	for _, tt := range []struct {
		name, body string
		allowed    bool
	}{{"within", within, false}, {"beyond", beyond, true}, {"long, rule first", early, false}} {
		srv, _ := robotsServer(t, 200, tt.body)
		c := NewCache(testHTTP(t, true), ua, Options{})
		d, err := c.Check(context.Background(), mustURL(t, srv.URL+"/x"))
		if err != nil || d.Allowed != tt.allowed {
			t.Errorf("%s: %+v %v, want allowed=%v", tt.name, d, err, tt.allowed)
		}
	}
}

// TestHugeRobotsTxt: a robots.txt longer than the client's body limit, declared by its
// Content-Length (up to absurd) or streamed without one, is read up to 500 KiB and obeyed, as
// Google does, instead of making the site uncrawlable.
func TestHugeRobotsTxt(t *testing.T) {
	rules := "User-agent: *\nDisallow: /private\n"
	pad := strings.Repeat("# padding "+strings.Repeat("x", 90)+"\n", 10_000) // 1 MB
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		switch r.Header.Get("User-Agent") { // each mode is a cache with its own User-Agent
		case ua + " declared":
			w.Header().Set("Content-Length", strconv.Itoa(len(rules)+len(pad)))
		case ua + " absurd":
			w.Header().Set("Content-Length", "1000000000000") // 1 TB announced; 1 MB sent
		}
		io.WriteString(w, rules)
		io.WriteString(w, pad)
	}))
	defer srv.Close()
	o := httpx.DefaultOptions()
	o.AllowPrivate, o.Delay, o.Retries, o.Timeout = true, 0, 0, 5*time.Second
	o.MaxBodyBytes = 100 << 10 // the crawler's --max-body, well under the file
	client := httpx.NewClient(o)
	defer client.CloseIdleConnections()
	for _, mode := range []string{"declared", "absurd", "streamed"} {
		c := NewCache(client.HTTP, ua+" "+mode, Options{})
		for path, allowed := range map[string]bool{"/private/a": false, "/public": true} {
			d, err := c.Check(context.Background(), mustURL(t, srv.URL+path))
			if err != nil || d.Allowed != allowed {
				t.Errorf("%s %s: %+v %v, want allowed=%v", mode, path, d, err, allowed)
			}
		}
	}
}

func TestRedirects(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/real-robots.txt", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/real-robots.txt", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "User-agent: *\nDisallow: /x\n")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := NewCache(testHTTP(t, true), ua, Options{})
	if d, err := c.Check(context.Background(), mustURL(t, srv.URL+"/x")); err != nil || d.Allowed {
		t.Fatalf("followed redirect: %+v %v", d, err)
	}

	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path+"x", http.StatusFound)
	}))
	defer loop.Close()
	if d, err := c.Check(context.Background(), mustURL(t, loop.URL+"/x")); err != nil || !d.Allowed {
		t.Fatalf("redirect loop must mean allow-all: %+v %v", d, err)
	}
}

func TestMalformedRobots(t *testing.T) {
	tests := []struct {
		name, body, path string
		allowed          bool
	}{
		{"rule before user-agent", "Disallow: /a\nUser-agent: *\nDisallow: /x\n", "/x", false},
		{"bad crawl-delay", "User-agent: *\nCrawl-delay: soon\nDisallow: /x\n", "/x", false},
		{"CR line endings", "User-agent: *\rDisallow: /x\r", "/x", false},
		{"html instead of robots", "<html><body>Not found</body></html>", "/x", true},
		{"wildcard is anchored", "User-agent: *\nDisallow: /a*b\n", "/x/a/b", true},
		{"wildcard still matches", "User-agent: *\nDisallow: /a*b\n", "/a/x/b", false},
		{"end anchor is anchored", "User-agent: *\nDisallow: /page$\n", "/x/page", true},
		{"end anchor matches", "User-agent: *\nDisallow: /page$\n", "/page", false},
		{"end anchor only at end", "User-agent: *\nDisallow: /page$\n", "/page2", true},
		{"leading star", "User-agent: *\nDisallow: *.gif$\n", "/img/a.gif", false},
		{"path without slash", "User-agent: *\nDisallow: x\n", "/x", false},
		{"anchored allow does not override", "User-agent: *\nDisallow: /x\nAllow: /p$\n", "/x/p", false},
		{"longest match allow", "User-agent: *\nDisallow: /x\nAllow: /x/pub\n", "/x/pub/a", true},
		{"comment after rule", "User-agent: *\nDisallow: /x # private\n", "/x/1", false},
		{"binary junk", "\x00\x01\xff\xfe:::\n\n", "/x", true},
		{"empty", "", "/x", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := robotsServer(t, 200, tt.body)
			c := NewCache(testHTTP(t, true), ua, Options{})
			d, err := c.Check(context.Background(), mustURL(t, srv.URL+tt.path))
			if err != nil || d.Allowed != tt.allowed {
				t.Fatalf("%+v %v, want allowed=%v", d, err, tt.allowed)
			}
		})
	}
}

func TestCheckRejectsNonHTTP(t *testing.T) {
	c := NewCache(testHTTP(t, true), ua, Options{})
	for _, s := range []string{"ftp://example.com/", "/relative", "mailto:a@b"} {
		if _, err := c.Check(context.Background(), mustURL(t, s)); err == nil {
			t.Errorf("%s: no error", s)
		}
	}
}

func TestSiteKey(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"http", "Example.com:80"}:    "http://example.com",
		{"https", "example.com:443"}:  "https://example.com",
		{"http", "example.com:443"}:   "http://example.com:443",
		{"https", "example.com:8443"}: "https://example.com:8443",
	} {
		if got := siteKey(in[0], in[1]); got != want {
			t.Errorf("siteKey(%q) = %q, want %q", in, got, want)
		}
	}
	if productToken(ua) != "wit" || productToken("Foo Bar") != "foo" || productToken("") != "*" {
		t.Error("productToken")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("User-agent: *\nDisallow: /x\nCrawl-delay: 1\n"))
	f.Add([]byte("Disallow: /a\nUser-agent: wit\r\nAllow: /*$\rCrawl-delay: x"))
	f.Add([]byte("User-agent: *\nDisallow: /a*b$\n"))
	c := NewCache(nil, ua, Options{})
	f.Fuzz(func(t *testing.T, body []byte) {
		e := c.parse("http://example.com", body)
		if e.group != nil {
			e.group.Test("/some/path?q=1")
		}
		if e.crawlDelay < 0 || e.crawlDelay > c.opts.MaxCrawlDelay {
			t.Fatalf("crawl delay %v", e.crawlDelay)
		}
	})
}

func benchCheck(b *testing.B, robotsTxt string) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, robotsTxt)
	}))
	defer srv.Close()
	c := NewCache(testHTTP(b, true), ua, Options{})
	u := mustURL(b, srv.URL+"/section150/public/page.html?x=1")
	if _, err := c.Check(context.Background(), u); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Check(context.Background(), u); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckCached: a large site's file, 200 prefix rules and a few wildcards.
func BenchmarkCheckCached(b *testing.B) {
	var body strings.Builder
	body.WriteString("User-agent: *\nDisallow: /*?action=edit\nDisallow: /*.php$\nAllow: /*.css$\n")
	for i := range 200 {
		fmt.Fprintf(&body, "Disallow: /section%d/private/\n", i)
	}
	benchCheck(b, body.String())
}

// BenchmarkCheckCachedWildcards: 200 wildcard rules, the worst case.
func BenchmarkCheckCachedWildcards(b *testing.B) {
	var body strings.Builder
	body.WriteString("User-agent: *\n")
	for i := range 200 {
		fmt.Fprintf(&body, "Disallow: /section%d/\nAllow: /section%d/public*.html\n", i, i)
	}
	benchCheck(b, body.String())
}
