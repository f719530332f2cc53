package extract

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

type benchPage struct {
	url  *url.URL
	body []byte
}

// loadBenchPages reads the pages named by WIT_BENCH_HTML_DIR (see
// scripts/bench-extract-data.sh), else the real pages in testdata/.
func loadBenchPages(b *testing.B) []benchPage {
	b.Helper()
	dir := os.Getenv("WIT_BENCH_HTML_DIR")
	if dir == "" {
		dir = "testdata"
	}
	var pages []benchPage
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".html") || strings.HasSuffix(path, ".htm") || strings.HasSuffix(path, ".xhtml")) {
			return nil
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		u, _ := url.Parse("http://docs.example.org/" + filepath.ToSlash(rel))
		pages = append(pages, benchPage{u, body})
		return nil
	})
	if err != nil {
		b.Fatalf("read bench pages: %v", err)
	}
	if len(pages) == 0 {
		b.Skipf("no HTML pages in %s", dir)
	}
	return pages
}

func totalBytes(pages []benchPage) int64 {
	var n int64
	for _, p := range pages {
		n += int64(len(p.body))
	}
	return n
}

// BenchmarkExtract measures full extraction; one op is one pass over all pages,
// and pages/s is reported so it compares directly with BenchmarkBareParse.
func BenchmarkExtract(b *testing.B) {
	pages := loadBenchPages(b)
	b.SetBytes(totalBytes(pages))
	b.ReportAllocs()
	cands, links := 0, 0
	for b.Loop() {
		cands, links = 0, 0
		for _, p := range pages {
			pg, err := Extract(p.url, p.body, "text/html")
			if err != nil {
				b.Fatal(err)
			}
			cands += len(pg.Candidates)
			links += len(pg.Links)
		}
	}
	b.ReportMetric(float64(b.N*len(pages))/b.Elapsed().Seconds(), "pages/s")
	b.ReportMetric(float64(cands), "candidates")
	b.ReportMetric(float64(links), "links")
}

// BenchmarkBareParse is the baseline of issue 2: x/net/html's html.Parse of the
// same pages, nothing else.
func BenchmarkBareParse(b *testing.B) {
	pages := loadBenchPages(b)
	b.SetBytes(totalBytes(pages))
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range pages {
			if _, err := html.Parse(bytes.NewReader(p.body)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(pages))/b.Elapsed().Seconds(), "pages/s")
}
