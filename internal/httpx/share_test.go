package httpx

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Two clients with different request options but ShareLimits keep one per-host budget.
func TestShareLimitsAcrossClients(t *testing.T) {
	var inFlight, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		inFlight.Add(-1)
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	pages := NewClient(Options{AllowPrivate: true, PerHost: 2, MaxBodyBytes: 1 << 20})
	images := NewClient(Options{AllowPrivate: true, PerHost: 2, MaxBodyBytes: 8 << 20, ShareLimits: pages})
	var wg sync.WaitGroup
	for i := range 12 {
		c := pages
		if i%2 == 1 {
			c = images
		}
		wg.Go(func() {
			resp, err := c.Get(context.Background(), srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 2 {
		t.Fatalf("peak concurrency over both clients = %d, want <= 2", p)
	}
	if p := peak.Load(); p < 2 {
		t.Logf("peak %d (machine slow?)", p)
	}
}
