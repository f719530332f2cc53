package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/witdata/wit/internal/netguard"
)

// DefaultUserAgent names the crawler and where to find out about it.
const DefaultUserAgent = "wit/0.1 (+https://github.com/witdata/wit)"

// DefaultMaxBodyBytes is the body limit when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 16 << 20

var (
	// ErrTooManyRedirects is wrapped when a redirect chain is longer than MaxRedirects.
	ErrTooManyRedirects = errors.New("too many redirects")
	// ErrBodyTooLarge is wrapped when a body is longer than the limit.
	ErrBodyTooLarge = errors.New("response body too large")
	// ErrBadRedirect is wrapped when a redirect points to a non-http(s) URL.
	ErrBadRedirect = errors.New("redirect to a non-http(s) URL")
	// ErrNoResponse is wrapped when the last attempt got no response headers within Timeout (a
	// host that accepts connections and stays silent, or drops them), after the retries.
	ErrNoResponse = errors.New("no response")
)

// Options configures a Client. Start from DefaultOptions: zero values of
// UserAgent, Timeout, MaxBodyBytes, MaxRedirects, BackoffBase, BackoffMax,
// MaxRetryAfter, PerHost and DNSCacheTTL mean the default, while Retries and
// Delay take 0 literally. MaxRedirects < 0 refuses every redirect, and
// DNSCacheTTL < 0 turns the DNS cache off.
type Options struct {
	UserAgent     string        // sent when the request has none
	Timeout       time.Duration // per attempt: dial, headers and the whole body
	MaxBodyBytes  int64         // reading more fails with ErrBodyTooLarge
	MaxRedirects  int           // longer chains fail with ErrTooManyRedirects
	Retries       int           // extra attempts for GET/HEAD after a retryable failure
	BackoffBase   time.Duration // first backoff; doubles per retry, jittered
	BackoffMax    time.Duration // backoff cap
	MaxRetryAfter time.Duration // a longer Retry-After returns the response instead of waiting
	PerHost       int           // requests in flight per host
	Delay         time.Duration // minimum time between request starts to one host
	AllowPrivate  bool          // disables the SSRF guard (tests, intranets)
	// AllowAddrs lets the guard pass these destinations only: "ip:port", "ip" or a CIDR
	// prefix (an intranet mirror, a test server), while every other private address stays
	// refused.
	AllowAddrs []string
	// ShareLimits, when set, makes this client use that client's per-host limiter (concurrency,
	// delay, Crawl-delay overrides) and DNS cache, so two stages with different request options
	// (the crawler and the image downloader of wit build) stay within one politeness budget.
	ShareLimits *Client
	DNSCacheTTL time.Duration // how long resolved addresses are reused
}

