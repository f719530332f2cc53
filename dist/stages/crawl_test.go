package stages

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/witdata/wit/crawl"
	"github.com/witdata/wit/dist/disttest"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
)

// hostSite is one host of a multi-host test site on its own loopback address. Page j links to
// page j+1 of its own host and to pages of two other hosts, and shows two captioned images. It
// counts the requests it is serving at once.
type hostSite struct {
	srv      *httptest.Server
	inFlight atomic.Int64
	maxSeen  atomic.Int64
	pages    atomic.Int64
}

type multiSite struct {
	hosts []*hostSite
	pages int
	delay time.Duration
	mu    sync.Mutex
	onHit func()
}

// newMultiSite starts n hosts on 127.0.0.(20+i) with pages pages each.
func newMultiSite(t *testing.T, n, pages int, delay time.Duration) *multiSite {
	ms := &multiSite{pages: pages, delay: delay}
	for i := range n {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", 20+i))
		if err != nil {
			t.Skipf("no loopback address 127.0.0.%d: %v", 20+i, err)
		}
		h := &hostSite{}
		h.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ms.serve(i, h, w, r) }))
		h.srv.Listener.Close()
		h.srv.Listener = l
		h.srv.Start()
		t.Cleanup(h.srv.Close)
		ms.hosts = append(ms.hosts, h)
	}
	return ms
}

func (ms *multiSite) url(host, page int) string {
	return fmt.Sprintf("%s/p/%d", ms.hosts[host%len(ms.hosts)].srv.URL, page%ms.pages)
}

