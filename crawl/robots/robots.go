package robots

import (
	"bufio"
	"bytes"
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/temoto/robotstxt"
	"golang.org/x/sync/singleflight"

	"github.com/witdata/wit/internal/httpx"
	"github.com/witdata/wit/internal/netguard"
)

// ErrRetryLater means the site answered that robots.txt is unavailable for
// now (429, 5xx): the URL is neither allowed nor refused yet; re-queue it.
var ErrRetryLater = errors.New("robots.txt unavailable, retry later")

// ErrUnreachable means the site did not answer at all (the name does not
// resolve, the connection is refused, no response headers within the
// client's timeout after its retries, TLS failure): its pages cannot be
// fetched either, so they fail with the wrapped cause instead of waiting
// for robots.txt. The answer is cached for RetryTTL.
var ErrUnreachable = errors.New("site unreachable")

// Options configures a Cache. Zero values mean the defaults.
type Options struct {
	TTL           time.Duration // how long a fetched robots.txt is used (default 24h)
	MaxCrawlDelay time.Duration // Crawl-delay cap (default 30s)
	MaxEntries    int           // sites kept, least recently used evicted (default 100000)
	RetryTTL      time.Duration // how long a failure is cached (default 1m)
	MaxBytes      int64         // bytes of robots.txt parsed (default 500 KiB)
	FetchTimeout  time.Duration // bound on one fetch, retries included (default 2m)
}

// Decision is the answer for one URL.
type Decision struct {
	Allowed    bool
	CrawlDelay time.Duration // 0 when the site sets none; capped at MaxCrawlDelay
}

// Cache fetches and caches robots.txt per site. Safe for concurrent use.
type Cache struct {
	client    *http.Client
	userAgent string
	token     string
	opts      Options
	now       func() time.Time

	mu      sync.Mutex
	lru     *list.List // of *entry, most recent first
	entries map[string]*list.Element
	flight  singleflight.Group
}

type entry struct {
	key        string
	group      *robotstxt.Group // nil: allow all
	crawlDelay time.Duration
	err        error // non-nil: the answer is this error
	expires    time.Time
}

// NewCache returns a Cache that fetches through client (nil:
// http.DefaultClient) and identifies as userAgent.
func NewCache(client *http.Client, userAgent string, opts Options) *Cache {
	if client == nil {
		client = http.DefaultClient
	}
	if opts.TTL <= 0 {
		opts.TTL = 24 * time.Hour
	}
	if opts.MaxCrawlDelay <= 0 {
		opts.MaxCrawlDelay = 30 * time.Second
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 100_000
	}
	if opts.RetryTTL <= 0 {
		opts.RetryTTL = time.Minute
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 500 << 10
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 2 * time.Minute
	}
	return &Cache{
		client:    client,
		userAgent: userAgent,
		token:     productToken(userAgent),
		opts:      opts,
		now:       time.Now,
		lru:       list.New(),
		entries:   make(map[string]*list.Element),
	}
}

// productToken is the name robots.txt groups are matched against:
// "wit/0.1 (+https://…)" → "wit".
func productToken(ua string) string {
	ua = strings.TrimSpace(ua)
	if i := strings.IndexAny(ua, "/ ("); i >= 0 {
		ua = ua[:i]
	}
	if ua == "" {
		return "*"
	}
	return strings.ToLower(ua)
}

// Check reports whether u may be fetched. Errors: ErrRetryLater (wrapped)
// when robots.txt is temporarily unavailable, netguard.ErrBlocked when the
// site may not be dialled, the context's error, or an error for a URL
// without http(s) scheme and host.
func (c *Cache) Check(ctx context.Context, u *url.URL) (Decision, error) {
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "http" && scheme != "https") || u.Host == "" {
		return Decision{}, fmt.Errorf("robots: %s: not an http(s) URL with a host", u.Redacted())
	}
	e, err := c.lookup(ctx, siteKey(scheme, u.Host))
	if err != nil {
		return Decision{}, err
	}
	if e.err != nil {
		return Decision{}, e.err
	}
	if e.group == nil {
		return Decision{Allowed: true, CrawlDelay: e.crawlDelay}, nil
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	return Decision{Allowed: path == "/robots.txt" || e.group.Test(anchor+path), CrawlDelay: e.crawlDelay}, nil
}

// siteKey is scheme://host[:port] with the default port dropped.
func siteKey(scheme, host string) string {
	host = strings.ToLower(host)
	if scheme == "http" {
		host = strings.TrimSuffix(host, ":80")
	} else {
		host = strings.TrimSuffix(host, ":443")
	}
	return scheme + "://" + host
}

// Len returns the number of cached sites.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func (c *Cache) lookup(ctx context.Context, key string) (*entry, error) {
	now := c.now()
	c.mu.Lock()
	var stale *entry
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*entry)
		if now.Before(e.expires) {
			c.lru.MoveToFront(el)
			c.mu.Unlock()
			return e, nil
		}
		if e.err == nil {
			stale = e
		}
	}
	c.mu.Unlock()

	ch := c.flight.DoChan(key, func() (any, error) {
		// Detached from the first caller: others may be waiting on this fetch.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.FetchTimeout)
		defer cancel()
		e := c.fetch(fctx, key)
		if stale != nil && (errors.Is(e.err, ErrRetryLater) || errors.Is(e.err, ErrUnreachable)) {
			slog.Debug("robots.txt refresh failed, keeping the old copy", "site", key, "err", e.err)
			kept := *stale
			kept.expires = c.now().Add(c.opts.RetryTTL)
			e = &kept
		}
		c.store(e)
		return e, nil
	})
	select {
	case r := <-ch:
		return r.Val.(*entry), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("robots: waiting for %s/robots.txt: %w", key, ctx.Err())
	}
}