// DefaultOptions returns polite defaults for crawling.
func DefaultOptions() Options {
	return Options{
		UserAgent:     DefaultUserAgent,
		Timeout:       10 * time.Second,
		MaxBodyBytes:  DefaultMaxBodyBytes,
		MaxRedirects:  5,
		Retries:       3,
		BackoffBase:   500 * time.Millisecond,
		BackoffMax:    30 * time.Second,
		MaxRetryAfter: 60 * time.Second,
		PerHost:       2,
		Delay:         250 * time.Millisecond,
		DNSCacheTTL:   2 * time.Minute,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.UserAgent == "" {
		o.UserAgent = d.UserAgent
	}
	if o.Timeout <= 0 {
		o.Timeout = d.Timeout
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = d.MaxBodyBytes
	}
	if o.MaxRedirects == 0 {
		o.MaxRedirects = d.MaxRedirects
	} else if o.MaxRedirects < 0 {
		o.MaxRedirects = 0
	}
	o.Retries = max(o.Retries, 0)
	if o.BackoffBase <= 0 {
		o.BackoffBase = d.BackoffBase
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = d.BackoffMax
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = d.MaxRetryAfter
	}
	if o.PerHost <= 0 {
		o.PerHost = d.PerHost
	}
	o.Delay = max(o.Delay, 0)
	if o.DNSCacheTTL == 0 {
		o.DNSCacheTTL = d.DNSCacheTTL
	}
	return o
}

// Client is an HTTP client for fetching from untrusted hosts; see the package
// documentation. It is safe for concurrent use.
type Client struct {
	// HTTP sends every request through the limiter, retries and SSRF guard.
	HTTP *http.Client

	opts      Options
	limiter   *hostLimiter
	dns       *dnsCache
	transport *http.Transport
	rt        *roundTripper
	dialer    net.Dialer
	// guard judges each dial address; nil when AllowPrivate. A field so tests
	// can block one loopback port and allow another.
	guard func(address string) error
}

// NewClient builds a Client from opts (see Options for defaults).
func NewClient(opts Options) *Client {
	opts = opts.withDefaults()
	c := &Client{
		opts:    opts,
		limiter: newHostLimiter(opts.PerHost, opts.Delay),
		dns:     newDNSCache(opts.DNSCacheTTL, 10000, opts.Timeout),
	}
	if opts.ShareLimits != nil {
		c.limiter, c.dns = opts.ShareLimits.limiter, opts.ShareLimits.dns
	}
	if !opts.AllowPrivate {
		c.guard = netguard.CheckAddress
		if len(opts.AllowAddrs) > 0 {
			allow := netguard.NewAllowList(opts.AllowAddrs)
			c.guard = func(address string) error {
				if allow.Allows(address) {
					return nil
				}
				return netguard.CheckAddress(address)
			}
		}
	}
	c.dialer = net.Dialer{
		Timeout:   opts.Timeout,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			if c.guard == nil {
				return nil
			}
			return c.guard(address)
		},
	}
	c.transport = &http.Transport{
		Proxy:                 nil,
		DialContext:           c.dialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   max(opts.PerHost, 2),
		IdleConnTimeout:       30 * time.Second,
		TLSHandshakeTimeout:   opts.Timeout,
		ResponseHeaderTimeout: opts.Timeout,
		ExpectContinueTimeout: time.Second,
	}
	c.rt = &roundTripper{c: c, base: c.transport}
	c.HTTP = &http.Client{Transport: c.rt, CheckRedirect: c.checkRedirect}
	return c
}

// Options returns the options in effect (defaults filled in).
func (c *Client) Options() Options { return c.opts }

// Transport returns the RoundTripper with limiter, retries and guard, for
// libraries that build their own http.Client.
func (c *Client) Transport() http.RoundTripper { return c.rt }

// SetHostDelay sets the minimum time between request starts to host (a
// URL.Host, port optional), e.g. from robots.txt Crawl-delay. The larger of
// it and Options.Delay applies, so it can slow a host down but never speed it
// up past the global politeness setting. d <= 0 removes it. The caller caps d.
func (c *Client) SetHostDelay(host string, d time.Duration) { c.limiter.setDelay(host, d) }

// CloseIdleConnections closes pooled keep-alive connections.
func (c *Client) CloseIdleConnections() { c.transport.CloseIdleConnections() }

// Get fetches rawURL with ctx.
func (c *Client) Get(ctx context.Context, rawURL string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", rawURL, err)
	}
	return c.HTTP.Do(req)
}

// ReadBody reads and closes resp's body with the client's MaxBodyBytes.
func (c *Client) ReadBody(resp *http.Response) ([]byte, error) {
	return ReadBody(resp, c.opts.MaxBodyBytes)
}

func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > c.opts.MaxRedirects {
		return fmt.Errorf("httpx: %s: more than %d redirects: %w", via[0].URL, c.opts.MaxRedirects, ErrTooManyRedirects)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("httpx: %s redirects to %s: %w", via[len(via)-1].URL, req.URL, ErrBadRedirect)
	}
	return nil
}

