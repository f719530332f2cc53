package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/witdata/wit/internal/netguard"
)

func TestLimiterEvictsIdleHosts(t *testing.T) {
	l := newHostLimiter(2, 0)
	for i := 0; i < 100_000; i++ {
		release, err := l.acquire(context.Background(), fmt.Sprintf("host%d.example", i))
		if err != nil {
			t.Fatal(err)
		}
		release()
	}
	if n := l.size(); n > 2*minSweep {
		t.Fatalf("%d host entries kept for idle hosts", n)
	}
	// A host in use is never evicted: its slot count must survive sweeps.
	hold, _ := l.acquire(context.Background(), "busy.example")
	hold2, _ := l.acquire(context.Background(), "busy.example")
	for i := 0; i < 10_000; i++ {
		r, _ := l.acquire(context.Background(), fmt.Sprintf("other%d.example", i))
		r()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.acquire(ctx, "BUSY.example:443"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third slot for a busy host (PerHost 2): %v", err)
	}
	hold()
	hold2()
}

func TestLimiterHostDelaysBounded(t *testing.T) {
	l := newHostLimiter(1, 0)
	l.maxDelays = 100
	for i := 0; i < 1000; i++ {
		l.setDelay(fmt.Sprintf("h%d", i), time.Second)
	}
	if len(l.delays) > 100 {
		t.Fatalf("%d delays kept", len(l.delays))
	}
	l.setDelay("a.example:80", time.Second)
	l.mu.Lock()
	d := l.delayFor("a.example")
	l.mu.Unlock()
	if d != time.Second {
		t.Fatalf("delay for canonical host %v", d)
	}
	l.setDelay("a.example", 0)
	if _, ok := l.delays["a.example"]; ok {
		t.Fatal("delay not removed")
	}
}

func TestDNSCache(t *testing.T) {
	var calls atomic.Int32
	c := newDNSCache(400*time.Millisecond, 8, time.Second)
	c.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
		calls.Add(1)
		if host == "a.example" {
			time.Sleep(20 * time.Millisecond) // let concurrent resolves pile up
		}
		if host == "missing.example" {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		if host == "flaky.example" {
			return nil, &net.DNSError{Err: "timeout", Name: host, IsTimeout: true}
		}
		return []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("::ffff:192.0.2.1")}, nil
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Go(func() {
			addrs, err := c.resolve(ctx, "a.example")
			if err != nil || len(addrs) != 2 || addrs[0] != netip.MustParseAddr("192.0.2.1") {
				t.Errorf("resolve: %v %v (want IPv4 first, unmapped)", addrs, err)
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d lookups for 20 concurrent resolves", n)
	}
	c.resolve(ctx, "a.example")
	if calls.Load() != 1 {
		t.Fatal("cache miss within TTL")
	}
	time.Sleep(450 * time.Millisecond)
	c.resolve(ctx, "a.example")
	if calls.Load() != 2 {
		t.Fatal("entry not expired after TTL")
	}

	calls.Store(0)
	for range 2 {
		if _, err := c.resolve(ctx, "missing.example"); err == nil {
			t.Fatal("missing host resolved")
		}
	}
	if calls.Load() != 1 {
		t.Errorf("not-found not cached: %d lookups", calls.Load())
	}
	calls.Store(0)
	for range 2 {
		c.resolve(ctx, "flaky.example")
	}
	if calls.Load() != 2 {
		t.Errorf("timeout cached: %d lookups", calls.Load())
	}

	// RFC 6761's .invalid never resolves: answered without a query (no resolver wait).
	calls.Store(0)
	for _, name := range []string{"dead.invalid", "A.B.INVALID.", "invalid"} {
		_, err := c.resolve(ctx, name)
		var de *net.DNSError
		if !errors.As(err, &de) || !de.IsNotFound {
			t.Errorf("%s: %v, want a not-found DNSError", name, err)
		}
	}
	if _, err := c.resolve(ctx, "invalid.example"); err != nil || calls.Load() != 1 {
		t.Errorf("invalid.example is an ordinary name: %v, %d lookups", err, calls.Load())
	}

	for i := 0; i < 100; i++ {
		c.resolve(ctx, fmt.Sprintf("h%d.example", i))
	}
	if n := c.size(); n > 8 {
		t.Fatalf("cache holds %d entries, max 8", n)
	}
}

// TestTLSThroughDNSCache: a name resolved by the cache is dialled by IP, yet
// TLS still verifies the certificate for the name (SNI) and Host stays the name.
func TestTLSThroughDNSCache(t *testing.T) {
	gotHost := make(chan string, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHost <- r.Host + " " + r.TLS.ServerName
		io.WriteString(w, "secure")
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	c := testClient(t, nil)
	var lookups atomic.Int32
	c.dns.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
		lookups.Add(1)
		if host != "example.com" { // a name in httptest's certificate
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	c.transport.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()

	for range 3 {
		c.CloseIdleConnections() // force a fresh dial each time
		_, b, err := get(t, c, "https://example.com:"+port+"/")
		if err != nil || string(b) != "secure" {
			t.Fatalf("%q %v", b, err)
		}
		if got := <-gotHost; got != "example.com:"+port+" example.com" {
			t.Fatalf("Host and SNI %q", got)
		}
	}
	if lookups.Load() != 1 {
		t.Errorf("%d lookups for 3 dials within TTL", lookups.Load())
	}
	// A name that resolves to an address the guard refuses.
	c.guard = func(address string) error { return fmt.Errorf("test: %s: %w", address, netguard.ErrBlocked) }
	c.CloseIdleConnections()
	if _, err := c.Get(context.Background(), "https://example.com:"+port+"/"); !errors.Is(err, netguard.ErrBlocked) {
		t.Fatalf("guard on resolved address: %v", err)
	}
}
