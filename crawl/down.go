package crawl

import (
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"
)

// downHosts remembers hosts that gave no answer at all — the name did not resolve, the
// connection was refused, or no response headers came within the timeout, after httpx's retries —
// so that their other pages fail at once with the same reason instead of each waiting out its
// own timeouts (a site linking to a dead host must not hold the crawl's end). robots.txt
// answers are remembered the same way by the robots cache. An entry lasts RobotsRetryDelay; the
// next page after that tries the host again.
type downHosts struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]downHost
}

type downHost struct {
	reason string
	until  time.Time
}

// maxDownHosts bounds the memory; a crawl meeting more dead hosts than this forgets some.
const maxDownHosts = 10_000

func newDownHosts(ttl time.Duration) *downHosts {
	return &downHosts{ttl: ttl, m: map[string]downHost{}}
}

// reason returns why host is down, or "" when it is not known to be.
func (d *downHosts) reason(host string, now time.Time) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[host]
	if !ok {
		return ""
	}
	if !now.Before(e.until) {
		delete(d.m, host)
		return ""
	}
	return e.reason
}

func (d *downHosts) mark(host, reason string, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.m) >= maxDownHosts {
		for h, e := range d.m {
			if !now.Before(e.until) || len(d.m) >= maxDownHosts {
				delete(d.m, h)
			}
		}
	}
	d.m[host] = downHost{reason: reason, until: now.Add(d.ttl)}
}

// unreachable reports whether a page failure with this reason, without response headers, means
// its host is not answering at all.
func unreachable(reason string) bool {
	return reason == ReasonDNS || reason == ReasonRefused || reason == ReasonTimeout
}

// failedHost returns the host of the request that failed (a redirect target, perhaps) from a
// fetch error, or "" when the error does not say.
func failedHost(err error) string {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return ""
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}