func (c *Cache) store(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[e.key]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.entries[e.key] = c.lru.PushFront(e)
	for c.lru.Len() > c.opts.MaxEntries {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.entries, old.Value.(*entry).key)
	}
}

// fetch gets and interprets key's robots.txt; it always returns an entry.
func (c *Cache) fetch(ctx context.Context, key string) *entry {
	robotsURL := key + "/robots.txt"
	now := c.now()
	allowAll := &entry{key: key, expires: now.Add(c.opts.TTL)}
	retryLater := func(why error) *entry {
		return &entry{key: key, expires: now.Add(c.opts.RetryTTL),
			err: fmt.Errorf("robots: %s: %w: %w", robotsURL, ErrRetryLater, why)}
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, robotsURL, nil)
	if err != nil {
		return &entry{key: key, expires: now.Add(c.opts.RetryTTL), err: fmt.Errorf("robots: %s: %w", robotsURL, err)}
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, httpx.ErrTooManyRedirects), errors.Is(err, httpx.ErrBadRedirect):
			// RFC 9309 2.3.1.2: after too many redirects, treat as unavailable (4xx).
			return allowAll
		case errors.Is(err, netguard.ErrBlocked):
			return &entry{key: key, expires: now.Add(c.opts.RetryTTL), err: fmt.Errorf("robots: %s: %w", robotsURL, err)}
		}
		// No HTTP answer: the client has retried what is worth retrying.
		return &entry{key: key, expires: now.Add(c.opts.RetryTTL),
			err: fmt.Errorf("robots: %s: %w: %w", robotsURL, ErrUnreachable, err)}
	}
	defer resp.Body.Close()

	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		// The first MaxBytes, whatever the length (RFC 9309 2.5: at least 500 KiB are
		// parsed; Google stops there): a long file is cut, not refused.
		body, err := httpx.ReadPrefix(resp, c.opts.MaxBytes)
		if err != nil {
			return retryLater(err)
		}
		e := c.parse(key, body)
		e.expires = now.Add(c.opts.TTL)
		return e
	case code == http.StatusTooManyRequests || code >= 500:
		return retryLater(fmt.Errorf("HTTP %d", code))
	default:
		// 4xx (401 and 403 too, as Google does), and 3xx the client did not follow.
		return allowAll
	}
}

func (c *Cache) parse(key string, body []byte) *entry {
	data, err := robotstxt.FromBytes(rewrite(body))
	if err != nil {
		slog.Warn("robots.txt unparsable, allowing all", "site", key, "err", err)
		return &entry{key: key}
	}
	g := data.FindGroup(c.token)
	return &entry{key: key, group: g, crawlDelay: min(max(g.CrawlDelay, 0), c.opts.MaxCrawlDelay)}
}

// anchor starts every rule and every tested path. robotstxt compiles
// wildcard rules into regexps without a start anchor, so "Disallow: /a*b"
// would also match "/x/a/b" (RFC 9309 matches from the start of the path);
// a byte that cannot occur in an escaped URL path, at the front of both,
// can only match at position 0. Plain prefix rules are unaffected, and every
// rule grows by the same length, so longest-match precedence is unchanged.
const anchor = "/\x01"

// rewrite prepares body for robotstxt.FromBytes: it anchors rules (see
// anchor) and drops the lines the parser rejects the whole file over — rules
// and Crawl-delay before the first User-agent, unparsable Crawl-delay values.
func rewrite(body []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(body) + len(body)/8)
	sawAgent := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), len(body)+1)
	sc.Split(scanLinesCR)
	for sc.Scan() {
		line := sc.Bytes()
		content := line
		if i := bytes.IndexByte(content, '#'); i >= 0 {
			content = content[:i]
		}
		field, value, ok := bytes.Cut(content, []byte(":"))
		if ok {
			field := strings.ToLower(strings.TrimSpace(string(field)))
			value := strings.TrimSpace(string(value))
			switch field {
			case "user-agent", "useragent":
				sawAgent = true
			case "allow", "disallow":
				if !sawAgent {
					continue
				}
				if value != "" {
					if !strings.HasPrefix(value, "/") && !strings.HasPrefix(value, "*") {
						value = "/" + value
					}
					out.WriteString(field + ": " + anchor + value + "\n")
					continue
				}
			case "crawl-delay", "crawldelay":
				f, err := strconv.ParseFloat(value, 64)
				if !sawAgent || err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
					continue
				}
			}
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// scanLinesCR splits on \n, \r\n and a lone \r (old Mac files).
func scanLinesCR(data []byte, atEOF bool) (int, []byte, error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		if data[i] == '\r' {
			if i+1 < len(data) {
				if data[i+1] == '\n' {
					return i + 2, data[:i], nil
				}
				return i + 1, data[:i], nil
			}
			if !atEOF {
				return 0, nil, nil // need more data to see a following \n
			}
		}
		return i + 1, data[:i], nil
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}
