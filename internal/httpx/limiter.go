package httpx

import (
	"context"
	"strings"
	"sync"
	"time"
)

// hostLimiter bounds concurrency per host and spaces out request starts.
// Memory stays bounded: entries of idle hosts whose delay has passed are
// swept once the map doubles, and per-host delays are capped in number.
type hostLimiter struct {
	perHost int
	delay   time.Duration

	mu        sync.Mutex
	hosts     map[string]*hostState
	delays    map[string]time.Duration // SetHostDelay values
	sweepAt   int
	maxDelays int
}

type hostState struct {
	sem   chan struct{}
	next  time.Time // earliest start of the next request; guarded by hostLimiter.mu
	users int       // holders and waiters; guarded by hostLimiter.mu
}

const (
	minSweep         = 1024
	defaultMaxDelays = 1 << 17
)

func newHostLimiter(perHost int, delay time.Duration) *hostLimiter {
	return &hostLimiter{
		perHost:   perHost,
		delay:     delay,
		hosts:     make(map[string]*hostState),
		delays:    make(map[string]time.Duration),
		sweepAt:   minSweep,
		maxDelays: defaultMaxDelays,
	}
}

// canonicalHost is the limiter key for a URL.Host or a host given by a caller.
func canonicalHost(host string) string {
	host = strings.ToLower(host)
	if strings.HasSuffix(host, ":80") {
		return host[:len(host)-3]
	}
	if strings.HasSuffix(host, ":443") {
		return host[:len(host)-4]
	}
	return host
}

func (l *hostLimiter) setDelay(host string, d time.Duration) {
	key := canonicalHost(host)
	l.mu.Lock()
	defer l.mu.Unlock()
	if d <= 0 {
		delete(l.delays, key)
		return
	}
	if _, ok := l.delays[key]; !ok && len(l.delays) >= l.maxDelays {
		// Forget one arbitrary host: the caller re-sets delays it learns
		// again (robots.txt entries expire too), and memory stays bounded.
		for k := range l.delays {
			delete(l.delays, k)
			break
		}
	}
	l.delays[key] = d
}

// delayFor returns the spacing for key: the larger of the global delay and
// the host's own. Must hold l.mu.
func (l *hostLimiter) delayFor(key string) time.Duration {
	d := l.delay
	if hd, ok := l.delays[key]; ok && hd > d {
		d = hd
	}
	return d
}

// acquire waits for a slot for host and for its start time. The returned
// release must be called exactly once.
func (l *hostLimiter) acquire(ctx context.Context, host string) (release func(), err error) {
	key := canonicalHost(host)
	l.mu.Lock()
	h := l.hosts[key]
	if h == nil {
		if len(l.hosts) >= l.sweepAt {
			l.sweepLocked(time.Now())
		}
		h = &hostState{sem: make(chan struct{}, l.perHost)}
		l.hosts[key] = h
	}
	h.users++
	l.mu.Unlock()

	select {
	case h.sem <- struct{}{}:
	default:
		select {
		case h.sem <- struct{}{}:
		case <-ctx.Done():
			l.leave(h)
			return nil, ctx.Err()
		}
	}

	l.mu.Lock()
	d := l.delayFor(key)
	var wait time.Duration
	if d > 0 {
		now := time.Now()
		start := now
		if h.next.After(now) {
			start = h.next
		}
		h.next = start.Add(d)
		wait = start.Sub(now)
	}
	l.mu.Unlock()

	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			<-h.sem
			l.leave(h)
			return nil, ctx.Err()
		}
	}
	return func() {
		<-h.sem
		l.leave(h)
	}, nil
}

func (l *hostLimiter) leave(h *hostState) {
	l.mu.Lock()
	h.users--
	l.mu.Unlock()
}

// sweepLocked drops hosts nobody uses whose next start time has passed:
// recreating them later gives the same behaviour. Must hold l.mu.
func (l *hostLimiter) sweepLocked(now time.Time) {
	for k, h := range l.hosts {
		if h.users == 0 && !h.next.After(now) {
			delete(l.hosts, k)
		}
	}
	l.sweepAt = max(minSweep, 2*len(l.hosts))
}

func (l *hostLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.hosts)
}
