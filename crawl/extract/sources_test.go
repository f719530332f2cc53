package extract

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPairsBySourceOnManual counts the candidates of every page of a real HTML manual by caption
// source (scripts/bench-extract-data.sh installs gnucash-docs, a DocBook manual in five
// languages). It is a report, skipped without WIT_BENCH_HTML_DIR; it fails only if the manual's
// figures give no doc_figure caption.
func TestPairsBySourceOnManual(t *testing.T) {
	dir := os.Getenv("WIT_BENCH_HTML_DIR")
	if dir == "" {
		t.Skip("WIT_BENCH_HTML_DIR not set; see scripts/bench-extract-data.sh")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.htm*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no pages in %s: %v", dir, err)
	}
	bySource := map[string]int{}
	images := map[string]bool{}
	total := 0
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse("http://localhost/" + filepath.Base(f))
		p, err := Extract(u, body, "text/html")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Candidates {
			bySource[c.Source]++
			images[c.ImageURL] = true
			total++
		}
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(bySource)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, bySource[k]))
	}
	t.Logf("%d pages: %d pairs for %d images; by source: %s", len(files), total, len(images), strings.Join(parts, " "))
	if strings.Contains(dir, "gnucash") && bySource["doc_figure"] == 0 {
		t.Error("no doc_figure captions in the DocBook manual")
	}
}
