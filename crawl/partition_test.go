package crawl

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/witdata/wit/shards"
)

func TestPartitionOf(t *testing.T) {
	tests := []struct{ a, b string }{
		{"www.example.co.uk", "example.co.uk"},
		{"cdn.example.org:8443", "example.org"},
		{"a.b.example.com", "www.example.com"},
	}
	for _, tt := range tests {
		for _, n := range []int{1, 7, 64} {
			if pa, pb := PartitionOf(tt.a, n), PartitionOf(tt.b, n); pa != pb || pa < 0 || pa >= n {
				t.Errorf("PartitionOf(%q, %d) = %d, PartitionOf(%q) = %d: one site, one partition", tt.a, n, pa, tt.b, pb)
			}
		}
	}
	seen := map[int]bool{}
	for i := range 200 {
		seen[PartitionOf("site"+string(rune('a'+i%26))+string(rune('a'+i/26))+".org", 16)] = true
	}
	if len(seen) < 12 {
		t.Errorf("200 sites fell into %d of 16 partitions", len(seen))
	}
}

// FuzzDecodeLinks: an outbox entry read back from the state store is decoded or refused with an
// error, never a panic, and what was encoded comes back equal.
func FuzzDecodeLinks(f *testing.F) {
	f.Add(encodeLinks([]Link{{URL: "https://a.org/x", Host: "a.org", Root: "a.org", Depth: 2}}))
	f.Add([]byte("[]"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		links, err := decodeLinks(b)
		if err != nil {
			return
		}
		again, err := decodeLinks(encodeLinks(links))
		if err != nil || len(again) != len(links) {
			t.Fatalf("round trip: %v, %d links, want %d", err, len(again), len(links))
		}
		for i := range links {
			if again[i] != links[i] {
				t.Fatalf("link %d: %+v, want %+v", i, again[i], links[i])
			}
		}
	})
}

// memInbox is an in-memory Inbox; forwards from other crawls land in it.
type memInbox struct {
	mu      sync.Mutex
	pending []Link
	batches int
}

func (m *memInbox) Next(context.Context) ([]Link, func() error, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	links := m.pending
	m.pending = nil
	return links, func() error { return nil }, nil
}

func (m *memInbox) add(b OutboxBatch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending = append(m.pending, b.Links...)
	m.batches++
	return nil
}

func (m *memInbox) empty() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.pending) == 0
}

// TestPartitionedCrawl: two crawls, each owning one of two hosts whose pages link to each other,
// forward links to each other (Local, Forward, Inbox) and are run again while links wait for
// them, as dist/stages does; together they write the pairs of one crawl of both hosts.
func TestPartitionedCrawl(t *testing.T) {
	const n = 15
	var urls [2]string
	var servers [2]*httptest.Server
	for h := range 2 {
		servers[h] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/p/"))
			if err != nil || i < 0 || i >= n {
				http.NotFound(w, r)
				return
			}
			page := strings.Replace(string(sitePage(i, n)), "</body>",
				fmt.Sprintf(`<a href="%s/p/%d">other host</a></body>`, urls[1-h], (3*i+1)%n), 1)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, page)
		}))
		defer servers[h].Close()
		urls[h] = servers[h].URL
	}
	hostOf := func(u string) string { return strings.TrimPrefix(u, "http://") }

	whole := testConfig(t, urls[0]+"/p/0", "not a url")
	whole.Scope, whole.AllowHosts = ScopeGlob, []string{"127.0.0.1"}
	if _, err := Run(context.Background(), whole); err != nil {
		t.Fatal(err)
	}
	want := readPairs(t, whole.Out)

	var inboxes [2]*memInbox
	var cfgs [2]Config
	for h := range 2 {
		inboxes[h] = &memInbox{}
		cfgs[h] = testConfig(t, urls[0]+"/p/0", "not a url")
		cfgs[h].Scope, cfgs[h].AllowHosts = ScopeGlob, []string{"127.0.0.1"}
		own := hostOf(urls[h])
		cfgs[h].Local = func(host string) bool { return host == own || host == "" && h == 0 }
		cfgs[h].Inbox = inboxes[h]
		cfgs[h].InboxGrace = 50 * time.Millisecond
	}
	cfgs[0].Forward, cfgs[1].Forward = inboxes[1].add, inboxes[0].add
	var stats [2]Stats
	for round := 0; ; round++ {
		if round == 10 {
			t.Fatal("the crawls still forward links to each other after 10 rounds")
		}
		var wg sync.WaitGroup
		for h := range 2 {
			wg.Go(func() {
				st, err := Run(context.Background(), cfgs[h])
				if err != nil {
					t.Error(err)
				}
				stats[h] = st
			})
		}
		wg.Wait()
		if inboxes[0].empty() && inboxes[1].empty() {
			break
		}
	}
	got := map[pairKey]shards.Pair{}
	for h := range 2 {
		if !stats[h].Finished {
			t.Errorf("crawl %d did not finish: %+v", h, stats[h])
		}
		for k, p := range readPairs(t, cfgs[h].Out) {
			if _, dup := got[k]; dup {
				t.Errorf("pair in both partitions: %+v", k)
			}
			got[k] = p
		}
	}
	if w, g := pairSet(want, ""), pairSet(got, ""); !reflect.DeepEqual(w, g) {
		t.Errorf("partitions wrote %d pairs, one crawl %d", len(g), len(w))
	}
	if inboxes[0].batches == 0 || inboxes[1].batches == 0 {
		t.Errorf("no links forwarded (%d, %d batches)", inboxes[0].batches, inboxes[1].batches)
	}
	if stats[0].SeedsInvalid+stats[1].SeedsInvalid != 1 {
		t.Errorf("bad seeds counted %d + %d times, want once", stats[0].SeedsInvalid, stats[1].SeedsInvalid)
	}
}