// dialContext resolves through the DNS cache and dials the IPs in turn. The
// guard runs in the dialer's Control hook on the address actually dialled.
func (c *Client) dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	if _, err := netip.ParseAddr(host); err == nil || c.opts.DNSCacheTTL < 0 {
		return c.dialer.DialContext(ctx, network, address)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("dial %s: bad port: %w", address, err)
	}
	addrs, err := c.dns.resolve(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	var firstErr error
	for _, ip := range addrs {
		if network == "tcp4" && !ip.Is4() || network == "tcp6" && !ip.Is6() {
			continue
		}
		target := netip.AddrPortFrom(ip, uint16(port)).String()
		if c.guard != nil {
			// Skip blocked answers without a syscall; Control re-checks anyway.
			if err := c.guard(target); err != nil {
				firstErr = cmpErr(firstErr, err)
				continue
			}
		}
		conn, err := c.dialer.DialContext(ctx, network, target)
		if err == nil {
			return conn, nil
		}
		firstErr = cmpErr(firstErr, err)
		if ctx.Err() != nil {
			break
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("no %s address", network)
	}
	return nil, fmt.Errorf("dial %s (%s): %w", address, host, firstErr)
}

func cmpErr(first, err error) error {
	if first == nil {
		return err
	}
	return first
}

// roundTripper adds the limiter, User-Agent, attempt deadline and retries.
type roundTripper struct {
	c    *Client
	base http.RoundTripper
}

func (t *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	o := &t.c.opts
	ctx := req.Context()
	retryable := (req.Method == http.MethodGet || req.Method == http.MethodHead || req.Method == "") &&
		(req.Body == nil || req.Body == http.NoBody || req.GetBody != nil)
	for attempt := 0; ; attempt++ {
		release, err := t.c.limiter.acquire(ctx, req.URL.Host)
		if err != nil {
			return nil, fmt.Errorf("httpx: waiting for a slot for %s: %w", req.URL.Host, err)
		}
		actx, cancel := context.WithTimeout(ctx, o.Timeout)
		done := sync.OnceFunc(func() { cancel(); release() })
		// The slot also goes when the deadline passes, so a body nobody
		// closes cannot hold a host forever.
		stop := context.AfterFunc(actx, done)

		r := req.Clone(actx)
		if attempt > 0 && req.GetBody != nil {
			if r.Body, err = req.GetBody(); err != nil {
				stop()
				done()
				return nil, err
			}
		}
		if r.Header.Get("User-Agent") == "" {
			r.Header.Set("User-Agent", o.UserAgent)
		}
		resp, err := t.base.RoundTrip(r)
		if err != nil {
			stop()
			done()
			if retryable && attempt < o.Retries && ctx.Err() == nil && isRetryableError(err) {
				if serr := sleep(ctx, t.backoff(attempt)); serr != nil {
					return nil, err
				}
				continue
			}
			// Dial, TLS handshake or headers did not complete in time (the attempt's deadline or
			// the transport's own timeouts, whichever fired first).
			var ne net.Error
			if ctx.Err() == nil && (actx.Err() == context.DeadlineExceeded || errors.As(err, &ne) && ne.Timeout()) {
				return nil, fmt.Errorf("httpx: %w within %s: %w", ErrNoResponse, o.Timeout, err)
			}
			return nil, err
		}
		if retryable && attempt < o.Retries && isRetryableStatus(resp.StatusCode) {
			if wait, ok := t.retryWait(resp, attempt); ok {
				// Drain a little so the connection can be reused.
				_, _ = io.CopyN(io.Discard, resp.Body, 16<<10)
				resp.Body.Close()
				stop()
				done()
				if err := sleep(ctx, wait); err != nil {
					return nil, fmt.Errorf("httpx: waiting to retry %s: %w", req.URL, err)
				}
				continue
			}
		}
		size := resp.ContentLength
		if req.Method == http.MethodHead {
			size = -1 // HEAD announces a length but has no body
		}
		resp.Body = &body{rc: resp.Body, max: o.MaxBodyBytes, size: size,
			ctx: actx, stop: stop, done: done, timeout: o.Timeout, url: req.URL.Redacted()}
		return resp, nil
	}
}

func isRetryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusRequestTimeout, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func isRetryableError(err error) bool {
	if errors.Is(err, netguard.ErrBlocked) || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.IsTimeout || de.IsTemporary
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// retryWait returns how long to wait before retrying resp, and false when
// the server asks for longer than MaxRetryAfter.
func (t *roundTripper) retryWait(resp *http.Response, attempt int) (time.Duration, bool) {
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		if d > t.c.opts.MaxRetryAfter {
			return 0, false
		}
		return d, true
	}
	return t.backoff(attempt), true
}

// parseRetryAfter reads delay-seconds or an HTTP-date (RFC 9110 10.2.3).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// backoff is BackoffBase·2^attempt capped at BackoffMax, with "equal jitter":
// a random wait in [d/2, d) so that clients that failed together spread out.
func (t *roundTripper) backoff(attempt int) time.Duration {
	d := t.c.opts.BackoffBase
	for i := 0; i < attempt && d < t.c.opts.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, t.c.opts.BackoffMax)
	return d/2 + randDuration(d/2)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
