package crawl

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/witdata/wit/shards"
)

// site is a generated web site: page i links to pages i+1, 2i+1 and 2i+2 (mod n) and shows two
// images, one captioned by alt, one by a figcaption. It counts requests per path.
type site struct {
	n      int
	robots string // robots.txt body; "" = 404
	extra  map[string]http.HandlerFunc

	noCount bool // don't count hits per path (memory measurements)

	mu   sync.Mutex
	hits map[string]int
	// onHit, when set, runs on every page request (after counting).
	onHit func(total int)
	total int
}

func newSite(n int) *site {
	return &site{n: n, hits: map[string]int{}, extra: map[string]http.HandlerFunc{}}
}

// setOnHit sets onHit while the server may be answering.
func (s *site) setOnHit(f func(total int)) {
	s.mu.Lock()
	s.onHit = f
	s.mu.Unlock()
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if !s.noCount {
		s.hits[r.URL.Path]++
	}
	if r.URL.Path != "/robots.txt" {
		s.total++
	}
	total, onHit := s.total, s.onHit
	s.mu.Unlock()
	if onHit != nil && r.URL.Path != "/robots.txt" {
		onHit(total)
	}
	if h, ok := s.extra[r.URL.Path]; ok {
		h(w, r)
		return
	}
	if r.URL.Path == "/robots.txt" {
		if s.robots == "" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, s.robots)
		return
	}
	i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/p/"))
	if err != nil || i < 0 || i >= s.n {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(sitePage(i, s.n))
}

func sitePage(i, n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<!doctype html><html lang="en"><head><title>Page %d</title></head><body><h1>Page %d</h1>`, i, i)
	fmt.Fprintf(&b, `<p>Some text about the things on page %d.</p>`, i)
	fmt.Fprintf(&b, `<img src="/img/%d-a.jpg" alt="a red bicycle number %d">`, i, i)
	fmt.Fprintf(&b, `<figure><img src="/img/%d-b.jpg"><figcaption>A photo of a cat, page %d</figcaption></figure>`, i, i)
	for _, j := range []int{i + 1, 2*i + 1, 2*i + 2} {
		fmt.Fprintf(&b, `<a href="/p/%d">next %d</a> `, j%n, j%n)
	}
	b.WriteString(`</body></html>`)
	return []byte(b.String())
}

func (s *site) hitsOf(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// maxPageHits is the largest request count of any page path (robots.txt excluded).
func (s *site) maxPageHits() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	best, bn := "", 0
	for p, n := range s.hits {
		if p != "/robots.txt" && n > bn {
			best, bn = p, n
		}
	}
	return best, bn
}

func (s *site) pagesHit() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for p := range s.hits {
		if strings.HasPrefix(p, "/p/") {
			n++
		}
	}
	return n
}

func writeSeeds(t testing.TB, dir string, urls ...string) string {
	t.Helper()
	p := filepath.Join(dir, "seeds.txt")
	if err := os.WriteFile(p, []byte("# test seeds\n"+strings.Join(urls, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// testConfig is a fast crawl of local test servers.
func testConfig(t testing.TB, seeds ...string) Config {
	t.Helper()
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Seeds = writeSeeds(t, dir, seeds...)
	cfg.Out = filepath.Join(dir, "out")
	cfg.State = filepath.Join(dir, "state")
	cfg.MaxDepth = -1
	cfg.Delay = 0
	cfg.PerHost = 8
	cfg.Workers = 8
	cfg.AllowPrivate = true
	cfg.Timeout = 5 * time.Second
	cfg.Retries = 0
	cfg.BackoffBase = 10 * time.Millisecond
	cfg.RowsPerFile = 64
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

type pairKey struct{ page, image string }

// readPairs reads every pair file of dir and fails on a pair seen twice.
func readPairs(t testing.TB, dir string) map[pairKey]shards.Pair {
	t.Helper()
	out := map[pairKey]shards.Pair{}
	for rec, err := range shards.ReadDir(context.Background(), dir, nil) {
		if err != nil {
			t.Fatalf("read pairs: %v", err)
		}
		ps, err := shards.Pairs(rec)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			k := pairKey{p.PageURL, p.ImageURL}
			if _, dup := out[k]; dup {
				t.Fatalf("pair written twice: %+v", k)
			}
			out[k] = p
		}
	}
	return out
}

// samePairSet compares pair sets by (page path, image path, caption, source), ignoring the
// server's address and fetch times.
func pairSet(ps map[pairKey]shards.Pair, base string) []string {
	var out []string
	for _, p := range ps {
		out = append(out, strings.TrimPrefix(p.PageURL, base)+" "+strings.TrimPrefix(p.ImageURL, base)+" "+p.CaptionSource+" "+p.Caption)
	}
	sort.Strings(out)
	return out
}
