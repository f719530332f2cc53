package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// LoadHTMLPages takes HTML files only, recursively, and gives each a URL from its path.
func TestLoadHTMLPages(t *testing.T) {
	t.Setenv(EnvBenchHTMLDir, "")
	dir := t.TempDir()
	for name, body := range map[string]string{"a.html": "<p>a", "sub/b.htm": "<p>b", "c.txt": "not a page"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]string{}
	for _, p := range LoadHTMLPages(t, dir) {
		got[p.URL.String()] = string(p.Body)
	}
	want := map[string]string{"http://docs.example.org/a.html": "<p>a", "http://docs.example.org/sub/b.htm": "<p>b"}
	if len(got) != len(want) {
		t.Fatalf("pages %v, want %v", got, want)
	}
	for u, body := range want {
		if got[u] != body {
			t.Errorf("%s: %q, want %q", u, got[u], body)
		}
	}
}
