package httpx

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"
)

// Two clients with different request options but ShareLimits keep one per-host budget.
func TestShareLimitsAcrossClients(t *testing.T) {
	srv, peak := peakServer(t, 20*time.Millisecond)

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
