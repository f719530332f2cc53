package httpx

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/witdata/wit/internal/procstat"
)

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(procstat.CPUTime()-start)/float64(b.N)/1e3, "cpu-µs/op")
}

// A small HTML page, the crawler's typical response.
var benchPage = "<html><body>" + strings.Repeat("<p>text <a href=/x>link</a> <img src=/i.jpg alt=cat></p>", 100) + "</body></html>"

func benchServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, benchPage)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func plainGet(b *testing.B, c *http.Client, u string) {
	resp, err := c.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
}

// BenchmarkGetPlain is the baseline for BenchmarkGetClient: the same
// requests through a bare http.Client.
func BenchmarkGetPlain(b *testing.B) {
	srv := benchServer(b)
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
	b.ReportAllocs()
	start := procstat.CPUTime()
	for b.Loop() {
		plainGet(b, c, srv.URL)
	}
	reportCPU(b, start)
}

func BenchmarkGetClient(b *testing.B) {
	srv := benchServer(b)
	c := testClient(b, nil)
	b.ReportAllocs()
	start := procstat.CPUTime()
	for b.Loop() {
		resp, err := c.Get(context.Background(), srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.ReadBody(resp); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// Parallel variants: 8 goroutines, PerHost 8, as a crawler with a few hosts.
func BenchmarkGetPlainParallel(b *testing.B) {
	srv := benchServer(b)
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	b.SetParallelism(4)
	b.ReportAllocs()
	start := procstat.CPUTime()
	defer reportCPU(b, start)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			plainGet(b, c, srv.URL)
		}
	})
}

func BenchmarkGetClientParallel(b *testing.B) {
	srv := benchServer(b)
	c := testClient(b, func(o *Options) { o.PerHost = 8 })
	b.SetParallelism(4)
	b.ReportAllocs()
	start := procstat.CPUTime()
	defer reportCPU(b, start)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Get(context.Background(), srv.URL)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.ReadBody(resp); err != nil {
				b.Fatal(err)
			}
		}
	})
}
