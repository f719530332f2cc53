package httpx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// dnsCache caches resolver answers for ttl (failures that say the name does
// not exist for negTTL), holds at most maxEntries names and collapses
// concurrent lookups of one name into one query.
type dnsCache struct {
	ttl, negTTL time.Duration
	maxEntries  int
	timeout     time.Duration
	lookup      func(ctx context.Context, host string) ([]netip.Addr, error)

	mu sync.Mutex
	m  map[string]dnsEntry
	sf singleflight.Group
}

type dnsEntry struct {
	addrs   []netip.Addr
	err     error
	expires time.Time
}

func newDNSCache(ttl time.Duration, maxEntries int, timeout time.Duration) *dnsCache {
	r := &net.Resolver{}
	return &dnsCache{
		ttl:        ttl,
		negTTL:     min(ttl, 10*time.Second),
		maxEntries: maxEntries,
		timeout:    timeout,
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return r.LookupNetIP(ctx, "ip", host)
		},
		m: make(map[string]dnsEntry),
	}
}

// resolve returns host's addresses, IPv4 first (many hosts publish AAAA
// records that machines without IPv6 routes cannot reach).
func (c *dnsCache) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if name := strings.TrimSuffix(strings.ToLower(host), "."); name == "invalid" || strings.HasSuffix(name, ".invalid") {
		// RFC 6761 6.4: never resolves; no need to ask (or wait for) a resolver.
		return nil, fmt.Errorf("resolve %s: %w", host, &net.DNSError{Err: "no such host (.invalid is reserved)", Name: host, IsNotFound: true})
	}
	if c.ttl > 0 {
		c.mu.Lock()
		e, ok := c.m[host]
		c.mu.Unlock()
		if ok && time.Now().Before(e.expires) {
			return e.addrs, e.err
		}
	}
	ch := c.sf.DoChan(host, func() (any, error) {
		// The query outlives the first caller's cancellation: others may wait on it.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		addrs, err := c.lookup(lctx, host)
		if err == nil && len(addrs) == 0 {
			err = &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
		if err != nil {
			err = fmt.Errorf("resolve %s: %w", host, err)
		} else {
			for i, a := range addrs {
				addrs[i] = a.Unmap()
			}
			slices.SortStableFunc(addrs, func(a, b netip.Addr) int {
				switch {
				case a.Is4() && !b.Is4():
					return -1
				case !a.Is4() && b.Is4():
					return 1
				}
				return 0
			})
		}
		c.store(host, addrs, err)
		return addrs, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.([]netip.Addr), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *dnsCache) store(host string, addrs []netip.Addr, err error) {
	if c.ttl <= 0 {
		return
	}
	ttl := c.ttl
	if err != nil {
		var de *net.DNSError
		if !errors.As(err, &de) || !de.IsNotFound {
			return // timeouts and server failures are not cached
		}
		ttl = c.negTTL
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[host]; !ok && len(c.m) >= c.maxEntries {
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		// Still full: drop arbitrary entries (map order) down to 7/8.
		for k := range c.m {
			if len(c.m) < c.maxEntries*7/8 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[host] = dnsEntry{addrs: addrs, err: err, expires: now.Add(ttl)}
}

func (c *dnsCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
