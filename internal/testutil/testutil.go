// Package testutil holds test and benchmark helpers that several packages share. Only _test.go
// files import it; it depends on the standard library alone, so that importing it never makes a
// package's tests build more than they did.
package testutil

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// EnvBenchHTMLDir names a folder of real HTML pages for the extraction benchmarks
// (scripts/bench-extract-data.sh fetches some).
const EnvBenchHTMLDir = "WIT_BENCH_HTML_DIR"

// HTMLPage is a benchmark page: its URL under http://docs.example.org/ and its bytes.
type HTMLPage struct {
	URL  *url.URL
	Body []byte
}

// LoadHTMLPages reads the .html, .htm and .xhtml files under $WIT_BENCH_HTML_DIR, or under
// defaultDir when it is unset, each with a URL made from its path. It skips the benchmark when
// there are none.
func LoadHTMLPages(tb testing.TB, defaultDir string) []HTMLPage {
	tb.Helper()
	dir := os.Getenv(EnvBenchHTMLDir)
	if dir == "" {
		dir = defaultDir
	}
	var pages []HTMLPage
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
		pages = append(pages, HTMLPage{URL: u, Body: body})
		return nil
	})
	if err != nil {
		tb.Fatalf("read bench pages: %v", err)
	}
	if len(pages) == 0 {
		tb.Skipf("no HTML pages in %s", dir)
	}
	return pages
}
