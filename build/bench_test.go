package build

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/witdata/wit/filter"
	"github.com/witdata/wit/querymatch"
	"github.com/witdata/wit/shards"
)

// benchPipeline is a committer over a fresh queue with the text rules and a query list (no
// language stage: lingua is the filter package's to measure).
func benchPipeline(b *testing.B) *pipeline {
	m, err := querymatch.Load(strings.NewReader(testQueries), querymatch.Options{})
	if err != nil {
		b.Fatal(err)
	}
	q, err := openQueue(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { q.Close() })
	bal, err := filter.OpenOnlineBalancer(b.TempDir(), 100, 1, m.Len(), m.Entry)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bal.Close() })
	cfg := DefaultConfig()
	return &pipeline{cfg: cfg, stages: filter.Stages{Text: filter.DefaultTextRules(), Matcher: m}, q: q, bal: bal}
}

// BenchmarkCommitGroup measures the serial part of the filter stage: dedup look-up, balancing,
// the item encoded and appended, one synced batch per group of 64 pairs (a realistic group when
// 32 crawl workers deliver at once).
func BenchmarkCommitGroup(b *testing.B) {
	p := benchPipeline(b)
	const group = 64
	decisions := make([]*decision, group)
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i := range decisions {
			n++
			pair := shards.Pair{PageURL: "http://site.test/page" + fmt.Sprint(n/8), ImageURL: fmt.Sprintf("http://site.test/img/%d.png", n),
				Caption: testPages[n%len(testPages)].figcaption, CaptionSource: "alt"}
			decisions[i] = &decision{pair: pair, verdict: p.stages.Evaluate(pair.Caption, nil)}
		}
		if err := p.commitGroup(decisions); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*group)/b.Elapsed().Seconds(), "pairs/s")
}

// BenchmarkQueueRead measures the downloader's source: items decoded from the log in chunks.
func BenchmarkQueueRead(b *testing.B) {
	p := benchPipeline(b)
	const items = 20_000
	for start := 0; start < items; start += 500 {
		var ds []*decision
		for i := start; i < start+500; i++ {
			pair := shards.Pair{PageURL: "http://site.test/p", ImageURL: fmt.Sprintf("http://site.test/img/%d.png", i),
				Caption: testPages[i%len(testPages)].alt, CaptionSource: "alt"}
			ds = append(ds, &decision{pair: pair, verdict: p.stages.Evaluate(pair.Caption, nil)})
		}
		if err := p.commitGroup(ds); err != nil {
			b.Fatal(err)
		}
	}
	p.q.close()
	next, _, _ := p.q.snapshot()
	b.ResetTimer()
	for range b.N {
		n := 0
		for _, err := range p.q.items(context.Background()) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if uint64(n) != next {
			b.Fatalf("read %d of %d", n, next)
		}
	}
	b.ReportMetric(float64(b.N)*float64(next)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkBuildSite runs whole builds of a 400-page local site (4 images a page, 64 px PNG,
// delay 0, no language stage) and reports pages/s and images/s of the streaming pipeline.
func BenchmarkBuildSite(b *testing.B) {
	const pages = 400
	imgs := make([][]byte, len(testPages))
	for i, tp := range testPages {
		data, err := os.ReadFile(filepath.Join("testdata", tp.hex+".png"))
		if err != nil {
			b.Fatal(err)
		}
		imgs[i] = data
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		var n int
		if r.URL.Path == "/" {
			var sb strings.Builder
			for i := range pages {
				fmt.Fprintf(&sb, `<a href="/p/%d">page %d</a> `, i, i)
			}
			fmt.Fprint(w, html("en", "", sb.String()))
			return
		}
		if _, err := fmt.Sscanf(r.URL.Path, "/p/%d", &n); err == nil {
			var sb strings.Builder
			for j := range 4 {
				tp := testPages[(n+j)%len(testPages)]
				fmt.Fprintf(&sb, `<figure><img src="/i/%d.png" alt="%s"><figcaption>%s</figcaption></figure>`, n*4+j, tp.alt, tp.figcaption)
			}
			fmt.Fprint(w, html("en", "", sb.String()))
			return
		}
		if _, err := fmt.Sscanf(r.URL.Path, "/i/%d.png", &n); err == nil {
			w.Header().Set("Content-Type", "image/png")
			w.Write(imgs[n%len(imgs)])
			return
		}
		http.NotFound(w, r)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	m, err := querymatch.Load(strings.NewReader(testQueries), querymatch.Options{})
	if err != nil {
		b.Fatal(err)
	}
	stages := &filter.Stages{Text: filter.DefaultTextRules(), Matcher: m}
	seeds := filepath.Join(b.TempDir(), "seeds.txt")
	os.WriteFile(seeds, []byte(srv.URL+"/\n"), 0o644)
	var images int64
	b.ResetTimer()
	for range b.N {
		cfg := DefaultConfig()
		cfg.Seeds, cfg.Out, cfg.Stages = seeds, b.TempDir(), stages
		cfg.SetNetwork(true, 0, 16)
		cfg.Crawl.Workers, cfg.Fetch.Workers, cfg.Fetch.Size = 16, 16, 64
		cfg.Filter.Balance = 0
		cfg.Logger = nil
		st, err := Run(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		if st.Fetch.Successes != pages*8 {
			b.Fatalf("fetched %d, want %d", st.Fetch.Successes, pages*8)
		}
		images += st.Fetch.Successes
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*(pages+1))/sec, "pages/s")
	b.ReportMetric(float64(images)/sec, "images/s")
}