func (ms *multiSite) serve(i int, h *hostSite, w http.ResponseWriter, r *http.Request) {
	n := h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	for {
		m := h.maxSeen.Load()
		if n <= m || h.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	ms.mu.Lock()
	hook := ms.onHit
	ms.mu.Unlock()
	if hook != nil {
		hook()
	}
	select {
	case <-time.After(ms.delay):
	case <-r.Context().Done():
		return
	}
	j, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/p/"))
	if err != nil || j < 0 || j >= ms.pages {
		http.NotFound(w, r)
		return
	}
	h.pages.Add(1)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<html lang="en"><body>
<a href="/p/%d">next</a> <a href="%s">elsewhere</a> <a href="%s">further</a>
<img src="/img/%d-a.jpg" alt="host %d page %d first image">
<figure><img src="/img/%d-b.jpg"><figcaption>second image of page %d on host %d</figcaption></figure>
</body></html>`, (j+1)%ms.pages, ms.url(i+1, j), ms.url(i+3, 2*j+1), j, i, j, j, j, i)
}

type pairKey struct{ Page, Image, Caption, Source string }

// readPairs reads every pair file of dir, failing on a pair seen twice.
func readPairs(t *testing.T, dir string) map[pairKey]bool {
	t.Helper()
	files, err := shards.ListFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[pairKey]bool{}
	for _, f := range files {
		for rec, err := range shards.ReadFile(f, nil) {
			if err != nil {
				t.Fatal(err)
			}
			pairs, err := shards.Pairs(rec)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pairs {
				k := pairKey{p.PageURL, p.ImageURL, p.Caption, p.CaptionSource}
				if out[k] {
					t.Errorf("pair written twice: %+v", k)
				}
				out[k] = true
			}
		}
	}
	return out
}

func crawlConfig(dir string, seeds string) crawl.Config {
	cfg := crawl.DefaultConfig()
	cfg.Seeds = seeds
	cfg.Out = filepath.Join(dir, "out")
	cfg.State = filepath.Join(dir, "state")
	cfg.Scope = crawl.ScopeGlob
	cfg.AllowHosts = []string{"127.0.0.*"}
	cfg.MaxDepth = -1
	cfg.AllowPrivate = true
	cfg.PerHost = 2
	cfg.Delay = 0
	cfg.Workers = 16
	cfg.RowsPerFile = 20
	cfg.Retries = 0
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

func readCrawlStats(t *testing.T, dir string) crawl.Stats {
	t.Helper()
	data := readLoc(t, storage.Join(dir, "stats.json"))
	var st crawl.Stats
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestDistributedCrawl: three worker processes crawl a six-host site split into four
// partitions, links crossing partitions through the queue; one worker is killed in the middle
// and its partitions are taken over from their durable state. The pairs equal a single-machine
// crawl's, no host ever sees more concurrent requests than --per-host, and no pair is written
// twice: with the state on a shared path, and with the output and the state in an S3 bucket
// (the state on the workers' disks, saved to the bucket when a lease ends).
func TestDistributedCrawl(t *testing.T) {
	for _, kind := range storageKinds {
		t.Run(kind, func(t *testing.T) { testDistributedCrawl(t, kind) })
	}
}

func testDistributedCrawl(t *testing.T, kind string) {
	ts := newTestStorage(t, kind)
	const hosts, pages = 6, 12
	ms := newMultiSite(t, hosts, pages, 80*time.Millisecond)
	dir := t.TempDir()
	seeds := filepath.Join(dir, "seeds.txt")
	if err := os.WriteFile(seeds, []byte(ms.url(0, 0)+"\n"+ms.url(3, 5)+"\nnot a url\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	single := crawlConfig(filepath.Join(dir, "single"), seeds)
	if _, err := crawl.Run(context.Background(), single); err != nil {
		t.Fatal(err)
	}
	want := readPairs(t, single.Out)
	if len(want) != 2*hosts*pages {
		t.Fatalf("single-machine crawl: %d pairs, want %d", len(want), 2*hosts*pages)
	}
	for i, h := range ms.hosts {
		if m := h.maxSeen.Load(); m > int64(single.PerHost) {
			t.Fatalf("single-machine crawl: host %d saw %d requests at once", i, m)
		}
		h.maxSeen.Store(0)
		h.pages.Store(0)
	}

	srv := disttest.StartServer(t, t.TempDir(), 0)
	c := disttest.Connect(t, srv.ClientURL())
	cfg := crawlConfig(filepath.Join(dir, "multi"), seeds)
	if kind == "s3" {
		cfg.Out, cfg.State = ts.loc("multi"), "" // state: <out>/.crawl-state
	}
	job, err := SubmitCrawl(context.Background(), c, cfg, 4)
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	halfway := make(chan struct{})
	ms.mu.Lock()
	ms.onHit = func() {
		if hits.Add(1) == hosts*pages/2 {
			close(halfway)
		}
	}
	ms.mu.Unlock()
	workers := disttest.StartWorkers(t, srv.ClientURL(), 3, 2)
	select {
	case <-halfway:
	case <-time.After(60 * time.Second):
		t.Fatal("the crawl did not get halfway")
	}
	// Every worker is killed while a page request is in flight, so some partition loses its
	// holder in the middle; the workers come back and take the partitions over.
	for i := range 3 {
		workers.Kill(i)
	}
	p := disttest.Wait(t, c, job.ID, 120*time.Second)
	if p.Final == nil || p.Final.State != "done" {
		t.Fatalf("final step: %+v", p.Final)
	}

	got := readPairs(t, cfg.Out)
	for k := range want {
		if !got[k] {
			t.Errorf("missing from the distributed crawl: %+v", k)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("only in the distributed crawl: %+v", k)
		}
	}
	for i, h := range ms.hosts {
		if m := h.maxSeen.Load(); m > int64(cfg.PerHost) {
			t.Errorf("host %d saw %d requests at once, per-host limit %d", i, m, cfg.PerHost)
		}
	}
	// Taken over from durable state, not from scratch (which would fetch the half done before
	// the kill again): only pages in flight at the kill and those completed in the last moment
	// before it are fetched again. A state in a bucket is saved when a lease ends, so what the
	// killed leases did is done again.
	fetched := int64(0)
	for _, h := range ms.hosts {
		fetched += h.pages.Load()
	}
	limit := int64(hosts*pages + hosts*pages/4)
	if kind == "s3" {
		limit = 2 * hosts * pages
	}
	if fetched > limit {
		t.Errorf("%d page fetches for %d pages: the partitions started over", fetched, hosts*pages)
	} else {
		t.Logf("%d page fetches for %d pages", fetched, hosts*pages)
	}
	ss, sm := readCrawlStats(t, single.Out), readCrawlStats(t, cfg.Out)
	if sm.PagesOK != ss.PagesOK || sm.PairsWritten != ss.PairsWritten || sm.SeedsInvalid != ss.SeedsInvalid || !sm.Finished {
		t.Errorf("stats: single %+v\ndistributed %+v", ss, sm)
	}
	if kind == "s3" {
		stray := ts.strayKeys(t, func(k string) bool {
			return keyIn(k, "multi", topLevel(func(name string) bool {
				_, ok := shards.FileIndex(name)
				return ok || name == "stats.json"
			})) || keyIn(k, "multi/.crawl-state", func(rest string) bool {
				p, gen, ok := strings.Cut(rest, "/")
				return ok && strings.HasPrefix(p, "p") && strings.HasSuffix(gen, snapshotExt) && !strings.Contains(gen, "/")
			})
		})
		if len(stray) > 0 {
			t.Errorf("left in the bucket: %v", stray)
		}
		return
	}
	entries, _ := os.ReadDir(cfg.Out)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := shards.FileIndex(name); !ok && name != "stats.json" {
			t.Errorf("left in the output: %s (%v)", name, names)
		}
	}
}
