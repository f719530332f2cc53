package crawl

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"
)

// hostHealth keeps one dead host from costing every one of its pages a timeout. The first page
// of a host is its probe: the host's other pages wait for it. If the probe gets no answer at all —
// the name does not resolve, the connection is refused, no response headers within the timeout
// after httpx's retries — the host is down: the waiting pages, and every page of it for the next
// ttl (RobotsRetryDelay), fail at once with the probe's reason. Any answer (an HTTP status,
// robots.txt or not) makes the host alive, and its pages go straight on; an alive host that stops
// answering is marked down by the page that finds out. After ttl, the next page probes again.
// (With robots.txt obeyed, the robots cache gives the same answer for the same reason first.)
type hostHealth struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]*hostState
}

type hostState struct {
	probing chan struct{} // closed when the probe in flight ends; nil when none is
	reason  string        // down: why (until until)
	until   time.Time
}

// maxHostStates bounds the memory: beyond it, states of hosts that are up or whose down time is
// over are forgotten (they are probed again).
const maxHostStates = 50_000

func newHostHealth(ttl time.Duration) *hostHealth {
	return &hostHealth{ttl: ttl, m: map[string]*hostState{}}
}

// admit decides about one page of host. reason is non-empty when the host is down (fail the
// page with it). Otherwise, when done is not nil this page is the host's probe and must call
// done with its outcome: "" for any answer, else the reason the host is unreachable. err is
// ctx's error when it ended while waiting for another page's probe.
func (h *hostHealth) admit(ctx context.Context, host string) (reason string, done func(reason string), err error) {
	for {
		h.mu.Lock()
		st := h.m[host]
		now := time.Now()
		if st == nil || (st.reason != "" && !now.Before(st.until)) {
			if st == nil && len(h.m) >= maxHostStates {
				h.forget(now)
			}
			st = &hostState{probing: make(chan struct{})}
			h.m[host] = st
			h.mu.Unlock()
			return "", func(reason string) { h.probed(st, reason) }, nil
		}
		if st.reason != "" {
			h.mu.Unlock()
			return st.reason, nil, nil
		}
		wait := st.probing
		h.mu.Unlock()
		if wait == nil {
			return "", nil, nil // up
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return "", nil, ctx.Err()
		}
	}
}

func (h *hostHealth) probed(st *hostState, reason string) {
	h.mu.Lock()
	if reason != "" {
		st.reason, st.until = reason, time.Now().Add(h.ttl)
	}
	ch := st.probing
	st.probing = nil
	h.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// markDown records that host, up until now, stopped answering.
func (h *hostHealth) markDown(host, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.m[host]
	if st == nil {
		st = &hostState{}
		h.m[host] = st
	}
	if st.probing == nil {
		st.reason, st.until = reason, time.Now().Add(h.ttl)
	}
}

// forget drops states nothing waits on and nothing keeps down. h.mu is held.
func (h *hostHealth) forget(now time.Time) {
	for host, st := range h.m {
		if st.probing == nil && (st.reason == "" || !now.Before(st.until)) {
			delete(h.m, host)
		}
	}
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
